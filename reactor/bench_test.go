package reactor

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// BenchmarkEchoRoundTrip measures one 64-byte request/response over loopback.
func BenchmarkEchoRoundTrip(b *testing.B) {
	benchRoundTrip(b, newRecorder(b), 64)
}

// benchRoundTrip measures size-byte request/response round trips over
// loopback to an engine running h, which must answer each request with
// size bytes.
func benchRoundTrip(b *testing.B, h Handler, size int) {
	_, addr := startEngine(b, h, Options{Loops: 2})
	c := dialTCP(b, addr)
	msg := make([]byte, size)
	got := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWritevFlush measures queuing many small frames to one connection
// and flushing them with batched writev while a reader drains the socket.
func BenchmarkWritevFlush(b *testing.B) {
	r, opened := openedRecorder(b, 1)
	e, addr := startEngine(b, r, Options{Loops: 1, MaxOutbound: 1 << 30})
	client := dialTCP(b, addr)
	go io.Copy(io.Discard, client)
	sc := <-opened
	frame := make([]byte, 64)
	before := e.Stats()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := sc.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	want := before.BytesOut + uint64(b.N*len(frame))
	for e.Stats().BytesOut < want {
		time.Sleep(50 * time.Microsecond)
	}
	b.StopTimer()
	after := e.Stats()
	if n := after.Writev - before.Writev; n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "frames/writev")
	}
}

// BenchmarkOutQueue measures push and consume of the outbound queue alone.
func BenchmarkOutQueue(b *testing.B) {
	var q outQueue
	var done [][]byte
	frame := make([]byte, 64)
	b.ReportAllocs()
	for i := range b.N {
		q.push(frame)
		if i%64 == 63 {
			q.consume(q.size(), &done)
		}
	}
}

// BenchmarkAccept compares the single acceptor with SO_REUSEPORT listeners (the default):
// each op is a loopback connect that the server accepts, opens and closes.
func BenchmarkAccept(b *testing.B) {
	for _, single := range []bool{true, false} {
		name := "reuseport"
		if single {
			name = "acceptor"
		}
		b.Run(name, func(b *testing.B) {
			r := newRecorder(b)
			r.open = func(c *Conn) { c.Close() }
			e, addr := startEngine(b, r, Options{Loops: 2, SingleAcceptor: single})
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 1)
				for pb.Next() {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Error(err)
						return
					}
					c.Read(buf) // EOF once the server has accepted and closed
					c.Close()
				}
			})
			b.StopTimer()
			if s := e.Stats(); s.Accepted < uint64(b.N) {
				b.Fatalf("accepted %d of %d", s.Accepted, b.N)
			}
		})
	}
}

// BenchmarkBroadcast fans each 64-byte frame out to 100 connections from the
// loop (one trigger byte from a client = one broadcast), the chat pattern
// that writev batching is for. It reports deliveries per writev.
func BenchmarkBroadcast(b *testing.B) {
	const fanout = 100
	var mu sync.Mutex
	var conns []*Conn
	frame := make([]byte, 64)
	r := newRecorder(b)
	r.open = func(c *Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	r.data = func(c *Conn, data []byte) int {
		mu.Lock()
		cs := conns
		mu.Unlock()
		for range data {
			for _, x := range cs {
				x.Write(frame)
			}
		}
		return len(data)
	}
	e, addr := startEngine(b, r, Options{Loops: 2, MaxOutbound: 1 << 30})
	clients := make([]net.Conn, fanout)
	for i := range clients {
		clients[i] = dialTCP(b, addr)
		go io.Copy(io.Discard, clients[i])
	}
	for {
		mu.Lock()
		n := len(conns)
		mu.Unlock()
		if n == fanout {
			break
		}
		time.Sleep(time.Millisecond)
	}
	before := e.Stats()
	trigger := make([]byte, 100)
	b.ResetTimer()
	start := time.Now()
	// Windows of 100 broadcasts (10,000 deliveries) keep each pass realistic.
	for sent := 0; sent < b.N; {
		n := min(len(trigger), b.N-sent)
		if _, err := clients[0].Write(trigger[:n]); err != nil {
			b.Fatal(err)
		}
		sent += n
		want := before.BytesOut + uint64(sent*fanout*len(frame))
		for e.Stats().BytesOut < want {
			time.Sleep(20 * time.Microsecond)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := e.Stats()
	deliveries := float64(b.N * fanout)
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(deliveries/float64(after.Writev-before.Writev), "deliveries/writev")
}

// BenchmarkReplyRoundTrip is BenchmarkEchoRoundTrip with a handler that
// answers with a prebuilt 64-byte reply instead of copying the request, so
// allocs/op shows the reactor's own allocations per message (want 0).
func BenchmarkReplyRoundTrip(b *testing.B) {
	reply := make([]byte, 64)
	r := newRecorder(b)
	r.data = func(c *Conn, data []byte) int {
		whole := len(data) / 64
		for range whole {
			c.Write(reply)
		}
		return whole * 64
	}
	benchRoundTrip(b, r, 64)
}
