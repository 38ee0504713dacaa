package chatload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/chatd/chatd/protocol"
)

// rawConn is a bare connection with the reader that holds whatever
// arrived after the last reply (pushes must be read from it, not from the
// socket, or a frame cut in two by the buffer is lost).
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// rawLogin dials addr and logs in with a token on a bare net.Conn: no
// goroutine, no client state, so one process can hold ~19,000 of them.
// Pushes that follow the reply stay unread (in br or the socket buffer).
// bufSize sizes the reader (small for connections that are only held).
func rawLogin(ctx context.Context, d *Dialer, addr, username, token, device string, bufSize int) (*rawConn, error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{Conn: conn, br: bufio.NewReaderSize(conn, bufSize)}
	if token == "" {
		return rc, nil
	}
	frame, err := protocol.AppendJSONFrame(nil, protocol.OpLogin, 1, &protocol.LoginReq{Username: username, Token: token, Device: device})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("encode login: %w", err)
	}
	dl := time.Now().Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = conn.SetDeadline(dl)
	if _, err := conn.Write(frame); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send login: %w", err)
	}
	if err := readReply(rc.br, protocol.OpLogin, 1); err != nil {
		conn.Close()
		return nil, fmt.Errorf("login: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return rc, nil
}

// request sends one request and waits for its reply, skipping pushes
// before it; use it only before a reader goroutine takes the connection.
func (rc *rawConn) request(op protocol.Op, reqID uint32, body any) error {
	frame, err := protocol.AppendJSONFrame(nil, op, reqID, body)
	if err != nil {
		return fmt.Errorf("encode %v: %w", op, err)
	}
	_ = rc.SetDeadline(time.Now().Add(30 * time.Second))
	defer rc.SetDeadline(time.Time{})
	if _, err := rc.Write(frame); err != nil {
		return fmt.Errorf("send %v: %w", op, err)
	}
	return readReply(rc.br, op, reqID)
}

// readReply reads frames until the reply to (op, reqID) and checks its
// code. Pushes before it are skipped.
func readReply(r io.Reader, wantOp protocol.Op, wantReq uint32) error {
	var body []byte
	for {
		h, b, err := protocol.ReadFrame(r, maxFrameBody, body)
		if err != nil {
			return fmt.Errorf("read reply: %w", err)
		}
		body = b
		if h.ReqID != wantReq || h.Op != wantOp {
			continue
		}
		var st protocol.Status
		if err := protocol.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("decode reply: %w", err)
		}
		return st.Err()
	}
}

// maxFrameBody bounds the frames the raw readers accept: generous, since
// they only read what chatd sends (chatd's own limit is on what it reads).
const maxFrameBody = 16 << 20

// receive reads frames until the connection fails and hands each one's op
// and body to f. The body is only valid during the call.
func (rc *rawConn) receive(f func(op protocol.Op, body []byte)) {
	rc.receiveChunks(func(_ time.Time, op protocol.Op, body []byte) { f(op, body) }, nil)
}

// receiveChunks reads the connection in chunks until it fails (the buffer
// starts at 4 KiB, so 10,000 quiet receivers stay small, and doubles up to
// rawChunk while reads fill it), hands every complete frame of a chunk to f with the time
// the chunk arrived, then calls done (if set) once per chunk. Bodies alias
// one buffer and are only valid during f: no allocation per frame, and
// one read for however many frames the server packed into one write.
func (rc *rawConn) receiveChunks(f func(now time.Time, op protocol.Op, body []byte), done func()) {
	buf := make([]byte, 4<<10)
	have := 0
	for {
		n, err := rc.br.Read(buf[have:])
		if n > 0 {
			now := time.Now()
			full := have+n == len(buf)
			have += n
			off := 0
			for {
				h, body, used, ferr := protocol.Decode(buf[off:have], maxFrameBody)
				if ferr != nil {
					return
				}
				if used == 0 {
					break
				}
				f(now, h.Op, body)
				off += used
			}
			if done != nil {
				done()
			}
			have = copy(buf, buf[off:have])
			size := len(buf)
			if full && size < rawChunk {
				size *= 2 // a busy connection: read more at once
			}
			// A frame larger than the buffer (Decode has checked its
			// length against maxFrameBody) needs room for all of it.
			size = max(size, protocol.FrameSize(buf[:have]))
			if size > len(buf) {
				grown := make([]byte, size)
				copy(grown, buf[:have])
				buf = grown
			}
		}
		if err != nil {
			return
		}
	}
}

// rawChunk is the read size a busy raw receiver grows to: the server's
// writev of a connection's pending frames arrives in one read.
const rawChunk = 64 << 10

// pingFrame is a ping request; the replies pile up unread (a few bytes).
var pingFrame = protocol.AppendFrame(nil, protocol.OpPing, 2, []byte("{}"))
