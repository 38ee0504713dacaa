package service

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/chatd/chatd/store"
)

// groupCache holds each group's member ids as an immutable sorted slice
// behind an atomic pointer: a fan-out to a 1,000-member group is one atomic
// load. Changes copy the slice (copy-on-write) under the group's mutex,
// which also serialises the first load from the store, so a load racing a
// change can never leave a stale set behind. This is one node's cache; a
// multi-node version would invalidate it from the message bus.
type groupCache struct {
	st     store.Store
	groups sync.Map // int64 -> *groupEntry
	// changed, when set, is called after add, remove and drop (outside
	// the entry's lock): a cluster tells the other nodes' caches.
	changed func(id int64)
}

type groupEntry struct {
	mu      sync.Mutex
	members atomic.Pointer[[]int64] // nil until loaded
}

func newGroupCache(st store.Store) *groupCache { return &groupCache{st: st} }

func (g *groupCache) entry(id int64) *groupEntry {
	v, ok := g.groups.Load(id)
	if !ok {
		v, _ = g.groups.LoadOrStore(id, &groupEntry{})
	}
	return v.(*groupEntry)
}

// members returns the group's member ids, ascending (shared; do not
// modify). store.ErrNotFound when the group does not exist.
func (g *groupCache) members(ctx context.Context, id int64) ([]int64, error) {
	e := g.entry(id)
	if p := e.members.Load(); p != nil {
		return *p, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.members.Load(); p != nil {
		return *p, nil
	}
	ids, err := g.st.GroupMembers(ctx, id)
	if err != nil {
		g.groups.Delete(id)
		return nil, err
	}
	slices.Sort(ids)
	e.members.Store(&ids)
	return ids, nil
}

// isMember reports whether user is in the cached member set.
func (g *groupCache) isMember(ctx context.Context, id, user int64) (bool, error) {
	ids, err := g.members(ctx, id)
	if err != nil {
		return false, err
	}
	_, ok := slices.BinarySearch(ids, user)
	return ok, nil
}

// set records a group's full member set (after create).
func (g *groupCache) set(id int64, ids []int64) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	e := g.entry(id)
	e.mu.Lock()
	e.members.Store(&ids)
	e.mu.Unlock()
}

// add records that user joined (after the store committed it).
func (g *groupCache) add(id, user int64) {
	g.addLocal(id, user)
	g.notify(id)
}

func (g *groupCache) notify(id int64) {
	if g.changed != nil {
		g.changed(id)
	}
}

// invalidate forgets a group's loaded members (another node changed
// them): the next read loads them from the store. Taking the entry's lock
// waits for a load in progress, so a load that read the old set cannot
// store it after this.
func (g *groupCache) invalidate(id int64) {
	v, ok := g.groups.Load(id)
	if !ok {
		return
	}
	e := v.(*groupEntry)
	e.mu.Lock()
	e.members.Store(nil)
	e.mu.Unlock()
}

func (g *groupCache) addLocal(id, user int64) {
	e := g.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.members.Load()
	if p == nil {
		return // not loaded: the next load reads the store
	}
	i, ok := slices.BinarySearch(*p, user)
	if ok {
		return
	}
	next := slices.Insert(slices.Clone(*p), i, user)
	e.members.Store(&next)
}

// remove records that user left or was kicked.
func (g *groupCache) remove(id, user int64) {
	g.removeLocal(id, user)
	g.notify(id)
}

func (g *groupCache) removeLocal(id, user int64) {
	e := g.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.members.Load()
	if p == nil {
		return
	}
	i, ok := slices.BinarySearch(*p, user)
	if !ok {
		return
	}
	next := slices.Delete(slices.Clone(*p), i, i+1)
	e.members.Store(&next)
}

// drop forgets a dismissed group.
func (g *groupCache) drop(id int64) {
	e := g.entry(id)
	e.mu.Lock()
	empty := []int64{}
	e.members.Store(&empty)
	e.mu.Unlock()
	g.groups.Delete(id)
	g.notify(id)
}
