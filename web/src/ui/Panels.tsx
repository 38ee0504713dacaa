// The side panels: conversations, contacts (friends, requests, user
// search), groups, message search, and account settings.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Controller } from '../app/controller'
import { errorText } from '../app/controller'
import { formatTime, Lang, lang, setLang, t } from '../i18n'
import type { Message, Profile } from '../state/types'
import { Avatar, Badge, Dot } from './common'
import { useAsync, useStore } from './hooks'

function preview(c: Controller, m?: Message): string {
  if (!m) return ''
  if (m.type === 'recalled' || m.type === 'recall') return t('recalled', { name: c.state.name(m.from) })
  if (m.type === 'file') return '📎 ' + (c.fileNames.get(Number(m.body))?.name ?? '')
  return m.body
}

export function ConvList({ c, active, open }: { c: Controller; active?: string; open: (id: string) => void }) {
  useStore(c)
  const s = c.state
  const list = s.convList()
  if (list.length === 0) return <p class="empty">{t('no_chats')}</p>
  return (
    <ul class="list" aria-label={t('conversations')}>
      {list.map((cv) => {
        const unread = s.unread(cv)
        const title = s.convTitle(cv)
        const last = cv.messages.filter((m) => m.seq > 0).at(-1) ?? cv.last
        return (
          <li key={cv.id}>
            <button class={`item ${cv.id === active ? 'active' : ''}`} onClick={() => open(cv.id)} aria-current={cv.id === active ? 'true' : undefined}>
              {cv.kind === 'p' ? <Avatar c={c} p={s.profiles.get(cv.peer!)} /> : <span class="avatar initials group" aria-hidden="true">#</span>}
              <span class="grow">
                <span class="row-line">
                  <span class="title">{title}</span>
                  {last && <time class="small">{formatTime(last.ts)}</time>}
                </span>
                <span class="row-line">
                  <span class="preview">
                    {s.mentioned(cv) && <strong class="at-me-flag">{t('at_me')} </strong>}
                    {preview(c, last)}
                  </span>
                  {unread > 0 && <Badge n={unread} what="n_unread" />}
                </span>
              </span>
            </button>
          </li>
        )
      })}
    </ul>
  )
}

export function Contacts({ c, open }: { c: Controller; open: (id: string) => void }) {
  useStore(c)
  const s = c.state
  const [q, setQ] = useState('')
  const [found, setFound] = useState<Profile[] | null>(null)
  const search = (e: Event) => {
    e.preventDefault()
    if (!q.trim()) return
    c.req<{ users: Profile[] }>('user.search', { query: q.trim() })
      .then((r) => setFound(r.users))
      .catch((err) => c.say('error', errorText(err)))
  }
  const request = (uid: number) =>
    c
      .req<{ request_id: number }>('friend.request', { user_id: uid })
      .then((r) => {
        s.outgoing.push({ request_id: r.request_id, from: s.me!, to: s.profiles.get(uid), note: '' })
        c.say('info', 'pending')
      })
      .catch((err) => c.say('error', errorText(err)))
  const respond = (id: number, accept: boolean) =>
    c
      .req('friend.respond', { request_id: id, accept })
      .then(() => {
        s.incoming = s.incoming.filter((r) => r.request_id !== id)
        return accept ? c.refreshFriends() : s.changed()
      })
      .catch((err) => c.say('error', errorText(err)))
  const friends = [...s.friends].sort((a, b) => Number(b[1]) - Number(a[1]) || s.name(a[0]).localeCompare(s.name(b[0])))
  return (
    <div class="panel">
      <form class="inline" onSubmit={search} role="search">
        <input type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} aria-label={t('find_users')} placeholder={t('find_users')} />
        <button>{t('search')}</button>
      </form>
      {found && (
        <section aria-label={t('user_search_results')}>
          {found.length === 0 && <p class="empty">{t('no_results')}</p>}
          <ul class="list">
            {found.map((p) => {
              s.addProfile(p)
              const friend = s.friends.has(p.user_id)
              const asked = s.outgoing.some((r) => r.to?.user_id === p.user_id)
              return (
                <li key={p.user_id} class="item static">
                  <Avatar c={c} p={p} />
                  <span class="grow">
                    <span class="title">{p.nickname}</span> <small>@{p.username}</small>
                  </span>
                  {p.user_id !== s.myId && !friend && (
                    <button class="small" disabled={asked} onClick={() => request(p.user_id)}>
                      {asked ? t('pending') : t('add_friend')}
                    </button>
                  )}
                </li>
              )
            })}
          </ul>
        </section>
      )}
      {s.incoming.length > 0 && (
        <section aria-label={t('requests')}>
          <h3>{t('requests')}</h3>
          <ul class="list">
            {s.incoming.map((r) => (
              <li key={r.request_id} class="item static">
                <Avatar c={c} p={r.from} />
                <span class="grow">
                  <span class="title">{r.from.nickname}</span> <small>@{r.from.username}</small>
                  {r.note && <small class="block">{r.note}</small>}
                </span>
                <button class="small primary" onClick={() => respond(r.request_id, true)}>
                  {t('accept')}
                </button>
                <button class="small" onClick={() => respond(r.request_id, false)}>
                  {t('reject')}
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <h3>{t('contacts')}</h3>
      <ul class="list" aria-label={t('contacts')}>
        {friends.map(([uid, online]) => {
          const p = s.profiles.get(uid)
          return (
            <li key={uid}>
              <button class="item" onClick={() => open(c.openPrivate(uid))} aria-label={`${t('chat')}: ${s.name(uid)}, ${t(online ? 'online' : 'offline_s')}`}>
                <span class="avatar-wrap">
                  <Avatar c={c} p={p} />
                  <Dot online={online} />
                </span>
                <span class="grow">
                  <span class="title">{s.name(uid)}</span>
                  <span class="preview">{p?.signature}</span>
                </span>
              </button>
            </li>
          )
        })}
      </ul>
    </div>
  )
}

export function Groups({ c, open }: { c: Controller; open: (id: string) => void }) {
  useStore(c)
  const s = c.state
  const [name, setName] = useState('')
  const [picked, setPicked] = useState<Set<number>>(new Set())
  const [joinId, setJoinId] = useState('')
  const create = (e: Event) => {
    e.preventDefault()
    c.req<{ group: any }>('group.create', { name: name.trim(), members: [...picked] })
      .then((r) => {
        s.groups.set(r.group.group_id, r.group)
        setName('')
        setPicked(new Set())
        open(`g:${r.group.group_id}`)
      })
      .catch((err) => c.say('error', errorText(err)))
  }
  const join = (e: Event) => {
    e.preventDefault()
    c.req<{ group: any }>('group.join', { group_id: Number(joinId) })
      .then((r) => {
        s.groups.set(r.group.group_id, r.group)
        open(`g:${r.group.group_id}`)
      })
      .catch((err) => c.say('error', errorText(err)))
  }
  return (
    <div class="panel">
      <ul class="list" aria-label={t('groups')}>
        {[...s.groups.values()].map((g) => (
          <li key={g.group_id}>
            <button class="item" onClick={() => open(`g:${g.group_id}`)}>
              <span class="avatar initials group" aria-hidden="true">
                #
              </span>
              <span class="grow">
                <span class="title">{g.name}</span>
                <span class="preview">
                  {g.member_count} · {t('group_id')} {g.group_id}
                </span>
              </span>
            </button>
          </li>
        ))}
      </ul>
      <form class="stack" onSubmit={create}>
        <h3>{t('new_group')}</h3>
        <label>
          {t('group_name')}
          <input required maxLength={64} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <fieldset>
          <legend>{t('contacts')}</legend>
          {[...s.friends.keys()].map((uid) => (
            <label key={uid} class="check">
              <input
                type="checkbox"
                checked={picked.has(uid)}
                onChange={(e) => {
                  const n = new Set(picked)
                  if ((e.target as HTMLInputElement).checked) n.add(uid)
                  else n.delete(uid)
                  setPicked(n)
                }}
              />
              {s.name(uid)}
            </label>
          ))}
        </fieldset>
        <button class="primary">{t('create')}</button>
      </form>
      <form class="inline" onSubmit={join}>
        <input inputMode="numeric" pattern="[0-9]+" required value={joinId} onInput={(e) => setJoinId((e.target as HTMLInputElement).value)} aria-label={t('join_group')} placeholder={t('join_group')} />
        <button>{t('join')}</button>
      </form>
    </div>
  )
}

export function Search({ c, open }: { c: Controller; open: (id: string) => void }) {
  useStore(c)
  const [q, setQ] = useState('')
  const [res, setRes] = useState<{ messages: Message[]; more: boolean } | null>(null)
  const run = (before?: number) =>
    c
      .req<{ messages: Message[]; more: boolean }>('msg.search', before ? { query: q.trim(), before_msg_id: before } : { query: q.trim() })
      .then((r) => setRes(before && res ? { messages: [...res.messages, ...r.messages], more: r.more } : r))
      .catch((err) => c.say('error', errorText(err)))
  return (
    <div class="panel">
      <form
        class="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault()
          if (q.trim()) run()
        }}
      >
        <input type="search" value={q} maxLength={100} onInput={(e) => setQ((e.target as HTMLInputElement).value)} aria-label={t('search_messages')} placeholder={t('search_messages')} />
        <button>{t('search')}</button>
      </form>
      {res && (
        <ul class="list" aria-label={t('search_messages')}>
          {res.messages.length === 0 && <p class="empty">{t('no_results')}</p>}
          {res.messages.map((m) => (
            <li key={m.msg_id}>
              <button class="item" onClick={() => open(m.conv)}>
                <span class="grow">
                  <span class="row-line">
                    <span class="title">{c.state.convTitle(c.state.conv(m.conv))}</span>
                    <time class="small">{formatTime(m.ts)}</time>
                  </span>
                  <span class="preview">
                    {c.state.name(m.from)}: {m.body}
                  </span>
                </span>
              </button>
            </li>
          ))}
          {res.more && (
            <button class="link" onClick={() => run(res.messages.at(-1)?.msg_id)}>
              {t('more')}
            </button>
          )}
        </ul>
      )}
    </div>
  )
}

/** resizeAvatar checks that the file decodes as an image and makes a 128 px JPEG of it. */
async function resizeAvatar(file: File): Promise<string> {
  const bmp = await createImageBitmap(file)
  const side = 128
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = side
  const ctx = canvas.getContext('2d')!
  const s = Math.min(bmp.width, bmp.height)
  ctx.drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, side, side)
  return canvas.toDataURL('image/jpeg', 0.85).split(',')[1]
}

export type Theme = 'auto' | 'light' | 'dark'

export function Settings({ c, theme, setTheme, relang }: { c: Controller; theme: Theme; setTheme: (t: Theme) => void; relang: () => void }) {
  useStore(c)
  const s = c.state
  const me = s.me!
  const [nick, setNick] = useState(me.nickname)
  const [sig, setSig] = useState(me.signature)
  const [oldPw, setOldPw] = useState('')
  const [newPw, setNewPw] = useState('')
  const [delPw, setDelPw] = useState('')
  const [devKey, setDevKey] = useState(0)
  const sessions = useAsync(devKey, () => c.req<{ sessions: Array<{ device: string; addr: string; since: number; current: boolean }> }>('account.sessions', {}).then((r) => r.sessions))
  const avatarInput = useRef<HTMLInputElement>(null)
  useEffect(() => {
    setNick(me.nickname)
    setSig(me.signature)
  }, [me.user_id])
  const update = (body: object) =>
    c
      .req<{ profile: Profile }>('profile.update', body)
      .then((r) => {
        s.addProfile(r.profile)
        c.say('info', 'saved')
      })
      .catch((e) => c.say('error', errorText(e)))
  return (
    <div class="panel settings">
      <section class="stack" aria-label={t('settings')}>
        <div class="me">
          <Avatar c={c} p={me} size={64} />
          <div>
            <strong>{me.nickname}</strong>
            <div class="small">@{me.username}</div>
          </div>
        </div>
        <button onClick={() => avatarInput.current?.click()}>{t('change_avatar')}</button>
        <input
          ref={avatarInput}
          type="file"
          accept="image/*"
          hidden
          onChange={async (e) => {
            const f = (e.target as HTMLInputElement).files?.[0]
            if (!f) return
            try {
              update({ avatar: await resizeAvatar(f) })
            } catch {
              c.say('error', 'bad_image')
            }
          }}
        />
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault()
            update({ nickname: nick, signature: sig })
          }}
        >
          <label>
            {t('nickname')}
            <input required maxLength={64} value={nick} onInput={(e) => setNick((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('signature')}
            <input maxLength={256} value={sig} onInput={(e) => setSig((e.target as HTMLInputElement).value)} />
          </label>
          <button class="primary">{t('save')}</button>
        </form>
      </section>
      <section class="stack">
        <label>
          {t('language')}
          <select
            value={lang}
            onChange={(e) => {
              setLang((e.target as HTMLSelectElement).value as Lang)
              relang()
            }}
          >
            <option value="en">English</option>
            <option value="zh">简体中文</option>
          </select>
        </label>
        <label>
          {t('theme')}
          <select value={theme} onChange={(e) => setTheme((e.target as HTMLSelectElement).value as Theme)}>
            <option value="auto">{t('theme_auto')}</option>
            <option value="light">{t('theme_light')}</option>
            <option value="dark">{t('theme_dark')}</option>
          </select>
        </label>
        {'Notification' in window && Notification.permission !== 'granted' && (
          <button onClick={() => Notification.requestPermission().then(() => s.changed())}>
            {t('notifications')}: {t('enable')}
          </button>
        )}
      </section>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault()
          c.changePassword(oldPw, newPw)
            .then(() => {
              setOldPw('')
              setNewPw('')
              c.say('info', 'saved')
            })
            .catch((err) => c.say('error', errorText(err)))
        }}
      >
        <h3>{t('change_password')}</h3>
        <label>
          {t('old_password')}
          <input type="password" autocomplete="current-password" required value={oldPw} onInput={(e) => setOldPw((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('new_password')}
          <input type="password" autocomplete="new-password" required minLength={8} value={newPw} onInput={(e) => setNewPw((e.target as HTMLInputElement).value)} />
        </label>
        <button>{t('save')}</button>
      </form>
      <section class="stack">
        <h3>{t('devices')}</h3>
        <ul class="list">
          {(sessions ?? []).map((d) => (
            <li key={d.device} class="item static">
              <span class="grow">
                <span class="title">{d.device}</span> {d.current && <small>({t('this_device')})</small>}
                <span class="preview">
                  {d.addr} · {new Date(d.since).toLocaleString()}
                </span>
              </span>
              {!d.current && (
                <button
                  class="small"
                  onClick={() =>
                    c
                      .req('account.revoke', { device: d.device })
                      .then(() => setDevKey(devKey + 1))
                      .catch((e) => c.say('error', errorText(e)))
                  }
                >
                  {t('revoke')}
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      <button onClick={() => c.logout()}>{t('logout')}</button>
      <form
        class="stack danger-zone"
        onSubmit={(e) => {
          e.preventDefault()
          c.deleteAccount(delPw).catch((err) => c.say('error', errorText(err)))
        }}
      >
        <h3>{t('delete_account')}</h3>
        <label>
          {t('delete_confirm')}
          <input type="password" autocomplete="current-password" required value={delPw} onInput={(e) => setDelPw((e.target as HTMLInputElement).value)} />
        </label>
        <button class="danger">{t('delete_account')}</button>
      </form>
      <p class="small">
        {t('version')} {c.config.version}
      </p>
    </div>
  )
}
