package files

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// rateBurst is the most bytes one transfer step moves under a RateLimit.
const rateBurst = 256 << 10

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("files: server closed")

// rejectTimeout bounds the whole exchange with a refused connection:
// reading its request (to echo op and req_id) and writing UNAVAILABLE.
const rejectTimeout = time.Second

// drainTimeout and drainLimit bound how long a connection answered early
// (an error while the client may still be sending file bytes) is read and
// discarded after our reply, so that closing it does not reset the
// connection and destroy the reply before the client reads it.
const (
	drainTimeout = time.Second
	drainLimit   = 64 << 20
)

// Server is the file-port server. Create it with New, feed it listeners with
// Serve, stop it with Shutdown or Close. It is safe for concurrent use.
type Server struct {
	cfg    Config
	dir    string // DataDir/files
	signer *Signer
	log    zerolog.Logger

	ctx    context.Context // cancelled by Close: store calls and OnComplete
	cancel context.CancelFunc

	jobs        chan *fconn   // unbuffered: a send succeeds only when a worker is idle
	waitSlots   chan struct{} // bounds connections waiting for a worker
	rejectSlots chan struct{} // bounds goroutines answering refused connections
	quit        chan struct{} // closed by Shutdown: workers stop taking jobs
	cpuSlots    chan struct{} // bounds workers hashing and writing at once
	rate        *rate.Limiter // nil without Config.RateLimit and pacing
	pace        *pacer        // nil with Config.DisablePacing

	wg        sync.WaitGroup // workers, waiters, rejecters, the cleaner
	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*fconn]struct{}
	uploads   map[int64]*activeUpload

	httpOnce  sync.Once
	httpSlots chan struct{} // bounds HTTP transfers (http.go)
	bufs      sync.Pool     // *[]byte upload copy buffers for HTTP transfers
}

// activeUpload is the one upload in progress for a file id, on the file
// port or over HTTP.
type activeUpload struct {
	interrupt func() // makes the upload's pending and future reads fail
	done      chan struct{}
}

// New checks cfg, loads or creates the token secret, creates the storage
// directory, and starts the workers and the stale-upload cleaner. Call Serve
// to accept connections.
func New(cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	signer, err := NewSigner(cfg.Secret, cfg.TokenTTL, cfg.Now)
	if err != nil {
		return nil, err
	}
	dir, err := filesDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:         cfg,
		dir:         dir,
		signer:      signer,
		log:         cfg.Logger.With().Str("component", "files").Logger(),
		ctx:         ctx,
		cancel:      cancel,
		jobs:        make(chan *fconn),
		waitSlots:   make(chan struct{}, cfg.Queue),
		rejectSlots: make(chan struct{}, max(cfg.Queue, 16)),
		quit:        make(chan struct{}),
		cpuSlots:    make(chan struct{}, cfg.CPUSlots),
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[*fconn]struct{}),
		uploads:     make(map[int64]*activeUpload),
	}
	s.bufs.New = func() any {
		b := make([]byte, cfg.BufferSize)
		return &b
	}
	if cfg.RateLimit > 0 {
		s.rate = rate.NewLimiter(rate.Limit(cfg.RateLimit), rateBurst)
	}
	if !cfg.DisablePacing {
		if s.rate == nil {
			s.rate = rate.NewLimiter(rate.Inf, rateBurst)
		}
		s.pace = newPacer(s.rate, float64(cfg.RateLimit))
		s.pace.onRate = metricPace.Set
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.pace.run(s.quit)
		}()
	}
	s.wg.Add(cfg.Workers)
	for range cfg.Workers {
		go s.worker()
	}
	if cfg.CleanupInterval > 0 {
		s.wg.Add(1)
		go s.cleaner()
	}
	return s, nil
}

// Signer returns the server's token signer, for the chat service to issue
// upload and download tokens.
func (s *Server) Signer() *Signer { return s.signer }

// UploadToken issues an upload token for userID (the file's owner) and
// fileID.
func (s *Server) UploadToken(userID, fileID int64) string {
	return s.signer.Issue(PurposeUpload, userID, fileID)
}

// DownloadToken issues a download token for userID and fileID.
func (s *Server) DownloadToken(userID, fileID int64) string {
	return s.signer.Issue(PurposeDownload, userID, fileID)
}

// Complete reports whether the verified bytes of fileID are on disk.
func (s *Server) Complete(fileID int64) bool {
	_, err := os.Stat(s.finalPath(fileID))
	return err == nil
}

