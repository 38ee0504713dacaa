import { describe, expect, it } from 'vitest'
import { ChatState, MAX_KEPT, parseConv, privateConv, separatorBefore } from './chat'
import type { LoginReply, Message } from './types'

const alice = { user_id: 1, username: 'alice', nickname: 'Alice', signature: '', avatar_sha256: '' }
const bob = { user_id: 2, username: 'bob', nickname: 'Bob', signature: '', avatar_sha256: '' }
const conv = 'p:1:2'

function login(s: ChatState, extra: Partial<LoginReply> = {}) {
  s.applyLogin({ user_id: 1, token: 't', profile: alice, friends: [{ profile: bob, online: true }], groups: [], convs: [], ...extra })
}

function msg(seq: number, from = 2, extra: Partial<Message> = {}): Message {
  return { msg_id: 100 + seq, conv, seq, from, ts: 1_700_000_000_000 + seq * 1000, type: 'text', body: `m${seq}`, client_msg_id: `c${seq}`, ...extra }
}

describe('ChatState', () => {
  it('parses conversation ids from my side', () => {
    expect(parseConv('p:1:2', 1)).toEqual({ kind: 'p', peer: 2 })
    expect(parseConv('p:1:2', 2)).toEqual({ kind: 'p', peer: 1 })
    expect(parseConv('g:9', 1)).toEqual({ kind: 'g', group: 9 })
    expect(privateConv(5, 3)).toBe('p:3:5')
  })

  it('shows each message once, in seq order, whatever the arrival order', () => {
    const s = new ChatState()
    login(s)
    for (const seq of [3, 1, 2, 3, 1]) s.addMessage(msg(seq))
    expect(s.conv(conv).messages.map((m) => m.seq)).toEqual([1, 2, 3])
    expect(s.addMessage(msg(2))).toBe(false)
  })

  it('replaces my pending send with the stored copy', () => {
    const s = new ChatState()
    login(s)
    s.addPending(conv, 'hi', 'cm-1')
    expect(s.conv(conv).messages).toHaveLength(1)
    s.addMessage(msg(1, 1, { client_msg_id: 'cm-1', body: 'hi' }))
    const list = s.conv(conv).messages
    expect(list).toHaveLength(1)
    expect(list[0].pending).toBeUndefined()
    expect(list[0].seq).toBe(1)
  })

  it('keeps pending sends after confirmed ones', () => {
    const s = new ChatState()
    login(s)
    s.addPending(conv, 'mine', 'cm-x')
    s.addMessage(msg(1))
    expect(s.conv(conv).messages.map((m) => m.body)).toEqual(['m1', 'mine'])
  })

  it('applies a recall to its target, also when a stale copy arrives later', () => {
    const s = new ChatState()
    login(s)
    s.addMessage(msg(1))
    s.addMessage(msg(2, 2, { type: 'recall', body: '1', client_msg_id: '' }))
    expect(s.conv(conv).messages[0]).toMatchObject({ type: 'recalled', body: '' })
    s.addMessage(msg(1)) // a backlog replay with the old text
    expect(s.conv(conv).messages[0]).toMatchObject({ type: 'recalled', body: '' })
  })

  it('counts unread above the read cursor, not my own', () => {
    const s = new ChatState()
    login(s, { convs: [{ conv, last_seq: 5, ack_seq: 5, read_seq: 2 }] })
    expect(s.unread(s.conv(conv))).toBe(3)
    s.addMessage(msg(6))
    expect(s.unread(s.conv(conv))).toBe(4)
    s.addMessage(msg(7, 1)) // I answered: I have read everything before
    expect(s.unread(s.conv(conv))).toBe(0)
    s.addMessage(msg(8))
    s.markRead(conv, 8)
    expect(s.totalUnread()).toBe(0)
  })

  it('marks unread mentions of me until read', () => {
    const s = new ChatState()
    login(s)
    const g = 'g:4'
    s.addMessage({ ...msg(1), conv: g, mentions: [3] })
    expect(s.mentioned(s.conv(g))).toBe(false)
    s.addMessage({ ...msg(2), conv: g, mentions: [1] })
    expect(s.mentioned(s.conv(g))).toBe(true)
    s.markRead(g, 2)
    expect(s.mentioned(s.conv(g))).toBe(false)
    s.addMessage({ ...msg(3), conv: g, mention_all: true })
    expect(s.mentioned(s.conv(g))).toBe(true)
  })

  it('acks only up to the first gap', () => {
    const s = new ChatState()
    login(s, { convs: [{ conv, last_seq: 0, ack_seq: 0, read_seq: 0 }] })
    for (const seq of [1, 2, 4]) s.addMessage(msg(seq))
    expect(s.ackable(s.conv(conv))).toBe(2)
    s.addMessage(msg(3))
    expect(s.ackable(s.conv(conv))).toBe(4)
  })

  it('keeps memory bounded', () => {
    const s = new ChatState()
    login(s)
    for (let seq = 1; seq <= MAX_KEPT + 500; seq++) s.addMessage(msg(seq), { notify: false })
    const c = s.conv(conv)
    expect(c.messages).toHaveLength(MAX_KEPT)
    expect(c.messages[0].seq).toBe(501)
    expect(c.hasOlder).toBe(true)
    s.addOlder(conv, [msg(500)], true)
    expect(c.messages[0].seq).toBe(500)
  })

  it('shows typing for a while, cleared by that user\'s message', () => {
    const s = new ChatState()
    login(s)
    s.setTyping(conv, 2, 1000)
    expect(s.typingUsers(conv, 2000)).toEqual([2])
    expect(s.typingUsers(conv, 7000)).toEqual([])
    s.setTyping(conv, 2, Date.now())
    s.addMessage(msg(1))
    expect(s.typingUsers(conv)).toEqual([])
  })

  it('follows group events', () => {
    const s = new ChatState()
    login(s, { groups: [{ group_id: 4, name: 'g', owner: 1, member_count: 2 }] })
    s.applyGroupEvent({ group_id: 4, kind: 'joined', user_id: 3 })
    expect(s.groups.get(4)!.member_count).toBe(3)
    s.applyGroupEvent({ group_id: 4, kind: 'updated', user_id: 1, group: { group_id: 4, name: 'renamed', owner: 1, member_count: 3 } })
    expect(s.groups.get(4)!.name).toBe('renamed')
    expect(s.applyGroupEvent({ group_id: 4, kind: 'kicked', user_id: 1 })).toBe(true)
    expect(s.groups.has(4)).toBe(false)
  })

  it('orders the conversation list by last activity', () => {
    const s = new ChatState()
    login(s)
    s.addMessage(msg(1))
    s.addMessage({ ...msg(1), conv: 'g:4', ts: 1_800_000_000_000 })
    expect(s.convList().map((c) => c.id)).toEqual(['g:4', conv])
  })

  it('puts date separators between days', () => {
    const day = 86_400_000
    const list = [msg(1), { ...msg(2), ts: msg(1).ts + 60_000 }, { ...msg(3), ts: msg(1).ts + 2 * day }]
    expect(list.map((_, i) => separatorBefore(list, i))).toEqual([true, false, true])
  })

  it('notifies subscribers', () => {
    const s = new ChatState()
    let n = 0
    const off = s.subscribe(() => n++)
    login(s)
    s.addMessage(msg(1))
    off()
    s.addMessage(msg(2))
    expect(n).toBe(2)
  })
})
