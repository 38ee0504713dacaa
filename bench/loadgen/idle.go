package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/chatd/chatd/bench/internal/procstat"
)

// touch sends one byte and waits for its echo, so the server has read from
// the connection (and allocated whatever it keeps after a read).
func touch(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return fmt.Errorf("idle: write: %w", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return fmt.Errorf("idle: read: %w", err)
	}
	return c.SetDeadline(time.Time{})
}

func runIdle(ctx context.Context, cfg config) (result, error) {
	var res result
	if cfg.PID == 0 {
		return res, errors.New("idle: -pid is required to measure the server's RSS")
	}
	before, err := procstat.RSS(cfg.PID)
	if err != nil {
		return res, err
	}
	start := time.Now()
	conns, err := dialAll(ctx, cfg.Addr, cfg.Conns, cfg.Dialers, cfg.WS)
	if err != nil {
		return res, err
	}
	defer closeAll(conns)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	work := make(chan net.Conn)
	for w := 0; w < cfg.Dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if err := touch(c); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for _, c := range conns {
		work <- c
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return res, err
	default:
	}
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := procstat.RSS(cfg.PID)
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Messages = int64(len(conns))
	res.RSSBefore, res.RSSAfter = before, after
	res.RSSPerConn = float64(after-before) / float64(len(conns))
	return res, nil
}
