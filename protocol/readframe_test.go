package protocol

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReadFrameStopsAtFrameEnd(t *testing.T) {
	stream := AppendFrame(nil, OpPing, 7, []byte("{}"))
	stream = append(stream, "raw file bytes"...)
	r := bytes.NewReader(stream)
	h, body, err := ReadFrame(iotest.OneByteReader(r), 64, nil)
	if err != nil || h != (Header{Op: OpPing, ReqID: 7}) || string(body) != "{}" {
		t.Fatalf("got %v %q %v", h, body, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "raw file bytes" {
		t.Fatalf("ReadFrame read past its frame: rest %q", rest)
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	stream := AppendFrame(nil, OpPing, 1, []byte("abcd"))
	stream = AppendFrame(stream, OpPing, 2, []byte("xy"))
	stream = AppendFrame(stream, OpPing, 3, bytes.Repeat([]byte("z"), 40))
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 8)
	_, body, err := ReadFrame(r, 64, buf)
	if err != nil || &body[0] != &buf[:1][0] {
		t.Fatalf("first body not read into the given buffer: %v", err)
	}
	_, body, err = ReadFrame(r, 64, body)
	if err != nil || string(body) != "xy" || &body[0] != &buf[:1][0] {
		t.Fatalf("second body %q not read into the reused buffer: %v", body, err)
	}
	_, body, err = ReadFrame(r, 64, body)
	if err != nil || len(body) != 40 || cap(body) < 40 {
		t.Fatalf("third body not grown: len %d, %v", len(body), err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	full := AppendFrame(nil, OpPing, 1, []byte("{}"))
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty stream", nil, io.EOF},
		{"cut in the length", full[:2], io.ErrUnexpectedEOF},
		{"cut in the header", full[:6], io.ErrUnexpectedEOF},
		{"cut in the body", full[:len(full)-1], io.ErrUnexpectedEOF},
		// Rejected on the 4 length bytes alone, before the rest arrives.
		{"length below 6", []byte{0, 0, 0, 5}, ErrFrameTooShort},
		{"body over the maximum", []byte{0, 0, 0, 6 + 65}, ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadFrame(bytes.NewReader(tc.in), 64, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}
