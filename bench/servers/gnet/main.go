package main

import (
	"context"
	"fmt"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
)

func main() { srvmain.Main("gnet", serve) }

type handler struct {
	gnet.BuiltinEventEngine
	broadcast bool
	peers     peers.Set[gnet.Conn]
	booted    chan gnet.Engine
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.booted <- eng
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if h.broadcast {
		h.peers.Add(c)
	}
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	if h.broadcast {
		h.peers.Remove(c)
	}
	return gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	if !h.broadcast {
		buf, _ := c.Next(-1)
		_, _ = c.Write(buf)
		return gnet.None
	}
	buf, _ := c.Peek(-1)
	whole, err := frame.Complete(buf)
	if whole > 0 {
		out := append([]byte(nil), buf[:whole]...) // one copy shared by all receivers
		_, _ = c.Discard(whole)
		for _, p := range h.peers.Snapshot() {
			_ = p.AsyncWrite(out, nil)
		}
	}
	if err != nil {
		return gnet.Close
	}
	return gnet.None
}

func serve(ctx context.Context, cfg srvmain.Config) error {
	h := &handler{broadcast: cfg.Mode == srvmain.ModeBroadcast, booted: make(chan gnet.Engine, 1)}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://"+cfg.Addr(), gnet.WithMulticore(true), gnet.WithNumEventLoop(cfg.Loops))
	}()
	var eng gnet.Engine
	select {
	case eng = <-h.booted:
	case err := <-done:
		return fmt.Errorf("gnet: run: %w", err)
	}
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("gnet: engine stopped: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Stop(stopCtx); err != nil {
		return fmt.Errorf("gnet: stop: %w", err)
	}
	if err := <-done; err != nil {
		return fmt.Errorf("gnet: run: %w", err)
	}
	return nil
}
