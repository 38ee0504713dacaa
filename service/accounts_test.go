package service

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

var _ = registerRaw("Frames", testFrames)
var _ = register("RegisterLogin", testRegisterLogin)
var _ = register("TokenLoginLogout", testTokenLoginLogout)
var _ = register("Kick", testKick)
var _ = register("FailedLoginLimits", testFailedLoginLimits)

func testFrames(t *testing.T, b backend) {
	e := newEnv(t, b)
	c := e.dial()
	var p protocol.PingResp
	c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, &p)
	if p.Ts <= 0 {
		t.Fatalf("ping ts %d", p.Ts)
	}
	// Unknown op, push op, file-port op: UNSUPPORTED_OP before login.
	for _, op := range []protocol.Op{0x7777, protocol.OpMsgPush, protocol.OpFileUpload, protocol.OpFileDownload} {
		c.must(protocol.CodeUnsupportedOp, op, struct{}{}, nil)
	}
	c.must(protocol.CodeUnauthenticated, protocol.OpFriendList, struct{}{}, nil)
	// Bodies that are not objects, miss fields or have wrong types.
	for _, body := range []string{"", "[]", "3", `"x"`, "null", "{", `{"username":5,"password":"password-1"}`, `{"password":"password-1"}`} {
		c.must(protocol.CodeBadRequest, protocol.OpRegister, body, nil)
	}
	c.must(protocol.CodeBadRequest, protocol.OpRegister, &protocol.RegisterReq{Username: "a!", Password: "password-1"}, nil)
	c.must(protocol.CodeBadRequest, protocol.OpPing, "[]", nil)
	c.must(protocol.CodeBadRequest, protocol.OpPing, "", nil)
	c.must(protocol.CodeBadRequest, protocol.OpRegister, &protocol.RegisterReq{Username: "abc", Password: "short"}, nil)
	// Still open and working; unknown fields are ignored.
	c.must(protocol.CodeOK, protocol.OpPing, `{"future":1}`, nil)

	// After login too.
	u := e.user("frames")
	u.must(protocol.CodeUnsupportedOp, 0x7777, struct{}{}, nil)
	u.must(protocol.CodeUnsupportedOp, protocol.OpPresence, struct{}{}, nil)
	u.must(protocol.CodeBadRequest, protocol.OpProfileGet, "[1]", nil)
	u.must(protocol.CodeBadRequest, protocol.OpProfileGet, `{"user_id":"x"}`, nil)
	u.must(protocol.CodeUnavailable, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: 1, Name: "a", Size: 1,
		Sha256: "0000000000000000000000000000000000000000000000000000000000000000"}, nil)
	u.must(protocol.CodeUnavailable, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: 1}, nil)

	// Pipelined frames in one write, one frame split over writes.
	var buf []byte
	for i := uint32(1); i <= 3; i++ {
		buf = protocol.AppendFrame(buf, protocol.OpPing, 1000+i, []byte("{}"))
	}
	c.mu.Lock()
	chs := []chan frame{make(chan frame, 1), make(chan frame, 1), make(chan frame, 1)}
	for i := range chs {
		c.waiters[uint32(1001+i)] = chs[i]
	}
	c.mu.Unlock()
	for i := range buf {
		if _, err := c.nc.Write(buf[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range chs {
		c.wait(protocol.OpPing, ch)
	}

	// Oversize length: closed with nothing sent.
	big := e.dial()
	hdr := make([]byte, 10)
	binary.BigEndian.PutUint32(hdr, uint32(protocol.DefaultMaxFrameBody+7))
	binary.BigEndian.PutUint16(hdr[4:], uint16(protocol.OpPing))
	binary.BigEndian.PutUint32(hdr[6:], 1)
	if _, err := big.nc.Write(hdr); err != nil {
		t.Fatal(err)
	}
	big.closed()
	// Undersize length.
	small := e.dial()
	if _, err := small.nc.Write([]byte{0, 0, 0, 5, 0, 1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	small.closed()
	select {
	case f := <-small.pushes:
		t.Fatalf("server sent %s before closing", f.op)
	default:
	}
	// Exactly the max body is accepted (as a frame) and answered.
	ok := e.dial()
	body := make([]byte, protocol.DefaultMaxFrameBody)
	for i := range body {
		body[i] = ' '
	}
	copy(body, `{"a":1}`)
	ok.must(protocol.CodeOK, protocol.OpPing, body, nil)
}

func testRegisterLogin(t *testing.T, b backend) {
	e := newEnv(t, b)
	name := uniqueName("Alice")
	c := e.dial()
	var r protocol.RegisterResp
	c.must(protocol.CodeOK, protocol.OpRegister, &protocol.RegisterReq{Username: name, Password: testPassword, Nickname: "Ally"}, &r)
	if r.UserID <= 0 {
		t.Fatalf("user_id %d", r.UserID)
	}
	// Case-insensitive uniqueness.
	c.must(protocol.CodeUsernameTaken, protocol.OpRegister, &protocol.RegisterReq{Username: lowerASCII(name), Password: testPassword}, nil)
	c.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: "wrong-password"}, nil)
	c.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: "nobody_here", Password: testPassword}, nil)
	c.must(protocol.CodeBadRequest, protocol.OpLogin, &protocol.LoginReq{Username: name}, nil)
	var lr protocol.LoginResp
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: lowerASCII(name), Password: testPassword}, &lr)
	if lr.UserID != r.UserID || lr.Token == "" || lr.Profile.Nickname != "Ally" || lr.Profile.Username != name {
		t.Fatalf("login reply %+v", lr)
	}
	if lr.Friends == nil || lr.Groups == nil || lr.Convs == nil {
		t.Fatal("login lists must be [] not null")
	}
	if e.srv.Sessions() != 1 {
		t.Fatalf("sessions %d", e.srv.Sessions())
	}
	c.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, nil)
	// Default nickname is the username.
	name2 := uniqueName("bob")
	e.register(name2)
	_, lr2 := e.login(name2, "")
	if lr2.Profile.Nickname != name2 {
		t.Fatalf("default nickname %q", lr2.Profile.Nickname)
	}
}

