package protocol

import (
	"slices"
	"strconv"
)

// Op is the 16-bit operation code carried in every frame header.
type Op uint16

// Request ops: sent by the client; the reply carries the same op.
const (
	OpPing          Op = 0x0001
	OpRegister      Op = 0x0010
	OpLogin         Op = 0x0011
	OpLogout        Op = 0x0012
	OpProfileGet    Op = 0x0020
	OpProfileUpdate Op = 0x0021
	OpUserSearch    Op = 0x0022
	OpFriendRequest Op = 0x0030
	OpFriendRespond Op = 0x0031
	OpFriendRemove  Op = 0x0032
	OpFriendList    Op = 0x0033
	OpFriendPending Op = 0x0034
	OpMsgSend       Op = 0x0040
	OpMsgSync       Op = 0x0041
	OpMsgAck        Op = 0x0042
	OpMsgRead       Op = 0x0043
	OpConvList      Op = 0x0044
	OpGroupCreate   Op = 0x0050
	OpGroupJoin     Op = 0x0051
	OpGroupLeave    Op = 0x0052
	OpGroupKick     Op = 0x0053
	OpGroupMembers  Op = 0x0054
	OpGroupList     Op = 0x0055
	OpGroupDismiss  Op = 0x0056
	OpFileOffer     Op = 0x0060
	OpFileFetch     Op = 0x0061
	// OpFileUpload is only valid on the file port (section 9 of the contract).
	OpFileUpload Op = 0x0062
	// OpFileDownload is only valid on the file port (section 9 of the contract).
	OpFileDownload Op = 0x0063
	OpRoomCreate   Op = 0x0070
	OpRoomJoin     Op = 0x0071
	OpRoomLeave    Op = 0x0072
	OpRoomSay      Op = 0x0073
	// OpRoomMedia has a binary body and gets no reply.
	OpRoomMedia Op = 0x0074
)

// Push ops: sent by the server with req_id 0.
const (
	OpKicked          Op = 0x1001
	OpPresence        Op = 0x1002
	OpProfileChanged  Op = 0x1003
	OpFriendRequested Op = 0x1010
	OpFriendResponded Op = 0x1011
	OpFriendRemoved   Op = 0x1012
	OpMsgPush         Op = 0x1020
	OpReadReceipt     Op = 0x1021
	OpGroupEvent      Op = 0x1030
	OpFileOffered     Op = 0x1040
	OpFileReady       Op = 0x1041
	OpRoomEvent       Op = 0x1050
	OpRoomSaid        Op = 0x1051
	// OpRoomMediaPush has a binary body.
	OpRoomMediaPush Op = 0x1052
)

const (
	kindRequest = 1 << iota
	kindPush
	kindFilePort
	kindBinary
	kindNoReply
)

type opInfo struct {
	name  string
	flags uint8
}

