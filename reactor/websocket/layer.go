package websocket

import (
	"encoding/binary"
	"io"

	"github.com/chatd/chatd/reactor"
)

// smallMessage is the payload size up to which Encode copies a message into
// the outbound chunks with its header (consecutive small messages then leave
// in one iovec); larger payloads are queued as they are, behind a copied
// header, without being copied.
const smallMessage = 512

// Layer is the server side of WebSocket as a reactor.Layer: pushed on a
// connection (directly on the socket, or above TLS), it answers the upgrade
// request, then hands each whole message the client sends to the handler's
// OnData (text and binary alike; with Config.BinaryOnly text closes the
// connection with 1003) and sends each write of the handler (one Write,
// WriteCopy or Writev call) as one binary message. Pings, pongs and the close
// handshake are answered on the loop without the handler. An empty message
// carries no bytes, so the handler does not see it (and an empty write sends
// nothing). The handler's writes made before the upgrade completes wait for
// it. A graceful close of the connection (Conn.Close, Shutdown) sends a
// close frame with 1000 first; CloseWith chooses another code.
//
// The handler sees a byte stream made of whole messages: bytes it leaves
// unconsumed are offered again with the next message appended, so a
// handler that needs message boundaries consumes each message whole.
//
// A refused upgrade gets its HTTP error response and the connection is
// closed after it. A client that closes, or breaks the protocol, gets its
// close frame and the connection closes after it; OnClose then sees io.EOF,
// or reactor.ErrCloseTimeout if the client stopped reading and the frame
// could not reach it within the engine's Options.CloseTimeout.
//
// An idle layer holds the few words of its Session and no buffer.
type Layer struct {
	sess    Session
	io      *reactor.LayerIO
	closing uint16 // the code of the close frame to send behind the messages written before it
	state   uint8
	hdr     [MaxServerHeaderLen]byte
}

const (
	layerHandshake uint8 = iota
	layerOpen
	layerClosing // the session ended: input is ignored, the close frame waits for Close
	layerDone    // refused, or the close frame is out: nothing more is sent
)

// NewLayer returns a layer for one connection. cfg is shared, not copied,
// and must not change afterwards; nil accepts what the zero Config does.
func NewLayer(cfg *Config) *Layer {
	if cfg == nil {
		cfg = &Config{}
	}
	return &Layer{sess: NewSession(cfg)}
}

// Open holds the handler's writes until the upgrade is answered.
func (l *Layer) Open(io *reactor.LayerIO) error {
	l.io = io
	io.Hold(true)
	return nil
}

// Decode answers the upgrade request, then decodes frames.
func (l *Layer) Decode(in []byte) (int, error) {
	n := 0
	switch l.state {
	case layerClosing, layerDone:
		return len(in), nil
	case layerHandshake:
		k, resp, req, err := l.sess.cfg.Upgrade(in)
		if err != nil {
			l.state = layerDone
			l.io.Down(resp)
			_ = l.io.Conn().Close()
			return len(in), nil
		}
		if k == 0 {
			return 0, nil
		}
		l.io.Down(resp)
		l.state = layerOpen
		l.io.Hold(false)
		if f := l.sess.cfg.OnUpgrade; f != nil {
			f(l.io.Conn(), req, l)
		}
		n = k
	}
	k, err := l.sess.Feed(in[n:], l)
	if err != nil {
		l.state = layerClosing
		// A graceful close: the replies already written are encoded, then
		// Close sends the close frame and the connection closes.
		return len(in), io.EOF
	}
	return n + k, nil
}

// OnMessage passes a whole message up to the handler, unless
// Config.CheckMessage refuses it.
func (l *Layer) OnMessage(_ bool, p []byte) {
	if check := l.sess.cfg.CheckMessage; check != nil {
		if code := check(p); code != 0 {
			l.CloseWith(code)
			return
		}
	}
	l.io.Up(p)
}

// Send queues a control frame made by the session. A pong goes out now; a
// close frame waits for Close, behind the messages the handler has written
// so far.
func (l *Layer) Send(frame []byte) {
	if Opcode(frame[0]&0xf) == OpClose {
		l.closing = binary.BigEndian.Uint16(frame[2:])
		return
	}
	l.io.Down(frame)
}

// Encode sends one write of the handler as one binary message.
func (l *Layer) Encode(unit [][]byte) error {
	if l.state == layerDone {
		return nil // the close frame is out: nothing may follow it
	}
	n := 0
	for _, b := range unit {
		n += len(b)
	}
	l.io.DownCopy(AppendServerHeader(l.hdr[:0], OpBinary, n))
	for _, b := range unit {
		if n <= smallMessage {
			l.io.DownCopy(b)
		} else {
			l.io.Down(b)
		}
	}
	return nil
}

// Flush has nothing to do: frames go down as they are made.
func (l *Layer) Flush() error { return nil }

// Wake is not used.
func (l *Layer) Wake() error { return nil }

// CloseWith closes the connection from this side with a close frame
// carrying code (a 1000-1003, 1007-1014 or 3000-4999 status), sent after
// the messages already written; input that follows is ignored. Call it on
// the connection's loop, for instance from OnData when a message breaks the
// application's rules. It does nothing before the upgrade or once closing.
func (l *Layer) CloseWith(code int) {
	if l.state != layerOpen {
		return
	}
	l.state, l.closing = layerClosing, uint16(code)
	l.sess.closed = true // the messages behind this one in the same read are dropped
	_ = l.io.Conn().Close()
}

// Close sends the close frame: the answer to the peer's close, the
// failure's status, CloseWith's code, or 1000 for any other close.
func (l *Layer) Close() {
	switch l.state {
	case layerOpen:
		l.io.Down(l.sess.Close(CloseNormal, ""))
	case layerClosing:
		l.io.Down(CloseFrame(int(l.closing), ""))
	}
	l.state = layerDone
}

// Release drops a message being reassembled.
func (l *Layer) Release() { l.sess.msg = nil }
