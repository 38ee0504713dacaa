//go:build linux && !reactor_netfallback

package reactor

import (
	"bytes"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is one TCP connection served by a loop. Methods are safe from any
// goroutine unless noted. It is kept small (no channels, goroutines, maps or
// runtime timers) because servers hold tens of thousands of them.
type Conn struct {
	loop   *loop
	id     uint64
	ctx    atomic.Pointer[any]
	in     []byte                 // leftover of an incomplete inbound frame (pooled; nil when empty)
	out    outQueue               // loop-owned outbound queue (wire bytes)
	lay    atomic.Pointer[layers] // nil unless PushLayer was called
	queued atomic.Int64
	// outq is the bytes the loop holds for c (loop-owned): those in out not
	// yet written and, on a layered connection, the units in its layers'
	// pending queue not yet encoded. It equals queued when no write waits in
	// the command queue, which is when a loop-side write may go inline and
	// a graceful close may proceed.
	outq int64
	// lastRead is the loop tick (mod 2^32) of the last read (once a
	// graceful close waits for the peer, which stops reads: the tick the
	// wait began) and idleAt the tick the armed idle entry is due, for the
	// idle and close timeouts.
	lastRead  uint32
	idleAt    uint32
	idleTicks atomic.Uint32
	state     atomic.Uint32
	fd        int32
	slot      int32
	flags     uint16 // loop-owned f* bits
	code      uint8  // pending close cause (close* constants), loop-owned
	remote    rawAddr
}

// rawAddr is a compact peer address; net.Addr values are built on demand.
type rawAddr struct {
	ip   [16]byte
	port uint16
	v4   bool
}

const (
	stOpen uint32 = iota
	stClosing
	stClosed
)

const (
	fReady uint16 = 1 << iota
	fFlush
	fWaitOut
	fConnecting
	fOpened
	fHup
	fCloseReq
	fIdleArmed
	fCloseArmed // a graceful close waits for the peer to read: lastRead is when it began
)

const (
	closeLocal uint8 = iota
	closeEOF
	closeSlow
	closeIdle
	closeInbound
	closeShutdown
)

func closeErr(code uint8) error {
	switch code {
	case closeEOF:
		return errEOF
	case closeSlow:
		return ErrSlowConsumer
	case closeIdle:
		return ErrIdleTimeout
	case closeInbound:
		return ErrInboundTooLarge
	case closeShutdown:
		return ErrEngineClosed
	}
	return nil
}

func rawFromSockaddr(sa unix.Sockaddr) rawAddr {
	var r rawAddr
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		copy(r.ip[:4], a.Addr[:])
		r.port, r.v4 = uint16(a.Port), true
	case *unix.SockaddrInet6:
		r.ip, r.port = a.Addr, uint16(a.Port)
	}
	return r
}

func (r rawAddr) tcpAddr() net.Addr {
	var ip netip.Addr
	if r.v4 {
		ip = netip.AddrFrom4([4]byte(r.ip[:4]))
	} else {
		ip = netip.AddrFrom16(r.ip).Unmap() // an IPv4 client of a dual-stack listener
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, r.port))
}

// ID returns the connection's engine-unique identifier (never 0).
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the peer address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote.tcpAddr() }

// LocalAddr returns the local address, asked from the kernel while the
// connection is open (nil once it is closed).
func (c *Conn) LocalAddr() net.Addr {
	if c.state.Load() == stClosed {
		return nil
	}
	sa, err := unix.Getsockname(int(c.fd))
	if err != nil {
		return nil
	}
	return rawFromSockaddr(sa).tcpAddr()
}

// Context returns the value stored by SetContext.
func (c *Conn) Context() any {
	if p := c.ctx.Load(); p != nil {
		return *p
	}
	return nil
}

// SetContext stores v with the connection.
func (c *Conn) SetContext(v any) { c.ctx.Store(&v) }

// Outbound returns the bytes queued and not yet written.
func (c *Conn) Outbound() int { return int(c.queued.Load()) }

// Write queues b. b is retained, not copied: the caller must not modify it
// afterwards; the same slice may be queued on many connections. It fails with
// ErrClosed on a closing connection and with ErrSlowConsumer (closing the
// connection) when the queue would exceed MaxOutbound.
func (c *Conn) Write(b []byte) error {
	n := int64(len(b))
	if err := c.admit(n); err != nil || n == 0 {
		return err
	}
	if c.inline(n) {
		if s := c.lay.Load(); s != nil {
			c.loop.pendInline(c, s, b, false)
		} else {
			c.loop.writeInline(c, b)
		}
		return nil
	}
	return c.settle(c.loop.postWrite(c, b), n)
}

