//go:build linux && !reactor_netfallback

package reactor

import (
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestWriteCopyEAGAINResumes pushes 4 MiB through a 4 KiB send buffer with
// WriteCopy of random sizes (every chunk class) from a reused buffer: chunks
// left half-written on EAGAIN must resume at their offset and nothing may be
// lost, reordered or corrupted.
func TestWriteCopyEAGAINResumes(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	e, addr := startTinySndBuf(t, r, Options{Loops: 2, MaxOutbound: 64 << 20})
	client := dialSmallRcvBuf(t, addr)
	sc := <-opened

	const total = 4 << 20
	want := pattern(0, total)
	go func() {
		rng := rand.New(rand.NewPCG(5, 6))
		buf := make([]byte, 80<<10)
		for off := 0; off < total; {
			n := min(1+rng.IntN(9000), total-off)
			if rng.IntN(50) == 0 {
				n = min(maxChunk+rng.IntN(10<<10), total-off)
			}
			copy(buf, want[off:off+n])
			if err := sc.WriteCopy(buf[:n]); err != nil {
				t.Errorf("WriteCopy: %v", err)
				return
			}
			scribble(buf[:n])
			off += n
		}
		sc.Close()
	}()
	expectStalledStream(t, e, r, client, want)
	waitSettled(t, e)
}

// TestWriteCopyShutdownDropsChunks: a hard shutdown (context expired) with
// chunks queued to a reader that never reads hands every chunk back; a
// graceful one delivers them first (TestShutdownDeliversQueuedData covers
// that for Write; here the count must also reach zero).
func TestWriteCopyShutdownDropsChunks(t *testing.T) {
	for _, hard := range []bool{false, true} {
		r := newRecorder(t)
		const conns = 4
		opened := make(chan *Conn, conns)
		r.open = func(c *Conn) { opened <- c }
		e, err := New(r, Options{Loops: 2})
		if err != nil {
			t.Fatal(err)
		}
		e.sndBuf.Store(4096)
		addr, err := e.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		for range conns {
			c := dialSmallRcvBuf(t, addr.String())
			if !hard {
				go io.Copy(io.Discard, c)
			}
			sc := <-opened
			buf := make([]byte, 3000)
			for range 100 {
				if err := sc.WriteCopy(buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if hard {
			ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		}
		err = e.Shutdown(ctx)
		cancel()
		if hard != (err != nil) {
			t.Fatalf("hard=%v: Shutdown = %v", hard, err)
		}
		waitSettled(t, e)
	}
}

// TestWriteCopyCoalesces: 1,000 10-byte WriteCopy calls made while the loop
// is inside a pass share a few chunks (1 KiB, then 4 and 16 KiB as the run
// spills over) and leave in one syscall; written chunks go back to the pool.
func TestWriteCopyCoalesces(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	e, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	sc := <-opened
	hold, held := make(chan struct{}), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	defer release() // a failure below must not leave the loop blocked
	e.AfterFunc(0, func() { close(held); <-hold })
	<-held
	st := e.Stats()
	buf := make([]byte, 10)
	for i := range 1000 {
		for j := range buf {
			buf[j] = byte(i + j)
		}
		if err := sc.WriteCopy(buf); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.Stats().CopyChunks; n != 3 {
		t.Fatalf("%d chunks for 10,000 coalesced bytes, want 3 (1+4+16 KiB)", n)
	}
	release()
	got := make([]byte, 10_000)
	client.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		for j := range 10 {
			if got[i*10+j] != byte(i+j) {
				t.Fatalf("frame %d byte %d corrupted", i, j)
			}
		}
	}
	after := e.Stats()
	for i := 0; i < 1000 && (after.BytesOut < st.BytesOut+10_000 || after.CopyChunks != 0); i++ {
		time.Sleep(5 * time.Millisecond)
		after = e.Stats()
	}
	if n := after.Writev - st.Writev; n != 1 {
		t.Fatalf("%d flush syscalls for 3 chunks queued in one pass, want 1", n)
	}
	if after.CopyChunks != 0 {
		t.Fatalf("%d chunks still held after the flush", after.CopyChunks)
	}
}

// TestWriteCopyEchoAllocatesNothing: a steady-state round trip through a
// handler that echoes with WriteCopy allocates nothing anywhere in the
// process (loop, chunk pool, out queue), at 64 B and 4 KiB.
func TestWriteCopyEchoAllocatesNothing(t *testing.T) {
	for _, size := range []int{64, 4096} {
		r := newRecorder(t)
		r.data = func(c *Conn, b []byte) int {
			whole := len(b) / size * size
			if whole > 0 {
				c.WriteCopy(b[:whole])
			}
			return whole
		}
		_, addr := startEngine(t, r, Options{Loops: 1})
		c := dialTCP(t, addr)
		msg := pattern(0, size)
		got := make([]byte, size)
		roundTrip := func() {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
		}
		for range 200 { // warm up: pools, queue arrays, netpoller
			roundTrip()
		}
		if a := testing.AllocsPerRun(500, roundTrip); a != 0 {
			t.Fatalf("size %d: %.2f allocations per WriteCopy echo, want 0", size, a)
		}
	}
}

// TestWriteCopyBackedUpConnFoldsChunks: small WriteCopy calls that reach the
// loop one pass at a time while the conn's socket is full are folded into
// the tail chunk, so the conn holds a few chunks, not one per reply; after
// the reader catches up everything arrives in order and every chunk is back.
func TestWriteCopyBackedUpConnFoldsChunks(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	e, addr := startTinySndBuf(t, r, Options{Loops: 1})
	client := dialSmallRcvBuf(t, addr)
	sc := <-opened
	fill := pattern(0, 256<<10)
	if err := sc.Write(fill); err != nil { // fills the socket buffers: EAGAIN
		t.Fatal(err)
	}
	want := append([]byte(nil), fill...)
	buf := make([]byte, 10)
	for i := range 300 {
		for j := range buf {
			buf[j] = byte(i + j)
		}
		want = append(want, buf...)
		before := e.Stats().QueuedBytes
		if err := sc.WriteCopy(buf); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 10_000 && e.Stats().QueuedBytes == before; k++ {
			time.Sleep(100 * time.Microsecond) // until the loop has taken it
		}
	}
	if n := e.Stats().CopyChunks; n > 4 {
		t.Fatalf("%d chunks held for 3,000 bytes of replies, want at most 4", n)
	}
	sc.Close()
	got := readAllTimeout(t, client, 30*time.Second)
	if len(got) != len(want) || firstDiff(got, want) >= 0 {
		t.Fatalf("got %d bytes, want %d identical", len(got), len(want))
	}
	r.waitClose(t)
	waitSettled(t, e)
}
