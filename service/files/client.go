package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/chatd/chatd/protocol"
)

// This file is a minimal file-port client (section 9 of the contract), used
// by the tests and benchmarks and usable by any Go client.

// uploadReqID is the req_id the client helpers put on their single request.
const uploadReqID = 1

// copyBufSize is the client's copy buffer when sendfile does not apply.
const copyBufSize = 256 << 10

// Upload uploads size bytes of src to the file port at addr with an upload
// token. offset is where the client believes it can resume (0 for a new
// upload); the server answers with the offset it really holds and the
// client sends src from there. It returns that offset and nil once the
// server verified the file; a failure reply is returned as a
// *protocol.Error (BAD_REQUEST for a checksum mismatch, BAD_CREDENTIALS
// for a bad token, ...). Cancelling ctx aborts the transfer; the server
// keeps what arrived. An *os.File src is sent with sendfile.
func Upload(ctx context.Context, addr, token string, offset int64, src io.ReaderAt, size int64) (int64, error) {
	c, stop, err := dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	defer stop()
	var resp protocol.FileUploadResp
	err = exchange(c, protocol.OpFileUpload, &protocol.FileUploadReq{UploadToken: token, Offset: offset}, &resp)
	if err != nil {
		return 0, ctxErr(ctx, err)
	}
	if err := resp.Err(); err != nil {
		return 0, err
	}
	from := resp.Offset
	if from < 0 || from > size {
		return 0, fmt.Errorf("files: server holds %d bytes of a %d-byte file", from, size)
	}
	// Send concurrently with waiting for the verdict: the server may answer
	// early (disk full) while bytes are still going out.
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendFrom(c, src, from, size-from) }()
	var final protocol.Status
	ferr := readReply(c, protocol.OpFileUpload, &final)
	if ferr != nil {
		if serr := <-sendErr; serr != nil {
			return from, ctxErr(ctx, fmt.Errorf("files: upload: %w", serr))
		}
		return from, ctxErr(ctx, ferr)
	}
	c.Close() // unblocks the sender if the server answered early
	<-sendErr
	return from, final.Err()
}

// sendFrom writes n bytes of src from off to c.
func sendFrom(c net.Conn, src io.ReaderAt, off, n int64) error {
	if f, ok := src.(*os.File); ok {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("seek source: %w", err)
		}
		_, err := io.Copy(c, io.LimitReader(f, n))
		return err
	}
	// writerOnly hides ReadFrom so that CopyBuffer uses our larger buffer.
	_, err := io.CopyBuffer(struct{ io.Writer }{c}, io.NewSectionReader(src, off, n), make([]byte, copyBufSize))
	return err
}

// Download downloads a file from the file port at addr with a download
// token, writing the bytes from offset to the end to dst. It returns the
// whole file's size. A failure reply is a *protocol.Error (NOT_FOUND for an
// incomplete file); fewer bytes than promised is io.ErrUnexpectedEOF.
func Download(ctx context.Context, addr, token string, offset int64, dst io.Writer) (int64, error) {
	c, stop, err := dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	defer stop()
	var resp protocol.FileDownloadResp
	if err := exchange(c, protocol.OpFileDownload, &protocol.FileDownloadReq{DownloadToken: token, Offset: offset}, &resp); err != nil {
		return 0, ctxErr(ctx, err)
	}
	if err := resp.Err(); err != nil {
		return 0, err
	}
	want := resp.Size - offset
	n, err := io.Copy(dst, io.LimitReader(c, want))
	if err != nil {
		return resp.Size, ctxErr(ctx, fmt.Errorf("files: download: %w", err))
	}
	if n < want {
		return resp.Size, ctxErr(ctx, fmt.Errorf("files: download got %d of %d bytes: %w", n, want, io.ErrUnexpectedEOF))
	}
	return resp.Size, nil
}

// dial connects to addr; stop detaches the cancellation that interrupts
// the connection's I/O when ctx ends.
func dial(ctx context.Context, addr string) (net.Conn, func() bool, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("files: dial %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return c, stop, nil
}

// exchange sends the request frame and reads the first reply.
func exchange(c net.Conn, op protocol.Op, req, resp any) error {
	frame, err := protocol.AppendJSONFrame(nil, op, uploadReqID, req)
	if err != nil {
		return err
	}
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("files: send %s: %w", op, err)
	}
	return readReply(c, op, resp)
}

// readReply reads one reply frame for op into resp.
func readReply(c net.Conn, op protocol.Op, resp any) error {
	h, body, err := protocol.ReadFrame(c, protocol.DefaultMaxFrameBody, nil)
	if err != nil {
		return fmt.Errorf("files: read %s reply: %w", op, err)
	}
	if h.Op != op && h.Op != 0 {
		return fmt.Errorf("files: reply op %s to %s", h.Op, op)
	}
	if err := protocol.Unmarshal(body, resp); err != nil {
		return fmt.Errorf("files: decode %s reply: %w", op, err)
	}
	return nil
}

// ctxErr prefers ctx's error when ctx ended (the cause of the I/O failure).
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}
