package main

import (
	"context"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/reactorserve"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/reactor"
)

func main() { srvmain.Main("reactor", serve) }

func serve(ctx context.Context, cfg srvmain.Config) error {
	var h reactor.Handler = reactorserve.Echo{}
	if cfg.Mode == srvmain.ModeBroadcast {
		h = &reactorserve.Broadcast{Whole: frame.Complete}
	}
	return reactorserve.Run(ctx, "reactor", cfg, h)
}
