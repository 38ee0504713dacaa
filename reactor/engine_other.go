//go:build !linux || reactor_netfallback

package reactor

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// This file serves the reactor API on systems without epoll with a goroutine
// pair per connection over package net (build tag reactor_netfallback forces
// it on Linux, so its behaviour is tested there too). Handler callbacks of a
// connection are serialised by a per-connection mutex, which plays the role
// of the loop; AfterFunc functions run on their own goroutine.

// Engine owns the listeners and connections.
type Engine struct {
	h      Handler
	opts   Options
	ids    atomic.Uint64
	queued atomic.Int64
	ctr    fbCounters
	sndBuf atomic.Int32 // unused here; mirrors the Linux test hook

	mu        sync.Mutex
	shut      bool
	listeners []net.Listener
	conns     map[*Conn]struct{}
	wg        sync.WaitGroup
	done      chan struct{}
}

type fbCounters struct {
	conns, accepted, closed, bytesIn, bytesOut, writev, eagain, dropped atomic.Uint64
}

// New creates an engine.
func New(h Handler, opts Options) (*Engine, error) {
	if h == nil {
		return nil, errors.New("reactor: nil handler")
	}
	return &Engine{h: h, opts: opts.withDefaults(), conns: make(map[*Conn]struct{}), done: make(chan struct{})}, nil
}

// Listen starts accepting on network and addr and returns the bound address.
func (e *Engine) Listen(network, addr string) (net.Addr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shut {
		return nil, ErrEngineClosed
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	e.listeners = append(e.listeners, ln)
	e.wg.Add(1)
	go e.acceptLoop(ln)
	return ln.Addr(), nil
}

func (e *Engine) acceptLoop(ln net.Listener) {
	defer e.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if e.isShut() {
				return
			}
			// EMFILE and friends: wait and retry, never give up.
			time.Sleep(backoff)
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		e.ctr.accepted.Add(1)
		if _, err := e.start(nc); err != nil {
			nc.Close()
		}
	}
}

func (e *Engine) isShut() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.shut
}

// start registers nc and runs its goroutines; it returns after OnOpen.
func (e *Engine) start(nc net.Conn) (*Conn, error) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &Conn{e: e, nc: nc, id: e.ids.Add(1), writerOK: make(chan struct{})}
	c.cond.L = &c.mu
	e.mu.Lock()
	if e.shut {
		e.mu.Unlock()
		return nil, ErrEngineClosed
	}
	e.conns[c] = struct{}{}
	e.wg.Add(2)
	e.mu.Unlock()
	e.ctr.conns.Add(1)
	opened := make(chan struct{})
	go c.writer()
	go c.reader(opened)
	<-opened
	return c, nil
}

// Serve blocks until Shutdown has finished, then returns ErrEngineClosed.
func (e *Engine) Serve() error {
	<-e.done
	return ErrEngineClosed
}

// Dial opens a client connection; it returns after OnOpen has run, so it
// must not be called from a Handler callback.
func (e *Engine) Dial(ctx context.Context, network, addr string) (*Conn, error) {
	if e.isShut() {
		return nil, ErrEngineClosed
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c, err := e.start(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Shutdown stops accepting, flushes and closes every connection
// (OnClose(c, ErrEngineClosed)), and waits; on ctx expiry it closes hard.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	first := !e.shut
	e.shut = true
	conns := make([]*Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	if first {
		for _, ln := range e.listeners {
			ln.Close()
		}
		go func() { e.wg.Wait(); close(e.done) }()
	}
	e.mu.Unlock()
	for _, c := range conns {
		c.requestClose(ErrEngineClosed)
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.closeNow(ErrEngineClosed)
		}
		<-e.done
		return ctx.Err()
	}
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	s := Stats{
		Conns: e.ctr.conns.Load(), Accepted: e.ctr.accepted.Load(), Closed: e.ctr.closed.Load(),
		BytesIn: e.ctr.bytesIn.Load(), BytesOut: e.ctr.bytesOut.Load(), Writev: e.ctr.writev.Load(),
		EAGAIN: e.ctr.eagain.Load(), DroppedLossy: e.ctr.dropped.Load(),
	}
	if q := e.queued.Load(); q > 0 {
		s.QueuedBytes = uint64(q)
	}
	return s
}

// AfterFunc runs f after d on its own goroutine (the fallback has no loops).
func (e *Engine) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	t := time.AfterFunc(d, func() {
		if !e.isShut() {
			f()
		}
	})
	return t.Stop
}
