//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// dialSmallRcvBuf connects with a tiny receive buffer set before connect, so
// the window stays small and the server's writes hit EAGAIN quickly.
func dialSmallRcvBuf(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startTinySndBuf is startEngine with a 4 KiB SO_SNDBUF on accepted sockets.
func startTinySndBuf(t *testing.T, h Handler, opts Options) (*Engine, string) {
	e, err := New(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.sndBuf.Store(4096)
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e, addr.String()
}

func TestForcedEAGAINLosesNothing(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	e, addr := startTinySndBuf(t, r, Options{Loops: 2, MaxOutbound: 64 << 20})
	client := dialSmallRcvBuf(t, addr)
	sc := <-opened

	const total = 4 << 20
	want := pattern(0, total)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for off := 0; off < total; {
			n := min(1+rng.IntN(9000), total-off)
			if err := sc.Write(want[off : off+n]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			off += n
		}
		sc.Close()
	}()
	expectStalledStream(t, e, r, client, want)
}

// expectStalledStream stalls the reader so the server's queue backs up, then
// reads the whole stream: it must arrive byte for byte, the kernel must have
// pushed back (EAGAIN), and the server must close cleanly after it.
func expectStalledStream(t *testing.T, e *Engine, r *recorder, client net.Conn, want []byte) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	got := readAllTimeout(t, client, 30*time.Second)
	if len(got) != len(want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("byte %d differs", i)
	}
	if s := e.Stats(); s.EAGAIN == 0 {
		t.Fatalf("no EAGAIN recorded: %+v", s)
	}
	if ev := r.waitClose(t); ev.err != nil {
		t.Fatalf("OnClose err = %v", ev.err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestSlowConsumerClosedAtLimit: Write and WriteCopy both obey
// MaxOutbound, close the conn with ErrSlowConsumer, and leave no queued
// bytes or pooled chunks behind.
func TestSlowConsumerClosedAtLimit(t *testing.T) {
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			r, opened := openedRecorder(t, 1)
			const limit = 256 << 10
			e, addr := startTinySndBuf(t, r, Options{Loops: 1, MaxOutbound: limit})
			dialSmallRcvBuf(t, addr) // never reads
			sc := <-opened
			chunk := make([]byte, 5000)
			var err error
			for i := 0; i < 10_000 && err == nil; i++ {
				err = w.write(sc, chunk)
				if o := sc.Outbound(); o > limit {
					t.Fatalf("Outbound %d over limit %d", o, limit)
				}
			}
			if !errors.Is(err, ErrSlowConsumer) {
				t.Fatalf("%s = %v, want ErrSlowConsumer", w.name, err)
			}
			if ev := r.waitClose(t); !errors.Is(ev.err, ErrSlowConsumer) {
				t.Fatalf("OnClose err = %v, want ErrSlowConsumer", ev.err)
			}
			if err := w.write(sc, chunk); !errors.Is(err, ErrClosed) {
				t.Fatalf("%s after close = %v, want ErrClosed", w.name, err)
			}
			waitSettled(t, e)
		})
	}
}

func TestLossyWritesDroppedAndCounted(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	e, addr := startTinySndBuf(t, r, Options{Loops: 1, MaxOutbound: 1 << 20, LossyLimit: 64 << 10})
	dialSmallRcvBuf(t, addr) // never reads
	sc := <-opened
	chunk := make([]byte, 8<<10)
	dropped := 0
	for range 200 {
		if !sc.WriteLossy(chunk) {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("no lossy write was dropped")
	}
	if s := e.Stats(); s.DroppedLossy != uint64(dropped) {
		t.Fatalf("DroppedLossy = %d, want %d", s.DroppedLossy, dropped)
	}
	if err := sc.Write(chunk); err != nil {
		t.Fatalf("conn should stay open after lossy drops: %v", err)
	}
	select {
	case ev := <-r.closed:
		t.Fatalf("conn closed: %v", ev.err)
	default:
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestNoGoroutineOrFDLeaks(t *testing.T) {
	// Warm up the runtime's own netpoller so its epoll fd is in the baseline.
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
	baseG, baseFD := runtime.NumGoroutine(), countFDs(t)

	r := newRecorder(t)
	e, err := New(r, Options{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		clients = append(clients, c)
	}
	for range 5 {
		if _, err := e.Dial(context.Background(), "tcp", addr.String()); err != nil {
			t.Fatal(err)
		}
	}
	e.AfterFunc(time.Hour, func() {})
	for _, c := range clients {
		io.ReadFull(c, make([]byte, 5))
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.Close()
	}
	if s := e.Stats(); s.Conns != 0 || s.Closed != s.Accepted+5 {
		t.Fatalf("stats after shutdown: %+v", s)
	}
	var g, fd int
	for range 500 {
		g, fd = runtime.NumGoroutine(), countFDs(t)
		if g <= baseG && fd <= baseFD {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("leak: goroutines %d (was %d), fds %d (was %d)", g, baseG, fd, baseFD)
}

func TestEchoSingleAcceptor(t *testing.T) {
	r := newRecorder(t)
	_, addr := startEngine(t, r, Options{Loops: 2, SingleAcceptor: true})
	for i := range 20 {
		c := dialTCP(t, addr)
		msg := pattern(i, 1000)
		c.Write(msg)
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("conn %d: echo mismatch (%v)", i, err)
		}
	}
}

func TestAcceptSurvivesEMFILE(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	r := newRecorder(t)
	e, addr := startEngine(t, r, Options{Loops: 1, TickInterval: 10 * time.Millisecond})
	// Leave room for a few client sockets but not for the accepted ones.
	tight := lim
	tight.Cur = uint64(countFDs(t) + 4)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer restore()
	var clients []net.Conn
	for range 8 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue // the client side ran out of descriptors too
		}
		clients = append(clients, c)
	}
	// Wait until the server has hit the limit at least once.
	for i := 0; i < 2000 && e.loops[0].ctr.acceptErrs.Load() == 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if e.loops[0].ctr.acceptErrs.Load() == 0 {
		t.Fatal("accept never failed under the tight fd limit")
	}
	restore()
	if len(clients) == 0 {
		t.Fatal("no client could connect")
	}
	// Every client connected during the shortage is served after it, and
	// the listener still accepts new connections.
	clients = append(clients, dialTCP(t, addr))
	for i, c := range clients {
		msg := pattern(i, 100)
		c.Write(msg)
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("client %d not served after EMFILE: %v", i, err)
		}
		c.Close()
	}
}

func TestConnStaysSmall(t *testing.T) {
	// Idle memory per connection is the point of the design (target 400 B
	// of RSS including the loop's slot and allocator overhead).
	if n := unsafe.Sizeof(Conn{}); n > 160 {
		t.Fatalf("Conn is %d bytes; keep it at most 160", n)
	}
}

func TestCrossGoroutineWritesCoalesceWakeups(t *testing.T) {
	r, opened := openedRecorder(t, 1)
	e, addr := startEngine(t, r, Options{Loops: 1, TickInterval: 5 * time.Millisecond})
	client := dialTCP(t, addr)
	sc := <-opened
	// Hold the loop inside a pass (tests only: callbacks must not block) while
	// another goroutine writes 1,000 times: none of them may write the eventfd.
	hold, held := make(chan struct{}), make(chan struct{})
	e.AfterFunc(0, func() { close(held); <-hold })
	<-held
	st := e.Stats()
	before := st.Wakeups
	for i := range 1000 {
		if err := sc.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if d := e.Stats().Wakeups - before; d != 0 {
		t.Fatalf("%d eventfd wakeups while the loop was awake, want 0", d)
	}
	close(hold)
	got := make([]byte, 1000)
	client.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != byte(i) {
			t.Fatalf("byte %d = %d", i, b)
		}
	}
	// The 1,000 frames queued in one pass leave in one syscall.
	after := e.Stats()
	for i := 0; i < 1000 && after.BytesOut < st.BytesOut+1000; i++ {
		time.Sleep(5 * time.Millisecond)
		after = e.Stats()
	}
	if n := after.Writev - st.Writev; n != 1 {
		t.Fatalf("%d flush syscalls for 1,000 frames queued in one pass, want 1", n)
	}
}

func TestSingleAcceptorPlacesOnLeastLoadedLoop(t *testing.T) {
	for _, single := range []bool{true, false} {
		r, opened := openedRecorder(t, 40)
		e, addr := startEngine(t, r, Options{Loops: 2, SingleAcceptor: single})
		openConns(t, addr, opened, 40)
		a0, a1 := e.loops[0].ctr.accepted.Load(), e.loops[1].ctr.accepted.Load()
		n0, n1 := e.loops[0].nconns.Load(), e.loops[1].nconns.Load()
		if single {
			// Loop 0 accepts everything and hands conns out evenly.
			if a0 != 40 || a1 != 0 || n0 != 20 || n1 != 20 {
				t.Fatalf("single acceptor: accepted %d/%d, conns %d/%d; want 40/0, 20/20", a0, a1, n0, n1)
			}
			continue
		}
		// SO_REUSEPORT: each loop accepts onto itself; the kernel's hash puts
		// all 40 on one loop with probability 2^-39.
		if a0 == 0 || a1 == 0 || a0 != uint64(n0) || a1 != uint64(n1) {
			t.Fatalf("reuseport: accepted %d/%d, conns %d/%d; want both loops accepting their own", a0, a1, n0, n1)
		}
	}
}

// ":port" on "tcp" is every address of both families, as with net.Listen:
// IPv4 and IPv6 clients both get through, and an IPv4 client's address
// reads as IPv4 (not ::ffff:a.b.c.d).
func TestListenEmptyHostIsDualStack(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		l.Close()
	}
	r := newRecorder(t)
	remotes := make(chan net.Addr, 2)
	r.open = func(c *Conn) { remotes <- c.RemoteAddr() }
	e, addr := startEngineOn(t, r, Options{Loops: 2}, ":0")
	_, port, _ := net.SplitHostPort(addr)
	for _, host := range []string{"127.0.0.1", "::1"} {
		c := dialTCP(t, net.JoinHostPort(host, port))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
			t.Fatalf("echo over %s: %q, %v", host, got, err)
		}
		if ip := (<-remotes).(*net.TCPAddr).IP.String(); ip != host {
			t.Errorf("client from %s seen as %s", host, ip)
		}
	}

	// An explicit IPv4 wildcard stays IPv4 only.
	addr4, err := e.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port4 := strconv.Itoa(addr4.(*net.TCPAddr).Port)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("::1", port4), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("0.0.0.0 listener accepted an IPv6 client")
	}
}
