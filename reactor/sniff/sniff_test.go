package sniff

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/websocket"
)

// app is the application behind the sniffer: it echoes and records what
// it was told.
type app struct {
	mu     sync.Mutex
	opened int
	closed int
	ctxOK  bool // the context was nil at OnOpen
	closes chan struct{}
}

func (a *app) OnOpen(c *reactor.Conn) {
	a.mu.Lock()
	a.opened++
	a.ctxOK = c.Context() == nil
	a.mu.Unlock()
	c.SetContext("app state")
}

func (a *app) OnData(c *reactor.Conn, data []byte) int {
	if c.Context() != "app state" {
		panic("the application's context was replaced")
	}
	_ = c.WriteCopy(data)
	return len(data)
}

func (a *app) OnClose(c *reactor.Conn, err error) {
	a.mu.Lock()
	a.closed++
	a.mu.Unlock()
	a.closes <- struct{}{}
}

func (a *app) counts() (int, int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.opened, a.closed, a.ctxOK
}

// envelope stands in for TLS: the client sends 0x16 first, then plain
// bytes, and the layer passes everything else through. It shows that the
// sniffer settles the protocol again on the bytes a layer passes up.
type envelope struct {
	io   *reactor.LayerIO
	seen bool
}

func (e *envelope) Open(io *reactor.LayerIO) error { e.io = io; return nil }
func (e *envelope) Decode(in []byte) (int, error) {
	n := 0
	if !e.seen {
		e.seen, n = true, 1
	}
	e.io.Up(in[n:])
	return len(in), nil
}
func (e *envelope) Encode(unit [][]byte) error {
	for _, b := range unit {
		e.io.DownCopy(b)
	}
	return nil
}
func (e *envelope) Flush() error { return nil }
func (e *envelope) Wake() error  { return nil }
func (e *envelope) Close()       {}
func (e *envelope) Release()     {}

func start(t *testing.T, cfg Config) (string, *app) {
	t.Helper()
	a := &app{closes: make(chan struct{}, 16)}
	eng, err := reactor.New(New(a, cfg), reactor.Options{Loops: 2})
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
		_ = eng.Shutdown(ctx)
	})
	return addr.String(), a
}

func connect(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

const key = "dGhlIHNhbXBsZSBub25jZQ=="

var upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"

// wsRoundTrip upgrades, sends one message and reads its echo; the request
// goes out in two writes cut at split.
func wsRoundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string, split int) {
	t.Helper()
	if _, err := io.WriteString(c, upgrade[:split]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := io.WriteString(c, upgrade[split:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	k := [4]byte{9, 8, 7, 6}
	f := websocket.AppendHeader(nil, websocket.Header{Fin: true, Op: websocket.OpBinary, Masked: true, Key: k, Length: int64(len(msg))})
	p := []byte(msg)
	websocket.MaskBytes(k, p)
	if _, err := c.Write(append(f, p...)); err != nil {
		t.Fatal(err)
	}
	want := websocket.AppendServerFrame(nil, websocket.OpBinary, []byte(msg))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != string(want) {
		t.Fatalf("echo %q (%v), want %q", got, err, want)
	}
}

func rawRoundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != msg {
		t.Fatalf("echo %q (%v), want %q", got, err, msg)
	}
}

func waitClosed(t *testing.T, a *app) {
	t.Helper()
	select {
	case <-a.closes:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose did not run")
	}
}

func TestSniffRawWebSocketAndLayered(t *testing.T) {
	cfg := Config{
		TLS:       func(*reactor.Conn) reactor.Layer { return &envelope{} },
		WebSocket: &websocket.Config{Path: "/ws"},
	}
	addr, a := start(t, cfg)
	cases := []struct {
		name string
		run  func(t *testing.T, c net.Conn, r *bufio.Reader)
	}{
		{"raw", func(t *testing.T, c net.Conn, r *bufio.Reader) { rawRoundTrip(t, c, r, "hello raw") }},
		{"raw starting like GET", func(t *testing.T, c net.Conn, r *bufio.Reader) { rawRoundTrip(t, c, r, "GEM raw") }},
		{"websocket", func(t *testing.T, c net.Conn, r *bufio.Reader) { wsRoundTrip(t, c, r, "hello ws", len(upgrade)) }},
		{"websocket request cut inside GET", func(t *testing.T, c net.Conn, r *bufio.Reader) { wsRoundTrip(t, c, r, "late", 2) }},
		{"raw in layer", func(t *testing.T, c net.Conn, r *bufio.Reader) {
			c.Write([]byte{0x16})
			rawRoundTrip(t, c, r, "inside")
		}},
		{"websocket in layer", func(t *testing.T, c net.Conn, r *bufio.Reader) {
			c.Write([]byte{0x16})
			wsRoundTrip(t, c, r, "ws inside", 7)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := connect(t, addr)
			tc.run(t, c, r)
			c.Close()
			waitClosed(t, a)
			if opened, closed, ctxOK := a.counts(); opened != i+1 || closed != i+1 || !ctxOK {
				t.Fatalf("application saw %d opens, %d closes (context nil at open: %v)", opened, closed, ctxOK)
			}
		})
	}
}

func TestSniffRequireTLSClosesPlaintext(t *testing.T) {
	addr, a := start(t, Config{
		TLS:        func(*reactor.Conn) reactor.Layer { return &envelope{} },
		RequireTLS: true,
		WebSocket:  &websocket.Config{},
	})
	for _, first := range []string{"raw bytes", upgrade} {
		c, r := connect(t, addr)
		io.WriteString(c, first)
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("plaintext %q: read %v, want EOF", first[:4], err)
		}
	}
	c, r := connect(t, addr)
	c.Write([]byte{0x16})
	rawRoundTrip(t, c, r, "allowed")
	if opened, _, _ := a.counts(); opened != 1 {
		t.Fatalf("the application saw %d opens, want only the layered one", opened)
	}
}

func TestSniffRefusedUpgradeNeverReachesTheApplication(t *testing.T) {
	addr, a := start(t, Config{WebSocket: &websocket.Config{Path: "/ws", CheckOrigin: websocket.AllowOrigins("https://ok.example")}})
	c, r := connect(t, addr)
	io.WriteString(c, strings.Replace(upgrade, "Host: x", "Host: x\r\nOrigin: https://evil.example", 1))
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("response %v, %v; want 403", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after 403: %v, want EOF", err)
	}
	// A raw connection afterwards is the first the application sees.
	c2, r2 := connect(t, addr)
	rawRoundTrip(t, c2, r2, "x")
	if opened, closed, _ := a.counts(); opened != 1 || closed != 0 {
		t.Fatalf("application saw %d opens, %d closes", opened, closed)
	}
}

func TestSniffOnUpgradeRunsBeforeTheApplication(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	ws := &websocket.Config{Path: "/ws", OnUpgrade: func(c *reactor.Conn, r *websocket.Request, l *websocket.Layer) {
		mu.Lock()
		defer mu.Unlock()
		if l != nil && c.Context() == pending {
			seen = append(seen, "upgrade "+r.Path)
		}
	}}
	addr, a := start(t, Config{WebSocket: ws})
	c, r := connect(t, addr)
	wsRoundTrip(t, c, r, "x", len(upgrade))
	mu.Lock()
	defer mu.Unlock()
	if opened, _, ctxOK := a.counts(); len(seen) != 1 || seen[0] != "upgrade /ws" || opened != 1 || !ctxOK {
		t.Fatalf("hook saw %q, application %d opens (context nil at open: %v)", seen, opened, ctxOK)
	}
}
