package websocket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The server cases of the Autobahn testsuite, categories 1-7 and 9, as Go
// tables. Each case is what a client sends and what an echo server must
// send back: the echoed messages and pongs, in order, then a close frame
// with one of the allowed codes. The cases are written from the suite's
// descriptions; runCodec below plays them against the codec, and
// TestAutobahnReactor plays the same table through the reactor over TCP.

// cframe is a frame as a client sends it (masked unless unmasked is set).
type cframe struct {
	op       Opcode
	fin      bool
	rsv      byte
	payload  []byte
	unmasked bool
	raw      []byte // sent as is instead of an encoding of the fields
}

// sframe is a frame as the server sent it, for comparison.
type sframe struct {
	op      Opcode
	payload []byte
}

// abCase is one Autobahn case.
type abCase struct {
	id     string
	frames []cframe
	chop   int      // >0: the byte stream goes out in pieces of chop bytes
	want   []sframe // what the server sends before its close frame
	codes  []int    // allowed codes of the server's close frame
	fail   bool     // the server fails the connection: no client close is appended
	maxMsg int      // the server's message limit (0: 16 MiB, what Autobahn needs)
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// encode returns the wire bytes of f.
func (f cframe) encode() []byte {
	if f.raw != nil {
		return f.raw
	}
	h := Header{Fin: f.fin, Rsv: f.rsv, Op: f.op, Masked: !f.unmasked, Key: testKey, Length: int64(len(f.payload))}
	b := AppendHeader(nil, h)
	k := len(b)
	b = append(b, f.payload...)
	if h.Masked {
		MaskBytes(testKey, b[k:])
	}
	return b
}

// pieces returns what the client sends, as it sends it: each frame in its
// own write (or the byte stream in pieces of chop bytes), with a close
// (1000) at the end unless the server is to fail the connection or the case
// closes itself.
func (c abCase) pieces() [][]byte {
	var out [][]byte
	closes := false
	for _, f := range c.frames {
		out = append(out, f.encode())
		closes = closes || f.op == OpClose
	}
	if !c.fail && !closes {
		out = append(out, closeF(CloseNormal, "").encode())
	}
	if c.chop > 0 {
		return slices.Collect(slices.Chunk(bytes.Join(out, nil), c.chop))
	}
	return out
}

// check compares the server's frames (its close frame last) with the case.
func (c abCase) check(got []sframe) error {
	if len(got) == 0 || got[len(got)-1].op != OpClose {
		return fmt.Errorf("the server sent no close frame; got %s", describe(got))
	}
	cl := got[len(got)-1]
	got = got[:len(got)-1]
	if len(got) != len(c.want) {
		return fmt.Errorf("got %s before the close, want %s", describe(got), describe(c.want))
	}
	for i := range got {
		if got[i].op != c.want[i].op || !bytes.Equal(got[i].payload, c.want[i].payload) {
			return fmt.Errorf("frame %d: got %s, want %s", i, describe(got[i:i+1]), describe(c.want[i:i+1]))
		}
	}
	codes := c.codes
	if codes == nil {
		codes = []int{CloseNormal}
	}
	code := CloseNoStatus
	if len(cl.payload) >= 2 {
		code = int(binary.BigEndian.Uint16(cl.payload))
	}
	if !slices.Contains(codes, code) {
		return fmt.Errorf("close code %d, want one of %v", code, codes)
	}
	return nil
}

func describe(fs []sframe) string {
	var parts []string
	for i, f := range fs {
		if i == 8 && len(fs) > 10 {
			parts = append(parts, fmt.Sprintf("...(%d frames)", len(fs)))
			break
		}
		p := f.payload
		suffix := ""
		if len(p) > 16 {
			p, suffix = p[:16], fmt.Sprintf("...(%d bytes)", len(f.payload))
		}
		parts = append(parts, fmt.Sprintf("op%d[%x%s]", f.op, p, suffix))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Frame and expectation builders.

func text(s string) cframe { return cframe{op: OpText, fin: true, payload: []byte(s)} }
func bin(b []byte) cframe  { return cframe{op: OpBinary, fin: true, payload: b} }
func frag(op Opcode, fin bool, p string) cframe {
	return cframe{op: op, fin: fin, payload: []byte(p)}
}
func ping(p string) cframe { return cframe{op: OpPing, fin: true, payload: []byte(p)} }
func pong(p string) cframe { return cframe{op: OpPong, fin: true, payload: []byte(p)} }
func closeF(code int, reason string) cframe {
	var p []byte
	if code != CloseNoStatus {
		p = binary.BigEndian.AppendUint16(nil, uint16(code))
		p = append(p, reason...)
	}
	return cframe{op: OpClose, fin: true, payload: p}
}
func closeRaw(p []byte) cframe { return cframe{op: OpClose, fin: true, payload: p} }

func echoT(s string) sframe     { return sframe{op: OpText, payload: []byte(s)} }
func echoB(b []byte) sframe     { return sframe{op: OpBinary, payload: b} }
func pongOf(p string) sframe    { return sframe{op: OpPong, payload: []byte(p)} }
func stars(n int) string        { return strings.Repeat("*", n) }
func fill(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }

var protoErr = []int{CloseProtocolError}

// autobahnCases returns the whole table.
func autobahnCases() []abCase {
	var cs []abCase
	add := func(c ...abCase) { cs = append(cs, c...) }

	// 1: framing. Text and binary messages of lengths around the 7-, 16-
	// and 64-bit length forms, and one sent in chops of 997 bytes.
	for i, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
		s := stars(n)
		add(abCase{id: fmt.Sprintf("1.1.%d", i+1), frames: []cframe{text(s)}, want: []sframe{echoT(s)}})
		b := fill(n, 0xfe)
		add(abCase{id: fmt.Sprintf("1.2.%d", i+1), frames: []cframe{bin(b)}, want: []sframe{echoB(b)}})
	}
	add(abCase{id: "1.1.8", frames: []cframe{text(stars(65536))}, chop: 997, want: []sframe{echoT(stars(65536))}})
	add(abCase{id: "1.2.8", frames: []cframe{bin(fill(65536, 0xfe))}, chop: 997, want: []sframe{echoB(fill(65536, 0xfe))}})

	// 2: pings and pongs.
	bin125 := string(fill(125, 0xfe))
	add(
		abCase{id: "2.1", frames: []cframe{ping("")}, want: []sframe{pongOf("")}},
		abCase{id: "2.2", frames: []cframe{ping("Hello, world!")}, want: []sframe{pongOf("Hello, world!")}},
		abCase{id: "2.3", frames: []cframe{ping("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")}, want: []sframe{pongOf("\x00\xff\xfe\xfd\xfc\xfb\x00\xff")}},
		abCase{id: "2.4", frames: []cframe{ping(bin125)}, want: []sframe{pongOf(bin125)}},
		abCase{id: "2.5", frames: []cframe{ping(bin125 + "\xfe")}, codes: protoErr, fail: true},
		abCase{id: "2.6", frames: []cframe{ping(bin125)}, chop: 1, want: []sframe{pongOf(bin125)}},
		abCase{id: "2.7", frames: []cframe{pong("")}},
		abCase{id: "2.8", frames: []cframe{pong("unsolicited pong payload")}},
		abCase{id: "2.9", frames: []cframe{pong("unsolicited pong payload"), ping("ping payload")}, want: []sframe{pongOf("ping payload")}},
	)
	var pings []cframe
	var pongs []sframe
	for i := range 10 {
		p := fmt.Sprintf("payload-%d", i)
		pings, pongs = append(pings, ping(p)), append(pongs, pongOf(p))
	}
	add(
		abCase{id: "2.10", frames: pings, want: pongs},
		abCase{id: "2.11", frames: pings, chop: 1, want: pongs},
	)

	// 3: reserved bits. The connection fails at the frame with a bit set;
	// what came before it is answered.
	hello := "Hello, world!"
	withRsv := func(f cframe, rsv byte) cframe { f.rsv = rsv; return f }
	add(
		abCase{id: "3.1", frames: []cframe{withRsv(text(hello), 1)}, codes: protoErr, fail: true},
		abCase{id: "3.2", frames: []cframe{text(hello), withRsv(text(hello), 2), ping("")}, want: []sframe{echoT(hello)}, codes: protoErr, fail: true},
		abCase{id: "3.3", frames: []cframe{text(hello), withRsv(text(hello), 3), ping("")}, chop: 1, want: []sframe{echoT(hello)}, codes: protoErr, fail: true},
		abCase{id: "3.4", frames: []cframe{text(hello), withRsv(text(hello), 4), ping("")}, chop: 1, want: []sframe{echoT(hello)}, codes: protoErr, fail: true},
		abCase{id: "3.5", frames: []cframe{withRsv(bin(fill(8, 0xfe)), 5)}, codes: protoErr, fail: true},
		abCase{id: "3.6", frames: []cframe{withRsv(ping(hello), 6)}, codes: protoErr, fail: true},
		abCase{id: "3.7", frames: []cframe{withRsv(closeF(CloseNormal, ""), 7)}, codes: protoErr, fail: true},
	)

	// 4: reserved opcodes, for data (3-7) and control (0xB-0xF) frames,
	// empty, with a payload and after an echoed message.
	for i, op := range []Opcode{3, 4, 5, 6, 7} {
		add(abCase{id: fmt.Sprintf("4.1.%d", i+1), frames: []cframe{text(hello), {op: op, fin: true, payload: []byte(hello)[:i%2*5]}, ping("")},
			want: []sframe{echoT(hello)}, codes: protoErr, fail: true})
	}
	for i, op := range []Opcode{0xb, 0xc, 0xd, 0xe, 0xf} {
		add(abCase{id: fmt.Sprintf("4.2.%d", i+1), frames: []cframe{text(hello), {op: op, fin: true, payload: []byte(hello)[:i%2*5]}, ping("")},
			want: []sframe{echoT(hello)}, codes: protoErr, fail: true})
	}

	// 5: fragmentation.
	frag12 := []cframe{frag(OpText, false, "fragment1"), frag(OpContinuation, true, "fragment2")}
	withPing := []cframe{frag(OpText, false, "fragment1"), ping(""), frag(OpContinuation, true, "fragment2")}
	orphan := []cframe{frag(OpContinuation, true, "non-continuation payload"), text(hello)}
	orphanOpen := []cframe{frag(OpContinuation, false, "non-continuation payload"), text(hello)}
	add(
		abCase{id: "5.1", frames: []cframe{{op: OpPing, payload: []byte("fragment1")}, frag(OpContinuation, true, "fragment2")}, codes: protoErr, fail: true},
		abCase{id: "5.2", frames: []cframe{{op: OpPong, payload: []byte("fragment1")}, frag(OpContinuation, true, "fragment2")}, codes: protoErr, fail: true},
		abCase{id: "5.3", frames: frag12, want: []sframe{echoT("fragment1fragment2")}},
		abCase{id: "5.4", frames: frag12, chop: 3, want: []sframe{echoT("fragment1fragment2")}},
		abCase{id: "5.5", frames: frag12, chop: 1, want: []sframe{echoT("fragment1fragment2")}},
		abCase{id: "5.6", frames: withPing, want: []sframe{pongOf(""), echoT("fragment1fragment2")}},
		abCase{id: "5.7", frames: withPing, chop: 3, want: []sframe{pongOf(""), echoT("fragment1fragment2")}},
		abCase{id: "5.8", frames: withPing, chop: 1, want: []sframe{pongOf(""), echoT("fragment1fragment2")}},
		abCase{id: "5.9", frames: orphan, codes: protoErr, fail: true},
		abCase{id: "5.10", frames: orphan, chop: 3, codes: protoErr, fail: true},
		abCase{id: "5.11", frames: orphan, chop: 1, codes: protoErr, fail: true},
		abCase{id: "5.12", frames: orphanOpen, codes: protoErr, fail: true},
		abCase{id: "5.13", frames: orphanOpen, chop: 3, codes: protoErr, fail: true},
		abCase{id: "5.14", frames: orphanOpen, chop: 1, codes: protoErr, fail: true},
		abCase{id: "5.15", frames: []cframe{frag(OpText, false, "fragment1"), frag(OpContinuation, true, "fragment2"),
			frag(OpContinuation, false, "fragment3"), frag(OpText, true, "fragment4")},
			want: []sframe{echoT("fragment1fragment2")}, codes: protoErr, fail: true},
		abCase{id: "5.16", frames: []cframe{frag(OpContinuation, false, "fragment1"), frag(OpText, false, "fragment2"), frag(OpContinuation, true, "fragment3"),
			frag(OpContinuation, false, "fragment1"), frag(OpText, false, "fragment2"), frag(OpContinuation, true, "fragment3")},
			codes: protoErr, fail: true},
		abCase{id: "5.17", frames: []cframe{frag(OpContinuation, true, "fragment1"), frag(OpText, false, "fragment2"), frag(OpContinuation, true, "fragment3"),
			frag(OpContinuation, true, "fragment1"), frag(OpText, false, "fragment2"), frag(OpContinuation, true, "fragment3")},
			codes: protoErr, fail: true},
		abCase{id: "5.18", frames: []cframe{frag(OpText, false, "fragment1"), frag(OpText, true, "fragment2")}, codes: protoErr, fail: true},
	)
	five := []cframe{
		frag(OpText, false, "fragment1"), ping("pongme 1!"), frag(OpContinuation, false, "fragment2"), ping("pongme 2!"),
		frag(OpContinuation, false, "fragment3"), frag(OpContinuation, false, "fragment4"), ping("pongme 3!"),
		frag(OpContinuation, true, "fragment5"),
	}
	fiveWant := []sframe{pongOf("pongme 1!"), pongOf("pongme 2!"), pongOf("pongme 3!"), echoT("fragment1fragment2fragment3fragment4fragment5")}
	add(
		abCase{id: "5.19", frames: five, want: fiveWant},
		abCase{id: "5.20", frames: five, chop: 1, want: fiveWant},
	)

	// 6: UTF-8 handling.
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	mixed := "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!"
	bad := kosme + "\xed\xa0\x80edited"
	notUTF8 := []int{CloseInvalidPayload}
	add(
		abCase{id: "6.1.1", frames: []cframe{text("")}, want: []sframe{echoT("")}},
		abCase{id: "6.1.2", frames: []cframe{frag(OpText, false, ""), frag(OpContinuation, false, ""), frag(OpContinuation, true, "")}, want: []sframe{echoT("")}},
		abCase{id: "6.1.3", frames: []cframe{frag(OpText, false, ""), frag(OpContinuation, false, "middle"), frag(OpContinuation, true, "")}, want: []sframe{echoT("middle")}},
		abCase{id: "6.2.1", frames: []cframe{text(mixed)}, want: []sframe{echoT(mixed)}},
		abCase{id: "6.2.2", frames: []cframe{frag(OpText, false, mixed[:12]), frag(OpContinuation, true, mixed[12:])}, want: []sframe{echoT(mixed)}},
		abCase{id: "6.2.3", frames: []cframe{text(mixed)}, chop: 1, want: []sframe{echoT(mixed)}},
		abCase{id: "6.2.4", frames: []cframe{text(kosme)}, chop: 1, want: []sframe{echoT(kosme)}},
		abCase{id: "6.3.1", frames: []cframe{text(bad)}, codes: notUTF8, fail: true},
		abCase{id: "6.3.2", frames: []cframe{text(bad)}, chop: 1, codes: notUTF8, fail: true},
		// 6.4: fail fast. The fragment after the invalid one must not be
		// needed for the verdict (the case sends it only after a pause:
		// here, never).
		abCase{id: "6.4.1", frames: []cframe{frag(OpText, false, kosme), frag(OpContinuation, false, "\xf4\x90\x80\x80")}, codes: notUTF8, fail: true},
		abCase{id: "6.4.2", frames: []cframe{frag(OpText, false, kosme+"\xf4"), frag(OpContinuation, false, "\x90")}, codes: notUTF8, fail: true},
		abCase{id: "6.4.3", frames: []cframe{text(kosme + "\xf4\x90\x80\x80edited")}, chop: 1, codes: notUTF8, fail: true},
		abCase{id: "6.4.4", frames: []cframe{text(kosme + "\xf4\x90\x80\x80edited")}, chop: 4, codes: notUTF8, fail: true},
	)
	for i, group := range utf8Sequences() {
		for j, seq := range group.seqs {
			id := fmt.Sprintf("6.%d.%d", i+5, j+1)
			if seq.valid {
				add(abCase{id: id, frames: []cframe{text(seq.s)}, want: []sframe{echoT(seq.s)}})
				// Beyond the suite: the same bytes one per fragment, so
				// runes are split across fragments.
				add(abCase{id: id + "/fragmented", frames: byteFragments(seq.s), want: []sframe{echoT(seq.s)}})
			} else {
				add(abCase{id: id, frames: []cframe{text(seq.s)}, codes: notUTF8, fail: true})
				add(abCase{id: id + "/fragmented", frames: byteFragments(seq.s), codes: notUTF8, fail: true})
			}
		}
	}

	// 7: close handling.
	add(
		abCase{id: "7.1.1", frames: []cframe{text(hello), closeF(CloseNormal, "")}, want: []sframe{echoT(hello)}},
		abCase{id: "7.1.2", frames: []cframe{closeF(CloseNormal, ""), closeF(CloseNormal, "")}},
		abCase{id: "7.1.3", frames: []cframe{closeF(CloseNormal, ""), ping(hello)}},
		abCase{id: "7.1.4", frames: []cframe{closeF(CloseNormal, ""), text(hello)}},
		abCase{id: "7.1.5", frames: []cframe{frag(OpText, false, "fragment1"), closeF(CloseNormal, ""), frag(OpContinuation, true, "fragment2")}},
		abCase{id: "7.1.6", frames: []cframe{text(strings.Repeat("BAsd7&jh23", 26214)), closeF(CloseNormal, ""), ping(hello)},
			want: []sframe{echoT(strings.Repeat("BAsd7&jh23", 26214))}},
		abCase{id: "7.3.1", frames: []cframe{closeF(CloseNoStatus, "")}},
		abCase{id: "7.3.2", frames: []cframe{closeRaw([]byte{0x03})}, codes: protoErr},
		abCase{id: "7.3.3", frames: []cframe{closeF(CloseNormal, "")}},
		abCase{id: "7.3.4", frames: []cframe{closeF(CloseNormal, "Hello World!")}},
		abCase{id: "7.3.5", frames: []cframe{closeF(CloseNormal, stars(123))}},
		abCase{id: "7.3.6", frames: []cframe{closeF(CloseNormal, stars(124))}, codes: protoErr},
		abCase{id: "7.5.1", frames: []cframe{closeF(CloseNormal, bad)}, codes: notUTF8},
	)
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		add(abCase{id: fmt.Sprintf("7.7.%d", i+1), frames: []cframe{closeF(code, "")}, codes: []int{CloseNormal, code}})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		add(abCase{id: fmt.Sprintf("7.9.%d", i+1), frames: []cframe{closeRaw(binary.BigEndian.AppendUint16(nil, uint16(code)))}, codes: protoErr})
	}
	for i, code := range []int{5000, 65535} {
		add(abCase{id: fmt.Sprintf("7.13.%d", i+1), frames: []cframe{closeRaw(binary.BigEndian.AppendUint16(nil, uint16(code)))}, codes: protoErr})
	}

	// 9: limits and performance. Large messages whole, fragmented, and
	// chopped, and many small messages in a row. Under the race detector
	// the sizes are divided by 16 (16 MiB becomes 1 MiB).
	scale := 1
	if raceEnabled {
		scale = 16
	}
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	for i, n := range sizes {
		n /= scale
		s := strings.Repeat("BAsd7&jh23", n/10+1)[:n]
		add(abCase{id: fmt.Sprintf("9.1.%d", i+1), frames: []cframe{text(s)}, want: []sframe{echoT(s)}})
		b := fill(n, 0xfe)
		add(abCase{id: fmt.Sprintf("9.2.%d", i+1), frames: []cframe{bin(b)}, want: []sframe{echoB(b)}})
	}
	msg4M := strings.Repeat("*", 4<<20/scale)
	for i, f := range []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
		f = max(f/scale, 64)
		add(abCase{id: fmt.Sprintf("9.3.%d", i+1), frames: fragments(OpText, []byte(msg4M), f), want: []sframe{echoT(msg4M)}})
		add(abCase{id: fmt.Sprintf("9.4.%d", i+1), frames: fragments(OpBinary, []byte(msg4M), f), want: []sframe{echoB([]byte(msg4M))}})
	}
	msg1M := strings.Repeat("*", 1<<20/scale)
	for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
		add(abCase{id: fmt.Sprintf("9.5.%d", i+1), frames: []cframe{text(msg1M)}, chop: chop, want: []sframe{echoT(msg1M)}})
		add(abCase{id: fmt.Sprintf("9.6.%d", i+1), frames: []cframe{bin([]byte(msg1M))}, chop: chop, want: []sframe{echoB([]byte(msg1M))}})
	}
	for i, n := range []int{0, 16, 64, 256, 1 << 10, 4 << 10} {
		var ts, bs []cframe
		var tw, bw []sframe
		for range 1000 {
			ts, tw = append(ts, text(stars(n))), append(tw, echoT(stars(n)))
			bs, bw = append(bs, bin(fill(n, 0xfe))), append(bw, echoB(fill(n, 0xfe)))
		}
		add(abCase{id: fmt.Sprintf("9.7.%d", i+1), frames: ts, want: tw})
		add(abCase{id: fmt.Sprintf("9.8.%d", i+1), frames: bs, want: bw})
	}
	return cs
}

