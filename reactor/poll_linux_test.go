//go:build linux && !reactor_netfallback

package reactor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLoopWaitParksAndWakes drives one loop's wait directly (no run
// goroutine): nothing ready polls empty, a timeout returns empty without an
// error, an eventfd write wakes a parked wait, and waiting does not allocate.
func TestLoopWaitParksAndWakes(t *testing.T) {
	e := &Engine{opts: Options{}.withDefaults()}
	l, err := newLoop(e, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Close(l.efd)
		l.closePoller()
	}()
	if n, err := l.wait(0); n != 0 || err != nil {
		t.Fatalf("poll with nothing ready: %d events, %v", n, err)
	}
	if n, err := l.wait(5 * time.Millisecond); n != 0 || err != nil {
		t.Fatalf("timed wait with nothing ready: %d events, %v", n, err)
	}
	wake := func() {
		if _, err := unix.Write(l.efd, wakeBytes); err != nil {
			t.Error(err)
		}
	}
	go wake()
	n, err := l.wait(-1) // parks until the eventfd write
	if n != 1 || err != nil || l.events[0].Fd != evWake {
		t.Fatalf("wake: %d events (fd %d), %v", n, l.events[0].Fd, err)
	}
	unix.Read(l.efd, l.efdBuf[:])
	allocs := testing.AllocsPerRun(100, func() {
		wake()
		if n, _ := l.wait(-1); n != 1 {
			t.Fatalf("wake: %d events", n)
		}
		unix.Read(l.efd, l.efdBuf[:])
		l.wait(0)
	})
	if allocs != 0 {
		t.Fatalf("wait allocates %.1f times per call", allocs)
	}
}
