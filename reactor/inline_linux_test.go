//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// TestInlineGoidTrusted: on this platform goid.Get agrees with the runtime,
// so loop-side writes take the inline path the other tests here exercise.
func TestInlineGoidTrusted(t *testing.T) {
	if !inlineOK() {
		t.Fatal("goid.Get disagrees with runtime.Stack: every write takes the command queue")
	}
	e, _ := startEngine(t, newRecorder(t), Options{Loops: 1})
	if !e.loops[0].inl {
		t.Fatal("loop has inline writes off")
	}
}

// TestInlineWriteQueuesBehindEarlierWrite: a write another goroutine made
// before OnData's (it happens-before: OnData waits for it) is still in the
// command queue when OnData writes; OnData's write must not overtake it.
func TestInlineWriteQueuesBehindEarlierWrite(t *testing.T) {
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Write([]byte("first:")); err != nil {
				t.Errorf("Write from another goroutine: %v", err)
			}
		}()
		wg.Wait()
		if err := c.WriteCopy(b); err != nil {
			t.Errorf("WriteCopy: %v", err)
		}
		return len(b)
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	want := []byte("first:x")
	got := make([]byte, 0, len(want))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for len(got) < len(want) {
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestInlineLentEchoUnderBackpressure echoes OnData's own bytes with
// WriteCopy (lent, not copied) to a client that does not read at first,
// through a 4 KiB send buffer: what the kernel cannot take when OnData
// returns must be copied before the read buffer is reused, so the stream
// arrives whole and unchanged.
func TestInlineLentEchoUnderBackpressure(t *testing.T) {
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int {
		if err := c.WriteCopy(b); err != nil {
			t.Errorf("WriteCopy: %v", err)
		}
		return len(b)
	}
	e, addr := startTinySndBuf(t, r, Options{Loops: 1, MaxOutbound: 64 << 20})
	client := dialSmallRcvBuf(t, addr)
	const total = 2 << 20
	want := pattern(0, total)
	go func() {
		for off := 0; off < total; off += 3000 {
			if _, err := client.Write(want[off:min(off+3000, total)]); err != nil {
				t.Errorf("client write: %v", err)
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the server's queue back up
	got := make([]byte, 0, total)
	buf := make([]byte, 64<<10)
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	for len(got) < total {
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("echo differs at byte %d of %d", i, total)
	}
	if e.Stats().EAGAIN == 0 {
		t.Fatal("the send buffer never filled: the copy of lent bytes was not exercised")
	}
}

// TestInlineWritesBeforePushLayerAreEncoded: PushLayer's contract is that
// writes made before it in the same callback are encoded by the new layer;
// written inline, they sit in the outbound queue and must move to it.
func TestInlineWritesBeforePushLayerAreEncoded(t *testing.T) {
	const key = 0x5A
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int {
		if c.depth() == 0 {
			_ = c.WriteCopy(b)           // lent
			_ = c.Write([]byte("plain")) // caller's buffer
			_ = c.PushLayer(&xorLayer{key: key})
			return len(b)
		}
		return len(b)
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, v := range []byte("helloplain") {
		want = append(want, v^key)
	}
	got := make([]byte, 0, len(want))
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	for len(got) < len(want) {
		n, err := client.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q (encoded by the layer)", got, want)
	}
}
