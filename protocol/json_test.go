package protocol

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestDecodeBodyRejects(t *testing.T) {
	cases := []struct {
		in, msg string
	}{
		{``, "body is not a JSON object"},
		{`   `, "body is not a JSON object"},
		{`[]`, "body is not a JSON object"},
		{`3`, "body is not a JSON object"},
		{`"x"`, "body is not a JSON object"},
		{`null`, "body is not a JSON object"},
		{`true`, "body is not a JSON object"},
		{`{}`, "user_id: required"},
		{`{"user_id":null}`, "user_id: required"},
		{`{"user_id":1,"user_id":null}`, "user_id: required"},
		{`{"userid":1}`, "user_id: required"},
		{`{"user_id":"1"}`, "user_id: wrong type or malformed value"},
		{`{"user_id":1.5}`, "user_id: wrong type or malformed value"},
		{`{"user_id":1.0}`, "user_id: wrong type or malformed value"},
		{`{"user_id":1e3}`, "user_id: wrong type or malformed value"},
		{`{"user_id":true}`, "user_id: wrong type or malformed value"},
		{`{"user_id":{}}`, "user_id: wrong type or malformed value"},
		{`{"user_id":99999999999999999999}`, "user_id: wrong type or malformed value"},
		{`{"user_id":1} x`, "malformed JSON"},
		{`{"user_id":1,}`, "malformed JSON"},
		{`{"user_id":1`, "user_id: wrong type or malformed value"},
		{`{"user_id"`, "malformed JSON"},
		{"{\"user_id\":1,\"x\":\"\xff\"}", "body is not valid UTF-8"},
	}
	for _, c := range cases {
		var r ProfileGetReq
		err := DecodeBody([]byte(c.in), &r)
		e := AsError(err)
		if e == nil || e.Code != CodeBadRequest || !strings.HasPrefix(e.Message, c.msg) {
			t.Errorf("%q: got %v, want BAD_REQUEST %q", c.in, err, c.msg)
		}
	}
}

func TestDecodeBodyAccepts(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{`{"user_id":1}`, 1},
		{` { "user_id" : 7 } `, 7},
		{`{"extra":{"nested":[1,{"user_id":2}]},"user_id":3,"more":"}"}`, 3}, // unknown fields ignored
		{`{"us\u0065r_id":4}`, 4},
		{`{"user_id":null,"user_id":5}`, 5},
	}
	for _, c := range cases {
		var r ProfileGetReq
		if err := DecodeRequest([]byte(c.in), &r, nil); err != nil || r.UserID != c.want {
			t.Errorf("%q: got %+v, %v", c.in, r, err)
		}
	}
	// A required boolean false and a required zero are present, not missing.
	var fr FriendRespondReq
	if err := DecodeRequest([]byte(`{"request_id":3,"accept":false}`), &fr, nil); err != nil || fr.Accept {
		t.Fatalf("accept:false: %+v %v", fr, err)
	}
	var ms MsgSyncReq
	if err := DecodeRequest([]byte(`{"conv":"g:1","after_seq":0}`), &ms, nil); err != nil {
		t.Fatalf("after_seq:0: %v", err)
	}
}

func TestDecodeRequestValidates(t *testing.T) {
	var r MsgSendReq
	err := DecodeRequest([]byte(`{"to_user":2,"to_group":3,"body":"x","client_msg_id":"a"}`), &r, nil)
	if e := AsError(err); e == nil || e.Code != CodeBadRequest || !strings.HasPrefix(e.Message, "to_user:") {
		t.Fatalf("got %v", err)
	}
}

func TestListsEncodeAsEmptyArrays(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{&LoginResp{Status: OK()}, `"friends":[],"groups":[],"convs":[]`},
		{LoginResp{Status: OK()}, `"friends":[],"groups":[],"convs":[]`}, // by value: no Normalize, sonic's option
		{&UserSearchResp{Status: OK()}, `"users":[]`},
		{&FriendListResp{Status: OK()}, `"friends":[]`},
		{&FriendPendingResp{Status: OK()}, `"incoming":[],"outgoing":[]`},
		{&MsgSyncResp{Status: OK()}, `"messages":[],"more":false`},
		{&ConvListResp{Status: OK()}, `"convs":[]`},
		{&GroupMembersResp{Status: OK()}, `"members":[]`},
		{&GroupListResp{Status: OK()}, `"groups":[]`},
		{&RoomJoinResp{Status: OK()}, `"members":[]`},
	}
	for _, c := range cases {
		b, err := Marshal(c.v)
		if err != nil || !bytes.Contains(b, []byte(c.want)) || bytes.Contains(b, []byte("null")) {
			t.Errorf("%T: %s, %v", c.v, b, err)
		}
	}
	// Normalize itself fills every list (this is what protects the
	// encoding/json fallback, which ignores sonic's option).
	r := &FriendPendingResp{}
	r.Normalize()
	if r.Incoming == nil || r.Outgoing == nil {
		t.Fatal("Normalize left a nil list")
	}
}