func testTokenLoginLogout(t *testing.T, b backend) {
	e := newEnv(t, b)
	name := uniqueName("tok")
	e.register(name)
	c, lr := e.login(name, "phone")
	c2 := e.dial()
	var lr2 protocol.LoginResp
	c2.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: lr.Token, Device: "laptop"}, &lr2)
	if lr2.UserID != lr.UserID || lr2.Token != lr.Token {
		t.Fatalf("token login %+v", lr2)
	}
	// Wrong user for the token, garbage token.
	other := uniqueName("other")
	e.register(other)
	c3 := e.dial()
	c3.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: other, Token: lr.Token}, nil)
	c3.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: "nope"}, nil)
	// Logout revokes the token; the connection stays open, unauthenticated.
	c.must(protocol.CodeOK, protocol.OpLogout, struct{}{}, nil)
	c.must(protocol.CodeUnauthenticated, protocol.OpFriendList, struct{}{}, nil)
	c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
	c3.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: lr.Token}, nil)
	eventually(t, "one session left (laptop)", func() bool { return e.sessions() == 1 })
	// A later password login on the same connection works.
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, nil)
}

func testKick(t *testing.T, b backend) {
	e := newEnv(t, b)
	name := uniqueName("kick")
	e.register(name)
	old, _ := e.login(name, "phone")
	other, _ := e.login(name, "laptop") // another device: no kick
	fresh, _ := e.login(name, "phone")
	var k protocol.KickedPush
	old.expect(protocol.OpKicked, &k)
	if k.Reason != "login_elsewhere" || k.Addr != fresh.nc.LocalAddr().String() {
		t.Fatalf("kicked %+v, new login from %s", k, fresh.nc.LocalAddr())
	}
	old.closed()
	other.noPush()
	fresh.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, nil)
	eventually(t, "two sessions (laptop and the new phone)", func() bool { return e.sessions() == 2 })
}

func testFailedLoginLimits(t *testing.T, b backend) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, b, func(c *Config) { c.clock = clock })
	// In a cluster, failures told to the other node land before the move.
	advance := func(d time.Duration) { e.flushBus(); mu.Lock(); now = now.Add(d); mu.Unlock() }

	name := uniqueName("victim")
	e.register(name)
	c := e.dial()
	bad := &protocol.LoginReq{Username: name, Password: "not-the-password"}
	for range 5 {
		c.must(protocol.CodeBadCredentials, protocol.OpLogin, bad, nil)
	}
	var st protocol.Status
	c.must(protocol.CodeRateLimited, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, &st)
	if st.RetryAfterMs <= 0 || st.RetryAfterMs > 60_001 {
		t.Fatalf("retry_after_ms %d", st.RetryAfterMs)
	}
	// Also by token, and with the name in another case.
	c.must(protocol.CodeRateLimited, protocol.OpLogin, &protocol.LoginReq{Username: lowerASCII(name), Token: "x"}, nil)
	// Other users from the same address are fine (5 < 60 per IP).
	other := uniqueName("bystander")
	e.register(other)
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: other, Password: testPassword}, nil)
	advance(61 * time.Second)
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, nil)

	// Per IP: 60 failures over many names block everyone from this address.
	for i := range 60 {
		c.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: uniqueName("ghost"), Password: "whatever-" + string(rune('a'+i%26))}, nil)
	}
	c.must(protocol.CodeRateLimited, protocol.OpLogin, &protocol.LoginReq{Username: other, Password: testPassword}, nil)
	advance(61 * time.Second)
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: other, Password: testPassword}, nil)
}

