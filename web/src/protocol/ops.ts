// Operation codes of the wire contract (sections 3 and 12), named as the
// contract names them. The Go side declares them in protocol/op.go; the
// codec tests check both agree through protocol/testdata/vectors.json.
export const Op = {
  ping: 0x0001,
  register: 0x0010,
  login: 0x0011,
  logout: 0x0012,
  'account.password': 0x0013,
  'account.sessions': 0x0014,
  'account.revoke': 0x0015,
  'account.delete': 0x0016,
  'profile.get': 0x0020,
  'profile.update': 0x0021,
  'user.search': 0x0022,
  'friend.request': 0x0030,
  'friend.respond': 0x0031,
  'friend.remove': 0x0032,
  'friend.list': 0x0033,
  'friend.pending': 0x0034,
  'msg.send': 0x0040,
  'msg.sync': 0x0041,
  'msg.ack': 0x0042,
  'msg.read': 0x0043,
  'conv.list': 0x0044,
  'msg.recall': 0x0045,
  'msg.typing': 0x0046,
  'msg.search': 0x0047,
  'group.create': 0x0050,
  'group.join': 0x0051,
  'group.leave': 0x0052,
  'group.kick': 0x0053,
  'group.members': 0x0054,
  'group.list': 0x0055,
  'group.dismiss': 0x0056,
  'group.update': 0x0057,
  'group.set_role': 0x0058,
  'group.mute': 0x0059,
  'group.transfer': 0x005a,
  'file.offer': 0x0060,
  'file.fetch': 0x0061,
  'room.create': 0x0070,
  'room.join': 0x0071,
  'room.leave': 0x0072,
  'room.say': 0x0073,
  'room.media': 0x0074,
  'room.members': 0x0075,
} as const

/** Push ops (server to client, req_id 0). */
export const Push = {
  kicked: 0x1001,
  presence: 0x1002,
  'profile.changed': 0x1003,
  'friend.requested': 0x1010,
  'friend.responded': 0x1011,
  'friend.removed': 0x1012,
  msg: 0x1020,
  'msg.read_receipt': 0x1021,
  typing: 0x1022,
  'group.event': 0x1030,
  'file.offered': 0x1040,
  'file.ready': 0x1041,
  'room.event': 0x1050,
  'room.said': 0x1051,
  'room.media': 0x1052,
} as const

export type OpName = keyof typeof Op
export type PushName = keyof typeof Push

/** Ops whose body is binary rather than JSON (room.media both ways). */
export function isBinaryOp(op: number): boolean {
  return op === Op['room.media'] || op === Push['room.media']
}

const pushNames = new Map<number, PushName>(Object.entries(Push).map(([k, v]) => [v, k as PushName]))

/** The name of a push op, undefined for an unknown one (ignored by clients). */
export function pushName(op: number): PushName | undefined {
  return pushNames.get(op)
}
