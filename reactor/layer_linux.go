//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"errors"
	"io"
	"unsafe"

	"golang.org/x/sys/unix"
)

// layers is a layered connection's stack. It is loop-owned; only the
// pointer to it (Conn.lay) is read by writers on other goroutines, so that
// WriteCopy keeps one unit per call instead of merging into the last chunk.
type layers struct {
	n    int
	slot [maxLayers]*layerSlot // the first n are the stack, bottom first
	pend outQueue              // units written from above, not yet encoded
	// open: bit i set while layer i has had Encode calls since its Flush;
	// held: bit i set while layer i holds the handler's units (LayerIO.Hold).
	open, held uint8
	closed     bool     // Close was called on the layers
	encoding   bool     // the top layer's Encode of a pending unit is running
	flushing   bool     // encodeOut is running: the conn is being flushed
	cur        [2]int32 // pend indices of the unit being encoded
	busy       int32    // layer methods running (they may nest through Up and Down)
	relPending bool     // the conn closed while busy: release when the last returns
	released   bool
	fail       error // a layer failed with FlushFirst: write once, close with this
}

// layerSlot is one layer of a stack, with its handle and its undecoded
// input. Slots are allocated as layers are pushed, so a connection holds
// what its stack uses (most have one layer) rather than maxLayers of each,
// and a slot never moves: the layer keeps &io.
type layerSlot struct {
	l  Layer
	io LayerIO
	in []byte // undecoded leftover (pooled; nil when empty)
}

// LayerIO is a layer's handle on its connection and its place in the stack:
// Up passes decoded bytes to the layer above (or the handler), Down and
// DownCopy send bytes toward the socket, Reserve and Commit build them in
// place, Post and Wake reach the loop from other goroutines, Hold keeps
// the handler's output back.
type LayerIO struct {
	c *Conn
	i int
}

// Conn returns the connection the layer serves.
func (io *LayerIO) Conn() *Conn { return io.c }

// Up passes b, valid only during the call, to the layer above or, for the
// top layer, to the handler's OnData (what it does not consume is kept).
// Loop only: from Decode or Wake.
func (io *LayerIO) Up(b []byte) {
	c := io.c
	if len(b) == 0 || c.state.Load() == stClosed {
		return
	}
	s := c.lay.Load()
	if io.i+1 < s.n {
		c.loop.decodeAt(c, s, io.i+1, b)
		return
	}
	c.loop.deliverTop(c, b)
}

// Down sends b toward the socket: into the Encode of the layer below, or, for
// the bottom layer, onto the connection's outbound queue, retained without a
// copy until written (b must not change afterwards). Loop only.
func (io *LayerIO) Down(b []byte) { io.c.loop.down(io.c, io.i, b, false) }

// DownCopy is Down for bytes the layer reuses (a record buffer): the bottom
// layer's bytes are copied into pooled chunks, and consecutive calls fill one
// chunk, so many small records leave as one iovec. Loop only.
func (io *LayerIO) DownCopy(b []byte) { io.c.loop.down(io.c, io.i, b, true) }

// Reserve returns an empty slice with room for at least n bytes, for a
// layer that builds its wire bytes in place and sends them with Commit:
// TLS seals its records where the socket will take them from, instead of
// in a buffer of its own that DownCopy copies. The bottom layer gets the
// free end of the last pooled chunk of the outbound queue, or a fresh
// chunk of at least 4 KiB (so that more of the same flush fits after it);
// a layer above the bottom one, or an n over 64 KiB, gets a new buffer.
// The slice is the layer's until it commits it or its next Flush returns,
// whichever comes first (the connection is written to the socket only
// after its layers are flushed); a later Reserve gives up an uncommitted
// one. Loop only.
func (io *LayerIO) Reserve(n int) []byte {
	c := io.c
	if io.i > 0 || n > maxChunk || c.state.Load() == stClosed {
		return make([]byte, 0, n)
	}
	if t := c.out.tail(); t != nil && t.pooled && cap(t.b)-len(t.b) >= n {
		return t.b[len(t.b):len(t.b)]
	}
	l := c.loop
	if l.roomConn == c {
		if cap(l.room) >= n {
			return l.room[:0]
		}
		l.chunkRet = append(l.chunkRet, l.room) // too small, and given up: back to the pool
	}
	// Another connection's uncommitted room stays its layer's: a Commit
	// of it copies, and the chunk goes to the garbage collector.
	l.room, l.roomConn = l.chunk(chunkClass(max(n, reserveMin))), c
	return l.room
}

