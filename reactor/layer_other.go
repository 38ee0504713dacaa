//go:build !linux || reactor_netfallback

package reactor

import (
	"bytes"
	"errors"
	"io"
)

// The fallback's layers: decoding runs on the reader goroutine and encoding
// on the writer goroutine, both under the connection's callback mutex, so a
// layer's methods never run at the same time, as on a loop.

// fbLayers is a layered connection's stack; guarded by Conn.hmu.
type fbLayers struct {
	n        int
	ls       [maxLayers]Layer
	io       [maxLayers]LayerIO
	in       [maxLayers][]byte // per layer: undecoded leftover
	pend     [][]byte          // units from above, nil-terminated, not yet encoded
	open     uint8             // bit i: layer i has had Encode calls since its Flush
	held     uint8             // bit i: layer i holds the handler's units
	closed   bool              // Close was called on the layers
	released bool
}

// LayerIO is a layer's handle on its connection and its place in the stack:
// Up passes decoded bytes to the layer above (or the handler), Down and
// DownCopy send bytes toward the socket, Reserve and Commit build them in
// place, Post and Wake reach the connection from other goroutines, Hold
// keeps the handler's output back.
type LayerIO struct {
	c *Conn
	i int
}

// Conn returns the connection the layer serves.
func (io *LayerIO) Conn() *Conn { return io.c }

// Up passes b, valid only during the call, to the layer above or, for the
// top layer, to the handler's OnData. Only from Decode or Wake.
func (io *LayerIO) Up(b []byte) {
	c := io.c
	if len(b) == 0 || !c.isOpen() {
		return
	}
	if io.i+1 < c.lay.n {
		c.decodeAt(io.i+1, b)
		return
	}
	c.deliverTop(b)
}

// Down sends b toward the socket, retained until written. Only from a Layer method.
func (io *LayerIO) Down(b []byte) { io.c.down(io.i, b) }

// DownCopy is Down for bytes the layer reuses. Only from a Layer method.
func (io *LayerIO) DownCopy(b []byte) { io.c.down(io.i, bytes.Clone(b)) }

// Reserve returns an empty buffer with room for n bytes, for Commit. On
// the fallback it is always a new buffer. Only from a Layer method.
func (io *LayerIO) Reserve(n int) []byte { return make([]byte, 0, n) }

// Commit sends b, filled in the buffer Reserve returned, toward the socket
// without a copy. Only from a Layer method.
func (io *LayerIO) Commit(b []byte) { io.c.down(io.i, b) }

// Post sends a copy of b toward the socket from any goroutine; false once
// the connection is closed. Posts and Wakes run in call order.
func (io *LayerIO) Post(b []byte) bool {
	c, b := io.c, bytes.Clone(b)
	return c.layerTask(func() { c.down(io.i, b) })
}

// Wake makes the layer's Wake run soon; safe from any goroutine.
func (io *LayerIO) Wake() bool {
	c := io.c
	return c.layerTask(func() {
		if err := c.lay.ls[io.i].Wake(); err != nil {
			c.layerFailed(err)
			return
		}
		if len(c.lay.in[io.i]) > 0 {
			c.decodeAt(io.i, nil) // what the layer could not take before it woke
		}
	})
}

// layerTask queues f to run under hmu, after the tasks queued before it, on
// a goroutine started when the queue was empty; false once c is closed.
func (c *Conn) layerTask(f func()) bool {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return false
	}
	c.tasks = append(c.tasks, f)
	start := !c.tasksRunning
	c.tasksRunning = true
	c.mu.Unlock()
	if start {
		go c.runTasks()
	}
	return true
}

func (c *Conn) runTasks() {
	for {
		c.mu.Lock()
		if len(c.tasks) == 0 {
			c.tasksRunning = false
			c.mu.Unlock()
			return
		}
		f := c.tasks[0]
		c.tasks = c.tasks[1:]
		c.mu.Unlock()
		c.hmu.Lock()
		if !c.lay.released && c.isOpen() {
			f()
		}
		c.hmu.Unlock()
	}
}

// Hold keeps the units written from above queued while on is true. Only
// from a Layer method.
func (io *LayerIO) Hold(on bool) {
	c := io.c
	if on {
		c.lay.held |= 1 << io.i
		return
	}
	c.lay.held &^= 1 << io.i
	c.mu.Lock()
	c.kick = true
	c.cond.Signal()
	c.mu.Unlock()
}

