// Meetings (sections 10 and 16): create or join by id, the member list in
// pages, room chat, and live video through the server: the camera is drawn
// on a canvas and sent as small WebP/JPEG frames (room.media) at up to
// 10 fps; a frame is skipped while the previous one is still being encoded
// or the socket has a backlog, so video never queues. The grid shows each
// member's latest frame.
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Controller } from '../app/controller'
import { errorText } from '../app/controller'
import { formatTime, t } from '../i18n'
import type { Profile, Room } from '../state/types'
import { Avatar } from './common'
import { useStore } from './hooks'

const FRAME_MS = 100 // 10 fps at most
const WIDTH = 320
const HEIGHT = 240

export function Rooms({ c, active, open }: { c: Controller; active?: number; open: (id?: number) => void }) {
  useStore(c)
  const [name, setName] = useState('')
  const [id, setId] = useState('')
  const s = c.state
  const enter = (roomId: number, reply: { room?: Room; members: Profile[]; more: boolean }) => {
    s.rooms.set(roomId, {
      room_id: roomId,
      name: reply.room?.name ?? '',
      owner: reply.room?.owner ?? 0,
      member_count: reply.room?.member_count ?? reply.members.length,
      members: new Map(reply.members.map((p) => [p.user_id, p])),
      more: reply.more,
      chat: [],
    })
    for (const p of reply.members) s.addProfile(p)
    s.changed()
    open(roomId)
  }
  const join = (roomId: number) =>
    c
      .req<{ room?: Room; members: Profile[]; more: boolean }>('room.join', { room_id: roomId })
      .then((r) => enter(roomId, r))
      .catch((e) => c.say('error', errorText(e)))
  return (
    <div class="panel">
      <ul class="list" aria-label={t('rooms')}>
        {[...s.rooms.values()].map((r) => (
          <li key={r.room_id}>
            <button class={`item ${r.room_id === active ? 'active' : ''}`} onClick={() => open(r.room_id)}>
              <span class="avatar initials group" aria-hidden="true">
                ▶
              </span>
              <span class="grow">
                <span class="title">{r.name || `${t('room_id')} ${r.room_id}`}</span>
                <span class="preview">
                  {t('n_members', { n: r.member_count })} · {t('room_id')} {r.room_id}
                </span>
              </span>
            </button>
          </li>
        ))}
      </ul>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault()
          c.req<{ room_id: number; room?: Room }>('room.create', name.trim() ? { name: name.trim() } : {})
            .then((r) => {
              setName('')
              enter(r.room_id, { room: r.room ?? { room_id: r.room_id, name: name.trim(), owner: s.myId, member_count: 1 }, members: s.me ? [s.me] : [], more: false })
            })
            .catch((err) => c.say('error', errorText(err)))
        }}
      >
        <input value={name} maxLength={64} onInput={(e) => setName((e.target as HTMLInputElement).value)} aria-label={t('room_name')} placeholder={t('room_name')} />
        <button>{t('new_room')}</button>
      </form>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault()
          join(Number(id))
        }}
      >
        <input inputMode="numeric" pattern="[0-9]+" required value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} aria-label={t('room_id')} placeholder={t('room_id')} />
        <button>{t('join_room')}</button>
      </form>
    </div>
  )
}

