//go:build !linux || reactor_netfallback

package reactor

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The fallback's connection: its state, its public methods and its close
// path (see engine_other.go for the model).

// Conn is one TCP connection. Methods are safe from any goroutine.
type Conn struct {
	e      *Engine
	nc     net.Conn
	id     uint64
	ctx    atomic.Pointer[any]
	queued atomic.Int64
	idle   atomic.Int64 // idle timeout in nanoseconds

	hmu  sync.Mutex // serialises handler callbacks
	lay  *fbLayers  // guarded by hmu; nil unless PushLayer was called
	upIn []byte     // guarded by hmu: what OnData left of a layered conn's input
	// layered is set once lay is: enqueue then ends every unit with a nil
	// entry so the writer can tell units apart.
	layered atomic.Bool

	mu           sync.Mutex
	cond         sync.Cond
	out          [][]byte
	wire         [][]byte // a layered conn's encoded bytes, written before out
	kick         bool     // a layer stopped holding: the writer should encode
	tasks        []func() // LayerIO.Post and Wake, in call order
	tasksRunning bool
	closing      bool // no more writes; flush then close
	closed       bool
	cause        error
	once         sync.Once
	writerOK     chan struct{} // closed when the writer goroutine exits
}

func (c *Conn) isOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closing && !c.closed
}

// requestClose stops writes and lets the writer flush, then close with cause.
func (c *Conn) requestClose(cause error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.closed {
		return false
	}
	c.closing, c.cause = true, cause
	if d := c.e.opts.CloseTimeout; d > 0 {
		// A peer that stops reading must not hold the writer for ever
		// (writeBatch names the cause).
		c.nc.SetWriteDeadline(time.Now().Add(d))
	}
	c.cond.Signal()
	return true
}

// closeNow closes the socket at once; the first cause recorded wins.
func (c *Conn) closeNow(cause error) {
	c.once.Do(func() {
		c.mu.Lock()
		if !c.closing {
			c.cause = cause
		}
		c.closing, c.closed = true, true
		var n int64
		for _, b := range c.out {
			n += int64(len(b))
		}
		for _, b := range c.wire {
			n += int64(len(b))
		}
		c.out, c.wire = nil, nil
		c.cond.Signal()
		c.mu.Unlock()
		c.unreserve(n)
		c.nc.Close()
	})
}

func (c *Conn) unreserve(n int64) {
	c.queued.Add(-n)
	c.e.queued.Add(-n)
}

// enqueue queues bufs as one unit after checking the outbound limit.
func (c *Conn) enqueue(bufs [][]byte, lossy bool) error {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if lossy && c.queued.Load()+n > int64(c.e.opts.LossyLimit) {
		c.mu.Unlock()
		c.e.ctr.dropped.Add(1)
		return ErrSlowConsumer
	}
	if c.queued.Load()+n > int64(c.e.opts.MaxOutbound) {
		c.mu.Unlock()
		if lossy {
			c.e.ctr.dropped.Add(1)
		} else {
			c.closeNow(ErrSlowConsumer)
		}
		return ErrSlowConsumer
	}
	c.queued.Add(n)
	c.e.queued.Add(n)
	for _, b := range bufs {
		if len(b) > 0 {
			c.out = append(c.out, b)
		}
	}
	if c.layered.Load() {
		c.out = append(c.out, nil) // end of unit
	}
	c.cond.Signal()
	c.mu.Unlock()
	return nil
}

// ID returns the connection's engine-unique identifier (never 0).
func (c *Conn) ID() uint64 { return c.id }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Context returns the value stored by SetContext.
func (c *Conn) Context() any {
	if p := c.ctx.Load(); p != nil {
		return *p
	}
	return nil
}

// SetContext stores v with the connection.
func (c *Conn) SetContext(v any) { c.ctx.Store(&v) }

// Write queues b (retained, not copied); see the Linux documentation.
func (c *Conn) Write(b []byte) error { return c.enqueue([][]byte{b}, false) }

// WriteCopy queues a private copy of b, so the caller may reuse b at once.
// The fallback simply allocates the copy; the Linux loops pool it.
func (c *Conn) WriteCopy(b []byte) error { return c.Write(bytes.Clone(b)) }

// Writev queues several buffers as one unit.
func (c *Conn) Writev(bufs ...[]byte) error { return c.enqueue(bufs, false) }

// WriteLossy queues b unless the queue would exceed LossyLimit.
func (c *Conn) WriteLossy(b []byte) bool { return c.enqueue([][]byte{b}, true) == nil }

// Close flushes what is queued, then closes; OnClose(c, nil) follows.
func (c *Conn) Close() error {
	if !c.requestClose(nil) {
		return ErrClosed
	}
	return nil
}

// SetIdleTimeout closes the connection with ErrIdleTimeout when no bytes
// arrive for d; 0 disables.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.idle.Store(int64(max(d, 0)))
	if d > 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
}

// Outbound returns the bytes queued and not yet written.
func (c *Conn) Outbound() int { return int(c.queued.Load()) }
