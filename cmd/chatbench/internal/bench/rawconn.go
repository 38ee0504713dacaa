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

// rawLogin dials addr and logs in with a token on a bare net.Conn: no
// goroutine, no client state, so one process can hold ~19,000 of them.
// Pushes that follow the reply are left unread in the socket buffer.
func rawLogin(ctx context.Context, d *net.Dialer, addr, username, token, device string) (net.Conn, error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return conn, nil
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
	if err := readLoginReply(bufio.NewReaderSize(conn, 4096)); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// readLoginReply reads frames until the login reply (req_id 1) and checks
// its code. Pushes before it are skipped.
func readLoginReply(r io.Reader) error {
	var hdr [10]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return fmt.Errorf("read login reply: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n < 6 || n > 16<<20 {
			return fmt.Errorf("read login reply: bad frame length %d", n)
		}
		body := make([]byte, n-6)
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("read login reply: %w", err)
		}
		op := protocol.Op(binary.BigEndian.Uint16(hdr[4:6]))
		if binary.BigEndian.Uint32(hdr[6:10]) != 1 || op != protocol.OpLogin {
			continue
		}
		var st protocol.Status
		if err := protocol.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("decode login reply: %w", err)
		}
		return st.Err()
	}
}

// pingFrame is a ping request; the replies pile up unread (a few bytes).
var pingFrame = protocol.AppendFrame(nil, protocol.OpPing, 2, []byte("{}"))