var opTable = map[Op]opInfo{
	OpPing:          {"ping", kindRequest},
	OpRegister:      {"register", kindRequest},
	OpLogin:         {"login", kindRequest},
	OpLogout:        {"logout", kindRequest},
	OpProfileGet:    {"profile.get", kindRequest},
	OpProfileUpdate: {"profile.update", kindRequest},
	OpUserSearch:    {"user.search", kindRequest},
	OpFriendRequest: {"friend.request", kindRequest},
	OpFriendRespond: {"friend.respond", kindRequest},
	OpFriendRemove:  {"friend.remove", kindRequest},
	OpFriendList:    {"friend.list", kindRequest},
	OpFriendPending: {"friend.pending", kindRequest},
	OpMsgSend:       {"msg.send", kindRequest},
	OpMsgSync:       {"msg.sync", kindRequest},
	OpMsgAck:        {"msg.ack", kindRequest},
	OpMsgRead:       {"msg.read", kindRequest},
	OpConvList:      {"conv.list", kindRequest},
	OpGroupCreate:   {"group.create", kindRequest},
	OpGroupJoin:     {"group.join", kindRequest},
	OpGroupLeave:    {"group.leave", kindRequest},
	OpGroupKick:     {"group.kick", kindRequest},
	OpGroupMembers:  {"group.members", kindRequest},
	OpGroupList:     {"group.list", kindRequest},
	OpGroupDismiss:  {"group.dismiss", kindRequest},
	OpFileOffer:     {"file.offer", kindRequest},
	OpFileFetch:     {"file.fetch", kindRequest},
	OpFileUpload:    {"file.upload", kindRequest | kindFilePort},
	OpFileDownload:  {"file.download", kindRequest | kindFilePort},
	OpRoomCreate:    {"room.create", kindRequest},
	OpRoomJoin:      {"room.join", kindRequest},
	OpRoomLeave:     {"room.leave", kindRequest},
	OpRoomSay:       {"room.say", kindRequest},
	OpRoomMedia:     {"room.media", kindRequest | kindBinary | kindNoReply},

	OpKicked:          {"kicked", kindPush},
	OpPresence:        {"presence", kindPush},
	OpProfileChanged:  {"profile.changed", kindPush},
	OpFriendRequested: {"friend.requested", kindPush},
	OpFriendResponded: {"friend.responded", kindPush},
	OpFriendRemoved:   {"friend.removed", kindPush},
	OpMsgPush:         {"msg", kindPush},
	OpReadReceipt:     {"msg.read_receipt", kindPush},
	OpGroupEvent:      {"group.event", kindPush},
	OpFileOffered:     {"file.offered", kindPush},
	OpFileReady:       {"file.ready", kindPush},
	OpRoomEvent:       {"room.event", kindPush},
	OpRoomSaid:        {"room.said", kindPush},
	OpRoomMediaPush:   {"room.media", kindPush | kindBinary},
}

// String returns the contract's name of the op ("msg.send", "msg" for the
// message push), or "op(0x....)" for an unknown op. Note that room.media has
// the same name as a request (0x0074) and as a push (0x1052).
func (o Op) String() string {
	if info, ok := opTable[o]; ok {
		return info.name
	}
	return "op(0x" + strconv.FormatUint(uint64(o)|0x10000, 16)[1:] + ")"
}

// Known reports whether o is any op of the contract.
func (o Op) Known() bool {
	_, ok := opTable[o]
	return ok
}

// IsRequest reports whether o is a client request op on either port.
func (o Op) IsRequest() bool { return opTable[o].flags&kindRequest != 0 }

// IsPush reports whether o is a server push op.
func (o Op) IsPush() bool { return opTable[o].flags&kindPush != 0 }

// IsChatRequest reports whether a client may send o on the chat port. Pushes,
// file-port ops and unknown ops are not: the server answers them with
// UNSUPPORTED_OP.
func (o Op) IsChatRequest() bool {
	f := opTable[o].flags
	return f&kindRequest != 0 && f&kindFilePort == 0
}

// IsFileRequest reports whether o is one of the file-port handshake ops.
func (o Op) IsFileRequest() bool { return opTable[o].flags&kindFilePort != 0 }

// IsBinary reports whether frames of op o carry a binary body instead of JSON.
func (o Op) IsBinary() bool { return opTable[o].flags&kindBinary != 0 }

// HasReply reports whether a request of op o is answered (all but room.media).
func (o Op) HasReply() bool {
	f := opTable[o].flags
	return f&kindRequest != 0 && f&kindNoReply == 0
}

// NeedsAuth reports whether request op o needs a logged-in session: every
// chat request except ping, register and login.
func (o Op) NeedsAuth() bool {
	switch o {
	case OpPing, OpRegister, OpLogin:
		return false
	}
	return o.IsChatRequest()
}

// Ops returns every op of the contract, requests first, in numeric order.
func Ops() []Op {
	out := make([]Op, 0, len(opTable))
	for o := range opTable {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}
