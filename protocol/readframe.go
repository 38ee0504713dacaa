package protocol

import "io"

// ReadFrame reads exactly one frame from r, never a byte past it (on a file
// connection raw bytes may follow the frame). It applies Decode's checks: a
// length field below 6 or a body above maxBody is a *FrameError, reported as
// soon as the 4 length bytes are in, before anything else is read.
//
// The body is read into buf, grown when its capacity is too small, so a
// receive loop reuses one buffer by passing the previous body back; pass nil
// when the body outlives the next call. Read errors are those of
// io.ReadFull: io.EOF when r ends before the frame's first byte,
// io.ErrUnexpectedEOF when it ends inside the frame.
func ReadFrame(r io.Reader, maxBody int, buf []byte) (Header, []byte, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return Header{}, nil, err
	}
	if _, _, _, err := Decode(hdr[:4], maxBody); err != nil {
		return Header{}, nil, err
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return Header{}, nil, noEOF(err)
	}
	n := FrameSize(hdr[:]) - HeaderSize
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	body := buf[:n]
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, nil, noEOF(err)
	}
	return parseHeader(hdr[:]), body, nil
}

// noEOF turns a clean end of stream inside a frame into the truncation it is.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
