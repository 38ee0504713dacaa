package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeaderLayoutBigEndian(t *testing.T) {
	f := AppendFrame(nil, OpMsgSend, 0x01020304, []byte(`{}`))
	want := []byte{
		0x00, 0x00, 0x00, 0x08, // length = 6 + 2
		0x00, 0x40, // op msg.send
		0x01, 0x02, 0x03, 0x04, // req_id
		'{', '}',
	}
	if !bytes.Equal(f, want) {
		t.Fatalf("frame % x, want % x", f, want)
	}
	var b [HeaderSize]byte
	PutHeader(b[:], OpRoomMediaPush, 0xFFFFFFFE, 0x10203)
	if want := []byte{0x00, 0x01, 0x02, 0x09, 0x10, 0x52, 0xFF, 0xFF, 0xFF, 0xFE}; !bytes.Equal(b[:], want) {
		t.Fatalf("PutHeader % x, want % x", b, want)
	}
	if h := AppendHeader([]byte{0xAA}, OpKicked, 0, 0); !bytes.Equal(h, []byte{0xAA, 0, 0, 0, 6, 0x10, 0x01, 0, 0, 0, 0}) {
		t.Fatalf("AppendHeader % x", h)
	}
}

func TestDecodeIncomplete(t *testing.T) {
	f := AppendFrame(nil, OpPing, 7, []byte(`{"a":1}`))
	for i := 0; i < len(f); i++ {
		h, body, n, err := Decode(f[:i], DefaultMaxFrameBody)
		if n != 0 || err != nil || body != nil || h != (Header{}) {
			t.Fatalf("prefix %d: got %v %q %d %v", i, h, body, n, err)
		}
	}
	h, body, n, err := Decode(f, DefaultMaxFrameBody)
	if err != nil || n != len(f) || h != (Header{OpPing, 7}) || string(body) != `{"a":1}` {
		t.Fatalf("full: %v %q %d %v", h, body, n, err)
	}
	// The body aliases the buffer and cannot be appended into the next frame.
	if &body[0] != &f[HeaderSize] || cap(body) != len(body) {
		t.Fatalf("body does not alias the buffer exactly")
	}
}

func TestDecodeEmptyBody(t *testing.T) {
	f := AppendFrame(nil, OpRoomMedia, 3, nil)
	h, body, n, err := Decode(f, 0)
	if err != nil || n != HeaderSize || len(body) != 0 || h.Op != OpRoomMedia {
		t.Fatalf("got %v %q %d %v", h, body, n, err)
	}
}

func TestDecodeLengthRejection(t *testing.T) {
	const max = 100
	cases := []struct {
		name   string
		length uint32
		want   error
	}{
		{"zero", 0, ErrFrameTooShort},
		{"five", 5, ErrFrameTooShort},
		{"max+1", 6 + max + 1, ErrFrameTooLarge},
		{"huge", 0xFFFFFFFF, ErrFrameTooLarge},
	}
	for _, c := range cases {
		buf := []byte{byte(c.length >> 24), byte(c.length >> 16), byte(c.length >> 8), byte(c.length)}
		// Rejected on the length alone, before the rest arrives.
		_, _, n, err := Decode(buf, max)
		var fe *FrameError
		if n != 0 || !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Length != c.length || fe.MaxBody != max {
			t.Errorf("%s: n=%d err=%v", c.name, n, err)
		}
	}
	// Exactly max is fine.
	f := AppendFrame(nil, OpPing, 1, make([]byte, max))
	if _, body, n, err := Decode(f, max); err != nil || n != len(f) || len(body) != max {
		t.Fatalf("max body: n=%d err=%v", n, err)
	}
	// Negative max accepts only empty bodies instead of panicking.
	if _, _, _, err := Decode(AppendFrame(nil, OpPing, 1, []byte{1}), -1); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("negative max: %v", err)
	}
}

func TestFrameSize(t *testing.T) {
	f := AppendFrame(nil, OpPing, 1, []byte("abc"))
	if FrameSize(f[:3]) != 0 || FrameSize(f[:4]) != len(f) {
		t.Fatalf("FrameSize wrong")
	}
}

