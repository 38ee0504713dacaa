package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatd/chatd/bench/internal/frame"
	"github.com/chatd/chatd/bench/stats"
)

func TestMatches(t *testing.T) {
	pat := pattern(10)
	stream := append(append(append([]byte(nil), pat...), pat...), pat...)
	for off := 0; off < len(stream); off++ {
		for end := off; end <= len(stream); end++ {
			if !matches(pat, int64(off), stream[off:end]) {
				t.Fatalf("stream[%d:%d] reported as wrong", off, end)
			}
		}
	}
	bad := append([]byte(nil), stream[3:17]...)
	bad[9] ^= 1
	if matches(pat, 3, bad) {
		t.Fatal("a flipped byte went unnoticed")
	}
}

func newReceiver(senders int) (*receiver, *atomic.Int64) {
	var d atomic.Int64
	return &receiver{senders: senders, next: make([]uint64, senders), delivered: &d, lat: stats.NewSharded()}, &d
}

func TestReceiverChecksOrder(t *testing.T) {
	r, delivered := newReceiver(2)
	now := time.Now()
	var b []byte
	b = append(b, encodeFrame(nil, payloadMin, probeSender, 0, now)...)
	b = append(b, encodeFrame(nil, 40, 0, 0, now)...)
	b = append(b, encodeFrame(nil, payloadMin, 1, 0, now)...)
	b = append(b, encodeFrame(nil, 64, 0, 1, now)...)
	full := len(b)
	b = append(b, encodeFrame(nil, payloadMin, 1, 1, now)[:10]...) // partial
	used, err := r.consume(b, now.Add(time.Millisecond))
	if err != nil || used != full {
		t.Fatalf("consume = %d, %v; want %d, nil", used, err, full)
	}
	if !r.probed.Load() || delivered.Load() != 3 {
		t.Fatalf("probed %v delivered %d; want true 3", r.probed.Load(), delivered.Load())
	}
	if n := r.lat.Merged().Count(); n != 3 {
		t.Fatalf("latencies recorded %d, want 3", n)
	}
	// Sender 1 skipping seq 1 is a gap.
	gap := encodeFrame(nil, payloadMin, 1, 2, now)
	if _, err := r.consume(gap, now); !errors.Is(err, errOrder) {
		t.Fatalf("gap: err = %v, want errOrder", err)
	}
	if _, err := r.consume(encodeFrame(nil, payloadMin, 7, 0, now), now); !errors.Is(err, errOrder) {
		t.Fatalf("unknown sender: err = %v, want errOrder", err)
	}
	short := frame.Append(nil, []byte("tiny"))
	if _, err := r.consume(short, now); err == nil {
		t.Fatal("short payload accepted")
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parse([]string{"-mode", "broadcast", "-conns", "50", "-senders", "5", "-rate", "50", "-size", "32"})
	if err != nil || c.Conns != 50 || c.Senders != 5 {
		t.Fatalf("parse: %+v %v", c, err)
	}
	for _, bad := range [][]string{
		{"-mode", "nope"},
		{"-conns", "0"},
		{"-mode", "broadcast", "-size", "8"},
		{"-mode", "broadcast", "-conns", "3", "-senders", "4"},
		{"-count", "-1"},
		{"-mode", "broadcast", "-count", "5"},
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%v) accepted", bad)
		}
	}
}

