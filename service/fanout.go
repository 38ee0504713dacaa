package service

import (
	"github.com/chatd/chatd/reactor"
)

// fanout queues one encoded frame on many sessions with reactor.WriteBatch:
// one queue lock per loop per chunk of receivers instead of one per
// receiver. Sessions still sending their login backlog go through their
// hold (Session.push) at once, so the backlog-first order is kept; the
// others are collected and written by flush. Per connection, a goroutine's
// writes keep their order as long as it calls flush before its next write
// (a reply, or the next fan-out), which every caller does.
type fanout struct {
	frame outFrame
	conns []*reactor.Conn
	buf   [16]*reactor.Conn // backing for small fan-outs (1:1 chat)
}

// reset prepares f for a new frame.
func (f *fanout) reset(frame outFrame) {
	f.frame = frame
	f.conns = f.buf[:0]
}

// add queues the frame for sess; conv and seq name a msg push ("" and 0
// for other pushes) so a held copy can be dropped if the backlog carried it.
func (f *fanout) add(sess *Session, conv string, seq int64) {
	if sess.replaying.Load() {
		sess.push(f.frame, conv, seq)
		return
	}
	f.conns = append(f.conns, sess.conn.c)
}

// flush writes the frame to every collected connection and counts the
// frames out. It returns how many connections were collected.
func (f *fanout) flush() int {
	n := len(f.conns)
	switch n {
	case 0:
		return 0
	case 1:
		// One receiver: a plain write, without WriteBatch's per-loop buckets.
		_ = f.conns[0].Write(f.frame.b)
	default:
		reactor.WriteBatch(f.frame.b, f.conns)
	}
	framesOut.get(f.frame.op).Add(float64(n))
	clear(f.conns)
	f.conns = f.conns[:0]
	return n
}

// pushToUser writes a frame to every session of user, on any node, and
// reports whether there was one.
func (s *Server) pushToUser(user int64, frame outFrame) bool {
	n, remote := s.pushUsers([]int64{user}, frame, "", 0, nil)
	return n > 0 || remote
}
