package protocol

import (
	"encoding/base64"
	"strings"
	"testing"
)

// wantErr checks err is an *Error with code and a message starting with
// the field name.
func wantErr(t *testing.T, name string, err error, code Code, field string) {
	t.Helper()
	e := AsError(err)
	if e == nil || e.Code != code || !strings.HasPrefix(e.Message, field+":") {
		t.Errorf("%s: got %v, want %s naming %q", name, err, code, field)
	}
}

func TestCheckUsername(t *testing.T) {
	for _, s := range []string{"abc", "A_z_09", strings.Repeat("x", 32), "___"} {
		if err := CheckUsername(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "ab", strings.Repeat("x", 33), "a-b", "a b", "abé", "abc\x00", "ab.c"} {
		wantErr(t, s, CheckUsername(s), CodeBadRequest, "username")
	}
}

func TestLimitChecks(t *testing.T) {
	l := DefaultLimits()
	ok := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok("password 8", l.CheckPassword("12345678"))
	ok("password 128", l.CheckPassword(strings.Repeat("p", 128)))
	wantErr(t, "password 7", l.CheckPassword("1234567"), CodeBadRequest, "password")
	wantErr(t, "password 129", l.CheckPassword(strings.Repeat("p", 129)), CodeBadRequest, "password")
	if e := AsError(l.CheckPassword("secret7")); e != nil && strings.Contains(e.Message, "secret7") {
		t.Error("password echoed in the error")
	}

	ok("nickname 64 runes", l.CheckNickname(strings.Repeat("界", 64)))
	wantErr(t, "nickname 65 runes", l.CheckNickname(strings.Repeat("界", 65)), CodeBadRequest, "nickname")
	wantErr(t, "nickname empty", l.CheckNickname(""), CodeBadRequest, "nickname")
	wantErr(t, "nickname bad utf8", l.CheckNickname("a\xffb"), CodeBadRequest, "nickname")

	ok("signature empty", l.CheckSignature(""))
	ok("signature 256", l.CheckSignature(strings.Repeat("é", 256)))
	wantErr(t, "signature 257", l.CheckSignature(strings.Repeat("é", 257)), CodeBadRequest, "signature")

	ok("group name", l.CheckGroupName("g"))
	wantErr(t, "group name empty", l.CheckGroupName(""), CodeBadRequest, "name")
	wantErr(t, "group name 65", l.CheckGroupName(strings.Repeat("g", 65)), CodeBadRequest, "name")
	ok("room name empty", l.CheckRoomName(""))
	wantErr(t, "room name 65", l.CheckRoomName(strings.Repeat("r", 65)), CodeBadRequest, "name")

	ok("client_msg_id 64", l.CheckClientMsgID(strings.Repeat("c", 64)))
	wantErr(t, "client_msg_id 65", l.CheckClientMsgID(strings.Repeat("c", 65)), CodeBadRequest, "client_msg_id")
	wantErr(t, "client_msg_id empty", l.CheckClientMsgID(""), CodeBadRequest, "client_msg_id")

	ok("device empty", l.CheckDevice(""))
	wantErr(t, "device long", l.CheckDevice(strings.Repeat("d", 65)), CodeBadRequest, "device")
	ok("note", l.CheckNote("hi"))
	wantErr(t, "note long", l.CheckNote(strings.Repeat("n", 257)), CodeBadRequest, "note")
	ok("query", l.CheckQuery("a"))
	wantErr(t, "query empty", l.CheckQuery(""), CodeBadRequest, "query")

	ok("text 16 KiB", l.CheckText("body", strings.Repeat("t", 16<<10)))
	wantErr(t, "text over", l.CheckText("body", strings.Repeat("t", 16<<10+1)), CodeTooLarge, "body")
	wantErr(t, "text empty", l.CheckText("body", ""), CodeBadRequest, "body")
	wantErr(t, "text bad utf8", l.CheckText("body", "\xc3"), CodeBadRequest, "body")

	img := make([]byte, 256<<10)
	got, err := l.CheckAvatar(base64.StdEncoding.EncodeToString(img))
	if err != nil || len(got) != len(img) {
		t.Errorf("avatar at limit: %d %v", len(got), err)
	}
	_, err = l.CheckAvatar(base64.StdEncoding.EncodeToString(append(img, 0)))
	wantErr(t, "avatar over", err, CodeTooLarge, "avatar")
	_, err = l.CheckAvatar("not base64!")
	wantErr(t, "avatar garbage", err, CodeBadRequest, "avatar")
	if got, err := l.CheckAvatar(""); got != nil || err != nil {
		t.Error("empty avatar")
	}

	ok("media at limit", l.CheckMedia(make([]byte, 256<<10)))
	wantErr(t, "media over", l.CheckMedia(make([]byte, 256<<10+1)), CodeTooLarge, "payload")

	ok("file size 1 GiB", l.CheckFileSize(1<<30))
	ok("file size 0", l.CheckFileSize(0))
	wantErr(t, "file size over", l.CheckFileSize(1<<30+1), CodeTooLarge, "size")
	wantErr(t, "file size negative", l.CheckFileSize(-1), CodeBadRequest, "size")

	ok("file name", l.CheckFileName("report v2 (final).pdf"))
	ok("file name 255", l.CheckFileName(strings.Repeat("f", 255)))
	for _, s := range []string{"", ".", "..", "a/b", `a\b`, "a\x00b", "a\nb", strings.Repeat("f", 256), "\xff"} {
		wantErr(t, "file name "+s, l.CheckFileName(s), CodeBadRequest, "name")
	}

	ok("sha256", CheckSha256("sha256", strings.Repeat("0a", 32)))
	for _, s := range []string{"", strings.Repeat("0A", 32), strings.Repeat("0", 63), strings.Repeat("g", 64)} {
		wantErr(t, "sha256 "+s, CheckSha256("sha256", s), CodeBadRequest, "sha256")
	}

	ok("id 1", CheckID("user_id", 1))
	ok("id max", CheckID("user_id", MaxID-1))
	for _, id := range []int64{0, -1, MaxID} {
		wantErr(t, "id", CheckID("user_id", id), CodeBadRequest, "user_id")
	}
}

func TestLimitsConfigurableAndNil(t *testing.T) {
	l := DefaultLimits()
	l.MaxText = 4
	wantErr(t, "custom text", l.CheckText("body", "12345"), CodeTooLarge, "body")
	var nilLimits *Limits
	if err := nilLimits.CheckText("body", "12345"); err != nil {
		t.Errorf("nil limits are the defaults: %v", err)
	}
	if nilLimits.SyncLimit(0) != 100 || nilLimits.SyncLimit(501) != 500 || nilLimits.SyncLimit(7) != 7 {
		t.Error("SyncLimit")
	}
	d := DefaultLimits()
	if d.MaxFrameBody != 1<<20 || d.MaxText != 16<<10 || d.MaxAvatar != 256<<10 || d.MaxMedia != 256<<10 ||
		d.MaxFileSize != 1<<30 || d.SyncDefault != 100 || d.SyncMax != 500 || d.PushBacklog != 500 ||
		d.SearchResults != 50 || d.MinPassword != 8 || d.MaxPassword != 128 {
		t.Errorf("defaults differ from the contract: %+v", d)
	}
}

func TestRequestValidation(t *testing.T) {
	cases := []struct {
		name  string
		req   Request
		code  Code
		field string
	}{
		{"register bad name", &RegisterReq{Username: "a", Password: "12345678"}, CodeBadRequest, "username"},
		{"register short pw", &RegisterReq{Username: "abc", Password: "1"}, CodeBadRequest, "password"},
		{"register long nick", &RegisterReq{Username: "abc", Password: "12345678", Nickname: strings.Repeat("n", 65)}, CodeBadRequest, "nickname"},
		{"login neither", &LoginReq{Username: "abc"}, CodeBadRequest, "password"},
		{"login both", &LoginReq{Username: "abc", Password: "12345678", Token: "t"}, CodeBadRequest, "token"},
		{"login long device", &LoginReq{Username: "abc", Token: "t", Device: strings.Repeat("d", 65)}, CodeBadRequest, "device"},
		{"login long token", &LoginReq{Username: "abc", Token: strings.Repeat("t", 513)}, CodeBadRequest, "token"},
		{"profile.get id", &ProfileGetReq{}, CodeBadRequest, "user_id"},
		{"profile.update nick", &ProfileUpdateReq{Nickname: strp("")}, CodeBadRequest, "nickname"},
		{"profile.update sig", &ProfileUpdateReq{Signature: strp(strings.Repeat("s", 257))}, CodeBadRequest, "signature"},
		{"profile.update avatar", &ProfileUpdateReq{Avatar: strp("%%%")}, CodeBadRequest, "avatar"},
		{"user.search", &UserSearchReq{}, CodeBadRequest, "query"},
		{"friend.request id", &FriendRequestReq{UserID: -3}, CodeBadRequest, "user_id"},
		{"friend.request note", &FriendRequestReq{UserID: 3, Note: strings.Repeat("n", 300)}, CodeBadRequest, "note"},
		{"friend.respond", &FriendRespondReq{}, CodeBadRequest, "request_id"},
		{"friend.remove", &FriendRemoveReq{}, CodeBadRequest, "user_id"},
		{"msg.send no target", &MsgSendReq{Body: "x", ClientMsgID: "c"}, CodeBadRequest, "to_user"},
		{"msg.send bad group", &MsgSendReq{ToGroup: -1, Body: "x", ClientMsgID: "c"}, CodeBadRequest, "to_group"},
		{"msg.send big", &MsgSendReq{ToUser: 2, Body: strings.Repeat("x", 16<<10+1), ClientMsgID: "c"}, CodeTooLarge, "body"},
		{"msg.send type", &MsgSendReq{ToUser: 2, Type: "image", Body: "x", ClientMsgID: "c"}, CodeBadRequest, "type"},
		{"msg.send file body", &MsgSendReq{ToUser: 2, Type: MsgFile, Body: "x", ClientMsgID: "c"}, CodeBadRequest, "body"},
		{"msg.send cmid", &MsgSendReq{ToUser: 2, Body: "x"}, CodeBadRequest, "client_msg_id"},
		{"msg.sync conv", &MsgSyncReq{Conv: "p:2:1"}, CodeBadRequest, "conv"},
		{"msg.sync after", &MsgSyncReq{Conv: "g:1", AfterSeq: -1}, CodeBadRequest, "after_seq"},
		{"msg.sync limit", &MsgSyncReq{Conv: "g:1", Limit: -1}, CodeBadRequest, "limit"},
		{"msg.ack seq", &MsgAckReq{Conv: "g:1", Seq: -1}, CodeBadRequest, "seq"},
		{"msg.read conv", &MsgReadReq{Conv: "x", Seq: 1}, CodeBadRequest, "conv"},
		{"group.create name", &GroupCreateReq{}, CodeBadRequest, "name"},
		{"group.create member", &GroupCreateReq{Name: "g", Members: []int64{2, 0}}, CodeBadRequest, "members"},
		{"group.create many", &GroupCreateReq{Name: "g", Members: make([]int64, 1001)}, CodeBadRequest, "members"},
		{"group id", &GroupIDReq{}, CodeBadRequest, "group_id"},
		{"group.kick user", &GroupKickReq{GroupID: 1}, CodeBadRequest, "user_id"},
		{"group.kick group", &GroupKickReq{UserID: 1}, CodeBadRequest, "group_id"},
		{"file.offer name", &FileOfferReq{ToUser: 2, Name: "../x", Size: 1, Sha256: strings.Repeat("a", 64)}, CodeBadRequest, "name"},
		{"file.offer size", &FileOfferReq{ToUser: 2, Name: "x", Size: 2 << 30, Sha256: strings.Repeat("a", 64)}, CodeTooLarge, "size"},
		{"file.offer sha", &FileOfferReq{ToUser: 2, Name: "x", Size: 1, Sha256: "abc"}, CodeBadRequest, "sha256"},
		{"file.offer target", &FileOfferReq{Name: "x", Size: 1, Sha256: strings.Repeat("a", 64)}, CodeBadRequest, "to_user"},
		{"file.fetch", &FileFetchReq{}, CodeBadRequest, "file_id"},
		{"file.upload token", &FileUploadReq{}, CodeBadRequest, "upload_token"},
		{"file.upload offset", &FileUploadReq{UploadToken: "t", Offset: -1}, CodeBadRequest, "offset"},
		{"file.download token", &FileDownloadReq{}, CodeBadRequest, "download_token"},
		{"file.download offset", &FileDownloadReq{DownloadToken: "t", Offset: -1}, CodeBadRequest, "offset"},
		{"room.create name", &RoomCreateReq{Name: strings.Repeat("r", 65)}, CodeBadRequest, "name"},
		{"room id", &RoomIDReq{}, CodeBadRequest, "room_id"},
		{"room.say empty", &RoomSayReq{RoomID: 1}, CodeBadRequest, "body"},
		{"room.say room", &RoomSayReq{Body: "x"}, CodeBadRequest, "room_id"},
	}
	for _, c := range cases {
		wantErr(t, c.name, c.req.Validate(nil), c.code, c.field)
	}
	// Defaults helpers.
	if (&LoginReq{}).DeviceOrDefault() != "default" || (&LoginReq{Device: "d"}).DeviceOrDefault() != "d" {
		t.Error("DeviceOrDefault")
	}
	if (&MsgSendReq{}).TypeOrDefault() != MsgText || (&MsgSendReq{Type: MsgFile}).TypeOrDefault() != MsgFile {
		t.Error("TypeOrDefault")
	}
	if err := (&MsgSendReq{ToUser: 2, Type: MsgFile, Body: FileMessageBody(31), ClientMsgID: "c"}).Validate(nil); err != nil {
		t.Error(err)
	}
	if id, err := ParseFileMessageBody("31"); id != 31 || err != nil {
		t.Error("ParseFileMessageBody")
	}
	if _, err := ParseFileMessageBody("031"); err == nil {
		t.Error("ParseFileMessageBody accepted a leading zero")
	}
}
