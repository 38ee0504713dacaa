package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/bench/stats"
)

// pattern returns the content of one echo message; the stream is this
// pattern repeated, so any byte's expected value depends only on its offset.
func pattern(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(i*31 + 7)
	}
	return p
}

// matches reports whether chunk is what the repeated pattern holds at
// stream offset off.
func matches(pat []byte, off int64, chunk []byte) bool {
	i := int(off % int64(len(pat)))
	for len(chunk) > 0 {
		m := min(len(chunk), len(pat)-i)
		if !bytes.Equal(chunk[:m], pat[i:i+m]) {
			return false
		}
		chunk = chunk[m:]
		i = 0
	}
	return true
}

// echoState is one connection's closed loop.
type echoState struct {
	conn  net.Conn
	id    int
	size  int
	depth int
	limit int64 // messages to send in all; 0: until stop
	pat   []byte
	out   []byte      // depth messages back to back, written in slices
	sent  []time.Time // send time of message m at sent[m%depth]
	done  int64       // messages completed
	recv  int64       // bytes received
}

// run keeps depth messages in flight until stop is set or limit messages
// have been sent, then waits for the ones still in flight.
func (e *echoState) run(stop *atomic.Bool, lat *stats.Sharded) error {
	now := time.Now()
	for m := 0; m < e.depth; m++ {
		e.sent[m] = now
	}
	inflight := e.depth
	if e.limit > 0 {
		inflight = int(min(int64(e.depth), e.limit))
	}
	if _, err := e.conn.Write(e.out[:inflight*e.size]); err != nil {
		return fmt.Errorf("conn %d: write: %w", e.id, err)
	}
	issued := int64(inflight)
	buf := make([]byte, max(16<<10, e.size*e.depth))
	for inflight > 0 {
		n, err := e.conn.Read(buf)
		if n > 0 {
			if !matches(e.pat, e.recv, buf[:n]) {
				return fmt.Errorf("conn %d: echoed bytes differ near offset %d", e.id, e.recv)
			}
			e.recv += int64(n)
			completed := int(e.recv/int64(e.size) - e.done)
			if completed > 0 {
				now := time.Now()
				for k := 0; k < completed; k++ {
					lat.Record(e.id, now.Sub(e.sent[e.done%int64(e.depth)]))
					e.done++
				}
				inflight -= completed
				more := completed
				if e.limit > 0 {
					more = int(min(int64(more), e.limit-issued))
				}
				if more > 0 && !stop.Load() {
					first := e.done + int64(inflight)
					for k := 0; k < more; k++ {
						e.sent[(first+int64(k))%int64(e.depth)] = now
					}
					if _, err := e.conn.Write(e.out[:more*e.size]); err != nil {
						return fmt.Errorf("conn %d: write: %w", e.id, err)
					}
					inflight += more
					issued += int64(more)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("conn %d: read after %d messages: %w", e.id, e.done, err)
		}
	}
	return nil
}

func runEcho(ctx context.Context, cfg config) (result, error) {
	var res result
	res.Depth = cfg.Depth
	conns, err := dialAll(ctx, cfg.Addr, cfg.Conns, cfg.Dialers, cfg.WS)
	if err != nil {
		return res, err
	}
	defer closeAll(conns)
	// Let the server finish accepting before its CPU clock is read, so the
	// window holds echo work only.
	time.Sleep(300 * time.Millisecond)
	pat := pattern(cfg.Size)
	out := make([]byte, 0, cfg.Size*cfg.Depth)
	for i := 0; i < cfg.Depth; i++ {
		out = append(out, pat...)
	}
	lat := stats.NewSharded()
	var stop atomic.Bool
	var messages, failures atomic.Int64
	var firstErr atomic.Value
	pr, err := startProbe(cfg.PID)
	if err != nil {
		return res, err
	}
	start := time.Now()
	deadline := start.Add(cfg.Duration + 10*time.Second) // bounds the drain
	if cfg.Count > 0 {
		deadline = start.Add(cfg.Duration) // a fixed count has no drain: -duration is its limit
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		_ = c.SetDeadline(deadline)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &echoState{conn: c, id: i, size: cfg.Size, depth: cfg.Depth, limit: int64(cfg.Count), pat: pat, out: out, sent: make([]time.Time, cfg.Depth)}
			if err := e.run(&stop, lat); err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			messages.Add(e.done)
		}()
	}
	if cfg.Count > 0 {
		// Every connection stops by itself after Count messages; a signal
		// still stops sending early.
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
		}
	} else {
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
		}
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.Messages = messages.Load()
	res.Errors = failures.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	res.MsgsPerSec = float64(res.Messages) / elapsed.Seconds()
	h := lat.Merged()
	res.P50us, res.P99us, res.MaxUs = h.Micros(50), h.Micros(99), h.MaxMicros()
	if err := pr.finish(&res); err != nil {
		return res, err
	}
	if res.Messages == 0 {
		return res, errors.New("echo: no message completed: " + res.FirstError)
	}
	if want := int64(cfg.Count) * int64(cfg.Conns); cfg.Count > 0 && res.Messages != want {
		return res, fmt.Errorf("echo: %d of %d messages completed: %s", res.Messages, want, res.FirstError)
	}
	return res, nil
}
