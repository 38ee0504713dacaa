package service

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

var _ = register("Rooms", testRooms)

func testRooms(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, c := e.user("ra"), e.user("rb"), e.user("rc")
	var cr protocol.RoomCreateResp
	a.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "standup"}, &cr)
	rid := cr.RoomID
	if cr.Room == nil || *cr.Room != (protocol.Room{RoomID: rid, Name: "standup", Owner: a.userID, MemberCount: 1}) {
		t.Fatalf("create reply %+v", cr)
	}
	var jr protocol.RoomJoinResp
	bb.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, &jr)
	if len(jr.Members) != 2 {
		t.Fatalf("join members %+v", jr)
	}
	var ev protocol.RoomEventPush
	a.expect(protocol.OpRoomEvent, &ev)
	if ev.RoomID != rid || ev.Kind != "joined" || ev.UserID != bb.userID {
		t.Fatalf("room.event %+v", ev)
	}
	bb.must(protocol.CodeAlreadyExists, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	c.must(protocol.CodeNotFound, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: 1 << 40}, nil)
	c.must(protocol.CodeForbidden, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "x"}, nil)
	c.must(protocol.CodeNotFound, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: 1 << 40, Body: "x"}, nil)
	c.must(protocol.CodeForbidden, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)

	a.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: rid, Body: "hello room"}, nil)
	var said protocol.RoomSaidPush
	bb.expect(protocol.OpRoomSaid, &said)
	if said.RoomID != rid || said.From != a.userID || said.Body != "hello room" || said.Ts <= 0 {
		t.Fatalf("room.said %+v", said)
	}
	a.noPush()

	// Media: relayed to the others, no reply; bad media dropped silently.
	payload := []byte("frame-of-video")
	a.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, payload))
	f := bb.expect(protocol.OpRoomMediaPush, nil)
	room, from, got, err := protocol.ParseRoomMediaPush(f.body)
	if err != nil || room != rid || from != a.userID || !bytes.Equal(got, payload) {
		t.Fatalf("media push room %d from %d %q %v", room, from, got, err)
	}
	c.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, payload))                 // not a member
	a.send(protocol.OpRoomMedia, protocol.AppendRoomMedia(nil, rid, make([]byte, 256<<10+1))) // too large
	a.send(protocol.OpRoomMedia, []byte{1, 2})                                                // malformed
	bb.noPush()
	a.noPush()

	// Leaving, and a closed connection leaving; the last one out ends the room.
	bb.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	a.expect(protocol.OpRoomEvent, &ev)
	if ev.Kind != "left" || ev.UserID != bb.userID {
		t.Fatalf("left event %+v", ev)
	}
	c.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
	a.expect(protocol.OpRoomEvent, nil)
	a.nc.Close()
	c.expect(protocol.OpRoomEvent, &ev)
	if ev.Kind != "left" || ev.UserID != a.userID {
		t.Fatalf("close event %+v", ev)
	}
	c.must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	bb.must(protocol.CodeNotFound, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, nil)
}

var _ = register("RoomsAtScale", testRoomsAtScale)

// roomIDs lists the user_ids of profiles.
func roomIDs(ps []protocol.Profile) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.UserID
	}
	return ids
}

// awaitCount reads c's room.events up to the count event carrying want:
// all must be counts, rising or falling monotonically toward want.
func awaitCount(t *testing.T, c *tclient, rid int64, want int) int {
	t.Helper()
	events, last := 0, -1
	for {
		var ev protocol.RoomEventPush
		c.expect(protocol.OpRoomEvent, &ev)
		events++
		if ev.RoomID != rid || ev.Kind != protocol.RoomCount || ev.UserID != 0 || ev.MemberCount == last {
			t.Fatalf("want count events toward %d, got %+v after %d", want, ev, last)
		}
		if last = ev.MemberCount; last == want {
			return events
		}
	}
}

