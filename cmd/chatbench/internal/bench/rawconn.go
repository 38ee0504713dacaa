package bench

import (
	"bufio"
	"context"
	"encoding/binary"
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
func rawLogin(ctx context.Context, d *net.Dialer, addr, username, token, device string, bufSize int) (*rawConn, error) {
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
		op, reqID, b, err := nextFrame(r, body)
		if err != nil {
			return fmt.Errorf("read reply: %w", err)
		}
		body = b
		if reqID != wantReq || op != wantOp {
			continue
		}
		var st protocol.Status
		if err := protocol.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("decode reply: %w", err)
		}
		return st.Err()
	}
}

// nextFrame reads one frame from r, its body into buf (grown when too
// small, so a receive loop reuses one buffer), and returns its op, req_id
// and body.
func nextFrame(r io.Reader, buf []byte) (protocol.Op, uint32, []byte, error) {
	var hdr [protocol.HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4])) - (protocol.HeaderSize - 4)
	if n < 0 || n > 16<<20 {
		return 0, 0, buf, fmt.Errorf("bad frame length %d", n+protocol.HeaderSize-4)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, 0, buf, err
	}
	return protocol.Op(binary.BigEndian.Uint16(hdr[4:6])), binary.BigEndian.Uint32(hdr[6:10]), buf, nil
}

// pingFrame is a ping request; the replies pile up unread (a few bytes).
var pingFrame = protocol.AppendFrame(nil, protocol.OpPing, 2, []byte("{}"))
