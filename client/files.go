package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/chatd/chatd/protocol"
)

// Progress is called during a transfer with the bytes the server holds (or
// this client has written), counting any resumed part, and the total size.
// It runs on the transferring goroutine and should return quickly.
type Progress func(done, total int64)

// Target names the recipient of a file: exactly one of User and Group.
type Target struct {
	User  int64
	Group int64
}

// fileRetries is how many times SendFile and DownloadFile resume after a
// broken file connection before giving up.
const fileRetries = 5

// ResolveFileAddr returns the address to dial for a file_addr announced by
// the server: an empty or unspecified host (":9001", "0.0.0.0:9001") means
// the host of the node the chat connection is on (Addr).
func (c *Client) ResolveFileAddr(fileAddr string) string {
	host, port, err := net.SplitHostPort(fileAddr)
	if err != nil {
		return fileAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if chatHost, _, err := net.SplitHostPort(c.Addr()); err == nil {
			return net.JoinHostPort(chatHost, port)
		}
	}
	return fileAddr
}

// dialFile opens a file-port connection whose deadline follows ctx: it is
// closed when ctx ends, which unblocks any read or write.
func (c *Client) dialFile(ctx context.Context, fileAddr string) (net.Conn, func(), error) {
	addr := c.ResolveFileAddr(fileAddr)
	nc, err := c.opts.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("client: dial file port %s: %w", addr, err)
	}
	if nc, err = c.secure(ctx, nc, addr); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	return nc, func() { stop(); _ = nc.Close() }, nil
}

// readFileReply reads one reply frame of op from a file connection into v.
func readFileReply(r io.Reader, op protocol.Op, v protocol.Body) error {
	h, body, err := protocol.ReadFrame(r, 64<<10, nil)
	if err != nil {
		return fmt.Errorf("client: %v: reading reply: %w", op, err)
	}
	if h.Op != op {
		return fmt.Errorf("client: %v: unexpected reply op %v", op, h.Op)
	}
	return decodeReply(op, body, v)
}

// Upload sends the content of r (size bytes) to the file port with an
// upload token from FileOffer. It asks the server how much it already
// holds and sends only the rest, so calling it again after a broken
// connection resumes. It returns once the server has verified the sha256.
func (c *Client) Upload(ctx context.Context, fileAddr, token string, r io.ReadSeeker, size int64, progress Progress) error {
	nc, done, err := c.dialFile(ctx, fileAddr)
	if err != nil {
		return err
	}
	defer done()
	frame, err := protocol.AppendJSONFrame(nil, protocol.OpFileUpload, 1,
		&protocol.FileUploadReq{UploadToken: token, Offset: 0})
	if err != nil {
		return err
	}
	if _, err := nc.Write(frame); err != nil {
		return fmt.Errorf("client: file.upload: %w", ctxErr(ctx, err))
	}
	var first protocol.FileUploadResp
	if err := readFileReply(nc, protocol.OpFileUpload, &first); err != nil {
		return ctxErr(ctx, err)
	}
	if first.Offset < 0 || first.Offset > size {
		return fmt.Errorf("client: file.upload: server offset %d outside 0..%d", first.Offset, size)
	}
	if _, err := r.Seek(first.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("client: file.upload: seek to %d: %w", first.Offset, err)
	}
	pw := &progressWriter{w: nc, done: first.Offset, total: size, fn: progress}
	if progress != nil {
		progress(first.Offset, size)
	}
	if _, err := io.CopyN(pw, r, size-first.Offset); err != nil {
		return fmt.Errorf("client: file.upload: sending bytes: %w", ctxErr(ctx, err))
	}
	if err := readFileReply(nc, protocol.OpFileUpload, &protocol.Status{}); err != nil {
		return ctxErr(ctx, err)
	}
	return nil
}

