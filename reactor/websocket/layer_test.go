package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
)

// echo is the application behind the WebSocket layer: every message back.
type echo struct{ opened, closed chan *reactor.Conn }

func (e *echo) OnOpen(c *reactor.Conn) {
	if e.opened != nil {
		e.opened <- c
	}
}
func (e *echo) OnData(c *reactor.Conn, data []byte) int {
	_ = c.WriteCopy(data)
	return len(data)
}
func (e *echo) OnClose(c *reactor.Conn, err error) {
	if e.closed != nil {
		e.closed <- c
	}
}

// wsOnOpen pushes a WebSocket layer on every accepted connection, then
// runs the application.
type wsOnOpen struct {
	reactor.Handler
	cfg *Config
}

func (h wsOnOpen) OnOpen(c *reactor.Conn) {
	_ = c.PushLayer(NewLayer(h.cfg))
	h.Handler.OnOpen(c)
}

// startServer runs h on an engine sized for Autobahn's 16 MiB messages and
// returns its address.
func startServer(t testing.TB, h reactor.Handler) string {
	t.Helper()
	return startServerWith(t, h, reactor.Options{Loops: 2, MaxInbound: 40 << 20, MaxOutbound: 64 << 20})
}

// startServerWith runs h on an engine with opts and returns its address.
func startServerWith(t testing.TB, h reactor.Handler, opts reactor.Options) string {
	t.Helper()
	eng, err := reactor.New(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := eng.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return addr.String()
}

// client is a raw WebSocket client driving the server frame by frame.
type client struct {
	net.Conn
	r *bufio.Reader
}

// dial connects and sends request; it returns the client and the response.
func dial(t testing.TB, addr, request string) (*client, *http.Response) {
	t.Helper()
	return dialVia(t, addr, request, nil)
}

// dialVia is dial with the TCP connection wrapped by wrap (TLS), if set.
func dialVia(t testing.TB, addr, request string, wrap func(net.Conn) net.Conn) (*client, *http.Response) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		nc = wrap(nc)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(nc, request); err != nil {
		t.Fatal(err)
	}
	c := &client{Conn: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("upgrade response: %v", err)
	}
	return c, resp
}

func dialWS(t testing.TB, addr string) *client {
	t.Helper()
	return dialWSVia(t, addr, nil)
}

func dialWSVia(t testing.TB, addr string, wrap func(net.Conn) net.Conn) *client {
	t.Helper()
	c, resp := dialVia(t, addr, upgradeRequest("/ws"), wrap)
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(sampleKey) {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return c
}

// readFrame reads one server frame.
func (c *client) readFrame() (sframe, error) {
	hb, err := c.r.Peek(2)
	if err != nil {
		return sframe{}, err
	}
	need := 2 + map[byte]int{126: 2, 127: 8}[hb[1]&0x7f]
	if hb, err = c.r.Peek(need); err != nil {
		return sframe{}, err
	}
	h, n, err := ParseHeader(hb)
	if err != nil || n == 0 || h.Masked || !h.Fin || h.Rsv != 0 {
		return sframe{}, fmt.Errorf("bad server frame header %x (%v)", hb, err)
	}
	c.r.Discard(n)
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, p); err != nil {
		return sframe{}, err
	}
	return sframe{op: h.Op, payload: p}, nil
}

// readUntilClose reads frames until the close frame, then requires the
// server to close the TCP connection.
func (c *client) readUntilClose() ([]sframe, error) {
	var fs []sframe
	for {
		f, err := c.readFrame()
		if err != nil {
			return fs, fmt.Errorf("after %d frames: %w", len(fs), err)
		}
		fs = append(fs, f)
		if f.op == OpClose {
			if _, err := c.r.ReadByte(); err != io.EOF {
				return fs, fmt.Errorf("after the close frame: %v, want EOF", err)
			}
			return fs, nil
		}
	}
}

