package reactor

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// recorder is a Handler built from optional funcs that records OnClose causes
// and fails the test on a second OnClose for one connection.
type recorder struct {
	t      testing.TB
	open   func(c *Conn)
	data   func(c *Conn, b []byte) int
	mu     sync.Mutex
	causes map[uint64]error
	closed chan closeEvent
}

type closeEvent struct {
	c   *Conn
	err error
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{t: t, causes: make(map[uint64]error), closed: make(chan closeEvent, 4096)}
}

func (r *recorder) OnOpen(c *Conn) {
	if r.open != nil {
		r.open(c)
	}
}

func (r *recorder) OnData(c *Conn, b []byte) int {
	if r.data != nil {
		return r.data(c, b)
	}
	// Default: echo a copy (b is only valid during the call).
	if err := c.Write(append([]byte(nil), b...)); err != nil && !errors.Is(err, ErrClosed) {
		r.t.Errorf("echo write: %v", err)
	}
	return len(b)
}

func (r *recorder) OnClose(c *Conn, err error) {
	r.mu.Lock()
	if _, dup := r.causes[c.ID()]; dup {
		r.t.Errorf("OnClose called twice for conn %d", c.ID())
	}
	r.causes[c.ID()] = err
	r.mu.Unlock()
	select {
	case r.closed <- closeEvent{c, err}:
	default:
	}
}

// openedRecorder is a recorder that also hands each opened conn to the
// returned channel (of capacity n).
func openedRecorder(t testing.TB, n int) (*recorder, chan *Conn) {
	r := newRecorder(t)
	opened := make(chan *Conn, n)
	r.open = func(c *Conn) { opened <- c }
	return r, opened
}

// waitClose returns the next OnClose event or fails after a generous timeout.
func (r *recorder) waitClose(t testing.TB) closeEvent {
	t.Helper()
	select {
	case ev := <-r.closed:
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for OnClose")
		return closeEvent{}
	}
}

// startEngine starts an engine listening on loopback and shuts it down at cleanup.
func startEngine(t testing.TB, h Handler, opts Options) (*Engine, string) {
	t.Helper()
	return startEngineOn(t, h, opts, "127.0.0.1:0")
}

// startEngineOn is startEngine listening on listenAddr ("tcp").
func startEngineOn(t testing.TB, h Handler, opts Options, listenAddr string) (*Engine, string) {
	t.Helper()
	e, err := New(h, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	addr, err := e.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e, addr.String()
}

func dialTCP(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// readAllTimeout reads until EOF, failing the test on any other error.
func readAllTimeout(t testing.TB, c net.Conn, d time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (got %d bytes)", err, len(b))
	}
	return b
}

// pattern returns n bytes of a position-dependent pattern starting at off,
// so loss, duplication and reordering all show up as mismatches.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		p := off + i
		b[i] = byte(p ^ p>>8 ^ p>>16)
	}
	return b
}

// waitSettled polls until no bytes and no copy chunks are queued and no conn
// is open, failing with the last snapshot otherwise.
func waitSettled(t *testing.T, e *Engine) {
	t.Helper()
	var s Stats
	for range 2000 {
		if s = e.Stats(); s.QueuedBytes == 0 && s.CopyChunks == 0 && s.Conns == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("accounting not back to zero: %+v", s)
}

// writers are the ways to queue bytes that share one admission path, for
// tests that must hold for each.
var writers = []struct {
	name  string
	write func(c *Conn, b []byte) error
}{
	{"Write", (*Conn).Write},
	{"WriteCopy", (*Conn).WriteCopy},
}
