package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/stats"
)

// A broadcast payload starts with the sender index, its sequence number and
// the send time; the rest up to -size is padding.
const (
	payloadMin  = 20
	probeSender = ^uint32(0) // marks the frames that check everyone has joined
)

func encodeFrame(dst []byte, size int, sender uint32, seq uint64, sent time.Time) []byte {
	dst = binary.BigEndian.AppendUint32(dst[:0], uint32(size))
	dst = binary.BigEndian.AppendUint32(dst, sender)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(sent.UnixNano()))
	for len(dst) < frame.HeaderSize+size {
		dst = append(dst, byte(len(dst)))
	}
	return dst
}

// receiver checks what one connection receives.
type receiver struct {
	id        int
	senders   int
	next      []uint64 // next expected sequence number per sender
	probed    atomic.Bool
	delivered *atomic.Int64
	lat       *stats.Sharded
}

// errOrder reports a gap, duplicate or reordering in a sender's frames.
var errOrder = errors.New("broadcast: frame out of order")

// consume checks every complete frame in b and returns how many bytes it used.
func (r *receiver) consume(b []byte, now time.Time) (int, error) {
	off, frames := 0, int64(0)
	defer func() { r.delivered.Add(frames) }()
	for {
		size, ok, err := frame.Next(b[off:])
		if err != nil {
			return off, fmt.Errorf("receiver %d: %w", r.id, err)
		}
		if !ok {
			return off, nil
		}
		p := b[off+frame.HeaderSize : off+size]
		off += size
		if len(p) < payloadMin {
			return off, fmt.Errorf("receiver %d: %d-byte payload", r.id, len(p))
		}
		sender := binary.BigEndian.Uint32(p)
		if sender == probeSender {
			r.probed.Store(true)
			continue
		}
		seq := binary.BigEndian.Uint64(p[4:])
		if int(sender) >= r.senders || seq != r.next[sender] {
			return off, fmt.Errorf("receiver %d: %w: sender %d seq %d", r.id, errOrder, sender, seq)
		}
		r.next[sender]++
		frames++
		r.lat.Record(r.id, now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(p[12:])))))
	}
}

// loop reads c until it fails.
func (r *receiver) loop(c net.Conn) error {
	buf := make([]byte, 32<<10)
	have := 0
	for {
		if have == len(buf) {
			buf = append(buf, make([]byte, len(buf))...) // a frame larger than the buffer
		}
		n, err := c.Read(buf[have:])
		have += n
		used, cerr := r.consume(buf[:have], time.Now())
		have = copy(buf, buf[used:have])
		if cerr != nil {
			return cerr
		}
		if err != nil {
			return err
		}
	}
}

func runBroadcast(ctx context.Context, cfg config) (result, error) {
	res := result{Senders: cfg.Senders, Rate: cfg.Rate}
	conns, err := dialAll(ctx, cfg.Addr, cfg.Conns, cfg.Dialers, cfg.WS)
	if err != nil {
		return res, err
	}
	defer closeAll(conns)
	lat := stats.NewSharded()
	var delivered, failures atomic.Int64
	var firstErr atomic.Value
	var stopping atomic.Bool
	rs := make([]*receiver, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		rs[i] = &receiver{id: i, senders: cfg.Senders, next: make([]uint64, cfg.Senders), delivered: &delivered, lat: lat}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := rs[i].loop(c) // returns only when the connection fails
			if !stopping.Load() {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}()
	}
	defer func() {
		stopping.Store(true)
		closeAll(conns)
		wg.Wait()
	}()

	// Frames reach only the clients the server has registered: probe until
	// every connection has seen one.
	probe := encodeFrame(nil, payloadMin, probeSender, 0, time.Now())
	for joined := false; !joined; {
		if _, err := conns[0].Write(probe); err != nil {
			return res, fmt.Errorf("broadcast: probe: %w", err)
		}
		res.Probes++
		deadline := time.Now().Add(time.Second)
		for !joined && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			joined = true
			for _, r := range rs {
				if !r.probed.Load() {
					joined = false
					break
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if n := failures.Load(); n > 0 {
			return res, fmt.Errorf("broadcast: %d receivers failed while joining: %v", n, firstErr.Load())
		}
	}

	pr, err := startProbe(cfg.PID)
	if err != nil {
		return res, err
	}
	var sent atomic.Int64
	start := time.Now()
	interval := time.Duration(int64(time.Second) * int64(cfg.Senders) / int64(cfg.Rate))
	var swg sync.WaitGroup
	for s := 0; s < cfg.Senders; s++ {
		swg.Add(1)
		go func() {
			defer swg.Done()
			// Frame seq is due at start+seq*interval; a sender that falls
			// behind catches up, so every library gets the same offered load.
			var buf []byte
			end := start.Add(cfg.Duration)
			for seq := uint64(0); ; seq++ {
				due := start.Add(time.Duration(seq) * interval)
				if !due.Before(end) {
					return
				}
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				buf = encodeFrame(buf, cfg.Size, uint32(s), seq, time.Now())
				if _, err := conns[s].Write(buf); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("sender %d: %v", s, err))
					return
				}
				sent.Add(1)
			}
		}()
	}
	swg.Wait()
	res.Sent = sent.Load()
	res.Expected = res.Sent * int64(len(conns))
	drain := time.Now().Add(10 * time.Second)
	for delivered.Load() < res.Expected && time.Now().Before(drain) && failures.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	res.Messages = delivered.Load()
	res.Lost = res.Expected - res.Messages
	res.Seconds = elapsed.Seconds()
	res.MsgsPerSec = float64(res.Messages) / elapsed.Seconds()
	res.Errors = failures.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	h := lat.Merged()
	res.P50us, res.P99us, res.MaxUs = h.Micros(50), h.Micros(99), h.MaxMicros()
	if err := pr.finish(&res); err != nil {
		return res, err
	}
	return res, nil
}
