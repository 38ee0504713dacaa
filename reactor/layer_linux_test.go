//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// doubleLayer sends every byte twice: its wire is twice the handler's bytes.
type doubleLayer struct{ frameLayer }

func (d *doubleLayer) Encode(unit [][]byte) error {
	for _, b := range unit {
		d.io.DownCopy(b)
		d.io.DownCopy(b)
	}
	return nil
}

// TestLayerOutboundCountsWire: MaxOutbound counts the bytes a layer makes,
// not those the handler wrote: with a layer doubling them, a stalled peer
// closes the conn with ErrSlowConsumer after about half the limit.
func TestLayerOutboundCountsWire(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	open := r.open
	r.open = func(c *Conn) {
		c.PushLayer(&doubleLayer{})
		open(c)
	}
	const limit = 256 << 10
	e, addr := startTinySndBuf(t, r, Options{Loops: 1, MaxOutbound: limit})
	dialSmallRcvBuf(t, addr) // never reads
	sc := <-opened
	chunk := make([]byte, 8000)
	accepted := 0
	var err error
	for i := 0; i < 10_000 && err == nil; i++ {
		if err = sc.Write(chunk); err != nil {
			break
		}
		accepted += len(chunk)
		// A unit counts its own length until the loop encodes it: let it.
		for after, deadline := sc.Outbound(), time.Now().Add(time.Second); sc.Outbound() == after && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("err = %v, want ErrSlowConsumer", err)
	}
	if accepted > limit*3/4 {
		t.Fatalf("accepted %d bytes before the limit; the doubled wire bytes were not counted", accepted)
	}
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrSlowConsumer) {
		t.Fatalf("OnClose err = %v", ev.err)
	}
	waitSettled(t, e)
}

// lateLayer is a frameLayer that takes no input until a goroutine wakes it
// (as a TLS handshake does) and reads a zero-length frame as the peer's
// goodbye (close_notify): the frames before it and the goodbye are decoded
// in one go when the drain runs the layer's Wake.
type lateLayer struct {
	frameLayer
	ready bool
	input chan struct{} // closed when the first input was left unconsumed
}

func (l *lateLayer) Decode(in []byte) (int, error) {
	if !l.ready {
		if l.input != nil {
			close(l.input)
			l.input = nil
		}
		return 0, nil
	}
	n := 0
	for len(in)-n >= 4 {
		size := int(binary.BigEndian.Uint32(in[n:]))
		if size == 0 {
			return n + 4, io.EOF
		}
		if len(in)-n-4 < size {
			break
		}
		l.io.Up(in[n+4 : n+4+size])
		n += 4 + size
	}
	return n, nil
}

func (l *lateLayer) Wake() error { l.ready = true; return nil }

// TestLayerReplyBeforeGoodbyeInWake: a reply OnData writes while a layer's
// Wake decodes the peer's data is written before the graceful close the
// goodbye in the same input starts; with the reply on the inline path and
// with it in the command queue (as every loop write was when goid cannot
// be trusted).
func TestLayerReplyBeforeGoodbyeInWake(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(map[bool]string{true: "inline", false: "queued"}[inline], func(t *testing.T) {
			input := make(chan struct{})
			layer := make(chan *lateLayer, 1)
			r := newRecorder(t)
			r.open = func(c *Conn) {
				if !inline {
					c.loop.gid.Store(-1) // no write is on the loop goroutine
				}
				l := &lateLayer{input: input}
				c.PushLayer(l)
				layer <- l
			}
			e, addr := startEngine(t, r, Options{Loops: 1})
			nc := dialTCP(t, addr)
			want := pattern(7, 3000)
			nc.Write(append(append(frame(want), frame([]byte("2"))...), 0, 0, 0, 0))
			l := <-layer
			<-input
			l.io.Wake()
			if got := readFrame(t, nc); !bytes.Equal(got, want) {
				t.Fatalf("first reply differs")
			}
			if got := readFrame(t, nc); string(got) != "2" {
				t.Fatalf("second reply %q", got)
			}
			if rest := readAllTimeout(t, nc, 20*time.Second); len(rest) != 0 {
				t.Fatalf("%d bytes after the replies", len(rest))
			}
			if ev := r.waitClose(t); !errors.Is(ev.err, io.EOF) {
				t.Fatalf("OnClose err = %v, want io.EOF", ev.err)
			}
			waitSettled(t, e)
		})
	}
}

