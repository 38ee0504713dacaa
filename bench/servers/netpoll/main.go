package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cloudwego/netpoll"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
)

func main() { srvmain.Main("netpoll", serve) }

// receiver is a broadcast client; mu serialises writers from many senders.
type receiver struct {
	mu   sync.Mutex
	conn netpoll.Connection
}

func (r *receiver) send(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.conn.Writer()
	if _, err := w.WriteBinary(b); err != nil {
		return
	}
	_ = w.Flush()
}

type server struct {
	peers peers.Set[*receiver]
}

func echo(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	buf, err := r.Next(r.Len())
	if err != nil {
		return fmt.Errorf("netpoll echo: read: %w", err)
	}
	if _, err := w.WriteBinary(buf); err != nil {
		return fmt.Errorf("netpoll echo: write: %w", err)
	}
	err = w.Flush() // synchronous: buf is sent before Release frees it
	_ = r.Release()
	if err != nil {
		return fmt.Errorf("netpoll echo: flush: %w", err)
	}
	return nil
}

func (s *server) onConnect(ctx context.Context, c netpoll.Connection) context.Context {
	rc := &receiver{conn: c}
	s.peers.Add(rc)
	_ = c.AddCloseCallback(func(netpoll.Connection) error {
		s.peers.Remove(rc)
		return nil
	})
	return ctx
}

func (s *server) broadcast(_ context.Context, c netpoll.Connection) error {
	r := c.Reader()
	hdr, err := r.Peek(frame.HeaderSize) // blocks until a header is buffered
	if err != nil {
		return fmt.Errorf("netpoll broadcast: header: %w", err)
	}
	size, _, err := frame.Next(hdr)
	if err != nil {
		return errors.Join(err, c.Close())
	}
	if _, err := r.Peek(size); err != nil { // blocks until the first frame is whole
		return fmt.Errorf("netpoll broadcast: frame: %w", err)
	}
	all, err := r.Peek(r.Len())
	if err != nil {
		return fmt.Errorf("netpoll broadcast: peek: %w", err)
	}
	whole, ferr := frame.Complete(all)
	out, err := r.ReadBinary(whole) // one copy shared by all receivers
	_ = r.Release()
	if err != nil {
		return fmt.Errorf("netpoll broadcast: read: %w", err)
	}
	for _, p := range s.peers.Snapshot() {
		p.send(out)
	}
	if ferr != nil {
		return errors.Join(ferr, c.Close())
	}
	return nil
}

func serve(ctx context.Context, cfg srvmain.Config) error {
	if err := netpoll.Configure(netpoll.Config{PollerNum: cfg.Loops}); err != nil {
		return fmt.Errorf("netpoll: configure: %w", err)
	}
	ln, err := netpoll.CreateListener("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("netpoll: listen %s: %w", cfg.Addr(), err)
	}
	var el netpoll.EventLoop
	if cfg.Mode == srvmain.ModeEcho {
		el, err = netpoll.NewEventLoop(echo)
	} else {
		s := &server{}
		el, err = netpoll.NewEventLoop(s.broadcast, netpoll.WithOnConnect(s.onConnect))
	}
	if err != nil {
		return fmt.Errorf("netpoll: event loop: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- el.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("netpoll: serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := el.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("netpoll: shutdown: %w", err)
	}
	<-done // Serve reports the listener closing; that is the expected end
	return nil
}
