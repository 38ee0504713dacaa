package websocket

import "unicode/utf8"

// DefaultMaxMessage is the message size limit when Config.MaxMessage is 0.
const DefaultMaxMessage = 1 << 20

// Receiver gets what a Session decodes. Both calls are made from Feed, on
// the caller's goroutine.
type Receiver interface {
	// OnMessage gets one whole message (text or binary); p is valid only
	// during the call.
	OnMessage(text bool, p []byte)
	// Send gets a control frame the session answers with (a pong, or a
	// close); frame is freshly allocated and now belongs to the receiver.
	Send(frame []byte)
}

// Session is the server side of one WebSocket connection after the
// handshake: it decodes the client's frames, reassembles fragmented
// messages, answers pings and the close handshake, and fails the connection
// with the right status on a protocol violation. It holds no buffer while no
// fragmented message is in flight, so an idle session costs its own few
// words. A Session is not safe for concurrent use.
type Session struct {
	cfg     *Config
	msg     []byte // the fragments so far (nil when none is open)
	checked int32  // bytes of msg validated as UTF-8
	msgOp   Opcode // OpText or OpBinary while a fragmented message is open
	closed  bool   // a close frame was sent or received
}

// NewSession returns a session with cfg's message limits (nil: the
// defaults). cfg is shared, not copied.
func NewSession(cfg *Config) Session { return Session{cfg: cfg} }

// maxMessage is the message size limit.
func (s *Session) maxMessage() int64 {
	if s.cfg == nil || s.cfg.MaxMessage <= 0 {
		return DefaultMaxMessage
	}
	return int64(s.cfg.MaxMessage)
}

// Closed reports whether a close frame has been sent or received.
func (s *Session) Closed() bool { return s.closed }

// Close starts the close handshake from this side: it returns the close
// frame to send (nil if the session is already closed); later input is
// ignored.
func (s *Session) Close(code int, reason string) []byte {
	if s.closed {
		return nil
	}
	s.closed = true
	s.msg = nil
	return CloseFrame(code, reason)
}

// Feed decodes the complete frames at the start of data and returns how
// many bytes it consumed; an incomplete frame at the end is left for the
// next call, which must offer it again with more bytes appended (any split
// works). Payloads are unmasked in place, so data is modified.
//
// A non-nil error is a *CloseError and ends the session: either the peer
// closed (its close frame has been answered through r.Send) or the peer
// broke the protocol (a close frame with the status has been passed to
// r.Send). Either way the caller writes what it was sent and closes the
// connection; the rest of data counts as consumed.
func (s *Session) Feed(data []byte, r Receiver) (int, error) {
	n := 0
	for n < len(data) {
		if s.closed {
			return len(data), nil
		}
		b := data[n:]
		if len(b) < 2 {
			return n, nil
		}
		if ce := s.checkStart(b[0], b[1]); ce != nil {
			return len(data), s.fail(r, ce)
		}
		h, hl, err := ParseHeader(b)
		if err != nil {
			return len(data), s.fail(r, &CloseError{Code: CloseProtocolError, Reason: err.Error()})
		}
		if hl == 0 {
			return n, nil
		}
		if !h.Op.IsControl() && h.Length > s.maxMessage()-int64(len(s.msg)) {
			return len(data), s.fail(r, &CloseError{Code: CloseMessageTooBig, Reason: "message too big"})
		}
		if int64(len(b)-hl) < h.Length {
			return n, nil
		}
		p := b[hl : hl+int(h.Length)]
		MaskBytes(h.Key, p)
		n += hl + len(p)
		if ce := s.frame(h, p, r); ce != nil {
			if ce.Remote {
				return len(data), ce
			}
			return len(data), s.fail(r, ce)
		}
	}
	return n, nil
}