func TestOptionalFieldsOmitted(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{&ConvInfo{Conv: "g:1", LastSeq: 0}, `{"conv":"g:1","last_seq":0,"ack_seq":0,"read_seq":0,"mention_seq":0}`},
		{&ProfileGetResp{Status: OK(), Profile: Profile{UserID: 1}}, `{"code":"OK","profile":{"user_id":1,"username":"","nickname":"","signature":"","avatar_sha256":""}}`},
		{&MsgSendReq{ToGroup: 3, Body: "b", ClientMsgID: "c"}, `{"to_group":3,"body":"b","client_msg_id":"c"}`},
		{&ProfileUpdateReq{Signature: strp("")}, `{"signature":""}`},
		{&RegisterReq{Username: "abc", Password: "12345678"}, `{"username":"abc","password":"12345678"}`},
		{&LoginReq{Username: "abc", Token: "t"}, `{"username":"abc","token":"t"}`},
		{&FriendRequestReq{UserID: 2}, `{"user_id":2}`},
		{&RoomCreateReq{}, `{}`},
		{&PingReq{}, `{}`},
		{&GroupCreateReq{Name: "g"}, `{"name":"g"}`},
		{&MsgSyncReq{Conv: "g:1"}, `{"conv":"g:1","after_seq":0}`},
		{NewError(CodeNotFound, "no such user"), `{"code":"NOT_FOUND","message":"no such user"}`},
		{RateLimited(1500), `{"code":"RATE_LIMITED","message":"rate limited","retry_after_ms":1500}`},
		{&Status{Code: CodeOK}, `{"code":"OK"}`},
		{&FriendRequestedPush{RequestID: 1, From: Profile{UserID: 2}}, `{"request_id":1,"from":{"user_id":2,"username":"","nickname":"","signature":"","avatar_sha256":""},"note":""}`},
	}
	for _, c := range cases {
		b, err := Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%T:\n got  %s %v\n want %s", c.v, b, err, c.want)
		}
	}
}

func TestNoHTMLEscapingAndUnicode(t *testing.T) {
	b, err := Marshal(&RoomSaidPush{RoomID: 1, From: 2, Body: "<a&b> 你好 \u2028", Ts: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got RoomSaidPush
	if err := DecodeBody(b, &got); err != nil || got.Body != "<a&b> 你好 \u2028" {
		t.Fatalf("%s -> %q %v", b, got.Body, err)
	}
	if !bytes.Contains(b, []byte("<a&b>")) {
		t.Fatalf("HTML was escaped: %s", b)
	}
}

func TestAppendJSONFrameKeepsPrefixOnError(t *testing.T) {
	dst := []byte("keep")
	out, err := AppendJSONFrame(dst, OpPing, 1, make(chan int))
	if err == nil || string(out) != "keep" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestAppendErrorFrame(t *testing.T) {
	f := AppendErrorFrame(nil, OpMsgSend, 9, RateLimited(250))
	h, body, _, err := Decode(f, DefaultMaxFrameBody)
	if err != nil || h != (Header{OpMsgSend, 9}) {
		t.Fatal(h, err)
	}
	var r MsgSendResp
	if err := DecodeBody(body, &r); err != nil {
		t.Fatal(err)
	}
	e := AsError(r.Err())
	if e == nil || e.Code != CodeRateLimited || e.RetryAfterMs != 250 {
		t.Fatalf("got %+v", r.Status)
	}
}

// TestSharedNormalizedValue encodes one normalised value from many
// goroutines; run with -race, it shows encoding does not write to it.
func TestSharedNormalizedValue(t *testing.T) {
	resp := &LoginResp{Status: OK(), UserID: 1}
	resp.Normalize()
	want, _ := Marshal(resp)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b, err := AppendJSONFrame(nil, OpLogin, 1, resp)
				if err != nil || !bytes.Equal(b[HeaderSize:], want) {
					t.Errorf("got %s %v", b, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecodeReply(t *testing.T) {
	var r MsgSendResp
	if err := DecodeReply([]byte(`{"code":"OK","msg_id":1,"conv":"g:1","seq":1,"ts":5}`), &r); err != nil || r.MsgID != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	r = MsgSendResp{}
	err := DecodeReply([]byte(`{"code":"FORBIDDEN","message":"not a member"}`), &r)
	if e := AsError(err); e == nil || e.Code != CodeForbidden || e.Message != "not a member" {
		t.Fatalf("%v", err)
	}
	r = MsgSendResp{}
	err = DecodeReply([]byte(`{"code":"OK","msg_id":1}`), &r)
	if e := AsError(err); e == nil || e.Code != CodeBadRequest || e.Message != "conv: required" {
		t.Fatalf("%v", err)
	}
}

func TestPretouch(t *testing.T) {
	if err := Pretouch(); err != nil {
		t.Fatal(err)
	}
}

// TestDecodedStringsDoNotAliasBuffer: a reactor reuses its read buffer after
// the handler returns, so decoded strings must not point into it.
func TestDecodedStringsDoNotAliasBuffer(t *testing.T) {
	buf := []byte(`{"to_user":2,"body":"hello world","client_msg_id":"abc"}`)
	var r MsgSendReq
	if err := DecodeRequest(buf, &r, nil); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	if r.Body != "hello world" || r.ClientMsgID != "abc" {
		t.Fatalf("decoded strings changed with the buffer: %q %q", r.Body, r.ClientMsgID)
	}
}

func TestAppendErrorFrameNil(t *testing.T) {
	f := AppendErrorFrame(nil, OpPing, 1, nil)
	var e Error
	if err := DecodeBody(f[HeaderSize:], &e); err != nil || e.Code != CodeInternal {
		t.Fatalf("%+v %v", e, err)
	}
}

func TestKeyMatching(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"user_id", "user_id", true}, {"USER_ID", "user_id", true}, {"User_Id", "user_id", true},
		{"user_i", "user_id", false}, {"user-id", "user_id", false}, {"\u212Aind", "kind", false},
		{"[", "{", false}, // differ only in bit 0x20 but are not letters
		{"_", "\x7f", false},
	}
	for _, c := range cases {
		if got := asciiEqualFold(c.a, c.b); got != c.want {
			t.Errorf("%q vs %q: %v", c.a, c.b, got)
		}
	}
}
