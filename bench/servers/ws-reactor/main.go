package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/sniff"
	"github.com/chatd/chatd/reactor/websocket"
)

func main() { srvmain.Main("ws-reactor", serve) }

type echoHandler struct{}

func (echoHandler) OnOpen(*reactor.Conn)         {}
func (echoHandler) OnClose(*reactor.Conn, error) {}
func (echoHandler) OnData(c *reactor.Conn, data []byte) int {
	_ = c.WriteCopy(data) // one message in, one message out
	return len(data)
}

type broadcastHandler struct {
	peers peers.Set[*reactor.Conn]
}

func (h *broadcastHandler) OnOpen(c *reactor.Conn)           { h.peers.Add(c) }
func (h *broadcastHandler) OnClose(c *reactor.Conn, _ error) { h.peers.Remove(c) }

func (h *broadcastHandler) OnData(c *reactor.Conn, data []byte) int {
	out := append([]byte(nil), data...) // one copy shared by all receivers
	for _, p := range h.peers.Snapshot() {
		_ = p.Write(out) // a slow receiver is closed by the reactor, not waited for
	}
	return len(data)
}

func serve(ctx context.Context, cfg srvmain.Config) error {
	var h reactor.Handler = echoHandler{}
	if cfg.Mode == srvmain.ModeBroadcast {
		h = &broadcastHandler{}
	}
	h = sniff.New(h, sniff.Config{WebSocket: &websocket.Config{Path: wsclient.Path}})
	eng, err := reactor.New(h, reactor.Options{Loops: cfg.Loops})
	if err != nil {
		return fmt.Errorf("ws-reactor: new engine: %w", err)
	}
	if _, err := eng.Listen("tcp", cfg.Addr()); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(fmt.Errorf("ws-reactor: listen %s: %w", cfg.Addr(), err), eng.Shutdown(stopCtx))
	}
	done := make(chan error, 1)
	go func() { done <- eng.Serve() }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("ws-reactor: serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("ws-reactor: shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, reactor.ErrEngineClosed) {
		return fmt.Errorf("ws-reactor: serve: %w", err)
	}
	return nil
}