// fragments splits p into a message of fragments of size n.
func fragments(op Opcode, p []byte, n int) []cframe {
	var fs []cframe
	for i := 0; i < len(p); i += n {
		end := min(i+n, len(p))
		o := OpContinuation
		if i == 0 {
			o = op
		}
		fs = append(fs, cframe{op: o, fin: end == len(p), payload: p[i:end]})
	}
	return fs
}

// byteFragments sends s as a text message of one-byte fragments.
func byteFragments(s string) []cframe {
	if s == "" {
		return []cframe{text("")}
	}
	return fragments(OpText, []byte(s), 1)
}

type utf8Seq struct {
	valid bool
	s     string
}

type utf8Group struct {
	name string
	seqs []utf8Seq
}

// utf8Sequences is the catalogue of 6.5-6.23, after Markus Kuhn's UTF-8
// decoder stress test: valid text, every prefix of a multi-byte string,
// boundary code points, and the classes of malformed input (stray
// continuation bytes, lonely start bytes, truncated sequences, impossible
// bytes, overlong forms, surrogates), plus noncharacters and specials,
// which are valid.
func utf8Sequences() []utf8Group {
	v := func(s string) utf8Seq { return utf8Seq{true, s} }
	x := func(s string) utf8Seq { return utf8Seq{false, s} }
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	var prefixes []utf8Seq
	for i := 1; i <= len(kosme); i++ {
		k, ok := validPrefix([]byte(kosme[:i]))
		prefixes = append(prefixes, utf8Seq{ok && k == i, kosme[:i]})
	}
	var stray []byte
	for c := 0x80; c < 0xbf; c++ {
		stray = append(stray, byte(c))
	}
	lonely := func(lo, hi int) string {
		var b []byte
		for c := lo; c < hi; c++ {
			b = append(b, byte(c), ' ')
		}
		return string(b)
	}
	truncated := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	var trunc []utf8Seq
	for _, t := range truncated {
		trunc = append(trunc, x(t))
	}
	var nonchars []utf8Seq
	nonchars = append(nonchars, v("\xef\xbf\xbe"), v("\xef\xbf\xbf"))
	for _, z1 := range []byte{0xf0, 0xf1, 0xf2, 0xf3, 0xf4} {
		for _, z2 := range []byte{0x8f, 0x9f, 0xaf, 0xbf} {
			if z1 == 0xf4 && z2 != 0x8f || z1 == 0xf0 && z2 == 0x8f {
				continue // above U+10FFFF, or overlong
			}
			nonchars = append(nonchars, v(string([]byte{z1, z2, 0xbf, 0xbe})), v(string([]byte{z1, z2, 0xbf, 0xbf})))
		}
	}
	var specials []utf8Seq
	for c := byte(0xb9); c <= 0xbf; c++ {
		specials = append(specials, v(string([]byte{0xef, 0xbf, c})))
	}
	surrogates := []string{"\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf"}
	var single, paired []utf8Seq
	for _, s := range surrogates {
		single = append(single, x(s))
	}
	for _, hi := range surrogates[:4] {
		for _, lo := range []string{"\xed\xb0\x80", "\xed\xbf\xbf"} {
			paired = append(paired, x(hi+lo))
		}
	}
	return []utf8Group{
		{"valid text", []utf8Seq{v("hello\x24world"), v("hello\xc2\xa2world"), v("hello\xe2\x82\xacworld"), v("hello\xf0\xa4\xad\xa2world"), v(kosme)}},
		{"prefixes of a multi-byte string", prefixes},
		{"first sequence of each length", []utf8Seq{v("\x00"), v("\xc2\x80"), v("\xe0\xa0\x80"), v("\xf0\x90\x80\x80")}},
		{"first sequence of length 5 and 6", []utf8Seq{x("\xf8\x88\x80\x80\x80"), x("\xfc\x84\x80\x80\x80\x80")}},
		{"last sequence of each length", []utf8Seq{v("\x7f"), v("\xdf\xbf"), v("\xef\xbf\xbf"), v("\xf4\x8f\xbf\xbf")}},
		{"last sequence of length 4, 5 and 6", []utf8Seq{x("\xf7\xbf\xbf\xbf"), x("\xfb\xbf\xbf\xbf\xbf"), x("\xfd\xbf\xbf\xbf\xbf\xbf")}},
		{"other boundaries", []utf8Seq{v("\xed\x9f\xbf"), v("\xee\x80\x80"), v("\xef\xbf\xbd"), v("\xf4\x8f\xbf\xbf"), x("\xf4\x90\x80\x80")}},
		{"unexpected continuation bytes", []utf8Seq{x("\x80"), x("\xbf"), x("\x80\xbf"), x("\x80\xbf\x80"), x("\x80\xbf\x80\xbf"),
			x("\x80\xbf\x80\xbf\x80"), x("\x80\xbf\x80\xbf\x80\xbf"), x(string(stray))}},
		{"lonely start bytes", []utf8Seq{x(lonely(0xc0, 0xdf)), x(lonely(0xe0, 0xef)), x(lonely(0xf0, 0xf7)), x(lonely(0xf8, 0xfb)), x(lonely(0xfc, 0xfd))}},
		{"last continuation byte missing", trunc},
		{"concatenated truncated sequences", []utf8Seq{x(strings.Join(truncated, ""))}},
		{"impossible bytes", []utf8Seq{x("\xfe"), x("\xff"), x("\xfe\xfe\xff\xff")}},
		{"overlong ASCII", []utf8Seq{x("\xc0\xaf"), x("\xe0\x80\xaf"), x("\xf0\x80\x80\xaf"), x("\xf8\x80\x80\x80\xaf"), x("\xfc\x80\x80\x80\x80\xaf")}},
		{"maximum overlong sequences", []utf8Seq{x("\xc1\xbf"), x("\xe0\x9f\xbf"), x("\xf0\x8f\xbf\xbf"), x("\xf8\x87\xbf\xbf\xbf"), x("\xfc\x83\xbf\xbf\xbf\xbf")}},
		{"overlong NUL", []utf8Seq{x("\xc0\x80"), x("\xe0\x80\x80"), x("\xf0\x80\x80\x80"), x("\xf8\x80\x80\x80\x80"), x("\xfc\x80\x80\x80\x80\x80")}},
		{"single surrogates", single},
		{"paired surrogates", paired},
		{"noncharacters (valid)", nonchars},
		{"specials (valid)", specials},
	}
}