// send writes a masked client frame.
func (c *client) send(t testing.TB, op Opcode, fin bool, p []byte) {
	t.Helper()
	if _, err := c.Write(clientFrame(op, fin, p)); err != nil {
		t.Fatal(err)
	}
}

func clientFrame(op Opcode, fin bool, p []byte) []byte {
	b := AppendHeader(nil, Header{Fin: fin, Op: op, Masked: true, Key: testKey, Length: int64(len(p))})
	k := len(b)
	b = append(b, p...)
	MaskBytes(testKey, b[k:])
	return b
}

func closeCode(f sframe) int {
	if f.op != OpClose || len(f.payload) < 2 {
		return 0
	}
	return int(f.payload[0])<<8 | int(f.payload[1])
}

func TestLayerEchoAndControlFramesBetweenFragments(t *testing.T) {
	e := &echo{closed: make(chan *reactor.Conn, 1)}
	addr := startServer(t, wsOnOpen{e, &Config{Path: "/ws"}})
	c := dialWS(t, addr)
	c.send(t, OpBinary, true, []byte("one"))
	c.send(t, OpBinary, false, []byte("tw"))
	c.send(t, OpPing, true, []byte("p1"))
	c.send(t, OpContinuation, false, []byte("o-"))
	c.send(t, OpPong, true, nil)
	c.send(t, OpPing, true, []byte("p2"))
	c.send(t, OpContinuation, true, []byte("two"))
	c.send(t, OpClose, true, []byte{0x03, 0xe8})
	fs, err := c.readUntilClose()
	if err != nil {
		t.Fatal(err)
	}
	// Pongs leave as soon as their ping is decoded, echoes when the loop
	// flushes the handler's writes: each kind keeps its order, and the
	// close frame comes last.
	var data, control []string
	for _, f := range fs[:len(fs)-1] {
		if f.op.IsControl() {
			control = append(control, fmt.Sprintf("%d:%s", f.op, f.payload))
		} else {
			data = append(data, fmt.Sprintf("%d:%s", f.op, f.payload))
		}
	}
	if strings.Join(data, "|") != "2:one|2:two-two" || strings.Join(control, "|") != "10:p1|10:p2" || closeCode(fs[len(fs)-1]) != CloseNormal {
		t.Fatalf("data %q, control %q, last %d:%q", data, control, fs[len(fs)-1].op, fs[len(fs)-1].payload)
	}
	select {
	case <-e.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose did not run")
	}
}

func TestLayerFailures(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		send []byte
		code int
	}{
		{"unmasked frame", Config{}, AppendServerFrame(nil, OpBinary, []byte("x")), CloseProtocolError},
		{"oversized message", Config{MaxMessage: 100}, clientFrame(OpBinary, true, make([]byte, 101)), CloseMessageTooBig},
		{"text to a binary-only server", Config{BinaryOnly: true}, clientFrame(OpText, true, []byte("hi")), CloseUnsupportedData},
		{"invalid UTF-8", Config{}, clientFrame(OpText, true, []byte{0xff}), CloseInvalidPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &echo{opened: make(chan *reactor.Conn, 1), closed: make(chan *reactor.Conn, 1)}
			addr := startServer(t, wsOnOpen{e, &tc.cfg})
			c := dialWS(t, addr)
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			fs, err := c.readUntilClose()
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 1 || closeCode(fs[0]) != tc.code {
				t.Fatalf("got %d frames, last close code %d; want only a close with %d", len(fs), closeCode(fs[len(fs)-1]), tc.code)
			}
			<-e.opened
			select {
			case <-e.closed:
			case <-time.After(10 * time.Second):
				t.Fatal("OnClose did not run")
			}
		})
	}
}

// closeCause is an echo that reports why each connection closed.
type closeCause struct {
	echo
	errs chan error
}

func (h *closeCause) OnClose(c *reactor.Conn, err error) { h.errs <- err }

