//go:build linux && !reactor_netfallback

package reactor

import (
	"net"
	"sync"
	"testing"
	"time"
)

// TestReplyFlushedRightAfterRead checks that a reply queued by OnData leaves
// before the next ready connection of the same pass is read, instead of
// waiting for the end-of-pass flush.
func TestReplyFlushedRightAfterRead(t *testing.T) {
	var (
		mu      sync.Mutex
		seen    []*Conn // conns whose OnData already ran
		pending []int   // Outbound() of earlier conns when a later OnData ran
		opened  = make(chan struct{}, 2)
	)
	r := newRecorder(t)
	r.open = func(*Conn) { opened <- struct{}{} }
	r.data = func(c *Conn, b []byte) int {
		mu.Lock()
		for _, p := range seen {
			pending = append(pending, p.Outbound())
		}
		seen = append(seen, c)
		mu.Unlock()
		if err := c.WriteCopy(b); err != nil {
			t.Errorf("WriteCopy: %v", err)
		}
		return len(b)
	}
	eng, addr := startEngine(t, r, Options{Loops: 1})
	a, b := dialTCP(t, addr), dialTCP(t, addr)
	<-opened
	<-opened

	// Hold the loop in a callback while both peers send, so the two reads
	// land in one pass.
	started, release := make(chan struct{}), make(chan struct{})
	eng.AfterFunc(time.Millisecond, func() {
		close(started)
		<-release // blocks the loop on purpose
	})
	<-started
	for _, c := range []*net.TCPConn{a, b} {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatalf("client write: %v", err)
		}
	}
	close(release)

	for _, c := range []*net.TCPConn{a, b} {
		buf := make([]byte, 4)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("echo = %q, %v; want ping", buf[:n], err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || len(pending) != 1 {
		t.Fatalf("OnData calls = %d, checks = %d; want 2 and 1", len(seen), len(pending))
	}
	if pending[0] != 0 {
		t.Fatalf("first reply still queued (%d bytes) when the second conn was read", pending[0])
	}
}