// checkStart rejects a frame from its first two bytes, before its length or
// payload arrive: reserved bits (no extension is negotiated), reserved
// opcodes, fragmented or oversized control frames, unmasked client frames
// and continuations that do not fit the message in flight.
func (s *Session) checkStart(b0, b1 byte) *CloseError {
	fin, op := b0&0x80 != 0, Opcode(b0&0xf)
	switch {
	case b0&0x70 != 0:
		return &CloseError{Code: CloseProtocolError, Reason: "reserved bits set"}
	case b1&0x80 == 0:
		return &CloseError{Code: CloseProtocolError, Reason: "client frame not masked"}
	}
	switch op {
	case OpClose, OpPing, OpPong:
		if !fin {
			return &CloseError{Code: CloseProtocolError, Reason: "fragmented control frame"}
		}
		if b1&0x7f > maxControlPayload {
			return &CloseError{Code: CloseProtocolError, Reason: "control frame too long"}
		}
	case OpText, OpBinary:
		if s.msgOp != 0 {
			return &CloseError{Code: CloseProtocolError, Reason: "new message inside a fragmented one"}
		}
	case OpContinuation:
		if s.msgOp == 0 {
			return &CloseError{Code: CloseProtocolError, Reason: "continuation without a message"}
		}
	default:
		return &CloseError{Code: CloseProtocolError, Reason: "reserved opcode"}
	}
	return nil
}

// frame acts on one complete, unmasked frame that passed checkStart.
func (s *Session) frame(h Header, p []byte, r Receiver) *CloseError {
	switch h.Op {
	case OpPing:
		r.Send(AppendServerFrame(make([]byte, 0, 2+len(p)), OpPong, p))
	case OpPong:
		// Unsolicited pongs are allowed and ignored (section 5.5.3).
	case OpClose:
		code, reason, ce := parseClosePayload(p)
		if ce != nil {
			return ce
		}
		reply := code
		if reply == CloseNoStatus {
			reply = CloseNormal
		}
		s.closed = true
		s.msg = nil
		r.Send(CloseFrame(reply, ""))
		return &CloseError{Code: code, Reason: reason, Remote: true}
	case OpText, OpBinary:
		text := h.Op == OpText
		if text && s.cfg != nil && s.cfg.BinaryOnly {
			return &CloseError{Code: CloseUnsupportedData, Reason: "text messages are not accepted"}
		}
		if h.Fin {
			if text && !utf8.Valid(p) {
				return errNotUTF8
			}
			r.OnMessage(text, p)
			return nil
		}
		s.msgOp = h.Op
		s.msg = append([]byte(nil), p...)
		s.checked = 0
		return s.checkText(false)
	case OpContinuation:
		s.msg = append(s.msg, p...)
		if ce := s.checkText(h.Fin); ce != nil || !h.Fin {
			return ce
		}
		msg, text := s.msg, s.msgOp == OpText
		s.msg, s.msgOp = nil, 0
		r.OnMessage(text, msg)
	}
	return nil
}

var errNotUTF8 = &CloseError{Code: CloseInvalidPayload, Reason: "text message is not UTF-8"}

// checkText validates the new bytes of a fragmented text message, so an
// invalid sequence fails the connection with the fragment that carries it
// rather than at the end of the message. A rune split between fragments is
// fine until the last one.
func (s *Session) checkText(final bool) *CloseError {
	if s.msgOp != OpText {
		return nil
	}
	k, ok := validPrefix(s.msg[s.checked:])
	s.checked += int32(k)
	if !ok || final && int(s.checked) != len(s.msg) {
		return errNotUTF8
	}
	return nil
}

// validPrefix returns the length of b's longest prefix made of whole valid
// UTF-8 sequences, and false if b holds an invalid sequence (as opposed to a
// valid but unfinished one at its end).
func validPrefix(b []byte) (int, bool) {
	if utf8.Valid(b) {
		return len(b), true
	}
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		if !utf8.FullRune(b[i:]) {
			return i, true
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i, false
		}
		i += size
	}
	return i, true
}

// fail records that the connection is being failed with ce and sends the
// close frame carrying its status.
func (s *Session) fail(r Receiver, ce *CloseError) *CloseError {
	s.closed = true
	s.msg = nil
	r.Send(CloseFrame(ce.Code, ""))
	return ce
}
