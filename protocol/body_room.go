package protocol

import (
	"encoding/binary"
	"errors"
)

// Bodies of section 10 (rooms), JSON and binary.

// Room event kinds.
const (
	RoomJoined = "joined"
	RoomLeft   = "left"
	// RoomCount (1.1) replaces joined/left in rooms above the announce
	// threshold: MemberCount carries the new count.
	RoomCount = "count"
)

// Room describes a meeting room (1.1); Owner is the creator's user_id.
type Room struct {
	RoomID      int64  `json:"room_id"`
	Name        string `json:"name"`
	Owner       int64  `json:"owner"`
	MemberCount int    `json:"member_count"`
}

var roomFields = []string{"room_id", "name", "owner", "member_count"}

// RequiredFields implements Body.
func (*Room) RequiredFields() []string { return roomFields }

// RoomCreateReq is the body of room.create; Name is optional.
type RoomCreateReq struct {
	Name string `json:"name,omitempty"`
}

// RequiredFields implements Body.
func (*RoomCreateReq) RequiredFields() []string { return noFields }

// Validate implements Request.
func (r *RoomCreateReq) Validate(l *Limits) error { return l.CheckRoomName(r.Name) }

// RoomCreateResp is the reply to room.create.
type RoomCreateResp struct {
	Status
	RoomID int64 `json:"room_id"`
	Room   *Room `json:"room,omitempty"` // 1.1
}

var roomIDRespFields = []string{"code", "room_id"}

// RequiredFields implements Body.
func (r *RoomCreateResp) RequiredFields() []string { return r.need(roomIDRespFields) }

// RoomIDReq is the body of room.join and room.leave: {room_id}.
type RoomIDReq struct {
	RoomID int64 `json:"room_id"`
}

var roomIDFields = []string{"room_id"}

// RequiredFields implements Body.
func (*RoomIDReq) RequiredFields() []string { return roomIDFields }

// Validate implements Request.
func (r *RoomIDReq) Validate(*Limits) error { return CheckID("room_id", r.RoomID) }

// RoomJoinResp is the reply to room.join: the members, joiner included,
// by user_id ascending and at most Limits.RoomJoinMembers of them; More is
// true when the room has more (fetch them with room.members).
type RoomJoinResp struct {
	Status
	Room    *Room     `json:"room,omitempty"` // 1.1
	Members []Profile `json:"members"`
	More    bool      `json:"more,omitempty"` // 1.1
}

// RequiredFields implements Body.
func (r *RoomJoinResp) RequiredFields() []string { return r.need(membersRespFields) }

// Normalize implements Normalizer.
func (r *RoomJoinResp) Normalize() {
	if r.Members == nil {
		r.Members = []Profile{}
	}
}

// RoomSayReq is the body of room.say (reply: bare Status).
type RoomSayReq struct {
	RoomID int64  `json:"room_id"`
	Body   string `json:"body"`
}

var roomSayFields = []string{"room_id", "body"}

// RequiredFields implements Body.
func (*RoomSayReq) RequiredFields() []string { return roomSayFields }

// Validate implements Request: the body follows the text message rules.
func (r *RoomSayReq) Validate(l *Limits) error {
	if err := CheckID("room_id", r.RoomID); err != nil {
		return err
	}
	return l.CheckText("body", r.Body)
}

// RoomEventPush is the body of the room.event push; Kind is RoomJoined or
// RoomLeft with UserID, or (1.1) RoomCount with MemberCount.
type RoomEventPush struct {
	RoomID      int64  `json:"room_id"`
	Kind        string `json:"kind"`
	UserID      int64  `json:"user_id,omitempty"`
	MemberCount int    `json:"member_count,omitempty"`
}

var roomEventFields = []string{"room_id", "kind"}

// RequiredFields implements Body.
func (*RoomEventPush) RequiredFields() []string { return roomEventFields }

// RoomSaidPush is the body of the room.said push; From is a user_id.
type RoomSaidPush struct {
	RoomID int64  `json:"room_id"`
	From   int64  `json:"from"`
	Body   string `json:"body"`
	Ts     int64  `json:"ts"`
}

var roomSaidFields = []string{"room_id", "from", "body", "ts"}

// RequiredFields implements Body.
func (*RoomSaidPush) RequiredFields() []string { return roomSaidFields }

