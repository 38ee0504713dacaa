// A conversation: the virtualized message list, the composer (replies,
// @mentions with completion, files by picker, drag-and-drop or paste,
// typing notices) and, in groups, the member panel with admin actions.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Controller } from '../app/controller'
import { errorText } from '../app/controller'
import { formatDay, formatSize, formatTime, t } from '../i18n'
import { separatorBefore } from '../state/chat'
import type { Member, Message } from '../state/types'
import { Avatar } from './common'
import { useAsync, useStore, useVirtualizer } from './hooks'

const RECALL_WINDOW = 2 * 60 * 1000

export function ChatView({ c, conv, onBack }: { c: Controller; conv: string; onBack: () => void }) {
  useStore(c)
  const s = c.state
  const cv = s.conv(conv)
  const [replyTo, setReplyTo] = useState<Message | undefined>()
  const [showMembers, setShowMembers] = useState(false)
  const visible = typeof document === 'undefined' || !document.hidden
  useEffect(() => {
    if (visible) c.markRead(conv)
  })
  useEffect(() => {
    setReplyTo(undefined)
    if (cv.messages.length === 0 && cv.lastSeq > 0) c.loadOlder(conv).catch(() => {})
  }, [conv])
  const typing = s.typingUsers(conv).map((u) => s.name(u))
  const title = s.convTitle(cv)
  const group = cv.kind === 'g' ? s.groups.get(cv.group!) : undefined
  const peerOnline = cv.kind === 'p' ? s.friends.get(cv.peer!) : undefined
  return (
    <section class="chat" aria-label={title}>
      <header class="chat-head">
        <button class="icon back" onClick={onBack} aria-label={t('back')}>
          ‹
        </button>
        <h2>
          {title}
          {group && <small> · {group.member_count}</small>}
          {peerOnline !== undefined && <small class={peerOnline ? 'online' : ''}> · {t(peerOnline ? 'online' : 'offline_s')}</small>}
        </h2>
        {group && (
          <button class="ghost" aria-expanded={showMembers} onClick={() => setShowMembers(!showMembers)}>
            {t('members')}
          </button>
        )}
      </header>
      {group?.notice && <p class="notice-bar">{group.notice}</p>}
      <div class="chat-body">
        <MessageList c={c} conv={conv} onReply={setReplyTo} />
        {group && showMembers && <GroupPanel c={c} groupId={group.group_id} />}
      </div>
      <p class="typing" aria-live="polite">
        {typing.length > 0 ? t('typing', { name: typing.join(', ') }) : ''}
      </p>
      <Transfers c={c} conv={conv} />
      {/* keyed by conversation: each starts with an empty draft, with no
          effect after the first paint that could wipe what was typed already */}
      <Composer key={conv} c={c} conv={conv} replyTo={replyTo} clearReply={() => setReplyTo(undefined)} />
    </section>
  )
}

function MessageList({ c, conv, onReply }: { c: Controller; conv: string; onReply: (m: Message) => void }) {
  const s = c.state
  const cv = s.conv(conv)
  const list = cv.messages
  const scroller = useRef<HTMLDivElement>(null)
  const atBottom = useRef(true)
  const loading = useRef(false)
  const v = useVirtualizer(list.length, () => scroller.current, (i) => list[i]?.seq || list[i]?.client_msg_id || i)
  const lastKey = list.at(-1)?.seq || list.at(-1)?.client_msg_id
  const firstSeq = list[0]?.seq
  const prevFirst = useRef({ seq: firstSeq, len: list.length })

  // Follow new messages while the view is at the bottom.
  useEffect(() => {
    if (atBottom.current && list.length > 0) v.scrollToIndex(list.length - 1, { align: 'end' })
  }, [lastKey, conv])
  // Older messages put in front: keep the one that was on top in place.
  useEffect(() => {
    const p = prevFirst.current
    if (p.seq !== undefined && firstSeq !== undefined && firstSeq < p.seq) {
      const added = list.findIndex((m) => m.seq === p.seq)
      if (added > 0) v.scrollToIndex(added, { align: 'start' })
    }
    prevFirst.current = { seq: firstSeq, len: list.length }
  }, [firstSeq])

  const onScroll = () => {
    const el = scroller.current!
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
    if (el.scrollTop < 300 && cv.hasOlder && !loading.current) {
      loading.current = true
      c.loadOlder(conv)
        .catch(() => {})
        .finally(() => (loading.current = false))
    }
  }
  const peerRead = cv.kind === 'p' ? cv.peerReadSeq : 0
  const items = v.getVirtualItems()
  return (
    <div class="messages" ref={scroller} onScroll={onScroll} role="log" aria-label={t('message')} tabIndex={0}>
      {cv.hasOlder && <p class="older">{t('older')}</p>}
      <div style={{ height: `${v.getTotalSize()}px`, position: 'relative' }}>
        {items.map((it) => {
          const m = list[it.index]
          return (
            <div key={it.key} data-index={it.index} ref={v.measureElement} class="row" style={{ transform: `translateY(${it.start}px)` }}>
              {separatorBefore(list, it.index) && (
                <p class="day" role="separator">
                  {formatDay(m.ts)}
                </p>
              )}
              <Bubble c={c} m={m} read={m.from === s.myId && m.seq > 0 && m.seq <= peerRead} onReply={onReply} />
            </div>
          )
        })}
      </div>
    </div>
  )
}