func (s *Server) finalPath(id int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(id, 10))
}

func (s *Server) partPath(id int64) string {
	return filepath.Join(s.dir, strconv.FormatInt(id, 10)+partSuffix)
}

const partSuffix = ".part"

// ListenAndServe listens on the TCP address addr and serves it until Close.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("files: listen %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln and hands each to the worker pool; it
// returns ErrServerClosed after Shutdown or Close (which close ln), or the
// listener's error. Running out of file descriptors pauses accepting with a
// backoff instead of failing.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	// Counting the accept loop keeps the WaitGroup above zero while it may
	// still start waiters, so Shutdown's Wait never races an Add.
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		s.wg.Done()
	}()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if retryableAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn().Err(err).Dur("backoff_ms", backoff).Msg("accept failed, retrying")
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("files: accept: %w", err)
		}
		backoff = 0
		fc := s.track(c)
		if fc == nil {
			c.Close()
			return ErrServerClosed
		}
		s.dispatch(fc)
	}
}

// retryableAccept reports accept errors that pass: out of descriptors, or a
// connection that died before it was accepted.
func retryableAccept(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM) || (errors.As(err, &ne) && ne.Timeout())
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// track records c so that Close can interrupt it; nil when closing.
func (s *Server) track(c net.Conn) *fconn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	fc := &fconn{Conn: c}
	s.conns[fc] = struct{}{}
	return fc
}

// closeConn closes c and forgets it.
func (s *Server) closeConn(c *fconn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// dispatch gives c to an idle worker, or queues it (a goroutine waiting up
// to QueueWait for a worker), or refuses it when the queue is full. It never
// blocks the accept loop.
func (s *Server) dispatch(c *fconn) {
	select {
	case s.jobs <- c:
		return
	default:
	}
	select {
	case s.waitSlots <- struct{}{}:
		s.wg.Add(1)
		go s.wait(c)
	default:
		s.refuse(c, "all workers busy and the queue is full")
	}
}

// wait holds a queued connection until a worker takes it or QueueWait
// passes.
func (s *Server) wait(c *fconn) {
	defer s.wg.Done()
	defer func() { <-s.waitSlots }()
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.jobs <- c:
	case <-t.C:
		s.reject(c, "all workers busy")
	case <-s.quit:
		s.reject(c, "server shutting down")
	}
}

// refuse answers c with UNAVAILABLE on a bounded set of goroutines; when
// even those are busy (a connection flood) c is closed without an answer.
func (s *Server) refuse(c *fconn, why string) {
	select {
	case s.rejectSlots <- struct{}{}:
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.rejectSlots }()
			s.reject(c, why)
		}()
	default:
		metricRefused.Inc()
		s.log.Warn().Str("remote", c.RemoteAddr().String()).Msg("connection flood: closed without reply")
		s.closeConn(c)
	}
}

// reject reads c's request, if it arrives quickly, to echo its op and
// req_id, answers UNAVAILABLE and closes c.
func (s *Server) reject(c *fconn, why string) {
	defer s.closeConn(c)
	c.SetDeadline(time.Now().Add(rejectTimeout))
	var h protocol.Header
	if rh, _, err := protocol.ReadFrame(c, maxHandshakeBody, nil); err == nil && rh.Op.IsFileRequest() {
		h = rh
	}
	metricRefused.Inc()
	s.log.Warn().Str("remote", c.RemoteAddr().String()).Str("reason", why).Msg("file connection refused")
	s.writeFrame(c, protocol.AppendErrorFrame(nil, h.Op, h.ReqID, protocol.NewError(protocol.CodeUnavailable, why)))
}

// worker serves connections from the job channel, one at a time, with its
// own copy buffer.
func (s *Server) worker() {
	defer s.wg.Done()
	buf := make([]byte, s.cfg.BufferSize)
	for {
		select {
		case c := <-s.jobs:
			metricActive.Inc()
			s.serveConn(c, buf)
			metricActive.Dec()
		case <-s.quit:
			return
		}
	}
}

// cleaner removes stale partial uploads every CleanupInterval.
func (s *Server) cleaner() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if n, err := s.CleanStale(); err != nil {
				s.log.Error().Err(err).Msg("stale upload cleanup failed")
			} else if n > 0 {
				s.log.Info().Int("removed", n).Msg("stale uploads removed")
			}
		case <-s.quit:
			return
		}
	}
}

