package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// What chatd's offline user commands change in the store, applied to live
// sessions by EnforceAccount and EnforceDeletion (the admin listener's
// account routes).
var (
	_ = registerRaw("AccountDisabledFrozen", testAccountDisabledFrozen)
	_ = registerRaw("EnforceRevokedTokens", testEnforceRevokedTokens)
	_ = registerRaw("EnforceDeletion", testEnforceDeletion)
)

// A session that outlived its account's disable (no enforce reached this
// server) may neither change the password nor delete the account.
func testAccountDisabledFrozen(t *testing.T, b backend) {
	e := newEnv(t, b)
	c := e.user("frozen")
	if err := e.st.SetUserDisabled(context.Background(), c.userID, true); err != nil {
		t.Fatal(err)
	}
	c.must(protocol.CodeBadCredentials, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: "wrong-password", NewPassword: "new-password-1"}, nil)
	c.must(protocol.CodeForbidden, protocol.OpAccountPassword, &protocol.AccountPasswordReq{OldPassword: testPassword, NewPassword: "new-password-1"}, nil)
	c.must(protocol.CodeForbidden, protocol.OpAccountDelete, &protocol.AccountDeleteReq{Password: testPassword}, nil)
	u, err := e.st.UserByID(context.Background(), c.userID)
	if err != nil || u.DeletedAt != 0 {
		t.Fatalf("account after refused delete: %+v, %v", u, err)
	}
	if err := e.st.SetUserDisabled(context.Background(), c.userID, false); err != nil {
		t.Fatal(err)
	}
	// Enabled again, the password is still the old one.
	e.dial().must(protocol.CodeOK, protocol.OpLogin, &protocol.LoginReq{Username: u.Username, Password: testPassword}, nil)
}

// After a password reset revoked every token in the store, EnforceAccount
// kicks the user's live sessions (revoked) and no one else's.
func testEnforceRevokedTokens(t *testing.T, b backend) {
	e := newEnv(t, b)
	ctx := context.Background()
	name := uniqueName("reset")
	id := e.register(name)
	phone, _ := e.login(name, "phone")
	laptop, _ := e.login(name, "laptop")
	other := e.user("bystander")
	if n, err := e.srv.EnforceAccount(ctx, id); err != nil || n != 0 {
		t.Fatalf("enforce with every token valid: %d, %v", n, err)
	}
	if err := e.st.ChangePassword(ctx, id, "reset-hash", store.Session{}); err != nil {
		t.Fatal(err)
	}
	// The count is the called node's sessions (in a cluster, the other
	// nodes kick theirs before it returns).
	local := len(e.srv.router.Sessions(id))
	if n, err := e.srv.EnforceAccount(ctx, id); err != nil || n != local {
		t.Fatalf("enforce after reset: kicked %d, %v; want %d", n, err, local)
	}
	for _, c := range []*tclient{phone, laptop} {
		var k protocol.KickedPush
		c.waitFor(protocol.OpKicked, &k)
		if k.Reason != protocol.KickReasonRevoked {
			t.Fatalf("kicked %+v", k)
		}
		c.closed()
	}
	if n, err := e.srv.EnforceAccount(ctx, other.userID); err != nil || n != 0 {
		t.Fatalf("enforce on an untouched account: %d, %v", n, err)
	}
	other.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
}

// chatd user delete: the store deletes, EnforceDeletion applies the live
// effects account.delete has, checking what it is told against the store.
func testEnforceDeletion(t *testing.T, b backend) {
	e := newEnv(t, b)
	ctx := context.Background()
	name := uniqueName("adel")
	e.register(name)
	d, _ := e.login(name, "phone")
	f, x := e.user("adelf"), e.user("adelx")
	befriend(t, d, f)
	befriend(t, f, x)
	var g protocol.GroupResp
	d.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "mine", Members: []int64{f.userID}}, &g)
	owned := g.Group.GroupID
	f.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "theirs", Members: []int64{x.userID}}, &g)
	joined := g.Group.GroupID
	d.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: joined}, nil)
	x.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "x's", Members: []int64{f.userID}}, &g)
	untouched := g.Group.GroupID
	var room protocol.RoomCreateResp
	f.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "r"}, &room)
	d.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: room.RoomID}, nil)
	// Warm the group cache, so a stale entry would show.
	send(t, f, &protocol.MsgSendReq{ToGroup: owned, Body: "hi", ClientMsgID: "w1"})
	for _, c := range []*tclient{d, f, x} {
		c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
		c.drain()
	}

	if _, err := e.srv.EnforceDeletion(ctx, d.userID, store.AccountDeletion{}); !errors.Is(err, errNotDeleted) {
		t.Fatalf("deletion enforced on a live account: %v", err)
	}
	del, err := e.st.DeleteAccount(ctx, d.userID, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	// A claim the store contradicts is dropped: x's group still exists.
	del.Dismissed = append(del.Dismissed, store.GroupMembers{GroupID: untouched, Members: []int64{f.userID, x.userID}})
	if n, err := e.srv.EnforceDeletion(ctx, d.userID, del); err != nil || n != 1 {
		t.Fatalf("enforce deletion: kicked %d, %v; want 1", n, err)
	}
	var k protocol.KickedPush
	d.waitFor(protocol.OpKicked, &k)
	if k.Reason != protocol.KickReasonAccountDeleted {
		t.Fatalf("kicked %+v", k)
	}
	d.closed()

	expectDeletionEffects(t, f, x, d.userID, owned, joined, untouched)
	// The cache forgot the dismissed group.
	f.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: owned, Body: "x", ClientMsgID: "x"}, nil)
	send(t, f, &protocol.MsgSendReq{ToGroup: untouched, Body: "still here", ClientMsgID: "s"})
	e.dial().must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword}, nil)
}
