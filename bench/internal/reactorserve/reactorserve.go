// Package reactorserve runs a bench server's handler on a reactor engine
// until its context ends: the lifecycle the raw and the WebSocket reactor
// servers share, and the echo and broadcast handlers both use.
package reactorserve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/reactor"
)

// Echo writes back what arrives. OnData's slice is only valid during the
// call: WriteCopy copies it into the reactor's pooled chunks instead of a
// fresh allocation per message.
type Echo struct{}

// OnOpen does nothing.
func (Echo) OnOpen(*reactor.Conn) {}

// OnClose does nothing.
func (Echo) OnClose(*reactor.Conn, error) {}

// OnData echoes data.
func (Echo) OnData(c *reactor.Conn, data []byte) int {
	_ = c.WriteCopy(data)
	return len(data)
}

// Broadcast delivers what each connection sends to every connection: the
// part of OnData's bytes that Whole says is complete (whole frames; with
// WebSocket, each OnData is one whole message) is copied once and that one
// slice is queued on every receiver with Write. An error from Whole closes
// the sender.
type Broadcast struct {
	Whole func(data []byte) (int, error)
	peers peers.Set[*reactor.Conn]
}

// OnOpen adds c to the receivers.
func (h *Broadcast) OnOpen(c *reactor.Conn) { h.peers.Add(c) }

// OnClose removes c.
func (h *Broadcast) OnClose(c *reactor.Conn, _ error) { h.peers.Remove(c) }

// OnData sends the complete part of data to everyone.
func (h *Broadcast) OnData(c *reactor.Conn, data []byte) int {
	whole, err := h.Whole(data)
	if whole > 0 {
		out := append([]byte(nil), data[:whole]...) // one copy shared by all receivers
		for _, p := range h.peers.Snapshot() {
			_ = p.Write(out) // a slow receiver is closed by the reactor, not waited for
		}
	}
	if err != nil {
		_ = c.Close()
		return len(data)
	}
	return whole
}

// Run serves h on cfg's address with cfg.Loops loops until ctx ends, then
// shuts the engine down; name prefixes its errors.
func Run(ctx context.Context, name string, cfg srvmain.Config, h reactor.Handler) error {
	eng, err := reactor.New(h, reactor.Options{Loops: cfg.Loops})
	if err != nil {
		return fmt.Errorf("%s: new engine: %w", name, err)
	}
	if _, err := eng.Listen("tcp", cfg.Addr()); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(fmt.Errorf("%s: listen %s: %w", name, cfg.Addr(), err), eng.Shutdown(stopCtx))
	}
	done := make(chan error, 1)
	go func() { done <- eng.Serve() }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("%s: serve: %w", name, err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("%s: shutdown: %w", name, err)
	}
	if err := <-done; err != nil && !errors.Is(err, reactor.ErrEngineClosed) {
		return fmt.Errorf("%s: serve: %w", name, err)
	}
	return nil
}
