//go:build linux && !reactor_netfallback

package reactor

import (
	"os"

	"golang.org/x/sys/unix"
)

// Connection and loop lifecycle: registration, dial completion, closing and shutdown.

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
	c.lastRead = uint32(l.now)
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
	if c.flags&fWaitOut != 0 {
		l.armClose(c) // the socket is full already: the flush will wait for an edge
	}
	l.markFlush(c)
}

// drained reports whether no write to c waits in the command queue (or is
// being posted): only then may a graceful close end c, since the contract
// is that output written before the close goes out first. A write still in
// the queue marks c for flushing when the drain takes it, and that flush
// closes c. Loop only.
func (c *Conn) drained() bool { return c.queued.Load() == c.outq }

// closeNow closes c at once, dropping unsent output, and calls OnClose once.
func (l *loop) closeNow(c *Conn, err error) {
	if c.state.Load() == stClosed {
		return
	}
	c.state.Store(stClosed)
	if c.flags&fIdleArmed != 0 {
		l.wheel.removeIdle(c, c.idleAt)
		c.flags &^= fIdleArmed
	}
	if p := c.out.size(); p > 0 {
		c.written(int64(p))
	}
	s := c.lay.Load()
	if s != nil {
		l.closeLayers(c, s)
	}
	if s != nil && s.relPending {
		// A layer method is running and may still hold room Reserve gave
		// it in the queue's last chunk: the chunks go to the garbage
		// collector, not to the pool another connection takes from.
		l.dropOut(c)
	} else {
		l.recycleOut(c)
	}
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
		case opWriteCopy:
			x.c.unreserve(int64(len(x.b)))
			l.ctr.chunks.Add(-1) // dropped with the loop
		case opRegister:
			l.discard(x.c, ErrEngineClosed)
		case opListen:
			unix.Close(int(x.fd))
		}
	}
	l.closePoller()
	close(l.done)
}
