package service

import (
	"context"
	"slices"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// The login backlog: right after a login reply, what the user missed while
// offline (friend notices, then messages above each ack cursor), while live
// pushes are held in the session (Session.push) and released after it.

// backlogWait bounds how long a login worker waits for a slow client to
// drain its queue while sending the backlog.
const backlogWait = 30 * time.Second

// waitRoom blocks the (worker) caller until the connection's queue has room
// for need more bytes below half its limit, so a large backlog never trips
// the slow-consumer limit. false when the connection went away or stalled.
func (s *Server) waitRoom(cs *connState, need int) bool {
	limit := s.cfg.MaxOutbound / 2
	var deadline time.Time
	for q := cs.c.Outbound(); q > 0 && q+need > limit; q = cs.c.Outbound() {
		if cs.closed.Load() || s.ctx.Err() != nil {
			return false
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(backlogWait)
		} else if time.Now().After(deadline) {
			cs.closeNow("login backlog stalled")
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return !cs.closed.Load()
}

// sendBacklog pushes, right after a login reply and in this order, the
// pending friend requests to the user, the answers to its requests not yet
// pushed, and per conversation the messages above its ack cursor (at most
// PushBacklog each). Failures are logged: the client can still pull
// everything with friend.pending and msg.sync.
func (s *Server) sendBacklog(x *call, sess *Session, convs []store.ConvInfo) {
	ctx, me := x.ctx(), sess.userID
	fail := func(what string, err error) {
		s.log.Warn().Int64("user", me).Uint64("conn", x.cs.id).Str("step", what).Err(err).Msg("login backlog")
	}
	if !s.sendFriendNotices(x, sess, fail) {
		return
	}
	convs = slices.Clone(convs)
	for _, c := range convs {
		if c.LastSeq <= c.AckSeq {
			continue
		}
		msgs, err := backlogOf(ctx, s.store, c, s.cfg.Limits.PushBacklog)
		if err != nil {
			fail("messages", err)
			return
		}
		for _, m := range msgs {
			frame := encodePush(protocol.OpMsgPush, &protocol.MsgPush{Message: toMessage(m)})
			if !s.waitRoom(x.cs, len(frame.b)) {
				return
			}
			if err := sess.backlogMsg(frame, m.Conv, m.Seq); err != nil {
				return
			}
		}
	}
}

// backlogOf returns the messages of c above its ack cursor, at most limit.
// When the one message missed is the conversation's newest, the login has
// read it already (ConvInfo.Last): a device that missed one message in
// each of its conversations, a common case, then costs no query per
// conversation (with ten such conversations, a third of a token login's
// server CPU in chatbench's login scenario with friends).
func backlogOf(ctx context.Context, st store.Store, c store.ConvInfo, limit int) ([]store.Message, error) {
	if c.LastSeq == c.AckSeq+1 && c.Last != nil && c.Last.Seq == c.LastSeq && limit > 0 {
		return []store.Message{*c.Last}, nil
	}
	return st.Messages(ctx, c.Conv, c.AckSeq, limit)
}

// backlogMsg writes a backlog message (login worker only).
func (s *Session) backlogMsg(frame outFrame, conv string, seq int64) error {
	if r := s.replay; seq > r.sent[conv] {
		r.sent[conv] = seq
	}
	if s.gated() {
		s.admit(conv, seq)
	}
	return s.conn.write(frame)
}

// noteBacklog records a friend notice the backlog wrote (login worker only).
func (s *Session) noteBacklog(op protocol.Op, request int64) {
	r := s.replay
	if r.notices == nil {
		r.notices = make(map[friendNotice]struct{})
	}
	r.notices[friendNotice{op, request}] = struct{}{}
}

// wroteInBacklog reports whether a held push repeats a friend notice the
// backlog wrote: a request made, or answered, after the session attached
// but before the backlog read the store is in both.
func (s *Session) wroteInBacklog(f outFrame) bool {
	notices := s.replay.notices
	if len(notices) == 0 || (f.op != protocol.OpFriendRequested && f.op != protocol.OpFriendResponded) {
		return false
	}
	_, body, _, err := protocol.Decode(f.b, len(f.b))
	var v struct {
		RequestID int64 `json:"request_id"`
	}
	if err != nil || protocol.Unmarshal(body, &v) != nil {
		return false
	}
	_, dup := notices[friendNotice{f.op, v.RequestID}]
	return dup
}

// endReplay releases the held pushes, skipping messages and friend notices
// the backlog already carried, and switches the session to direct writes.
func (s *Session) endReplay() {
	s.mu.Lock()
	for _, h := range s.replay.held {
		if h.conv != "" && h.seq <= s.replay.sent[h.conv] || s.wroteInBacklog(h.frame) {
			continue
		}
		s.conn.write(h.frame)
	}
	s.replay = nil
	s.replaying.Store(false)
	s.mu.Unlock()
}
