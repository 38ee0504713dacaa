//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/petermattis/goid"
)

// Inline writes: a write made on the connection's own loop goroutine (from
// OnData, OnOpen, OnClose, an AfterFunc function, a layer's Wake) goes
// straight into its outbound queue, or on a layered connection into its
// layers' pending units, instead of through the command queue: no lock, no
// command, no drain, and no eventfd (the loop is awake). Writes from other
// goroutines take the command queue. Order is kept: a write goes inline only
// while nothing written earlier to the connection is still in the command
// queue (its reserved bytes, Conn.queued, equal the bytes the loop holds for
// it, Conn.outq); otherwise it queues behind the earlier ones.
//
// On a layered connection the inline unit is encoded when the connection is
// flushed (right after its read, or at the end of the pass), with the units
// queued before it, so the layer still packs a pass's units together (TLS:
// one record). Before, OnData's reply on a layered connection waited in the
// command queue for a drain of the whole loop's queue (a lock, and a second
// pass over every command).
//
// On top of that, WriteCopy from OnData of bytes that lie inside OnData's own
// data is lent, not copied: the slice is queued as is and the connection is
// flushed as soon as OnData returns, while the data is still valid; only what
// the kernel did not take is copied then. Echo of a 4 KiB message thus costs
// no copy at all, and several replies still leave in one writev.
//
// Measured with `make bench-instr` (user-space instructions per echoed
// message under callgrind): with 100 connections, 1,308 -> 844 per 64 B
// message and 1,734 -> 845 per 4 KiB one (gnet: about 1,030-1,230), see
// bench/INSTR-RESULTS.md.

// inlineOK reports whether goid.Get can be trusted, checked once.
var inlineOK = sync.OnceValue(goidAgrees)

// goidAgrees checks goid.Get (which reads the runtime's g struct at a fixed
// offset) against the id the runtime prints in a stack header, on this
// goroutine and a fresh one. Should a future Go release move the field, the
// check fails and every write takes the command queue, as before.
func goidAgrees() bool {
	check := func() bool {
		var buf [64]byte
		s := buf[:runtime.Stack(buf[:], false)] // "goroutine 18 [running]:..."
		f := bytes.Fields(s)
		if len(f) < 2 || string(f[0]) != "goroutine" {
			return false
		}
		id, err := strconv.ParseInt(string(f[1]), 10, 64)
		return err == nil && id == goid.Get()
	}
	other := make(chan bool)
	go func() { other <- check() }()
	return check() && <-other
}

// inline reports whether a write of n bytes, already reserved, may go
// straight into c's outbound queue (or its layers' pending units): the
// caller is c's loop goroutine and no earlier write to c waits in the
// command queue.
func (c *Conn) inline(n int64) bool {
	l := c.loop
	return l.inl && l.gid.Load() == goid.Get() && c.queued.Load() == c.outq+n
}

// pendInline queues b (Write, or WriteCopy's copy: pooled) as one unit of
// c's layers on the loop goroutine. When c is the connection being read,
// readAll flushes it after the read; otherwise it is flushed at the end of
// the pass.
func (l *loop) pendInline(c *Conn, s *layers, b []byte, pooled bool) {
	l.pendAdd(c, s, b, pooled, false)
	if c != l.reading {
		l.markFlush(c)
	}
}

// pendvInline queues bufs (Writev) as one unit of c's layers on the loop
// goroutine.
func (l *loop) pendvInline(c *Conn, s *layers, bufs [][]byte) {
	last := len(bufs) - 1
	for last > 0 && len(bufs[last]) == 0 {
		last--
	}
	for i, b := range bufs {
		l.pendAdd(c, s, b, false, i < last)
	}
	if c != l.reading {
		l.markFlush(c)
	}
}

// queuedInline accounts n bytes just put into c's outbound queue by an
// inline write and makes sure they are flushed: right after the read when c
// is the connection being read, at the end of the pass otherwise.
func (l *loop) queuedInline(c *Conn, n int64) {
	c.outq += n
	l.ctr.queued.Add(n)
	if c.out.bufs == nil {
		c.out.bufs = l.queueArray()
	}
	if c != l.reading {
		l.markFlush(c)
	}
}

