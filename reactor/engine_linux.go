//go:build linux && !reactor_netfallback

package reactor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Engine owns the event loops, listeners and connections.
type Engine struct {
	h          Handler
	opts       Options
	loops      []*loop
	maxOut     int64
	lossyLimit int64
	ids        atomic.Uint64
	rr         atomic.Uint32
	sndBuf     atomic.Int32 // test hook: SO_SNDBUF for accepted conns (0 = kernel default)

	mu   sync.Mutex
	shut bool
	done chan struct{}
}

// New creates an engine and starts its loops.
func New(h Handler, opts Options) (*Engine, error) {
	if h == nil {
		return nil, errors.New("reactor: nil handler")
	}
	opts = opts.withDefaults()
	e := &Engine{
		h:          h,
		opts:       opts,
		maxOut:     int64(opts.MaxOutbound),
		lossyLimit: int64(opts.LossyLimit),
		done:       make(chan struct{}),
	}
	for i := range opts.Loops {
		l, err := newLoop(e, i)
		if err != nil {
			for _, l := range e.loops {
				unix.Close(l.efd)
				l.closePoller()
			}
			return nil, fmt.Errorf("reactor: loop %d: %w", i, err)
		}
		e.loops = append(e.loops, l)
	}
	for _, l := range e.loops {
		go l.run()
	}
	go func() {
		for _, l := range e.loops {
			<-l.done
		}
		close(e.done)
	}()
	return e, nil
}

// pick chooses the loop for a new connection: the least loaded one, because
// long-lived chat connections close unevenly and plain round robin would let
// the loops drift apart; ties rotate so equal loops share new conns.
func (e *Engine) pick() *loop {
	n := len(e.loops)
	start := int(e.rr.Add(1)) % n
	best := e.loops[start]
	bestN := best.nconns.Load()
	for i := 1; i < n && bestN > 0; i++ {
		l := e.loops[(start+i)%n]
		if c := l.nconns.Load(); c < bestN {
			best, bestN = l, c
		}
	}
	return best
}

func (e *Engine) newConn(l *loop, fd int, remote rawAddr) *Conn {
	return &Conn{loop: l, id: e.ids.Add(1), fd: int32(fd), slot: -1, remote: remote}
}

// Listen starts accepting on network ("tcp", "tcp4", "tcp6") and addr and
// returns the bound address. As with net.Listen, "tcp" with an empty host
// (":9000") listens on every IPv4 and IPv6 address through one dual-stack
// socket, or on IPv4 alone where the system has no IPv6. It may be called
// more than once. In every accept mode it fails, like net.Listen, with an
// error wrapping EADDRINUSE when another socket (of this process or
// another) already listens on the address.
func (e *Engine) Listen(network, addr string) (net.Addr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shut {
		return nil, ErrEngineClosed
	}
	ap, err := resolveTCP(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	dual := false
	if host, _, _ := net.SplitHostPort(addr); network == "tcp" && host == "" {
		ap, dual = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port()), true
	}
	reuse := !e.opts.SingleAcceptor
	if reuse {
		// SO_REUSEPORT would let us join a group another process already
		// listens in, silently sharing its connections: claim the address
		// exclusively first, as net.Listen would.
		ap, dual, err = claimAddr(ap, dual)
		if err != nil {
			return nil, fmt.Errorf("reactor: listen %s %s: %w", network, addr, err)
		}
	}
	n := 1
	if reuse {
		n = len(e.loops)
	}
	fds := make([]int, 0, n)
	for i := range n {
		fd, err := listenSocket(ap, reuse, dual)
		if err != nil && dual && i == 0 && errors.Is(err, unix.EAFNOSUPPORT) {
			// No IPv6 on this system: IPv4 alone, as net.Listen does.
			ap, dual = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port()), false
			fd, err = listenSocket(ap, reuse, dual)
		}
		if err == nil && i == 0 {
			ap, err = boundAddr(fd) // later sockets share the chosen port
			if err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, fmt.Errorf("reactor: listen %s %s: %w", network, addr, err)
		}
		fds = append(fds, fd)
	}
	for i, fd := range fds {
		if !e.loops[i].post(cmd{op: opListen, fd: int32(fd)}) {
			unix.Close(fd)
		}
	}
	return net.TCPAddrFromAddrPort(ap), nil
}

