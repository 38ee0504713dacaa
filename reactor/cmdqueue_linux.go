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

// postUrgent is post for commands that must not wait out a coalescing
// window (Shutdown): the loop takes its queue on the next pass, and is
// woken even if it is holding.
func (l *loop) postUrgent(c cmd) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	l.cmds = append(l.cmds, c)
	l.urgent.Store(true)
	l.awake.Store(true)
	unix.Write(l.efd, wakeBytes)
	l.ctr.wakeups.Add(1)
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
	last := len(bufs) - 1
	for last > 0 && len(bufs[last]) == 0 {
		last--
	}
	for i, b := range bufs {
		if len(b) > 0 {
			x := cmd{c: c, b: b, op: opWrite}
			if i < last {
				x.code = cmdMore // one unit for a layer
			}
			l.cmds = append(l.cmds, x)
		}
	}
	l.wakeLocked()
	l.mu.Unlock()
	return true
}

// postCopy copies b (at most maxChunk bytes) into pooled chunks under the
// queue lock, so the caller may reuse b at once: first into the room left in
// the tail chunk when the last queued command is a WriteCopy to the same
// conn (many small replies become one iovec), the rest into a fresh chunk.
// Until drain takes the commands the chunks belong to the queue, so appending
// to one here races with nothing.
func (l *loop) postCopy(c *Conn, b []byte) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	k := chunkClass(len(b))
	if n := len(l.cmds); n > 0 {
		// A layered conn keeps one unit per WriteCopy (a WebSocket message).
		if x := &l.cmds[n-1]; x.op == opWriteCopy && x.c == c && c.lay.Load() == nil {
			m := copy(x.b[len(x.b):cap(x.b)], b)
			x.b = x.b[:len(x.b)+m]
			b = b[m:]
			// Spilling over: the conn is getting a run of replies, so grow.
			k = max(k, min(chunkClassOf(cap(x.b))+1, numChunkClasses-1))
		}
	}
	if len(b) > 0 {
		ch := l.chunks.get(k)
		ch = append(ch, b...)
		l.cmds = append(l.cmds, cmd{c: c, b: ch, op: opWriteCopy})
		l.ctr.chunks.Add(1)
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
