//go:build linux && !reactor_netfallback

package reactor

import (
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/petermattis/goid"
	"golang.org/x/sys/unix"
)

// cmd is one entry of a loop's inbound command queue (MPSC: any goroutine
// appends under mu, the loop swaps the slice out once per pass).
type cmd struct {
	c    *Conn
	b    []byte
	op   uint8
	code uint8
	fd   int32
}

const (
	opWrite     uint8 = iota
	opWriteCopy       // b is a pooled chunk (WriteCopy) owned by the queue
	opClose
	opAbort
	opIdle
	opRegister
	opListen
	opShutdown
	opHard
	opPost // b goes below layer code (LayerIO.Post)
	opWake // Wake layer code (LayerIO.Wake)
)

// cmdMore in an opWrite's code marks a buffer whose unit (one Writev)
// continues in the next command; only layered connections look at it.
const cmdMore uint8 = 1

// dialReq hands a connecting socket and its completion channel to a loop.
type dialReq struct {
	c    *Conn
	done chan error
}

// counters are a loop's statistics; atomics so Stats can read them any time.
type counters struct {
	accepted, closed, bytesIn, bytesOut, writev, eagain, droppedLossy, wakeups atomic.Uint64
	acceptErrs                                                                 atomic.Uint64 // failed accepts (EMFILE...), for tests
	queued                                                                     atomic.Int64  // bytes reserved by writes to this loop's conns
	chunks                                                                     atomic.Int64  // WriteCopy chunks in the command queue or out queues
}

// epoll user-data markers for the non-connection descriptors.
const (
	evWake     = -1 // the loop's eventfd
	evListener = -2 // listener i is registered as evListener-i
)

const connEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

var wakeBytes = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// loop is one event loop: an epoll fd, an eventfd to wake it, and the
// connections it owns. Fields below mu are shared with other goroutines; the
// rest are touched only by the loop goroutine.
type loop struct {
	e        *Engine
	idx      int
	epfd     int
	ep       *os.File // owns epfd, so the loop can park in the Go netpoller
	epRC     syscall.RawConn
	pollFn   func(uintptr) bool
	events   []unix.EpollEvent
	nev      int
	evErr    unix.Errno
	deadline bool // a read deadline is set on ep
	efd      int
	tick     time.Duration
	// closeTicks bounds a graceful close's wait for the peer to read
	// (Options.CloseTimeout); 0: no bound.
	closeTicks uint32
	start      time.Time
	now        uint64 // current wheel tick
	budget     int    // read bytes per connection per pass

	buf    []byte
	efdBuf [8]byte
	rsa    unix.RawSockaddrAny // accept4 peer address buffer
	rsaLen uint32
	iov    []unix.Iovec
	pool   bufPool
	qpool  [][]outBuf // recycled outQueue arrays
	// chunkRet collects written WriteCopy chunks until the next drain hands
	// them to chunks under mu (no extra lock per flush).
	chunkRet [][]byte
	// room is a fresh chunk Reserve gave roomConn's bottom layer, not yet
	// committed: a loop builds one connection's wire bytes at a time, and
	// a field here costs every layered connection nothing.
	room     []byte
	roomConn *Conn
	// Scratch for layered conns: the unit being encoded, and one-buffer
	// units for a Down into layer i.
	layerUnit [][]byte
	layerOne  [maxLayers][1][]byte

	slots     []*Conn  // indexed by epoll user data
	gens      []uint32 // bumped when a slot is freed, to drop stale events
	freeSlots []int32
	ready     []*Conn // connections with unread input, in arrival order
	readyNext []*Conn
	flushq    []*Conn // connections with output to flush this pass
	flushNext []*Conn
	wheel     wheel
	listeners []int  // listener fds (-1 once closed)
	retrying  []bool // per listener: an accept retry is scheduled
	dials     map[*Conn]chan error
	// Inline writes (inline_linux.go): inl says goid can be trusted, gid is
	// the loop goroutine's id (0 until run starts), reading the connection
	// being read, and lendTo/lendData the connection and data of the
	// running OnData, whose slices WriteCopy may lend (lent: it did).
	inl      bool
	gid      atomic.Int64
	reading  *Conn
	lendTo   *Conn
	lendData []byte
	lent     bool
	backoff  uint64 // accept retry delay in ticks after EMFILE/ENFILE
	stopping bool
	// Options.CoalesceWindow (coalesce_linux.go). Times are since start:
	// since is the pass's, drainAt the end of the open window (0: none),
	// taken the last drain that found at least coalesceMin commands.
	window  time.Duration
	drainAt time.Duration
	taken   time.Duration
	since   time.Duration

	nconns atomic.Int64
	ctr    counters
	done   chan struct{}

	mu       sync.Mutex
	cmds     []cmd
	spare    []cmd
	timers   []*afterTimer
	spareT   []*afterTimer
	dialReqs []dialReq
	chunks   chunkPool // free WriteCopy chunks, taken by writers under mu
	dead     bool
	awake    atomic.Bool // loop is running a pass or a wake-up is pending
	urgent   atomic.Bool // a queued command must not wait out the coalescing window
}

