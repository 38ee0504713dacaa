package protocol

import (
	"slices"
	"strconv"
)

// Op is the 16-bit operation code carried in every frame header.
type Op uint16

// Request ops: sent by the client; the reply carries the same op.
const (
	OpPing     Op = 0x0001
	OpRegister Op = 0x0010
	OpLogin    Op = 0x0011
	OpLogout   Op = 0x0012
	// Account ops of protocol 1.1 (section 13).
	OpAccountPassword Op = 0x0013
	OpAccountSessions Op = 0x0014
	OpAccountRevoke   Op = 0x0015
	OpAccountDelete   Op = 0x0016
	OpProfileGet      Op = 0x0020
	OpProfileUpdate   Op = 0x0021
	OpUserSearch      Op = 0x0022
	OpFriendRequest   Op = 0x0030
	OpFriendRespond   Op = 0x0031
	OpFriendRemove    Op = 0x0032
	OpFriendList      Op = 0x0033
	OpFriendPending   Op = 0x0034
	OpMsgSend         Op = 0x0040
	OpMsgSync         Op = 0x0041
	OpMsgAck          Op = 0x0042
	OpMsgRead         Op = 0x0043
	OpConvList        Op = 0x0044
	// Message ops of protocol 1.1 (section 14).
	OpMsgRecall    Op = 0x0045
	OpMsgTyping    Op = 0x0046
	OpMsgSearch    Op = 0x0047
	OpGroupCreate  Op = 0x0050
	OpGroupJoin    Op = 0x0051
	OpGroupLeave   Op = 0x0052
	OpGroupKick    Op = 0x0053
	OpGroupMembers Op = 0x0054
	OpGroupList    Op = 0x0055
	OpGroupDismiss Op = 0x0056
	// Group administration ops of protocol 1.1 (section 15).
	OpGroupUpdate   Op = 0x0057
	OpGroupSetRole  Op = 0x0058
	OpGroupMute     Op = 0x0059
	OpGroupTransfer Op = 0x005A
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
	// OpRoomMembers pages through a room's members (protocol 1.1, section 16).
	OpRoomMembers Op = 0x0075
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
	// OpTyping tells a conversation's members that someone is typing (1.1).
	OpTyping      Op = 0x1022
	OpGroupEvent  Op = 0x1030
	OpFileOffered Op = 0x1040
	OpFileReady   Op = 0x1041
	OpRoomEvent   Op = 0x1050
	OpRoomSaid    Op = 0x1051
	// OpRoomMediaPush has a binary body.
	OpRoomMediaPush Op = 0x1052
)

// String returns the contract's name of the op ("msg.send", "msg" for the
// message push), or "op(0x....)" for an unknown op. Note that room.media has
// the same name as a request (0x0074) and as a push (0x1052).
func (o Op) String() string {
	if info, ok := opTable[o]; ok {
		return info.Name
	}
	return "op(0x" + strconv.FormatUint(uint64(o)|0x10000, 16)[1:] + ")"
}

// kind returns the op's kind flags (0 for an unknown op).
func (o Op) kind() uint8 {
	if info := opTable[o]; info != nil {
		return info.kind
	}
	return 0
}

// Known reports whether o is any op of the contract.
func (o Op) Known() bool {
	_, ok := opTable[o]
	return ok
}

// IsRequest reports whether o is a client request op on either port.
func (o Op) IsRequest() bool { return o.kind()&kindRequest != 0 }

// IsPush reports whether o is a server push op.
func (o Op) IsPush() bool { return o.kind()&kindPush != 0 }

// IsChatRequest reports whether a client may send o on the chat port. Pushes,
// file-port ops and unknown ops are not: the server answers them with
// UNSUPPORTED_OP.
func (o Op) IsChatRequest() bool {
	f := o.kind()
	return f&kindRequest != 0 && f&kindFilePort == 0
}

// IsFileRequest reports whether o is one of the file-port handshake ops.
func (o Op) IsFileRequest() bool { return o.kind()&kindFilePort != 0 }

// IsBinary reports whether frames of op o carry a binary body instead of JSON.
func (o Op) IsBinary() bool { return o.kind()&kindBinary != 0 }

// HasReply reports whether a request of op o is answered (all but room.media).
func (o Op) HasReply() bool {
	f := o.kind()
	return f&kindRequest != 0 && f&kindNoReply == 0
}

// NeedsAuth reports whether request op o needs a logged-in session: every
// chat request except ping, register and login (OpInfo.NeedsLogin).
func (o Op) NeedsAuth() bool {
	info, ok := opTable[o]
	return ok && info.NeedsLogin
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
