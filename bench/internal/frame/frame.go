package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of the big-endian payload length that starts every frame.
const HeaderSize = 4

// MaxPayload bounds a frame's payload so that a corrupt or hostile length
// cannot make a server buffer without limit.
const MaxPayload = 1 << 20

// ErrTooLarge reports a frame header announcing more than MaxPayload bytes.
var ErrTooLarge = errors.New("frame: payload too large")

// Complete returns the length of the longest prefix of b that consists of
// whole frames (0 when the first frame is incomplete). It fails when a header
// announces a payload over MaxPayload.
func Complete(b []byte) (int, error) {
	off := 0
	for len(b)-off >= HeaderSize {
		n := binary.BigEndian.Uint32(b[off:])
		if n > MaxPayload {
			return off, fmt.Errorf("%w: %d bytes at offset %d", ErrTooLarge, n, off)
		}
		end := off + HeaderSize + int(n)
		if end > len(b) {
			break
		}
		off = end
	}
	return off, nil
}

// Next returns the size of the first frame in b (header included) and
// whether b holds all of it. Callers use it when they can only peek at a
// header, as with netpoll's Reader.
func Next(b []byte) (size int, ok bool, err error) {
	if len(b) < HeaderSize {
		return 0, false, nil
	}
	n := binary.BigEndian.Uint32(b)
	if n > MaxPayload {
		return 0, false, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	size = HeaderSize + int(n)
	return size, len(b) >= size, nil
}

// Append appends a frame carrying payload to dst and returns the extended slice.
func Append(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}