export function RoomView({ c, roomId, onLeave, onBack }: { c: Controller; roomId: number; onLeave: () => void; onBack: () => void }) {
  useStore(c)
  const s = c.state
  const room = s.rooms.get(roomId)
  const [camera, setCamera] = useState(false)
  const [text, setText] = useState('')
  const preview = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    if (!camera) return
    let stream: MediaStream | undefined
    let timer: ReturnType<typeof setInterval> | undefined
    let busy = false
    let stopped = false
    const canvas = document.createElement('canvas')
    canvas.width = WIDTH
    canvas.height = HEIGHT
    const ctx = canvas.getContext('2d')!
    navigator.mediaDevices
      .getUserMedia({ video: { width: WIDTH, height: HEIGHT, frameRate: 10 }, audio: false })
      .then((st) => {
        if (stopped) return st.getTracks().forEach((tr) => tr.stop())
        stream = st
        const v = preview.current!
        v.srcObject = st
        v.play().catch(() => {})
        timer = setInterval(() => {
          if (busy || v.readyState < 2) return // the last frame is still encoding: drop this one
          busy = true
          ctx.drawImage(v, 0, 0, WIDTH, HEIGHT)
          canvas.toBlob(
            async (b) => {
              if (b && !stopped) c.conn?.sendMedia(roomId, new Uint8Array(await b.arrayBuffer()))
              busy = false
            },
            'image/webp',
            0.6,
          )
        }, FRAME_MS)
      })
      .catch((e) => {
        c.say('error', errorText(e))
        setCamera(false)
      })
    return () => {
      stopped = true
      clearInterval(timer)
      stream?.getTracks().forEach((tr) => tr.stop())
    }
  }, [camera, roomId])
  if (!room) return null
  const members = [...room.members.values()]
  const loadMore = () =>
    c
      .req<{ members: Profile[]; more: boolean }>('room.members', { room_id: roomId, after_user_id: Math.max(0, ...room.members.keys()) })
      .then((r) => {
        for (const p of r.members) room.members.set(p.user_id, p)
        room.more = r.more
        s.changed()
      })
      .catch((e) => c.say('error', errorText(e)))
  const leave = () => {
    setCamera(false)
    c.req('room.leave', { room_id: roomId }).catch(() => {})
    s.rooms.delete(roomId)
    s.changed()
    onLeave()
  }
  return (
    <section class="room" aria-label={room.name || `${t('room_id')} ${roomId}`}>
      <header class="chat-head">
        <button class="icon back" onClick={onBack} aria-label={t('back')}>
          ‹
        </button>
        <h2>
          {room.name || t('rooms')} <small>· {t('room_id')} {roomId} · {t('n_members', { n: room.member_count })}</small>
        </h2>
        <button class={camera ? 'primary' : ''} aria-pressed={camera} onClick={() => setCamera(!camera)}>
          {t(camera ? 'camera_off' : 'camera_on')}
        </button>
        <button class="danger" onClick={leave}>
          {t('leave_room')}
        </button>
      </header>
      <div class="grid" role="list" aria-label={t('members')}>
        <figure class="tile" role="listitem">
          <video ref={preview} muted playsInline aria-label={s.me?.nickname} hidden={!camera} />
          {!camera && <Avatar c={c} p={s.me} size={64} />}
          <figcaption>{s.me?.nickname}</figcaption>
        </figure>
        {members
          .filter((p) => p.user_id !== s.myId)
          .map((p) => {
            const frame = c.frames.get(`${roomId}:${p.user_id}`)
            return (
              <figure class="tile" role="listitem" key={p.user_id}>
                {frame ? <img src={frame} alt={p.nickname} data-user={p.user_id} /> : <Avatar c={c} p={p} size={64} />}
                <figcaption>{p.nickname}</figcaption>
              </figure>
            )
          })}
      </div>
      {room.more && (
        <button class="link" onClick={loadMore}>
          {t('load_more')}
        </button>
      )}
      <div class="room-chat" role="log" aria-label={t('room_chat')}>
        {room.chat.map((m, i) => (
          <p key={i}>
            <strong>{s.name(m.from)}</strong> <time class="small">{formatTime(m.ts)}</time> {m.body}
          </p>
        ))}
      </div>
      <form
        class="composer-row"
        onSubmit={(e) => {
          e.preventDefault()
          const body = text.trim()
          if (!body) return
          c.req('room.say', { room_id: roomId, body })
            .then(() => {
              room.chat.push({ from: s.myId, body, ts: Date.now() })
              s.changed()
            })
            .catch((err) => c.say('error', errorText(err)))
          setText('')
        }}
      >
        <input value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} aria-label={t('room_chat')} placeholder={t('room_chat')} />
        <button class="primary">{t('send')}</button>
      </form>
    </section>
  )
}