// reserveMin is the least capacity of a fresh chunk Reserve hands out.
const reserveMin = 4 << 10

// Commit sends b toward the socket: the slice Reserve returned, filled in
// place (any length up to its capacity). The bottom layer's bytes join the
// outbound queue where they lie, without a copy; anything else (a slice
// Reserve did not hand out, or one it handed out since) is copied, as by
// DownCopy. A layer above the bottom one passes b down as by Down. Loop
// only.
func (io *LayerIO) Commit(b []byte) {
	c := io.c
	if len(b) == 0 || c.state.Load() == stClosed {
		return
	}
	l := c.loop
	if io.i > 0 {
		l.down(c, io.i, b, false)
		return
	}
	s := c.lay.Load()
	p := unsafe.SliceData(b)
	if t := c.out.tail(); t != nil && t.pooled && cap(t.b)-len(t.b) >= len(b) &&
		unsafe.SliceData(t.b[len(t.b):cap(t.b)]) == p {
		l.queueDown(c, s, len(b))
		t.b = t.b[:len(t.b)+len(b)]
		return
	}
	if l.roomConn == c && unsafe.SliceData(l.room) == p && len(b) <= cap(l.room) {
		l.room, l.roomConn = nil, nil
		l.queueDown(c, s, len(b))
		l.ctr.chunks.Add(1)
		c.out.pushChunk(b)
		return
	}
	l.down(c, 0, b, true)
}

// Post sends a copy of b toward the socket from any goroutine (a handshake
// running off the loop); it reports false once the connection is closed.
// Posted bytes keep their order with each other and with the layer's Down
// calls that follow their arrival on the loop.
func (io *LayerIO) Post(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	c := io.c
	if c.state.Load() == stClosed {
		return false
	}
	return c.loop.post(cmd{c: c, b: bytes.Clone(b), op: opPost, code: uint8(io.i)})
}

// Wake makes the loop call the layer's Wake method soon; safe from any
// goroutine. It reports false once the connection is closed.
func (io *LayerIO) Wake() bool {
	c := io.c
	if c.state.Load() == stClosed {
		return false
	}
	return c.loop.post(cmd{c: c, op: opWake, code: uint8(io.i)})
}

// Hold keeps the units written from above queued (still counted against
// MaxOutbound) while on is true, for example until a handshake completes.
// Loop only.
func (io *LayerIO) Hold(on bool) {
	c := io.c
	s := c.lay.Load()
	if on {
		s.held |= 1 << io.i
		return
	}
	s.held &^= 1 << io.i
	if c.state.Load() != stClosed && !s.pend.empty() {
		c.loop.markFlush(c)
	}
}

// PushLayer puts ly on top of c's layer stack, nearest the handler, and
// opens it. Call it on c's loop: from OnOpen, OnData or a Layer method.
// Called from OnData, the bytes OnData did not consume become ly's first
// input. Writes the loop has not yet taken from its queue when ly is pushed
// are encoded by ly as well. An error from ly.Open closes the connection
// with it.
func (c *Conn) PushLayer(ly Layer) error {
	if c.state.Load() != stOpen {
		return ErrClosed
	}
	s := c.lay.Load()
	if s == nil {
		s = &layers{}
		c.loop.adoptInline(c, s)
	} else if s.n == maxLayers {
		return ErrTooManyLayers
	}
	i := s.n
	s.slot[i] = &layerSlot{l: ly, io: LayerIO{c: c, i: i}}
	s.n++
	c.lay.Store(s)
	s.busy++
	err := ly.Open(&s.slot[i].io)
	c.loop.unbusy(s)
	if err != nil {
		c.loop.closeNow(c, err)
		return err
	}
	return nil
}

