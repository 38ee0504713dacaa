package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// preemptWait bounds how long a new upload waits for an older upload of the
// same file to stop after it was interrupted (the client reconnected to
// resume before the server noticed the old connection was dead).
const preemptWait = 5 * time.Second

// Outcomes of an upload, as replied on the file port:
//   - bad token (forged, expired, wrong purpose): BAD_CREDENTIALS;
//   - a token of another user than the file's owner: FORBIDDEN;
//   - unknown file: NOT_FOUND;
//   - checksum mismatch: BAD_REQUEST, the partial file is deleted and the
//     same token may upload again from 0;
//   - disk full (ENOSPC, EDQUOT): UNAVAILABLE, the bytes written so far are
//     kept so the upload resumes once there is room (the cleaner removes
//     them if nobody comes back);
//   - any other write or sync error: INTERNAL, partial bytes kept;
//   - connection cut or stalled: no reply, every byte received is kept;
//   - file already complete (a duplicate upload, or the token reused after
//     completion): {OK, offset: size}, no bytes expected, then {OK}. This is
//     the resume rule applied to a file the server fully holds, and lets a
//     client whose connection died before the final reply learn that its
//     upload succeeded.
//
// upload returns whether the connection should be drained before closing
// (the client may still be sending bytes after an early reply).
func (s *Server) upload(c *fconn, h protocol.Header, body []byte, buf []byte) (drain bool) {
	var req protocol.FileUploadReq
	if err := protocol.DecodeRequest(body, &req, &handshakeLimits); err != nil {
		s.replyErr(c, h, protocol.AsError(err))
		return false
	}
	claims, err := s.signer.Verify(req.UploadToken, PurposeUpload)
	if err != nil {
		metricBadTokens.Inc()
		s.log.Info().Err(err).Str("remote", c.RemoteAddr().String()).Msg("upload refused: bad token")
		s.replyErr(c, h, protocol.NewError(protocol.CodeBadCredentials, "invalid or expired upload token"))
		return false
	}
	u, perr := s.beginUpload(claims, c.interrupt, buf)
	if perr != nil {
		s.replyErr(c, h, perr)
		return false
	}
	defer u.end()
	if err := s.reply(c, h, &protocol.FileUploadResp{Status: protocol.OK(), Offset: u.held}); err != nil {
		u.log.Info().Err(err).Msg("upload ended before the offset reply")
		return false
	}

	if u.part != nil {
		n, rerr, werr := s.receive(c, u, u.meta.Size-u.held, buf)
		switch {
		case werr != nil:
			metricUploadsDisk.Inc()
			u.log.Warn().Err(werr).Int64("offset", u.held+n).Msg("upload write failed, partial kept")
			s.replyErr(c, h, s.writeErr(werr, "write upload", u.meta.ID))
			return true
		case rerr != nil:
			// Cut or stalled: keep what arrived; nobody is left to answer.
			metricUploadsCut.Inc()
			u.log.Info().Err(rerr).Int64("offset", u.held+n).Int64("size", u.meta.Size).Msg("upload interrupted, partial kept")
			return false
		}
		if perr := u.commit(); perr != nil {
			s.replyErr(c, h, perr)
			return false
		}
	}
	if perr := s.finish(&u.meta); perr != nil {
		s.replyErr(c, h, perr)
		return false
	}
	s.reply(c, h, protocol.OK())
	return false
}

// uploading is one upload in progress, on the file port or over HTTP: the
// only one of its file (acquired), with the partial file open for
// appending and its bytes so far hashed.
type uploading struct {
	s       *Server
	meta    store.FileMeta
	held    int64        // bytes the server holds: the resume offset
	part    *os.File     // nil when the file is already complete
	behind  *writeBehind // part, handed to writeback as it grows
	sum     hash.Hash    // over the part's bytes
	release func()
	log     zerolog.Logger
}