// testRoomsAtScale runs section 16 with an announce threshold of 3 and join
// pages of 2, so a few users exercise paging and count events.
func testRoomsAtScale(t *testing.T, b backend) {
	e := newEnv(t, b, func(c *Config) { c.RoomAnnounceMax = 3; c.Limits.RoomJoinMembers = 2 })
	u := make([]*tclient, 6)
	for i := range u {
		u[i] = e.user("rs")
	}
	ids := make([]int64, len(u))
	for i, c := range u {
		ids[i] = c.userID
	}
	slices.Sort(ids)
	var cr protocol.RoomCreateResp
	u[0].must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{}, &cr)
	rid := cr.RoomID
	join := func(c *tclient, count int) protocol.RoomJoinResp {
		t.Helper()
		var jr protocol.RoomJoinResp
		c.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: rid}, &jr)
		if jr.Room == nil || jr.Room.RoomID != rid || jr.Room.Owner != u[0].userID || jr.Room.MemberCount != count {
			t.Fatalf("join reply room %+v, want %d members", jr.Room, count)
		}
		return jr
	}
	joined := func(c *tclient, who *tclient, kind string) {
		t.Helper()
		var ev protocol.RoomEventPush
		c.expect(protocol.OpRoomEvent, &ev)
		if ev.RoomID != rid || ev.Kind != kind || ev.UserID != who.userID || ev.MemberCount != 0 {
			t.Fatalf("want %s of %d, got %+v", kind, who.userID, ev)
		}
	}

	// At most at the threshold: joined events, and join pages of 2.
	if jr := join(u[1], 2); jr.More || len(jr.Members) != 2 {
		t.Fatalf("join of 2: %+v", jr)
	}
	joined(u[0], u[1], protocol.RoomJoined)
	jr := join(u[2], 3)
	want := slices.Sorted(slices.Values([]int64{u[0].userID, u[1].userID, u[2].userID}))
	if !jr.More || !slices.Equal(roomIDs(jr.Members), want[:2]) {
		t.Fatalf("join of 3: %+v, want the first of %v and more", jr, want)
	}
	joined(u[0], u[2], protocol.RoomJoined)
	joined(u[1], u[2], protocol.RoomJoined)

	// room.members pages above after_user_id; outsiders are refused.
	var mr protocol.RoomMembersResp
	u[2].must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid, Limit: 2}, &mr)
	if !mr.More || !slices.Equal(roomIDs(mr.Members), want[:2]) {
		t.Fatalf("members page 1: %+v", mr)
	}
	u[2].must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid, AfterUserID: want[1], Limit: 2}, &mr)
	if mr.More || !slices.Equal(roomIDs(mr.Members), want[2:]) {
		t.Fatalf("members page 2: %+v", mr)
	}
	u[0].must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid}, &mr)
	if mr.More || !slices.Equal(roomIDs(mr.Members), want) {
		t.Fatalf("members default limit: %+v", mr)
	}
	u[3].must(protocol.CodeForbidden, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid}, nil)
	u[3].must(protocol.CodeNotFound, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: 1 << 40}, nil)

	// Above it: no joined events, coalesced counts ending on the final one.
	start := time.Now()
	join(u[3], 4)
	join(u[4], 5)
	join(u[5], 6)
	elapsed := time.Since(start)
	if n := awaitCount(t, u[0], rid, 6); n > 2+int(elapsed/time.Second) {
		t.Fatalf("%d count events for 3 joins in %v: not coalesced", n, elapsed)
	}
	awaitCount(t, u[5], rid, 6)
	u[4].must(protocol.CodeOK, protocol.OpRoomMembers, &protocol.RoomMembersReq{RoomID: rid, AfterUserID: ids[3]}, &mr)
	if mr.More || !slices.Equal(roomIDs(mr.Members), ids[4:]) {
		t.Fatalf("members after %d: %+v", ids[3], mr)
	}

	// Leaving down to the threshold: counts, then left.
	u[5].must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	u[4].must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	awaitCount(t, u[0], rid, 4)
	u[3].must(protocol.CodeOK, protocol.OpRoomLeave, &protocol.RoomIDReq{RoomID: rid}, nil)
	joined(u[0], u[3], protocol.RoomLeft)
}
