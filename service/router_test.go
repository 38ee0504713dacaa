package service

import (
	"sync"
	"testing"

	"github.com/chatd/chatd/protocol"
)

func testSession(user int64, device string) *Session {
	return newSession(&connState{}, protocol.Profile{UserID: user}, device, nil)
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
	rs := newMemRooms()
	a, b := testSession(1, "d"), testSession(2, "d")
	id := rs.Create("r", a)
	if m, err := rs.Join(id, b); err != nil || len(m) != 2 {
		t.Fatalf("join: %v %v", m, err)
	}
	if _, err := rs.Join(id, b); err != ErrAlreadyInRoom {
		t.Fatalf("rejoin: %v", err)
	}
	if _, in, err := rs.Members(id, b); err != nil || !in {
		t.Fatalf("members: %v %v", in, err)
	}
	if rest, err := rs.Leave(id, a); err != nil || len(rest) != 1 {
		t.Fatalf("leave: %v %v", rest, err)
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
