// The client's state: who I am, friends, groups, conversations with their
// messages, rooms. It holds no network code: the controller feeds it
// replies and pushes, and the UI reads it and re-renders on change. Every
// rule about what to show lives here, so it is unit-tested without a
// server: messages appear once (by seq, and by client_msg_id for my own
// sends), recalls replace their target, unread counts and "@me" follow the
// read cursor, and memory is bounded by keeping at most MAX_KEPT messages
// per conversation (older ones come back through msg.sync).
import type { ConvInfo, Friend, FriendRequest, Group, LoginReply, Message, Profile, Room } from './types'

/** Messages kept in memory per conversation; older ones are dropped and re-fetched on scroll. */
export const MAX_KEPT = 10000

/** How long a typing notice shows (the server repeats it at most every 3 s). */
export const TYPING_SHOW_MS = 5000

export interface Conv {
  id: string
  kind: 'p' | 'g'
  /** the other user of a private conversation */
  peer?: number
  group?: number
  /** loaded messages, ascending by seq, my unconfirmed sends at the end */
  messages: Message[]
  lastSeq: number
  ackSeq: number
  readSeq: number
  /** the highest seq the other user of a private conversation has read */
  peerReadSeq: number
  mentionSeq: number
  /** the last message, also when not loaded */
  last?: Message
  /** true when messages below the first loaded one exist */
  hasOlder: boolean
  typing: Map<number, number>
}

export type Listener = () => void

export function parseConv(id: string, me: number): Pick<Conv, 'kind' | 'peer' | 'group'> {
  const parts = id.split(':')
  if (parts[0] === 'g') return { kind: 'g', group: Number(parts[1]) }
  const a = Number(parts[1])
  const b = Number(parts[2])
  return { kind: 'p', peer: a === me ? b : a }
}

export function privateConv(a: number, b: number): string {
  return a < b ? `p:${a}:${b}` : `p:${b}:${a}`
}

