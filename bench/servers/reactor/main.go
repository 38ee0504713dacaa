package main

import (
	"context"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/reactorserve"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/reactor"
)

func main() { srvmain.Main("reactor", serve) }

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
	var h reactor.Handler = reactorserve.Echo{}
	if cfg.Mode == srvmain.ModeBroadcast {
		h = &broadcastHandler{}
	}
	return reactorserve.Run(ctx, "reactor", cfg, h)
}