// serveConn runs one connection's single exchange and closes it.
func (s *Server) serveConn(c *fconn, buf []byte) {
	drain := false
	defer func() {
		if drain {
			s.lingerClose(c)
		}
		s.closeConn(c)
	}()
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	h, body, err := protocol.ReadFrame(c, maxHandshakeBody, nil)
	if err != nil {
		// A bad or missing request frame: the contract says send nothing
		// more and close.
		s.log.Debug().Err(err).Str("remote", c.RemoteAddr().String()).Msg("file connection without a valid request frame")
		return
	}
	c.SetDeadline(time.Time{})
	if s.pace != nil && (h.Op == protocol.OpFileUpload || h.Op == protocol.OpFileDownload) {
		s.pace.begin()
		defer s.pace.end()
	}
	switch h.Op {
	case protocol.OpFileUpload:
		drain = s.upload(c, h, body, buf)
	case protocol.OpFileDownload:
		s.download(c, h, body)
	default:
		s.replyErr(c, h, protocol.UnsupportedOp(h.Op))
	}
}

// lingerClose half-closes c after an early reply and discards what the
// client still sends for a short while, so the close does not turn into a
// reset that destroys the reply in flight.
func (s *Server) lingerClose(c *fconn) {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(drainTimeout))
	io.Copy(io.Discard, io.LimitReader(c, drainLimit))
}

// throttle waits until n bytes (at most rateBurst) may move under the
// rate limit; it fails only when the server is closing.
func (s *Server) throttle(n int) error {
	if s.pace != nil {
		s.pace.step(n)
	}
	if s.rate == nil {
		return nil
	}
	if err := s.rate.WaitN(s.ctx, n); err != nil {
		return fmt.Errorf("files: rate limit: %w", err)
	}
	return nil
}

// stepSize is the most bytes one step of a transfer moves: limit, or
// rateBurst under a rate limit.
func (s *Server) stepSize(limit int) int {
	if s.rate != nil {
		return min(limit, rateBurst)
	}
	return limit
}

// writeFrame writes one frame with the I/O timeout.
func (s *Server) writeFrame(c net.Conn, frame []byte) error {
	c.SetWriteDeadline(time.Now().Add(s.cfg.IOTimeout))
	if _, err := c.Write(frame); err != nil {
		return fmt.Errorf("files: write reply: %w", err)
	}
	return nil
}

// reply sends the JSON reply v to request h.
func (s *Server) reply(c net.Conn, h protocol.Header, v any) error {
	frame, err := protocol.AppendJSONFrame(nil, h.Op, h.ReqID, v)
	if err != nil {
		return err
	}
	return s.writeFrame(c, frame)
}

// replyErr sends the failure reply e to request h.
func (s *Server) replyErr(c net.Conn, h protocol.Header, e *protocol.Error) error {
	return s.writeFrame(c, protocol.AppendErrorFrame(nil, h.Op, h.ReqID, e))
}

// lookup returns a file's metadata, mapping store errors to reply errors.
func (s *Server) lookup(fileID int64) (store.FileMeta, *protocol.Error) {
	m, err := s.cfg.Meta.File(s.ctx, fileID)
	if err != nil {
		return m, s.storeErr(err, "file lookup", fileID)
	}
	return m, nil
}

// storeErr maps a store failure to the reply error: NOT_FOUND, UNAVAILABLE,
// or INTERNAL with a logged correlation id.
func (s *Server) storeErr(err error, what string, fileID int64) *protocol.Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return protocol.NewError(protocol.CodeNotFound, "no such file")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		s.log.Warn().Err(err).Int64("file_id", fileID).Str("op", what).Msg("store unavailable")
		return protocol.NewError(protocol.CodeUnavailable, "store unavailable, retry later")
	}
	return s.internal(err, what, fileID)
}

// internal logs an unexpected fault under a fresh correlation id and
// returns the INTERNAL reply naming it.
func (s *Server) internal(err error, what string, fileID int64) *protocol.Error {
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.log.Error().Err(err).Str("correlation_id", id).Int64("file_id", fileID).Str("op", what).Msg("file transfer fault")
	return protocol.Internal(id)
}

// Shutdown stops accepting, refuses queued connections with UNAVAILABLE,
// and waits for transfers in progress to end until ctx is done, then
// interrupts the rest. It returns ctx's error if it had to interrupt.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.quit)
		for ln := range s.listeners {
			ln.Close()
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.interrupt()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
	return err
}

// Close stops the server at once: transfers in progress are interrupted
// (their partial uploads are kept for resume).
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