// Serve blocks until Shutdown has finished, then returns ErrEngineClosed.
func (e *Engine) Serve() error {
	<-e.done
	return ErrEngineClosed
}

// Dial opens a client connection served by the engine's loops with a
// non-blocking connect, so thousands of dials cost no goroutines. It returns
// once the connection is established and OnOpen has run on its loop. If ctx
// ends first Dial returns ctx.Err() and the socket is closed (should the
// connect have completed just before, OnOpen and OnClose(nil) both run).
// Dial waits, so it must not be called from a Handler callback.
func (e *Engine) Dial(ctx context.Context, network, addr string) (*Conn, error) {
	if e.closed() {
		return nil, ErrEngineClosed
	}
	ap, err := resolveTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	sa, family := sockaddrOf(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return nil, fmt.Errorf("reactor: dial %s: %w", addr, os.NewSyscallError("socket", err))
	}
	tuneConn(fd, 0)
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, fmt.Errorf("reactor: dial %s: %w", addr, os.NewSyscallError("connect", err))
	}
	l := e.pick()
	c := e.newConn(l, fd, rawFromSockaddr(sa))
	done := make(chan error, 1)
	l.nconns.Add(1)
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		unix.Close(fd)
		l.nconns.Add(-1)
		return nil, ErrEngineClosed
	}
	l.dialReqs = append(l.dialReqs, dialReq{c: c, done: done})
	l.wakeLocked()
	l.mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("reactor: dial %s: %w", addr, err)
		}
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

func (e *Engine) closed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shut
}

// Shutdown stops accepting, lets every connection flush its queued output,
// closes them (OnClose(c, ErrEngineClosed)) and waits for the loops to exit.
// If ctx ends first, remaining connections are closed at once, queued output
// is dropped, and ctx.Err() is returned after the loops have exited.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	first := !e.shut
	e.shut = true
	e.mu.Unlock()
	if first {
		for _, l := range e.loops {
			l.postUrgent(cmd{op: opShutdown})
		}
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		for _, l := range e.loops {
			l.postUrgent(cmd{op: opHard})
		}
		<-e.done
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters; safe any time from any goroutine.
func (e *Engine) Stats() Stats {
	var s Stats
	var queued, chunks int64
	for _, l := range e.loops {
		if n := l.nconns.Load(); n > 0 {
			s.Conns += uint64(n)
		}
		s.Accepted += l.ctr.accepted.Load()
		s.Closed += l.ctr.closed.Load()
		s.BytesIn += l.ctr.bytesIn.Load()
		s.BytesOut += l.ctr.bytesOut.Load()
		s.Writev += l.ctr.writev.Load()
		s.EAGAIN += l.ctr.eagain.Load()
		s.DroppedLossy += l.ctr.droppedLossy.Load()
		s.Wakeups += l.ctr.wakeups.Load()
		queued += l.ctr.queued.Load()
		chunks += l.ctr.chunks.Load()
	}
	if queued > 0 {
		s.QueuedBytes = uint64(queued)
	}
	if chunks > 0 {
		s.CopyChunks = uint64(chunks)
	}
	return s
}

// AfterFunc runs f on a loop goroutine after d (rounded up to the next wheel
// tick). f must not block. stop cancels it and reports whether it did so
// before f started. After Shutdown f never runs.
func (e *Engine) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	l := e.loops[int(e.rr.Add(1))%len(e.loops)]
	t := &afterTimer{f: f, at: int64(time.Since(l.start) + d)}
	stop = func() bool { return t.state.CompareAndSwap(timerPending, timerStopped) }
	l.mu.Lock()
	if !l.dead {
		l.timers = append(l.timers, t)
		l.wakeLocked()
	}
	l.mu.Unlock()
	return stop
}