// writeInline queues the caller's b (Write) on the loop goroutine.
func (l *loop) writeInline(c *Conn, b []byte) {
	l.queuedInline(c, int64(len(b)))
	c.out.push(b)
}

// writevInline queues bufs (Writev, n bytes in all) on the loop goroutine,
// marked as one unit in case a layer adopts them (adoptInline).
func (l *loop) writevInline(c *Conn, bufs [][]byte, n int64) {
	l.queuedInline(c, n)
	last := len(bufs) - 1
	for last > 0 && len(bufs[last]) == 0 {
		last--
	}
	for i, b := range bufs {
		c.out.pushUnit(b, false, i < last)
	}
}

// copyInline queues b (WriteCopy) on the loop goroutine: lent when b lies in
// the data OnData got for c, else copied into the tail chunk or a new one.
func (l *loop) copyInline(c *Conn, b []byte) {
	l.queuedInline(c, int64(len(b)))
	if c == l.lendTo && within(b, l.lendData) {
		c.out.pushLent(b)
		l.lent = true
		return
	}
	if c.out.appendTail(b) {
		return
	}
	c.out.pushOwned(l.ownCopy(b))
}

// within reports whether b lies inside data.
func within(b, data []byte) bool {
	if len(data) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(data))
}

// ownCopy returns a copy of b the queue may keep: a pooled chunk or, over
// maxChunk, a private copy.
func (l *loop) ownCopy(b []byte) outBuf {
	if len(b) > maxChunk {
		return outBuf{b: bytes.Clone(b)}
	}
	l.ctr.chunks.Add(1)
	return outBuf{b: append(l.chunk(chunkClass(len(b))), b...), pooled: true}
}

// chunk returns an empty pooled chunk of class k, taken from the chunks
// written this pass first, which needs no lock.
func (l *loop) chunk(k int) []byte {
	if n := len(l.chunkRet); n > 0 && cap(l.chunkRet[n-1]) == chunkSize(k) {
		ch := l.chunkRet[n-1][:0]
		l.chunkRet[n-1] = nil
		l.chunkRet = l.chunkRet[:n-1]
		return ch
	}
	l.mu.Lock()
	ch := l.chunks.get(k)
	l.mu.Unlock()
	return ch
}

// settleLent runs when OnData returns after lending c some of its data:
// it flushes c at once, while the data is valid, and copies what the kernel
// did not take.
func (l *loop) settleLent(c *Conn) {
	l.lent = false
	if c.state.Load() == stClosed {
		return
	}
	l.flush(c)
	if c.state.Load() == stClosed {
		return
	}
	q := &c.out
	for i := q.head; i < len(q.bufs); i++ {
		if e := &q.bufs[i]; e.lent {
			*e = l.ownCopy(e.b)
		}
	}
}

// adoptInline moves the buffers written inline to c and not yet handed to
// the kernel into the pending units of c's first layer, s, so the layer
// encodes them, as it does writes still in the command queue when it is
// pushed (PushLayer's contract). A buffer the kernel has begun to take stays
// raw. Lent slices are copied: the layer encodes after OnData returns.
func (l *loop) adoptInline(c *Conn, s *layers) {
	q := &c.out
	i := q.head
	if q.off > 0 {
		i++
	}
	if i >= len(q.bufs) {
		return
	}
	if s.pend.bufs == nil {
		s.pend.bufs = l.queueArray()
	}
	for j := i; j < len(q.bufs); j++ {
		e := q.bufs[j]
		if e.lent {
			more := e.more
			e = l.ownCopy(e.b)
			e.more = more
		}
		s.pend.pushUnit(e.b, e.pooled, e.more) // still held: outq stays
		q.bufs[j] = outBuf{}
	}
	q.bufs = q.bufs[:i]
}
