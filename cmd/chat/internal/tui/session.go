package tui

import (
	"sync"

	tea "charm.land/bubbletea/v2"
)

// session is the event queue of one connection attempt: the client's
// callbacks (pushes, connection state, transfer progress) post into it and
// the model reads it through waitEvent. Every attempt gets its own, so the
// events of a failed attempt (its client closing late, say) can never be
// taken for those of the session that replaced it.
type session struct {
	events chan tea.Msg
	// done is closed when the session ends, releasing client callbacks
	// that wait on a full queue nobody reads any more.
	done chan struct{}
	once sync.Once
}

func newSession() *session {
	return &session{events: make(chan tea.Msg, 1024), done: make(chan struct{})}
}

// post queues msg, waiting while the queue is full (backpressure, nothing
// dropped) until the UI catches up or the session ends.
func (s *session) post(msg tea.Msg) {
	select {
	case s.events <- msg:
	case <-s.done:
	}
}

// end releases the callbacks of a session that is over; it may be called
// more than once.
func (s *session) end() { s.once.Do(func() { close(s.done) }) }

// sessionEvent is one event read from a session's queue: the model takes it
// only while that session is the current one.
type sessionEvent struct {
	sess *session
	msg  tea.Msg
}

// waitEvent delivers the next event of the current session as a message.
func (m *Model) waitEvent() tea.Cmd {
	s := m.sess
	return func() tea.Msg { return sessionEvent{sess: s, msg: <-s.events} }
}
