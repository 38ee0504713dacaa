package reactor

import (
	"errors"
	"io"
)

// Errors reported by the engine, connections and the pool.
var (
	// ErrClosed is returned by Conn methods once the connection is closing or closed.
	ErrClosed = errors.New("reactor: connection closed")
	// ErrSlowConsumer is returned by a write that would push the outbound queue
	// over Options.MaxOutbound; the connection is closed with this cause.
	ErrSlowConsumer = errors.New("reactor: slow consumer: outbound queue limit exceeded")
	// ErrIdleTimeout is the OnClose cause when no bytes arrived within the idle timeout.
	ErrIdleTimeout = errors.New("reactor: idle timeout")
	// ErrCloseTimeout is the OnClose cause when a graceful close gave up
	// on output the peer did not read within Options.CloseTimeout.
	ErrCloseTimeout = errors.New("reactor: close timeout: the peer did not read the output queued before the close")
	// ErrInboundTooLarge is the OnClose cause when unconsumed inbound bytes exceed Options.MaxInbound.
	ErrInboundTooLarge = errors.New("reactor: unconsumed inbound data over limit")
	// ErrEngineClosed is returned by Serve after Shutdown, by Listen and Dial on a
	// shut-down engine, and is the OnClose cause for connections closed by Shutdown.
	ErrEngineClosed = errors.New("reactor: engine closed")
	// ErrPoolFull is returned by Pool.Submit when maxPending tasks are already waiting.
	ErrPoolFull = errors.New("reactor: pool full")
)

// errEOF is the OnClose cause for a peer close.
var errEOF = io.EOF