// TestLayerLoopWritesKeepOrder: on a layered conn, writes OnData makes on
// the loop (inline) and from another goroutine (command queue) reach the
// peer in the order they were made, with every writer: a loop write made
// while an earlier one waits in the command queue queues behind it.
func TestLayerLoopWritesKeepOrder(t *testing.T) {
	const key = 0x21
	r := newRecorder(t)
	r.open = func(c *Conn) {
		c.PushLayer(&xorLayer{key: key})
		c.PushLayer(&frameLayer{})
	}
	write := func(c *Conn, k int, p []byte) {
		var err error
		switch k % 4 {
		case 0:
			err = c.Write(p)
		case 1:
			err = c.WriteCopy(p)
		case 2:
			err = c.Writev(p[:len(p)/2], nil, p[len(p)/2:])
		case 3:
			if WriteBatch(p, []*Conn{c}) != 1 {
				err = ErrClosed
			}
		}
		if err != nil {
			t.Errorf("write %d: %v", k, err)
		}
	}
	var seq atomic.Int32
	r.data = func(c *Conn, b []byte) int {
		k := int(seq.Add(1))
		write(c, k, append([]byte("A"), b...)) // on the loop
		done := make(chan struct{})
		go func() { write(c, k+1, append([]byte("B"), b...)); close(done) }()
		<-done                                   // B waits in the command queue
		write(c, k+2, append([]byte("C"), b...)) // on the loop, behind B
		c.WriteCopy(append([]byte("D"), b...))   // and behind C
		return len(b)
	}
	e, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	in := xorReader{nc, key}
	for m := range 200 {
		msg := pattern(m*13, 1+(m*211)%2000)
		nc.Write(xorBytes(frame(msg), key))
		for _, p := range "ABCD" {
			if got := readFrame(t, in); got[0] != byte(p) || !bytes.Equal(got[1:], msg) {
				t.Fatalf("msg %d: got %q... where %c was due", m, got[:1], p)
			}
		}
	}
	nc.Close()
	r.waitClose(t)
	waitSettled(t, e)
}

// alertLayer is a frameLayer that answers a frame starting with '!' with
// the unframed bytes "ALERT" and fails with FlushFirst, as TLS does with a
// fatal alert.
type alertLayer struct{ frameLayer }

func (a *alertLayer) Decode(in []byte) (int, error) {
	n := 0
	for len(in)-n >= 4 {
		size := int(binary.BigEndian.Uint32(in[n:]))
		if len(in)-n-4 < size {
			break
		}
		p := in[n+4 : n+4+size]
		n += 4 + size
		if len(p) > 0 && p[0] == '!' {
			a.io.Down([]byte("ALERT"))
			return n, FlushFirst(errBadInput)
		}
		a.io.Up(p)
	}
	return n, nil
}

