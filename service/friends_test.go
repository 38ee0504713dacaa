package service

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/chatd/chatd/protocol"
)

var _ = register("FriendsFlow", testFriendsFlow)
var _ = register("FriendNoticesAtLogin", testFriendNoticesAtLogin)
var _ = register("PresenceAndProfiles", testPresenceAndProfiles)

func testFriendsFlow(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, c := e.user("fa"), e.user("fb"), e.user("fc")
	a.must(protocol.CodeBadRequest, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: a.userID}, nil)
	a.must(protocol.CodeNotFound, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: 1 << 40}, nil)
	var r protocol.FriendRequestResp
	a.must(protocol.CodeOK, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: bb.userID, Note: "hi"}, &r)
	var rq protocol.FriendRequestedPush
	bb.expect(protocol.OpFriendRequested, &rq)
	if rq.RequestID != r.RequestID || rq.From.UserID != a.userID || rq.Note != "hi" {
		t.Fatalf("friend.requested %+v", rq)
	}
	a.must(protocol.CodeAlreadyExists, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: bb.userID}, nil)
	bb.must(protocol.CodeAlreadyExists, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: a.userID}, nil)
	var pend protocol.FriendPendingResp
	bb.must(protocol.CodeOK, protocol.OpFriendPending, struct{}{}, &pend)
	if len(pend.Incoming) != 1 || len(pend.Outgoing) != 0 || pend.Incoming[0].From.UserID != a.userID || pend.Incoming[0].To.UserID != bb.userID || pend.Incoming[0].Ts == 0 {
		t.Fatalf("pending %+v", pend)
	}
	a.must(protocol.CodeOK, protocol.OpFriendPending, struct{}{}, &pend)
	if len(pend.Outgoing) != 1 || len(pend.Incoming) != 0 {
		t.Fatalf("pending of requester %+v", pend)
	}
	// Only the target may answer.
	a.must(protocol.CodeForbidden, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r.RequestID, Accept: true}, nil)
	c.must(protocol.CodeForbidden, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r.RequestID, Accept: true}, nil)
	bb.must(protocol.CodeNotFound, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: 1 << 40, Accept: true}, nil)
	bb.must(protocol.CodeOK, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r.RequestID, Accept: true}, nil)
	bb.must(protocol.CodeNotFound, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r.RequestID, Accept: true}, nil)
	var resp protocol.FriendRespondedPush
	a.expect(protocol.OpFriendResponded, &resp)
	if resp.RequestID != r.RequestID || !resp.Accepted || resp.By.UserID != bb.userID {
		t.Fatalf("friend.responded %+v", resp)
	}
	var pr protocol.PresencePush
	a.expect(protocol.OpPresence, &pr)
	if pr.UserID != bb.userID || !pr.Online {
		t.Fatalf("presence to requester %+v", pr)
	}
	bb.expect(protocol.OpPresence, &pr)
	if pr.UserID != a.userID || !pr.Online {
		t.Fatalf("presence to responder %+v", pr)
	}
	a.must(protocol.CodeAlreadyExists, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: bb.userID}, nil)
	// Friends now, both ways, without logging in again.
	send(t, a, &protocol.MsgSendReq{ToUser: bb.userID, Body: "hi friend", ClientMsgID: "f1"})
	send(t, bb, &protocol.MsgSendReq{ToUser: a.userID, Body: "hi back", ClientMsgID: "f2"})
	bb.expect(protocol.OpMsgPush, nil)
	a.expect(protocol.OpMsgPush, nil)
	var fl protocol.FriendListResp
	a.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, &fl)
	if len(fl.Friends) != 1 || fl.Friends[0].Profile.UserID != bb.userID || !fl.Friends[0].Online {
		t.Fatalf("friend list %+v", fl)
	}
	// Reject.
	c.must(protocol.CodeOK, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: a.userID}, &r)
	a.expect(protocol.OpFriendRequested, nil)
	a.must(protocol.CodeOK, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r.RequestID, Accept: false}, nil)
	c.expect(protocol.OpFriendResponded, &resp)
	if resp.Accepted {
		t.Fatal("rejection pushed as accepted")
	}
	c.noPush()
	// Remove.
	a.must(protocol.CodeOK, protocol.OpFriendRemove, &protocol.FriendRemoveReq{UserID: bb.userID}, nil)
	var rm protocol.FriendRemovedPush
	bb.expect(protocol.OpFriendRemoved, &rm)
	if rm.UserID != a.userID {
		t.Fatalf("friend.removed %+v", rm)
	}
	a.must(protocol.CodeNotFound, protocol.OpFriendRemove, &protocol.FriendRemoveReq{UserID: bb.userID}, nil)
	// No longer friends, either way round (the send path caches friends).
	a.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: bb.userID, Body: "x", ClientMsgID: "r1"}, nil)
	bb.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToUser: a.userID, Body: "x", ClientMsgID: "r2"}, nil)
	a.must(protocol.CodeOK, protocol.OpFriendList, struct{}{}, &fl)
	if len(fl.Friends) != 0 {
		t.Fatalf("friends after remove %+v", fl)
	}
}

