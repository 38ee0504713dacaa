package reactor

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// frameLayer frames each unit with a 4-byte length and passes the unit's
// buffers down unchanged (so pooled WriteCopy chunks reach the socket queue).
type frameLayer struct {
	io      *LayerIO
	release atomic.Int32
}

func (f *frameLayer) Open(io *LayerIO) error { f.io = io; return nil }
func (f *frameLayer) Decode(in []byte) (int, error) {
	n := 0
	for len(in)-n >= 4 {
		size := int(binary.BigEndian.Uint32(in[n:]))
		if len(in)-n-4 < size {
			break
		}
		f.io.Up(in[n+4 : n+4+size])
		n += 4 + size
	}
	return n, nil
}
func (f *frameLayer) Encode(unit [][]byte) error {
	size := 0
	for _, b := range unit {
		size += len(b)
	}
	f.io.Down(binary.BigEndian.AppendUint32(nil, uint32(size)))
	for _, b := range unit {
		f.io.Down(b)
	}
	return nil
}
func (f *frameLayer) Flush() error { return nil }
func (f *frameLayer) Wake() error  { return nil }
func (f *frameLayer) Close()       {}
func (f *frameLayer) Release()     { f.release.Add(1) }

// xorLayer is a stream cipher stand-in: it gathers encoded units and sends
// them down in one piece at Flush (as TLS packs records), sends "BYE" on
// Close, and counts Release calls. With inPlace it gathers in the room
// LayerIO.Reserve gives, at most room bytes of it at a time, and commits
// it at Flush or when a unit does not fit, as TLS's record layer does.
type xorLayer struct {
	io      *LayerIO
	key     byte
	gather  []byte
	scratch []byte
	release *atomic.Int32
	flushes atomic.Int32
	inPlace bool
	room    int
}

func (x *xorLayer) Open(io *LayerIO) error { x.io = io; return nil }
func (x *xorLayer) Decode(in []byte) (int, error) {
	x.scratch = x.scratch[:0]
	for _, b := range in {
		x.scratch = append(x.scratch, b^x.key)
	}
	x.io.Up(x.scratch)
	return len(in), nil
}
func (x *xorLayer) Encode(unit [][]byte) error {
	for _, b := range unit {
		for _, v := range b {
			if x.inPlace && len(x.gather) == cap(x.gather) {
				x.io.Commit(x.gather)
				x.gather = x.io.Reserve(x.room)
				if len(x.gather) != 0 || cap(x.gather) < x.room {
					panic("Reserve: wrong room")
				}
			}
			x.gather = append(x.gather, v^x.key)
		}
	}
	return nil
}
func (x *xorLayer) Flush() error {
	x.flushes.Add(1)
	if x.inPlace {
		x.io.Commit(x.gather)
		x.gather = nil
		return nil
	}
	x.io.DownCopy(x.gather)
	x.gather = x.gather[:0]
	return nil
}
func (x *xorLayer) Wake() error { return nil }
func (x *xorLayer) Close() {
	x.Encode([][]byte{[]byte("BYE")})
	x.Flush()
}
func (x *xorLayer) Release() {
	if x.release != nil {
		x.release.Add(1)
	}
}

func xorBytes(b []byte, key byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = v ^ key
	}
	return out
}

