//go:build linux && !reactor_netfallback

package reactor

// Idle and close timeouts and AfterFunc timers on the loop's timing wheel.
// A read only stores the tick (lastRead); the one wheel entry per
// connection re-checks it when due and moves itself to the real deadline,
// so reads cost nothing. A graceful close that waits for the peer to read
// uses the same entry (armClose).

import "time"

// armIdle (re)starts the idle check for c after SetIdleTimeout.
func (l *loop) armIdle(c *Conn) {
	if c.state.Load() == stClosed || c.flags&fCloseArmed != 0 {
		return // closing: the close timeout's entry is due no later than the close gives up
	}
	c.lastRead = uint32(l.now)
	t := uint64(c.idleTicks.Load())
	if t == 0 {
		return // an armed entry finds 0 when due and stops
	}
	at := l.now + t
	if c.flags&fIdleArmed != 0 && int32(uint32(at)-c.idleAt) >= 0 {
		return // the armed entry is due no later; it will re-check then
	}
	l.scheduleIdle(c, at) // a shorter timeout than the armed one
}

// scheduleIdle adds c's idle entry at tick at; an older entry becomes stale.
func (l *loop) scheduleIdle(c *Conn, at uint64) {
	at = l.wheel.add(wheelEntry{at: at, c: c})
	c.idleAt = uint32(at)
	c.flags |= fIdleArmed
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
	if c.flags&fIdleArmed == 0 || uint32(e.at) != c.idleAt {
		return // stale: replaced by an earlier entry
	}
	c.flags &^= fIdleArmed
	if c.state.Load() == stClosed {
		return
	}
	t, err := c.idleTicks.Load(), ErrIdleTimeout
	if c.flags&fCloseArmed != 0 && (t == 0 || l.closeTicks < t) {
		t, err = l.closeTicks, ErrCloseTimeout
	}
	if t == 0 {
		return
	}
	if idle := uint32(l.now) - c.lastRead; idle < t {
		l.scheduleIdle(c, l.now+uint64(t-idle))
		return
	}
	l.closeNow(c, err)
}

// ticksOf returns d in whole ticks, rounded up and capped at 2^31; 0 for
// d <= 0.
func ticksOf(d, tick time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min((d+tick-1)/tick, 1<<31))
}

// armClose bounds the wait of c's graceful close, which found the socket
// full, for the peer to read (Options.CloseTimeout). The first call
// starts the clock; the wait is not extended by the peer's progress, so a
// peer that reads a byte now and then cannot hold c either.
func (l *loop) armClose(c *Conn) {
	if l.closeTicks == 0 || c.flags&fCloseArmed != 0 || c.state.Load() == stClosed {
		return
	}
	c.flags |= fCloseArmed
	c.lastRead = uint32(l.now) // reads have stopped (fCloseReq)
	at := l.now + uint64(l.closeTicks)
	if c.flags&fIdleArmed != 0 && int32(uint32(at)-c.idleAt) >= 0 {
		return // the armed entry is due no later; fire re-checks then
	}
	l.scheduleIdle(c, at)
}