// depth returns how many layers c has (loop only).
func (c *Conn) depth() int {
	if s := c.lay.Load(); s != nil {
		return s.n
	}
	return 0
}

// decodeAt hands data to layer i's Decode, keeping what it does not consume.
func (l *loop) decodeAt(c *Conn, s *layers, i int, data []byte) {
	sl := s.slot[i]
	var k int
	var err error
	s.busy++
	if len(sl.in) == 0 {
		k, err = sl.l.Decode(data)
		k = clampConsumed(k, len(data))
		if k < len(data) && c.state.Load() != stClosed {
			sl.in = inAppend(&l.pool, nil, data[k:])
		}
	} else {
		sl.in = inAppend(&l.pool, sl.in, data)
		k, err = sl.l.Decode(sl.in)
		sl.in = inConsume(&l.pool, sl.in, clampConsumed(k, len(sl.in)))
	}
	l.unbusy(s)
	if c.state.Load() == stClosed {
		return
	}
	if err != nil {
		l.layerFailed(c, err)
		return
	}
	if len(sl.in) > l.e.opts.MaxInbound {
		l.closeNow(c, ErrInboundTooLarge)
	}
}

// layerFailed closes c after a layer error: gracefully on io.EOF, after
// one write attempt when wrapped by FlushFirst, at once otherwise.
func (l *loop) layerFailed(c *Conn, err error) {
	var ff *flushFirst
	if errors.As(err, &ff) {
		// Not here: a layer below may be in its Decode (this one's input
		// came up through it). The flush does it, right after the read or
		// at the end of the pass; reading stops meanwhile.
		if s := c.lay.Load(); s.fail == nil {
			s.fail = ff.err
			c.state.CompareAndSwap(stOpen, stClosing)
			l.markFlush(c)
		}
		return
	}
	if errors.Is(err, io.EOF) {
		l.requestClose(c, closeEOF)
		return
	}
	l.closeNow(c, err)
}

// down implements LayerIO.Down and DownCopy for layer i.
func (l *loop) down(c *Conn, i int, b []byte, cp bool) {
	if len(b) == 0 || c.state.Load() == stClosed {
		return
	}
	s := c.lay.Load()
	if i > 0 {
		if !s.flushing {
			l.markFlush(c) // a write outside a flush (handshake, pong): flush soon
		}
		s.open |= 1 << (i - 1)
		u := &l.layerOne[i-1]
		u[0] = b
		s.busy++
		err := s.slot[i-1].l.Encode(u[:])
		u[0] = nil
		l.unbusy(s)
		if err != nil && c.state.Load() != stClosed {
			l.closeNow(c, err)
		}
		return
	}
	l.queueDown(c, s, len(b))
	if cp {
		l.downCopy(c, b)
		return
	}
	if s.encoding && l.giveChunk(s, b) {
		c.out.pushChunk(b)
		return
	}
	c.out.push(b)
}

// queueDown accounts n bytes the bottom layer is putting on c's outbound
// queue and makes sure the queue is flushed.
func (l *loop) queueDown(c *Conn, s *layers, n int) {
	if !s.flushing {
		l.markFlush(c) // a write outside a flush (handshake, pong): flush soon
	}
	c.queued.Add(int64(n))
	c.outq += int64(n)
	l.ctr.queued.Add(int64(n))
	if c.out.bufs == nil {
		c.out.bufs = l.queueArray()
	}
}

// downCopy copies b into the tail chunk of c's queue and fresh chunks.
func (l *loop) downCopy(c *Conn, b []byte) {
	if c.out.appendTail(b) {
		return
	}
	if len(b) > maxChunk {
		c.out.push(bytes.Clone(b))
		return
	}
	l.mu.Lock()
	ch := l.chunks.get(chunkClass(len(b)))
	l.mu.Unlock()
	l.ctr.chunks.Add(1)
	c.out.pushChunk(append(ch, b...))
}

