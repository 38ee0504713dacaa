package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
)

func main() { srvmain.Main("ws-nbio", serve) }

func serve(ctx context.Context, cfg srvmain.Config) error {
	var set peers.Set[*websocket.Conn]
	up := websocket.NewUpgrader()
	if cfg.Mode == srvmain.ModeEcho {
		up.OnMessage(func(c *websocket.Conn, _ websocket.MessageType, p []byte) {
			_ = c.WriteMessage(websocket.BinaryMessage, p)
		})
	} else {
		up.OnOpen(func(c *websocket.Conn) { set.Add(c) })
		up.OnClose(func(c *websocket.Conn, _ error) { set.Remove(c) })
		up.OnMessage(func(_ *websocket.Conn, _ websocket.MessageType, p []byte) {
			for _, c := range set.Snapshot() {
				_ = c.WriteMessage(websocket.BinaryMessage, p)
			}
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc(wsclient.Path, func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.Upgrade(w, r, nil) // on failure the upgrader has answered
	})
	eng := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{cfg.Addr()},
		NPoller: cfg.Loops,
		Handler: mux,
	})
	if err := eng.Start(); err != nil {
		return fmt.Errorf("ws-nbio: start: %w", err)
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("ws-nbio: shutdown: %w", err)
	}
	return nil
}
