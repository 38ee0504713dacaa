//go:build linux && !reactor_netfallback

package reactor

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	opWrite uint8 = iota
	opClose
	opAbort
	opIdle
	opRegister
	opListen
	opShutdown
	opHard
)

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
	e      *Engine
	idx    int
	epfd   int
	efd    int
	tick   time.Duration
	start  time.Time
	now    uint64 // current wheel tick
	budget int    // read bytes per connection per pass

	buf    []byte
	efdBuf [8]byte
	iov    []unix.Iovec
	pool   bufPool
	qpool  [][][]byte // recycled outQueue arrays

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
	backoff   uint64 // accept retry delay in ticks after EMFILE/ENFILE
	stopping  bool

	nconns atomic.Int64
	ctr    counters
	done   chan struct{}

	mu       sync.Mutex
	cmds     []cmd
	spare    []cmd
	timers   []*afterTimer
	spareT   []*afterTimer
	dialReqs []dialReq
	dead     bool
	awake    atomic.Bool // loop is running a pass or a wake-up is pending
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
		e:      e,
		idx:    idx,
		epfd:   epfd,
		efd:    efd,
		tick:   e.opts.TickInterval,
		start:  time.Now(),
		budget: 4 * e.opts.ReadBufferSize,
		buf:    make([]byte, e.opts.ReadBufferSize),
		iov:    make([]unix.Iovec, 0, iovMax),
		wheel:  newWheel(0),
		dials:  make(map[*Conn]chan error),
		done:   make(chan struct{}),
	}
	return l, nil
}

// post appends c to the command queue and wakes the loop; false if the loop has exited.
func (l *loop) post(c cmd) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	l.cmds = append(l.cmds, c)
	l.wakeLocked()
	l.mu.Unlock()
	return true
}

func (l *loop) postWrite(c *Conn, b []byte) bool {
	return l.post(cmd{c: c, b: b, op: opWrite})
}

// postWritev queues bufs under one lock so they stay contiguous.
func (l *loop) postWritev(c *Conn, bufs [][]byte) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	for _, b := range bufs {
		if len(b) > 0 {
			l.cmds = append(l.cmds, cmd{c: c, b: b, op: opWrite})
		}
	}
	l.wakeLocked()
	l.mu.Unlock()
	return true
}

// wakeLocked writes the eventfd only if the loop is asleep and nobody woke it
// yet, so a burst of writes costs one syscall. Called with mu held, which
// keeps the eventfd open (exit closes it under mu).
func (l *loop) wakeLocked() {
	if !l.awake.Load() && l.awake.CompareAndSwap(false, true) {
		unix.Write(l.efd, wakeBytes)
		l.ctr.wakeups.Add(1)
	}
}

func (l *loop) run() {
	defer l.exit()
	events := make([]unix.EpollEvent, 256)
	timeout := -1
	for {
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			l.hardClose(os.NewSyscallError("epoll_wait", err))
			return
		}
		l.awake.Store(true)
		l.now = uint64(time.Since(l.start) / l.tick)
		for i := 0; i < n; i++ {
			l.event(&events[i])
		}
		l.readAll()
		l.drain()
		l.wheel.advance(l.now, l.fire)
		l.flushAll()
		if l.stopping && l.nconns.Load() == 0 {
			return
		}
		l.awake.Store(false)
		timeout = l.pollTimeout()
		if timeout != 0 {
			l.mu.Lock()
			if len(l.cmds) > 0 || len(l.timers) > 0 || len(l.dialReqs) > 0 {
				timeout = 0
			}
			l.mu.Unlock()
		}
	}
}

