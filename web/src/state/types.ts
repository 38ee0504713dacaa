// Shapes of the contract's JSON bodies the client uses (sections 4-16).

export interface Profile {
  user_id: number
  username: string
  nickname: string
  signature: string
  avatar_sha256: string
}

export interface Friend {
  profile: Profile
  online: boolean
}

export interface Member extends Friend {
  role?: 'owner' | 'admin' | 'member'
  muted_until?: number
}

export interface Message {
  msg_id: number
  conv: string
  seq: number
  from: number
  ts: number
  type: 'text' | 'file' | 'recall' | 'recalled' | string
  body: string
  client_msg_id: string
  mentions?: number[]
  mention_all?: boolean
  reply_to?: number
  /** local only: sent, not yet acknowledged by the server */
  pending?: boolean
  /** local only: the send failed */
  failed?: boolean
}

export interface Group {
  group_id: number
  name: string
  owner: number
  member_count: number
  notice?: string
}

export interface ConvInfo {
  conv: string
  last_seq: number
  ack_seq: number
  read_seq: number
  mention_seq?: number
  last?: Message
}

export interface FriendRequest {
  request_id: number
  from: Profile
  to?: Profile
  note: string
  ts?: number
}

export interface Room {
  room_id: number
  name: string
  owner: number
  member_count: number
}

export interface LoginReply {
  user_id: number
  token: string
  profile: Profile
  friends: Friend[]
  groups: Group[]
  convs: ConvInfo[]
  server?: { version: string; protocol: string; features: string[] }
}