func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// readFrame reads one length-prefixed frame from r.
func readFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		t.Fatalf("read header: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// xorReader undoes the xor layer on what the client reads.
type xorReader struct {
	r   io.Reader
	key byte
}

func (x xorReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	for i := range p[:n] {
		p[i] ^= x.key
	}
	return n, err
}

// TestLayerStackEcho: frames inside a stream layer, with every way of
// writing (on the loop and from other goroutines), keep each unit whole and
// in order, and accounting returns to zero.
func TestLayerStackEcho(t *testing.T) {
	t.Run("copy", func(t *testing.T) { testLayerStackEcho(t, func() *xorLayer { return &xorLayer{} }) })
	// Built in place at the bottom, in rooms from 1 byte to a chunk; the
	// frames (up to 3,004 bytes) cross rooms.
	var rooms atomic.Int32
	t.Run("in place", func(t *testing.T) {
		testLayerStackEcho(t, func() *xorLayer {
			return &xorLayer{inPlace: true, room: []int{1, 100, 4096, 10000}[rooms.Add(1)%4]}
		})
	})
}

// testLayerStackEcho runs TestLayerStackEcho with xor layers from newXor.
func testLayerStackEcho(t *testing.T, newXor func() *xorLayer) {
	const key = 0x5a
	var releases atomic.Int32
	r := newRecorder(t)
	r.open = func(c *Conn) {
		x := newXor()
		x.key, x.release = key, &releases
		if err := c.PushLayer(x); err != nil {
			t.Errorf("push xor: %v", err)
		}
		if err := c.PushLayer(&frameLayer{}); err != nil {
			t.Errorf("push frame: %v", err)
		}
	}
	var seq atomic.Int32
	r.data = func(c *Conn, b []byte) int {
		p := append([]byte(nil), b...)
		switch seq.Add(1) % 6 {
		case 0:
			c.Write(p)
		case 1:
			c.WriteCopy(b)
		case 2:
			c.Writev(p[:len(p)/2], nil, p[len(p)/2:])
		case 3:
			WriteBatch(p, []*Conn{c})
		case 4:
			c.WriteLossy(p)
		case 5:
			// From another goroutine; OnData waits so order is kept.
			done := make(chan struct{})
			go func() { c.WriteCopy(p); close(done) }()
			<-done
		}
		return len(b)
	}
	e, addr := startEngine(t, r, Options{Loops: 2})
	const conns, msgs = 8, 150
	var wg sync.WaitGroup
	for i := range conns {
		nc := dialTCP(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := xorReader{nc, key}
			for m := range msgs {
				want := pattern(i*7919+m*31, 1+(m*97)%3000)
				if _, err := nc.Write(xorBytes(frame(want), key)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				if got := readFrame(t, in); string(got) != string(want) {
					t.Errorf("conn %d msg %d: got %d bytes, want %d", i, m, len(got), len(want))
					return
				}
			}
			nc.CloseWrite()
			rest, err := io.ReadAll(in)
			if err != nil || string(rest) != "BYE" {
				t.Errorf("after close: %q, %v; want BYE from Close", rest, err)
			}
		}()
	}
	wg.Wait()
	for range conns {
		if ev := r.waitClose(t); !errors.Is(ev.err, io.EOF) {
			t.Errorf("OnClose err = %v, want io.EOF", ev.err)
		}
	}
	waitSettled(t, e)
	if n := releases.Load(); n != conns {
		t.Errorf("Release called %d times, want %d", n, conns)
	}
}

// TestLayerPushedInOnData: bytes OnData leaves after pushing a layer are
// that layer's input (protocol sniffing), including bytes that arrived in
// the same read as the sniffed prefix.
func TestLayerPushedInOnData(t *testing.T) {
	const key = 0x33
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int {
		if _, ok := c.Context().(bool); !ok {
			if len(b) < 3 {
				return 0 // wait for the whole marker
			}
			c.SetContext(true)
			if err := c.PushLayer(&xorLayer{key: key}); err != nil {
				t.Errorf("push: %v", err)
			}
			return 3
		}
		c.WriteCopy(b)
		return len(b)
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	msg := []byte("hello through a late layer")
	nc.Write([]byte("XO")) // the marker in two reads
	time.Sleep(20 * time.Millisecond)
	nc.Write(append([]byte("R"), xorBytes(msg, key)...))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(xorReader{nc, key}, got); err != nil || string(got) != string(msg) {
		t.Fatalf("got %q, %v; want %q", got, err, msg)
	}
}

// holdLayer holds the handler's output until a goroutine wakes it, and
// posts a greeting from that goroutine first, as a handshake does.
type holdLayer struct {
	frameLayer
	woke chan struct{}
}

func (h *holdLayer) Open(io *LayerIO) error {
	h.io = io
	io.Hold(true)
	go func() {
		<-h.woke
		io.Post([]byte("HELLO"))
		io.Wake()
	}()
	return nil
}
func (h *holdLayer) Wake() error { h.io.Hold(false); return nil }

// TestLayerHoldPostWake: output written while a layer holds stays queued
// (and counted) until Wake, after the bytes posted from another goroutine.
func TestLayerHoldPostWake(t *testing.T) {
	woke := make(chan struct{})
	r, opened := openedRecorder(t, 1)
	open := r.open
	r.open = func(c *Conn) {
		c.PushLayer(&holdLayer{woke: woke})
		open(c)
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	sc := <-opened
	if err := sc.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sc.Outbound() != 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := sc.Outbound(); n != 5 {
		t.Fatalf("Outbound while held = %d, want 5", n)
	}
	close(woke)
	got := make([]byte, 5)
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "HELLO" {
		t.Fatalf("first bytes %q, %v; want the posted HELLO", got, err)
	}
	if f := readFrame(t, nc); string(f) != "early" {
		t.Fatalf("then %q, want the held unit", f)
	}
}

// failLayer fails its Decode.
type failLayer struct{ frameLayer }

var errBadInput = errors.New("bad input")

func (f *failLayer) Decode(in []byte) (int, error) { return 0, errBadInput }

// TestLayerErrorCloses: a Decode error closes the conn with that cause and
// releases the layer once.
func TestLayerErrorCloses(t *testing.T) {
	fl := &failLayer{}
	r := newRecorder(t)
	r.open = func(c *Conn) { c.PushLayer(fl) }
	e, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	nc.Write([]byte("x"))
	if ev := r.waitClose(t); !errors.Is(ev.err, errBadInput) {
		t.Fatalf("OnClose err = %v, want %v", ev.err, errBadInput)
	}
	waitSettled(t, e)
	if n := fl.release.Load(); n != 1 {
		t.Fatalf("Release called %d times", n)
	}
	var buf [1]byte
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Read(buf[:]); err == nil {
		t.Fatal("socket still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("socket not closed")
	}
}

// TestLayerPassesChunksDown: a layer that passes WriteCopy's pooled chunks
// down unchanged gets them written intact (they go back to the pool only
// after the socket took them) and none is left counted.
func TestLayerPassesChunksDown(t *testing.T) {
	r := newRecorder(t)
	r.open = func(c *Conn) { c.PushLayer(&frameLayer{}) }
	r.data = func(c *Conn, b []byte) int {
		c.WriteCopy(b)
		c.WriteCopy(b[:len(b)/2]) // a second unit right behind the first
		return len(b)
	}
	e, addr := startEngine(t, r, Options{Loops: 1})
	nc := dialTCP(t, addr)
	for m := range 300 {
		want := pattern(m*131, 2+(m*389)%5000) // both units non-empty
		nc.Write(frame(want))
		if got := readFrame(t, nc); string(got) != string(want) {
			t.Fatalf("msg %d: first reply differs", m)
		}
		if got := readFrame(t, nc); string(got) != string(want[:len(want)/2]) {
			t.Fatalf("msg %d: second reply differs", m)
		}
	}
	nc.Close()
	r.waitClose(t)
	waitSettled(t, e)
}
