// Command echoprof is a reactor echo server that writes a CPU profile, for
// finding where server time goes under a load generator:
//
//	go run ./reactor/internal/echoprof -port 19900 -cpuprofile /tmp/echo.pprof &
//	(drive it with bench/loadgen, then send SIGTERM)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/chatd/chatd/reactor"
)

type echo struct{}

func (echo) OnOpen(*reactor.Conn)         {}
func (echo) OnClose(*reactor.Conn, error) {}
func (echo) OnData(c *reactor.Conn, data []byte) int {
	c.Write(append([]byte(nil), data...))
	return len(data)
}

func main() {
	port := flag.Int("port", 19900, "listen on 127.0.0.1:port")
	loops := flag.Int("loops", 0, "event loops (0 = GOMAXPROCS)")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *port, *loops, *prof, nil); err != nil {
		fmt.Fprintln(os.Stderr, "echoprof:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; ready, if set, gets the bound address.
func run(ctx context.Context, port, loops int, prof string, ready func(net.Addr)) error {
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return fmt.Errorf("create profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	eng, err := reactor.New(echo{}, reactor.Options{Loops: loops})
	if err != nil {
		return fmt.Errorf("new engine: %w", err)
	}
	addr, err := eng.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return errors.Join(fmt.Errorf("listen: %w", err), eng.Shutdown(context.Background()))
	}
	if ready != nil {
		ready(addr)
	}
	<-ctx.Done()
	return eng.Shutdown(context.Background())
}
