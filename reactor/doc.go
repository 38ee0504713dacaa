// Package reactor is chatd's embeddable, edge-triggered epoll multi-reactor.
//
// Architecture: an Engine runs N loops (default GOMAXPROCS). Each loop is one
// goroutine with its own epoll fd, an eventfd to wake it, a per-loop read
// buffer, a pool of leftover buffers and a hashed timing wheel. A Conn belongs
// to one loop for its whole life. Sockets are non-blocking and registered once
// with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET. A pass of a loop reads ready
// connections (a capped number of bytes each, so one busy peer cannot starve
// the rest), runs queued commands and due timers, then flushes every
// connection with pending output with one writev of up to IOV_MAX buffers
// (plain write when only one is queued). A connection whose OnData queued a
// reply is flushed right after its own read, so with hundreds of ready
// connections the reply does not wait for the rest of the pass. A loop with nothing ready does not
// block a thread in epoll_wait: it parks its goroutine in the Go runtime's
// netpoller on its epoll fd, so an idle loop holds no thread or P and sysmon
// has nothing to retake (about 3x fewer context switches under echo load).
// Writes from other goroutines go through the loop's command queue; a
// sleeping loop is woken by one eventfd write per batch, and writes made
// while it is awake cost no wake-up at all. Writes from the connection's own
// loop (its callbacks) go straight into its outbound queue, or into its
// layers' pending units, when no earlier write to it waits in the command
// queue (see inline_linux.go), and WriteCopy of OnData's own bytes to a
// connection without layers queues them without a copy, flushes the
// connection when OnData returns and copies only what the kernel did not
// take: OnData's data is therefore read-only.
// Options.CoalesceWindow (off by default) trades a bounded delay for fewer
// syscalls under fan-out load: a loop that took 64 or more cross-goroutine
// commands at once within the last four windows leaves new ones queued
// until a window has passed since it noticed them, then flushes each
// connection once, so a receiver of many fan-outs gets several frames per
// writev and the loop one wake-up per window (see coalesce_linux.go).
// Without such fan-out (replies to requests, a lone message) a loop takes
// commands at once; Shutdown never waits for a window; writes made on the
// loop itself are not held.
// Each loop accepts on its own SO_REUSEPORT listening socket (the kernel
// spreads connections by hash); with Options.SingleAcceptor one acceptor on
// loop 0 hands each connection to the least-loaded loop instead. Either way
// Listen fails on an address something already listens on, so a second
// server cannot join the first's SO_REUSEPORT group and take a share of its
// connections.
// On systems other than Linux the same API is served by a goroutine per
// connection over package net.
//
// Callbacks: Handler.OnOpen, OnData, OnClose, AfterFunc functions and idle
// timeouts all run on the connection's loop goroutine. They must not block:
// a blocked callback stalls every connection of that loop. Hand blocking work
// (database calls) to a Pool keyed by Conn.ID, which keeps per-connection
// order, and write the result back with Conn.Write from the worker.
//
// Buffer ownership: Write, Writev and WriteLossy retain the caller's slices
// until they are written; they are never copied, so the caller must not modify
// them afterwards, and one encoded frame may be queued on many connections:
// WriteBatch does that fan-out with one lock acquisition per loop per 64
// receivers instead of one per receiver.
//
// WriteCopy copies instead, so the caller may reuse its slice as soon as it
// returns. The copy goes into reactor-owned chunks (1, 4, 16 or 64 KiB) taken
// from a per-loop pool under the queue lock the write takes anyway.
// Consecutive small WriteCopy calls to one connection fill the same chunk, so
// many small replies leave as one iovec, and replies to a connection whose
// output is backed up are folded into its tail chunk on the loop. A chunk goes
// back to the pool once written (or when its connection closes), so an idle
// connection holds none and steady-state echo allocates nothing. Loops keep
// at most 1 MiB of free chunks per class and spill the rest to a sync.Pool
// that the garbage collector trims; a WriteCopy over 64 KiB gets a private
// copy. MaxOutbound counts bytes, not chunk capacity: a tiny WriteCopy that
// cannot share a chunk (say, interleaved with Write calls) pins a 1 KiB chunk.
// Stats.CopyChunks counts the chunks queued now. Measured on the 2-core
// bench machine (bench/loadgen -mode echo -conns 100 -duration 4s against
// bench/servers/reactor, 4 alternating rounds, medians): echoing 4 KiB with
// WriteCopy cost 2.94 µs of server CPU per message against 6.00 µs with a
// fresh copy plus Write (gnet: 2.96 µs); at 64 B 2.18 against 2.22 µs (gnet:
// 2.69 µs).
//
// Which to use: Write for bytes that are yours to give away and stay
// unchanged (a frame encoded into a fresh buffer); WriteCopy for bytes you do
// not own or will reuse (OnData's slice, a scratch encoding buffer);
// WriteBatch for one frame to many receivers (one shared buffer, where
// WriteCopy would copy it once per receiver).
//
// The data passed to OnData is valid only during the call; OnData returns how
// many bytes it consumed and the rest is kept (in a pooled buffer, returned
// to the pool when empty, so idle connections hold no buffer).
//
// Closing: Conn.Close flushes what is queued, then closes. When the peer
// closes its side (read returns 0), the bytes read before are delivered, the
// output queued so far is flushed, and the connection closes with io.EOF;
// later writes fail with ErrClosed. A graceful close waits for the peer to
// read that output for at most Options.CloseTimeout (10s), so a peer that
// stopped reading cannot hold the connection; then it closes with
// ErrCloseTimeout. OnClose runs exactly once per opened connection on every
// path (peer close, error, Close, slow consumer, idle or close timeout,
// inbound limit, Shutdown).
//
// Layers: Conn.PushLayer puts a Layer (TLS, WebSocket; see layer.go and
// Example_layer) between the socket and the handler: it decodes what
// arrives before OnData and encodes what the handler writes into the same
// outbound queue, keeping writev batching, order and MaxOutbound (which then
// counts wire bytes). Layers stack, so WebSocket runs inside TLS.
//
// Backpressure: queued bytes are counted when Write is called, on any
// goroutine. A Write that would take a connection's queue over
// Options.MaxOutbound (4 MiB) fails with ErrSlowConsumer and closes the
// connection: a slow reader never grows server memory without bound.
// WriteLossy drops (and counts) a buffer when the queue would exceed
// Options.LossyLimit and leaves the connection open. Inbound, a connection
// whose unconsumed bytes exceed Options.MaxInbound is closed with
// ErrInboundTooLarge.
package reactor