// TestLayerFailureUnreadPeer: a client that breaks the protocol and has
// stopped reading does not hold its connection: the close frame waits
// behind the echoes it did not read, and the engine's CloseTimeout ends
// the wait.
func TestLayerFailureUnreadPeer(t *testing.T) {
	h := &closeCause{errs: make(chan error, 1)}
	addr := startServerWith(t, wsOnOpen{h, &Config{}}, reactor.Options{Loops: 1, MaxInbound: 40 << 20, MaxOutbound: 64 << 20,
		TickInterval: 10 * time.Millisecond, CloseTimeout: 200 * time.Millisecond})
	c := dialWS(t, addr)
	msg := clientFrame(OpBinary, true, make([]byte, 1<<20))
	for range 16 { // far more echo than loopback's socket buffers hold
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write(AppendServerFrame(nil, OpBinary, []byte("x"))); err != nil { // unmasked
		t.Fatal(err)
	}
	select {
	case err := <-h.errs:
		if !errors.Is(err, reactor.ErrCloseTimeout) {
			t.Fatalf("OnClose err = %v, want reactor.ErrCloseTimeout", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the connection of a peer that stopped reading is still open")
	}
}

func TestLayerUpgradeRefused(t *testing.T) {
	e := &echo{}
	cfg := &Config{Path: "/ws", CheckOrigin: AllowOrigins("https://ok.example")}
	addr := startServer(t, wsOnOpen{e, cfg})
	for _, tc := range []struct {
		req    string
		status int
	}{
		{upgradeRequest("/ws", "Origin: https://evil.example"), http.StatusForbidden},
		{upgradeRequest("/other"), http.StatusNotFound},
		{strings.Replace(upgradeRequest("/ws"), "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1), http.StatusUpgradeRequired},
		{strings.Replace(upgradeRequest("/ws"), "Sec-WebSocket-Key: "+sampleKey, "Sec-WebSocket-Key: short", 1), http.StatusBadRequest},
	} {
		c, resp := dial(t, addr, tc.req)
		if resp.StatusCode != tc.status {
			t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
		}
		io.Copy(io.Discard, resp.Body)
		if _, err := c.r.ReadByte(); err != io.EOF {
			t.Fatalf("after a refused upgrade: %v, want EOF", err)
		}
	}
}

func TestLayerWritesBeforeUpgradeWait(t *testing.T) {
	// The application greets in OnOpen, before the client's request is in:
	// the greeting must follow the 101, as a message.
	greet := reactor.Handler(&greeter{})
	addr := startServer(t, wsOnOpen{greet, &Config{}})
	c := dialWS(t, addr)
	f, err := c.readFrame()
	if err != nil || f.op != OpBinary || string(f.payload) != "hello" {
		t.Fatalf("first frame %d %q, %v", f.op, f.payload, err)
	}
}

type greeter struct{ echo }

func (g *greeter) OnOpen(c *reactor.Conn) { _ = c.Write([]byte("hello")) }

func TestLayerServerCloseSendsCloseFrame(t *testing.T) {
	h := &closer{}
	addr := startServer(t, wsOnOpen{h, &Config{}})
	c := dialWS(t, addr)
	c.send(t, OpBinary, true, []byte("bye"))
	fs, err := c.readUntilClose()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || string(fs[0].payload) != "bye" || closeCode(fs[1]) != CloseNormal {
		t.Fatalf("frames %v", fs)
	}
}

// closer echoes one message and closes.
type closer struct{ echo }

func (h *closer) OnData(c *reactor.Conn, data []byte) int {
	_ = c.WriteCopy(data)
	_ = c.Close()
	return len(data)
}

// TestAutobahnReactor plays the Autobahn table through a real engine: a
// client over TCP, the WebSocket layer on the loop, an echo handler. The
// handler writes binary messages, so text echoes come back binary here
// (TestAutobahnCodec checks that the codec keeps the type), and an empty
// message carries no bytes to OnData, so it has no echo. A case whose
// client sends more after the point where the server closes goes out in one
// write: closing a socket with unread input makes the kernel reset the
// connection, which may discard the close frame before the client reads it.
func TestAutobahnReactor(t *testing.T) {
	addr := startServer(t, wsOnOpen{&echo{}, &Config{MaxMessage: 16 << 20}})
	playAutobahn(t, addr, nil, autobahnCases())
}

// playAutobahn runs cases against the echo server at addr over connections
// wrapped by wrap.
func playAutobahn(t *testing.T, addr string, wrap func(net.Conn) net.Conn, cases []abCase) {
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			cl := dialWSVia(t, addr, wrap)
			pieces := c.pieces()
			if c.fail || closesEarly(c) {
				pieces = [][]byte{bytes.Join(pieces, nil)}
			}
			go func() {
				for _, p := range pieces {
					if _, err := cl.Write(p); err != nil {
						return
					}
				}
			}()
			got, err := cl.readUntilClose()
			if err != nil {
				t.Fatal(err)
			}
			want := c
			want.want = nil
			for _, f := range c.want {
				if f.op == OpText {
					f.op = OpBinary
				}
				if f.op.IsControl() || len(f.payload) > 0 {
					want.want = append(want.want, f)
				}
			}
			if err := want.check(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// closesEarly reports whether c sends frames after its close frame.
func closesEarly(c abCase) bool {
	for i, f := range c.frames {
		if f.op == OpClose {
			return i < len(c.frames)-1
		}
	}
	return false
}

// strict closes with 1008 when a message says "bad": an application rule
// enforced through Layer.CloseWith.
type strict struct {
	echo
	closed bool // loop-owned
}

func (h *strict) OnData(c *reactor.Conn, data []byte) int {
	if h.closed {
		panic("a message reached OnData after CloseWith")
	}
	if string(data) == "bad" {
		h.closed = true
		c.Context().(*Layer).CloseWith(ClosePolicyViolation)
		return len(data)
	}
	return h.echo.OnData(c, data)
}

func TestLayerCloseWith(t *testing.T) {
	keep := func(c *reactor.Conn, _ *Request, l *Layer) { c.SetContext(l) }
	addr := startServer(t, wsOnOpen{&strict{}, &Config{OnUpgrade: keep}})
	c := dialWS(t, addr)
	stream := append(clientFrame(OpBinary, true, []byte("ok")), clientFrame(OpBinary, true, []byte("bad"))...)
	stream = append(stream, clientFrame(OpBinary, true, []byte("late"))...)
	if _, err := c.Write(stream); err != nil {
		t.Fatal(err)
	}
	fs, err := c.readUntilClose()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || string(fs[0].payload) != "ok" || closeCode(fs[1]) != ClosePolicyViolation {
		t.Fatalf("got %d frames (last close code %d), want the echo of ok and a close with 1008", len(fs), closeCode(fs[len(fs)-1]))
	}
}

func TestLayerCheckMessage(t *testing.T) {
	check := func(p []byte) int {
		if string(p) == "bad" {
			return CloseProtocolError
		}
		return 0
	}
	addr := startServer(t, wsOnOpen{&echo{}, &Config{CheckMessage: check}})
	c := dialWS(t, addr)
	stream := append(clientFrame(OpBinary, true, []byte("ok")), clientFrame(OpBinary, true, []byte("bad"))...)
	stream = append(stream, clientFrame(OpBinary, true, []byte("late"))...)
	if _, err := c.Write(stream); err != nil {
		t.Fatal(err)
	}
	fs, err := c.readUntilClose()
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || string(fs[0].payload) != "ok" || closeCode(fs[1]) != CloseProtocolError {
		t.Fatalf("got %d frames (last close code %d), want the echo of ok and a close with 1002", len(fs), closeCode(fs[len(fs)-1]))
	}
}