function Bubble({ c, m, read, onReply }: { c: Controller; m: Message; read: boolean; onReply: (m: Message) => void }) {
  const s = c.state
  const mine = m.from === s.myId
  const name = s.name(m.from)
  if (m.type === 'recall') return null
  if (m.type === 'recalled') return <p class="system">{t('recalled', { name })}</p>
  const cv = s.conv(m.conv)
  const group = cv.kind === 'g' ? s.groups.get(cv.group!) : undefined
  const canRecall = m.seq > 0 && (mine ? Date.now() - m.ts < RECALL_WINDOW || group?.owner === s.myId : group?.owner === s.myId)
  const quoted = m.reply_to ? cv.messages.find((x) => x.seq === m.reply_to) : undefined
  const status = !mine ? '' : m.failed ? t('failed') : m.pending ? t('sending') : read ? t('read') : cv.kind === 'p' ? t('sent') : ''
  return (
    <article class={`msg ${mine ? 'mine' : ''} ${s.mentionsMe(m) && !mine ? 'at-me' : ''}`} aria-label={`${name} ${formatTime(m.ts)}`}>
      <Avatar c={c} p={s.profiles.get(m.from)} size={32} />
      <div class="msg-main">
        <div class="msg-meta">
          <span class="who">{name}</span> <time dateTime={new Date(m.ts).toISOString()}>{formatTime(m.ts)}</time>
        </div>
        {m.reply_to ? (
          <blockquote class="quote">
            {quoted ? `${s.name(quoted.from)}: ${quoted.type === 'text' ? quoted.body.slice(0, 80) : quoted.type === 'recalled' ? '—' : '📎'}` : `#${m.reply_to}`}
          </blockquote>
        ) : null}
        <div class="bubble">{m.type === 'file' ? <FileCard c={c} fileId={Number(m.body)} /> : <Text m={m} c={c} />}</div>
        <div class="msg-actions">
          {status && <span class={`status ${read ? 'read' : ''}`}>{status}</span>}
          {m.seq > 0 && (
            <button class="link" onClick={() => onReply(m)}>
              {t('reply')}
            </button>
          )}
          {canRecall && (
            <button class="link" onClick={() => c.recall(m.conv, m.seq)}>
              {t('recall')}
            </button>
          )}
        </div>
      </div>
    </article>
  )
}

/** Text shows a message body with @mentions highlighted. */
function Text({ m, c }: { m: Message; c: Controller }) {
  if (!m.mentions?.length && !m.mention_all) return <span class="text">{m.body}</span>
  const names = [...(m.mentions ?? []).map((u) => '@' + c.state.name(u)), ...(m.mention_all ? ['@' + t('everyone'), '@all'] : [])]
  const parts: Array<string | { at: string }> = []
  let rest = m.body
  for (;;) {
    let best = -1
    let which = ''
    for (const n of names) {
      const i = rest.indexOf(n)
      if (i >= 0 && (best < 0 || i < best)) {
        best = i
        which = n
      }
    }
    if (best < 0) break
    parts.push(rest.slice(0, best), { at: which })
    rest = rest.slice(best + which.length)
  }
  parts.push(rest)
  return <span class="text">{parts.map((p) => (typeof p === 'string' ? p : <mark class="mention">{p.at}</mark>))}</span>
}

const IMAGE_NAME = /\.(png|jpe?g|gif|webp)$/i

function FileCard({ c, fileId }: { c: Controller; fileId: number }) {
  const url = useAsync(fileId, () => c.downloadURL(fileId))
  const [broken, setBroken] = useState(false)
  const info = c.fileNames.get(fileId)
  const name = info?.name ?? `#${fileId}`
  // A file whose name this client never learned (history) may be an image: try.
  if (url && !broken && (!info?.name || IMAGE_NAME.test(name)))
    return (
      <a href={url} target="_blank" rel="noopener" class="thumb-link">
        <img class="thumb" src={url} alt={name} loading="lazy" onError={() => setBroken(true)} />
      </a>
    )
  return (
    <div class="file-card">
      <span class="file-icon" aria-hidden="true">
        📄
      </span>
      <span class="file-name" title={name}>
        {name}
      </span>
      {info && <span class="file-size">{formatSize(info.size)}</span>}
      {url && (
        <a href={url} download={name} class="button small">
          {t('download')}
        </a>
      )}
    </div>
  )
}

