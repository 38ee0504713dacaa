// Command tls-reactor is the bench's echo server on the reactor with TLS
// (reactor/tlslayer pushed on every connection); -mode broadcast is not
// offered.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/tlscert"
	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/tlslayer"
)

func main() { srvmain.Main("tls-reactor", serve) }

type echoHandler struct{ tls *tlslayer.Config }

func (h echoHandler) OnOpen(c *reactor.Conn)     { _ = c.PushLayer(h.tls.Layer()) }
func (echoHandler) OnClose(*reactor.Conn, error) {}
func (echoHandler) OnData(c *reactor.Conn, data []byte) int {
	_ = c.WriteCopy(data)
	return len(data)
}

func serve(ctx context.Context, cfg srvmain.Config) error {
	if cfg.Mode != srvmain.ModeEcho {
		return errors.New("tls-reactor: only -mode echo")
	}
	tcfg, err := tlscert.Config()
	if err != nil {
		return err
	}
	h := echoHandler{tls: tlslayer.NewServer(tcfg, tlslayer.Options{})}
	eng, err := reactor.New(h, reactor.Options{Loops: cfg.Loops})
	if err != nil {
		return fmt.Errorf("tls-reactor: new engine: %w", err)
	}
	if _, err := eng.Listen("tcp", cfg.Addr()); err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(fmt.Errorf("tls-reactor: listen %s: %w", cfg.Addr(), err), eng.Shutdown(stopCtx))
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("tls-reactor: shutdown: %w", err)
	}
	return nil
}
