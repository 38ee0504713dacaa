package service

import (
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

func testSession(user int64, device string) *Session {
	return newSession(&connState{}, protocol.Profile{UserID: user}, device, nil, false)
}

func TestRouterAttachDetach(t *testing.T) {
	r := newMemRouter()
	phone := testSession(1, "phone")
	if rep, first := r.Attach(phone); rep != nil || !first {
		t.Fatalf("first attach: replaced %v first %v", rep, first)
	}
	laptop := testSession(1, "laptop")
	if rep, first := r.Attach(laptop); rep != nil || first {
		t.Fatalf("second device: replaced %v first %v", rep, first)
	}
	phone2 := testSession(1, "phone")
	if rep, first := r.Attach(phone2); rep != phone || first {
		t.Fatalf("same device: replaced %v first %v", rep, first)
	}
	if r.Count() != 2 || len(r.Sessions(1)) != 2 || !r.Online(1) || r.Online(2) {
		t.Fatalf("count %d sessions %d", r.Count(), len(r.Sessions(1)))
	}
	if removed, _ := r.Detach(phone); removed {
		t.Fatal("detached a replaced session")
	}
	if removed, last := r.Detach(laptop); !removed || last {
		t.Fatalf("detach laptop: removed %v last %v", removed, last)
	}
	if removed, last := r.Detach(phone2); !removed || !last {
		t.Fatalf("detach last: removed %v last %v", removed, last)
	}
	if r.Count() != 0 || r.Online(1) {
		t.Fatal("still online")
	}
}

func TestRouterConcurrent(t *testing.T) {
	r := newMemRouter()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				s := testSession(int64(i%7+1), string(rune('a'+g)))
				r.Attach(s)
				_ = r.Sessions(int64(i%7 + 1))
				r.Detach(s)
			}
		})
	}
	wg.Wait()
	if r.Count() != 0 {
		t.Fatalf("count %d after balanced attach/detach", r.Count())
	}
	for u := int64(1); u <= 7; u++ {
		if r.Online(u) {
			t.Fatalf("user %d online", u)
		}
	}
}

func TestRoomsLifecycle(t *testing.T) {
	rs := newMemRooms(500, nil)
	a, b := testSession(1, "d"), testSession(2, "d")
	rm := rs.Create("r", a)
	id := rm.RoomID
	if ch, err := rs.Join(id, b); err != nil || len(ch.Members) != 2 || ch.Room.MemberCount != 2 || !ch.Announce {
		t.Fatalf("join: %+v %v", ch, err)
	}
	if _, err := rs.Join(id, b); err != ErrAlreadyInRoom {
		t.Fatalf("rejoin: %v", err)
	}
	if _, in, err := rs.Members(id, b); err != nil || !in {
		t.Fatalf("members: %v %v", in, err)
	}
	if ch, err := rs.Leave(id, a); err != nil || len(ch.Members) != 1 {
		t.Fatalf("leave: %+v %v", ch, err)
	}
	if _, err := rs.Leave(id, a); err != ErrNotInRoom {
		t.Fatalf("leave twice: %v", err)
	}
	if _, err := rs.Leave(id, b); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Join(id, a); err != ErrRoomNotFound {
		t.Fatalf("join an empty room: %v", err)
	}
}

// TestRoomCountCoalesced fills a room far above the threshold at memory
// speed: the count events are at most one per interval, keep order, and end
// on the final count; a user's second session does not count twice.
func TestRoomCountCoalesced(t *testing.T) {
	got := make(chan int, 1000)
	rs := newMemRooms(1, func(_ int64, n int, _ []*Session) { got <- n })
	rs.interval = 50 * time.Millisecond
	id := rs.Create("r", testSession(1, "a")).RoomID
	if ch, err := rs.Join(id, testSession(1, "b")); err != nil || ch.Room.MemberCount != 1 || !ch.Announce {
		t.Fatalf("second session: %+v %v", ch, err)
	}
	start := time.Now()
	for u := int64(2); u <= 300; u++ {
		if ch, err := rs.Join(id, testSession(u, "a")); err != nil || ch.Announce || ch.Room.MemberCount != int(u) {
			t.Fatalf("join %d: %+v %v", u, ch, err)
		}
	}
	elapsed := time.Since(start)
	events, last := 0, 0
	for last != 300 {
		select {
		case n := <-got:
			if n <= last {
				t.Fatalf("count %d after %d", n, last)
			}
			events, last = events+1, n
		case <-time.After(10 * time.Second):
			t.Fatalf("no final count; last %d", last)
		}
	}
	if max := 2 + int(elapsed/rs.interval); events > max {
		t.Fatalf("%d count events in %v, want at most %d", events, elapsed, max)
	}
	if p, more, err := rs.Page(id, testSession(7, "x"), 0, 10); err != ErrNotInRoom {
		t.Fatalf("page by an outsider: %v %v %v", p, more, err)
	}
}

func TestGroupCacheCopyOnWrite(t *testing.T) {
	g := newGroupCache(nil)
	g.set(1, []int64{3, 1, 2, 2})
	before, _ := g.members(t.Context(), 1)
	g.add(1, 5)
	g.remove(1, 2)
	after, _ := g.members(t.Context(), 1)
	if len(before) != 3 || before[1] != 2 {
		t.Fatalf("snapshot changed under a reader: %v", before)
	}
	if len(after) != 3 || after[0] != 1 || after[1] != 3 || after[2] != 5 {
		t.Fatalf("after add/remove: %v", after)
	}
	if ok, _ := g.isMember(t.Context(), 1, 5); !ok {
		t.Fatal("5 not a member")
	}
}
