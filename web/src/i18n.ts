// English and Simplified Chinese. The language follows the browser unless
// the user picked one (kept in localStorage).
const en = {
  app: 'chatd',
  login: 'Log in',
  register: 'Create account',
  username: 'Username',
  password: 'Password',
  nickname: 'Nickname',
  have_account: 'I have an account',
  need_account: 'Create an account',
  logout: 'Log out',
  chats: 'Chats',
  contacts: 'Contacts',
  n_unread: '{n} unread',
  n_members: '{n} members',
  n_requests: '{n} friend requests',
  groups: 'Groups',
  rooms: 'Meetings',
  search: 'Search',
  settings: 'Settings',
  offline: 'Offline: reconnecting…',
  connecting: 'Connecting…',
  no_chats: 'No conversations yet. Add a friend or join a group.',
  pick_chat: 'Pick a conversation',
  message: 'Message',
  send: 'Send',
  attach: 'Attach a file',
  typing: '{name} is typing…',
  read: 'Read',
  sent: 'Sent',
  sending: 'Sending…',
  failed: 'Not sent',
  recall: 'Recall',
  recalled: '{name} recalled a message',
  reply: 'Reply',
  replying: 'Replying to {name}',
  cancel: 'Cancel',
  older: 'Loading older messages…',
  today: 'Today',
  yesterday: 'Yesterday',
  at_me: '[@me]',
  find_users: 'Find people by name',
  add_friend: 'Add friend',
  requests: 'Friend requests',
  accept: 'Accept',
  reject: 'Reject',
  pending: 'Request sent',
  online: 'online',
  offline_s: 'offline',
  remove_friend: 'Remove friend',
  chat: 'Chat',
  new_group: 'New group',
  group_name: 'Group name',
  create: 'Create',
  join_group: 'Join group by id',
  join: 'Join',
  group_id: 'Group id',
  members: 'Members',
  leave: 'Leave',
  dismiss: 'Dismiss group',
  kick: 'Remove',
  make_admin: 'Make admin',
  make_member: 'Make member',
  mute: 'Mute 10 min',
  unmute: 'Unmute',
  transfer: 'Make owner',
  notice: 'Notice',
  save: 'Save',
  owner: 'owner',
  admin: 'admin',
  member: 'member',
  search_messages: 'Search messages',
  no_results: 'No results',
  more: 'More',
  signature: 'Signature',
  avatar: 'Avatar',
  change_avatar: 'Change avatar',
  bad_image: 'That file is not an image this browser can read',
  change_password: 'Change password',
  old_password: 'Current password',
  new_password: 'New password',
  devices: 'Devices',
  this_device: 'this device',
  revoke: 'Sign out',
  delete_account: 'Delete account',
  delete_confirm: 'Type your password to delete your account for good',
  language: 'Language',
  theme: 'Theme',
  theme_auto: 'System',
  theme_light: 'Light',
  theme_dark: 'Dark',
  notifications: 'Desktop notifications',
  enable: 'Enable',
  saved: 'Saved',
  new_room: 'New meeting',
  room_name: 'Meeting name',
  room_id: 'Meeting id',
  join_room: 'Join meeting',
  camera_on: 'Camera on',
  camera_off: 'Camera off',
  leave_room: 'Leave meeting',
  room_chat: 'Meeting chat',
  load_more: 'Load more',
  back: 'Back',
  file_failed: 'Upload failed',
  retrying: 'Connection lost, resuming…',
  hashing: 'Preparing…',
  download: 'Download',
  kicked_login_elsewhere: 'You logged in somewhere else on this device.',
  kicked_password_changed: 'Your password was changed; log in again.',
  kicked_revoked: 'This device was signed out.',
  kicked_account_deleted: 'The account was deleted.',
  session_expired: 'Your session expired; log in again.',
  friend_accepted: 'Friend request accepted',
  friend_rejected: 'Friend request declined',
  drop_here: 'Drop files to send',
  close: 'Close',
  conversations: 'Conversations',
  user_search_results: 'People found',
  everyone: 'everyone',
  version: 'Version',
}

export type Key = keyof typeof en