var (
	_ = register("AccountPassword", testAccountPassword)
	_ = register("AccountSessionsRevoke", testAccountSessionsRevoke)
	_ = register("AccountDelete", testAccountDelete)
)

func testAccountPassword(t *testing.T, b backend) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, b, func(c *Config) { c.clock = clock; c.LoginFailuresPerUser = 2 })
	advance := func() { e.flushBus(); mu.Lock(); now = now.Add(2 * time.Minute); mu.Unlock() }
	name := uniqueName("pw")
	e.register(name)
	phone, _ := e.login(name, "phone")
	laptop, lr := e.login(name, "laptop")
	phone.drain()
	const newPassword = "new-password-456"
	phone.must(protocol.CodeBadRequest, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: testPassword, NewPassword: "x"}, nil)
	// Wrong old passwords count as failed logins of the username.
	for range 2 {
		phone.must(protocol.CodeBadCredentials, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: "wrong-password", NewPassword: newPassword}, nil)
	}
	phone.must(protocol.CodeRateLimited, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: testPassword, NewPassword: newPassword}, nil)
	e.dial().must(protocol.CodeRateLimited, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, nil)
	advance()

	var r protocol.AccountPasswordResp
	phone.must(protocol.CodeOK, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: testPassword, NewPassword: newPassword}, &r)
	if r.Token == "" || r.Token == phone.token {
		t.Fatalf("new token %q (old %q)", r.Token, phone.token)
	}
	var k protocol.KickedPush
	laptop.expect(protocol.OpKicked, &k)
	if k.Reason != protocol.KickReasonPasswordChanged {
		t.Fatalf("kicked %+v", k)
	}
	laptop.closed()
	phone.noPush()
	phone.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, nil)
	c := e.dial()
	c.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: lr.Token}, nil)
	c.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: phone.token}, nil)
	advance()
	c.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: r.Token, Device: "phone"}, nil)
	e.dial().must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: newPassword, Device: "tablet"}, nil)
	// Logout on the changed session revokes its new token.
	c.must(protocol.CodeOK, protocol.OpLogout, struct{}{}, nil)
	e.dial().must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: r.Token}, nil)
}

func testAccountSessionsRevoke(t *testing.T, b backend) {
	e := newEnv(t, b)
	name := uniqueName("sess")
	e.register(name)
	before := time.Now().UnixMilli()
	phone, _ := e.login(name, "phone")
	laptop, lr := e.login(name, "laptop")
	tablet, _ := e.login(name, "tablet")
	tablet.nc.Close() // a token, no session
	tablet.closed()
	var sr protocol.AccountSessionsResp
	deadline := time.Now().Add(waitTimeout)
	for {
		phone.must(protocol.CodeOK, protocol.OpAccountSessions, struct{}{}, &sr)
		if len(sr.Sessions) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := map[string]protocol.SessionInfo{}
	for _, si := range sr.Sessions {
		got[si.Device] = si
	}
	if len(sr.Sessions) != 2 || !got["phone"].Current || got["laptop"].Current ||
		got["phone"].Addr != phone.nc.LocalAddr().String() || got["laptop"].Addr != laptop.nc.LocalAddr().String() ||
		got["laptop"].Since < before || got["laptop"].Since > time.Now().UnixMilli() {
		t.Fatalf("sessions %+v", sr.Sessions)
	}

	phone.must(protocol.CodeBadRequest, protocol.OpAccountRevoke, &protocol.AccountRevokeReq{Device: "phone"}, nil)
	phone.must(protocol.CodeNotFound, protocol.OpAccountRevoke, &protocol.AccountRevokeReq{Device: "never"}, nil)
	phone.must(protocol.CodeOK, protocol.OpAccountRevoke, &protocol.AccountRevokeReq{Device: "tablet"}, nil)
	phone.must(protocol.CodeNotFound, protocol.OpAccountRevoke, &protocol.AccountRevokeReq{Device: "tablet"}, nil)
	phone.must(protocol.CodeOK, protocol.OpAccountRevoke, &protocol.AccountRevokeReq{Device: "laptop"}, nil)
	var k protocol.KickedPush
	laptop.expect(protocol.OpKicked, &k)
	if k.Reason != protocol.KickReasonRevoked {
		t.Fatalf("kicked %+v", k)
	}
	laptop.closed()
	e.dial().must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Token: lr.Token}, nil)
	phone.must(protocol.CodeOK, protocol.OpAccountSessions, struct{}{}, &sr)
	if len(sr.Sessions) != 1 || sr.Sessions[0].Device != "phone" {
		t.Fatalf("sessions after revoke %+v", sr.Sessions)
	}
	phone.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, nil)
}

