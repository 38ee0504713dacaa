package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of a frame header: length (4), op (2), req_id (4).
const HeaderSize = 10

// lengthOverhead is the part of the length field's value that is not body:
// op and req_id.
const lengthOverhead = 6

// DefaultMaxFrameBody is the contract's default maximum body size (1 MiB).
const DefaultMaxFrameBody = 1 << 20

// Header is the decoded fixed part of a frame.
type Header struct {
	Op    Op
	ReqID uint32
}

// Sentinel errors wrapped by *FrameError; test with errors.Is.
var (
	// ErrFrameTooShort: the length field is below 6, so not even op and
	// req_id fit.
	ErrFrameTooShort = errors.New("frame length below 6")
	// ErrFrameTooLarge: the body would exceed the configured maximum.
	ErrFrameTooLarge = errors.New("frame body over the maximum")
)

// FrameError reports a frame header that can never become a valid frame. A
// server must close the connection on it (the stream cannot be
// resynchronised).
type FrameError struct {
	Length  uint32 // the length field as received
	MaxBody int    // the limit in force
	Err     error  // ErrFrameTooShort or ErrFrameTooLarge
}

// Error describes the bad length.
func (e *FrameError) Error() string {
	return fmt.Sprintf("protocol: %v (length field %d, max body %d)", e.Err, e.Length, e.MaxBody)
}

// Unwrap returns the sentinel error.
func (e *FrameError) Unwrap() error { return e.Err }

// Decode parses the first frame in buf. It returns n == 0 and a nil error when
// buf does not yet hold a complete frame (the caller keeps the bytes and reads
// more). On success n is the number of bytes the frame used, and body aliases
// buf[HeaderSize:n] without a copy: it is valid only as long as buf is. A
// length field below 6 or a body above maxBody is a *FrameError, reported as
// soon as the 4 length bytes are in, before the body has arrived.
func Decode(buf []byte, maxBody int) (h Header, body []byte, n int, err error) {
	if len(buf) < 4 {
		return Header{}, nil, 0, nil
	}
	length := binary.BigEndian.Uint32(buf)
	if length < lengthOverhead {
		return Header{}, nil, 0, &FrameError{Length: length, MaxBody: maxBody, Err: ErrFrameTooShort}
	}
	if uint64(length)-lengthOverhead > uint64(max(maxBody, 0)) {
		return Header{}, nil, 0, &FrameError{Length: length, MaxBody: maxBody, Err: ErrFrameTooLarge}
	}
	total := 4 + int(length)
	if len(buf) < total {
		return Header{}, nil, 0, nil
	}
	return parseHeader(buf), buf[HeaderSize:total:total], total, nil
}

// parseHeader reads op and req_id from a header already checked by Decode.
func parseHeader(b []byte) Header {
	return Header{Op: Op(binary.BigEndian.Uint16(b[4:])), ReqID: binary.BigEndian.Uint32(b[6:])}
}

// FrameSize returns the total size of the frame at the start of buf (header
// included) once its length field is in, or 0 while fewer than 4 bytes are
// buffered. It does not validate; use it to size a read buffer.
func FrameSize(buf []byte) int {
	if len(buf) < 4 {
		return 0
	}
	return 4 + int(binary.BigEndian.Uint32(buf))
}

// PutHeader writes a header for a body of bodyLen bytes into b[:HeaderSize].
// It panics if b is shorter than HeaderSize.
func PutHeader(b []byte, op Op, reqID uint32, bodyLen int) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b, uint32(bodyLen+lengthOverhead))
	binary.BigEndian.PutUint16(b[4:], uint16(op))
	binary.BigEndian.PutUint32(b[6:], reqID)
}

// AppendHeader appends a header for a body of bodyLen bytes to dst, for
// callers that send the body from its own buffer (writev).
func AppendHeader(dst []byte, op Op, reqID uint32, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(bodyLen+lengthOverhead))
	dst = binary.BigEndian.AppendUint16(dst, uint16(op))
	return binary.BigEndian.AppendUint32(dst, reqID)
}

// AppendFrame appends a complete frame (header and body) to dst and returns
// the extended slice. It allocates only when dst lacks capacity.
func AppendFrame(dst []byte, op Op, reqID uint32, body []byte) []byte {
	dst = AppendHeader(dst, op, reqID, len(body))
	return append(dst, body...)
}