// Download writes the bytes of a file from offset on to w, using a
// download token from FileFetch, and returns the whole file's size.
func (c *Client) Download(ctx context.Context, fileAddr, token string, offset int64, w io.Writer, progress Progress) (int64, error) {
	nc, done, err := c.dialFile(ctx, fileAddr)
	if err != nil {
		return 0, err
	}
	defer done()
	frame, err := protocol.AppendJSONFrame(nil, protocol.OpFileDownload, 1,
		&protocol.FileDownloadReq{DownloadToken: token, Offset: offset})
	if err != nil {
		return 0, err
	}
	if _, err := nc.Write(frame); err != nil {
		return 0, fmt.Errorf("client: file.download: %w", ctxErr(ctx, err))
	}
	var first protocol.FileDownloadResp
	if err := readFileReply(nc, protocol.OpFileDownload, &first); err != nil {
		return 0, ctxErr(ctx, err)
	}
	if offset > first.Size {
		return first.Size, fmt.Errorf("client: file.download: offset %d beyond size %d", offset, first.Size)
	}
	pw := &progressWriter{w: w, done: offset, total: first.Size, fn: progress}
	if progress != nil {
		progress(offset, first.Size)
	}
	n, err := io.CopyN(pw, nc, first.Size-offset)
	if err != nil {
		return first.Size, fmt.Errorf("client: file.download: got %d of %d bytes: %w",
			offset+n, first.Size, ctxErr(ctx, err))
	}
	return first.Size, nil
}

// SendFile offers the file at path to a user or group and uploads it,
// resuming after broken connections. It returns the file id; the server
// announces the file to the recipients once the upload is verified.
func (c *Client) SendFile(ctx context.Context, to Target, path string, progress Progress) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("client: send file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return 0, fmt.Errorf("client: send file: hashing %s: %w", path, err)
	}
	offer, err := c.FileOffer(ctx, protocol.FileOfferReq{
		ToUser: to.User, ToGroup: to.Group, Name: filepath.Base(path),
		Size: size, Sha256: hex.EncodeToString(h.Sum(nil)),
	})
	if err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		err = c.Upload(ctx, offer.FileAddr, offer.UploadToken, f, size, progress)
		if err == nil || protocol.AsError(err) != nil || ctx.Err() != nil || attempt >= fileRetries {
			if err != nil {
				return offer.FileID, err
			}
			return offer.FileID, nil
		}
		select {
		case <-time.After(c.backoff(attempt)):
		case <-ctx.Done():
			return offer.FileID, err
		}
	}
}

// DownloadFile fetches file fileID into dest. Bytes go to dest+".part"
// first, so an interrupted download (even by a restart of the program)
// resumes from what the part file holds; the digest is checked before the
// part file is renamed to dest.
func (c *Client) DownloadFile(ctx context.Context, fileID int64, dest string, progress Progress) error {
	info, err := c.FileFetch(ctx, fileID)
	if err != nil {
		return err
	}
	part := dest + ".part"
	f, err := os.OpenFile(part, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("client: download: %w", err)
	}
	defer f.Close()
	for attempt := 0; ; attempt++ {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("client: download: %w", err)
		}
		off := st.Size()
		if off > info.Size {
			off = 0 // not a prefix of this file
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("client: download: %w", err)
			}
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("client: download: %w", err)
		}
		if off == info.Size && info.Size > 0 {
			break
		}
		_, err = c.Download(ctx, info.FileAddr, info.DownloadToken, off, f, progress)
		if err == nil {
			break
		}
		if protocol.AsError(err) != nil || ctx.Err() != nil || attempt >= fileRetries {
			return err
		}
		select {
		case <-time.After(c.backoff(attempt)):
		case <-ctx.Done():
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("client: download: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("client: download: hashing: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != info.Sha256 {
		_ = os.Remove(part)
		return fmt.Errorf("client: download: sha256 mismatch (got %s, want %s)", got, info.Sha256)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("client: download: %w", err)
	}
	if err := os.Rename(part, dest); err != nil {
		return fmt.Errorf("client: download: %w", err)
	}
	return nil
}

// progressWriter counts bytes written and reports them.
type progressWriter struct {
	w           io.Writer
	done, total int64
	fn          Progress
}

// Write passes b on and reports the running total.
func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(p.done, p.total)
	}
	return n, err
}

// ctxErr prefers the context's error when the context ended (the
// connection was closed because of it).
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}