// TestLayerFlushFirst: a layer failing with FlushFirst gets the bytes it
// sent down written before the close, through the layer below it (which
// gathers until Flush), and OnClose gets the error itself; a reply the
// handler wrote in the same read and the layer had not encoded is dropped.
// A peer that does not read gets the conn closed all the same.
func TestLayerFlushFirst(t *testing.T) {
	const key = 0x44
	r := newRecorder(t)
	r.open = func(c *Conn) {
		c.PushLayer(&xorLayer{key: key})
		c.PushLayer(&alertLayer{})
	}
	e, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	nc.Write(xorBytes(append(frame([]byte("hi")), frame([]byte("!"))...), key))
	got := readAllTimeout(t, xorConn{nc, key}, 20*time.Second)
	if string(got) != "ALERT" {
		t.Fatalf("client got %q before EOF, want ALERT alone", got)
	}
	if ev := r.waitClose(t); ev.err != errBadInput {
		t.Fatalf("OnClose err = %v, want %v", ev.err, errBadInput)
	}
	waitSettled(t, e)

	// The peer does not read: its socket is full when it misbehaves.
	r2, opened := openedRecorder(t, 1)
	open := r2.open
	r2.open = func(c *Conn) {
		c.PushLayer(&alertLayer{})
		open(c)
	}
	e2, addr2 := startTinySndBuf(t, r2, Options{Loops: 1})
	nc2 := dialSmallRcvBuf(t, addr2)
	sc := <-opened
	for deadline := time.Now().Add(10 * time.Second); sc.Outbound() < 64<<10 && time.Now().Before(deadline); {
		if err := sc.Write(make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	nc2.Write(frame([]byte("!")))
	if ev := r2.waitClose(t); ev.err != errBadInput {
		t.Fatalf("OnClose err = %v, want %v", ev.err, errBadInput)
	}
	waitSettled(t, e2)
}

// xorConn is a net.Conn whose reads undo the xor layer.
type xorConn struct {
	net.Conn
	key byte
}

func (x xorConn) Read(p []byte) (int, error) { return xorReader{x.Conn, x.key}.Read(p) }

// reserveLayer is a frameLayer whose Decode, on each frame, checks what
// Reserve and Commit do with the outbound queue (on the loop, where the
// test can look at the queue) and sends four pieces: two built in place,
// one from a buffer of its own that it then overwrites, one over 64 KiB.
type reserveLayer struct {
	frameLayer
	errs chan<- string
}

func (rl *reserveLayer) Decode(in []byte) (int, error) {
	n, err := rl.frameLayer.Decode(in) // OnData's reply: not encoded yet
	if n == 0 {
		return n, err
	}
	io, c := rl.io, rl.io.c
	fail := func(format string, args ...any) { rl.errs <- fmt.Sprintf(format, args...) }
	a := io.Reserve(10)
	if len(a) != 0 || cap(a) < 10 {
		fail("Reserve(10): len %d cap %d", len(a), cap(a))
	}
	a = append(a, "0123456789"...)
	io.Commit(a)
	t := c.out.tail()
	if t == nil || !t.pooled || unsafe.SliceData(t.b[len(t.b)-10:]) != unsafe.SliceData(a) {
		fail("the first piece was not queued where it was built")
	}
	b := io.Reserve(10) // the room after a in the same chunk
	if unsafe.SliceData(b[:1]) != &a[:11][10] {
		fail("the second Reserve did not give the room after the first piece")
	}
	io.Commit(append(b, "ABCDEFGHIJ"...))
	if k := c.out.buffers(); k != 1 {
		fail("%d buffers queued, want the one chunk", k)
	}
	own := []byte("abcdefghij")
	io.Commit(own)
	copy(own, "XXXXXXXXXX") // Commit copied it: this must not reach the peer
	big := io.Reserve(100 << 10)
	io.Commit(append(big, bytes.Repeat([]byte{'z'}, 100<<10)...))
	return n, err
}

// TestLayerReserveCommit: bytes a layer builds in Reserve's room join the
// outbound queue where they lie (the next Reserve continues the same
// chunk), a slice Reserve did not give is copied, and every byte reaches
// the peer in order.
func TestLayerReserveCommit(t *testing.T) {
	errs := make(chan string, 16)
	r := newRecorder(t)
	r.open = func(c *Conn) { c.PushLayer(&reserveLayer{errs: errs}) }
	r.data = func(c *Conn, b []byte) int { return len(b) }
	e, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	want := append([]byte("0123456789ABCDEFGHIJabcdefghij"), bytes.Repeat([]byte{'z'}, 100<<10)...)
	for range 3 {
		nc.Write(frame([]byte("go")))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil {
			t.Fatalf("read: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %q..., want %q...", got[:30], want[:30])
		}
	}
	nc.Close()
	r.waitClose(t)
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	waitSettled(t, e)
}

// TestLayerReserveSlowReader: while the peer does not read, a layer that
// commits a little at every flush fills the queue's last chunk before
// another is taken, so a full socket holds about its bytes in chunks, not
// a chunk per flush.
func TestLayerReserveSlowReader(t *testing.T) {
	const key, units, size = 0x33, 3000, 100
	r, opened := openedRecorder(t, 1)
	open := r.open
	r.open = func(c *Conn) {
		c.PushLayer(&xorLayer{key: key, inPlace: true, room: 64})
		open(c)
	}
	e, addr := startTinySndBuf(t, r, Options{Loops: 1, MaxOutbound: 64 << 20})
	nc := dialSmallRcvBuf(t, addr)
	sc := <-opened
	want := pattern(7, units*size)
	for i := range units { // from this goroutine: a flush every few units
		if err := sc.Write(want[i*size : (i+1)*size]); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if i%10 == 9 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	var s Stats
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if s = e.Stats(); s.QueuedBytes > 0 && sc.Outbound() == int(s.QueuedBytes) {
			break // every unit is encoded: what is queued is wire bytes
		}
	}
	if s.QueuedBytes < 100<<10 {
		t.Fatalf("only %d bytes queued: the socket took too much for the test", s.QueuedBytes)
	}
	if max := s.QueuedBytes/reserveMin + 2; s.CopyChunks > max {
		t.Errorf("%d chunks hold %d queued bytes, want at most %d", s.CopyChunks, s.QueuedBytes, max)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(xorReader{nc, key}, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the peer got other bytes than were written")
	}
	nc.Close()
	r.waitClose(t)
	waitSettled(t, e)
}
