package service

import (
	"testing"

	"github.com/chatd/chatd/protocol"
)

// TestHeldFriendNoticeRepeatingTheBacklog: a friend request made after a
// session attached, but before its backlog read the store, is both written
// by the backlog and held from the live push; the held copy is dropped.
func TestHeldFriendNoticeRepeatingTheBacklog(t *testing.T) {
	s := &Session{}
	requested := func(id int64) outFrame {
		return encodePush(protocol.OpFriendRequested, &protocol.FriendRequestedPush{RequestID: id, From: protocol.Profile{UserID: 1}})
	}
	responded := func(id int64) outFrame {
		return encodePush(protocol.OpFriendResponded, &protocol.FriendRespondedPush{RequestID: id, Accepted: true})
	}
	if s.wroteInBacklog(requested(7)) {
		t.Fatal("a backlog that wrote nothing repeats a notice")
	}
	s.noteBacklog(protocol.OpFriendRequested, 7)
	s.noteBacklog(protocol.OpFriendResponded, 9)
	for _, c := range []struct {
		f    outFrame
		want bool
	}{
		{requested(7), true},
		{requested(8), false},
		{responded(7), false}, // another kind of notice about request 7
		{responded(9), true},
		{encodePush(protocol.OpPresence, &protocol.PresencePush{UserID: 7, Online: true}), false},
	} {
		if got := s.wroteInBacklog(c.f); got != c.want {
			t.Errorf("op %v: wroteInBacklog = %v, want %v", c.f.op, got, c.want)
		}
	}
}
