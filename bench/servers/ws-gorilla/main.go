package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
	"github.com/chatd/chatd/bench/internal/wsclient"
)

const queueLen = 1024 // messages queued per receiver before it counts as slow

func main() { srvmain.Main("ws-gorilla", serve) }

type client struct {
	conn *websocket.Conn
	out  chan *websocket.PreparedMessage
	once sync.Once
	gone chan struct{}
}

func (c *client) close() { c.once.Do(func() { close(c.gone); c.conn.Close() }) }

func (c *client) writeLoop() {
	for {
		select {
		case m := <-c.out:
			if err := c.conn.WritePreparedMessage(m); err != nil {
				c.close()
				return
			}
		case <-c.gone:
			return
		}
	}
}

type server struct {
	mode     string
	upgrader websocket.Upgrader
	peers    peers.Set[*client]
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	if s.mode == srvmain.ModeEcho {
		defer conn.Close()
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
				return
			}
		}
	}
	c := &client{conn: conn, out: make(chan *websocket.PreparedMessage, queueLen), gone: make(chan struct{})}
	s.peers.Add(c)
	defer func() {
		s.peers.Remove(c)
		c.close()
	}()
	go c.writeLoop()
	for {
		_, p, err := conn.ReadMessage()
		if err != nil {
			return
		}
		m, err := websocket.NewPreparedMessage(websocket.BinaryMessage, p)
		if err != nil {
			return
		}
		for _, p := range s.peers.Snapshot() {
			select {
			case p.out <- m:
			default:
				p.close() // slow consumer: never block the sender on it
			}
		}
	}
}

func serve(ctx context.Context, cfg srvmain.Config) error {
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("ws-gorilla: listen %s: %w", cfg.Addr(), err)
	}
	s := &server{mode: cfg.Mode, upgrader: websocket.Upgrader{ReadBufferSize: 4 << 10, WriteBufferSize: 4 << 10}}
	mux := http.NewServeMux()
	mux.Handle(wsclient.Path, s)
	hs := &http.Server{Handler: mux}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("ws-gorilla: serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(stopCtx) // hijacked conns are not tracked by net/http
	for _, p := range s.peers.Snapshot() {
		p.close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ws-gorilla: serve: %w", err)
	}
	return err
}