// echoReceiver is an echo server on the codec: messages go back with their
// type, control answers as the session made them.
type echoReceiver struct{ out []byte }

func (r *echoReceiver) OnMessage(text bool, p []byte) {
	op := OpBinary
	if text {
		op = OpText
	}
	r.out = AppendServerFrame(r.out, op, p)
}

func (r *echoReceiver) Send(frame []byte) { r.out = append(r.out, frame...) }

// parseServerFrames splits a server's output into frames, checking that
// each is final, unmasked and without reserved bits.
func parseServerFrames(b []byte) ([]sframe, error) {
	var fs []sframe
	for len(b) > 0 {
		h, n, err := ParseHeader(b)
		if err != nil || n == 0 || int64(len(b)-n) < h.Length {
			return fs, fmt.Errorf("truncated or bad server frame (err %v)", err)
		}
		if !h.Fin || h.Masked || h.Rsv != 0 {
			return fs, fmt.Errorf("server frame with fin=%v masked=%v rsv=%d", h.Fin, h.Masked, h.Rsv)
		}
		fs = append(fs, sframe{op: h.Op, payload: b[n : n+int(h.Length)]})
		b = b[n+int(h.Length):]
	}
	return fs, nil
}

// runCodec plays c against a Session, feeding the pieces as they would
// arrive and keeping unconsumed bytes as the reactor does.
func runCodec(c abCase) ([]sframe, error) {
	maxMsg := c.maxMsg
	if maxMsg == 0 {
		maxMsg = 16 << 20
	}
	s := NewSession(&Config{MaxMessage: maxMsg})
	r := &echoReceiver{}
	var pending []byte
	for _, p := range c.pieces() {
		pending = append(pending, p...)
		n, err := s.Feed(pending, r)
		pending = pending[n:]
		if err != nil {
			break
		}
	}
	return parseServerFrames(r.out)
}

func TestAutobahnCodec(t *testing.T) {
	for _, c := range autobahnCases() {
		t.Run(c.id, func(t *testing.T) {
			got, err := runCodec(c)
			if err == nil {
				err = c.check(got)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
