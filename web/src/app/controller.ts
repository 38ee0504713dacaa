// The controller joins the connection and the state: it logs in (and again
// with the token after every reconnect), turns pushes into state changes,
// acknowledges and marks read, resyncs conversations whose backlog went
// beyond what the server pushes, and runs every user action as requests.
import { Connection, ReplyError, Status } from '../net/connection'
import { parseMediaPush } from '../protocol/codec'
import type { PushName } from '../protocol/ops'
import { ChatState, privateConv } from '../state/chat'
import type { FriendRequest, Group, LoginReply, Member, Message, Profile } from '../state/types'
import { uploadFile, UploadProgress } from './upload'
import { TypingPacer } from './typing'

export interface ClientConfig {
  ws_url: string
  file_url: string
  version: string
}

const TOKEN_KEY = 'chatd.session'
const DEVICE_KEY = 'chatd.device'
/** The server pushes at most this many missed messages per conversation after a login. */
const BACKLOG_PUSHED = 500
const PAGE = 100

interface Session {
  username: string
  token: string
}

export type Notice = { kind: 'error' | 'info'; text: string; at: number }

/** A file being sent: its progress, shown as a bar until done. */
export interface Transfer {
  id: string
  conv: string
  name: string
  size: number
  sent: number
  state: 'hashing' | 'uploading' | 'retrying' | 'done' | 'failed'
}

export class Controller {
  readonly state = new ChatState()
  conn?: Connection
  status: Status = 'closed'
  loggedIn = false
  kicked?: string
  notice?: Notice
  transfers = new Map<string, Transfer>()
  /** latest video frame per room member: an object URL */
  frames = new Map<string, string>()
  /** what is known of files: the name from file.offered, my own offer or file.fetch, the size from either */
  fileNames = new Map<number, { name?: string; size: number }>()
  members = new Map<number, Member[]>()
  onIncoming?: (m: Message) => void
  private ackTimer?: ReturnType<typeof setTimeout>
  private typingPacer = new TypingPacer((conv) => this.req('msg.typing', { conv }).catch(() => {}))
  private downloadUrls = new Map<number, Promise<string>>()

  constructor(readonly config: ClientConfig) {}

  get session(): Session | null {
    try {
      return JSON.parse(localStorage.getItem(TOKEN_KEY) ?? 'null')
    } catch {
      return null
    }
  }

  private set session(s: Session | null) {
    if (s) localStorage.setItem(TOKEN_KEY, JSON.stringify(s))
    else localStorage.removeItem(TOKEN_KEY)
  }

  /** device is this browser's label: one session per (user, device). */
  get device(): string {
    let d = localStorage.getItem(DEVICE_KEY)
    if (!d) {
      d = 'web-' + Math.random().toString(36).slice(2, 8)
      localStorage.setItem(DEVICE_KEY, d)
    }
    return d
  }

  /** start connects; with a saved token it logs in on every (re)connect. */
  start(): void {
    this.conn = new Connection({
      url: this.config.ws_url,
      onPush: (n, b) => this.push(n, b),
      onStatus: (s) => {
        this.status = s
        if (s === 'open' && this.session && !this.kicked) this.tokenLogin()
        this.state.changed()
      },
    })
    this.conn.start()
  }

  say(kind: Notice['kind'], text: string): void {
    this.notice = { kind, text, at: Date.now() }
    this.state.changed()
  }

  private async tokenLogin() {
    const s = this.session
    if (!s) return
    try {
      const r = await this.req<LoginReply>('login', { username: s.username, token: s.token, device: this.device })
      await this.afterLogin(r, s.username)
    } catch (e) {
      if (e instanceof ReplyError && e.code === 'BAD_CREDENTIALS') {
        this.session = null
        this.say('error', 'session_expired')
      }
    }
  }

  async login(username: string, password: string): Promise<void> {
    this.kicked = undefined
    const r = await this.req<LoginReply>('login', { username, password, device: this.device })
    await this.afterLogin(r, username)
  }

  async register(username: string, password: string, nickname: string): Promise<void> {
    await this.req('register', nickname ? { username, password, nickname } : { username, password })
    await this.login(username, password)
  }

