package service

import (
	"bytes"
	"testing"

	"github.com/chatd/chatd/protocol"
)

var _ = register("Rooms", testRooms)

func testRooms(t *testing.T, b backend) {
	e := newEnv(t, b)
	a, bb, c := e.user("ra"), e.user("rb"), e.user("rc")
	var cr protocol.RoomCreateResp
	a.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "standup"}, &cr)
	rid := cr.RoomID
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
