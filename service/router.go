package service

import (
	"sync"
	"sync/atomic"
)

// Router knows which sessions are online: the presence and routing state of
// one node. The in-memory implementation is the default; a multi-node
// version (several chatd processes sharing MySQL and a message bus) can
// replace it without touching the business rules.
type Router interface {
	// Attach adds s. When the user already had a session on s's device,
	// that session is removed and returned as replaced (the caller kicks
	// it). first is true when s is the user's only session now.
	Attach(s *Session) (replaced *Session, first bool)
	// Detach removes s if it is still attached; removed says whether it
	// was, last whether the user has no session left.
	Detach(s *Session) (removed, last bool)
	// Sessions returns the user's sessions. The slice is shared and must
	// not be modified.
	Sessions(userID int64) []*Session
	// Online reports whether the user has at least one session.
	Online(userID int64) bool
	// Count returns the number of sessions.
	Count() int
}

// memRouter is the in-memory Router. Reads take no lock: each user has an
// entry in a sync.Map (lock-free loads) holding an atomically swapped,
// copy-on-write slice of sessions, so a fan-out to 1,000 members is 1,000
// atomic loads. Attach and Detach lock only the user's entry.
type memRouter struct {
	users sync.Map // int64 -> *userEntry
	count atomic.Int64
}

type userEntry struct {
	mu       sync.Mutex
	dead     bool // removed from the map; Attach must retry with a new entry
	sessions atomic.Pointer[[]*Session]
}

func newMemRouter() *memRouter { return &memRouter{} }

// Attach implements Router.
func (r *memRouter) Attach(s *Session) (replaced *Session, first bool) {
	for {
		v, _ := r.users.LoadOrStore(s.userID, &userEntry{})
		e := v.(*userEntry)
		e.mu.Lock()
		if e.dead {
			e.mu.Unlock()
			continue
		}
		var cur []*Session
		if p := e.sessions.Load(); p != nil {
			cur = *p
		}
		next := make([]*Session, 0, len(cur)+1)
		for _, o := range cur {
			if o.device == s.device {
				replaced = o
				continue
			}
			next = append(next, o)
		}
		next = append(next, s)
		e.sessions.Store(&next)
		e.mu.Unlock()
		if replaced == nil {
			r.count.Add(1)
		}
		return replaced, len(next) == 1 && replaced == nil
	}
}

// Detach implements Router.
func (r *memRouter) Detach(s *Session) (removed, last bool) {
	v, ok := r.users.Load(s.userID)
	if !ok {
		return false, false
	}
	e := v.(*userEntry)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead {
		return false, false
	}
	var cur []*Session
	if p := e.sessions.Load(); p != nil {
		cur = *p
	}
	next := make([]*Session, 0, len(cur))
	for _, o := range cur {
		if o == s {
			removed = true
			continue
		}
		next = append(next, o)
	}
	if !removed {
		return false, false
	}
	r.count.Add(-1)
	if len(next) == 0 {
		e.dead = true
		e.sessions.Store(nil)
		r.users.Delete(s.userID)
		return true, true
	}
	e.sessions.Store(&next)
	return true, false
}

// Sessions implements Router.
func (r *memRouter) Sessions(userID int64) []*Session {
	v, ok := r.users.Load(userID)
	if !ok {
		return nil
	}
	if p := v.(*userEntry).sessions.Load(); p != nil {
		return *p
	}
	return nil
}

// Online implements Router.
func (r *memRouter) Online(userID int64) bool { return len(r.Sessions(userID)) > 0 }

// Count implements Router.
func (r *memRouter) Count() int { return int(r.count.Load()) }
