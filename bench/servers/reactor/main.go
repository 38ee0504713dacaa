package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/reactor"
)

func main() { srvmain.Main("reactor", serve) }

type echoHandler struct{}

func (echoHandler) OnOpen(*reactor.Conn)         {}
func (echoHandler) OnClose(*reactor.Conn, error) {}
func (echoHandler) OnData(c *reactor.Conn, data []byte) int {
	// data is only valid during the call: WriteCopy copies it into the
	// reactor's pooled chunks instead of a fresh allocation per message.
	_ = c.WriteCopy(data)
	return len(data)
}

type broadcastHandler struct {
	peers peers.Set[*reactor.Conn]
}

func (h *broadcastHandler) OnOpen(c *reactor.Conn)           { h.peers.Add(c) }
func (h *broadcastHandler) OnClose(c *reactor.Conn, _ error) { h.peers.Remove(c) }

func (h *broadcastHandler) OnData(c *reactor.Conn, data []byte) int {
	whole, err := frame.Complete(data)
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

func serve(ctx context.Context, cfg srvmain.Config) error {
	var h reactor.Handler = echoHandler{}
	if cfg.Mode == srvmain.ModeBroadcast {
		h = &broadcastHandler{}
	}
	eng, err := reactor.New(h, reactor.Options{Loops: cfg.Loops})
	if err != nil {
		return fmt.Errorf("reactor: new engine: %w", err)
	}
	if _, err := eng.Listen("tcp", cfg.Addr()); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(fmt.Errorf("reactor: listen %s: %w", cfg.Addr(), err), eng.Shutdown(stopCtx))
	}
	done := make(chan error, 1)
	go func() { done <- eng.Serve() }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("reactor: serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("reactor: shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, reactor.ErrEngineClosed) {
		return fmt.Errorf("reactor: serve: %w", err)
	}
	return nil
}
