package service

import (
	"testing"

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