  private async afterLogin(r: LoginReply, username: string) {
    this.session = { username, token: r.token }
    this.loggedIn = true
    this.state.applyLogin(r)
    // Pushes of the backlog follow the reply; resync what they cannot hold.
    setTimeout(() => this.resync(), 300)
    this.req<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }>('friend.pending', {})
      .then((p) => {
        this.state.incoming = p.incoming
        this.state.outgoing = p.outgoing
        for (const q of [...p.incoming, ...p.outgoing]) {
          this.state.addProfile(q.from)
          if (q.to) this.state.addProfile(q.to)
        }
        this.state.changed()
      })
      .catch(() => {})
  }

  /**
   * resync closes gaps the login backlog left: a conversation with more
   * missed messages than the server pushes gets its newest page through
   * msg.sync (older ones load on scroll), and everything received is acked.
   */
  async resync(): Promise<void> {
    for (const c of this.state.convs.values()) {
      const newest = c.messages.filter((m) => m.seq > 0).at(-1)?.seq ?? 0
      if (c.lastSeq - Math.max(newest, c.ackSeq) <= 0) continue
      if (c.lastSeq - c.ackSeq > BACKLOG_PUSHED || newest === 0) {
        const after = Math.max(0, c.lastSeq - PAGE)
        try {
          const r = await this.req<{ messages: Message[]; more: boolean }>('msg.sync', { conv: c.id, after_seq: after, limit: PAGE })
          // The page is contiguous with the newest messages only: drop what lies below a gap.
          const first = r.messages[0]?.seq ?? after + 1
          c.messages = c.messages.filter((m) => m.seq >= first || m.seq === 0)
          for (const m of r.messages) this.state.addMessage(m, { notify: false })
          c.hasOlder = first > 1
        } catch {
          /* offline again: the next login retries */
        }
      }
    }
    this.scheduleAck()
    this.state.changed()
  }

  async logout(): Promise<void> {
    try {
      await this.req('logout', {})
    } catch {
      /* the token is forgotten here whatever the server says */
    }
    this.session = null
    this.loggedIn = false
    this.state.reset()
  }

  /** changePassword keeps this device logged in with the new token the reply carries. */
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    const r = await this.req<{ token: string }>('account.password', { old_password: oldPassword, new_password: newPassword })
    const s = this.session
    if (s) this.session = { ...s, token: r.token }
  }

  async deleteAccount(password: string): Promise<void> {
    await this.req('account.delete', { password })
    this.session = null
    this.loggedIn = false
    this.kicked = 'account_deleted'
    this.state.reset()
  }

  req<T = any>(op: Parameters<Connection['request']>[0], body: object): Promise<T> {
    if (!this.conn) return Promise.reject(new Error('offline'))
    return this.conn.request<T>(op, body)
  }

  private push(name: PushName, b: any) {
    const s = this.state
    switch (name) {
      case 'msg': {
        const m: Message = b.message
        const isNew = s.addMessage(m)
        this.scheduleAck()
        if (isNew && m.from !== s.myId) this.onIncoming?.(m)
        break
      }
      case 'msg.read_receipt': {
        const c = s.conv(b.conv)
        if (b.user_id !== s.myId) c.peerReadSeq = Math.max(c.peerReadSeq, b.seq)
        s.changed()
        break
      }
      case 'typing':
        if (b.user_id !== s.myId) s.setTyping(b.conv, b.user_id)
        setTimeout(() => s.changed(), 5100)
        break
      case 'presence':
        if (s.friends.has(b.user_id)) s.friends.set(b.user_id, b.online)
        s.changed()
        break
      case 'profile.changed':
        s.addProfile(b.profile)
        s.changed()
        break
      case 'friend.requested':
        s.addProfile(b.from)
        if (!s.incoming.some((r) => r.request_id === b.request_id)) s.incoming.push(b)
        s.changed()
        break
      case 'friend.responded':
        s.addProfile(b.by)
        s.outgoing = s.outgoing.filter((r) => r.request_id !== b.request_id)
        if (b.accepted) this.refreshFriends()
        this.say('info', b.accepted ? 'friend_accepted' : 'friend_rejected')
        break
      case 'friend.removed':
        s.removeFriend(b.user_id)
        break
      case 'group.event':
        if (!s.applyGroupEvent(b) && !s.groups.has(b.group_id)) this.refreshGroups()
        this.members.delete(b.group_id)
        break
      case 'file.offered':
        this.fileNames.set(b.file_id, { name: b.name, size: b.size })
        s.addProfile(b.from)
        s.changed()
        break
      case 'kicked':
        this.kicked = b.reason
        this.loggedIn = false
        if (b.reason !== 'login_elsewhere') this.session = null
        // The server closes the connection; the reconnect that follows does
        // not log in again while kicked is set, so the login form can.
        s.changed()
        break
      case 'room.event': {
        const r = s.rooms.get(b.room_id)
        if (!r) break
        if (b.kind === 'joined') {
          r.member_count++
          this.ensureProfile(b.user_id).then((p) => p && r.members.set(p.user_id, p) && s.changed())
        } else if (b.kind === 'left') {
          r.member_count--
          r.members.delete(b.user_id)
          this.dropFrame(b.room_id, b.user_id)
        } else if (b.kind === 'count') r.member_count = b.member_count
        s.changed()
        break
      }
      case 'room.said': {
        const r = s.rooms.get(b.room_id)
        if (r) {
          r.chat.push({ from: b.from, body: b.body, ts: b.ts })
          if (r.chat.length > 500) r.chat.shift()
          s.changed()
        }
        break
      }
      case 'room.media': {
        const m = parseMediaPush(b)
        const key = `${m.roomId}:${m.from}`
        const old = this.frames.get(key)
        this.frames.set(key, URL.createObjectURL(new Blob([m.payload as BlobPart], { type: sniffImage(m.payload) })))
        if (old) URL.revokeObjectURL(old)
        s.changed()
        break
      }
    }
  }

  private dropFrame(room: number, user: number) {
    const key = `${room}:${user}`
    const url = this.frames.get(key)
    if (url) URL.revokeObjectURL(url)
    this.frames.delete(key)
  }

  /** scheduleAck moves the ack cursors after a burst of pushes. */
  private scheduleAck() {
    clearTimeout(this.ackTimer)
    this.ackTimer = setTimeout(() => {
      for (const c of this.state.convs.values()) {
        const seq = this.state.ackable(c)
        if (seq > c.ackSeq) {
          c.ackSeq = seq
          this.req('msg.ack', { conv: c.id, seq }).catch(() => {})
        }
      }
    }, 150)
  }

  /** markRead tells the server (and the sender: read receipts) what the user has seen. */
  markRead(conv: string): void {
    const c = this.state.convs.get(conv)
    if (!c || !this.loggedIn) return
    const seq = c.lastSeq
    if (seq <= c.readSeq) return
    this.state.markRead(conv, seq)
    this.req('msg.read', { conv, seq }).catch(() => {})
  }

  async refreshFriends(): Promise<void> {
    const r = await this.req<{ friends: { profile: Profile; online: boolean }[] }>('friend.list', {})
    this.state.friends.clear()
    for (const f of r.friends) this.state.setFriend(f)
    this.state.changed()
  }

  async refreshGroups(): Promise<void> {
    const r = await this.req<{ groups: Group[] }>('group.list', {})
    this.state.groups.clear()
    for (const g of r.groups) this.state.groups.set(g.group_id, g)
    this.state.changed()
  }

  async ensureProfile(uid: number): Promise<Profile | undefined> {
    const known = this.state.profiles.get(uid)
    if (known) return known
    try {
      const r = await this.req<{ profile: Profile }>('profile.get', { user_id: uid })
      this.state.addProfile(r.profile)
      this.state.changed()
      return r.profile
    } catch {
      return undefined
    }
  }

  private avatarCache = new Map<string, Promise<string | undefined>>()

  /** avatarURL returns a data: URL of a user's avatar, fetched once per digest. */
  avatarURL(p: Profile): Promise<string | undefined> | undefined {
    if (!p.avatar_sha256) return undefined
    let v = this.avatarCache.get(p.avatar_sha256)
    if (!v) {
      v = this.req<{ avatar?: string }>('profile.get', { user_id: p.user_id })
        .then((r) => (r.avatar ? `data:${sniffImageB64(r.avatar)};base64,${r.avatar}` : undefined))
        .catch(() => {
          this.avatarCache.delete(p.avatar_sha256)
          return undefined
        })
      this.avatarCache.set(p.avatar_sha256, v)
    }
    return v
  }

  private target(conv: string): { to_user: number } | { to_group: number } {
    const c = this.state.conv(conv)
    return c.kind === 'g' ? { to_group: c.group! } : { to_user: c.peer! }
  }

  /** send shows the message at once and confirms or fails it when the reply comes. */
  async send(conv: string, body: string, extra: { reply_to?: number; mentions?: number[]; mention_all?: boolean } = {}): Promise<void> {
    const id = crypto.randomUUID()
    const fields: Record<string, unknown> = {}
    if (extra.reply_to) fields.reply_to = extra.reply_to
    if (extra.mentions?.length) fields.mentions = extra.mentions
    if (extra.mention_all) fields.mention_all = true
    this.state.addPending(conv, body, id, fields)
    try {
      const r = await this.req<{ msg_id: number; conv: string; seq: number; ts: number }>('msg.send', { ...this.target(conv), body, client_msg_id: id, ...fields })
      this.state.addMessage({ msg_id: r.msg_id, conv: r.conv, seq: r.seq, ts: r.ts, from: this.state.myId, type: 'text', body, client_msg_id: id, ...fields })
      this.scheduleAck()
    } catch (e) {
      this.state.failPending(conv, id)
      this.say('error', errorText(e))
    }
  }

  /** typing tells the others that the user is typing in conv (paced by TypingPacer). */
  typing(conv: string): void {
    this.typingPacer.typed(conv)
  }

  /** typingStopped forgets a paced notice: the text was sent or cleared. */
  typingStopped(conv: string): void {
    this.typingPacer.stopped(conv)
  }

  async recall(conv: string, seq: number): Promise<void> {
    try {
      const r = await this.req<{ seq: number }>('msg.recall', { conv, seq })
      this.state.addMessage({ msg_id: 0, conv, seq: r.seq, from: this.state.myId, ts: Date.now(), type: 'recall', body: String(seq), client_msg_id: '' })
    } catch (e) {
      this.say('error', errorText(e))
    }
  }

  /** loadOlder fetches the page below the first loaded message. */
  async loadOlder(conv: string): Promise<void> {
    const c = this.state.conv(conv)
    const first = c.messages.find((m) => m.seq > 0)?.seq ?? c.lastSeq + 1
    if (first <= 1) {
      c.hasOlder = false
      return
    }
    const after = Math.max(0, first - 1 - PAGE)
    const r = await this.req<{ messages: Message[]; more: boolean }>('msg.sync', { conv, after_seq: after, limit: first - 1 - after })
    this.state.addOlder(conv, r.messages.filter((m) => m.seq < first), after > 0)
  }

  /** downloadURL returns the HTTP URL of a file with a fresh download token. */
  downloadURL(fileId: number): Promise<string> {
    let p = this.downloadUrls.get(fileId)
    if (!p) {
      // file.fetch also names the file (chatd's additive field), for a
      // device that loads history later and never saw file.offered.
      p = this.req<{ download_token: string; size: number; name?: string }>('file.fetch', { file_id: fileId }).then((r) => {
        if (!this.fileNames.get(fileId)?.name) this.fileNames.set(fileId, { name: r.name || undefined, size: r.size })
        return `${this.config.file_url}/${fileId}?token=${encodeURIComponent(r.download_token)}`
      })
      p.catch(() => this.downloadUrls.delete(fileId))
      this.downloadUrls.set(fileId, p)
      // tokens expire after an hour: forget it before then
      setTimeout(() => this.downloadUrls.delete(fileId), 50 * 60 * 1000)
    }
    return p
  }

  /** sendFile offers a file, uploads it with tus (resuming after cuts), and tracks its progress. */
  async sendFile(conv: string, file: File): Promise<void> {
    const id = crypto.randomUUID()
    const t: Transfer = { id, conv, name: file.name, size: file.size, sent: 0, state: 'hashing' }
    this.transfers.set(id, t)
    this.state.changed()
    const progress = (p: UploadProgress) => {
      t.sent = p.sent
      t.state = p.state
      this.state.changed()
    }
    try {
      await uploadFile(file, {
        offer: async (sha256) => {
          const r = await this.req<{ file_id: number; upload_token: string; file_url?: string }>('file.offer', {
            ...this.target(conv),
            name: file.name,
            size: file.size,
            sha256,
          })
          this.fileNames.set(r.file_id, { name: file.name, size: file.size })
          return { url: `${this.config.file_url}/${r.file_id}`, token: r.upload_token }
        },
        progress,
      })
      t.state = 'done'
      setTimeout(() => {
        this.transfers.delete(id)
        this.state.changed()
      }, 1500)
    } catch (e) {
      t.state = 'failed'
      this.say('error', errorText(e))
    }
    this.state.changed()
  }

  async loadMembers(groupId: number): Promise<Member[]> {
    const r = await this.req<{ members: Member[] }>('group.members', { group_id: groupId })
    for (const m of r.members) this.state.addProfile(m.profile)
    this.members.set(groupId, r.members)
    this.state.changed()
    return r.members
  }

  openPrivate(uid: number): string {
    const id = privateConv(this.state.myId, uid)
    this.state.conv(id)
    return id
  }
}

/** errorText names a failure for the notice line: the contract's code or the message. */
export function errorText(e: unknown): string {
  if (e instanceof ReplyError) return e.code + (e.message && e.message !== e.code ? `: ${e.message}` : '')
  return e instanceof Error ? e.message : String(e)
}

function sniffImage(b: Uint8Array): string {
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg'
  if (b[0] === 0x52 && b[1] === 0x49 && b[8] === 0x57) return 'image/webp'
  if (b[0] === 0x89 && b[1] === 0x50) return 'image/png'
  return 'application/octet-stream'
}

function sniffImageB64(b64: string): string {
  if (b64.startsWith('/9j/')) return 'image/jpeg'
  if (b64.startsWith('iVBOR')) return 'image/png'
  if (b64.startsWith('UklGR')) return 'image/webp'
  if (b64.startsWith('R0lGOD')) return 'image/gif'
  return 'application/octet-stream'
}
