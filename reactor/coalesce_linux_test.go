//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fanOut writes b coalesceMin times to c with one WriteBatch, so that c's
// loop counts as busy with fan-out from now on, and checks that the client
// cl reads all of it (a quiet loop takes a fan-out at once).
func fanOut(t *testing.T, c *Conn, cl net.Conn, b []byte) {
	t.Helper()
	busy := make([]*Conn, coalesceMin)
	for i := range busy {
		busy[i] = c
	}
	if WriteBatch(b, busy) != coalesceMin {
		t.Fatal("WriteBatch queued less than asked")
	}
	got := make([]byte, len(b)*coalesceMin)
	_ = cl.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, bytes.Repeat(b, coalesceMin)) {
		t.Fatalf("the fan-out that makes the loop busy: %v", err)
	}
}

// TestCoalesceWindowGathersPosts checks that writes posted from another
// goroutine inside a coalescing window wait in the command queue and then
// leave together in one writev, that posts while the loop holds them cost
// no extra wake-up, and that Shutdown takes them at once (it does not wait
// out the window) without losing any.
func TestCoalesceWindowGathersPosts(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	// An hour: a fan-out makes the loop busy for four hours, so the next
	// post opens a window no test outlives and only Shutdown can release
	// what follows.
	e, addr := startEngine(t, r, Options{Loops: 1, CoalesceWindow: time.Hour})
	cl := dialTCP(t, addr)
	c := <-opened
	fanOut(t, c, cl, pattern(0, 10))
	// The client can read the first fan-out before the loop has counted
	// the writev that sent it: wait for the count, so that write is not
	// taken for one of the posts below.
	for deadline := time.Now().Add(20 * time.Second); e.Stats().Writev == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the first fan-out's writev was never counted")
		}
		time.Sleep(time.Millisecond)
	}
	before := e.Stats()
	var want []byte
	for i := range 12 {
		b := pattern(i*50, 50)
		want = append(want, b...)
		var err error
		switch i % 3 {
		case 0:
			err = c.Write(b)
		case 1:
			err = c.WriteCopy(b)
		default:
			if WriteBatch(b, []*Conn{c}) != 1 {
				t.Fatalf("post %d: WriteBatch queued nothing", i)
			}
		}
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if w := e.Stats().Wakeups - before.Wakeups; w > 1 {
		t.Errorf("%d wake-ups for 12 posts inside the window, want at most 1", w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Shutdown(ctx) }()
	if got := readAllTimeout(t, cl, 20*time.Second); !bytes.Equal(got, want) {
		t.Fatalf("client read %d bytes, want %d in order", len(got), len(want))
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := e.Stats().Writev - before.Writev; n != 1 {
		t.Fatalf("%d write syscalls for 12 frames posted inside the window, want 1", n)
	}
}

// TestCoalesceWindowLoneWriteGoesOut checks that a write held by the window
// leaves without any further traffic, and that a Close posted behind held
// writes flushes them all before the connection closes.
func TestCoalesceWindowLoneWriteGoesOut(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	_, addr := startEngine(t, r, Options{Loops: 1, CoalesceWindow: 20 * time.Millisecond})
	cl := dialTCP(t, addr)
	c := <-opened
	fanOut(t, c, cl, []byte("x")) // a fan-out: the loop is busy for 80 ms
	for i := range 3 {
		// Each write usually comes while the loop is busy and waits for a
		// window to end: it must still arrive alone.
		b := pattern(i*10, 10)
		if err := c.Write(b); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got := make([]byte, len(b))
		_ = cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("write %d: read %q, %v", i, got, err)
		}
	}
	var want []byte
	for i := range 20 {
		b := pattern(1000+i*30, 30)
		want = append(want, b...)
		if err := c.Write(b); err != nil {
			t.Fatalf("burst write %d: %v", i, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := readAllTimeout(t, cl, 20*time.Second); !bytes.Equal(got, want) {
		t.Fatalf("after Close the client read %d bytes, want %d in order", len(got), len(want))
	}
	if ev := r.waitClose(t); ev.err != nil {
		t.Fatalf("OnClose err = %v, want nil", ev.err)
	}
}

// TestCoalesceWindowOwnWritesNotHeld checks that a reply written by OnData
// on the loop goes out inside a window no test outlives.
func TestCoalesceWindowOwnWritesNotHeld(t *testing.T) {
	r, opened := openedRecorder(t, 1) // echoes with Write from OnData
	_, addr := startEngine(t, r, Options{Loops: 1, CoalesceWindow: time.Hour})
	cl := dialTCP(t, addr)
	c := <-opened
	fanOut(t, c, cl, []byte("x")) // a fan-out: the loop is busy from now on
	for i := range 3 {
		msg := pattern(i*7, 7)
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		_ = cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
}

// BenchmarkFanoutPaced posts one 64-byte frame to 400 connections on two
// loops every 500 µs (2,000 messages/s, about chatd's group scenario),
// with and without a coalescing window. writes/delivery is write syscalls
// per frame delivered; cpu-ns/delivery is the process's CPU (user+system,
// the readers' included) per delivery; wall time is fixed by the pace.
func BenchmarkFanoutPaced(b *testing.B) {
	const (
		fanout = 400
		every  = 500 * time.Microsecond
	)
	for _, w := range []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond} {
		b.Run("window="+w.String(), func(b *testing.B) {
			r, opened := openedRecorder(b, fanout)
			e, addr := startEngine(b, r, Options{Loops: 2, MaxOutbound: 1 << 30, CoalesceWindow: w})
			conns := make([]*Conn, fanout)
			for i := range conns {
				cl := dialTCP(b, addr)
				go func() {
					buf := make([]byte, 64<<10)
					for {
						if _, err := cl.Read(buf); err != nil {
							return
						}
					}
				}()
				conns[i] = <-opened
			}
			frame := make([]byte, 64)
			before := e.Stats()
			cpu0 := processCPU()
			b.ReportAllocs()
			b.ResetTimer()
			next := time.Now()
			for range b.N {
				if n := WriteBatch(frame, conns); n != fanout {
					b.Fatalf("queued on %d of %d", n, fanout)
				}
				next = next.Add(every)
				if d := time.Until(next); d > 0 {
					// A thread sleep, not time.Sleep: the runtime's timers
					// fire late in bursts on a busy machine, and the loops'
					// own deadlines would change how evenly we post.
					ts := unix.NsecToTimespec(d.Nanoseconds())
					_ = unix.Nanosleep(&ts, nil)
				}
			}
			want := before.BytesOut + uint64(b.N*fanout*len(frame))
			for e.Stats().BytesOut < want {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			d := float64(b.N * fanout)
			s := e.Stats()
			b.ReportMetric(float64(s.Writev-before.Writev)/d, "writes/delivery")
			b.ReportMetric(float64(s.Wakeups-before.Wakeups)/float64(b.N), "wakeups/frame")
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/d, "cpu-ns/delivery")
		})
	}
}

// processCPU is the process's user plus system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCoalesceWindowQuietLoopNotHeld checks that without fan-out (writes a
// few at a time, as replies to requests are) a loop takes posts at once,
// even with a window no test outlives.
func TestCoalesceWindowQuietLoopNotHeld(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	_, addr := startEngine(t, r, Options{Loops: 1, CoalesceWindow: time.Hour})
	cl := dialTCP(t, addr)
	c := <-opened
	for i := range 5 {
		b := pattern(i*20, 20)
		if err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(b))
		_ = cl.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("write %d: %q, %v", i, got, err)
		}
	}
}
