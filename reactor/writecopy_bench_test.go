package reactor

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkWriteCopy queues frames to one draining connection from another
// goroutine, copying each from a reused buffer: WriteCopy (pooled chunks)
// against the caller-side alternative, a fresh clone per frame plus Write.
func BenchmarkWriteCopy(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, mode := range []string{"WriteCopy", "CloneWrite"} {
			b.Run(fmt.Sprintf("%s/%d", mode, size), func(b *testing.B) {
				r, opened := openedRecorder(b, 1)
				e, addr := startEngine(b, r, Options{Loops: 1, MaxOutbound: 1 << 30})
				client := dialTCP(b, addr)
				go io.Copy(io.Discard, client)
				sc := <-opened
				frame := make([]byte, size)
				before := e.Stats()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					var err error
					if mode == "WriteCopy" {
						err = sc.WriteCopy(frame)
					} else {
						err = sc.Write(bytes.Clone(frame))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				want := before.BytesOut + uint64(b.N*size)
				for e.Stats().BytesOut < want {
					time.Sleep(50 * time.Microsecond)
				}
				b.StopTimer()
				if n := e.Stats().Writev - before.Writev; n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "frames/writev")
				}
			})
		}
	}
}

// BenchmarkEchoWriteCopy is one echo round trip through a handler that
// answers from OnData's slice: WriteCopy against clone plus Write.
func BenchmarkEchoWriteCopy(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, mode := range []string{"WriteCopy", "CloneWrite"} {
			b.Run(fmt.Sprintf("%s/%d", mode, size), func(b *testing.B) {
				r := newRecorder(b)
				r.data = func(c *Conn, data []byte) int {
					if mode == "WriteCopy" {
						c.WriteCopy(data)
					} else {
						c.Write(bytes.Clone(data))
					}
					return len(data)
				}
				benchRoundTrip(b, r, size)
			})
		}
	}
}