// WriteCopy queues a copy of b, so the caller may reuse b as soon as it
// returns: for the data passed to OnData (valid only during the call) or a
// reply encoded into a scratch buffer. The copy goes into reactor-owned
// pooled chunks (consecutive small WriteCopy calls to one connection share a
// chunk and leave in one iovec) that return to the loop's pool once written,
// so steady-state echo allocates nothing and an idle connection holds no
// chunk. A b larger than 64 KiB gets a private copy instead. Limits and
// errors are Write's; safe from any goroutine.
func (c *Conn) WriteCopy(b []byte) error {
	n := int64(len(b))
	if err := c.admit(n); err != nil || n == 0 {
		return err
	}
	if c.inline(n) {
		if s := c.lay.Load(); s != nil {
			e := c.loop.ownCopy(b)
			c.loop.pendInline(c, s, e.b, e.pooled)
		} else {
			c.loop.copyInline(c, b)
		}
		return nil
	}
	if n > maxChunk {
		return c.settle(c.loop.postWrite(c, bytes.Clone(b)), n)
	}
	return c.settle(c.loop.postCopy(c, b), n)
}

// Writev queues several buffers as one unit (for example header and body),
// with the same rules as Write.
func (c *Conn) Writev(bufs ...[]byte) error {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	if err := c.admit(n); err != nil || n == 0 {
		return err
	}
	if c.inline(n) {
		if s := c.lay.Load(); s != nil {
			c.loop.pendvInline(c, s, bufs)
		} else {
			c.loop.writevInline(c, bufs, n)
		}
		return nil
	}
	return c.settle(c.loop.postWritev(c, bufs), n)
}

// admit is the common start of the queueing writes: ErrClosed unless the
// conn is open; for n > 0 it reserves n bytes against MaxOutbound
// (ErrSlowConsumer, closing the conn, when over). nil with n > 0 obliges the
// caller to post the bytes and settle the reservation.
func (c *Conn) admit(n int64) error {
	if c.state.Load() != stOpen {
		return ErrClosed
	}
	if n > 0 && !c.reserve(n) {
		return ErrSlowConsumer
	}
	return nil
}

// settle gives back a reservation whose bytes the loop did not take.
func (c *Conn) settle(posted bool, n int64) error {
	if !posted {
		c.unreserve(n)
		return ErrClosed
	}
	return nil
}

// WriteLossy is Write for data that may be lost (live media): when the queue
// would exceed LossyLimit, b is dropped and counted, and false is returned.
// It never closes the connection.
func (c *Conn) WriteLossy(b []byte) bool {
	if c.state.Load() != stOpen {
		return false
	}
	n := int64(len(b))
	limit := min(c.loop.e.lossyLimit, c.loop.e.maxOut)
	// Reserve first, then check, so racing writers cannot overshoot together.
	if c.queued.Add(n) > limit {
		c.queued.Add(-n)
		c.loop.ctr.droppedLossy.Add(1)
		return false
	}
	if !c.loop.postWrite(c, b) {
		c.unreserve(n)
		return false
	}
	return true
}

// reserve accounts n queued bytes at enqueue time so the limit holds even
// with writers on many goroutines; over the limit the conn is closed.
func (c *Conn) reserve(n int64) bool {
	if c.queued.Add(n) > c.loop.e.maxOut {
		c.queued.Add(-n)
		if c.state.CompareAndSwap(stOpen, stClosing) {
			c.loop.post(cmd{c: c, op: opAbort, code: closeSlow})
		}
		return false
	}
	return true
}

// unreserve gives back n bytes reserved by a write that was never queued.
func (c *Conn) unreserve(n int64) { c.queued.Add(-n) }

// written releases n bytes that left the out queue (written or dropped);
// loop only. The loop-wide figure is kept by the loop, off the write path.
func (c *Conn) written(n int64) {
	c.outq -= n
	c.queued.Add(-n)
	c.loop.ctr.queued.Add(-n)
}

// Close flushes what is queued, then closes; OnClose(c, nil) follows.
// It returns ErrClosed if the connection is already closing.
func (c *Conn) Close() error {
	if !c.state.CompareAndSwap(stOpen, stClosing) {
		return ErrClosed
	}
	c.loop.post(cmd{c: c, op: opClose, code: closeLocal})
	return nil
}

// SetIdleTimeout closes the connection with ErrIdleTimeout when no bytes
// arrive for d (rounded up to whole ticks); every read resets it; 0 disables.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	ticks := ticksOf(d, c.loop.tick)
	c.idleTicks.Store(ticks)
	if ticks > 0 && c.state.Load() == stOpen {
		c.loop.post(cmd{c: c, op: opIdle})
	}
}
