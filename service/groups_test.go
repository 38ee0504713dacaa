package service

import (
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

var _ = register("Groups", testGroups)

func testGroups(t *testing.T, b backend) {
	e := newEnv(t, b)
	owner, f1, f2, outsider := e.user("go"), e.user("g1"), e.user("g2"), e.user("gx")
	befriend(t, owner, f1)
	befriend(t, owner, f2)
	owner.must(protocol.CodeBadRequest, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: ""}, nil)
	owner.must(protocol.CodeForbidden, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "g", Members: []int64{outsider.userID}}, nil)
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "team", Members: []int64{f1.userID}}, &g)
	gid := g.Group.GroupID
	if g.Group.Name != "team" || g.Group.Owner != owner.userID || g.Group.MemberCount != 2 {
		t.Fatalf("created %+v", g.Group)
	}
	var ev protocol.GroupEventPush
	f1.expect(protocol.OpGroupEvent, &ev)
	if ev.GroupID != gid || ev.Kind != "joined" || ev.UserID != f1.userID {
		t.Fatalf("create event %+v", ev)
	}
	// Join (anyone), events to every online member.
	f2.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: gid}, &g)
	if g.Group.MemberCount != 3 {
		t.Fatalf("after join %+v", g.Group)
	}
	for _, c := range []*tclient{owner, f1, f2} {
		c.expect(protocol.OpGroupEvent, &ev)
		if ev.Kind != "joined" || ev.UserID != f2.userID {
			t.Fatalf("join event %+v", ev)
		}
	}
	f2.must(protocol.CodeAlreadyExists, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: gid}, nil)
	outsider.must(protocol.CodeNotFound, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: 1 << 40}, nil)

	// Messages to the group reach every member but the sender's connection.
	outsider.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: "x"}, nil)
	outsider.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: 1 << 40, Body: "x", ClientMsgID: "x"}, nil)
	outsider.must(protocol.CodeForbidden, protocol.OpMsgSync, &protocol.MsgSyncReq{Conv: protocol.GroupConv(gid)}, nil)
	send(t, f1, &protocol.MsgSendReq{ToGroup: gid, Body: "hello all", ClientMsgID: "h"})
	var mp protocol.MsgPush
	for _, c := range []*tclient{owner, f2} {
		c.expect(protocol.OpMsgPush, &mp)
		if mp.Message.Conv != protocol.GroupConv(gid) || mp.Message.From != f1.userID {
			t.Fatalf("group push %+v", mp.Message)
		}
	}
	f1.noPush()

	var mem protocol.GroupMembersResp
	f2.must(protocol.CodeOK, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: gid}, &mem)
	if len(mem.Members) != 3 || !mem.Members[0].Online {
		t.Fatalf("members %+v", mem)
	}
	outsider.must(protocol.CodeForbidden, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: gid}, nil)
	outsider.must(protocol.CodeNotFound, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: 1 << 40}, nil)
	var gl protocol.GroupListResp
	f2.must(protocol.CodeOK, protocol.OpGroupList, struct{}{}, &gl)
	if len(gl.Groups) != 1 || gl.Groups[0].GroupID != gid || gl.Groups[0].MemberCount != 3 {
		t.Fatalf("group.list %+v", gl)
	}

	// Owner rules.
	owner.must(protocol.CodeForbidden, protocol.OpGroupLeave, &protocol.GroupIDReq{GroupID: gid}, nil)
	f1.must(protocol.CodeForbidden, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: f2.userID}, nil)
	f1.must(protocol.CodeForbidden, protocol.OpGroupDismiss, &protocol.GroupIDReq{GroupID: gid}, nil)
	outsider.must(protocol.CodeForbidden, protocol.OpGroupLeave, &protocol.GroupIDReq{GroupID: gid}, nil)
	owner.must(protocol.CodeNotFound, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: outsider.userID}, nil)

	// Kick: everyone (the kicked included) hears it; the kicked gets no more messages.
	owner.must(protocol.CodeOK, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: f2.userID}, nil)
	for _, c := range []*tclient{owner, f1, f2} {
		c.expect(protocol.OpGroupEvent, &ev)
		if ev.Kind != "kicked" || ev.UserID != f2.userID {
			t.Fatalf("kick event %+v", ev)
		}
	}
	f2.must(protocol.CodeForbidden, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: "x2"}, nil)
	send(t, owner, &protocol.MsgSendReq{ToGroup: gid, Body: "after kick", ClientMsgID: "ak"})
	f1.expect(protocol.OpMsgPush, &mp)
	f2.noPush()

	// Leave.
	f1.must(protocol.CodeOK, protocol.OpGroupLeave, &protocol.GroupIDReq{GroupID: gid}, nil)
	for _, c := range []*tclient{owner, f1} {
		c.expect(protocol.OpGroupEvent, &ev)
		if ev.Kind != "left" || ev.UserID != f1.userID {
			t.Fatalf("leave event %+v", ev)
		}
	}
	f1.must(protocol.CodeForbidden, protocol.OpGroupLeave, &protocol.GroupIDReq{GroupID: gid}, nil)

	// Dismiss.
	f2.must(protocol.CodeOK, protocol.OpGroupJoin, &protocol.GroupIDReq{GroupID: gid}, nil)
	owner.expect(protocol.OpGroupEvent, nil)
	f2.expect(protocol.OpGroupEvent, nil)
	owner.must(protocol.CodeOK, protocol.OpGroupDismiss, &protocol.GroupIDReq{GroupID: gid}, nil)
	for _, c := range []*tclient{owner, f2} {
		c.expect(protocol.OpGroupEvent, &ev)
		if ev.Kind != "dismissed" || ev.GroupID != gid {
			t.Fatalf("dismiss event %+v", ev)
		}
	}
	owner.must(protocol.CodeNotFound, protocol.OpGroupDismiss, &protocol.GroupIDReq{GroupID: gid}, nil)
	f2.must(protocol.CodeNotFound, protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: "x3"}, nil)
	f2.must(protocol.CodeOK, protocol.OpGroupList, struct{}{}, &gl)
	if len(gl.Groups) != 0 {
		t.Fatalf("groups after dismiss %+v", gl)
	}
}

