package client

import (
	"context"
	"testing"

	"github.com/chatd/chatd/protocol"
)

// BenchmarkPingPipelined measures a full request/reply round trip through
// the client (encode, write, reader, req_id match, decode) with many
// callers pipelining on one connection, against the in-process fake.
func BenchmarkPingPipelined(b *testing.B) {
	s, err := startFakeServer()
	if err != nil {
		b.Fatal(err)
	}
	defer s.stop()
	benchPings(b, s.addr())
}

// benchPings dials addr and measures pings from 16 callers per CPU
// pipelining on that one connection.
func benchPings(b *testing.B, addr string) {
	c, err := Dial(context.Background(), addr, Options{PingInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := c.Ping(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHandleMsgPush measures decoding one msg push and passing it
// through the duplicate filter to the callback.
func BenchmarkHandleMsgPush(b *testing.B) {
	delivered := 0
	c := &Client{opts: Options{OnPush: func(Push) { delivered++ }}}
	const n = 1024
	bodies := make([][]byte, n)
	for i := range bodies {
		body, err := protocol.Marshal(&protocol.MsgPush{Message: protocol.Message{MsgID: int64(i + 1),
			Conv: "p:1:2", Seq: int64(i + 1), From: 1, Ts: 1700000000000, Type: "text",
			Body: "hello there", ClientMsgID: "abc"}})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = body
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%n == 0 {
			c.seen.convs = nil // start the seqs again
		}
		c.handlePush(protocol.OpMsgPush, bodies[i%n])
	}
	if delivered != b.N {
		b.Fatalf("delivered %d of %d", delivered, b.N)
	}
}

// BenchmarkSeqTrackerMark measures the exactly-once filter on in-order
// seqs (the common case).
func BenchmarkSeqTrackerMark(b *testing.B) {
	var t seqTracker
	b.ReportAllocs()
	for i := range b.N {
		t.mark("g:1", int64(i+1))
	}
}