func testFriendNoticesAtLogin(t *testing.T, b backend) {
	e := newEnv(t, b)
	an, bn, cn := uniqueName("na"), uniqueName("nb"), uniqueName("nc")
	aID, bID, cID := e.register(an), e.register(bn), e.register(cn)
	a, _ := e.login(an, "")
	var r1, r2 protocol.FriendRequestResp
	a.must(protocol.CodeOK, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: bID, Note: "offline hello"}, &r1)
	a.must(protocol.CodeOK, protocol.OpFriendRequest, &protocol.FriendRequestReq{UserID: cID}, &r2)
	a.nc.Close()
	// b logs in: the pending request is pushed right after the reply, and
	// again at the next login while it is still pending.
	for range 2 {
		bc, _ := e.login(bn, "")
		var rq protocol.FriendRequestedPush
		bc.expect(protocol.OpFriendRequested, &rq)
		if rq.RequestID != r1.RequestID || rq.From.UserID != aID || rq.Note != "offline hello" {
			t.Fatalf("friend.requested at login %+v", rq)
		}
		bc.noPush()
		bc.nc.Close()
	}
	bc, _ := e.login(bn, "")
	bc.expect(protocol.OpFriendRequested, nil)
	bc.must(protocol.CodeOK, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r1.RequestID, Accept: true}, nil)
	cc, _ := e.login(cn, "")
	cc.expect(protocol.OpFriendRequested, nil)
	cc.must(protocol.CodeOK, protocol.OpFriendRespond, &protocol.FriendRespondReq{RequestID: r2.RequestID, Accept: false}, nil)
	// a was offline: both answers come once, right after its next login.
	a2, lr := e.login(an, "")
	if len(lr.Friends) != 1 || lr.Friends[0].Profile.UserID != bID || !lr.Friends[0].Online {
		t.Fatalf("login friends %+v", lr.Friends)
	}
	got := map[int64]bool{}
	for range 2 {
		var resp protocol.FriendRespondedPush
		a2.expect(protocol.OpFriendResponded, &resp)
		got[resp.RequestID] = resp.Accepted
	}
	if acc, ok := got[r1.RequestID]; !ok || !acc {
		t.Fatalf("responses %v", got)
	}
	if acc, ok := got[r2.RequestID]; !ok || acc {
		t.Fatalf("responses %v", got)
	}
	a2.noPush()
	a2.nc.Close()
	a3, _ := e.login(an, "")
	a3.noPush()
}

func testPresenceAndProfiles(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb := e.user("pa"), e.user("pb")
	befriend(t, a, bb)
	// b's second device: no presence (not the first session); closing it
	// neither (not the last).
	var lr protocol.LoginResp
	b2 := e.dial()
	var prof protocol.ProfileGetResp
	a.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: bb.userID}, &prof)
	b2.must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: prof.Profile.Username, Password: testPassword, Device: "tablet"}, &lr)
	a.noPush()
	b2.nc.Close()
	a.noPush()
	// Last session ends: offline.
	bb.nc.Close()
	var pr protocol.PresencePush
	a.expect(protocol.OpPresence, &pr)
	if pr.UserID != bb.userID || pr.Online {
		t.Fatalf("offline presence %+v", pr)
	}
	// First session starts: online.
	b3, _ := e.login(prof.Profile.Username, "")
	a.expect(protocol.OpPresence, &pr)
	if pr.UserID != bb.userID || !pr.Online {
		t.Fatalf("online presence %+v", pr)
	}

	// Profiles.
	a.must(protocol.CodeNotFound, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: 1 << 40}, nil)
	if prof.Avatar != "" || prof.Profile.AvatarSha256 != "" {
		t.Fatalf("avatar without one: %+v", prof)
	}
	img := []byte("\x89PNG fake image bytes")
	nick, sig, av := "Bee", "busy", base64.StdEncoding.EncodeToString(img)
	var up protocol.ProfileUpdateResp
	b3.must(protocol.CodeOK, protocol.OpProfileUpdate, &protocol.ProfileUpdateReq{Nickname: &nick, Signature: &sig, Avatar: &av}, &up)
	if up.Profile.Nickname != "Bee" || up.Profile.Signature != "busy" || len(up.Profile.AvatarSha256) != 64 {
		t.Fatalf("updated profile %+v", up.Profile)
	}
	var ch protocol.ProfileChangedPush
	a.expect(protocol.OpProfileChanged, &ch)
	if ch.Profile != up.Profile {
		t.Fatalf("profile.changed %+v want %+v", ch.Profile, up.Profile)
	}
	a.must(protocol.CodeOK, protocol.OpProfileGet, &protocol.ProfileGetReq{UserID: bb.userID}, &prof)
	if prof.Avatar != av || prof.Profile != up.Profile {
		t.Fatalf("profile.get after update %+v", prof)
	}
	huge := base64.StdEncoding.EncodeToString(make([]byte, 256<<10+1))
	b3.must(protocol.CodeTooLarge, protocol.OpProfileUpdate, &protocol.ProfileUpdateReq{Avatar: &huge}, nil)
	long := strings.Repeat("é", 257)
	b3.must(protocol.CodeBadRequest, protocol.OpProfileUpdate, &protocol.ProfileUpdateReq{Signature: &long}, nil)
	empty := ""
	b3.must(protocol.CodeBadRequest, protocol.OpProfileUpdate, &protocol.ProfileUpdateReq{Nickname: &empty}, nil)

	// Search: prefix on username or nickname.
	var sr protocol.UserSearchResp
	a.must(protocol.CodeOK, protocol.OpUserSearch, &protocol.UserSearchReq{Query: "Bee"}, &sr)
	found := false
	for _, u := range sr.Users {
		found = found || u.UserID == bb.userID
	}
	if !found {
		t.Fatalf("search by nickname %+v", sr)
	}
	a.must(protocol.CodeOK, protocol.OpUserSearch, &protocol.UserSearchReq{Query: "zzzz_nobody"}, &sr)
	if sr.Users == nil || len(sr.Users) != 0 {
		t.Fatalf("empty search %+v", sr)
	}
	a.must(protocol.CodeBadRequest, protocol.OpUserSearch, &protocol.UserSearchReq{Query: ""}, nil)
}