/** dayKey is the local calendar day of ts, for date separators. */
export function dayKey(ts: number): string {
  const d = new Date(ts)
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`
}

export class ChatState {
  me?: Profile
  profiles = new Map<number, Profile>()
  friends = new Map<number, boolean>() // user_id → online
  incoming: FriendRequest[] = []
  outgoing: FriendRequest[] = []
  groups = new Map<number, Group>()
  convs = new Map<string, Conv>()
  rooms = new Map<number, Room & { members: Map<number, Profile>; more: boolean; chat: Array<{ from: number; body: string; ts: number }> }>()
  features: string[] = []
  /** bumped on every change, so views can compare cheaply */
  version = 0
  private listeners = new Set<Listener>()

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  changed(): void {
    this.version++
    for (const fn of this.listeners) fn()
  }

  get myId(): number {
    return this.me?.user_id ?? 0
  }

  /** reset forgets everything (logout). */
  reset(): void {
    this.me = undefined
    this.profiles.clear()
    this.friends.clear()
    this.incoming = []
    this.outgoing = []
    this.groups.clear()
    this.convs.clear()
    this.rooms.clear()
    this.changed()
  }

  addProfile(p: Profile): void {
    this.profiles.set(p.user_id, p)
    if (this.me && p.user_id === this.me.user_id) this.me = p
  }

  /**
   * applyLogin takes a login reply. Messages already loaded (a reconnect)
   * are kept; conversation cursors come from the server.
   */
  applyLogin(r: LoginReply): void {
    if (this.me && this.me.user_id !== r.user_id) this.reset()
    this.me = r.profile
    this.addProfile(r.profile)
    this.features = r.server?.features ?? []
    this.friends.clear()
    for (const f of r.friends) this.setFriend(f)
    this.groups.clear()
    for (const g of r.groups) this.groups.set(g.group_id, g)
    for (const c of r.convs) this.applyConvInfo(c)
    this.changed()
  }

  setFriend(f: Friend): void {
    this.addProfile(f.profile)
    this.friends.set(f.profile.user_id, f.online)
  }

  conv(id: string): Conv {
    let c = this.convs.get(id)
    if (!c) {
      c = { id, ...parseConv(id, this.myId), messages: [], lastSeq: 0, ackSeq: 0, readSeq: 0, peerReadSeq: 0, mentionSeq: 0, hasOlder: false, typing: new Map() }
      this.convs.set(id, c)
    }
    return c
  }

  applyConvInfo(ci: ConvInfo): void {
    const c = this.conv(ci.conv)
    c.lastSeq = Math.max(c.lastSeq, ci.last_seq)
    c.ackSeq = Math.max(c.ackSeq, ci.ack_seq)
    c.readSeq = Math.max(c.readSeq, ci.read_seq)
    c.mentionSeq = ci.mention_seq ?? c.mentionSeq
    if (ci.last && (!c.last || ci.last.seq >= c.last.seq)) c.last = ci.last
    if (c.messages.length === 0 && c.lastSeq > 0) c.hasOlder = true
  }

  /**
   * addMessage puts a stored message in its conversation, once: a second
   * copy of a seq (a push after a sync, a backlog replayed after a
   * reconnect) only updates it, and my own send confirmed by the server
   * replaces its pending copy. A recall message also marks its target
   * recalled. It returns true when the message was new.
   */
  addMessage(m: Message, opts: { notify?: boolean } = {}): boolean {
    const c = this.conv(m.conv)
    const isNew = this.insert(c, m)
    if (m.type === 'recall') {
      const target = c.messages.find((x) => x.seq === Number(m.body))
      if (target) {
        target.type = 'recalled'
        target.body = ''
      }
      if (c.last?.seq === Number(m.body)) c.last = { ...c.last, type: 'recalled', body: '' }
    }
    if (m.seq > c.lastSeq) c.lastSeq = m.seq
    if (!c.last || m.seq >= c.last.seq) c.last = m
    if (m.from === this.myId && m.seq > c.readSeq) c.readSeq = m.seq // what I sent I have read
    if (isNew && m.from !== this.myId && this.mentionsMe(m) && m.seq > c.mentionSeq) c.mentionSeq = m.seq
    c.typing.delete(m.from)
    this.trim(c)
    if (opts.notify !== false) this.changed()
    return isNew
  }

  private insert(c: Conv, m: Message): boolean {
    const list = c.messages
    // my own send coming back: replace the pending copy
    if (m.client_msg_id && m.from === this.myId) {
      const i = list.findIndex((x) => x.pending !== undefined && x.client_msg_id === m.client_msg_id)
      if (i >= 0) list.splice(i, 1)
    }
    // binary search among the confirmed ones (pending sends sit at the end)
    let end = list.length
    while (end > 0 && list[end - 1].seq === 0) end--
    let lo = 0
    let hi = end
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (list[mid].seq < m.seq) lo = mid + 1
      else hi = mid
    }
    if (lo < end && list[lo].seq === m.seq) {
      const old = list[lo]
      // a recalled message stays recalled whatever copy comes later
      list[lo] = old.type === 'recalled' && m.type !== 'recalled' ? { ...m, type: 'recalled', body: '' } : m
      return false
    }
    list.splice(lo, 0, m)
    return true
  }

  private trim(c: Conv): void {
    const extra = c.messages.length - MAX_KEPT
    if (extra > 0) {
      c.messages.splice(0, extra)
      c.hasOlder = true
    }
  }

  /** addPending shows my message before the server confirmed it. */
  addPending(conv: string, body: string, clientMsgId: string, extra: Partial<Message> = {}): Message {
    const m: Message = { msg_id: 0, conv, seq: 0, from: this.myId, ts: Date.now(), type: 'text', body, client_msg_id: clientMsgId, pending: true, ...extra }
    this.conv(conv).messages.push(m)
    this.changed()
    return m
  }

  failPending(conv: string, clientMsgId: string): void {
    const m = this.convs.get(conv)?.messages.find((x) => x.pending && x.client_msg_id === clientMsgId)
    if (m) {
      m.failed = true
      this.changed()
    }
  }

  /** addOlder puts a page from msg.sync in front (scrolling back). */
  addOlder(conv: string, page: Message[], more: boolean): void {
    const c = this.conv(conv)
    for (const m of page) this.insert(c, m)
    c.hasOlder = more || (c.messages[0]?.seq ?? 1) > 1
    this.changed()
  }

  /** mentionsMe reports whether m names me or everyone. */
  mentionsMe(m: Message): boolean {
    return !!m.mention_all || (m.mentions ?? []).includes(this.myId)
  }

  /** unread counts the messages above my read cursor that others sent. */
  unread(c: Conv): number {
    let mine = 0
    for (let i = c.messages.length - 1; i >= 0 && (c.messages[i].seq > c.readSeq || c.messages[i].seq === 0); i--) {
      if (c.messages[i].from === this.myId) mine++
    }
    return Math.max(0, c.lastSeq - c.readSeq - mine)
  }

  /** mentioned reports an unread message mentioning me ("@me" in the list). */
  mentioned(c: Conv): boolean {
    return c.mentionSeq > c.readSeq
  }

  totalUnread(): number {
    let n = 0
    for (const c of this.convs.values()) n += this.unread(c)
    return n
  }

  markRead(conv: string, seq: number): void {
    const c = this.conv(conv)
    if (seq <= c.readSeq) return
    c.readSeq = seq
    this.changed()
  }

  /** highest seq received without a gap from the ack cursor: what to msg.ack */
  ackable(c: Conv): number {
    let seq = c.ackSeq
    for (const m of c.messages) {
      if (m.seq === seq + 1) seq = m.seq
      else if (m.seq > seq + 1) break
    }
    return seq
  }

  setTyping(conv: string, user: number, now = Date.now()): void {
    this.conv(conv).typing.set(user, now + TYPING_SHOW_MS)
    this.changed()
  }

  /** typingUsers lists who is typing in conv now. */
  typingUsers(conv: string, now = Date.now()): number[] {
    const c = this.convs.get(conv)
    if (!c) return []
    return [...c.typing].filter(([, until]) => until > now).map(([u]) => u)
  }

  /** convList orders conversations by their last activity, newest first. */
  convList(): Conv[] {
    return [...this.convs.values()]
      .filter((c) => c.lastSeq > 0 || c.messages.length > 0)
      .sort((a, b) => (b.last?.ts ?? b.messages.at(-1)?.ts ?? 0) - (a.last?.ts ?? a.messages.at(-1)?.ts ?? 0))
  }

  /** name is how a user is shown. */
  name(uid: number): string {
    const p = this.profiles.get(uid)
    return p ? p.nickname || p.username : `#${uid}`
  }

  convTitle(c: Conv): string {
    if (c.kind === 'g') return this.groups.get(c.group!)?.name ?? `#${c.group}`
    return this.name(c.peer!)
  }

  /** applyGroupEvent follows group.event pushes; it returns whether I left the group. */
  applyGroupEvent(e: { group_id: number; kind: string; user_id: number; group?: Group; role?: string }): boolean {
    const g = this.groups.get(e.group_id)
    let gone = false
    switch (e.kind) {
      case 'joined':
        if (g) g.member_count++
        break
      case 'left':
      case 'kicked':
        if (e.user_id === this.myId) gone = true
        else if (g) g.member_count--
        break
      case 'dismissed':
        gone = true
        break
      case 'updated':
        if (e.group) this.groups.set(e.group_id, { ...g, ...e.group })
        break
      case 'transferred':
        if (g) g.owner = e.user_id
        break
    }
    if (gone) this.groups.delete(e.group_id)
    this.changed()
    return gone
  }

  removeFriend(uid: number): void {
    this.friends.delete(uid)
    this.changed()
  }

  /** search finds loaded messages containing q (case-insensitive), newest first: an offline fallback to msg.search. */
  searchLoaded(q: string): Message[] {
    const needle = q.toLocaleLowerCase()
    const out: Message[] = []
    for (const c of this.convs.values()) for (const m of c.messages) if (m.type === 'text' && m.body.toLocaleLowerCase().includes(needle)) out.push(m)
    return out.sort((a, b) => b.msg_id - a.msg_id)
  }
}

/** separatorBefore reports whether message i starts a new day in list. */
export function separatorBefore(list: Message[], i: number): boolean {
  return i === 0 || dayKey(list[i - 1].ts) !== dayKey(list[i].ts)
}

export type { ConvInfo, Friend, FriendRequest, Group, Message, Profile, Room }