var _ = register("GroupAdmin", testGroupAdmin)

func testGroupAdmin(t *testing.T, b backend) {
	e := newEnv(t, b)
	owner, adm, m1, m2, outsider := e.user("ao"), e.user("aa"), e.user("a1"), e.user("a2"), e.user("ax")
	for _, c := range []*tclient{adm, m1, m2} {
		befriend(t, owner, c)
	}
	var g protocol.GroupResp
	owner.must(protocol.CodeOK, protocol.OpGroupCreate, &protocol.GroupCreateReq{Name: "admins",
		Members: []int64{adm.userID, m1.userID, m2.userID}}, &g)
	gid := g.Group.GroupID
	all := []*tclient{owner, adm, m1, m2}
	settle := func() {
		for _, c := range append(all, outsider) {
			c.must(protocol.CodeOK, protocol.OpPing, struct{}{}, nil)
			c.drain()
		}
	}
	settle()
	var ev protocol.GroupEventPush
	expectAll := func(kind string, user int64) {
		t.Helper()
		for _, c := range all {
			c.expect(protocol.OpGroupEvent, &ev)
			if ev.GroupID != gid || ev.Kind != kind || ev.UserID != user {
				t.Fatalf("event %+v, want %s of %d", ev, kind, user)
			}
		}
	}

	// set_role: owner only, members only.
	adm.must(protocol.CodeForbidden, protocol.OpGroupSetRole, &protocol.GroupSetRoleReq{GroupID: gid, UserID: m1.userID, Role: "admin"}, nil)
	owner.must(protocol.CodeBadRequest, protocol.OpGroupSetRole, &protocol.GroupSetRoleReq{GroupID: gid, UserID: m1.userID, Role: "owner"}, nil)
	owner.must(protocol.CodeNotFound, protocol.OpGroupSetRole, &protocol.GroupSetRoleReq{GroupID: gid, UserID: outsider.userID, Role: "admin"}, nil)
	owner.must(protocol.CodeNotFound, protocol.OpGroupSetRole, &protocol.GroupSetRoleReq{GroupID: 1 << 40, UserID: m1.userID, Role: "admin"}, nil)
	owner.must(protocol.CodeOK, protocol.OpGroupSetRole, &protocol.GroupSetRoleReq{GroupID: gid, UserID: adm.userID, Role: "admin"}, nil)
	expectAll(protocol.GroupRoleChanged, adm.userID)
	if ev.Role != "admin" {
		t.Fatalf("role event %+v", ev)
	}

	// update: owner or admin; everyone hears the new group.
	notice := "be nice"
	m1.must(protocol.CodeForbidden, protocol.OpGroupUpdate, &protocol.GroupUpdateReq{GroupID: gid, Notice: &notice}, nil)
	outsider.must(protocol.CodeForbidden, protocol.OpGroupUpdate, &protocol.GroupUpdateReq{GroupID: gid, Notice: &notice}, nil)
	adm.must(protocol.CodeBadRequest, protocol.OpGroupUpdate, &protocol.GroupUpdateReq{GroupID: gid}, nil)
	adm.must(protocol.CodeOK, protocol.OpGroupUpdate, &protocol.GroupUpdateReq{GroupID: gid, Notice: &notice}, &g)
	if g.Group.Notice != notice || g.Group.Name != "admins" {
		t.Fatalf("updated %+v", g.Group)
	}
	expectAll(protocol.GroupUpdated, adm.userID)
	if ev.Group == nil || ev.Group.Notice != notice {
		t.Fatalf("update event %+v", ev)
	}

	// mute: owner or admin; an admin cannot mute the owner or an admin.
	until := time.Now().Add(time.Hour).UnixMilli()
	m1.must(protocol.CodeForbidden, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: gid, UserID: m2.userID, Until: until}, nil)
	adm.must(protocol.CodeForbidden, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: gid, UserID: owner.userID, Until: until}, nil)
	adm.must(protocol.CodeNotFound, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: gid, UserID: outsider.userID, Until: until}, nil)
	adm.must(protocol.CodeOK, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: gid, UserID: m1.userID, Until: until}, nil)
	expectAll(protocol.GroupMuted, m1.userID)
	if ev.Until == nil || *ev.Until != until {
		t.Fatalf("mute event %+v", ev)
	}
	var mem protocol.GroupMembersResp
	m2.must(protocol.CodeOK, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: gid}, &mem)
	roles := map[int64]protocol.GroupMember{}
	for _, m := range mem.Members {
		roles[m.Profile.UserID] = m
	}
	if len(mem.Members) != 4 || roles[owner.userID].Role != "owner" || roles[adm.userID].Role != "admin" ||
		roles[m1.userID].Role != "member" || roles[m1.userID].MutedUntil != until || roles[m2.userID].MutedUntil != 0 {
		t.Fatalf("members %+v", mem.Members)
	}
	// A muted member may not send to the group (msg.send and file.offer share the check).
	_, ch := m1.send(protocol.OpMsgSend, &protocol.MsgSendReq{ToGroup: gid, Body: "x", ClientMsgID: "muted"})
	if f := m1.wait(protocol.OpMsgSend, ch); m1.decode(f, nil) != protocol.CodeForbidden || !strings.Contains(string(f.body), "muted") {
		t.Fatalf("muted send: %s", f.body)
	}
	owner.must(protocol.CodeOK, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: gid, UserID: m1.userID, Until: 0}, nil)
	expectAll(protocol.GroupMuted, m1.userID)
	if ev.Until == nil || *ev.Until != 0 {
		t.Fatalf("unmute event %+v", ev)
	}

	// kick: an admin may kick plain members only.
	adm.must(protocol.CodeForbidden, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: owner.userID}, nil)
	m1.must(protocol.CodeForbidden, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: m2.userID}, nil)
	adm.must(protocol.CodeOK, protocol.OpGroupKick, &protocol.GroupKickReq{GroupID: gid, UserID: m2.userID}, nil)
	expectAll(protocol.GroupKicked, m2.userID)
	all = []*tclient{owner, adm, m1}

	// transfer: owner only, to a member; the old owner becomes an admin.
	adm.must(protocol.CodeForbidden, protocol.OpGroupTransfer, &protocol.GroupTransferReq{GroupID: gid, UserID: adm.userID}, nil)
	owner.must(protocol.CodeNotFound, protocol.OpGroupTransfer, &protocol.GroupTransferReq{GroupID: gid, UserID: outsider.userID}, nil)
	owner.must(protocol.CodeOK, protocol.OpGroupTransfer, &protocol.GroupTransferReq{GroupID: gid, UserID: m1.userID}, nil)
	expectAll(protocol.GroupTransferred, m1.userID)
	owner.must(protocol.CodeForbidden, protocol.OpGroupTransfer, &protocol.GroupTransferReq{GroupID: gid, UserID: adm.userID}, nil)
	owner.must(protocol.CodeForbidden, protocol.OpGroupDismiss, &protocol.GroupIDReq{GroupID: gid}, nil)
	m1.must(protocol.CodeOK, protocol.OpGroupMembers, &protocol.GroupIDReq{GroupID: gid}, &mem)
	for _, m := range mem.Members {
		want := map[int64]string{owner.userID: "admin", adm.userID: "admin", m1.userID: "owner"}[m.Profile.UserID]
		if m.Role != want {
			t.Fatalf("after transfer %+v", mem.Members)
		}
	}
	// The old owner, now an admin, cannot mute the other admin.
	owner.must(protocol.CodeForbidden, protocol.OpGroupMute, &protocol.GroupMuteReq{GroupID: gid, UserID: adm.userID, Until: until}, nil)
	m1.must(protocol.CodeOK, protocol.OpGroupDismiss, &protocol.GroupIDReq{GroupID: gid}, nil)
}