function Transfers({ c, conv }: { c: Controller; conv: string }) {
  const list = [...c.transfers.values()].filter((x) => x.conv === conv)
  if (list.length === 0) return null
  return (
    <ul class="transfers" aria-label={t('attach')}>
      {list.map((x) => (
        <li key={x.id}>
          <span>{x.name}</span>
          <progress max={x.size || 1} value={x.state === 'done' ? x.size : x.sent} aria-label={x.name} />
          <span class="small">
            {x.state === 'hashing' ? t('hashing') : x.state === 'retrying' ? t('retrying') : x.state === 'failed' ? t('file_failed') : `${formatSize(x.sent)} / ${formatSize(x.size)}`}
          </span>
        </li>
      ))}
    </ul>
  )
}

function Composer({ c, conv, replyTo, clearReply }: { c: Controller; conv: string; replyTo?: Message; clearReply: () => void }) {
  const s = c.state
  const cv = s.conv(conv)
  const [text, setText] = useState('')
  const [mentions, setMentions] = useState<Map<string, number>>(new Map())
  const [query, setQuery] = useState<string | null>(null)
  const [pick, setPick] = useState(0)
  const [drag, setDrag] = useState(false)
  const input = useRef<HTMLTextAreaElement>(null)
  const fileInput = useRef<HTMLInputElement>(null)
  const groupId = cv.kind === 'g' ? cv.group! : 0
  const members = useAsync(groupId && query !== null ? groupId : 0, () => (groupId ? c.loadMembers(groupId) : undefined))
  useEffect(() => input.current?.focus(), [])

  const group = s.groups.get(groupId)
  const canAll = !!group && group.owner === s.myId
  const candidates: Array<{ name: string; id: number }> =
    query === null || !groupId
      ? []
      : [
          ...(canAll ? [{ name: t('everyone'), id: -1 }] : []),
          ...(members ?? c.members.get(groupId) ?? []).filter((m: Member) => m.profile.user_id !== s.myId).map((m: Member) => ({ name: m.profile.nickname || m.profile.username, id: m.profile.user_id })),
        ]
          .filter((x) => x.name.toLowerCase().startsWith(query.toLowerCase()))
          .slice(0, 8)

  const onInput = (v: string) => {
    setText(v)
    if (v) c.typing(conv)
    else c.typingStopped(conv)
    const caret = input.current?.selectionStart ?? v.length
    const m = /@([^\s@]*)$/.exec(v.slice(0, caret))
    setQuery(groupId && m ? m[1] : null)
    setPick(0)
  }
  const complete = (x: { name: string; id: number }) => {
    const caret = input.current?.selectionStart ?? text.length
    const before = text.slice(0, caret).replace(/@([^\s@]*)$/, `@${x.name} `)
    setText(before + text.slice(caret))
    setMentions(new Map(mentions).set(x.name, x.id))
    setQuery(null)
    input.current?.focus()
  }
  const send = () => {
    const body = text.trim()
    if (!body) return
    const ids = [...mentions].filter(([n]) => body.includes('@' + n)).map(([, id]) => id)
    c.typingStopped(conv)
    c.send(conv, body, { reply_to: replyTo?.seq, mentions: ids.filter((x) => x > 0), mention_all: ids.includes(-1) })
    setText('')
    setMentions(new Map())
    clearReply()
  }
  const onKey = (e: KeyboardEvent) => {
    if (candidates.length > 0) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault()
        setPick((pick + (e.key === 'ArrowDown' ? 1 : candidates.length - 1)) % candidates.length)
        return
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault()
        complete(candidates[pick])
        return
      }
      if (e.key === 'Escape') {
        setQuery(null)
        return
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      send()
    }
  }
  const sendFiles = (files: FileList | File[] | null) => {
    for (const f of files ?? []) c.sendFile(conv, f).catch((e) => c.say('error', errorText(e)))
  }
  return (
    <form
      class={`composer ${drag ? 'drag' : ''}`}
      onSubmit={(e) => {
        e.preventDefault()
        send()
      }}
      onDragOver={(e) => {
        e.preventDefault()
        setDrag(true)
      }}
      onDragLeave={() => setDrag(false)}
      onDrop={(e) => {
        e.preventDefault()
        setDrag(false)
        sendFiles(e.dataTransfer?.files ?? null)
      }}
    >
      {replyTo && (
        <div class="replying">
          {t('replying', { name: s.name(replyTo.from) })}: <q>{replyTo.body.slice(0, 60)}</q>
          <button type="button" class="link" onClick={clearReply}>
            {t('cancel')}
          </button>
        </div>
      )}
      {candidates.length > 0 && (
        <ul class="mentions" role="listbox" aria-label="@">
          {candidates.map((x, i) => (
            <li key={x.id} role="option" aria-selected={i === pick} class={i === pick ? 'picked' : ''} onMouseDown={(e) => (e.preventDefault(), complete(x))}>
              @{x.name}
            </li>
          ))}
        </ul>
      )}
      {drag && <p class="drop-hint">{t('drop_here')}</p>}
      <div class="composer-row">
        <button type="button" class="icon" aria-label={t('attach')} onClick={() => fileInput.current?.click()}>
          📎
        </button>
        <input ref={fileInput} type="file" multiple hidden onChange={(e) => (sendFiles((e.target as HTMLInputElement).files), ((e.target as HTMLInputElement).value = ''))} />
        <textarea
          ref={input}
          rows={1}
          value={text}
          aria-label={t('message')}
          placeholder={t('message')}
          onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)}
          onKeyDown={onKey}
          onPaste={(e) => {
            const files = e.clipboardData?.files
            if (files && files.length > 0) {
              e.preventDefault()
              sendFiles(files)
            }
          }}
        />
        <button type="submit" class="primary" disabled={!text.trim()}>
          {t('send')}
        </button>
      </div>
    </form>
  )
}

