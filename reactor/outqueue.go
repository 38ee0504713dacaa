package reactor

// outBuf is one queued buffer. pooled marks a reactor-owned copy chunk
// (WriteCopy) that goes back to the loop's chunk pool once written; other
// buffers belong to the caller and are only dropped. more marks a buffer
// whose unit (one Writev) continues in the next one; only layered
// connections' pending units use it. lent marks a slice of the data OnData
// is running with (an inline WriteCopy): it must be written or copied
// before OnData's caller goes on (loop.settleLent).
type outBuf struct {
	b      []byte
	pooled bool
	more   bool
	lent   bool
}

// outQueue is a connection's outbound queue: the caller's buffers, retained
// without copying, and WriteCopy's pooled chunks, plus how far into the head
// buffer the kernel has taken. It is owned by the connection's loop.
type outQueue struct {
	bufs []outBuf
	head int // index of the first buffer not fully written
	off  int // bytes of bufs[head] already written
}

// push appends a caller-owned b; empty buffers are ignored.
func (q *outQueue) push(b []byte) {
	if len(b) == 0 {
		return
	}
	if q.head > 0 && q.head == len(q.bufs) {
		q.bufs, q.head, q.off = q.bufs[:0], 0, 0
	}
	q.bufs = append(q.bufs, outBuf{b: b})
}

// pushChunk appends a pooled chunk; consume and release hand it back.
func (q *outQueue) pushChunk(b []byte) {
	if q.head > 0 && q.head == len(q.bufs) {
		q.bufs, q.head, q.off = q.bufs[:0], 0, 0
	}
	q.bufs = append(q.bufs, outBuf{b: b, pooled: true})
}

// pushLent appends a slice of OnData's data (see outBuf.lent).
func (q *outQueue) pushLent(b []byte) {
	if q.head > 0 && q.head == len(q.bufs) {
		q.bufs, q.head, q.off = q.bufs[:0], 0, 0
	}
	q.bufs = append(q.bufs, outBuf{b: b, lent: true})
}

// pushOwned appends e, a buffer the queue owns (loop.ownCopy).
func (q *outQueue) pushOwned(e outBuf) {
	if q.head > 0 && q.head == len(q.bufs) {
		q.bufs, q.head, q.off = q.bufs[:0], 0, 0
	}
	q.bufs = append(q.bufs, e)
}

// pushUnit appends b as part of a unit (see outBuf.more); empty buffers are
// ignored.
func (q *outQueue) pushUnit(b []byte, pooled, more bool) {
	if len(b) == 0 {
		return
	}
	if q.head > 0 && q.head == len(q.bufs) {
		q.bufs, q.head, q.off = q.bufs[:0], 0, 0
	}
	q.bufs = append(q.bufs, outBuf{b: b, pooled: pooled, more: more})
}

// appendTail copies b into the room left in the last queued buffer if that
// is a pooled chunk with room for all of b, and reports whether it did. The
// kernel only reads a chunk during a write call on the loop, so growing the
// tail (even one partly written) between calls is safe.
func (q *outQueue) appendTail(b []byte) bool {
	n := len(q.bufs)
	if n == q.head {
		return false
	}
	t := &q.bufs[n-1]
	if !t.pooled || cap(t.b)-len(t.b) < len(b) {
		return false
	}
	t.b = append(t.b, b...)
	return true
}

// tail returns the last buffer not yet fully written, or nil.
func (q *outQueue) tail() *outBuf {
	if n := len(q.bufs); n > q.head {
		return &q.bufs[n-1]
	}
	return nil
}

// empty reports whether nothing is left to write.
func (q *outQueue) empty() bool { return q.head >= len(q.bufs) }

// buffers returns the number of buffers still queued.
func (q *outQueue) buffers() int { return len(q.bufs) - q.head }

// size returns the unwritten bytes (O(buffers); used on close and in tests).
func (q *outQueue) size() int {
	n := 0
	for i := q.head; i < len(q.bufs); i++ {
		n += len(q.bufs[i].b)
	}
	return n - q.off
}

// peek appends up to max pending slices (the head one trimmed by off) to dst.
func (q *outQueue) peek(dst [][]byte, max int) [][]byte {
	for i := q.head; i < len(q.bufs) && max > 0; i++ {
		b := q.bufs[i].b
		if i == q.head {
			b = b[q.off:]
		}
		dst = append(dst, b)
		max--
	}
	return dst
}

// consume drops n written bytes from the front, releasing references to
// finished buffers so the garbage collector can reclaim them; finished pooled
// chunks are appended to *done for the loop's pool.
func (q *outQueue) consume(n int, done *[][]byte) {
	for n > 0 && q.head < len(q.bufs) {
		e := &q.bufs[q.head]
		rest := len(e.b) - q.off
		if n < rest {
			q.off += n
			return
		}
		n -= rest
		if e.pooled {
			*done = append(*done, e.b)
		}
		*e = outBuf{}
		q.head++
		q.off = 0
	}
	if q.head == len(q.bufs) {
		q.bufs, q.head, q.off = q.bufs[:0], 0, 0
	} else if q.head >= 256 && q.head*2 >= len(q.bufs) {
		// Compact so a queue that never drains does not grow forever.
		k := copy(q.bufs, q.bufs[q.head:])
		clear(q.bufs[k:])
		q.bufs, q.head = q.bufs[:k], 0
	}
}

// release empties the queue, appends its unwritten pooled chunks to *done and
// returns the backing array (cleared) so the loop can reuse it; an idle
// connection then holds no slice array and no chunk.
func (q *outQueue) release(done *[][]byte) []outBuf {
	b := q.bufs
	for i := q.head; i < len(b); i++ {
		if b[i].pooled {
			*done = append(*done, b[i].b)
		}
	}
	clear(b)
	q.bufs, q.head, q.off = nil, 0, 0
	return b[:0]
}
