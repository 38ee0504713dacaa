package service

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/reactor"
	"golang.org/x/time/rate"
)

// connState is the service's per-connection state, stored as the reactor
// Conn's context. Fields are written by the connection's loop or by its
// pool tasks (which run one at a time in order); the atomics are read from
// anywhere (fan-out, close).
type connState struct {
	s      *Server
	c      *reactor.Conn
	id     uint64
	remote string // ip:port of the peer, for kicked.addr and logs
	// limiter limits messages (RateMessage ops), typing msg.typing
	// (RateTyping) apart from them. Each is made on the first op of its
	// class: many connections never send one, and a limiter is 80 bytes
	// of every idle session. Loop goroutine only.
	limiter, typing *rate.Limiter
	// throttled is set from the first refusal by limiter until a message
	// passes again, so a flood logs one line. Loop goroutine only.
	throttled bool

	// inflight counts this connection's requests handed to the pool and not
	// yet finished. While it is non-zero, requests whose answer depends on
	// session state go through the pool too, so pipelined requests see the
	// effects of earlier ones (a login, then a request needing it).
	inflight atomic.Int32
	sess     atomic.Pointer[Session]
	closed   atomic.Bool

	roomsMu sync.Mutex
	rooms   map[int64]struct{}
}

// ip returns the peer's address, the failed-login limiter's key: the host
// part of remote, found when a login needs it rather than kept by every
// connection (a string header is 16 bytes of each).
func (cs *connState) ip() string {
	if h, _, err := net.SplitHostPort(cs.remote); err == nil {
		return h
	}
	return cs.remote
}

func (s *Server) newConnState(c *reactor.Conn) *connState {
	cs := &connState{s: s, c: c, id: c.ID()}
	if a := c.RemoteAddr(); a != nil {
		cs.remote = a.String()
	}
	return cs
}

// outFrame is an encoded frame with its op, so counting it needs no look
// inside the bytes.
type outFrame struct {
	op protocol.Op
	b  []byte
}

// write queues an encoded frame. Errors (closed, slow consumer) need no
// handling beyond the reactor's: the connection is closing either way.
func (cs *connState) write(f outFrame) error {
	framesOut.get(f.op).Inc()
	return cs.c.Write(f.b)
}

// closeNow closes the connection after its queued output.
func (cs *connState) closeNow(reason string) {
	if cs.c.Close() == nil {
		cs.s.log.Debug().Uint64("conn", cs.id).Str("reason", reason).Msg("closing connection")
	}
}

func (cs *connState) session() *Session { return cs.sess.Load() }

func (cs *connState) joinRoom(id int64) {
	cs.roomsMu.Lock()
	if cs.rooms == nil {
		cs.rooms = make(map[int64]struct{})
	}
	cs.rooms[id] = struct{}{}
	cs.roomsMu.Unlock()
}

func (cs *connState) leftRoom(id int64) {
	cs.roomsMu.Lock()
	delete(cs.rooms, id)
	cs.roomsMu.Unlock()
}

// takeRooms empties and returns the rooms this connection is in.
func (cs *connState) takeRooms() []int64 {
	cs.roomsMu.Lock()
	defer cs.roomsMu.Unlock()
	out := make([]int64, 0, len(cs.rooms))
	for id := range cs.rooms {
		out = append(out, id)
	}
	cs.rooms = nil
	return out
}

// handler adapts the Server to reactor.Handler; every method runs on a loop
// goroutine and never blocks.
type handler struct{ s *Server }

// OnOpen implements reactor.Handler.
func (h handler) OnOpen(c *reactor.Conn) {
	cs := h.s.newConnState(c)
	c.SetContext(cs)
	metricConnections.Inc()
	if h.s.draining.Load() {
		// The reactor has no "stop accepting" short of Shutdown, which
		// also closes every connection: while draining, new ones are
		// closed at once instead.
		_ = c.Close()
		return
	}
	// The idle timeout was set at accept (acceptGate).
}

// OnClose implements reactor.Handler.
func (h handler) OnClose(c *reactor.Conn, err error) {
	metricConnections.Dec()
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return
	}
	cs.closed.Store(true)
	if err != nil && !errors.Is(err, reactor.ErrEngineClosed) {
		h.s.log.Debug().Uint64("conn", cs.id).Err(err).Msg("connection closed")
	}
	h.s.leaveAllRooms(cs)
	if sess := cs.sess.Load(); sess != nil {
		h.s.endSession(sess, false)
	}
}