func newLoop(e *Engine, idx int) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: evWake}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	l := &loop{
		e:          e,
		idx:        idx,
		epfd:       epfd,
		efd:        efd,
		tick:       e.opts.TickInterval,
		closeTicks: ticksOf(e.opts.CloseTimeout, e.opts.TickInterval),
		window:     e.opts.CoalesceWindow,
		taken:      math.MinInt64 / 2, // quiet
		start:      time.Now(),
		budget:     4 * e.opts.ReadBufferSize,
		buf:        make([]byte, e.opts.ReadBufferSize),
		iov:        make([]unix.Iovec, 0, iovMax),
		wheel:      newWheel(0),
		dials:      make(map[*Conn]chan error),
		done:       make(chan struct{}),
		inl:        inlineOK(),
	}
	if err := l.initPoller(); err != nil {
		unix.Close(efd) // initPoller has closed epfd
		return nil, err
	}
	return l, nil
}

func (l *loop) run() {
	defer l.exit()
	if l.inl {
		l.gid.Store(goid.Get())
	}
	var timeout time.Duration = -1
	for {
		n, err := l.wait(timeout)
		if err != nil {
			l.hardClose(err)
			return
		}
		l.awake.Store(true)
		since := time.Since(l.start)
		l.now = uint64(since / l.tick)
		for i := 0; i < n; i++ {
			l.event(&l.events[i])
		}
		l.readAll()
		l.since = since
		if !l.holdCmds() {
			l.drain()
		}
		l.wheel.advance(l.now, l.fire)
		l.flushAll()
		if l.stopping && l.nconns.Load() == 0 {
			return
		}
		timeout = l.pollTimeout()
		if timeout == 0 {
			l.awake.Store(false)
		} else {
			// Under mu, so a post either sees the loop asleep and wakes
			// it, or is seen here.
			l.mu.Lock()
			if len(l.cmds) > 0 || len(l.timers) > 0 || len(l.dialReqs) > 0 {
				timeout = l.holdTimeout(timeout)
			} else {
				l.awake.Store(false)
			}
			l.mu.Unlock()
		}
	}
}

// pollTimeout returns 0 if work is left for the next pass, else the time to
// the next wheel tick, or -1 when no timer is armed.
func (l *loop) pollTimeout() time.Duration {
	if len(l.ready) > 0 || len(l.flushq) > 0 {
		return 0
	}
	if l.wheel.n == 0 {
		return -1
	}
	next := time.Duration(l.now+1)*l.tick - time.Since(l.start)
	if next <= 0 {
		return 0
	}
	return next
}

func (l *loop) event(ev *unix.EpollEvent) {
	id := ev.Fd
	if id == evWake {
		unix.Read(l.efd, l.efdBuf[:])
		return
	}
	if id <= evListener {
		l.accept(int(evListener - id))
		return
	}
	if int(id) >= len(l.slots) {
		return
	}
	c := l.slots[id]
	if c == nil || l.gens[id] != uint32(ev.Pad) {
		return // stale event for a closed connection
	}
	evs := ev.Events
	if c.flags&fConnecting != 0 {
		if !l.finishDial(c, evs) {
			return
		}
	}
	if evs&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		if evs&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			c.flags |= fHup
		}
		l.markReady(c)
	}
	if evs&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.flags&fWaitOut != 0 {
		// Writable again, or broken: the next writev resumes or reports the error.
		c.flags &^= fWaitOut
		l.markFlush(c)
	}
}