// serveTest runs a tiny goroutine-per-connection server for the loadgen
// tests: echo, or broadcast of whole frames to every connection.
func serveTest(t *testing.T, broadcast bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !broadcast {
					_, _ = io.Copy(c, c)
					return
				}
				var buf []byte
				tmp := make([]byte, 4096)
				for {
					n, err := c.Read(tmp)
					buf = append(buf, tmp[:n]...)
					whole, _ := frame.Complete(buf)
					if whole > 0 {
						out := append([]byte(nil), buf[:whole]...)
						buf = buf[whole:]
						mu.Lock()
						for _, p := range conns {
							_, _ = p.Write(out)
						}
						mu.Unlock()
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRunEcho(t *testing.T) {
	addr := serveTest(t, false)
	res, err := runEcho(context.Background(), config{Addr: addr, Conns: 4, Size: 100, Depth: 3, Duration: 300 * time.Millisecond, Dialers: 2, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages < 10 || res.Errors != 0 || res.P50us <= 0 || res.P99us < res.P50us || res.MsgsPerSec <= 0 {
		t.Fatalf("implausible echo result %+v", res)
	}
}

func TestRunEchoCount(t *testing.T) {
	addr := serveTest(t, false)
	// 10 is not a multiple of the depth, so the last send must be cut short.
	cfg := config{Addr: addr, Conns: 4, Size: 100, Depth: 3, Count: 10, Duration: time.Minute, Dialers: 2}
	res, err := runEcho(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 40 || res.Errors != 0 {
		t.Fatalf("echo -count 10 on 4 conns: %+v; want exactly 40 messages", res)
	}
	cfg.Count, cfg.Depth = 1, 4 // a count below the depth
	if res, err = runEcho(context.Background(), cfg); err != nil || res.Messages != 4 {
		t.Fatalf("echo -count 1 -depth 4 on 4 conns: %+v, %v; want exactly 4 messages", res, err)
	}
}

func TestRunBroadcast(t *testing.T) {
	addr := serveTest(t, true)
	res, err := runBroadcast(context.Background(), config{Addr: addr, Conns: 5, Senders: 2, Rate: 200, Size: 48, Duration: 300 * time.Millisecond, Dialers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 50 || res.Expected != res.Sent*5 || res.Messages != res.Expected || res.Lost != 0 || res.Errors != 0 {
		t.Fatalf("broadcast result %+v: want about 60 frames sent, all delivered to 5 conns", res)
	}
}

func TestRunIdle(t *testing.T) {
	addr := serveTest(t, false)
	res, err := runIdle(context.Background(), config{Addr: addr, Conns: 20, Dialers: 4, PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages != 20 || res.RSSBefore <= 0 || res.RSSAfter <= 0 {
		t.Fatalf("idle result %+v", res)
	}
	if _, err := runIdle(context.Background(), config{Addr: addr, Conns: 1, Dialers: 1}); err == nil {
		t.Fatal("idle without -pid accepted")
	}
}

func TestEncodeFrameLayout(t *testing.T) {
	at := time.Unix(5, 6)
	b := encodeFrame(nil, 30, 3, 9, at)
	if len(b) != frame.HeaderSize+30 || binary.BigEndian.Uint32(b) != 30 {
		t.Fatalf("frame %x", b)
	}
	p := b[frame.HeaderSize:]
	if binary.BigEndian.Uint32(p) != 3 || binary.BigEndian.Uint64(p[4:]) != 9 || int64(binary.BigEndian.Uint64(p[12:])) != at.UnixNano() {
		t.Fatalf("payload %x", p)
	}
}

func FuzzReceiverConsume(f *testing.F) {
	now := time.Now()
	f.Add(encodeFrame(nil, payloadMin, 0, 0, now))
	f.Add(append(encodeFrame(nil, 25, probeSender, 0, now), 0, 0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, delivered := newReceiver(3)
		used, err := r.consume(b, now)
		if used < 0 || used > len(b) {
			t.Fatalf("used %d of %d", used, len(b))
		}
		if err == nil {
			if _, ok, _ := frame.Next(b[used:]); ok {
				t.Fatalf("a whole frame was left at %d", used)
			}
		}
		if delivered.Load() > int64(len(b)/(frame.HeaderSize+payloadMin)) {
			t.Fatalf("delivered %d frames from %d bytes", delivered.Load(), len(b))
		}
	})
}

func BenchmarkReceiverConsume(b *testing.B) {
	now := time.Now()
	var stream []byte
	for seq := uint64(0); seq < 64; seq++ {
		stream = append(stream, encodeFrame(nil, 64, 0, seq, now)...)
	}
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		r, _ := newReceiver(1)
		if used, err := r.consume(stream, now); err != nil || used != len(stream) {
			b.Fatal(used, err)
		}
	}
}
