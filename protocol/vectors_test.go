package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the encoder")

const vectorsPath = "testdata/vectors.json"

// vector is one golden frame: its hex, its header and its decoded body.
// For JSON ops Body is the body itself (key order as our encoder writes
// it); for the binary room.media ops it is an object of the decoded fields.
type vector struct {
	Name   string          `json:"name"`
	Kind   string          `json:"kind"` // request, reply or push
	Op     uint16          `json:"op"`
	OpName string          `json:"op_name"`
	ReqID  uint32          `json:"req_id"`
	Hex    string          `json:"hex"`
	Body   json.RawMessage `json:"body"`
}

// mediaFields is the decoded form of a binary room.media body.
type mediaFields struct {
	RoomID     int64  `json:"room_id"`
	From       int64  `json:"from,omitempty"`
	PayloadHex string `json:"payload_hex"`
}

type vectorCase struct {
	name  string
	kind  string
	op    Op
	reqID uint32
	body  any // a JSON body, or mediaFields for room.media
}

// vectorCases is the story the vectors tell: alice registers and logs in,
// sends bob a message, bob gets it and acks it, plus errors, rooms and the
// file-port handshake.
func vectorCases() []vectorCase {
	s := samples()
	loginResp := &LoginResp{Status: OK(), UserID: 1001, Token: "tok_3q2+7w==", Profile: alice,
		Friends: []Friend{{Profile: bob, Online: true}}, Groups: []Group{}, Convs: []ConvInfo{}}
	bobMsg := &MsgPush{Message: msg1}
	loginResp11 := *loginResp
	loginResp11.Server = &ServerInfo{Version: "v1.1.0", Protocol: ProtocolVersion, Features: []string{FeatureRecall, FeatureTyping, FeatureSearch}}
	muteUntil := int64(1763773200000)
	grpNotice := grp
	grpNotice.Notice = "standup at 10"
	room9 := Room{RoomID: 9, Name: "standup", Owner: 1001, MemberCount: 501}
	return []vectorCase{
		{"ping", "request", OpPing, 1, &PingReq{}},
		{"ping reply", "reply", OpPing, 1, s[OpPing].reply},
		{"register", "request", OpRegister, 1, &RegisterReq{Username: "alice", Password: "correct horse", Nickname: "Alice"}},
		{"register reply", "reply", OpRegister, 1, &RegisterResp{Status: OK(), UserID: 1001}},
		{"register taken", "reply", OpRegister, 1, NewError(CodeUsernameTaken, "username taken")},
		{"register bad username", "reply", OpRegister, 1, BadRequest("username", "must be 3 to 32 characters")},
		{"login with password", "request", OpLogin, 2, &LoginReq{Username: "alice", Password: "correct horse"}},
		{"login with token", "request", OpLogin, 2, &LoginReq{Username: "alice", Token: "tok_3q2+7w==", Device: "laptop"}},
		{"login reply", "reply", OpLogin, 2, loginResp},
		{"login bad credentials", "reply", OpLogin, 2, NewError(CodeBadCredentials, "wrong username or password")},
		{"login rate limited", "reply", OpLogin, 2, &Error{Code: CodeRateLimited, Message: "too many failed logins", RetryAfterMs: 42000}},
		{"unauthenticated", "reply", OpMsgSend, 3, Unauthenticated()},
		{"unsupported op", "reply", 0x0099, 4, UnsupportedOp(0x0099)},
		{"push op sent by a client", "reply", OpMsgPush, 5, UnsupportedOp(OpMsgPush)},
		{"msg.send", "request", OpMsgSend, 6, s[OpMsgSend].req},
		{"msg.send reply", "reply", OpMsgSend, 6, s[OpMsgSend].reply},
		{"msg.send missing field", "reply", OpMsgSend, 7, BadRequest("client_msg_id", "required")},
		{"msg.send too large", "reply", OpMsgSend, 8, TooLarge("body", 16<<10)},
		{"msg.send to a group", "request", OpMsgSend, 9, &MsgSendReq{ToGroup: 77, Body: "hi all", ClientMsgID: "c-0002"}},
		{"msg.send not a member", "reply", OpMsgSend, 9, NewError(CodeForbidden, "not a member of the group")},
		{"msg push", "push", OpMsgPush, 0, bobMsg},
		{"msg.ack", "request", OpMsgAck, 10, s[OpMsgAck].req},
		{"msg.ack reply", "reply", OpMsgAck, 10, &Status{Code: CodeOK}},
		{"msg.read", "request", OpMsgRead, 11, s[OpMsgRead].req},
		{"msg.read_receipt push", "push", OpReadReceipt, 0, s[OpReadReceipt].push},
		{"msg.sync", "request", OpMsgSync, 12, s[OpMsgSync].req},
		{"msg.sync reply", "reply", OpMsgSync, 12, s[OpMsgSync].reply},
		{"conv.list reply", "reply", OpConvList, 13, s[OpConvList].reply},
		{"presence push", "push", OpPresence, 0, s[OpPresence].push},
		{"kicked push", "push", OpKicked, 0, s[OpKicked].push},
		{"friend.request", "request", OpFriendRequest, 14, s[OpFriendRequest].req},
		{"friend.requested push", "push", OpFriendRequested, 0, s[OpFriendRequested].push},
		{"friend.respond", "request", OpFriendRespond, 15, s[OpFriendRespond].req},
		{"friend.responded push", "push", OpFriendResponded, 0, s[OpFriendResponded].push},
		{"group.create", "request", OpGroupCreate, 16, s[OpGroupCreate].req},
		{"group.create reply", "reply", OpGroupCreate, 16, s[OpGroupCreate].reply},
		{"group.event push", "push", OpGroupEvent, 0, s[OpGroupEvent].push},
		{"room.create", "request", OpRoomCreate, 17, s[OpRoomCreate].req},
		{"room.create reply", "reply", OpRoomCreate, 17, s[OpRoomCreate].reply},
		{"room.said push", "push", OpRoomSaid, 0, s[OpRoomSaid].push},
		{"room.media", "request", OpRoomMedia, 18, mediaFields{RoomID: 9, PayloadHex: "00010203fffe"}},
		{"room.media push", "push", OpRoomMediaPush, 0, mediaFields{RoomID: 9, From: 1001, PayloadHex: "00010203fffe"}},
		{"file.offer", "request", OpFileOffer, 19, s[OpFileOffer].req},
		{"file.offer reply", "reply", OpFileOffer, 19, s[OpFileOffer].reply},
		{"file.upload (file port)", "request", OpFileUpload, 1, &FileUploadReq{UploadToken: "up.31.sig", Offset: 0}},
		{"file.upload reply (file port)", "reply", OpFileUpload, 1, &FileUploadResp{Status: OK(), Offset: 0}},
		{"file.upload resume reply (file port)", "reply", OpFileUpload, 1, s[OpFileUpload].reply},
		{"file.upload done (file port)", "reply", OpFileUpload, 1, &Status{Code: CodeOK}},
		{"file.upload checksum mismatch (file port)", "reply", OpFileUpload, 1, BadRequest("sha256", "checksum mismatch")},
		{"file.offered push", "push", OpFileOffered, 0, s[OpFileOffered].push},
		{"file.ready push", "push", OpFileReady, 0, s[OpFileReady].push},
		{"file.fetch reply", "reply", OpFileFetch, 20, s[OpFileFetch].reply},
		{"file.download (file port)", "request", OpFileDownload, 1, s[OpFileDownload].req},
		{"file.download reply (file port)", "reply", OpFileDownload, 1, s[OpFileDownload].reply},

		// Protocol 1.1 (sections 12-16).
		{"login reply 1.1", "reply", OpLogin, 2, &loginResp11},
		{"account.password", "request", OpAccountPassword, 30, s[OpAccountPassword].req},
		{"account.password reply", "reply", OpAccountPassword, 30, s[OpAccountPassword].reply},
		{"account.password wrong", "reply", OpAccountPassword, 30, NewError(CodeBadCredentials, "wrong password")},
		{"account.sessions", "request", OpAccountSessions, 31, s[OpAccountSessions].req},
		{"account.sessions reply", "reply", OpAccountSessions, 31, s[OpAccountSessions].reply},
		{"account.revoke", "request", OpAccountRevoke, 32, s[OpAccountRevoke].req},
		{"account.revoke self", "reply", OpAccountRevoke, 32, BadRequest("device", "this is the calling device: use logout")},
		{"account.delete", "request", OpAccountDelete, 33, s[OpAccountDelete].req},
		{"kicked password changed", "push", OpKicked, 0, &KickedPush{Reason: KickReasonPasswordChanged, Addr: "192.0.2.7:50412"}},
		{"msg.send with mentions and reply", "request", OpMsgSend, 34, &MsgSendReq{ToGroup: 77, Body: "@鲍勃 你好", ClientMsgID: "c-0003", Mentions: []int64{1002}, ReplyTo: 9}},
		{"msg.send mention_all", "request", OpMsgSend, 35, &MsgSendReq{ToGroup: 77, Body: "all hands", ClientMsgID: "c-0004", MentionAll: true}},
		{"msg.recall", "request", OpMsgRecall, 36, s[OpMsgRecall].req},
		{"msg.recall reply", "reply", OpMsgRecall, 36, s[OpMsgRecall].reply},
		{"msg.recall already recalled", "reply", OpMsgRecall, 36, &Error{Code: CodeAlreadyExists, Message: "already recalled", Seq: 10}},
		{"msg push recall", "push", OpMsgPush, 0, &MsgPush{Message: Message{MsgID: 5004, Conv: "g:77", Seq: 10, From: 1002, Ts: 1763769603000, Type: MsgTypeRecall, Body: "9", ClientMsgID: ""}}},
		{"msg.typing", "request", OpMsgTyping, 37, s[OpMsgTyping].req},
		{"typing push", "push", OpTyping, 0, s[OpTyping].push},
		{"msg.search", "request", OpMsgSearch, 38, s[OpMsgSearch].req},
		{"msg.search reply", "reply", OpMsgSearch, 38, s[OpMsgSearch].reply},
		{"conv.list reply with mention", "reply", OpConvList, 39, &ConvListResp{Status: OK(), Convs: []ConvInfo{{Conv: "g:77", LastSeq: 10, AckSeq: 10, ReadSeq: 8, Last: &msg3, MentionSeq: 10}}}},
		{"group.update", "request", OpGroupUpdate, 40, s[OpGroupUpdate].req},
		{"group.set_role", "request", OpGroupSetRole, 41, s[OpGroupSetRole].req},
		{"group.mute", "request", OpGroupMute, 42, s[OpGroupMute].req},
		{"group.mute admin by admin", "reply", OpGroupMute, 42, NewError(CodeForbidden, "an admin cannot mute the owner or another admin")},
		{"group.transfer", "request", OpGroupTransfer, 43, s[OpGroupTransfer].req},
		{"group.members reply with roles", "reply", OpGroupMembers, 44, s[OpGroupMembers].reply},
		{"group.event muted", "push", OpGroupEvent, 0, &GroupEventPush{GroupID: 77, Kind: GroupMuted, UserID: 1003, Until: &muteUntil}},
		{"group.event updated", "push", OpGroupEvent, 0, &GroupEventPush{GroupID: 77, Kind: GroupUpdated, UserID: 1001, Group: &grpNotice}},
		{"room.create reply 1.1", "reply", OpRoomCreate, 45, &RoomCreateResp{Status: OK(), RoomID: 9, Room: &room9}},
		{"room.join reply 1.1", "reply", OpRoomJoin, 46, &RoomJoinResp{Status: OK(), Room: &room9, Members: []Profile{alice, bob}, More: true}},
		{"room.members", "request", OpRoomMembers, 47, s[OpRoomMembers].req},
		{"room.members reply", "reply", OpRoomMembers, 47, s[OpRoomMembers].reply},
		{"room.event count", "push", OpRoomEvent, 0, &RoomEventPush{RoomID: 9, Kind: RoomCount, MemberCount: 501}},
	}
}