func (l *loop) markReady(c *Conn) {
	if c.flags&fReady == 0 {
		c.flags |= fReady
		l.ready = append(l.ready, c)
	}
}

func (l *loop) markFlush(c *Conn) {
	if c.flags&fFlush == 0 {
		c.flags |= fFlush
		l.flushq = append(l.flushq, c)
	}
}

// drain runs the commands other goroutines (and this one) queued.
func (l *loop) drain() {
	l.mu.Lock()
	cmds := l.cmds
	l.cmds = l.spare[:0]
	timers := l.timers
	l.timers = l.spareT[:0]
	dials := l.dialReqs
	l.dialReqs = nil
	l.urgent.Store(false)
	for i, b := range l.chunkRet {
		l.chunks.put(b)
		l.chunkRet[i] = nil
	}
	l.mu.Unlock()
	l.chunkRet = l.chunkRet[:0]

	for _, d := range dials {
		l.dials[d.c] = d.done
		l.register(d.c, true)
	}
	for i := range cmds {
		l.exec(&cmds[i])
		cmds[i] = cmd{}
	}
	l.spare = cmds[:0]
	if cap(cmds) > 1<<16 {
		l.spare = nil // a burst grew it past 2.5 MiB: do not keep that forever
	}
	for i, t := range timers {
		timers[i] = nil
		if t.state.Load() != timerPending {
			continue
		}
		at := uint64((t.at + int64(l.tick) - 1) / int64(l.tick))
		l.wheel.add(wheelEntry{at: at, t: t})
	}
	l.spareT = timers[:0]
	l.drainAt = 0
	if len(cmds) >= coalesceMin {
		l.taken = l.since
	}
}

func (l *loop) exec(x *cmd) {
	c := x.c
	switch x.op {
	case opWrite:
		if c.state.Load() == stClosed {
			c.unreserve(int64(len(x.b)))
			return
		}
		if s := c.lay.Load(); s != nil {
			l.pendUnit(c, s, x.b, false, x.code&cmdMore != 0)
			return
		}
		if c.out.bufs == nil {
			c.out.bufs = l.queueArray()
		}
		c.out.push(x.b)
		c.outq += int64(len(x.b))
		l.ctr.queued.Add(int64(len(x.b)))
		l.markFlush(c)
	case opWriteCopy:
		if c.state.Load() == stClosed {
			c.unreserve(int64(len(x.b)))
			l.retireChunk(x.b)
			return
		}
		if s := c.lay.Load(); s != nil {
			l.pendUnit(c, s, x.b, true, false)
			return
		}
		c.outq += int64(len(x.b))
		l.ctr.queued.Add(int64(len(x.b)))
		l.markFlush(c)
		if c.out.appendTail(x.b) {
			// Output is still pending (EAGAIN, or replies over several
			// passes): fold the small chunk into the tail one, so a backed-up
			// conn holds about the bytes it owes, not a chunk per reply.
			l.retireChunk(x.b)
			return
		}
		if c.out.bufs == nil {
			c.out.bufs = l.queueArray()
		}
		c.out.pushChunk(x.b)
	case opClose:
		if c.state.Load() == stClosed {
			return
		}
		if c.flags&fConnecting != 0 {
			l.closeNow(c, ErrClosed)
			return
		}
		l.requestClose(c, x.code)
	case opAbort:
		l.closeNow(c, closeErr(x.code))
	case opIdle:
		l.armIdle(c)
	case opRegister:
		l.register(c, false)
	case opListen:
		l.addListener(int(x.fd))
	case opShutdown:
		l.shutdown()
	case opHard:
		l.hardClose(ErrEngineClosed)
	case opPost:
		if c.state.Load() != stClosed {
			l.down(c, int(x.code), x.b, false)
		}
	case opWake:
		l.wakeLayer(c, int(x.code))
	}
}
