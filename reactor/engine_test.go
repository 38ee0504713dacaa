package reactor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestEcho1000Conns(t *testing.T) {
	r := newRecorder(t)
	e, addr := startEngine(t, r, Options{Loops: 2})
	const conns = 1000
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			total := 1 + rng.IntN(16<<10)
			msg := pattern(i*1000, total)
			done := make(chan error, 1)
			go func() {
				got := make([]byte, total)
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				_, err := io.ReadFull(c, got)
				if err == nil && !bytes.Equal(got, msg) {
					err = fmt.Errorf("conn %d: echoed bytes differ", i)
				}
				done <- err
			}()
			for off := 0; off < total; {
				n := min(1+rng.IntN(3000), total-off)
				if _, err := c.Write(msg[off : off+n]); err != nil {
					errs <- err
					return
				}
				off += n
			}
			if err := <-done; err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := e.Stats(); s.Accepted != conns {
		t.Errorf("Accepted = %d, want %d", s.Accepted, conns)
	}
}

func TestConcurrentWritersKeepPerGoroutineOrder(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	_, addr := startEngine(t, r, Options{Loops: 2})
	client := dialTCP(t, addr)
	sc := <-opened

	const writers, perWriter = 100, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range perWriter {
				if err := sc.Write([]byte(fmt.Sprintf("%d:%d\n", g, s))); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	br := bufio.NewReader(client)
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	for range writers * perWriter {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		g, s, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ":")
		gi, _ := strconv.Atoi(g)
		si, _ := strconv.Atoi(s)
		if next[gi] != si {
			t.Fatalf("writer %d: got seq %d, want %d", gi, si, next[gi])
		}
		next[gi]++
	}
	wg.Wait()
}

func TestWritevKeepsUnitsTogether(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	sc := <-opened
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				sc.Writev([]byte{'['}, bytes.Repeat([]byte{byte('a' + g)}, 50), []byte{']'})
			}
		}()
	}
	wg.Wait()
	got := make([]byte, 10*100*52)
	client.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(got); i += 52 {
		u := got[i : i+52]
		if u[0] != '[' || u[51] != ']' || bytes.Count(u[1:51], u[1:2]) != 50 {
			t.Fatalf("unit %d interleaved: %q", i/52, u)
		}
	}
}

func TestHalfCloseDeliversThenCloses(t *testing.T) {
	r := newRecorder(t)
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	msg := pattern(0, 100_000)
	if _, err := client.Write(msg); err != nil {
		t.Fatal(err)
	}
	client.CloseWrite()
	got := readAllTimeout(t, client, 20*time.Second)
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes back, want %d identical", len(got), len(msg))
	}
	if ev := r.waitClose(t); ev.err != io.EOF {
		t.Fatalf("OnClose err = %v, want io.EOF", ev.err)
	}
}

func TestCloseFlushesThenCloses(t *testing.T) {
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int {
		c.Write([]byte("bye"))
		c.Close()
		if err := c.Write([]byte("late")); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close = %v, want ErrClosed", err)
		}
		return len(b)
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	client.Write([]byte("hi"))
	if got := readAllTimeout(t, client, 20*time.Second); string(got) != "bye" {
		t.Fatalf("got %q, want %q", got, "bye")
	}
	if ev := r.waitClose(t); ev.err != nil {
		t.Fatalf("OnClose err = %v, want nil", ev.err)
	}
}

// closeWhileUnread has OnOpen queue size bytes and close gracefully, for
// the CloseTimeout tests, whose clients read nothing at first.
func closeWhileUnread(r *recorder, size int) {
	r.open = func(c *Conn) {
		const chunk = 1 << 20
		for off := 0; off < size; off += chunk {
			if err := c.Write(pattern(off, chunk)); err != nil {
				r.t.Errorf("write: %v", err)
			}
		}
		c.Close()
	}
}