// beginUpload checks that claims (a verified upload token) name an
// existing file of its user, makes this the file's only upload (stopping an
// older one through its interrupt) and opens the partial file. A file
// already complete yields an upload with no part: the client learns it
// holds every byte. Call end when done.
func (s *Server) beginUpload(claims Claims, interrupt func(), buf []byte) (*uploading, *protocol.Error) {
	meta, perr := s.lookup(claims.FileID)
	if perr != nil {
		return nil, perr
	}
	if meta.Owner != claims.UserID {
		return nil, protocol.NewError(protocol.CodeForbidden, "not the file's owner")
	}
	release, ok := s.acquire(meta.ID, interrupt)
	if !ok {
		return nil, protocol.NewError(protocol.CodeUnavailable, "another upload of this file is in progress")
	}
	u := &uploading{s: s, meta: meta, held: meta.Size, release: release,
		log: s.log.With().Int64("file_id", meta.ID).Int64("user", claims.UserID).Logger()}
	complete := s.Complete(meta.ID)
	if !complete && meta.CompletedAt != 0 {
		release()
		return nil, s.internal(errors.New("file marked complete but its bytes are missing"), "upload", meta.ID)
	}
	if !complete {
		var err error
		u.part, u.held, u.sum, err = s.openPart(meta, buf)
		if err != nil {
			release()
			return nil, s.writeErr(err, "open partial upload", meta.ID)
		}
		u.behind = newWriteBehind(u.part, u.held)
	}
	return u, nil
}

// writer is where received bytes go: the part file, written behind.
func (u *uploading) writer() io.Writer {
	if u.s.cfg.wrapPart != nil {
		return u.s.cfg.wrapPart(u.behind)
	}
	return u.behind
}

// commit verifies and installs the complete part (see commitPart).
func (u *uploading) commit() *protocol.Error {
	part := u.part
	u.part = nil
	if perr := u.s.commitPart(u.meta, part, u.sum, u.log); perr != nil {
		return perr
	}
	u.log.Info().Int64("size", u.meta.Size).Int64("resumed_from", u.held).Msg("upload complete")
	return nil
}

// end closes the part file (its bytes stay for a resume) and lets another
// upload of the file begin.
func (u *uploading) end() {
	if u.part != nil {
		u.part.Close()
	}
	u.release()
}

// finish marks a verified file complete in the store (unless it already
// is) and announces it through OnComplete. Both steps are repeated by the
// next upload attempt when they fail, so a failure is UNAVAILABLE.
func (s *Server) finish(meta *store.FileMeta) *protocol.Error {
	if meta.CompletedAt == 0 {
		ts := s.cfg.Now().UnixMilli()
		if err := s.cfg.Meta.MarkFileComplete(s.ctx, meta.ID, ts); err != nil {
			return s.storeErr(err, "mark file complete", meta.ID)
		}
		meta.CompletedAt = ts
	}
	if s.cfg.OnComplete != nil {
		if err := s.cfg.OnComplete(s.ctx, *meta); err != nil {
			s.log.Warn().Err(err).Int64("file_id", meta.ID).Msg("completion hook failed")
			return protocol.NewError(protocol.CodeUnavailable, "file stored but not yet announced; upload again to retry")
		}
	}
	return nil
}

