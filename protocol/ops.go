package protocol

// Every op of the contract is declared once below: its code (a constant in
// op.go), its name, its body types, whether it needs a logged-in session
// and the rate limit it counts against. Op's methods, NewRequest, NewReply,
// NewPush and the service's dispatch table all read these declarations.

// RateClass names the per-connection rate limit a request counts against.
type RateClass uint8

const (
	// RateNone: the request is not rate limited beyond the frame rules.
	RateNone RateClass = iota
	// RateMessage: the request posts chat content (msg.send, room.say) and
	// counts against the connection's message rate.
	RateMessage
	// RateTyping: msg.typing, which has its own per-connection limit and
	// does not count against the message rate.
	RateTyping
)

// OpInfo is what the contract says about one op, whatever its body types.
type OpInfo struct {
	Op         Op
	Name       string
	NeedsLogin bool      // a request that needs a logged-in session
	Rate       RateClass // the rate limit a request counts against

	kind     uint8
	newReq   func() Request // nil for pushes and binary requests
	newReply func() Body    // nil for pushes and requests without a JSON reply
	newPush  func() Body    // nil for requests and binary pushes
}

// OpSpec is a request op declared with its request and reply types, so that
// handlers (service) and callers are typed: Req is the request body
// (*MsgSendReq), Rep the success reply body (*MsgSendResp, or *Status for
// ops whose reply is only {code}).
type OpSpec[Req Request, Rep Body] struct{ *OpInfo }

// Info returns the declaration of o (nil for an op outside the contract).
func (o Op) Info() *OpInfo { return opTable[o] }

const (
	kindRequest = 1 << iota
	kindPush
	kindFilePort
	kindBinary
	kindNoReply
)

// Declaration flags for requests.
const (
	needsLogin = 1 << iota // the request needs a logged-in session
	rateMsg                // the request counts against the message rate
	filePort               // the request is only valid on the file port
	rateTyping             // the request counts against the typing rate
)

// opTable holds every declaration by op; filled by the declarations below.
var opTable = map[Op]*OpInfo{}

func declare(info *OpInfo) *OpInfo {
	if _, dup := opTable[info.Op]; dup {
		panic("protocol: op declared twice: " + info.Name)
	}
	opTable[info.Op] = info
	return info
}

// request declares a JSON request op with request type Q and reply type R.
func request[Q, R any, PQ interface {
	*Q
	Request
}, PR interface {
	*R
	Body
}](op Op, name string, flags uint8) OpSpec[PQ, PR] {
	info := &OpInfo{Op: op, Name: name, NeedsLogin: flags&needsLogin != 0, kind: kindRequest,
		newReq: func() Request { return PQ(new(Q)) }, newReply: func() Body { return PR(new(R)) }}
	if flags&rateMsg != 0 {
		info.Rate = RateMessage
	}
	if flags&rateTyping != 0 {
		info.Rate = RateTyping
	}
	if flags&filePort != 0 {
		info.kind |= kindFilePort
	}
	return OpSpec[PQ, PR]{declare(info)}
}

// push declares a JSON push op with body type P.
func push[P any, PP interface {
	*P
	Body
}](op Op, name string) *OpInfo {
	return declare(&OpInfo{Op: op, Name: name, kind: kindPush, newPush: func() Body { return PP(new(P)) }})
}