// TestCloseTimeoutDropsUnreadOutput: a graceful close whose peer stops
// reading gives up after Options.CloseTimeout instead of holding the
// connection (without an idle timeout: for ever), and says why.
func TestCloseTimeoutDropsUnreadOutput(t *testing.T) {
	r := newRecorder(t)
	const size = 32 << 20 // far more than loopback's socket buffers hold
	closeWhileUnread(r, size)
	_, addr := startEngine(t, r, Options{Loops: 1, MaxOutbound: 2 * size, TickInterval: 10 * time.Millisecond, CloseTimeout: 200 * time.Millisecond})
	client := dialTCP(t, addr)
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrCloseTimeout) {
		t.Fatalf("OnClose err = %v, want ErrCloseTimeout", ev.err)
	}
	client.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, _ := io.ReadAll(client) // EOF, or a reset if the kernel had unsent bytes
	if len(got) >= size || !bytes.Equal(got, pattern(0, len(got))) {
		t.Fatalf("client got %d bytes (a prefix: %v), want a prefix shorter than %d", len(got), bytes.Equal(got, pattern(0, len(got))), size)
	}
}

// TestCloseTimeoutNegativeWaits: a negative CloseTimeout stays "no bound"
// (only 0 becomes the 10 s default), and with it a graceful close waits
// for the peer however long it takes: still open after 50 ticks, and all
// the output arrives once it reads.
func TestCloseTimeoutNegativeWaits(t *testing.T) {
	if d := (Options{CloseTimeout: -1}).withDefaults().CloseTimeout; d >= 0 {
		t.Fatalf("CloseTimeout -1 became %v, want it kept negative (no bound)", d)
	}
	if d := (Options{}).withDefaults().CloseTimeout; d != defaultCloseTimeout {
		t.Fatalf("CloseTimeout 0 became %v, want %v", d, defaultCloseTimeout)
	}
	r := newRecorder(t)
	const size = 32 << 20
	closeWhileUnread(r, size)
	_, addr := startEngine(t, r, Options{Loops: 1, MaxOutbound: 2 * size, TickInterval: 10 * time.Millisecond, CloseTimeout: -1})
	client := dialTCP(t, addr)
	select {
	case ev := <-r.closed:
		t.Fatalf("closed after 50 ticks with the output unread: %v", ev.err)
	case <-time.After(500 * time.Millisecond):
	}
	if got := readAllTimeout(t, client, 60*time.Second); !bytes.Equal(got, pattern(0, size)) {
		t.Fatalf("client got %d bytes, want the %d written", len(got), size)
	}
	if ev := r.waitClose(t); ev.err != nil {
		t.Fatalf("OnClose err = %v, want nil", ev.err)
	}
}

func TestInboundLimit(t *testing.T) {
	r := newRecorder(t)
	r.data = func(c *Conn, b []byte) int { return 0 } // never a whole frame
	_, addr := startEngine(t, r, Options{Loops: 1, MaxInbound: 4096})
	client := dialTCP(t, addr)
	client.Write(make([]byte, 10_000))
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrInboundTooLarge) {
		t.Fatalf("OnClose err = %v, want ErrInboundTooLarge", ev.err)
	}
}