// OnData implements reactor.Handler.
func (h handler) OnData(c *reactor.Conn, data []byte) int {
	cs, _ := c.Context().(*connState)
	if cs == nil {
		return len(data)
	}
	maxBody := h.s.cfg.Limits.MaxFrameBody
	off := 0
	for off < len(data) {
		hdr, body, n, err := protocol.Decode(data[off:], maxBody)
		if err != nil {
			// The stream cannot be resynchronised: say nothing more, close.
			metricBadFrames.Inc()
			h.s.log.Info().Uint64("conn", cs.id).Str("remote", cs.remote).Err(err).Msg("bad frame, closing connection")
			_ = c.Close()
			return len(data)
		}
		if n == 0 {
			break
		}
		off += n
		h.s.handleFrame(cs, hdr, body)
		if cs.closed.Load() {
			return len(data)
		}
	}
	return off
}

// handleFrame handles one decoded frame on the loop: cheap answers inline, the
// rest handed to the pool. body is valid only during the call.
func (s *Server) handleFrame(cs *connState, h protocol.Header, body []byte) {
	op := h.Op
	framesIn.get(op).Inc()
	if !op.IsChatRequest() {
		s.replyErr(cs, op, h.ReqID, protocol.UnsupportedOp(op))
		return
	}
	if s.draining.Load() {
		if op.HasReply() {
			s.replyErr(cs, op, h.ReqID, protocol.NewError(protocol.CodeUnavailable, "server shutting down"))
		}
		return
	}
	switch op {
	case protocol.OpPing:
		// Stateless: answered inline whatever else is in flight. The
		// body holds no fields, so decoding it cannot alias anything.
		if err := protocol.DecodeRequest(body, &protocol.PingReq{}, &s.cfg.Limits); err != nil {
			s.replyErr(cs, op, h.ReqID, err)
			return
		}
		s.reply(cs, op, h.ReqID, &protocol.PingResp{Status: protocol.OK(), Ts: time.Now().UnixMilli()})
		return
	case protocol.OpRoomMedia:
		s.roomMedia(cs, body)
		return
	}
	ent := s.ops[op]
	if ent.fn == nil {
		s.replyErr(cs, op, h.ReqID, protocol.UnsupportedOp(op))
		return
	}
	if ent.info.NeedsLogin && cs.inflight.Load() == 0 && cs.session() == nil {
		s.replyErr(cs, op, h.ReqID, protocol.Unauthenticated())
		return
	}
	// The decoder may alias strings into its input, and body lives only
	// during this call: decode from a private copy.
	own := bytes.Clone(body)
	var req protocol.Request
	if !ent.raw {
		req = protocol.NewRequest(op)
		if err := protocol.DecodeRequest(own, req, &s.cfg.Limits); err != nil {
			s.replyErr(cs, op, h.ReqID, err)
			return
		}
	}
	if lim := cs.rateLimiter(ent.info.Rate); lim != nil {
		if r := lim.Reserve(); r.Delay() > 0 {
			d := r.Delay()
			r.Cancel()
			if ent.info.Rate == protocol.RateMessage && !cs.throttled {
				cs.throttled = true // one line per burst, not per refused frame
				ev := s.log.Info().Uint64("conn", cs.id).Str("remote", cs.remote).Stringer("op", op).Dur("retry_after_ms", d)
				if sess := cs.session(); sess != nil {
					ev = ev.Int64("user", sess.userID).Str("device", sess.device)
				}
				ev.Msg("rate limited: messages")
			}
			s.replyErr(cs, op, h.ReqID, protocol.RateLimited(max(d.Milliseconds(), 1)))
			return
		}
		if ent.info.Rate == protocol.RateMessage {
			cs.throttled = false
		}
	}
	x := &call{s: s, cs: cs, op: op, reqID: h.ReqID, req: req, body: own, ent: ent}
	cs.inflight.Add(1)
	if err := s.pool.Submit(cs.id, x.run); err != nil {
		cs.inflight.Add(-1)
		s.replyErr(cs, op, h.ReqID, protocol.NewError(protocol.CodeUnavailable, "server busy, retry later"))
	}
}

// rateLimiter returns the connection's limiter for a rate class, nil for
// ops that are not rate limited.
func (cs *connState) rateLimiter(class protocol.RateClass) *rate.Limiter {
	switch class {
	case protocol.RateMessage:
		if cs.limiter == nil {
			cs.limiter = rate.NewLimiter(rate.Limit(cs.s.cfg.MsgRate), cs.s.cfg.MsgBurst)
		}
		return cs.limiter
	case protocol.RateTyping:
		if cs.typing == nil {
			cfg := &cs.s.cfg
			cs.typing = rate.NewLimiter(rate.Limit(cfg.TypingRate), max(int(cfg.TypingRate), 1))
		}
		return cs.typing
	}
	return nil
}
