//go:build linux && !reactor_netfallback

package reactor

import (
	"golang.org/x/sys/unix"
)

// The command queue: how other goroutines hand writes, closes and new
// connections to a loop, and wake it with one eventfd write per batch.

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