// buildVectors encodes every case with the package's encoder.
func buildVectors(t testing.TB) []vector {
	var out []vector
	for _, c := range vectorCases() {
		var frame []byte
		var body []byte
		var err error
		if m, ok := c.body.(mediaFields); ok {
			payload, _ := hex.DecodeString(m.PayloadHex)
			if c.op == OpRoomMedia {
				frame = AppendRoomMediaFrame(nil, c.reqID, m.RoomID, payload)
			} else {
				frame = AppendRoomMediaPushFrame(nil, m.RoomID, m.From, payload)
			}
			body, err = json.Marshal(m)
		} else {
			frame, err = AppendJSONFrame(nil, c.op, c.reqID, c.body)
			body = frame[HeaderSize:]
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out = append(out, vector{Name: c.name, Kind: c.kind, Op: uint16(c.op), OpName: c.op.String(),
			ReqID: c.reqID, Hex: hex.EncodeToString(frame), Body: body})
	}
	return out
}

func marshalVectors(t testing.TB, vs []vector) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestVectors(t *testing.T) {
	want := marshalVectors(t, buildVectors(t))
	if *update {
		if err := os.WriteFile(vectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestVectors -update)", err)
	}
	// Our encoder produces exactly the committed hex and bodies.
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the encoder's output; review and run go test -run TestVectors -update", vectorsPath)
	}
	var vs []vector
	if err := json.Unmarshal(got, &vs); err != nil {
		t.Fatal(err)
	}
	// Independently of the encoder: every hex decodes to its stated meaning.
	for _, v := range vs {
		frame, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		h, body, n, err := Decode(frame, DefaultMaxFrameBody)
		if err != nil || n != len(frame) || uint16(h.Op) != v.Op || h.ReqID != v.ReqID || h.Op.String() != v.OpName {
			t.Fatalf("%s: header %+v n=%d err=%v", v.Name, h, n, err)
		}
		if (v.Kind == "push") != (v.ReqID == 0) {
			t.Errorf("%s: push iff req_id 0", v.Name)
		}
		if h.Op.IsBinary() {
			var m mediaFields
			if err := json.Unmarshal(v.Body, &m); err != nil {
				t.Fatal(err)
			}
			var room, from int64
			var payload []byte
			if h.Op == OpRoomMedia {
				room, payload, err = ParseRoomMedia(body)
			} else {
				room, from, payload, err = ParseRoomMediaPush(body)
			}
			if err != nil || room != m.RoomID || from != m.From || hex.EncodeToString(payload) != m.PayloadHex {
				t.Errorf("%s: %d %d %x %v", v.Name, room, from, payload, err)
			}
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v.Body); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(compact.Bytes(), body) {
			t.Errorf("%s: body %s, vector says %s", v.Name, body, compact.Bytes())
		}
		// The body decodes into its Go type and re-encodes byte for byte.
		var typed Body
		switch {
		case v.Kind == "request":
			typed = NewRequest(h.Op)
		case v.Kind == "push":
			typed = NewPush(h.Op)
		case string(body) == `{"code":"OK"}`:
			typed = &Status{} // bare replies, and the final file.upload answer
		case bytes.HasPrefix(body, []byte(`{"code":"OK"`)):
			typed = NewReply(h.Op)
		default:
			typed = &Error{}
		}
		if err := DecodeBody(body, typed); err != nil {
			t.Errorf("%s: %v", v.Name, err)
			continue
		}
		again, err := Marshal(typed)
		if err != nil || !bytes.Equal(again, body) {
			t.Errorf("%s: re-encoded %s", v.Name, again)
		}
	}
}

// loadVectorsForSeeds returns the frames of the golden vectors to seed the
// fuzzers (none if the file is missing).
func loadVectorsForSeeds(tb testing.TB) [][]byte {
	b, err := os.ReadFile(filepath.FromSlash(vectorsPath))
	if err != nil {
		return nil
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, v := range vs {
		if f, err := hex.DecodeString(v.Hex); err == nil {
			out = append(out, f)
		}
	}
	return out
}
