package service

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	userID int64
	device string
	conn   *connState
	// token is the SHA-256 of the session's token, replaced by
	// account.password and read by EnforceAccount from the admin listener
	// (an array pointer into the hash's own bytes: no slice header).
	token atomic.Pointer[[32]byte]
	since int64 // login time, unix ms (account.sessions)

	profile atomic.Pointer[protocol.Profile]
	friends friendSet

	replaying atomic.Bool
	mu        sync.Mutex
	replay    *replayState // the login backlog's bookkeeping; nil once it ended (mu)

	// cluster holds what only a cluster needs: set for a session of this
	// node in a cluster (gated) and for a room member that is a session
	// on another node (remote); nil on a single node, whose many sessions
	// need not carry it.
	cluster *clusterSession
}

// replayState is what a session keeps only while its login backlog is
// being sent (backlog.go): the pushes held meanwhile and what the backlog
// wrote, so a held push it repeats is dropped.
type replayState struct {
	held []heldFrame // pushes that arrived during the backlog (Session.mu)
	// sent records the highest seq written per conversation; only the
	// login worker touches it.
	sent map[string]int64
	// notices records the friend notices the backlog wrote, so the same
	// notice held from a live push is not written twice; only the login
	// worker touches it.
	notices map[friendNotice]struct{}
}

// clusterSession is a Session's part in a cluster.
type clusterSession struct {
	// remote names the node of a room member that is a session there
	// (clusterrooms.go); such a Session has no conn.
	remote string
	// For a session of this node (gated), the highest seq it has of each
	// conversation: read at login, then raised by its backlog and msg
	// pushes; a msg push at or below it is not written (reorder.go).
	gated     bool
	dmu       sync.Mutex
	delivered map[string]int64
}

// friendNotice names one friend.requested or friend.responded push.
type friendNotice struct {
	op      protocol.Op
	request int64
}

type heldFrame struct {
	frame outFrame
	conv  string // "" for pushes that are not messages
	seq   int64
}

// newSession makes the session of a login on c; gated: this node is in a
// cluster.
func newSession(c *connState, u protocol.Profile, device string, tokenHash []byte, gated bool) *Session {
	// device comes from the login request, whose decoded strings share
	// one copy of the whole body: a clone keeps 8 bytes, not 150.
	s := &Session{userID: u.UserID, device: strings.Clone(device), conn: c,
		since: time.Now().UnixMilli(), replay: &replayState{sent: make(map[string]int64)}}
	if gated {
		s.cluster = &clusterSession{gated: true}
	}
	s.setTokenHash(tokenHash)
	s.profile.Store(&u)
	s.replaying.Store(true)
	return s
}

// tokenHash returns the hash of the session's current token.
func (s *Session) tokenHash() []byte {
	if h := s.token.Load(); h != nil {
		return h[:]
	}
	return nil
}

// setTokenHash makes h, a SHA-256 (auth.HashToken; nil in tests), the
// session's token hash; the session keeps h's bytes.
func (s *Session) setTokenHash(h []byte) {
	if h == nil {
		s.token.Store(nil)
		return
	}
	s.token.Store((*[32]byte)(h))
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
		r := s.replay
		if len(r.held) >= maxHeld {
			s.mu.Unlock()
			s.conn.closeNow("too many pushes held during login backlog")
			return
		}
		r.held = append(r.held, heldFrame{frame: frame, conv: conv, seq: seq})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.conn.write(frame)
}

// gated reports whether the session is one of this node's in a cluster.
func (s *Session) gated() bool { return s.cluster != nil && s.cluster.gated }

// remoteNode names the node of a room member that is a session there, or
// is "" for a session of this node.
func (s *Session) remoteNode() string {
	if s.cluster == nil {
		return ""
	}
	return s.cluster.remote
}

// admit records that the session gets (or, as the sender, has) seq of
// conv, and reports whether it lacked it (gated only).
func (s *Session) admit(conv string, seq int64) bool {
	c := s.cluster
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if seq <= c.delivered[conv] {
		return false
	}
	if c.delivered == nil {
		c.delivered = make(map[string]int64)
	}
	c.delivered[conv] = seq
	return true
}

// known returns the highest seq of conv the session has, if it knows the
// conversation (gated only).
func (s *Session) known(conv string) (int64, bool) {
	c := s.cluster
	c.dmu.Lock()
	defer c.dmu.Unlock()
	l, ok := c.delivered[conv]
	return l, ok
}
