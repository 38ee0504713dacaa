//go:build !linux || reactor_netfallback

package reactor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// This file serves the reactor API on systems without epoll with a goroutine
// pair per connection over package net (build tag reactor_netfallback forces
// it on Linux, so its behaviour is tested there too). Handler callbacks of a
// connection are serialised by a per-connection mutex, which plays the role
// of the loop; AfterFunc functions run on their own goroutine.

// Engine owns the listeners and connections.
type Engine struct {
	h      Handler
	opts   Options
	ids    atomic.Uint64
	queued atomic.Int64
	ctr    fbCounters
	sndBuf atomic.Int32 // unused here; mirrors the Linux test hook

	mu        sync.Mutex
	shut      bool
	listeners []net.Listener
	conns     map[*Conn]struct{}
	wg        sync.WaitGroup
	done      chan struct{}
}

type fbCounters struct {
	conns, accepted, closed, bytesIn, bytesOut, writev, eagain, dropped atomic.Uint64
}

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

// New creates an engine.
func New(h Handler, opts Options) (*Engine, error) {
	if h == nil {
		return nil, errors.New("reactor: nil handler")
	}
	return &Engine{h: h, opts: opts.withDefaults(), conns: make(map[*Conn]struct{}), done: make(chan struct{})}, nil
}

// Listen starts accepting on network and addr and returns the bound address.
func (e *Engine) Listen(network, addr string) (net.Addr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shut {
		return nil, ErrEngineClosed
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	e.listeners = append(e.listeners, ln)
	e.wg.Add(1)
	go e.acceptLoop(ln)
	return ln.Addr(), nil
}

func (e *Engine) acceptLoop(ln net.Listener) {
	defer e.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if e.isShut() {
				return
			}
			// EMFILE and friends: wait and retry, never give up.
			time.Sleep(backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		e.ctr.accepted.Add(1)
		if _, err := e.start(nc); err != nil {
			nc.Close()
		}
	}
}

func (e *Engine) isShut() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shut
}

// start registers nc and runs its goroutines; it returns after OnOpen.
func (e *Engine) start(nc net.Conn) (*Conn, error) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &Conn{e: e, nc: nc, id: e.ids.Add(1), writerOK: make(chan struct{})}
	c.cond.L = &c.mu
	e.mu.Lock()
	if e.shut {
		e.mu.Unlock()
		return nil, ErrEngineClosed
	}
	e.conns[c] = struct{}{}
	e.wg.Add(2)
	e.mu.Unlock()
	e.ctr.conns.Add(1)
	opened := make(chan struct{})
	go c.writer()
	go c.reader(opened)
	<-opened
	return c, nil
}

// Serve blocks until Shutdown has finished, then returns ErrEngineClosed.
func (e *Engine) Serve() error {
	<-e.done
	return ErrEngineClosed
}