// The request ops, each declared once.
var (
	Ping          = request[PingReq, PingResp](OpPing, "ping", 0)
	Register      = request[RegisterReq, RegisterResp](OpRegister, "register", 0)
	Login         = request[LoginReq, LoginResp](OpLogin, "login", 0)
	Logout        = request[LogoutReq, Status](OpLogout, "logout", needsLogin)
	ProfileGet    = request[ProfileGetReq, ProfileGetResp](OpProfileGet, "profile.get", needsLogin)
	ProfileUpdate = request[ProfileUpdateReq, ProfileUpdateResp](OpProfileUpdate, "profile.update", needsLogin)
	UserSearch    = request[UserSearchReq, UserSearchResp](OpUserSearch, "user.search", needsLogin)
	FriendRequest = request[FriendRequestReq, FriendRequestResp](OpFriendRequest, "friend.request", needsLogin)
	FriendRespond = request[FriendRespondReq, Status](OpFriendRespond, "friend.respond", needsLogin)
	FriendRemove  = request[FriendRemoveReq, Status](OpFriendRemove, "friend.remove", needsLogin)
	FriendList    = request[FriendListReq, FriendListResp](OpFriendList, "friend.list", needsLogin)
	FriendPending = request[FriendPendingReq, FriendPendingResp](OpFriendPending, "friend.pending", needsLogin)
	MsgSend       = request[MsgSendReq, MsgSendResp](OpMsgSend, "msg.send", needsLogin|rateMsg)
	MsgSync       = request[MsgSyncReq, MsgSyncResp](OpMsgSync, "msg.sync", needsLogin)
	MsgAck        = request[MsgAckReq, Status](OpMsgAck, "msg.ack", needsLogin)
	MsgRead       = request[MsgReadReq, Status](OpMsgRead, "msg.read", needsLogin)
	ConvList      = request[ConvListReq, ConvListResp](OpConvList, "conv.list", needsLogin)
	GroupCreate   = request[GroupCreateReq, GroupResp](OpGroupCreate, "group.create", needsLogin)
	GroupJoin     = request[GroupIDReq, GroupResp](OpGroupJoin, "group.join", needsLogin)
	GroupLeave    = request[GroupIDReq, Status](OpGroupLeave, "group.leave", needsLogin)
	GroupKick     = request[GroupKickReq, Status](OpGroupKick, "group.kick", needsLogin)
	GroupMembers  = request[GroupIDReq, GroupMembersResp](OpGroupMembers, "group.members", needsLogin)
	GroupList     = request[GroupListReq, GroupListResp](OpGroupList, "group.list", needsLogin)
	GroupDismiss  = request[GroupIDReq, Status](OpGroupDismiss, "group.dismiss", needsLogin)
	FileOffer     = request[FileOfferReq, FileOfferResp](OpFileOffer, "file.offer", needsLogin)
	FileFetch     = request[FileFetchReq, FileFetchResp](OpFileFetch, "file.fetch", needsLogin)
	// FileUpload's reply is its first answer; the final one is a *Status.
	FileUpload   = request[FileUploadReq, FileUploadResp](OpFileUpload, "file.upload", filePort)
	FileDownload = request[FileDownloadReq, FileDownloadResp](OpFileDownload, "file.download", filePort)
	RoomCreate   = request[RoomCreateReq, RoomCreateResp](OpRoomCreate, "room.create", needsLogin)
	RoomJoin     = request[RoomIDReq, RoomJoinResp](OpRoomJoin, "room.join", needsLogin)
	RoomLeave    = request[RoomIDReq, Status](OpRoomLeave, "room.leave", needsLogin)
	RoomSay      = request[RoomSayReq, Status](OpRoomSay, "room.say", needsLogin|rateMsg)

	// Protocol 1.1 (sections 12-16).
	AccountPassword = request[AccountPasswordReq, AccountPasswordResp](OpAccountPassword, "account.password", needsLogin)
	AccountSessions = request[AccountSessionsReq, AccountSessionsResp](OpAccountSessions, "account.sessions", needsLogin)
	AccountRevoke   = request[AccountRevokeReq, Status](OpAccountRevoke, "account.revoke", needsLogin)
	AccountDelete   = request[AccountDeleteReq, Status](OpAccountDelete, "account.delete", needsLogin)
	MsgRecall       = request[MsgRecallReq, MsgRecallResp](OpMsgRecall, "msg.recall", needsLogin)
	MsgTyping       = request[MsgTypingReq, Status](OpMsgTyping, "msg.typing", needsLogin|rateTyping)
	MsgSearch       = request[MsgSearchReq, MsgSearchResp](OpMsgSearch, "msg.search", needsLogin)
	GroupUpdate     = request[GroupUpdateReq, GroupResp](OpGroupUpdate, "group.update", needsLogin)
	GroupSetRole    = request[GroupSetRoleReq, Status](OpGroupSetRole, "group.set_role", needsLogin)
	GroupMute       = request[GroupMuteReq, Status](OpGroupMute, "group.mute", needsLogin)
	GroupTransfer   = request[GroupTransferReq, Status](OpGroupTransfer, "group.transfer", needsLogin)
	RoomMembers     = request[RoomMembersReq, RoomMembersResp](OpRoomMembers, "room.members", needsLogin)
)

// The binary room.media ops and the JSON pushes.
var (
	_ = declare(&OpInfo{Op: OpRoomMedia, Name: "room.media", NeedsLogin: true, kind: kindRequest | kindBinary | kindNoReply})
	_ = declare(&OpInfo{Op: OpRoomMediaPush, Name: "room.media", kind: kindPush | kindBinary})

	_ = push[KickedPush](OpKicked, "kicked")
	_ = push[PresencePush](OpPresence, "presence")
	_ = push[ProfileChangedPush](OpProfileChanged, "profile.changed")
	_ = push[FriendRequestedPush](OpFriendRequested, "friend.requested")
	_ = push[FriendRespondedPush](OpFriendResponded, "friend.responded")
	_ = push[FriendRemovedPush](OpFriendRemoved, "friend.removed")
	_ = push[MsgPush](OpMsgPush, "msg")
	_ = push[ReadReceiptPush](OpReadReceipt, "msg.read_receipt")
	_ = push[TypingPush](OpTyping, "typing")
	_ = push[GroupEventPush](OpGroupEvent, "group.event")
	_ = push[FileOfferedPush](OpFileOffered, "file.offered")
	_ = push[FileReadyPush](OpFileReady, "file.ready")
	_ = push[RoomEventPush](OpRoomEvent, "room.event")
	_ = push[RoomSaidPush](OpRoomSaid, "room.said")
)