function GroupPanel({ c, groupId }: { c: Controller; groupId: number }) {
  useStore(c)
  const s = c.state
  const g = s.groups.get(groupId)
  const members = useAsync(`${groupId}:${g?.member_count}:${g?.owner}`, () => c.loadMembers(groupId)) ?? c.members.get(groupId) ?? []
  const [name, setName] = useState(g?.name ?? '')
  const [notice, setNotice] = useState(g?.notice ?? '')
  if (!g) return null
  const me = members.find((m) => m.profile.user_id === s.myId)
  const myRole = g.owner === s.myId ? 'owner' : me?.role ?? 'member'
  const act = (op: Parameters<Controller['req']>[0], body: object) =>
    c
      .req(op, { group_id: groupId, ...body })
      .then(() => c.loadMembers(groupId))
      .catch((e) => c.say('error', errorText(e)))
  return (
    <aside class="members" aria-label={t('members')}>
      {(myRole === 'owner' || myRole === 'admin') && (
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault()
            c.req('group.update', { group_id: groupId, name, notice })
              .then((r: any) => {
                if (r.group) s.groups.set(groupId, r.group)
                c.say('info', 'saved')
              })
              .catch((e) => c.say('error', errorText(e)))
          }}
        >
          <label>
            {t('group_name')}
            <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('notice')}
            <textarea value={notice} onInput={(e) => setNotice((e.target as HTMLTextAreaElement).value)} />
          </label>
          <button class="small">{t('save')}</button>
        </form>
      )}
      <p class="small">
        {t('group_id')}: {groupId}
      </p>
      <ul>
        {members.map((m) => {
          const role = m.profile.user_id === g.owner ? 'owner' : m.role ?? 'member'
          const them = m.profile.user_id
          const muted = (m.muted_until ?? 0) > Date.now()
          const canManage = them !== s.myId && (myRole === 'owner' || (myRole === 'admin' && role === 'member'))
          return (
            <li key={them}>
              <Avatar c={c} p={m.profile} size={24} />
              <span class="grow">
                {m.profile.nickname || m.profile.username} <small class={`role ${role}`}>{t(role)}</small>
                {muted && <small> 🔇</small>}
              </span>
              {canManage && (
                <details class="menu">
                  <summary aria-label={`${t('more')}: ${m.profile.nickname}`}>⋯</summary>
                  <div>
                    <button class="link" onClick={() => act('group.kick', { user_id: them })}>
                      {t('kick')}
                    </button>
                    <button class="link" onClick={() => act('group.mute', { user_id: them, until: muted ? 0 : Date.now() + 600000 })}>
                      {t(muted ? 'unmute' : 'mute')}
                    </button>
                    {myRole === 'owner' && (
                      <>
                        <button class="link" onClick={() => act('group.set_role', { user_id: them, role: role === 'admin' ? 'member' : 'admin' })}>
                          {t(role === 'admin' ? 'make_member' : 'make_admin')}
                        </button>
                        <button class="link" onClick={() => act('group.transfer', { user_id: them })}>
                          {t('transfer')}
                        </button>
                      </>
                    )}
                  </div>
                </details>
              )}
            </li>
          )
        })}
      </ul>
      {myRole === 'owner' ? (
        <button class="danger small" onClick={() => c.req('group.dismiss', { group_id: groupId }).catch((e) => c.say('error', errorText(e)))}>
          {t('dismiss')}
        </button>
      ) : (
        <button class="danger small" onClick={() => c.req('group.leave', { group_id: groupId }).then(() => c.refreshGroups()).catch((e) => c.say('error', errorText(e)))}>
          {t('leave')}
        </button>
      )}
    </aside>
  )
}
