package reactor

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkEchoRoundTrip measures one 64-byte request/response over loopback.
func BenchmarkEchoRoundTrip(b *testing.B) {
	_, addr := startEngine(b, newRecorder(b), Options{Loops: 2})
	c := dialTCP(b, addr)
	msg := make([]byte, 64)
	got := make([]byte, 64)
	b.SetBytes(64)
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
	r := newRecorder(b)
	opened := make(chan *Conn, 1)
	r.open = func(c *Conn) { opened <- c }
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
	frame := make([]byte, 64)
	b.ReportAllocs()
	for i := range b.N {
		q.push(frame)
		if i%64 == 63 {
			q.consume(q.size())
		}
	}
}

// BenchmarkAccept compares the single acceptor with SO_REUSEPORT listeners:
// each op is a loopback connect that the server accepts, opens and closes.
func BenchmarkAccept(b *testing.B) {
	for _, rp := range []bool{false, true} {
		name := "acceptor"
		if rp {
			name = "reuseport"
		}
		b.Run(name, func(b *testing.B) {
			r := newRecorder(b)
			r.open = func(c *Conn) { c.Close() }
			e, addr := startEngine(b, r, Options{Loops: 2, ReusePort: rp})
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
