// Package wsclient is the bench's WebSocket client: a net.Conn whose writes
// go out as masked binary messages (one per Write) and whose reads return the
// payload bytes of the messages received, as one stream, so the load
// generator's echo, broadcast and idle modes run unchanged over WebSocket.
// It answers nothing (pings are dropped) and ends the stream at a close
// frame: enough for measuring servers, not a general client.
package wsclient

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/chatd/chatd/reactor/websocket"
)

// Path is the request path the bench servers accept upgrades on.
const Path = "/ws"

// Conn is one client connection after the upgrade.
type Conn struct {
	net.Conn
	r    *bufio.Reader
	key  [4]byte
	wbuf []byte
	rem  int64 // payload bytes of the current data frame not yet read
}

// Dial connects to addr and upgrades to WebSocket at Path within timeout.
func Dial(addr string, timeout time.Duration) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c, err := Upgrade(nc, timeout)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Upgrade performs the client handshake on nc.
func Upgrade(nc net.Conn, timeout time.Duration) (*Conn, error) {
	return UpgradeProtocol(nc, timeout, "")
}

// UpgradeProtocol performs the client handshake on nc asking for
// subprotocol (none when empty), for servers that require one.
func UpgradeProtocol(nc net.Conn, timeout time.Duration, subprotocol string) (*Conn, error) {
	var raw [16]byte
	rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	_ = nc.SetDeadline(time.Now().Add(timeout))
	req := "GET " + Path + " HTTP/1.1\r\nHost: " + nc.RemoteAddr().String() +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n"
	if subprotocol != "" {
		req += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return nil, fmt.Errorf("wsclient: write upgrade: %w", err)
	}
	r := bufio.NewReaderSize(nc, 4<<10)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, fmt.Errorf("wsclient: read upgrade response: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != websocket.AcceptKey(key) {
		return nil, fmt.Errorf("wsclient: upgrade refused: %s", resp.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	c := &Conn{Conn: nc, r: r}
	rand.Read(c.key[:])
	return c, nil
}

// Write sends p as one masked binary message.
func (c *Conn) Write(p []byte) (int, error) {
	c.wbuf = websocket.AppendHeader(c.wbuf[:0], websocket.Header{Fin: true, Op: websocket.OpBinary, Masked: true, Key: c.key, Length: int64(len(p))})
	k := len(c.wbuf)
	c.wbuf = append(c.wbuf, p...)
	websocket.MaskBytes(c.key, c.wbuf[k:])
	if _, err := c.Conn.Write(c.wbuf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ErrClosed is returned by Read after the server's close frame.
var ErrClosed = errors.New("wsclient: the server closed the WebSocket")

// Read returns payload bytes of data frames; control frames are skipped.
func (c *Conn) Read(p []byte) (int, error) {
	for c.rem == 0 {
		if err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.rem {
		p = p[:c.rem]
	}
	n, err := c.r.Read(p)
	c.rem -= int64(n)
	return n, err
}

// nextFrame reads a frame header; a data frame's payload is left for Read.
func (c *Conn) nextFrame() error {
	hb, err := c.r.Peek(2)
	if err != nil {
		return err
	}
	need := 2
	switch hb[1] & 0x7f {
	case 126:
		need = 4
	case 127:
		need = 10
	}
	if hb, err = c.r.Peek(need); err != nil {
		return err
	}
	h, n, err := websocket.ParseHeader(hb)
	if err != nil || n == 0 || h.Masked {
		return fmt.Errorf("wsclient: bad server frame header %x (%v)", hb, err)
	}
	c.r.Discard(n)
	if !h.Op.IsControl() {
		c.rem = h.Length
		return nil
	}
	if _, err := c.r.Discard(int(h.Length)); err != nil {
		return err
	}
	if h.Op == websocket.OpClose {
		return ErrClosed
	}
	return nil
}
