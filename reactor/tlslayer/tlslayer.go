package tlslayer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/reactor"
)

// Errors a TLS layer closes its connection with.
var (
	// ErrHandshakeTimeout: the handshake did not finish within Options.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("tlslayer: handshake timed out")
	// ErrBusy: Options.MaxHandshakes handshakes were already in flight.
	ErrBusy = errors.New("tlslayer: too many handshakes in flight")
)

// Options tune a Config's layers. Zero values select the defaults.
type Options struct {
	// HandshakeTimeout closes a connection whose handshake has not finished
	// in time (a peer that stalls mid-handshake); 0 = 10s.
	HandshakeTimeout time.Duration
	// MaxHandshakes caps handshakes in flight; a connection over it is closed
	// with ErrBusy at once; 0 = 10,000.
	MaxHandshakes int
	// HandshakeCPU caps handshakes computing at once; 0 = GOMAXPROCS/2, at
	// least 1, so handshakes leave CPU to the loops.
	HandshakeCPU int
	// OnHandshake, if set, runs on the loop when the handshake has finished,
	// before any decrypted byte reaches OnData; an error closes the
	// connection with it.
	OnHandshake func(c *reactor.Conn, st tls.ConnectionState) error
}

// maxHandshakeInput bounds what the handshake goroutine is given at once (a
// ClientHello, certificates and Finished fit well within it). A TLS 1.3
// client may send application data right after its Finished, before the
// server has read it: what does not fit stays with the connection, bounded
// by reactor.Options.MaxInbound like any unread input, until the handshake
// is done.
const maxHandshakeInput = 256 << 10

// Config makes TLS layers that share one tls.Config and one set of
// handshake limits. It is safe for concurrent use.
type Config struct {
	tls    *tls.Config
	client bool
	opts   Options
	flight chan struct{} // one token per handshake in flight
	cpu    chan struct{} // one token per handshake computing
}

// NewServer returns a Config for the server side of connections. cfg must
// hold a certificate (Certificates or GetCertificate); it is cloned.
func NewServer(cfg *tls.Config, opts Options) *Config { return newConfig(cfg, opts, false) }

// NewClient returns a Config for the client side (engine Dial); cfg is
// cloned and renegotiation is refused.
func NewClient(cfg *tls.Config, opts Options) *Config { return newConfig(cfg, opts, true) }

func newConfig(cfg *tls.Config, opts Options, client bool) *Config {
	cfg = cfg.Clone()
	cfg.Renegotiation = tls.RenegotiateNever
	// Records as large as the output allows: the loop packs a pass's writes
	// into as few records as it can.
	cfg.DynamicRecordSizingDisabled = true
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.MaxHandshakes <= 0 {
		opts.MaxHandshakes = 10_000
	}
	if opts.HandshakeCPU <= 0 {
		opts.HandshakeCPU = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Config{
		tls:    cfg,
		client: client,
		opts:   opts,
		flight: make(chan struct{}, opts.MaxHandshakes),
		cpu:    make(chan struct{}, opts.HandshakeCPU),
	}
}

// Layer returns a new TLS layer for one connection: push it with
// c.PushLayer, from OnOpen or from OnData once the first byte (0x16) shows a
// handshake. The handler's output written meanwhile is held until the
// handshake is done.
func (cfg *Config) Layer() *Layer { return &Layer{cfg: cfg} }

// Layer is TLS on one connection. Its methods, except ConnectionState, are
// the reactor.Layer interface, called by the reactor.
type Layer struct {
	cfg    *Config
	io     *reactor.LayerIO
	tc     *tls.Conn
	tr     transport
	ready  bool        // handshake done and switched to loop mode (loop-owned)
	hsErr  error       // handshake result; written by the handshake goroutine before Wake
	gather []byte      // small units packed into one record until Flush
	done   atomic.Bool // the handshake succeeded (for ConnectionState)
}

// ConnectionState returns the negotiated state (version, cipher suite, ALPN
// protocol, SNI server name, peer certificates); ok is false until the
// handshake has finished. Safe from any goroutine.
func (l *Layer) ConnectionState() (st tls.ConnectionState, ok bool) {
	if !l.done.Load() {
		return tls.ConnectionState{}, false
	}
	return l.tc.ConnectionState(), true
}

// Open starts the handshake on its own goroutine and holds the handler's output.
func (l *Layer) Open(io *reactor.LayerIO) error {
	l.io = io
	select {
	case l.cfg.flight <- struct{}{}:
	default:
		return ErrBusy
	}
	io.Hold(true)
	l.tr.init(io, l.cfg.cpu)
	if l.cfg.client {
		l.tc = tls.Client(&l.tr, l.cfg.tls)
	} else {
		l.tc = tls.Server(&l.tr, l.cfg.tls)
	}
	go l.handshake()
	return nil
}

// handshake runs crypto/tls's handshake off the loop, then wakes the loop.
func (l *Layer) handshake() {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.opts.HandshakeTimeout)
	err := l.tc.HandshakeContext(ctx)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = ErrHandshakeTimeout
	}
	cancel()
	l.tr.handshakeDone()
	<-l.cfg.flight
	l.hsErr = err
	l.io.Wake()
}

