//go:build linux && !reactor_netfallback

package reactor

import (
	"io"
	"testing"
	"time"
)

// BenchmarkFanout delivers one 64-byte frame to 1,000 connections on two
// loops, with WriteBatch and with a loop of Conn.Write. ns/delivery is the
// wall time until every byte has left the server divided by deliveries;
// call-ns/delivery is the time spent inside the sending calls only.
func BenchmarkFanout(b *testing.B) {
	const fanout = 1000
	r, opened := openedRecorder(b, fanout)
	e, addr := startEngine(b, r, Options{Loops: 2, MaxOutbound: 1 << 30})
	conns := make([]*Conn, fanout)
	for i := range conns {
		go io.Copy(io.Discard, dialTCP(b, addr))
		conns[i] = <-opened
	}
	frame := make([]byte, 64)
	run := func(b *testing.B, send func()) {
		before := e.Stats()
		var inCall time.Duration
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			t0 := time.Now()
			send()
			inCall += time.Since(t0)
			// Let the loops catch up every 10 frames so queues stay bounded.
			if i%10 == 9 || i == b.N-1 {
				want := before.BytesOut + uint64((i+1)*fanout*len(frame))
				for e.Stats().BytesOut < want {
					time.Sleep(20 * time.Microsecond)
				}
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		d := float64(b.N * fanout)
		b.ReportMetric(float64(elapsed.Nanoseconds())/d, "ns/delivery")
		b.ReportMetric(float64(inCall.Nanoseconds())/d, "call-ns/delivery")
		b.ReportMetric(float64(e.Stats().Wakeups-before.Wakeups)/float64(b.N), "wakeups/frame")
	}
	b.Run("WriteBatch", func(b *testing.B) {
		run(b, func() {
			if n := WriteBatch(frame, conns); n != fanout {
				b.Fatalf("queued on %d of %d", n, fanout)
			}
		})
	})
	b.Run("WriteLoop", func(b *testing.B) {
		run(b, func() {
			for _, c := range conns {
				if err := c.Write(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
