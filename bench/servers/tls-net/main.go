// Command tls-net is the bench's echo server on crypto/tls over package
// net: a goroutine per connection with a 4 KiB read buffer, the peer that
// most Go TLS servers are. Only -mode echo.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/tlscert"
)

func main() { srvmain.Main("tls-net", serve) }

func serve(ctx context.Context, cfg srvmain.Config) error {
	if cfg.Mode != srvmain.ModeEcho {
		return errors.New("tls-net: only -mode echo")
	}
	tcfg, err := tlscert.Config()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("tls-net: listen %s: %w", cfg.Addr(), err)
	}
	ln = tls.NewListener(ln, tcfg)
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tls-net: accept: %w", err)
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		go func() {
			defer func() {
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
			buf := make([]byte, 4<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}
