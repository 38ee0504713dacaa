package client

import (
	"sync"

	"github.com/chatd/chatd/protocol"
)

// Push is one server push. Body holds the decoded body: a pointer to the
// protocol push struct for the op (*protocol.MsgPush for OpMsgPush,
// *protocol.PresencePush for OpPresence, ...), *RoomMedia for
// OpRoomMediaPush, or the raw body ([]byte) for an op this version does not
// know.
type Push struct {
	Op   protocol.Op
	Body any
}

// RoomMedia is the decoded binary room.media push.
type RoomMedia struct {
	RoomID  int64
	From    int64
	Payload []byte
}

// handlePush decodes a push, drops message pushes already delivered, and
// hands the rest to the application (blocking on a full channel).
func (c *Client) handlePush(op protocol.Op, body []byte) {
	var v any
	switch {
	case op == protocol.OpRoomMediaPush:
		room, from, payload, err := protocol.ParseRoomMediaPush(body)
		if err != nil {
			c.log.Debug().Err(err).Msg("bad room.media push dropped")
			return
		}
		v = &RoomMedia{RoomID: room, From: from, Payload: payload}
	default:
		b := protocol.NewPush(op)
		if b == nil {
			v = body
			break
		}
		if err := protocol.DecodeBody(body, b); err != nil {
			c.log.Debug().Err(err).Stringer("op", op).Msg("undecodable push dropped")
			return
		}
		v = b
	}
	switch p := v.(type) {
	case *protocol.MsgPush:
		if !c.takeMsg(&p.Message) {
			return
		}
	case *protocol.KickedPush:
		c.mu.Lock()
		c.kicked = true
		c.mu.Unlock()
	}
	c.emit(Push{Op: op, Body: v})
}

// takeMsg reports whether a pushed or gap-filled message is new to the
// application, marking it delivered.
func (c *Client) takeMsg(m *protocol.Message) bool {
	if c.ownInflight(m) {
		// Our own send, stored before the connection broke and pushed
		// back in the re-login backlog: the retried send returns it
		// (same seq), so it is not shown twice.
		c.seen.mark(m.Conv, m.Seq)
		return false
	}
	// false: already delivered before a reconnect
	return c.seen.mark(m.Conv, m.Seq)
}

// emitFilled hands the messages of a gap-filling msg.sync reply (see
// fillGaps) to the application as msg pushes, minus those it already has.
// It runs on the reader goroutine, before the reply is passed on.
func (c *Client) emitFilled(body []byte) {
	var r protocol.MsgSyncResp
	if protocol.Unmarshal(body, &r) != nil || r.Code != protocol.CodeOK {
		return
	}
	for i := range r.Messages {
		m := r.Messages[i]
		if c.takeMsg(&m) {
			c.emit(Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: m}})
		}
	}
}

// ownInflight reports whether m is a message this client is still
// sending.
func (c *Client) ownInflight(m *protocol.Message) bool {
	if m.ClientMsgID == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.inflight[m.ClientMsgID]
	return ok && c.session != nil && m.From == c.session.UserID
}

// emit delivers a push to the callback or the channel.
func (c *Client) emit(p Push) {
	if c.opts.OnPush != nil {
		c.opts.OnPush(p)
		return
	}
	select {
	case c.pushes <- p:
	case <-c.closeCh:
	}
}

// seqTracker remembers, per conversation, which message seqs this client has
// delivered to the application: every seq up to base, plus the seqs above
// it in above. It makes delivery exactly-once across reconnects, when the
// server pushes again everything above the ack cursor.
type seqTracker struct {
	mu    sync.Mutex
	convs map[string]*convSeen
}

type convSeen struct {
	base  int64
	above map[int64]struct{}
}

func (t *seqTracker) get(conv string) *convSeen {
	if t.convs == nil {
		t.convs = make(map[string]*convSeen)
	}
	cs := t.convs[conv]
	if cs == nil {
		cs = &convSeen{}
		t.convs[conv] = cs
	}
	return cs
}

// compact folds the seqs just above base into base.
func (cs *convSeen) compact() {
	for {
		if _, ok := cs.above[cs.base+1]; !ok {
			return
		}
		delete(cs.above, cs.base+1)
		cs.base++
	}
}

// seed records that everything up to ack is handled (the server's ack
// cursor: the application acked it, so it never needs it pushed again).
func (t *seqTracker) seed(conv string, ack int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.get(conv)
	if ack <= cs.base {
		return
	}
	cs.base = ack
	for s := range cs.above {
		if s <= ack {
			delete(cs.above, s)
		}
	}
	cs.compact()
}

// mark records seq as delivered and reports whether it was new.
func (t *seqTracker) mark(conv string, seq int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.get(conv)
	if seq <= cs.base {
		return false
	}
	if _, dup := cs.above[seq]; dup {
		return false
	}
	if seq == cs.base+1 {
		cs.base = seq
		cs.compact()
		return true
	}
	if cs.above == nil {
		cs.above = make(map[int64]struct{})
	}
	cs.above[seq] = struct{}{}
	return true
}

// seen reports whether seq has been delivered.
func (t *seqTracker) seen(conv string, seq int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	cs := t.get(conv)
	if seq <= cs.base {
		return true
	}
	_, ok := cs.above[seq]
	return ok
}