const zh: Record<Key, string> = {
  app: 'chatd',
  login: '登录',
  register: '注册',
  username: '用户名',
  password: '密码',
  nickname: '昵称',
  have_account: '已有账号',
  need_account: '注册新账号',
  logout: '退出登录',
  chats: '消息',
  contacts: '联系人',
  n_unread: '{n} 条未读',
  n_members: '{n} 人',
  n_requests: '{n} 个好友申请',
  groups: '群组',
  rooms: '会议',
  search: '搜索',
  settings: '设置',
  offline: '已离线：正在重连…',
  connecting: '正在连接…',
  no_chats: '还没有会话。添加好友或加入群组吧。',
  pick_chat: '选择一个会话',
  message: '消息',
  send: '发送',
  attach: '发送文件',
  typing: '{name} 正在输入…',
  read: '已读',
  sent: '已发送',
  sending: '发送中…',
  failed: '发送失败',
  recall: '撤回',
  recalled: '{name} 撤回了一条消息',
  reply: '回复',
  replying: '回复 {name}',
  cancel: '取消',
  older: '正在加载更早的消息…',
  today: '今天',
  yesterday: '昨天',
  at_me: '[有人@我]',
  find_users: '按名字查找用户',
  add_friend: '加好友',
  requests: '好友申请',
  accept: '同意',
  reject: '拒绝',
  pending: '已发送申请',
  online: '在线',
  offline_s: '离线',
  remove_friend: '删除好友',
  chat: '聊天',
  new_group: '创建群组',
  group_name: '群名称',
  create: '创建',
  join_group: '按群号加入',
  join: '加入',
  group_id: '群号',
  members: '成员',
  leave: '退出',
  dismiss: '解散群组',
  kick: '移出',
  make_admin: '设为管理员',
  make_member: '取消管理员',
  mute: '禁言 10 分钟',
  unmute: '解除禁言',
  transfer: '转让群主',
  notice: '群公告',
  save: '保存',
  owner: '群主',
  admin: '管理员',
  member: '成员',
  search_messages: '搜索消息',
  no_results: '没有结果',
  more: '更多',
  signature: '个性签名',
  avatar: '头像',
  change_avatar: '更换头像',
  bad_image: '浏览器无法读取这个图片文件',
  change_password: '修改密码',
  old_password: '当前密码',
  new_password: '新密码',
  devices: '登录设备',
  this_device: '本设备',
  revoke: '下线',
  delete_account: '注销账号',
  delete_confirm: '输入密码以永久注销账号',
  language: '语言',
  theme: '主题',
  theme_auto: '跟随系统',
  theme_light: '浅色',
  theme_dark: '深色',
  notifications: '桌面通知',
  enable: '开启',
  saved: '已保存',
  new_room: '新建会议',
  room_name: '会议名称',
  room_id: '会议号',
  join_room: '加入会议',
  camera_on: '打开摄像头',
  camera_off: '关闭摄像头',
  leave_room: '离开会议',
  room_chat: '会议聊天',
  load_more: '加载更多',
  back: '返回',
  file_failed: '上传失败',
  retrying: '连接中断，正在续传…',
  hashing: '准备中…',
  download: '下载',
  kicked_login_elsewhere: '你在本设备的其他地方登录了。',
  kicked_password_changed: '密码已修改，请重新登录。',
  kicked_revoked: '本设备已被下线。',
  kicked_account_deleted: '账号已注销。',
  session_expired: '登录已过期，请重新登录。',
  friend_accepted: '好友申请已通过',
  friend_rejected: '好友申请被拒绝',
  drop_here: '松开即可发送文件',
  close: '关闭',
  conversations: '会话列表',
  user_search_results: '找到的用户',
  everyone: '全体成员',
  version: '版本',
}

export type Lang = 'en' | 'zh'
const LANG_KEY = 'chatd.lang'

export function initialLang(): Lang {
  const saved = localStorage.getItem(LANG_KEY)
  if (saved === 'en' || saved === 'zh') return saved
  return navigator.languages?.some((l) => l.toLowerCase().startsWith('zh')) || navigator.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en'
}

export let lang: Lang = 'en'

export function setLang(l: Lang, persist = true): void {
  lang = l
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en'
  if (persist) localStorage.setItem(LANG_KEY, l)
}

/** t translates key, filling {name}-style parameters; unknown keys (server codes) pass through. */
export function t(key: Key | string, params: Record<string, string | number> = {}): string {
  const dict: Record<string, string> = lang === 'zh' ? zh : en
  const s = dict[key] ?? key
  return s.replace(/\{(\w+)\}/g, (_, k) => String(params[k] ?? ''))
}

// One Intl formatter per language and kind, made once: toLocaleTimeString
// with options builds a new formatter on every call (about half a
// millisecond), which made scrolling a long conversation stutter.
const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(kind: 'time' | 'day'): Intl.DateTimeFormat {
  const key = `${lang} ${kind}`
  let f = formatters.get(key)
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      kind === 'time' ? { hour: '2-digit', minute: '2-digit' } : { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' }
    f = new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en', opts)
    formatters.set(key, f)
  }
  return f
}

export function formatTime(ts: number): string {
  return formatter('time').format(ts)
}

export function formatDay(ts: number): string {
  const d = new Date(ts)
  const today = new Date()
  const y = new Date(today.getTime() - 86400000)
  if (d.toDateString() === today.toDateString()) return t('today')
  if (d.toDateString() === y.toDateString()) return t('yesterday')
  return formatter('day').format(d)
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KB', 'MB', 'GB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}
