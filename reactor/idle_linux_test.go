//go:build linux && !reactor_netfallback

package reactor

import (
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"weak"
)

// TestIdleConnPinsNoBuffers checks the property behind the idle-memory
// figure: a connection holds inbound bytes only while a frame is incomplete
// and outbound buffers only while output is queued; once it is quiet it pins
// neither. (The RSS itself is measured by TestIdleRSS and bench/run.sh.)
func TestIdleConnPinsNoBuffers(t *testing.T) {
	const frame = 8
	r := newRecorder(t)
	opened := make(chan *Conn, 1)
	seen := make(chan int, 4)
	r.open = func(c *Conn) { opened <- c }
	r.data = func(c *Conn, b []byte) int {
		seen <- len(b)
		if len(b) < frame {
			return 0 // keep the partial frame
		}
		if err := c.WriteCopy(b[:frame]); err != nil {
			t.Errorf("WriteCopy: %v", err)
		}
		return frame
	}
	e, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	sc := <-opened

	// onLoop runs f on the engine's only loop, where the conn's fields live.
	onLoop := func(f func()) {
		done := make(chan struct{})
		e.AfterFunc(0, func() { f(); close(done) })
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("loop did not run the check")
		}
	}

	client.Write([]byte("abc"))
	if n := <-seen; n != 3 {
		t.Fatalf("OnData saw %d bytes, want 3", n)
	}
	onLoop(func() {
		if len(sc.in) != 3 {
			t.Errorf("partial frame: conn keeps %d inbound bytes, want 3", len(sc.in))
		}
	})

	client.Write([]byte("defgh"))
	got := make([]byte, frame)
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "abcdefgh" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	onLoop(func() {
		if sc.in != nil {
			t.Errorf("quiet conn pins an inbound buffer of cap %d", cap(sc.in))
		}
		if sc.out.bufs != nil {
			t.Errorf("quiet conn pins an outbound queue of cap %d", cap(sc.out.bufs))
		}
	})
	if st := e.Stats(); st.CopyChunks != 0 || st.QueuedBytes != 0 {
		t.Errorf("quiet engine still holds %d chunks, %d queued bytes", st.CopyChunks, st.QueuedBytes)
	}
}

// TestClosedConnIsFreedBeforeItsIdleTimeout: a closed connection with an
// idle timeout armed is not kept alive by its timing-wheel entry until the
// timeout would have passed; what its handler hung on it (here a 4 KiB
// context) is collectable as soon as OnClose returned.
func TestClosedConnIsFreedBeforeItsIdleTimeout(t *testing.T) {
	r := newRecorder(t)
	var ref atomic.Pointer[weak.Pointer[[4096]byte]]
	r.open = func(c *Conn) {
		c.SetIdleTimeout(time.Hour)
		ctx := new([4096]byte)
		w := weak.Make(ctx)
		ref.Store(&w)
		c.SetContext(ctx)
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	client.Close()
	r.waitClose(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		if w := ref.Load(); w != nil && w.Value() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's context is still reachable 10 s after OnClose (idle timeout 1 h)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
