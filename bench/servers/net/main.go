package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/internal/peers"
	"github.com/chatd/chatd/bench/internal/srvmain"
)

const (
	readBufSize = 4 << 10
	queueLen    = 1024 // frames batches queued per receiver before it counts as slow
	maxWritev   = 64   // batches joined into one writev
)

func main() { srvmain.Main("net", serve) }

type client struct {
	conn net.Conn
	out  chan []byte
	once sync.Once
	gone chan struct{}
}

func (c *client) close() { c.once.Do(func() { close(c.gone); c.conn.Close() }) }

type server struct {
	mode  string
	peers peers.Set[*client] // broadcast receivers
	wg    sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // echo conns, closed on shutdown
	closed bool                  // set on shutdown so late conns close at once
}

func serve(ctx context.Context, cfg srvmain.Config) error {
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("net: listen %s: %w", cfg.Addr(), err)
	}
	s := &server{mode: cfg.Mode, conns: make(map[net.Conn]struct{})}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.mu.Lock()
				s.closed = true
				for _, p := range s.peers.Snapshot() {
					p.close()
				}
				for c := range s.conns {
					c.Close()
				}
				s.mu.Unlock()
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("net: accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if s.mode == srvmain.ModeEcho {
				s.echo(c)
			} else {
				s.broadcast(c)
			}
		}()
	}
}

func (s *server) echo(c net.Conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	if s.closed {
		c.Close()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, readBufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *server) broadcast(conn net.Conn) {
	c := &client{conn: conn, out: make(chan []byte, queueLen), gone: make(chan struct{})}
	s.peers.Add(c)
	s.mu.Lock()
	if s.closed { // accepted just before shutdown swept the peers
		c.close()
	}
	s.mu.Unlock()
	defer func() {
		s.peers.Remove(c)
		c.close()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.writeLoop()
	}()
	buf := make([]byte, 0, readBufSize)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow for a frame larger than the buffer
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		whole, ferr := frame.Complete(buf)
		if whole > 0 {
			out := append([]byte(nil), buf[:whole]...) // one copy shared by all receivers
			for _, p := range s.peers.Snapshot() {
				select {
				case p.out <- out:
				default:
					p.close() // slow consumer: never block the sender on it
				}
			}
			buf = buf[:copy(buf, buf[whole:])]
		}
		if err != nil || ferr != nil {
			return
		}
	}
}

func (c *client) writeLoop() {
	batch := make([][]byte, 0, maxWritev)
	for {
		select {
		case b := <-c.out:
			bufs := append(batch[:0], b)
		drain:
			for len(bufs) < maxWritev {
				select {
				case b := <-c.out:
					bufs = append(bufs, b)
				default:
					break drain
				}
			}
			w := net.Buffers(bufs) // WriteTo consumes w, not batch
			_, err := w.WriteTo(c.conn)
			clear(bufs) // let sent frames be collected
			if err != nil {
				c.close()
				return
			}
		case <-c.gone:
			return
		}
	}
}