func testAccountDelete(t *testing.T, b backend) {
	e := newEnv(t, b)
	name := uniqueName("del")
	e.register(name)
	d, _ := e.login(name, "phone")
	laptop, _ := e.login(name, "laptop")
	f, x := e.user("delf"), e.user("delx")
	befriend(t, d, f)
	befriend(t, f, x)
	var g protocol.GroupResp
	d.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "mine", Members: []int64{f.userID}}, &g)
	owned := g.Group.GroupID
	f.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "theirs", Members: []int64{x.userID}}, &g)
	joined := g.Group.GroupID
	d.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: joined}, nil)
	var room protocol.RoomCreateResp
	f.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "r"}, &room)
	d.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: room.RoomID}, nil)
	for _, c := range []*tclient{d, f, x} {
		c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
		c.drain()
	}

	d.must(protocol.CodeBadCredentials, protocol.OpAccountDelete, &protocol.AccountDeleteReq{Password: "wrong-password"}, nil)
	d.must(protocol.CodeOK, protocol.OpAccountDelete, &protocol.AccountDeleteReq{Password: testPassword}, nil)
	d.closed()
	select {
	case p := <-d.pushes:
		t.Fatalf("push %s %s to the deleting connection", p.op, p.body)
	default:
	}
	var k protocol.KickedPush
	laptop.waitFor(protocol.OpKicked, &k)
	if k.Reason != protocol.KickReasonAccountDeleted {
		t.Fatalf("kicked %+v", k)
	}
	laptop.closed()

	expectDeletionEffects(t, f, x, d.userID, owned, joined, 0)

	// The account is gone, its name stays taken, its messages stay.
	e.dial().must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, nil)
	e.dial().must(protocol.CodeUsernameTaken, protocol.OpRegister, &protocol.RegisterReq{Username: name, Password: testPassword}, nil)
	var pr protocol.ProfileGetResp
	f.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: d.userID}, &pr)
	if pr.Profile.Nickname != "deleted user" {
		t.Fatalf("profile %+v", pr.Profile)
	}
	var fl protocol.FriendListResp
	f.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, &fl)
	if len(fl.Friends) != 1 || fl.Friends[0].Profile.UserID != x.userID {
		t.Fatalf("friends %+v", fl.Friends)
	}
	var mem protocol.GroupMembersResp
	f.must(protocol.CodeOK, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: joined}, &mem)
	if len(mem.Members) != 2 {
		t.Fatalf("members %+v", mem.Members)
	}
	f.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: owned, Body: "x", ClientMsgID: "x"}, nil)
	send(t, f, &protocol.MsgSendReq{ToGroup: joined, Body: "still here", ClientMsgID: "s"})
}

// expectDeletionEffects waits until friend f has heard every effect of
// deleted's account deletion, in any order (friend.removed, the dismissal of
// owned, leaving the other groups, room.left; never an event of group skip),
// and member x the left event of joined.
func expectDeletionEffects(t *testing.T, f, x *tclient, deleted, owned, joined, skip int64) {
	t.Helper()
	want := map[string]bool{"friend.removed": true, "dismissed": true, "left": true, "room.left": true}
	for len(want) > 0 {
		p := f.push()
		switch p.op {
		case protocol.OpFriendRemoved:
			delete(want, "friend.removed")
		case protocol.OpGroupEvent:
			var ev protocol.GroupEventPush
			_ = protocol.Unmarshal(p.body, &ev)
			if ev.UserID != deleted || ev.GroupID == skip || (ev.Kind == protocol.GroupDismissed) != (ev.GroupID == owned) {
				t.Fatalf("group event %+v", ev)
			}
			delete(want, ev.Kind)
		case protocol.OpRoomEvent:
			var ev protocol.RoomEventPush
			_ = protocol.Unmarshal(p.body, &ev)
			if ev.Kind == protocol.RoomLeft && ev.UserID == deleted {
				delete(want, "room.left")
			}
		}
	}
	var ev protocol.GroupEventPush
	x.waitFor(protocol.OpGroupEvent, &ev)
	if ev.Kind != protocol.GroupLeft || ev.GroupID != joined || ev.UserID != deleted {
		t.Fatalf("x's event %+v", ev)
	}
}

// TestConnStateIP: the failed-login limiter's key is the host part of the
// peer's address, IPv6 without its brackets, or the whole address when it
// has no port.
func TestConnStateIP(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.7:40000": "192.0.2.7",
		"[2001:db8::1]:9": "2001:db8::1",
		"unix-socket":     "unix-socket",
		"":                "",
	} {
		if got := (&connState{remote: remote}).ip(); got != want {
			t.Errorf("ip of %q = %q, want %q", remote, got, want)
		}
	}
}
