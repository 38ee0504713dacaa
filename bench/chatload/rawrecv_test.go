package chatload

import (
	"bufio"
	"bytes"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatd/chatd/bench/stats"
	"github.com/chatd/chatd/protocol"
)

func encodePush(t testing.TB, m protocol.Message) []byte {
	b, err := protocol.Marshal(&protocol.MsgPush{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScanMsgPush(t *testing.T) {
	m := protocol.Message{MsgID: 9, Conv: "g:12", Seq: 345, From: 6, Ts: 1, Type: "text", Body: "cb 1 2 xxx", ClientMsgID: "cbx-1"}
	got, ok := scanMsgPush(encodePush(t, m))
	if !ok || got.Conv != m.Conv || got.Seq != m.Seq || got.From != m.From || got.Body != m.Body {
		t.Fatalf("scan = %+v, %v", got, ok)
	}
	// A body holding a key or an escape must fall back to a real decode.
	for _, body := range []string{`say "seq":1`, "quote \" here", `back\slash`} {
		m.Body = body
		if got, ok := scanMsgPush(encodePush(t, m)); ok && got.Body != body {
			t.Errorf("body %q scanned as %q", body, got.Body)
		}
	}
}

// FuzzScanMsgPush checks the fast scanner against the real decoder: when
// it answers, it must agree.
func FuzzScanMsgPush(f *testing.F) {
	f.Add("g:1", int64(1), int64(2), "cb 1 2")
	f.Add("p:1:2", int64(99), int64(1), `"seq":5,"from":3`)
	f.Add(`x"y`, int64(-1), int64(0), `\u0041`)
	f.Fuzz(func(t *testing.T, conv string, seq, from int64, body string) {
		raw := encodePush(t, protocol.Message{MsgID: 1, Conv: conv, Seq: seq, From: from, Type: "text", Body: body, ClientMsgID: "c"})
		got, ok := scanMsgPush(raw)
		if !ok {
			return
		}
		var want protocol.MsgPush
		if err := protocol.Unmarshal(raw, &want); err != nil {
			t.Fatalf("scanner accepted what the decoder refuses: %v", err)
		}
		w := want.Message
		if got.Conv != w.Conv || got.Seq != w.Seq || got.From != w.From || got.Body != w.Body {
			t.Fatalf("scan %+v, decode %+v", got, w)
		}
	})
}

func BenchmarkScanMsgPush(b *testing.B) {
	raw := encodePush(b, protocol.Message{MsgID: 123456, Conv: "g:42", Seq: 98765, From: 17, Ts: 1763770000000, Type: "text",
		Body: makeBody(1234, time.Now(), 64), ClientMsgID: "cb0123abcd-1234"})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := scanMsgPush(raw); !ok {
			b.Fatal("not scanned")
		}
	}
}

func BenchmarkDecodeMsgPush(b *testing.B) {
	raw := encodePush(b, protocol.Message{MsgID: 123456, Conv: "g:42", Seq: 98765, From: 17, Ts: 1763770000000, Type: "text",
		Body: makeBody(1234, time.Now(), 64), ClientMsgID: "cb0123abcd-1234"})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var p protocol.MsgPush
		if err := protocol.Unmarshal(raw, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReceiveReusesBody checks that the raw receive loop reads every frame
// into one buffer: no allocation per frame.
func TestReceiveReusesBody(t *testing.T) {
	const frames = 100
	one := protocol.AppendFrame(nil, protocol.OpMsgPush, 0, encodePush(t, protocol.Message{Conv: "g:1", Seq: 1, From: 2, Body: "cb 1 2"}))
	stream := bytes.Repeat(one, frames)
	r := bytes.NewReader(stream)
	rc := &rawConn{br: bufio.NewReaderSize(r, 4096)}
	seen := 0
	handle := func(op protocol.Op, body []byte) {
		if op == protocol.OpMsgPush && len(body) == len(one)-protocol.HeaderSize {
			seen++
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		r.Reset(stream)
		rc.br.Reset(r)
		rc.receive(handle)
	})
	if seen != 11*frames { // AllocsPerRun runs once more to warm up
		t.Fatalf("handled %d frames, want %d", seen, 11*frames)
	}
	if allocs > 3 {
		t.Fatalf("%.0f allocations for %d frames: the buffer is not reused", allocs, frames)
	}
}

// TestReceiveChunksSplitsAndGrows feeds frames a byte at a time and one
// frame larger than the read buffer: every frame comes out whole, in order.
func TestReceiveChunksSplitsAndGrows(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i, n := range []int{5, 0, rawChunk + 1000, 70, 3 * rawChunk} {
		body := bytes.Repeat([]byte{byte('a' + i)}, n)
		want = append(want, body)
		stream = protocol.AppendFrame(stream, protocol.OpMsgPush, uint32(i), body)
	}
	for name, r := range map[string]io.Reader{
		"whole":     bytes.NewReader(stream),
		"bytewise":  iotest.OneByteReader(bytes.NewReader(stream)),
		"halfreads": iotest.HalfReader(bytes.NewReader(stream)),
	} {
		rc := &rawConn{br: bufio.NewReaderSize(r, 4096)}
		var got [][]byte
		chunks := 0
		rc.receiveChunks(func(_ time.Time, op protocol.Op, body []byte) {
			got = append(got, bytes.Clone(body))
		}, func() { chunks++ })
		if len(got) != len(want) {
			t.Fatalf("%s: %d frames, want %d", name, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: frame %d differs (%d bytes, want %d)", name, i, len(got[i]), len(want[i]))
			}
		}
		if chunks == 0 {
			t.Fatalf("%s: done never called", name)
		}
	}
}

// TestRawReceiveBatched runs the raw receiver over a stream holding a new
// delivery, the same (conv, seq) again, the same message under another seq
// (a stored duplicate), a push of the receiver's own, a foreign body and
// one the scanner must leave to the decoder (an escaped quote): the
// ledger, the counters and the latency histogram must say what the
// per-frame path said.
func TestRawReceiveBatched(t *testing.T) {
	run := stats.NewRun(sinkCounters, sinkLatencies)
	k := newSink(2, run)
	k.ignoreOwn = true
	var self atomic.Int64
	self.Store(7)
	n1, n2 := k.led.Next(), k.led.Next()
	k.led.Acked(n1, []int32{1})
	k.led.Acked(n2, []int32{1})
	now := time.Now()
	push := func(seq, from int64, body string) []byte {
		return protocol.AppendFrame(nil, protocol.OpMsgPush, 0, encodePush(t, protocol.Message{Conv: "g:3", Seq: seq, From: from, Body: body}))
	}
	var stream []byte
	for _, f := range [][]byte{
		push(1, 1, makeBody(n1, now, 10)),
		push(1, 1, makeBody(n1, now, 10)),        // same conv+seq
		push(2, 1, makeBody(n1, now, 10)),        // stored duplicate
		push(3, 7, makeBody(99, now, 10)),        // own
		push(4, 1, "hello"),                      // foreign
		push(5, 1, makeBody(n2, now, 0)+` "q\"`), // escaped: decoded
		protocol.AppendFrame(nil, protocol.OpPresence, 0, []byte(`{}`)),
	} {
		stream = append(stream, f...)
	}
	rc := &rawConn{br: bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(stream)), 4096)}
	k.rawReceive(rc, 1, &self)
	res := k.led.Result()
	if res.Delivered != 2 || res.Duplicated != 1 || res.Lost != 0 {
		t.Fatalf("ledger %+v", res)
	}
	for name, want := range map[string]int64{"delivered": 2, "redelivered": 1, "own_echo": 1, "foreign": 1} {
		if got := run.Get(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if c := run.Latency("push").Count(); c != 2 {
		t.Fatalf("%d push latencies, want 2", c)
	}
}

// BenchmarkRawReceive is a raw receiver's CPU per 64-byte-body push, read
// from memory in chunks of 16 frames (about what a coalesced writev brings):
// per frame as before (takeRaw: one clock reading, two histogram locks and
// a counter add each) and batched per chunk (rawReceive).
func BenchmarkRawReceive(b *testing.B) {
	const perChunk = 16
	mk := func(k *sink, base int) []byte {
		var s []byte
		for i := range perChunk {
			n := k.led.Next()
			s = protocol.AppendFrame(s, protocol.OpMsgPush, 0, encodePush(b, protocol.Message{MsgID: int64(n), Conv: "g:42",
				Seq: int64(base + i + 1), From: 17, Ts: 1763770000000, Type: "text", Body: makeBody(n, time.Now(), 64), ClientMsgID: "cb0123abcd-1234"}))
		}
		return s
	}
	for _, batched := range []bool{false, true} {
		name := "per-frame"
		if batched {
			name = "batched"
		}
		b.Run(name, func(b *testing.B) {
			k := newSink(1, stats.NewRun(sinkCounters, sinkLatencies))
			var self atomic.Int64
			chunks := make([][]byte, (b.N+perChunk-1)/perChunk)
			for i := range chunks {
				chunks[i] = mk(k, i*perChunk)
			}
			r := &chunkReader{chunks: chunks}
			rc := &rawConn{br: bufio.NewReaderSize(r, 4096)}
			b.ReportAllocs()
			b.ResetTimer()
			if batched {
				k.rawReceive(rc, 0, &self)
			} else {
				rc.receive(func(op protocol.Op, body []byte) { k.takeRaw(0, &self, body) })
			}
			b.StopTimer()
			if got := k.run.Get("delivered"); got != int64(len(chunks)*perChunk) {
				b.Fatalf("delivered %d of %d", got, len(chunks)*perChunk)
			}
		})
	}
}

// chunkReader returns one chunk per Read, as a socket returns one writev.
type chunkReader struct{ chunks [][]byte }

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}
