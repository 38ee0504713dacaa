package protocol

import (
	"fmt"
	"reflect"

	"github.com/bytedance/sonic"
)

// NewRequest returns a new, empty request body for a JSON request op, ready
// for DecodeRequest, or nil for room.media (binary) and unknown ops.
func NewRequest(op Op) Request {
	switch op {
	case OpPing:
		return &PingReq{}
	case OpRegister:
		return &RegisterReq{}
	case OpLogin:
		return &LoginReq{}
	case OpLogout:
		return &LogoutReq{}
	case OpProfileGet:
		return &ProfileGetReq{}
	case OpProfileUpdate:
		return &ProfileUpdateReq{}
	case OpUserSearch:
		return &UserSearchReq{}
	case OpFriendRequest:
		return &FriendRequestReq{}
	case OpFriendRespond:
		return &FriendRespondReq{}
	case OpFriendRemove:
		return &FriendRemoveReq{}
	case OpFriendList:
		return &FriendListReq{}
	case OpFriendPending:
		return &FriendPendingReq{}
	case OpMsgSend:
		return &MsgSendReq{}
	case OpMsgSync:
		return &MsgSyncReq{}
	case OpMsgAck:
		return &MsgAckReq{}
	case OpMsgRead:
		return &MsgReadReq{}
	case OpConvList:
		return &ConvListReq{}
	case OpGroupCreate:
		return &GroupCreateReq{}
	case OpGroupJoin, OpGroupLeave, OpGroupMembers, OpGroupDismiss:
		return &GroupIDReq{}
	case OpGroupKick:
		return &GroupKickReq{}
	case OpGroupList:
		return &GroupListReq{}
	case OpFileOffer:
		return &FileOfferReq{}
	case OpFileFetch:
		return &FileFetchReq{}
	case OpFileUpload:
		return &FileUploadReq{}
	case OpFileDownload:
		return &FileDownloadReq{}
	case OpRoomCreate:
		return &RoomCreateReq{}
	case OpRoomJoin, OpRoomLeave:
		return &RoomIDReq{}
	case OpRoomSay:
		return &RoomSayReq{}
	}
	return nil
}

// NewReply returns a new, empty success-reply body for a request op, or nil
// for ops without a JSON reply. Ops whose reply is only {code} get a
// *Status. For file.upload it is the first answer (FileUploadResp); the
// final one is a *Status.
func NewReply(op Op) Body {
	switch op {
	case OpPing:
		return &PingResp{}
	case OpRegister:
		return &RegisterResp{}
	case OpLogin:
		return &LoginResp{}
	case OpProfileGet:
		return &ProfileGetResp{}
	case OpProfileUpdate:
		return &ProfileUpdateResp{}
	case OpUserSearch:
		return &UserSearchResp{}
	case OpFriendRequest:
		return &FriendRequestResp{}
	case OpFriendList:
		return &FriendListResp{}
	case OpFriendPending:
		return &FriendPendingResp{}
	case OpMsgSend:
		return &MsgSendResp{}
	case OpMsgSync:
		return &MsgSyncResp{}
	case OpConvList:
		return &ConvListResp{}
	case OpGroupCreate, OpGroupJoin:
		return &GroupResp{}
	case OpGroupMembers:
		return &GroupMembersResp{}
	case OpGroupList:
		return &GroupListResp{}
	case OpFileOffer:
		return &FileOfferResp{}
	case OpFileFetch:
		return &FileFetchResp{}
	case OpFileUpload:
		return &FileUploadResp{}
	case OpFileDownload:
		return &FileDownloadResp{}
	case OpRoomCreate:
		return &RoomCreateResp{}
	case OpRoomJoin:
		return &RoomJoinResp{}
	case OpLogout, OpFriendRespond, OpFriendRemove, OpMsgAck, OpMsgRead,
		OpGroupLeave, OpGroupKick, OpGroupDismiss, OpRoomLeave, OpRoomSay:
		return &Status{}
	}
	return nil
}

// NewPush returns a new, empty body for a JSON push op, or nil for the
// binary room.media push and unknown ops.
func NewPush(op Op) Body {
	switch op {
	case OpKicked:
		return &KickedPush{}
	case OpPresence:
		return &PresencePush{}
	case OpProfileChanged:
		return &ProfileChangedPush{}
	case OpFriendRequested:
		return &FriendRequestedPush{}
	case OpFriendResponded:
		return &FriendRespondedPush{}
	case OpFriendRemoved:
		return &FriendRemovedPush{}
	case OpMsgPush:
		return &MsgPush{}
	case OpReadReceipt:
		return &ReadReceiptPush{}
	case OpGroupEvent:
		return &GroupEventPush{}
	case OpFileOffered:
		return &FileOfferedPush{}
	case OpFileReady:
		return &FileReadyPush{}
	case OpRoomEvent:
		return &RoomEventPush{}
	case OpRoomSaid:
		return &RoomSaidPush{}
	}
	return nil
}

// Pretouch compiles the JSON encoder and decoder of every body type ahead of
// time, so that the first request of each kind after start-up does not pay
// for sonic's just-in-time compilation. Servers call it once at start-up;
// it is optional.
func Pretouch() error {
	seen := map[reflect.Type]bool{}
	var types []reflect.Type
	add := func(v any) {
		if v == nil || reflect.ValueOf(v).IsNil() {
			return
		}
		t := reflect.TypeOf(v).Elem()
		if !seen[t] {
			seen[t] = true
			types = append(types, t)
		}
	}
	for _, op := range Ops() {
		if r := NewRequest(op); r != nil {
			add(r)
		}
		if r := NewReply(op); r != nil {
			add(r)
		}
		if p := NewPush(op); p != nil {
			add(p)
		}
	}
	add(&Error{})
	add(&DiscoverReply{})
	if err := sonic.PretouchMany(types); err != nil {
		return fmt.Errorf("protocol: pretouch: %w", err)
	}
	return nil
}
