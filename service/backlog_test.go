package service

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// TestHeldFriendNoticeRepeatingTheBacklog: a friend request made after a
// session attached, but before its backlog read the store, is both written
// by the backlog and held from the live push; the held copy is dropped.
func TestHeldFriendNoticeRepeatingTheBacklog(t *testing.T) {
	s := &Session{replay: &replayState{}}
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

// countingStore counts Messages calls per conversation.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingStore) Messages(ctx context.Context, conv string, afterSeq int64, limit int) ([]store.Message, error) {
	c.mu.Lock()
	c.reads[conv]++
	c.mu.Unlock()
	return c.Store.Messages(ctx, conv, afterSeq, limit)
}

// TestLoginBacklogReusesTheLastMessage: a conversation whose only missed
// message is its newest gets it in the backlog from the login's
// conversation list, without a query of its own, and exactly as sent; one
// with more missed messages is read as before.
func TestLoginBacklogReusesTheLastMessage(t *testing.T) {
	counted := &countingStore{reads: map[string]int{}}
	e := newEnv(t, sqliteBackend, func(c *Config) { counted.Store = c.Store; c.Store = counted })
	a, c, b := e.user("la"), e.user("lc"), e.user("lb")
	befriend(t, a, b)
	befriend(t, c, b)
	b.nc.Close()
	a.waitFor(protocol.OpPresence, nil)
	c.waitFor(protocol.OpPresence, nil)
	one := send(t, a, &protocol.MsgSendReq{ToUser: b.userID, Body: "only", ClientMsgID: "o1"})
	var many []protocol.MsgSendResp
	for i := range 3 {
		many = append(many, send(t, c, &protocol.MsgSendReq{ToUser: b.userID, Body: fmt.Sprint("m", i), ClientMsgID: fmt.Sprint("m", i)}))
	}
	counted.mu.Lock()
	clear(counted.reads)
	counted.mu.Unlock()

	b2, _ := e.login(lr0(t, e, b.userID), "")
	got := map[string][]protocol.Message{}
	for range 4 {
		var mp protocol.MsgPush
		b2.expect(protocol.OpMsgPush, &mp)
		got[mp.Message.Conv] = append(got[mp.Message.Conv], mp.Message)
	}
	b2.noPush()
	if m := got[one.Conv]; len(m) != 1 || m[0].MsgID != one.MsgID || m[0].Seq != one.Seq || m[0].Body != "only" ||
		m[0].From != a.userID || m[0].ClientMsgID != "o1" || m[0].Ts != one.Ts {
		t.Fatalf("the one missed message came as %+v, want msg %d seq %d %q from %d", m, one.MsgID, one.Seq, "only", a.userID)
	}
	if m := got[many[0].Conv]; len(m) != 3 || m[0].Seq != many[0].Seq || m[2].Body != "m2" {
		t.Fatalf("the three missed messages came as %+v", m)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if counted.reads[one.Conv] != 0 || counted.reads[many[0].Conv] != 1 {
		t.Fatalf("Messages read per conversation: %v; want none for %s and one for %s", counted.reads, one.Conv, many[0].Conv)
	}
}