// Wake finishes the handshake on the loop: from now on the loop feeds
// records to the tls.Conn and reads them itself.
func (l *Layer) Wake() error {
	if l.ready {
		return nil
	}
	if l.hsErr != nil {
		return fmt.Errorf("tlslayer: handshake: %w", l.hsErr)
	}
	l.ready = true
	rest := l.tr.takeLoop()
	l.done.Store(true)
	if f := l.cfg.opts.OnHandshake; f != nil {
		if err := f(l.io.Conn(), l.tc.ConnectionState()); err != nil {
			return err
		}
	}
	l.io.Hold(false)
	// Records that came with or after the peer's Finished: those the
	// handshake read sit in the tls.Conn, the rest in rest.
	_, err := l.feed(rest)
	return err
}

// Decode hands what arrived to crypto/tls (during the handshake: to the
// handshake goroutine) and passes the plaintext up. crypto/tls keeps a
// partial record itself, so everything is consumed.
func (l *Layer) Decode(in []byte) (int, error) {
	if !l.ready {
		return l.tr.feedHandshake(in), nil
	}
	return l.feed(in)
}

// Encode packs small units into one record buffer and encrypts big ones at once.
func (l *Layer) Encode(unit [][]byte) error {
	for _, b := range unit {
		if len(l.gather)+len(b) <= maxGather {
			if l.gather == nil {
				l.gather = getBuf()[:0]
			}
			l.gather = append(l.gather, b...)
			continue
		}
		if err := l.Flush(); err != nil {
			return err
		}
		if _, err := l.tc.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Flush encrypts what Encode packed.
func (l *Layer) Flush() error {
	if len(l.gather) == 0 {
		return nil
	}
	_, err := l.tc.Write(l.gather)
	putBuf(l.gather)
	l.gather = nil
	return err
}

// Close sends close_notify after the output (only once the handshake is done).
func (l *Layer) Close() {
	if !l.ready {
		l.tr.Close()
		return
	}
	l.Flush()
	l.tc.CloseWrite()
}

// Release stops a handshake still running and drops the buffers.
func (l *Layer) Release() {
	l.tr.Close()
	if l.gather != nil {
		putBuf(l.gather)
		l.gather = nil
	}
}

// maxGather is the plaintext packed into one record.
const maxGather = 16 << 10

// bufs holds record-sized scratch buffers shared by all connections.
var bufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func getBuf() []byte  { return *bufs.Get().(*[]byte) }
func putBuf(b []byte) { b = b[:cap(b)]; bufs.Put(&b) }

// feed gives in to crypto/tls and passes the plaintext of every record
// it completes up.
func (l *Layer) feed(in []byte) (int, error) {
	l.tr.feed = in
	lendInput(l.tc)
	err := l.readPlain()
	reclaimInput(l.tc)
	l.tr.feed = nil
	return len(in), err
}

// readPlain reads from the tls.Conn until the fed records are used up and
// passes the plaintext up in buffer-sized pieces.
func (l *Layer) readPlain() error {
	buf := getBuf()
	defer putBuf(buf)
	n := 0
	for {
		m, err := l.tc.Read(buf[n:])
		n += m
		if n > 0 && (n == len(buf) || err != nil) {
			l.io.Up(buf[:n])
			n = 0
		}
		if err != nil {
			if err == errWouldBlock {
				return nil
			}
			return err // io.EOF on close_notify
		}
	}
}

// errWouldBlock is what the transport's Read returns when the loop has fed
// everything: a net.Error with Temporary() true, which crypto/tls does not
// make sticky, so the next Read with more records works.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlslayer: no more input" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

var _ net.Error = wouldBlock{}

// transport is the net.Conn under a tls.Conn. During the handshake the loop
// appends what arrives (feedHandshake) and the handshake goroutine blocks
// in Read; what the handshake writes is posted to the loop. Afterwards only
// the loop uses it: Read returns the records being fed and then
// errWouldBlock, Write sends the records down.
type transport struct {
	io  *reactor.LayerIO
	cpu chan struct{}

	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte // handshake input not yet read
	closed  bool
	loop    bool // the handshake is over: loop mode
	haveCPU bool // the handshake goroutine holds a cpu token

	feed []byte // loop mode: the records being decoded
}

func (t *transport) init(io *reactor.LayerIO, cpu chan struct{}) {
	t.io, t.cpu = io, cpu
	t.cond.L = &t.mu
}

// feedHandshake appends input for the handshake goroutine, up to
// maxHandshakeInput held, and returns how much it took.
func (t *transport) feedHandshake(b []byte) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	b = b[:min(len(b), max(0, maxHandshakeInput-len(t.buf)))]
	if len(b) == 0 {
		return 0
	}
	t.buf = append(t.buf, b...)
	t.cond.Signal()
	return len(b)
}

// handshakeDone gives back the handshake goroutine's cpu token.
func (t *transport) handshakeDone() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.haveCPU {
		t.haveCPU = false
		<-t.cpu
	}
}

