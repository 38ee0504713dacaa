package files

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// HTTP file transfers (section 17 of the wire contract): the same tokens,
// storage and checks as the file port, spoken as tus 1.0 core for uploads
// and as plain GET with Range for downloads, for browsers that cannot open
// TCP connections. The handler expects paths of the form /{file_id}: mount
// it under /files with http.StripPrefix.

// TusVersion is the tus protocol version the upload endpoint speaks.
const TusVersion = "1.0.0"

// HTTPHandler returns the handler of /{file_id}: OPTIONS (tus discovery),
// HEAD and PATCH (tus 1.0 core uploads, Authorization: Bearer
// <upload_token>) and GET (downloads, ?token=<download_token>, with Range).
// At most Config.Workers HTTP transfers run at once; beyond that a request
// is answered 503 with Retry-After.
func (s *Server) HTTPHandler() http.Handler {
	s.httpOnce.Do(func() { s.httpSlots = make(chan struct{}, s.cfg.Workers) })
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	fileID, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/"), 10, 64)
	if err != nil || fileID <= 0 {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Tus-Resumable", TusVersion)
		h.Set("Tus-Version", TusVersion)
		h.Set("Allow", "OPTIONS, HEAD, PATCH, GET")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodHead, http.MethodPatch:
		h.Set("Tus-Resumable", TusVersion)
		if v := r.Header.Get("Tus-Resumable"); v != TusVersion {
			h.Set("Tus-Version", TusVersion)
			http.Error(w, "Tus-Resumable 1.0.0 required", http.StatusPreconditionFailed)
			return
		}
	case http.MethodGet:
	default:
		h.Set("Allow", "OPTIONS, HEAD, PATCH, GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	select {
	case s.httpSlots <- struct{}{}:
		defer func() { <-s.httpSlots }()
	default:
		metricRefused.Inc()
		h.Set("Retry-After", "1")
		http.Error(w, "all transfer workers busy", http.StatusServiceUnavailable)
		return
	}
	switch r.Method {
	case http.MethodHead:
		s.httpOffset(w, r, fileID)
	case http.MethodPatch:
		s.httpPatch(w, r, fileID)
	default:
		s.httpDownload(w, r, fileID)
	}
}

// httpClaims verifies token for purpose and fileID: 401 when it is
// missing, forged or expired, 403 when it is valid but for another purpose
// or another file. ok is false when the answer was written.
func (s *Server) httpClaims(w http.ResponseWriter, r *http.Request, token string, p Purpose, fileID int64) (Claims, bool) {
	claims, err := s.signer.Verify(token, p)
	switch {
	case errors.Is(err, ErrTokenPurpose):
		http.Error(w, "token for another purpose", http.StatusForbidden)
		return claims, false
	case err != nil:
		metricBadTokens.Inc()
		s.log.Info().Err(err).Str("remote", r.RemoteAddr).Stringer("purpose", p).Msg("http transfer refused: bad token")
		w.Header().Set("WWW-Authenticate", `Bearer realm="chatd files"`)
		http.Error(w, "missing, invalid or expired token", http.StatusUnauthorized)
		return claims, false
	case claims.FileID != fileID:
		http.Error(w, "token for another file", http.StatusForbidden)
		return claims, false
	}
	return claims, true
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// httpError answers a contract error with its HTTP status.
func httpError(w http.ResponseWriter, e *protocol.Error) {
	status := http.StatusInternalServerError
	switch e.Code {
	case protocol.CodeBadRequest:
		status = http.StatusBadRequest
	case protocol.CodeBadCredentials, protocol.CodeUnauthenticated:
		status = http.StatusUnauthorized
	case protocol.CodeForbidden:
		status = http.StatusForbidden
	case protocol.CodeNotFound:
		status = http.StatusNotFound
	case protocol.CodeTooLarge:
		status = http.StatusRequestEntityTooLarge
	case protocol.CodeUnavailable:
		w.Header().Set("Retry-After", "1")
		status = http.StatusServiceUnavailable
	}
	http.Error(w, e.Message, status)
}

// httpOffset answers tus HEAD: how many bytes the server holds
// (Upload-Offset) of how many (Upload-Length).
func (s *Server) httpOffset(w http.ResponseWriter, r *http.Request, fileID int64) {
	claims, ok := s.httpClaims(w, r, bearer(r), PurposeUpload, fileID)
	if !ok {
		return
	}
	meta, perr := s.lookup(fileID)
	if perr == nil && meta.Owner != claims.UserID {
		perr = protocol.NewError(protocol.CodeForbidden, "not the file's owner")
	}
	if perr != nil {
		httpError(w, perr)
		return
	}
	held := meta.Size
	if !s.Complete(fileID) {
		held = s.partSize(meta)
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(held, 10))
	w.Header().Set("Upload-Length", strconv.FormatInt(meta.Size, 10))
	w.WriteHeader(http.StatusOK)
}

// partSize is how many bytes of an incomplete upload are held (0 for a
// part longer than the file, which the next upload restarts).
func (s *Server) partSize(meta store.FileMeta) int64 {
	fi, err := os.Stat(s.partPath(meta.ID))
	if err != nil || fi.Size() > meta.Size {
		return 0
	}
	return fi.Size()
}

// httpPatch answers tus PATCH: append the body at Upload-Offset, which must
// be the offset the server holds (409 otherwise). The PATCH that brings the
// file to its size verifies the checksum: 204 and the file is announced
// when it matches, 400 and the bytes discarded when not. A body cut short
// keeps what arrived; HEAD tells the client where to resume.
func (s *Server) httpPatch(w http.ResponseWriter, r *http.Request, fileID int64) {
	claims, ok := s.httpClaims(w, r, bearer(r), PurposeUpload, fileID)
	if !ok {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/offset+octet-stream" {
		http.Error(w, "Content-Type must be application/offset+octet-stream", http.StatusUnsupportedMediaType)
		return
	}
	offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		http.Error(w, "Upload-Offset missing or invalid", http.StatusBadRequest)
		return
	}
	body := newHTTPBody(w, r)
	buf := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(buf)
	u, perr := s.beginUpload(claims, body.interrupt, *buf)
	if perr != nil {
		httpError(w, perr)
		return
	}
	defer u.end()
	w.Header().Set("Upload-Offset", strconv.FormatInt(u.held, 10))
	if offset != u.held {
		http.Error(w, "Upload-Offset differs from the server's offset", http.StatusConflict)
		return
	}
	rest := u.meta.Size - u.held
	if r.ContentLength > rest {
		http.Error(w, "body goes beyond the file's size", http.StatusRequestEntityTooLarge)
		return
	}
	if u.part != nil {
		n, rerr, werr := s.receive(body, u, rest, *buf)
		held := u.held + n
		w.Header().Set("Upload-Offset", strconv.FormatInt(held, 10))
		switch {
		case werr != nil:
			metricUploadsDisk.Inc()
			u.log.Warn().Err(werr).Int64("offset", held).Msg("upload write failed, partial kept")
			httpError(w, s.writeErr(werr, "write upload", u.meta.ID))
			return
		case rerr != nil && errors.Is(rerr, io.EOF):
			// The body ended before the file did: a chunk, not a cut.
			w.WriteHeader(http.StatusNoContent)
			return
		case rerr != nil:
			metricUploadsCut.Inc()
			u.log.Info().Err(rerr).Int64("offset", held).Int64("size", u.meta.Size).Msg("upload interrupted, partial kept")
			return
		}
		if perr := u.commit(); perr != nil {
			if perr.Code == protocol.CodeBadRequest {
				w.Header().Set("Upload-Offset", "0")
			}
			httpError(w, perr)
			return
		}
	}
	if perr := s.finish(&u.meta); perr != nil {
		httpError(w, perr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// httpBody is a PATCH body whose connection read deadline can be moved,
// and interrupted for good when a newer upload of the same file begins.
type httpBody struct {
	io.Reader
	rc *http.ResponseController

	mu          sync.Mutex
	interrupted bool
}

func newHTTPBody(w http.ResponseWriter, r *http.Request) *httpBody {
	return &httpBody{Reader: r.Body, rc: http.NewResponseController(w)}
}

// SetReadDeadline moves the connection's read deadline unless the body was
// interrupted. A server that cannot set deadlines (a test recorder) is
// not an error.
func (b *httpBody) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.interrupted {
		return errInterrupted
	}
	if err := b.rc.SetReadDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (b *httpBody) interrupt() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.interrupted = true
	b.rc.SetReadDeadline(time.Now())
}

// httpDownload answers GET: the whole file or the requested Range. Images
// a browser can show are served inline with their type, everything else as
// an octet-stream attachment, and always sandboxed: user bytes never run
// as a page of this origin.
func (s *Server) httpDownload(w http.ResponseWriter, r *http.Request, fileID int64) {
	claims, ok := s.httpClaims(w, r, r.URL.Query().Get("token"), PurposeDownload, fileID)
	if !ok {
		return
	}
	f, meta, perr := s.openDownload(claims)
	if perr != nil {
		httpError(w, perr)
		return
	}
	defer f.Close()
	h := w.Header()
	var head [512]byte
	n, _ := f.ReadAt(head[:], 0)
	ctype, disposition := "application/octet-stream", "attachment"
	switch sniffed := http.DetectContentType(head[:n]); sniffed {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		ctype, disposition = sniffed, "inline"
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": meta.Name}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	// The bytes of a file id never change; the token in the URL expires.
	h.Set("Cache-Control", "private, max-age=3600")
	if s.pace != nil {
		s.pace.begin()
		defer s.pace.end()
	}
	content := io.ReadSeeker(f)
	if s.rate != nil || s.pace != nil {
		content = &throttledFile{f: f, s: s}
	}
	metricDownloadsDone.Inc()
	http.ServeContent(w, r, "", time.UnixMilli(meta.CompletedAt), content)
}

// throttledFile reads a file under the transfer pacing and rate limit.
type throttledFile struct {
	f interface {
		io.Reader
		io.Seeker
	}
	s *Server
}

func (t *throttledFile) Read(p []byte) (int, error) {
	p = p[:min(len(p), t.s.stepSize(len(p)))]
	if err := t.s.throttle(len(p)); err != nil {
		return 0, err
	}
	n, err := t.f.Read(p)
	metricBytesOut.Add(float64(n))
	return n, err
}

func (t *throttledFile) Seek(off int64, whence int) (int64, error) { return t.f.Seek(off, whence) }
