package chatload

import (
	"bufio"
	"bytes"
	"testing"
	"time"

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
// into one body buffer: no allocation per frame beyond protocol.ReadFrame's
// header.
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
	if allocs > frames+2 {
		t.Fatalf("%.0f allocations for %d frames: the body buffer is not reused", allocs, frames)
	}
}