// PushLayer puts ly on top of c's layer stack and opens it; see the Linux
// documentation. Call it from a Handler callback or a Layer method.
func (c *Conn) PushLayer(ly Layer) error {
	if !c.isOpen() {
		return ErrClosed
	}
	s := c.lay
	if s == nil {
		s = &fbLayers{}
	} else if s.n == maxLayers {
		return ErrTooManyLayers
	}
	i := s.n
	s.ls[i], s.io[i] = ly, LayerIO{c: c, i: i}
	s.n++
	c.lay = s
	c.layered.Store(true)
	if err := ly.Open(&s.io[i]); err != nil {
		c.closeNow(err)
		return err
	}
	return nil
}

// depth returns how many layers c has (under hmu).
func (c *Conn) depth() int {
	if c.lay != nil {
		return c.lay.n
	}
	return 0
}

// decodeAt hands data to layer i's Decode, keeping what it does not consume.
func (c *Conn) decodeAt(i int, data []byte) {
	s := c.lay
	buf := data
	if len(s.in[i]) > 0 {
		s.in[i] = append(s.in[i], data...)
		buf = s.in[i]
	}
	k, err := s.ls[i].Decode(buf)
	k = clampConsumed(k, len(buf))
	s.in[i] = append(s.in[i][:0], buf[k:]...)
	if len(s.in[i]) == 0 {
		s.in[i] = nil
	}
	if err != nil {
		c.layerFailed(err)
	} else if len(s.in[i]) > c.e.opts.MaxInbound {
		c.closeNow(ErrInboundTooLarge)
	}
}

// deliverTop hands decoded bytes to OnData, keeping what it leaves in the
// top layer's slot above the stack (in[n] is unused by layers below).
func (c *Conn) deliverTop(b []byte) {
	s := c.lay
	n0 := s.n
	top := &c.upIn
	buf := b
	if len(*top) > 0 {
		*top = append(*top, b...)
		buf = *top
	}
	k := clampConsumed(c.e.h.OnData(c, buf), len(buf))
	if k < len(buf) && s.n != n0 {
		rest := append([]byte(nil), buf[k:]...)
		*top = nil
		c.decodeAt(n0, rest)
		return
	}
	*top = append((*top)[:0], buf[k:]...)
	if len(*top) == 0 {
		*top = nil
	}
}

// layerFailed closes c after a layer error: gracefully on io.EOF.
func (c *Conn) layerFailed(err error) {
	var ff *flushFirst
	if errors.As(err, &ff) {
		err = ff.err // closes at once here (see FlushFirst)
	}
	if errors.Is(err, io.EOF) {
		c.requestClose(errEOF)
		return
	}
	c.closeNow(err)
}

// down implements LayerIO.Down for layer i (under hmu).
func (c *Conn) down(i int, b []byte) {
	if len(b) == 0 {
		return
	}
	s := c.lay
	if i > 0 {
		s.open |= 1 << (i - 1)
		if err := s.ls[i-1].Encode([][]byte{b}); err != nil {
			c.closeNow(err)
		}
		return
	}
	n := int64(len(b))
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.queued.Add(n)
	c.e.queued.Add(n)
	c.wire = append(c.wire, b)
	c.cond.Signal()
	c.mu.Unlock()
}

// encodeLayers runs on the writer: it encodes the pending units (unless a
// layer holds them), runs the layers' Close once closing, and flushes the
// stack; the wire bytes land in c.wire.
func (c *Conn) encodeLayers(units [][]byte, closing bool) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	s := c.lay
	if s.released {
		return
	}
	s.pend = append(s.pend, units...)
	top := s.n - 1
	if s.held == 0 && len(s.pend) > 0 {
		var plain int64
		start := 0
		for j, b := range s.pend {
			plain += int64(len(b))
			if b != nil {
				continue
			}
			s.open |= 1 << top
			if err := s.ls[top].Encode(s.pend[start:j]); err != nil {
				c.closeNow(err)
				return
			}
			start = j + 1
		}
		s.pend = s.pend[:0]
		c.unreserve(plain)
	}
	if closing && !s.closed {
		s.closed = true
		for i := top; i >= 0; i-- {
			s.ls[i].Close()
		}
	}
	for i := top; i >= 0; i-- {
		if s.open&(1<<i) != 0 {
			s.open &^= 1 << i
			if err := s.ls[i].Flush(); err != nil {
				c.closeNow(err)
				return
			}
		}
	}
}

// releaseLayers releases the layers once the conn is gone (under hmu).
func (c *Conn) releaseLayers() {
	s := c.lay
	if s == nil || s.released {
		return
	}
	s.released = true
	var plain int64
	for _, b := range s.pend {
		plain += int64(len(b))
	}
	c.unreserve(plain)
	s.pend = nil
	for i := s.n - 1; i >= 0; i-- {
		s.ls[i].Release()
		s.in[i] = nil
	}
}
