package websocket

import (
	"io"
	"testing"
)

// BenchmarkFeed decodes 64-byte binary messages from a stream of 64 frames.
func BenchmarkFeed(b *testing.B) {
	var stream []byte
	for range 64 {
		stream = append(stream, clientFrame(OpBinary, true, make([]byte, 64))...)
	}
	in := make([]byte, len(stream))
	s := NewSession(nil)
	var r countReceiver
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for range b.N {
		copy(in, stream) // Feed unmasks in place
		if n, err := s.Feed(in, &r); n != len(in) || err != nil {
			b.Fatal(n, err)
		}
	}
}

type countReceiver struct{ n int }

func (r *countReceiver) OnMessage(_ bool, p []byte) { r.n += len(p) }
func (r *countReceiver) Send([]byte)                {}

// BenchmarkLayerEchoRoundTrip measures one 64-byte binary message echoed
// through the WebSocket layer on a reactor engine over loopback (compare
// reactor's BenchmarkEchoRoundTrip for the same round trip without it).
func BenchmarkLayerEchoRoundTrip(b *testing.B) {
	addr := startServer(b, wsOnOpen{&echo{}, &Config{}})
	c := dialWS(b, addr)
	msg := clientFrame(OpBinary, true, make([]byte, 64))
	got := make([]byte, 66)
	b.SetBytes(64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.r, got); err != nil {
			b.Fatal(err)
		}
	}
}
