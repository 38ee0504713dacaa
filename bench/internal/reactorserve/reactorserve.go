// Package reactorserve runs a bench server's handler on a reactor engine
// until its context ends: the lifecycle the raw and the WebSocket reactor
// servers share, and the echo handler both use.
package reactorserve

import (
	"context"
	"errors"
	"fmt"
	"time"

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
