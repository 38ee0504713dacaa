package main

import (
	"context"

	"github.com/chatd/chatd/bench/internal/reactorserve"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/sniff"
	"github.com/chatd/chatd/reactor/websocket"
)

func main() { srvmain.Main("ws-reactor", serve) }

// wholeMessage says all of OnData's bytes are complete: over WebSocket
// each call carries one whole message.
func wholeMessage(data []byte) (int, error) { return len(data), nil }

func serve(ctx context.Context, cfg srvmain.Config) error {
	var h reactor.Handler = reactorserve.Echo{} // one message in, one message out
	if cfg.Mode == srvmain.ModeBroadcast {
		h = &reactorserve.Broadcast{Whole: wholeMessage}
	}
	h = sniff.New(h, sniff.Config{WebSocket: &websocket.Config{Path: wsclient.Path}})
	return reactorserve.Run(ctx, "ws-reactor", cfg, h)
}
