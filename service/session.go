package service

import (
	"sync"
	"sync/atomic"

	"github.com/chatd/chatd/protocol"
)

// maxHeld bounds the pushes held for a session while its login backlog is
// being sent; past it the session is closed (the client reconnects and gets
// everything from the store).
const maxHeld = 10_000

// Session is one logged-in device: a user on one connection. It is created
// by login and lives until logout, a kick or the connection's close.
//
// Ordering: from the moment a session is attached to the Router until its
// login backlog (friend notices and missed messages) has been written, live
// pushes are held in the session and released after the backlog, minus the
// messages the backlog already carried. Everything else writes straight to
// the connection without a lock.
type Session struct {
	userID    int64
	username  string
	device    string
	conn      *connState
	tokenHash []byte

	profile atomic.Pointer[protocol.Profile]
	// friends caches the user's friend ids (loaded at login, changed by
	// this node's accepts and removals) so a send to a friend needs no
	// store read; a miss falls back to the store. Copy-on-write.
	friends atomic.Pointer[map[int64]struct{}]

	replaying atomic.Bool
	mu        sync.Mutex
	held      []heldFrame
	// sent records, during the backlog, the highest seq written per
	// conversation; only the login worker touches it.
	sent map[string]int64
}

type heldFrame struct {
	frame outFrame
	conv  string // "" for pushes that are not messages
	seq   int64
}

func newSession(c *connState, u protocol.Profile, device string, tokenHash []byte) *Session {
	s := &Session{userID: u.UserID, username: u.Username, device: device, conn: c, tokenHash: tokenHash,
		sent: make(map[string]int64)}
	s.profile.Store(&u)
	s.replaying.Store(true)
	return s
}

// UserID returns the session's user.
func (s *Session) UserID() int64 { return s.userID }

// Device returns the session's device label.
func (s *Session) Device() string { return s.device }

// ConnID returns the id of the session's connection.
func (s *Session) ConnID() uint64 { return s.conn.id }

// Profile returns the user's current profile as the session knows it.
func (s *Session) Profile() protocol.Profile { return *s.profile.Load() }

// push queues an encoded push frame on the session's connection, or holds
// it while the login backlog is being sent; conv and seq name a msg push
// ("" and 0 for other pushes). The frame is retained, not copied, and may be
// shared by many sessions.
func (s *Session) push(frame outFrame, conv string, seq int64) {
	if !s.replaying.Load() {
		s.conn.write(frame)
		return
	}
	s.mu.Lock()
	if s.replaying.Load() {
		if len(s.held) >= maxHeld {
			s.mu.Unlock()
			s.conn.closeNow("too many pushes held during login backlog")
			return
		}
		s.held = append(s.held, heldFrame{frame: frame, conv: conv, seq: seq})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.conn.write(frame)
}

// backlogMsg writes a backlog message (login worker only).
func (s *Session) backlogMsg(frame outFrame, conv string, seq int64) error {
	if seq > s.sent[conv] {
		s.sent[conv] = seq
	}
	return s.conn.write(frame)
}

// endReplay releases the held pushes, skipping messages the backlog
// already carried, and switches the session to direct writes.
func (s *Session) endReplay() {
	s.mu.Lock()
	for _, h := range s.held {
		if h.conv != "" && h.seq <= s.sent[h.conv] {
			continue
		}
		s.conn.write(h.frame)
	}
	s.held = nil
	s.sent = nil
	s.replaying.Store(false)
	s.mu.Unlock()
}

// initFriends fills the friend cache from a store read made after the
// session was attached, unless the cache changed since before the read
// (was): then the read may be stale, and an empty cache (every send asks
// the store) is the safe answer.
func (s *Session) initFriends(was *map[int64]struct{}, ids []int64) {
	m := make(map[int64]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	if !s.friends.CompareAndSwap(was, &m) {
		s.friends.Store(&map[int64]struct{}{})
	}
}

// isFriend reports whether the cache knows id as a friend.
func (s *Session) isFriend(id int64) bool {
	p := s.friends.Load()
	if p == nil {
		return false
	}
	_, ok := (*p)[id]
	return ok
}

// changeFriend adds or removes id in the cache (copy-on-write: a session's
// cache is changed rarely and read on every send).
func (s *Session) changeFriend(id int64, add bool) {
	for {
		old := s.friends.Load()
		m := make(map[int64]struct{})
		if old != nil {
			for k := range *old {
				m[k] = struct{}{}
			}
		}
		if add {
			m[id] = struct{}{}
		} else {
			delete(m, id)
		}
		if s.friends.CompareAndSwap(old, &m) {
			return
		}
	}
}