// giveChunk is called when the bottom layer passes b down unchanged while
// the top one encodes a pending unit: if b overlaps one of the unit's pooled
// chunks, the chunk must not go back to the pool once encoding ends. It
// reports whether b is that whole chunk, which then moves to the outbound
// queue as a pooled chunk; a part of a chunk is left to the garbage
// collector instead.
func (l *loop) giveChunk(s *layers, b []byte) bool {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	for j := int(s.cur[0]); j < int(s.cur[1]); j++ {
		e := &s.pend.bufs[j]
		base := uintptr(unsafe.Pointer(unsafe.SliceData(e.b)))
		if !e.pooled || p < base || p >= base+uintptr(cap(e.b)) {
			continue
		}
		e.pooled = false
		if p == base && len(b) == len(e.b) && cap(b) == cap(e.b) {
			return true
		}
		l.ctr.chunks.Add(-1)
		return false
	}
	return false
}

// queueArray returns a recycled outQueue array, or nil.
func (l *loop) queueArray() []outBuf {
	if n := len(l.qpool); n > 0 {
		b := l.qpool[n-1]
		l.qpool = l.qpool[:n-1]
		return b
	}
	return nil
}

// pendUnit queues a unit written from above on a layered conn, taken from
// the command queue, and marks the conn for flushing.
func (l *loop) pendUnit(c *Conn, s *layers, b []byte, pooled, more bool) {
	l.pendAdd(c, s, b, pooled, more)
	l.markFlush(c)
}

// pendAdd queues (a buffer of) a unit written from above on a layered conn;
// its bytes, reserved by the write, are now held by the loop.
func (l *loop) pendAdd(c *Conn, s *layers, b []byte, pooled, more bool) {
	if s.pend.bufs == nil {
		s.pend.bufs = l.queueArray()
	}
	s.pend.pushUnit(b, pooled, more)
	c.outq += int64(len(b))
	l.ctr.queued.Add(int64(len(b)))
}

// encodeOut encodes c's pending units through its layers, runs their Close
// when a graceful close is due, and flushes the stack. It reports false if
// c was closed meanwhile.
func (l *loop) encodeOut(c *Conn, s *layers) bool {
	top := s.n - 1
	var plain int64
	q := &s.pend
	s.busy++
	s.flushing = true
	defer func() {
		s.flushing = false
		l.unbusy(s)
	}()
	if s.fail != nil {
		l.failFlush(c, s)
		return false
	}
	if s.held == 0 && !q.empty() {
		s.encoding = true
		for i := q.head; i < len(q.bufs); {
			j := i
			unit := l.layerUnit[:0]
			for {
				unit = append(unit, q.bufs[j].b)
				plain += int64(len(q.bufs[j].b))
				j++
				if !q.bufs[j-1].more || j == len(q.bufs) {
					break
				}
			}
			s.cur = [2]int32{int32(i), int32(j)}
			s.open |= 1 << top
			err := s.slot[top].l.Encode(unit)
			clear(unit)
			l.layerUnit = unit[:0]
			if c.state.Load() == stClosed {
				s.encoding = false
				return false
			}
			if err != nil {
				s.encoding = false
				l.closeNow(c, err)
				return false
			}
			i = j
		}
		s.encoding = false
	}
	// A write made before the close that still waits in the command queue
	// (a reply OnData wrote from a layer's Wake, which runs in the drain)
	// goes first: the drain that takes it flushes c again.
	if c.flags&fCloseReq != 0 && !s.closed && c.drained() {
		s.closed = true
		for i := top; i >= 0; i-- {
			s.slot[i].l.Close()
			if c.state.Load() == stClosed {
				return false
			}
		}
	}
	for i := top; i >= 0; i-- {
		if s.open&(1<<i) == 0 {
			continue
		}
		s.open &^= 1 << i
		err := s.slot[i].l.Flush()
		if c.state.Load() == stClosed {
			return false
		}
		if err != nil {
			l.closeNow(c, err)
			return false
		}
	}
	if plain > 0 {
		c.queued.Add(-plain)
		c.outq -= plain
		l.ctr.queued.Add(-plain)
		l.releasePend(s)
	}
	return true
}

