package files

import (
	"fmt"
	"io"

	"github.com/chatd/chatd/protocol"
)

// readFrame reads exactly one frame from r, never a byte past it: on an
// upload connection the raw file bytes may follow immediately. A length
// field outside the rules is a *protocol.FrameError, detected before the
// body is read.
func readFrame(r io.Reader, maxBody int) (protocol.Header, []byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return protocol.Header{}, nil, fmt.Errorf("read frame length: %w", err)
	}
	// Decode validates the length field as soon as it is in.
	if _, _, _, err := protocol.Decode(lenBuf[:], maxBody); err != nil {
		return protocol.Header{}, nil, err
	}
	buf := make([]byte, protocol.FrameSize(lenBuf[:]))
	copy(buf, lenBuf[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		return protocol.Header{}, nil, fmt.Errorf("read frame: %w", err)
	}
	h, body, _, err := protocol.Decode(buf, maxBody)
	if err != nil {
		return protocol.Header{}, nil, err
	}
	return h, body, nil
}
