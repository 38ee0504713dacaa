// Pieces shared by the views: avatars, presence, buttons.
import type { Controller } from '../app/controller'
import type { Profile } from '../state/types'
import { t, type Key } from '../i18n'
import { useAsync } from './hooks'

export function Avatar({ c, p, size = 36 }: { c: Controller; p?: Profile; size?: number }) {
  const url = useAsync(p?.avatar_sha256, () => (p ? c.avatarURL(p) : undefined))
  const name = p ? p.nickname || p.username : '?'
  const style = { width: `${size}px`, height: `${size}px` }
  if (url) return <img class="avatar" src={url} alt="" style={style} />
  // a colour per user, so initials are told apart at a glance
  const hue = ((p?.user_id ?? 0) * 47) % 360
  return (
    <span class="avatar initials" style={{ ...style, background: `hsl(${hue} 55% 45%)`, fontSize: `${Math.round(size / 2.4)}px` }} aria-hidden="true">
      {[...name][0]?.toUpperCase()}
    </span>
  )
}

export function Dot({ online }: { online: boolean }) {
  return <span class={online ? 'dot on' : 'dot'} aria-hidden="true" />
}

/** Badge shows a count; a screen reader hears what is counted ("3 unread"),
 * not a bare number run into the label beside it. */
export function Badge({ n, what }: { n: number; what: Key }) {
  return (
    <span class="badge">
      <span aria-hidden="true">{n > 99 ? '99+' : n}</span>
      <span class="sr-only">{t(what, { n })}</span>
    </span>
  )
}