// pollTimeout returns 0 if work is left for the next pass, else the time to
// the next wheel tick, or -1 when no timer is armed.
func (l *loop) pollTimeout() int {
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
	return int((next + time.Millisecond - 1) / time.Millisecond)
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
	if evs&unix.EPOLLOUT != 0 && c.flags&fWaitOut != 0 {
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

// readAll gives every ready connection one read budget; those that still
// have input go to the back of the list for the next pass.
func (l *loop) readAll() {
	list := l.ready
	l.ready = l.readyNext[:0]
	for i, c := range list {
		list[i] = nil
		c.flags &^= fReady
		if c.state.Load() == stClosed {
			continue
		}
		if l.read(c) {
			l.markReady(c)
		}
	}
	l.readyNext = list[:0]
}

// read drains c until EAGAIN or its budget is spent (then it returns true).
// A short read means the socket is empty: any later data raises a new edge.
func (l *loop) read(c *Conn) bool {
	budget := l.budget
	for {
		if c.state.Load() != stOpen || c.flags&fCloseReq != 0 {
			return false
		}
		n, err := unix.Read(int(c.fd), l.buf)
		if err != nil {
			switch err {
			case unix.EAGAIN:
				return false
			case unix.EINTR:
				continue
			}
			l.closeNow(c, os.NewSyscallError("read", err))
			return false
		}
		if n == 0 {
			l.requestClose(c, closeEOF)
			return false
		}
		l.ctr.bytesIn.Add(uint64(n))
		c.lastRead = l.now
		l.deliver(c, l.buf[:n])
		budget -= n
		if n < len(l.buf) && c.flags&fHup == 0 {
			return false
		}
		if budget <= 0 {
			return true
		}
	}
}

// deliver hands data (plus any leftover) to OnData and keeps the unconsumed tail.
func (l *loop) deliver(c *Conn, data []byte) {
	h := l.e.h
	if len(c.in) == 0 {
		k := clampConsumed(h.OnData(c, data), len(data))
		if k < len(data) && c.state.Load() != stClosed {
			c.in = inAppend(&l.pool, nil, data[k:])
		}
	} else {
		c.in = inAppend(&l.pool, c.in, data)
		k := clampConsumed(h.OnData(c, c.in), len(c.in))
		if c.in != nil {
			c.in = inConsume(&l.pool, c.in, k)
		}
	}
	if len(c.in) > l.e.opts.MaxInbound {
		l.closeNow(c, ErrInboundTooLarge)
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
	l.mu.Unlock()

	for _, d := range dials {
		l.dials[d.c] = d.done
		l.register(d.c, true)
	}
	for i := range cmds {
		l.exec(&cmds[i])
		cmds[i] = cmd{}
	}
	l.spare = cmds[:0]
	for i, t := range timers {
		timers[i] = nil
		if t.state.Load() != timerPending {
			continue
		}
		at := uint64((t.at + int64(l.tick) - 1) / int64(l.tick))
		l.wheel.add(wheelEntry{at: at, t: t})
	}
	l.spareT = timers[:0]
}

func (l *loop) exec(x *cmd) {
	c := x.c
	switch x.op {
	case opWrite:
		if c.state.Load() == stClosed {
			c.unreserve(int64(len(x.b)))
			return
		}
		if c.out.bufs == nil && len(l.qpool) > 0 {
			c.out.bufs = l.qpool[len(l.qpool)-1]
			l.qpool = l.qpool[:len(l.qpool)-1]
		}
		c.out.push(x.b)
		l.markFlush(c)
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
	}
}

// register adds a new socket to this loop's epoll set, once, with edge
// triggering for both directions; it is never modified afterwards.
func (l *loop) register(c *Conn, dial bool) {
	if l.stopping {
		l.discard(c, ErrEngineClosed)
		return
	}
	var slot int32
	if n := len(l.freeSlots); n > 0 {
		slot = l.freeSlots[n-1]
		l.freeSlots = l.freeSlots[:n-1]
	} else {
		slot = int32(len(l.slots))
		l.slots = append(l.slots, nil)
		l.gens = append(l.gens, 0)
	}
	ev := unix.EpollEvent{Events: connEvents, Fd: slot, Pad: int32(l.gens[slot])}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
		l.freeSlots = append(l.freeSlots, slot)
		l.discard(c, os.NewSyscallError("epoll_ctl", err))
		return
	}
	c.slot = slot
	l.slots[slot] = c
	if dial {
		c.flags |= fConnecting
		return
	}
	l.open(c)
}

// discard drops a socket that never got a slot (no OnOpen, no OnClose).
func (l *loop) discard(c *Conn, err error) {
	c.state.Store(stClosed)
	unix.Close(int(c.fd))
	l.nconns.Add(-1)
	if done, ok := l.dials[c]; ok {
		delete(l.dials, c)
		done <- err
	}
}

func (l *loop) open(c *Conn) {
	c.flags |= fOpened
	c.lastRead = l.now
	l.e.h.OnOpen(c)
}

// finishDial completes a non-blocking connect; false if the conn was closed.
func (l *loop) finishDial(c *Conn, evs uint32) bool {
	if evs&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		return true
	}
	c.flags &^= fConnecting
	soerr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	if err != nil {
		l.closeNow(c, os.NewSyscallError("connect", err))
		return false
	}
	done := l.dials[c]
	delete(l.dials, c)
	l.open(c)
	if done != nil {
		done <- nil
	}
	return c.state.Load() != stClosed
}

// requestClose closes c gracefully: stop reading, flush, then close with code.
func (l *loop) requestClose(c *Conn, code uint8) {
	if c.state.Load() == stClosed || c.flags&fCloseReq != 0 {
		return
	}
	c.state.CompareAndSwap(stOpen, stClosing)
	c.flags |= fCloseReq
	c.code = code
	l.markFlush(c)
}

// flushAll writes each connection with pending output once.
func (l *loop) flushAll() {
	list := l.flushq
	l.flushq = l.flushNext[:0]
	for i, c := range list {
		list[i] = nil
		c.flags &^= fFlush
		if c.state.Load() == stClosed {
			continue
		}
		l.flush(c)
	}
	l.flushNext = list[:0]
}

// flush issues one writev over up to IOV_MAX queued buffers. What the kernel
// does not take stays queued with its offset until the next EPOLLOUT edge.
func (l *loop) flush(c *Conn) {
	if c.flags&(fWaitOut|fConnecting) != 0 {
		return
	}
	if c.out.empty() {
		if c.flags&fCloseReq != 0 {
			l.closeNow(c, closeErr(c.code))
		}
		return
	}
	iov := l.iov[:0]
	total := 0
	for i := c.out.head; i < len(c.out.bufs) && len(iov) < iovMax; i++ {
		b := c.out.bufs[i]
		if i == c.out.head {
			b = b[c.out.off:]
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
		total += len(b)
	}
	r, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(c.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov) // drop references to caller buffers
	l.ctr.writev.Add(1)
	if errno != 0 {
		switch errno {
		case unix.EAGAIN:
			c.flags |= fWaitOut
			l.ctr.eagain.Add(1)
		case unix.EINTR:
			l.markFlush(c)
		default:
			if c.flags&fCloseReq != 0 && c.code == closeEOF {
				l.closeNow(c, errEOF) // the peer closed first; EPIPE is a consequence
				return
			}
			l.closeNow(c, os.NewSyscallError("writev", errno))
		}
		return
	}
	n := int(r)
	c.out.consume(n)
	c.unreserve(int64(n))
	l.ctr.bytesOut.Add(uint64(n))
	if n < total {
		// Short write: the socket buffer is full and the kernel has set
		// SOCK_NOSPACE, so an EPOLLOUT edge will follow when it drains.
		c.flags |= fWaitOut
		l.ctr.eagain.Add(1)
		return
	}
	if !c.out.empty() {
		l.markFlush(c) // more than IOV_MAX buffers: next pass
		return
	}
	l.recycleOut(c)
	if c.flags&fCloseReq != 0 {
		l.closeNow(c, closeErr(c.code))
	}
}

// recycleOut takes the empty queue's array back so an idle conn pins none.
func (l *loop) recycleOut(c *Conn) {
	if c.out.bufs == nil {
		return
	}
	b := c.out.release()
	// Bounded: at most 1024 arrays of at most IOV_MAX entries (24 MiB worst case).
	if cap(b) <= iovMax && len(l.qpool) < 1024 {
		l.qpool = append(l.qpool, b)
	}
}

// closeNow closes c at once, dropping unsent output, and calls OnClose once.
func (l *loop) closeNow(c *Conn, err error) {
	if c.state.Load() == stClosed {
		return
	}
	c.state.Store(stClosed)
	if p := c.out.size(); p > 0 {
		c.unreserve(int64(p))
	}
	l.recycleOut(c)
	if c.in != nil {
		l.pool.put(c.in)
		c.in = nil
	}
	l.slots[c.slot] = nil
	l.gens[c.slot]++
	l.freeSlots = append(l.freeSlots, c.slot)
	l.nconns.Add(-1)
	if done, ok := l.dials[c]; ok {
		delete(l.dials, c)
		done <- err
	}
	if c.flags&fOpened != 0 {
		l.ctr.closed.Add(1)
		l.e.h.OnClose(c, err)
	}
	unix.Close(int(c.fd))
}

// armIdle starts the idle check for c (reads reset it lazily via lastRead).
func (l *loop) armIdle(c *Conn) {
	if c.state.Load() == stClosed {
		return
	}
	c.lastRead = l.now
	t := uint64(c.idleTicks.Load())
	if t == 0 || c.flags&fIdleArmed != 0 {
		return
	}
	c.flags |= fIdleArmed
	l.wheel.add(wheelEntry{at: l.now + t, c: c})
}

// fire runs a due wheel entry.
func (l *loop) fire(e wheelEntry) {
	if e.t != nil {
		if e.t.state.CompareAndSwap(timerPending, timerFired) {
			e.t.f()
		}
		return
	}
	c := e.c
	c.flags &^= fIdleArmed
	if c.state.Load() == stClosed {
		return
	}
	t := uint64(c.idleTicks.Load())
	if t == 0 {
		return
	}
	if deadline := c.lastRead + t; l.now < deadline {
		c.flags |= fIdleArmed
		l.wheel.add(wheelEntry{at: deadline, c: c})
		return
	}
	l.closeNow(c, ErrIdleTimeout)
}

// shutdown stops accepting and closes every connection after its output is flushed.
func (l *loop) shutdown() {
	l.stopping = true
	l.closeListeners()
	for _, c := range l.slots {
		if c == nil {
			continue
		}
		if c.flags&fConnecting != 0 {
			l.closeNow(c, ErrEngineClosed)
			continue
		}
		l.requestClose(c, closeShutdown)
	}
}

// hardClose closes everything now, dropping queued output.
func (l *loop) hardClose(err error) {
	l.stopping = true
	l.closeListeners()
	for _, c := range l.slots {
		if c != nil {
			l.closeNow(c, err)
		}
	}
}

func (l *loop) closeListeners() {
	for i, fd := range l.listeners {
		if fd >= 0 {
			unix.Close(fd)
			l.listeners[i] = -1
		}
	}
}

// exit marks the loop dead, settles commands that raced with the exit and
// releases the loop's descriptors.
func (l *loop) exit() {
	l.hardClose(ErrEngineClosed)
	l.mu.Lock()
	l.dead = true
	cmds, dials := l.cmds, l.dialReqs
	l.cmds, l.dialReqs, l.timers = nil, nil, nil
	unix.Close(l.efd)
	l.mu.Unlock()
	for _, d := range dials {
		l.dials[d.c] = d.done
		l.discard(d.c, ErrEngineClosed)
	}
	for i := range cmds {
		x := &cmds[i]
		switch x.op {
		case opWrite:
			x.c.unreserve(int64(len(x.b)))
		case opRegister:
			l.discard(x.c, ErrEngineClosed)
		case opListen:
			unix.Close(int(x.fd))
		}
	}
	unix.Close(l.epfd)
	close(l.done)
}
