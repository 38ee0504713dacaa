package service

import (
	"testing"

	"github.com/chatd/chatd/protocol"
)

// A room.say to a room of four is one frame queued on the three others,
// each receiving it once, and counted as three frames out.
func TestFanoutRoomSaid(t *testing.T) {
	e := newEnv(t, sqliteBackend)
	a, b, c, d := e.user("fa"), e.user("fb"), e.user("fc"), e.user("fd")
	var cr protocol.RoomCreateResp
	a.must(protocol.CodeOK, protocol.OpRoomCreate, &protocol.RoomCreateReq{Name: "fan"}, &cr)
	joined := []*tclient{a}
	for _, x := range []*tclient{b, c, d} {
		x.must(protocol.CodeOK, protocol.OpRoomJoin, &protocol.RoomIDReq{RoomID: cr.RoomID}, nil)
		for _, y := range joined {
			y.expect(protocol.OpRoomEvent, nil)
		}
		joined = append(joined, x)
	}
	before := promValue(t, `chatd_frames_out_total{op="room.said"}`)
	a.must(protocol.CodeOK, protocol.OpRoomSay, &protocol.RoomSayReq{RoomID: cr.RoomID, Body: "all"}, nil)
	for _, x := range []*tclient{b, c, d} {
		var said protocol.RoomSaidPush
		x.expect(protocol.OpRoomSaid, &said)
		if said.Body != "all" || said.From != a.userID {
			t.Fatalf("room.said %+v", said)
		}
		x.noPush()
	}
	a.noPush()
	if got := promValue(t, `chatd_frames_out_total{op="room.said"}`); got != before+3 {
		t.Fatalf("room.said frames out moved by %v, want 3", got-before)
	}
}

// A session still sending its login backlog holds a fan-out's frame (to be
// released after the backlog) instead of joining the batch; a live one
// joins the batch.
func TestFanoutHoldsForReplayingSession(t *testing.T) {
	live := newSession(&connState{}, protocol.Profile{UserID: 1}, "d", nil, false)
	live.replaying.Store(false)
	replaying := newSession(&connState{}, protocol.Profile{UserID: 2}, "d", nil, false)
	frame := encodePush(protocol.OpPresence, &protocol.PresencePush{UserID: 3, Online: true})
	var f fanout
	f.reset(frame)
	f.add(live, "", 0)
	f.add(replaying, "p:1:2", 7)
	if len(f.conns) != 1 {
		t.Fatalf("batch holds %d conns, want the live session's only", len(f.conns))
	}
	held := replaying.replay.held
	if len(held) != 1 || held[0].conv != "p:1:2" || held[0].seq != 7 || &held[0].frame.b[0] != &frame.b[0] {
		t.Fatalf("held %+v, want the shared frame of p:1:2 seq 7", held)
	}
	if n := len(live.replay.held); n != 0 {
		t.Fatalf("live session held %d frames", n)
	}
}