type decoded struct {
	h    Header
	body string
}

// decodeStream feeds chunks to Decode as a reactor would: append to a
// buffer, take every complete frame, keep the rest.
func decodeStream(t *testing.T, chunks [][]byte) []decoded {
	t.Helper()
	var buf []byte
	var out []decoded
	for _, c := range chunks {
		buf = append(buf, c...)
		for {
			h, body, n, err := Decode(buf, DefaultMaxFrameBody)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if n == 0 {
				break
			}
			out = append(out, decoded{h, string(body)})
			buf = buf[n:]
		}
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left over", len(buf))
	}
	return out
}

func TestDecodeEverySplitPoint(t *testing.T) {
	var stream []byte
	var want []decoded
	s := samples()
	var reqID uint32
	for _, op := range []Op{OpLogin, OpPing, OpMsgSend, OpRoomMedia, OpMsgPush, OpLogout} {
		reqID++
		var err error
		before := len(stream)
		switch {
		case op == OpRoomMedia:
			stream = AppendRoomMediaFrame(stream, reqID, 9, []byte{0, 1, 2, 0xFF})
		case op.IsPush():
			stream, err = AppendJSONFrame(stream, op, 0, s[op].push)
		default:
			stream, err = AppendJSONFrame(stream, op, reqID, s[op].req)
		}
		if err != nil {
			t.Fatal(err)
		}
		h, body, _, _ := Decode(stream[before:], DefaultMaxFrameBody)
		want = append(want, decoded{h, string(body)})
	}
	check := func(name string, got []decoded) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d frames, want %d", name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: frame %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
	check("whole", decodeStream(t, [][]byte{stream}))
	for i := 0; i <= len(stream); i++ {
		check("split1", decodeStream(t, [][]byte{stream[:i], stream[i:]}))
	}
	// Two split points: every i with a few j after it, and byte by byte.
	for i := 0; i <= len(stream); i++ {
		for _, d := range []int{1, 3, 11, 97} {
			j := min(i+d, len(stream))
			check("split2", decodeStream(t, [][]byte{stream[:i], stream[i:j], stream[j:]}))
		}
	}
	bytewise := make([][]byte, len(stream))
	for i := range stream {
		bytewise[i] = stream[i : i+1]
	}
	check("bytewise", decodeStream(t, bytewise))
}

func TestAppendFrameNoAllocWithCapacity(t *testing.T) {
	body := []byte(`{"code":"OK"}`)
	dst := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		_ = AppendFrame(dst[:0], OpLogout, 5, body)
	})
	if allocs != 0 {
		t.Fatalf("AppendFrame allocates %v times", allocs)
	}
	frame := AppendFrame(nil, OpLogout, 5, body)
	allocs = testing.AllocsPerRun(100, func() {
		_, _, _, _ = Decode(frame, DefaultMaxFrameBody)
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %v times", allocs)
	}
}

func BenchmarkDecode(b *testing.B) {
	frame, _ := AppendJSONFrame(nil, OpMsgPush, 0, &MsgPush{Message: msg1})
	stream := bytes.Repeat(frame, 16)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		buf := stream
		for len(buf) > 0 {
			_, _, n, err := Decode(buf, DefaultMaxFrameBody)
			if err != nil || n == 0 {
				b.Fatal("decode failed")
			}
			buf = buf[n:]
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	body, _ := Marshal(&MsgPush{Message: msg1})
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(body) + HeaderSize))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFrame(dst[:0], OpMsgPush, 0, body)
	}
}

func BenchmarkAppendJSONFrameMsgPush(b *testing.B) {
	push := &MsgPush{Message: msg1}
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = AppendJSONFrame(dst[:0], OpMsgPush, 0, push)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkAppendJSONFrameLoginResp(b *testing.B) {
	resp := samples()[OpLogin].reply
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = AppendJSONFrame(dst[:0], OpLogin, 1, resp)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkDecodeRequestMsgSend(b *testing.B) {
	body, _ := Marshal(samples()[OpMsgSend].req)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var r MsgSendReq
		if err := DecodeRequest(body, &r, nil); err != nil {
			b.Fatal(err)
		}
	}
}
