//go:build linux && !reactor_netfallback

package reactor

import ()

// Idle timeouts and AfterFunc timers on the loop's timing wheel.

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