// commitPart ends an upload whose bytes have all arrived: it syncs and
// closes part, checks the checksum (a mismatch discards the bytes and is
// BAD_REQUEST: upload again from 0), and renames the part into place. part
// is closed whatever the outcome.
func (s *Server) commitPart(meta store.FileMeta, part *os.File, sum hash.Hash, log zerolog.Logger) *protocol.Error {
	if err := part.Sync(); err != nil {
		part.Close()
		return s.writeErr(err, "sync upload", meta.ID)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != meta.SHA256 {
		part.Close()
		if err := os.Remove(s.partPath(meta.ID)); err != nil {
			log.Error().Err(err).Msg("remove mismatched upload")
		}
		metricUploadsBadSum.Inc()
		log.Info().Msg("upload checksum mismatch, discarded")
		return protocol.BadRequest("sha256", "checksum of the uploaded bytes differs; upload again from 0")
	}
	err := part.Close()
	if err == nil {
		err = os.Rename(s.partPath(meta.ID), s.finalPath(meta.ID))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return s.writeErr(err, "commit upload", meta.ID)
	}
	metricUploadsDone.Inc()
	return nil
}

// openPart opens (or creates) the partial upload and hashes the bytes it
// already holds, so the final checksum covers the whole file. A part longer
// than the file is corrupt and restarted from 0.
func (s *Server) openPart(meta store.FileMeta, buf []byte) (*os.File, int64, hash.Hash, error) {
	f, err := os.OpenFile(s.partPath(meta.ID), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("open part: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("stat part: %w", err)
	}
	held := fi.Size()
	if held > meta.Size {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, 0, nil, fmt.Errorf("truncate part: %w", err)
		}
		held = 0
	}
	sum := sha256.New()
	for off := int64(0); off < held; {
		var k int
		var err error
		s.withCPU(func() {
			k, err = f.ReadAt(buf[:min(int64(len(buf)), held-off)], off)
			sum.Write(buf[:k])
		})
		off += int64(k)
		if err != nil && !(errors.Is(err, io.EOF) && off == held) {
			f.Close()
			return nil, 0, nil, fmt.Errorf("hash part: %w", err)
		}
	}
	if _, err := f.Seek(held, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("seek part: %w", err)
	}
	return f, held, sum, nil
}

// deadlineReader is an upload's byte source: a file-port connection, or an
// HTTP request body whose connection deadline can be moved.
type deadlineReader interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// receive copies n bytes from c to u's part and sum, moving the read
// deadline forward as bytes arrive. It returns the bytes written and either
// the read error (connection cut, stalled, or ended early: io.EOF when the
// source ended cleanly before n) or the write error.
func (s *Server) receive(c deadlineReader, u *uploading, n int64, buf []byte) (written int64, rerr, werr error) {
	w, sum := u.writer(), u.sum
	for written < n {
		if err := c.SetReadDeadline(time.Now().Add(s.cfg.IOTimeout)); err != nil {
			return written, err, nil
		}
		chunk := buf[:s.stepSize(len(buf))]
		if rest := n - written; rest < int64(len(chunk)) {
			chunk = chunk[:rest]
		}
		if err := s.throttle(len(chunk)); err != nil {
			return written, err, nil
		}
		k, err := c.Read(chunk)
		if k > 0 {
			var m int
			var werr error
			s.withCPU(func() {
				m, werr = w.Write(chunk[:k])
				sum.Write(chunk[:m])
			})
			written += int64(m)
			metricBytesIn.Add(float64(m))
			if werr != nil {
				return written, nil, fmt.Errorf("write part: %w", werr)
			}
			u.behind.settle() // may wait for the disk: outside the CPU slot
		}
		if err != nil && !(errors.Is(err, io.EOF) && written == n) {
			return written, fmt.Errorf("read upload: %w", err), nil
		}
	}
	return written, nil, nil
}

// withCPU runs a CPU-heavy step (hashing, copying a chunk to the page
// cache) holding one of the CPUSlots, then yields the processor, so file
// work never occupies every processor and delays the chat loops.
func (s *Server) withCPU(fn func()) {
	s.cpuSlots <- struct{}{}
	fn()
	<-s.cpuSlots
	runtime.Gosched()
}

// writeErr maps a local file-system failure to the reply: UNAVAILABLE when
// the disk is full, else INTERNAL (logged).
func (s *Server) writeErr(err error, what string, fileID int64) *protocol.Error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.log.Error().Err(err).Int64("file_id", fileID).Str("op", what).Msg("disk full")
		return protocol.NewError(protocol.CodeUnavailable, "server disk full, retry later")
	}
	return s.internal(err, what, fileID)
}

// acquire makes the caller, stopped by interrupt, the only upload of
// fileID. An older upload of the same file is interrupted (its client has
// evidently reconnected to resume) and waited for; false when it does not
// stop within preemptWait.
func (s *Server) acquire(fileID int64, interrupt func()) (release func(), ok bool) {
	deadline := time.NewTimer(preemptWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		old := s.uploads[fileID]
		if old == nil {
			a := &activeUpload{interrupt: interrupt, done: make(chan struct{})}
			s.uploads[fileID] = a
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.uploads, fileID)
				s.mu.Unlock()
				close(a.done)
			}, true
		}
		s.mu.Unlock()
		old.interrupt()
		select {
		case <-old.done:
		case <-deadline.C:
			return nil, false
		}
	}
}