// Dial opens a client connection; it returns after OnOpen has run, so it
// must not be called from a Handler callback.
func (e *Engine) Dial(ctx context.Context, network, addr string) (*Conn, error) {
	if e.isShut() {
		return nil, ErrEngineClosed
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c, err := e.start(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Shutdown stops accepting, flushes and closes every connection
// (OnClose(c, ErrEngineClosed)), and waits; on ctx expiry it closes hard.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	first := !e.shut
	e.shut = true
	conns := make([]*Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	if first {
		for _, ln := range e.listeners {
			ln.Close()
		}
		go func() { e.wg.Wait(); close(e.done) }()
	}
	e.mu.Unlock()
	for _, c := range conns {
		c.requestClose(ErrEngineClosed)
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.closeNow(ErrEngineClosed)
		}
		<-e.done
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	s := Stats{
		Conns: e.ctr.conns.Load(), Accepted: e.ctr.accepted.Load(), Closed: e.ctr.closed.Load(),
		BytesIn: e.ctr.bytesIn.Load(), BytesOut: e.ctr.bytesOut.Load(), Writev: e.ctr.writev.Load(),
		EAGAIN: e.ctr.eagain.Load(), DroppedLossy: e.ctr.dropped.Load(),
	}
	if q := e.queued.Load(); q > 0 {
		s.QueuedBytes = uint64(q)
	}
	return s
}

// AfterFunc runs f after d on its own goroutine (the fallback has no loops).
func (e *Engine) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	t := time.AfterFunc(d, func() {
		if !e.isShut() {
			f()
		}
	})
	return t.Stop
}

func (c *Conn) reader(opened chan struct{}) {
	e := c.e
	defer e.wg.Done()
	c.hmu.Lock()
	e.h.OnOpen(c)
	c.hmu.Unlock()
	close(opened)
	buf := make([]byte, e.opts.ReadBufferSize)
	var in []byte
	for {
		if d := c.idle.Load(); d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
		n, err := c.nc.Read(buf)
		if n > 0 {
			e.ctr.bytesIn.Add(uint64(n))
			c.hmu.Lock()
			if c.isOpen() {
				if c.lay != nil {
					c.decodeAt(0, buf[:n])
				} else {
					in = append(in, buf[:n]...)
					n0 := c.depth()
					k := clampConsumed(e.h.OnData(c, in), len(in))
					if k < len(in) && c.depth() != n0 {
						c.decodeAt(n0, in[k:]) // OnData pushed a layer
						k = len(in)
					}
					in = append(in[:0], in[k:]...)
				}
			}
			c.hmu.Unlock()
			if len(in) > e.opts.MaxInbound {
				c.closeNow(ErrInboundTooLarge)
			}
		}
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				c.closeNow(ErrIdleTimeout)
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.closeNow(ErrIdleTimeout)
			case errors.Is(err, io.EOF):
				c.requestClose(errEOF)
			default:
				c.closeNow(err)
			}
			break
		}
	}
	<-c.writerOK
	c.mu.Lock()
	cause := c.cause
	c.mu.Unlock()
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	e.ctr.conns.Add(^uint64(0))
	e.ctr.closed.Add(1)
	c.hmu.Lock()
	e.h.OnClose(c, cause)
	c.releaseLayers()
	c.hmu.Unlock()
}

func (c *Conn) writer() {
	defer c.e.wg.Done()
	defer close(c.writerOK)
	for {
		c.mu.Lock()
		for len(c.out) == 0 && len(c.wire) == 0 && !c.kick && !c.closing && !c.closed {
			c.cond.Wait()
		}
		if c.layered.Load() && !c.closed {
			// Encode on this goroutine, serialised with the callbacks.
			closing := c.closing
			units := c.out
			c.out, c.kick = nil, false
			c.mu.Unlock()
			c.encodeLayers(units, closing)
			c.mu.Lock()
			if len(c.wire) == 0 && closing {
				c.mu.Unlock()
				c.closeNow(nil)
				return
			}
			batch := c.wire
			c.wire = nil
			c.mu.Unlock()
			if !c.writeBatch(batch) {
				return
			}
			continue
		}
		if c.closed || (len(c.out) == 0 && c.closing) {
			c.mu.Unlock()
			c.closeNow(nil) // after a graceful close the cause is already set
			return
		}
		batch := c.out
		c.out = nil
		c.mu.Unlock()
		if !c.writeBatch(batch) {
			return
		}
	}
}

// writeBatch writes batch and gives back its reservation; false when the
// write failed (the conn is closed then).
func (c *Conn) writeBatch(batch [][]byte) bool {
	var n int64
	for _, b := range batch {
		n += int64(len(b))
	}
	bufs := net.Buffers(batch)
	w, err := bufs.WriteTo(c.nc)
	c.e.ctr.writev.Add(1)
	c.e.ctr.bytesOut.Add(uint64(w))
	c.unreserve(n)
	if err != nil {
		c.closeNow(err)
		return false
	}
	return true
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

// WriteBatch queues b on every connection in conns with Write's rules
// (closing conns skipped, a conn over MaxOutbound closed with
// ErrSlowConsumer) and returns how many it was queued on. This fallback has
// one writer goroutine per connection, so it is a loop of Write.
func WriteBatch(b []byte, conns []*Conn) (queued int) {
	if len(b) == 0 {
		return 0
	}
	for _, c := range conns {
		if c != nil && c.Write(b) == nil {
			queued++
		}
	}
	return queued
}