func TestPartialFramesAreKept(t *testing.T) {
	// Frames are "len byte + payload"; the client sends them split at every byte.
	r := newRecorder(t)
	var frames [][]byte
	var mu sync.Mutex
	got := make(chan struct{})
	r.data = func(c *Conn, b []byte) int {
		n := 0
		for len(b)-n >= 1 && len(b)-n >= 1+int(b[n]) {
			l := int(b[n])
			mu.Lock()
			frames = append(frames, append([]byte(nil), b[n+1:n+1+l]...))
			if len(frames) == 50 {
				close(got)
			}
			mu.Unlock()
			n += 1 + l
		}
		return n
	}
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	var want [][]byte
	var stream []byte
	for i := range 50 {
		p := pattern(i, i*5)
		want = append(want, p)
		stream = append(stream, byte(len(p)))
		stream = append(stream, p...)
	}
	for i := 0; i < len(stream); i += 7 {
		client.Write(stream[i:min(i+7, len(stream))])
	}
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("frames not delivered")
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range want {
		if !bytes.Equal(frames[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}

func TestIdleTimeoutFires(t *testing.T) {
	r := newRecorder(t)
	r.open = func(c *Conn) { c.SetIdleTimeout(50 * time.Millisecond) }
	_, addr := startEngine(t, r, Options{Loops: 1, TickInterval: 10 * time.Millisecond})
	client := dialTCP(t, addr)
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrIdleTimeout) {
		t.Fatalf("OnClose err = %v, want ErrIdleTimeout", ev.err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after idle close = %v, want EOF", err)
	}
}

func TestIdleTimeoutResetByReads(t *testing.T) {
	r := newRecorder(t)
	r.open = func(c *Conn) { c.SetIdleTimeout(time.Second) }
	_, addr := startEngine(t, r, Options{Loops: 1, TickInterval: 10 * time.Millisecond})
	client := dialTCP(t, addr)
	// Keep talking for 2.5 timeouts with pauses of a tenth of it: no close.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		client.Write([]byte("x"))
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case ev := <-r.closed:
		t.Fatalf("conn closed while active: %v", ev.err)
	default:
	}
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrIdleTimeout) {
		t.Fatalf("OnClose err = %v, want ErrIdleTimeout", ev.err)
	}
}

func TestAfterFunc(t *testing.T) {
	e, err := New(newRecorder(t), Options{Loops: 2, TickInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	ran := make(chan struct{})
	e.AfterFunc(20*time.Millisecond, func() { close(ran) })
	var stoppedRan atomic.Bool
	stop := e.AfterFunc(time.Hour, func() { stoppedRan.Store(true) })
	if !stop() {
		t.Fatal("stop of a pending timer returned false")
	}
	select {
	case <-ran:
	case <-time.After(20 * time.Second):
		t.Fatal("AfterFunc did not run")
	}
	if stop() {
		t.Fatal("second stop returned true")
	}
	if stoppedRan.Load() {
		t.Fatal("stopped timer ran")
	}
}

func TestShutdownDeliversQueuedData(t *testing.T) {
	r := newRecorder(t)
	const size = 3 << 20
	msg := pattern(0, size)
	opened := make(chan struct{})
	r.open = func(c *Conn) {
		for off := 0; off < size; off += 64 << 10 {
			if err := c.Write(msg[off : off+64<<10]); err != nil {
				t.Errorf("write: %v", err)
			}
		}
		close(opened)
	}
	e, err := New(r, Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := e.Listen("tcp", "127.0.0.1:0")
	client := dialTCP(t, addr.String())
	<-opened
	shut := make(chan error, 1)
	go func() { shut <- e.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // let Shutdown start while the client is not reading
	got := readAllTimeout(t, client, 20*time.Second)
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want %d identical", len(got), size)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrEngineClosed) {
		t.Fatalf("OnClose err = %v, want ErrEngineClosed", ev.err)
	}
	if err := e.Serve(); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("Serve after Shutdown = %v", err)
	}
	if _, err := e.Listen("tcp", "127.0.0.1:0"); !errors.Is(err, ErrEngineClosed) {
		t.Fatalf("Listen after Shutdown = %v", err)
	}
}

func TestShutdownContextExpiryClosesHard(t *testing.T) {
	r := newRecorder(t)
	opened := make(chan struct{})
	r.open = func(c *Conn) {
		// More than loopback socket buffers can absorb (about 10 MiB).
		big := make([]byte, 1<<20)
		for range 32 {
			c.Write(big)
		}
		close(opened)
	}
	e, err := New(r, Options{Loops: 1, MaxOutbound: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := e.Listen("tcp", "127.0.0.1:0")
	c := dialTCP(t, addr.String())
	c.SetReadBuffer(4096)
	<-opened
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded (client never reads)", err)
	}
	if ev := r.waitClose(t); !errors.Is(ev.err, ErrEngineClosed) {
		t.Fatalf("OnClose err = %v", ev.err)
	}
	if s := e.Stats(); s.Conns != 0 || s.QueuedBytes != 0 {
		t.Fatalf("after hard shutdown: %+v", s)
	}
}

func TestDialRoundTrip(t *testing.T) {
	_, addr := startEngine(t, newRecorder(t), Options{Loops: 1})
	cr := newRecorder(t)
	got := make(chan []byte, 16)
	cr.data = func(c *Conn, b []byte) int {
		got <- append([]byte(nil), b...)
		return len(b)
	}
	ce, err := New(cr, Options{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ce.Shutdown(context.Background())
	c, err := ce.Dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if c.RemoteAddr().String() != addr {
		t.Errorf("RemoteAddr = %v, want %v", c.RemoteAddr(), addr)
	}
	c.SetContext("client")
	if c.Context() != "client" {
		t.Errorf("Context = %v", c.Context())
	}
	c.Write([]byte("ping"))
	var buf []byte
	for len(buf) < 4 {
		select {
		case b := <-got:
			buf = append(buf, b...)
		case <-time.After(20 * time.Second):
			t.Fatal("no echo")
		}
	}
	if string(buf) != "ping" {
		t.Fatalf("echo = %q", buf)
	}
	c.Close()
	if ev := cr.waitClose(t); ev.err != nil {
		t.Fatalf("client OnClose err = %v", ev.err)
	}

	// A refused dial returns an error and calls no handler.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if _, err := ce.Dial(context.Background(), "tcp", dead); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}

func TestPoolOrderingPerKey(t *testing.T) {
	p := NewPool(4, 10_000)
	var mu sync.Mutex
	seen := map[uint64][]int{}
	for i := range 1000 {
		key := uint64(i % 7)
		if err := p.Submit(key, func() {
			mu.Lock()
			seen[key] = append(seen[key], i)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	for key, list := range seen {
		for j := 1; j < len(list); j++ {
			if list[j] < list[j-1] {
				t.Fatalf("key %d out of order: %v", key, list)
			}
		}
	}
	if n := len(seen[0]) + len(seen[1]) + len(seen[2]) + len(seen[3]) + len(seen[4]) + len(seen[5]) + len(seen[6]); n != 1000 {
		t.Fatalf("ran %d tasks, want 1000", n)
	}
}

func TestPoolOneTaskPerKeyAtATime(t *testing.T) {
	p := NewPool(8, 1000)
	var running, maxRunning atomic.Int32
	for range 200 {
		p.Submit(42, func() {
			n := running.Add(1)
			if n > maxRunning.Load() {
				maxRunning.Store(n)
			}
			time.Sleep(100 * time.Microsecond)
			running.Add(-1)
		})
	}
	p.Close()
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("max concurrent tasks for one key = %d, want 1", m)
	}
}

func TestPoolParallelAcrossKeys(t *testing.T) {
	p := NewPool(2, 10)
	defer p.Close()
	a, b := make(chan struct{}), make(chan struct{})
	// Each task waits for the other: this only finishes if they run in parallel.
	p.Submit(1, func() { close(a); <-b })
	p.Submit(2, func() { close(b); <-a })
	for _, ch := range []chan struct{}{a, b} {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatal("tasks of different keys did not run in parallel")
		}
	}
}

func TestPoolFull(t *testing.T) {
	p := NewPool(1, 2)
	block := make(chan struct{})
	started := make(chan struct{})
	p.Submit(1, func() { close(started); <-block })
	<-started // the running task no longer counts as pending
	if err := p.Submit(1, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(2, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := p.Submit(3, func() {}); !errors.Is(err, ErrPoolFull) {
		t.Fatalf("Submit over maxPending = %v, want ErrPoolFull", err)
	}
	close(block)
	p.Close()
	if err := p.Submit(1, func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
}

func TestBusyConnSpreadOverPassesKeepsOrder(t *testing.T) {
	// A 1 KiB read buffer gives a 4 KiB per-pass budget: a 2 MiB stream takes
	// hundreds of passes, interleaved with a second conn that must still be served.
	r := newRecorder(t)
	_, addr := startEngine(t, r, Options{Loops: 1, ReadBufferSize: 1024, MaxOutbound: 64 << 20})
	busy, other := dialTCP(t, addr), dialTCP(t, addr)
	const total = 2 << 20
	msg := pattern(0, total)
	go busy.Write(msg)
	other.Write([]byte("ping"))
	pong := make([]byte, 4)
	other.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(other, pong); err != nil || string(pong) != "ping" {
		t.Fatalf("other conn not served: %v", err)
	}
	got := make([]byte, total)
	busy.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(busy, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("busy conn bytes differ")
	}
}

func TestPeerResetReportsError(t *testing.T) {
	r := newRecorder(t)
	opened := make(chan struct{})
	r.open = func(c *Conn) { close(opened) }
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	<-opened
	client.SetLinger(0) // close with RST
	client.Close()
	ev := r.waitClose(t)
	if ev.err == nil {
		t.Fatal("OnClose err = nil after a peer reset")
	}
}

func TestStatsCountTraffic(t *testing.T) {
	r := newRecorder(t)
	e, addr := startEngine(t, r, Options{Loops: 2})
	c := dialTCP(t, addr)
	msg := pattern(0, 10_000)
	c.Write(msg)
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	// Counters are updated just after the syscalls, so the client can be first.
	s := e.Stats()
	for i := 0; i < 1000 && s.BytesOut < 10_000; i++ {
		time.Sleep(5 * time.Millisecond)
		s = e.Stats()
	}
	if s.Conns != 1 || s.Accepted != 1 || s.BytesIn != 10_000 || s.BytesOut != 10_000 || s.Writev == 0 || s.QueuedBytes != 0 {
		t.Fatalf("unexpected stats: %+v", s)
	}
	c.Close()
	r.waitClose(t)
	if s := e.Stats(); s.Conns != 0 || s.Closed != 1 {
		t.Fatalf("after close: %+v", s)
	}
}

// TestWritesRacingCloseKeepAccounting races writers against Close, through
// Write and through WriteCopy: queued bytes, pooled chunks and conns must
// all come back to zero.
func TestWritesRacingCloseKeepAccounting(t *testing.T) {
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			r, opened := openedRecorder(t, 64)
			e, addr := startEngine(t, r, Options{Loops: 2})
			for range 20 {
				client := dialTCP(t, addr)
				go io.Copy(io.Discard, client)
				sc := <-opened
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 200 {
							if err := w.write(sc, make([]byte, 100+g*700)); err != nil {
								if !errors.Is(err, ErrClosed) {
									t.Errorf("%s: %v", w.name, err)
								}
								return
							}
						}
					}()
				}
				time.Sleep(time.Millisecond)
				sc.Close()
				wg.Wait()
				r.waitClose(t)
			}
			waitSettled(t, e)
		})
	}
}

func TestAddresses(t *testing.T) {
	r := newRecorder(t)
	addrs := make(chan [2]string, 1)
	r.open = func(c *Conn) { addrs <- [2]string{c.LocalAddr().String(), c.RemoteAddr().String()} }
	_, addr := startEngine(t, r, Options{Loops: 1})
	client := dialTCP(t, addr)
	got := <-addrs
	if got[0] != client.RemoteAddr().String() || got[1] != client.LocalAddr().String() {
		t.Fatalf("server sees local %s remote %s; client has remote %s local %s",
			got[0], got[1], client.RemoteAddr(), client.LocalAddr())
	}
}

func TestIdleTimeoutShortenedTakesEffect(t *testing.T) {
	r := newRecorder(t)
	r.open = func(c *Conn) {
		c.SetIdleTimeout(time.Hour) // e.g. a generous timeout first...
		c.SetIdleTimeout(50 * time.Millisecond)
	}
	_, addr := startEngine(t, r, Options{Loops: 1, TickInterval: 10 * time.Millisecond})
	dialTCP(t, addr)
	select {
	case ev := <-r.closed:
		if !errors.Is(ev.err, ErrIdleTimeout) {
			t.Fatalf("OnClose err = %v, want ErrIdleTimeout", ev.err)
		}
	case <-time.After(30 * time.Second): // far below the hour, far above 50ms
		t.Fatal("shortened idle timeout did not fire")
	}
}

func TestIdleTimeoutDisabled(t *testing.T) {
	r := newRecorder(t)
	r.open = func(c *Conn) {
		c.SetIdleTimeout(30 * time.Millisecond)
		c.SetIdleTimeout(0)
	}
	e, addr := startEngine(t, r, Options{Loops: 1, TickInterval: 10 * time.Millisecond})
	dialTCP(t, addr)
	// Let many ticks pass by waiting on a timer the same wheel runs later.
	done := make(chan struct{})
	e.AfterFunc(300*time.Millisecond, func() { close(done) })
	<-done
	select {
	case ev := <-r.closed:
		t.Fatalf("conn closed although the idle timeout was disabled: %v", ev.err)
	default:
	}
}

// A second server on an address that is taken must fail to start, whatever
// either one's accept mode: with SO_REUSEPORT on both, Linux would let the
// second join the first's group and take a share of its connections.
func TestListenRefusesTakenAddress(t *testing.T) {
	for _, first := range []bool{false, true} {
		for _, second := range []bool{false, true} {
			t.Run(fmt.Sprintf("single=%v,then single=%v", first, second), func(t *testing.T) {
				_, addr := startEngine(t, newRecorder(t), Options{Loops: 2, SingleAcceptor: first})
				e, err := New(newRecorder(t), Options{Loops: 2, SingleAcceptor: second})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Shutdown(context.Background())
				if got, err := e.Listen("tcp", addr); !errors.Is(err, syscall.EADDRINUSE) {
					t.Fatalf("second Listen on %s: %v, %v; want EADDRINUSE", addr, got, err)
				}
			})
		}
	}
}
