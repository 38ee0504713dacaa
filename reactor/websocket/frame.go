package websocket

import (
	"encoding/binary"
	"errors"
)

// Opcode is a frame's opcode (RFC 6455 section 5.2).
type Opcode byte

// The opcodes RFC 6455 defines; the rest are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved 0xB-0xF).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// MaxHeaderLen is the longest frame header: 2 bytes, an 8-byte extended
// length and a 4-byte masking key.
const MaxHeaderLen = 14

// MaxServerHeaderLen is the longest header of an unmasked (server) frame.
const MaxServerHeaderLen = 10

// maxControlPayload is the payload limit of control frames (section 5.5).
const maxControlPayload = 125

// Header is a decoded frame header.
type Header struct {
	Fin    bool
	Rsv    byte // the three reserved bits, in the low bits (RSV1 = 4)
	Op     Opcode
	Masked bool
	Key    [4]byte // masking key, when Masked
	Length int64   // payload length
}

// errLength64 reports a 64-bit payload length with its most significant bit
// set, which section 5.2 forbids.
var errLength64 = errors.New("websocket: payload length has its top bit set")

// ParseHeader decodes the frame header at the start of b. It returns the
// header and its length in bytes, or n == 0 when b does not yet hold the
// whole header.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = b[0] >> 4 & 0x7
	h.Op = Opcode(b[0] & 0xf)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v>>63 != 0 {
			return h, 0, errLength64
		}
		h.Length = int64(v)
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Key[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// AppendHeader appends the encoding of h to dst, using the shortest length
// form.
func AppendHeader(dst []byte, h Header) []byte {
	b0 := byte(h.Op&0xf) | h.Rsv&0x7<<4
	if h.Fin {
		b0 |= 0x80
	}
	var m byte
	if h.Masked {
		m = 0x80
	}
	switch {
	case h.Length <= 125:
		dst = append(dst, b0, m|byte(h.Length))
	case h.Length <= 0xffff:
		dst = append(dst, b0, m|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.Length))
	default:
		dst = append(dst, b0, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Key[:]...)
	}
	return dst
}

// AppendServerHeader appends the header of an unmasked, final frame of op
// carrying n payload bytes: what a server puts before a payload it sends
// separately (a writev of header and payload, without copying the payload).
func AppendServerHeader(dst []byte, op Opcode, n int) []byte {
	return AppendHeader(dst, Header{Fin: true, Op: op, Length: int64(n)})
}

// AppendServerFrame appends a whole unmasked, final frame of op.
func AppendServerFrame(dst []byte, op Opcode, payload []byte) []byte {
	return append(AppendServerHeader(dst, op, len(payload)), payload...)
}

// MaskBytes XORs b with the masking key (section 5.3), as if b started at
// payload offset 0. Masking and unmasking are the same operation.
func MaskBytes(key [4]byte, b []byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
	}
	// The word loop advanced by multiples of 4, so the key is still aligned.
	for ; i < len(b); i++ {
		b[i] ^= key[i&3]
	}
}
