package main

import (
	"context"

	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/reactorserve"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/sniff"
	"github.com/chatd/chatd/reactor/websocket"
)

func main() { srvmain.Main("ws-reactor", serve) }

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
	var h reactor.Handler = reactorserve.Echo{} // one message in, one message out
	if cfg.Mode == srvmain.ModeBroadcast {
		h = &broadcastHandler{}
	}
	h = sniff.New(h, sniff.Config{WebSocket: &websocket.Config{Path: wsclient.Path}})
	return reactorserve.Run(ctx, "ws-reactor", cfg, h)
}