// takeLoop switches to loop mode and returns the input the handshake did
// not read.
func (t *transport) takeLoop() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loop = true
	b := t.buf
	t.buf = nil
	return b
}

func (t *transport) Read(p []byte) (int, error) {
	if t.loop { // set on the loop, read on the loop afterwards
		n := copy(p, t.feed)
		t.feed = t.feed[n:]
		if n == 0 {
			return 0, errWouldBlock
		}
		return n, nil
	}
	t.mu.Lock()
	for len(t.buf) == 0 && !t.closed {
		if t.haveCPU {
			// Waiting for the peer: let another handshake compute.
			t.haveCPU = false
			<-t.cpu
		}
		t.cond.Wait()
	}
	if t.closed {
		t.mu.Unlock()
		return 0, net.ErrClosed
	}
	n := copy(p, t.buf)
	t.buf = t.buf[n:]
	if len(t.buf) == 0 {
		t.buf = nil
	}
	need := !t.haveCPU
	t.mu.Unlock()
	if need {
		t.cpu <- struct{}{} // may wait while other handshakes compute
		t.mu.Lock()
		t.haveCPU = true
		t.mu.Unlock()
	}
	return n, nil
}

func (t *transport) Write(p []byte) (int, error) {
	if t.loop {
		t.io.DownCopy(p)
		return len(p), nil
	}
	if !t.io.Post(p) {
		return 0, net.ErrClosed
	}
	return len(p), nil
}

// Close wakes a handshake blocked in Read (timeout, or the conn closed).
func (t *transport) Close() error {
	t.mu.Lock()
	t.closed = true
	t.cond.Broadcast()
	t.mu.Unlock()
	return nil
}

func (t *transport) LocalAddr() net.Addr              { return t.io.Conn().LocalAddr() }
func (t *transport) RemoteAddr() net.Addr             { return t.io.Conn().RemoteAddr() }
func (t *transport) SetDeadline(time.Time) error      { return nil }
func (t *transport) SetReadDeadline(time.Time) error  { return nil }
func (t *transport) SetWriteDeadline(time.Time) error { return nil }

var _ io.ReadWriter = (*transport)(nil)
