package reactor

import (
	"runtime"
	"time"
)

// Handler receives connection events. All three callbacks run on the
// connection's event-loop goroutine and must not block: hand blocking work to a
// Pool (or a goroutine) and write the answer back with Conn.Write.
type Handler interface {
	// OnOpen runs after accept or Dial, before any OnData.
	OnOpen(c *Conn)
	// OnData gets all buffered unread bytes (valid only during the call, and
	// read-only: WriteCopy of a part of them may queue that part without
	// copying it until OnData returns) and returns how many it consumed
	// (whole frames); the rest is kept and offered again, with more bytes
	// appended, on the next call.
	OnData(c *Conn, data []byte) int
	// OnClose runs exactly once per opened connection. err is nil on a clean
	// local Close, io.EOF on peer close, ErrEngineClosed on Shutdown, else the
	// cause (ErrSlowConsumer, ErrIdleTimeout, ErrCloseTimeout, ErrInboundTooLarge,
	// a syscall error).
	OnClose(c *Conn, err error)
}

// Options configure an Engine. Zero values select the defaults.
//
// Accepting: by default each loop has its own SO_REUSEPORT listening socket
// and accepts onto itself, which BenchmarkAccept measured faster than one
// acceptor for a storm of short connections on a 2-core machine (no
// cross-loop hand-off: about 2x while loops blocked threads in epoll_wait,
// about 1.2x since they park in the netpoller); the kernel spreads
// connections over the loops by a hash of the addresses. SingleAcceptor
// selects one listening socket on loop 0 that places each connection on the
// least-loaded loop instead: slower to accept, but it keeps loops even when
// long-lived connections close unevenly. In both modes Listen refuses an
// address that something already listens on (SO_REUSEPORT alone would let
// a second process of the same user join the group and take a share of the
// connections).
type Options struct {
	Loops          int           // event loops; 0 = GOMAXPROCS
	SingleAcceptor bool          // one acceptor on loop 0 placing conns on the least-loaded loop, instead of one SO_REUSEPORT listener per loop
	MaxOutbound    int           // per-connection outbound queue limit in bytes; 0 = 4 MiB; a Write over it fails with ErrSlowConsumer and closes the conn
	LossyLimit     int           // WriteLossy drops when queued bytes would exceed this; 0 = MaxOutbound/4
	MaxInbound     int           // max unconsumed inbound bytes kept per conn; 0 = 2 MiB + 64 KiB; over it the conn closes with ErrInboundTooLarge
	ReadBufferSize int           // per-loop read buffer; 0 = 64 KiB
	TickInterval   time.Duration // timing-wheel tick; 0 = 100ms
	// CloseTimeout bounds how long a graceful close (Conn.Close, the
	// peer's EOF, a layer's io.EOF, Shutdown) waits for the peer to take
	// the output queued before it: a peer that stops reading would
	// otherwise hold the connection, its descriptor and its queue until
	// an idle timeout, or for ever without one. When it passes, the rest
	// is dropped and OnClose gets ErrCloseTimeout. 0 = 10s; negative
	// waits without bound. Rounded up to whole ticks.
	CloseTimeout time.Duration
	// CoalesceWindow, when > 0, lets writes from other goroutines gather
	// while a loop is busy with fan-out (it took 64 or more commands at
	// once within the last four windows): newly posted commands stay
	// queued until a window has passed since the loop noticed them, then
	// it takes them all and flushes each connection once. Under a steady
	// stream of fan-outs every receiver then gets several frames per
	// writev, and the loop one wake-up per window instead of one per post.
	// Otherwise posts are taken at once; none waits longer than the window
	// plus the wake-up and the runtime timer's slack (up to about 1 ms).
	// Writes a loop makes to its own connections (from its callbacks) are
	// not held. 0 (the default) takes every command on the next pass. The
	// non-Linux fallback writes at once and ignores it.
	CoalesceWindow time.Duration
}

// Stats is a snapshot of engine counters. All counters are cumulative except
// Conns and QueuedBytes, which are current values.
type Stats struct {
	Conns        uint64 // connections open now (including dials in progress)
	Accepted     uint64 // connections accepted from listeners
	Closed       uint64 // opened connections closed (OnClose calls)
	BytesIn      uint64 // bytes read from sockets
	BytesOut     uint64 // bytes written to sockets
	Writev       uint64 // flush syscalls (writev, or write for a single buffer)
	EAGAIN       uint64 // writes that hit a full socket buffer (EAGAIN or short write)
	QueuedBytes  uint64 // bytes in outbound queues, not yet written (counted when the loop takes a write)
	DroppedLossy uint64 // WriteLossy calls that dropped their buffer
	Wakeups      uint64 // eventfd writes made to wake a sleeping loop
	CopyChunks   uint64 // pooled WriteCopy chunks queued now (not yet written or dropped); always 0 on the non-Linux fallback
}

const (
	defaultMaxOutbound  = 4 << 20
	defaultMaxInbound   = 2<<20 + 64<<10
	defaultReadBuf      = 64 << 10
	defaultTick         = 100 * time.Millisecond
	defaultCloseTimeout = 10 * time.Second
	iovMax              = 1024 // IOV_MAX on Linux
)

// withDefaults fills zero fields of o.
func (o Options) withDefaults() Options {
	if o.Loops <= 0 {
		o.Loops = runtime.GOMAXPROCS(0)
	}
	if o.MaxOutbound <= 0 {
		o.MaxOutbound = defaultMaxOutbound
	}
	if o.LossyLimit <= 0 {
		o.LossyLimit = o.MaxOutbound / 4
	}
	if o.MaxInbound <= 0 {
		o.MaxInbound = defaultMaxInbound
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = defaultReadBuf
	}
	if o.TickInterval <= 0 {
		o.TickInterval = defaultTick
	}
	if o.CloseTimeout == 0 {
		o.CloseTimeout = defaultCloseTimeout
	}
	return o
}