// failFlush ends c after a layer failed with FlushFirst: the layers flush
// what they gathered, one write is tried, and c closes with the failure,
// dropping the units not encoded and what the socket did not take.
func (l *loop) failFlush(c *Conn, s *layers) {
	for i := s.n - 1; i >= 0; i-- {
		if s.open&(1<<i) == 0 {
			continue
		}
		s.open &^= 1 << i
		s.slot[i].l.Flush() // an error changes nothing: c closes anyway
		if c.state.Load() == stClosed {
			return
		}
	}
	if c.flags&(fWaitOut|fConnecting) == 0 && !c.out.empty() {
		l.writeOnce(c)
	}
	l.closeNow(c, s.fail)
}

// writeOnce makes one write attempt of c's queue (up to IOV_MAX buffers)
// for a connection about to close; closeNow accounts the whole queue.
func (l *loop) writeOnce(c *Conn) {
	iov := l.iov[:0]
	for i := c.out.head; i < len(c.out.bufs) && len(iov) < iovMax; i++ {
		b := c.out.bufs[i].b
		if i == c.out.head {
			b = b[c.out.off:]
		}
		if len(b) == 0 {
			continue
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	if len(iov) == 0 {
		return
	}
	r, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(c.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	clear(iov)
	l.ctr.writev.Add(1)
	if errno == 0 {
		l.ctr.bytesOut.Add(uint64(r))
	}
}

// releasePend drops the pending units, returning their pooled chunks.
func (l *loop) releasePend(s *layers) {
	if s.pend.bufs == nil {
		return
	}
	k := len(l.chunkRet)
	b := s.pend.release(&l.chunkRet)
	l.ctr.chunks.Add(int64(k - len(l.chunkRet)))
	if cap(b) <= 128 && len(l.qpool) < 1024 {
		l.qpool = append(l.qpool, b)
	}
}

// wakeLayer runs layer i's Wake (opWake).
func (l *loop) wakeLayer(c *Conn, i int) {
	s := c.lay.Load()
	if c.state.Load() == stClosed || s == nil || i >= s.n {
		return
	}
	s.busy++
	err := s.slot[i].l.Wake()
	l.unbusy(s)
	if c.state.Load() == stClosed {
		return
	}
	if err != nil {
		l.layerFailed(c, err)
		return
	}
	if len(s.slot[i].in) > 0 {
		l.decodeAt(c, s, i, nil) // what the layer could not take before it woke
	}
}

// unbusy ends a layer call; the last one out releases a closed conn's layers.
func (l *loop) unbusy(s *layers) {
	s.busy--
	if s.busy == 0 && s.relPending {
		s.relPending = false
		l.releaseLayers(s)
	}
}

// closeLayers settles a closing conn's layers: the pending units' bytes are
// no longer queued, and the layers are released now or, if one of their
// methods is running, when it returns.
func (l *loop) closeLayers(c *Conn, s *layers) {
	if p := s.pend.size(); p > 0 {
		c.written(int64(p))
	}
	if s.busy > 0 {
		s.relPending = true
		return
	}
	l.releaseLayers(s)
}

// releaseLayers calls every layer's Release once and returns their buffers.
func (l *loop) releaseLayers(s *layers) {
	if s.released {
		return
	}
	s.released = true
	for i := s.n - 1; i >= 0; i-- {
		s.slot[i].l.Release()
		if s.slot[i].in != nil {
			l.pool.put(s.slot[i].in)
			s.slot[i].in = nil
		}
	}
	if c := s.slot[0].io.c; l.roomConn == c {
		l.chunkRet = append(l.chunkRet, l.room)
		l.room, l.roomConn = nil, nil
	}
	l.releasePend(s)
}
