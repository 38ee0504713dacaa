package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"
)

// feedAll feeds the whole stream at once and returns the server's frames and
// the session's error.
func feedAll(cfg *Config, stream []byte) ([]sframe, error) {
	s := NewSession(cfg)
	r := &echoReceiver{}
	_, err := s.Feed(stream, r)
	fs, perr := parseServerFrames(r.out)
	if perr != nil {
		return nil, perr
	}
	return fs, err
}

func wantClose(t *testing.T, fs []sframe, err error, code int) {
	t.Helper()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Remote {
		t.Fatalf("Feed error %v, want a local close with %d", err, code)
	}
	if len(fs) == 0 || fs[len(fs)-1].op != OpClose || binary.BigEndian.Uint16(fs[len(fs)-1].payload) != uint16(code) {
		t.Fatalf("server sent %s, want a close frame with %d last", describe(fs), code)
	}
}

func TestUnmaskedClientFrameFails(t *testing.T) {
	f := text("hello")
	f.unmasked = true
	fs, err := feedAll(nil, f.encode())
	wantClose(t, fs, err, CloseProtocolError)
	if len(fs) != 1 {
		t.Fatalf("the unmasked message was answered: %s", describe(fs))
	}
}

func TestOversizedMessageFailsFromTheHeader(t *testing.T) {
	cfg := &Config{MaxMessage: 1000}
	// Only the header of a 1001-byte frame: the verdict needs no payload.
	hdr := AppendHeader(nil, Header{Fin: true, Op: OpBinary, Masked: true, Key: testKey, Length: 1001})
	fs, err := feedAll(cfg, hdr)
	wantClose(t, fs, err, CloseMessageTooBig)

	// Fragments that pass the limit together.
	var stream []byte
	for _, f := range fragments(OpBinary, fill(1001, 1), 400) {
		stream = append(stream, f.encode()...)
	}
	fs, err = feedAll(cfg, stream)
	wantClose(t, fs, err, CloseMessageTooBig)

	// Exactly the limit passes.
	fs, err = feedAll(cfg, bin(fill(1000, 1)).encode())
	if err != nil || len(fs) != 1 || len(fs[0].payload) != 1000 {
		t.Fatalf("a message of exactly MaxMessage: %s, %v", describe(fs), err)
	}
}

func TestBinaryOnlyRefusesText(t *testing.T) {
	cfg := &Config{BinaryOnly: true}
	fs, err := feedAll(cfg, append(bin([]byte("ok")).encode(), text("no").encode()...))
	wantClose(t, fs, err, CloseUnsupportedData)
	if len(fs) != 2 || fs[0].op != OpBinary {
		t.Fatalf("server sent %s, want the binary echo then the close", describe(fs))
	}
	// A fragmented text message fails at its first fragment.
	fs, err = feedAll(cfg, frag(OpText, false, "no").encode())
	wantClose(t, fs, err, CloseUnsupportedData)
}

func TestLength64TopBitFails(t *testing.T) {
	b := []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}
	fs, err := feedAll(nil, b)
	wantClose(t, fs, err, CloseProtocolError)
}

func TestControlFramesBetweenFragmentsOfEveryKind(t *testing.T) {
	// Pings and pongs between the fragments of a binary message, with the
	// stream cut at every offset.
	frames := []cframe{frag(OpBinary, false, "a"), ping("1"), pong("x"), frag(OpContinuation, false, "b"), ping("2"), frag(OpContinuation, true, "c")}
	var stream []byte
	for _, f := range frames {
		stream = append(stream, f.encode()...)
	}
	want := []sframe{pongOf("1"), pongOf("2"), echoB([]byte("abc"))}
	for cut := range len(stream) + 1 {
		s := NewSession(nil)
		r := &echoReceiver{}
		in := bytes.Clone(stream)
		n, err := s.Feed(in[:cut], r)
		if err != nil {
			t.Fatal(err)
		}
		rest := append(bytes.Clone(in[n:cut]), in[cut:]...)
		if k, err := s.Feed(rest, r); err != nil || k != len(rest) {
			t.Fatalf("cut %d: second Feed consumed %d of %d, err %v", cut, k, len(rest), err)
		}
		fs, err := parseServerFrames(r.out)
		if err != nil || describe(fs) != describe(want) {
			t.Fatalf("cut %d: got %s, want %s (%v)", cut, describe(fs), describe(want), err)
		}
		if s.msg != nil {
			t.Fatalf("cut %d: the reassembly buffer is kept after the message", cut)
		}
	}
}

func TestLocalClose(t *testing.T) {
	s := NewSession(nil)
	f := s.Close(CloseGoingAway, "bye")
	fs, err := parseServerFrames(f)
	if err != nil || len(fs) != 1 || fs[0].op != OpClose || string(fs[0].payload[2:]) != "bye" ||
		binary.BigEndian.Uint16(fs[0].payload) != CloseGoingAway {
		t.Fatalf("close frame %s (%v)", describe(fs), err)
	}
	if s.Close(CloseNormal, "") != nil || !s.Closed() {
		t.Fatal("a second Close made another frame")
	}
	r := &echoReceiver{}
	data := text("late").encode()
	if n, err := s.Feed(data, r); n != len(data) || err != nil || len(r.out) != 0 {
		t.Fatalf("input after Close: consumed %d, err %v, output %x", n, err, r.out)
	}
}

func TestCloseFrameCutsLongReasonAtARune(t *testing.T) {
	reason := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes
	fs, err := parseServerFrames(CloseFrame(CloseNormal, reason))
	if err != nil || len(fs[0].payload) > maxControlPayload {
		t.Fatalf("close frame %s (%v)", describe(fs), err)
	}
	if _, _, ce := parseClosePayload(fs[0].payload); ce != nil {
		t.Fatalf("the cut reason is not valid: %v", ce)
	}
}

func TestIdleSessionIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 64 {
		t.Fatalf("Session is %d bytes; an idle conn should cost a few words", n)
	}
}

func TestMaskBytesAnyLength(t *testing.T) {
	for n := range 40 {
		b := fill(n, 0)
		MaskBytes(testKey, b)
		for i := range b {
			if b[i] != testKey[i%4] {
				t.Fatalf("length %d: byte %d is %x, want %x", n, i, b[i], testKey[i%4])
			}
		}
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 125, 126, 65535, 65536, 1 << 40} {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: n%2 == 0, Rsv: 5, Op: OpBinary, Masked: masked, Length: n}
			if masked {
				h.Key = testKey
			}
			b := AppendHeader(nil, h)
			got, k, err := ParseHeader(b)
			if err != nil || k != len(b) || got != h {
				t.Fatalf("%+v: parsed %+v, %d of %d bytes, %v", h, got, k, len(b), err)
			}
			for i := range b {
				if _, k, _ := ParseHeader(b[:i]); k != 0 {
					t.Fatalf("%+v: a header cut to %d bytes parsed", h, i)
				}
			}
		}
	}
	if n := len(AppendServerHeader(nil, OpBinary, 1<<20)); n != MaxServerHeaderLen {
		t.Fatalf("server header of a 1 MiB payload: %d bytes, want %d", n, MaxServerHeaderLen)
	}
}

func TestLayerIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(Layer{}); n > 80 {
		t.Fatalf("Layer is %d bytes", n)
	}
}
