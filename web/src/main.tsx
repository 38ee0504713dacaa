// Entry point: read /config.json (where the chat port's WebSocket and the
// file endpoint are), pick the language, connect, render.
import { render } from 'preact'
import { ClientConfig, Controller } from './app/controller'
import { initialLang, setLang, t } from './i18n'
import { App } from './ui/App'
import './style.css'

async function main() {
  setLang(initialLang(), false)
  const root = document.getElementById('app')!
  let config: ClientConfig
  try {
    const r = await fetch('/config.json', { cache: 'no-store' })
    config = await r.json()
  } catch {
    root.textContent = t('offline')
    return
  }
  const c = new Controller(config)
  // Desktop notifications for messages that arrive while the tab is hidden.
  c.onIncoming = (m) => {
    if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return
    const title = c.state.convTitle(c.state.conv(m.conv))
    const body = m.type === 'text' ? `${c.state.name(m.from)}: ${m.body}` : c.state.name(m.from)
    new Notification(title, { body, tag: m.conv })
  }
  window.addEventListener('online', () => c.conn?.reconnectNow())
  c.start()
  render(<App c={c} />, root)
  // for the end-to-end tests and measurements
  ;(window as any).chatd = c
}

main()