// Sizes of the fixed parts of the binary room.media bodies.
const (
	RoomMediaHeader     = 8  // room_id
	RoomMediaPushHeader = 16 // room_id, sender user_id
)

// ErrMediaBody reports a room.media body too short for its ids or holding an
// id that is zero or not below 2^53.
var ErrMediaBody = errors.New("protocol: malformed room.media body")

// AppendRoomMedia appends the body of a room.media request: room_id (uint64
// big-endian) then the payload.
func AppendRoomMedia(dst []byte, roomID int64, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(roomID))
	return append(dst, payload...)
}

// ParseRoomMedia splits a room.media request body. The payload aliases body.
// The payload size limit is checked separately (Limits.CheckMedia).
func ParseRoomMedia(body []byte) (roomID int64, payload []byte, err error) {
	if len(body) < RoomMediaHeader {
		return 0, nil, ErrMediaBody
	}
	roomID, ok := binaryID(body)
	if !ok {
		return 0, nil, ErrMediaBody
	}
	return roomID, body[RoomMediaHeader:], nil
}

// AppendRoomMediaPush appends the body of a room.media push: room_id, the
// sender's user_id (both uint64 big-endian), then the payload.
func AppendRoomMediaPush(dst []byte, roomID, from int64, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(roomID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(from))
	return append(dst, payload...)
}

// ParseRoomMediaPush splits a room.media push body. The payload aliases body.
func ParseRoomMediaPush(body []byte) (roomID, from int64, payload []byte, err error) {
	if len(body) < RoomMediaPushHeader {
		return 0, 0, nil, ErrMediaBody
	}
	roomID, ok1 := binaryID(body)
	from, ok2 := binaryID(body[8:])
	if !ok1 || !ok2 {
		return 0, 0, nil, ErrMediaBody
	}
	return roomID, from, body[RoomMediaPushHeader:], nil
}

// AppendRoomMediaFrame appends a complete room.media request frame.
func AppendRoomMediaFrame(dst []byte, reqID uint32, roomID int64, payload []byte) []byte {
	dst = AppendHeader(dst, OpRoomMedia, reqID, RoomMediaHeader+len(payload))
	return AppendRoomMedia(dst, roomID, payload)
}

// AppendRoomMediaPushFrame appends a complete room.media push frame
// (req_id 0).
func AppendRoomMediaPushFrame(dst []byte, roomID, from int64, payload []byte) []byte {
	dst = AppendHeader(dst, OpRoomMediaPush, 0, RoomMediaPushHeader+len(payload))
	return AppendRoomMediaPush(dst, roomID, from, payload)
}

// binaryID reads a uint64 big-endian id and checks 0 < id < 2^53.
func binaryID(b []byte) (int64, bool) {
	v := binary.BigEndian.Uint64(b)
	return int64(v), v > 0 && v < MaxID
}

// RoomMembersReq is the body of room.members (1.1): members with user_id
// above AfterUserID, ascending; Limit 0 means the default (see
// Limits.RoomMembersLimit).
type RoomMembersReq struct {
	RoomID      int64 `json:"room_id"`
	AfterUserID int64 `json:"after_user_id,omitempty"`
	Limit       int   `json:"limit,omitempty"`
}

// RequiredFields implements Body.
func (*RoomMembersReq) RequiredFields() []string { return roomIDFields }

// Validate implements Request.
func (r *RoomMembersReq) Validate(*Limits) error {
	if err := CheckID("room_id", r.RoomID); err != nil {
		return err
	}
	if r.AfterUserID < 0 || r.AfterUserID >= MaxID {
		return BadRequest("after_user_id", "must be a user_id or 0")
	}
	if r.Limit < 0 {
		return BadRequest("limit", "must not be negative")
	}
	return nil
}

// RoomMembersResp is the reply to room.members.
type RoomMembersResp struct {
	Status
	Members []Profile `json:"members"`
	More    bool      `json:"more"`
}

var roomMembersRespFields = []string{"code", "members", "more"}

// RequiredFields implements Body.
func (r *RoomMembersResp) RequiredFields() []string { return r.need(roomMembersRespFields) }

// Normalize implements Normalizer.
func (r *RoomMembersResp) Normalize() {
	if r.Members == nil {
		r.Members = []Profile{}
	}
}
