// The shell: the login form until there is a session, then a navigation
// rail, a list pane and the open conversation or meeting. Below 720 px the
// list and the conversation take the whole width in turn.
import { useEffect, useState } from 'preact/hooks'
import type { Controller } from '../app/controller'
import { errorText } from '../app/controller'
import { t } from '../i18n'
import { ChatView } from './Chat'
import { useStore } from './hooks'
import { Badge } from './common'
import { Contacts, ConvList, Groups, Search, Settings, Theme } from './Panels'
import { Rooms, RoomView } from './Room'

type Tab = 'chats' | 'contacts' | 'groups' | 'rooms' | 'search' | 'settings'
const TABS: Array<[Tab, string]> = [
  ['chats', '💬'],
  ['contacts', '👥'],
  ['groups', '#'],
  ['rooms', '▶'],
  ['search', '🔍'],
  ['settings', '⚙'],
]

function applyTheme(theme: Theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
  localStorage.setItem('chatd.theme', theme)
}

export function App({ c }: { c: Controller }) {
  useStore(c)
  const [, relang] = useState(0)
  const [theme, setTheme] = useState<Theme>((localStorage.getItem('chatd.theme') as Theme) || 'auto')
  useEffect(() => applyTheme(theme), [theme])
  // The tab title shows unread messages while the tab is hidden.
  const unread = c.state.totalUnread()
  useEffect(() => {
    document.title = unread > 0 && document.hidden ? `(${unread}) chatd` : 'chatd'
  })
  useEffect(() => {
    const onVis = () => c.state.changed()
    document.addEventListener('visibilitychange', onVis)
    return () => document.removeEventListener('visibilitychange', onVis)
  }, [])
  const body = c.loggedIn ? <Shell c={c} theme={theme} setTheme={setTheme} relang={() => relang((x) => x + 1)} /> : c.session && !c.kicked ? <Splash c={c} /> : <Login c={c} />
  return (
    <>
      {c.status !== 'open' && (c.loggedIn || c.session) && !c.kicked && (
        <div class="banner" role="status">
          {t(c.status === 'connecting' ? 'connecting' : 'offline')}
        </div>
      )}
      {body}
      <NoticeLine c={c} />
    </>
  )
}

function NoticeLine({ c }: { c: Controller }) {
  const n = c.notice
  const [, tick] = useState(0)
  useEffect(() => {
    if (!n) return
    const h = setTimeout(() => {
      if (c.notice === n) c.notice = undefined
      tick((x) => x + 1)
    }, 5000)
    return () => clearTimeout(h)
  }, [n])
  if (!n) return null
  return (
    <div class={`toast ${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
      {t(n.text)}
      <button class="link" aria-label={t('close')} onClick={() => ((c.notice = undefined), c.state.changed())}>
        ×
      </button>
    </div>
  )
}

function Splash({ c }: { c: Controller }) {
  return (
    <main class="splash">
      <h1>chatd</h1>
      <p>{t(c.status === 'open' ? 'connecting' : 'offline')}</p>
      <button class="link" onClick={() => c.logout()}>
        {t('logout')}
      </button>
    </main>
  )
}

function Login({ c }: { c: Controller }) {
  const [mode, setMode] = useState<'login' | 'register'>('login')
  const [username, setUsername] = useState(c.session?.username ?? '')
  const [password, setPassword] = useState('')
  const [nickname, setNickname] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      if (mode === 'login') await c.login(username.trim(), password)
      else await c.register(username.trim(), password, nickname.trim())
    } catch (err) {
      setError(errorText(err))
    }
    setBusy(false)
  }
  return (
    <main class="login">
      <form class="card stack" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">chatd</h1>
        {c.kicked && <p class="error">{t('kicked_' + c.kicked)}</p>}
        <label>
          {t('username')}
          <input name="username" autocomplete="username" required pattern="[A-Za-z0-9_]{3,32}" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('password')}
          <input name="password" type="password" autocomplete={mode === 'login' ? 'current-password' : 'new-password'} required minLength={8} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        {mode === 'register' && (
          <label>
            {t('nickname')}
            <input name="nickname" maxLength={64} value={nickname} onInput={(e) => setNickname((e.target as HTMLInputElement).value)} />
          </label>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" disabled={busy || c.status !== 'open'}>
          {t(mode === 'login' ? 'login' : 'register')}
        </button>
        <button type="button" class="link" onClick={() => setMode(mode === 'login' ? 'register' : 'login')}>
          {t(mode === 'login' ? 'need_account' : 'have_account')}
        </button>
        {c.status !== 'open' && <p class="small">{t('connecting')}</p>}
      </form>
    </main>
  )
}

function Shell({ c, theme, setTheme, relang }: { c: Controller; theme: Theme; setTheme: (t: Theme) => void; relang: () => void }) {
  const s = c.state
  const [tab, setTab] = useState<Tab>('chats')
  const [conv, setConv] = useState<string | undefined>()
  const [room, setRoom] = useState<number | undefined>()
  const [showMain, setShowMain] = useState(false)
  const open = (id: string) => {
    setConv(id)
    setRoom(undefined)
    setShowMain(true)
    if (tab !== 'chats' && tab !== 'search') setTab('chats')
  }
  const openRoom = (id?: number) => {
    setRoom(id)
    setShowMain(id !== undefined)
  }
  const incoming = s.incoming.length
  const unread = s.totalUnread()
  return (
    <div class={`shell ${showMain ? 'show-main' : ''}`}>
      <nav class="rail" aria-label="chatd">
        {TABS.map(([k, icon]) => (
          <button key={k} class={tab === k ? 'active' : ''} aria-current={tab === k ? 'page' : undefined} onClick={() => (setTab(k), setShowMain(false))}>
            <span aria-hidden="true">{icon}</span>
            <span class="rail-label">{t(k)}</span>
            {k === 'chats' && unread > 0 && <Badge n={unread} what="n_unread" />}
            {k === 'contacts' && incoming > 0 && <Badge n={incoming} what="n_requests" />}
          </button>
        ))}
      </nav>
      <section class="side" aria-label={t(tab)}>
        <h1 class="side-title">{t(tab)}</h1>
        {tab === 'chats' && <ConvList c={c} active={conv} open={open} />}
        {tab === 'contacts' && <Contacts c={c} open={open} />}
        {tab === 'groups' && <Groups c={c} open={open} />}
        {tab === 'rooms' && <Rooms c={c} active={room} open={openRoom} />}
        {tab === 'search' && <Search c={c} open={open} />}
        {tab === 'settings' && <Settings c={c} theme={theme} setTheme={setTheme} relang={relang} />}
      </section>
      <main class="main">
        {room !== undefined && s.rooms.has(room) ? (
          <RoomView c={c} roomId={room} onLeave={() => openRoom(undefined)} onBack={() => setShowMain(false)} />
        ) : conv ? (
          <ChatView c={c} conv={conv} onBack={() => setShowMain(false)} />
        ) : (
          <p class="empty center">{t('pick_chat')}</p>
        )}
      </main>
    </div>
  )
}
