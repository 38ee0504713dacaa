package tlslayer

import (
	"bytes"
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

// ErrNoExporter is what ExportKeyingMaterial returns on the ConnectionState
// of a connection the TLS 1.3 record layer took over, unless
// Options.KeepExporter is set.
var ErrNoExporter = errors.New("tlslayer: ExportKeyingMaterial needs Options.KeepExporter (or the state given to OnHandshake)")

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
	// HandshakeNice is how many nice steps lower than the rest of the
	// process a handshake's thread runs while it computes (Linux), so that
	// a loop woken by an established connection takes the CPU from it at
	// once, even when other processes keep every core busy; 0 = 10, a
	// negative value keeps the process's priority. It needs the right to
	// raise the priority back (root, CAP_SYS_NICE, or RLIMIT_NICE); without
	// it handshakes keep the process's priority
	// (Config.HandshakeNice tells which).
	HandshakeNice int
	// OnHandshake, if set, runs on the loop when the handshake has finished,
	// before any decrypted byte reaches OnData; an error closes the
	// connection with it.
	OnHandshake func(c *reactor.Conn, st tls.ConnectionState) error
	// KeepExporter keeps crypto/tls's exporter for the connection's life,
	// so that ConnectionState().ExportKeyingMaterial (RFC 5705 and 8446
	// 7.5, for channel binding) works after the handshake. It costs about
	// 100 bytes of heap per connection, a tenth of an idle TLS connection,
	// so by default a server connection the TLS 1.3 record layer took over
	// lets it go and its ConnectionState's ExportKeyingMaterial returns
	// ErrNoExporter. The state given to OnHandshake can always export.
	KeepExporter bool
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
	nice   int           // nice steps a computing handshake drops by; 0: off
	sweep  sweeper       // finds quiet connections, to drop their ciphers
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
	nice := opts.HandshakeNice
	if nice == 0 {
		nice = defaultHandshakeNice
	}
	if nice < 0 || !canLowerThreads() {
		nice = 0
	}
	return &Config{
		tls:    cfg,
		client: client,
		opts:   opts,
		flight: make(chan struct{}, opts.MaxHandshakes),
		cpu:    make(chan struct{}, opts.HandshakeCPU),
		nice:   min(nice, 19),
		sweep:  sweeper{every: sweepEvery},
	}
}

// HandshakeNice reports how many nice steps below the process a computing
// handshake's thread runs: Options.HandshakeNice, or 0 where thread
// priorities cannot be lowered and restored (see Options.HandshakeNice).
func (cfg *Config) HandshakeNice() int { return cfg.nice }

// Layer returns a new TLS layer for one connection: push it with
// c.PushLayer, from OnOpen or from OnData once the first byte (0x16) shows a
// handshake. The handler's output written meanwhile is held until the
// handshake is done.
func (cfg *Config) Layer() *Layer { return &Layer{cfg: cfg} }

// Layer is TLS on one connection. Its methods, except ConnectionState, are
// the reactor.Layer interface, called by the reactor. Everything only the
// handshake needs lives in the transport's handshake state, dropped when the
// handshake is over, so an established connection keeps a small Layer.
type Layer struct {
	cfg    *Config
	tc     *tls.Conn // nil once the record layer (record.go) took over
	tr     transport
	gather []byte // small units packed into one record until Flush; the record layer's is room Reserve gave
	ready  bool   // handshake done and switched to loop mode (loop-owned)
	// The TLS 1.3 record layer (record.go), once it took over from tc: its
	// state (with the handshake's outcome) and the start of the record
	// being filled in gather (-1: none).
	rec *record13
	at  int
	// used: records went through since the last sweep; armed: on the
	// sweeper's list (both loop-owned, after the handshake).
	used, armed bool
	done        atomic.Bool // the handshake succeeded (for ConnectionState)
}

// ConnectionState returns the negotiated state (version, cipher suite, ALPN
// protocol, SNI server name, peer certificates); ok is false until the
// handshake has finished. Its ExportKeyingMaterial may return ErrNoExporter
// (Options.KeepExporter). Safe from any goroutine.
func (l *Layer) ConnectionState() (st tls.ConnectionState, ok bool) {
	if !l.done.Load() {
		return tls.ConnectionState{}, false
	}
	if l.rec != nil {
		return l.rec.state(), true
	}
	return l.tc.ConnectionState(), true
}

// Open starts the handshake on its own goroutine and holds the handler's output.
func (l *Layer) Open(io *reactor.LayerIO) error {
	l.tr.io = io
	select {
	case l.cfg.flight <- struct{}{}:
	default:
		return ErrBusy
	}
	io.Hold(true)
	l.tr.hs = newHandshakeState(l.cfg.cpu, l.cfg.nice)
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
	l.tr.hs.done(err)
	<-l.cfg.flight
	l.tr.io.Wake()
}

// Wake finishes the handshake on the loop: from now on the loop feeds
// records to the tls.Conn and reads them itself. Afterwards it is the
// sweeper's call: a connection that had no records since the last one lets
// its ciphers go.
func (l *Layer) Wake() error {
	if l.ready {
		if l.used { // stay on the list for one more sweep
			l.used = false
			l.cfg.sweep.add(l)
		} else {
			l.armed = false
			if l.rec != nil {
				l.rec.idle()
			} else {
				dropCiphers(l.tc)
			}
		}
		return nil
	}
	rest, err := l.tr.takeLoop()
	if err != nil {
		return fmt.Errorf("tlslayer: handshake: %w", err)
	}
	l.ready = true
	st := l.tc.ConnectionState()
	raw, own := l.takeOver(&st)
	if !own && !l.cfg.client {
		dropResumptionSecret(l.tc)
	}
	l.done.Store(true)
	if f := l.cfg.opts.OnHandshake; f != nil {
		if err := f(l.tr.io.Conn(), st); err != nil {
			return err
		}
	}
	l.tr.io.Hold(false)
	l.arm() // the handshake's ciphers go once the connection is quiet
	if own {
		// Records that came with or after the peer's Finished: those the
		// handshake read (raw) first, then the rest; a partial record at
		// the end waits in l.rec.part for the next input.
		in := append(raw, rest...)
		n, err := l.decode13(in)
		if err == nil && n < len(in) {
			l.rec.setPart(bytes.Clone(in[n:]))
		}
		return err
	}
	// Records that came with or after the peer's Finished: those the
	// handshake read sit in the tls.Conn, the rest in rest.
	_, err = l.feed(rest)
	return err
}

// arm notes that the ciphers were used and puts the layer on the sweeper's
// list if it is not on it. Loop only, after the handshake.
func (l *Layer) arm() {
	l.used = true
	if !l.armed {
		l.armed = true
		l.cfg.sweep.add(l)
	}
}

// Decode hands what arrived to crypto/tls (during the handshake: to the
// handshake goroutine) and passes the plaintext up. crypto/tls keeps a
// partial record itself, so everything is consumed.
func (l *Layer) Decode(in []byte) (int, error) {
	if !l.ready {
		return l.tr.feedHandshake(in), nil
	}
	if l.rec != nil {
		return l.feed13(in)
	}
	return l.feed(in)
}

// Encode packs small units into one record buffer and encrypts big ones at once.
func (l *Layer) Encode(unit [][]byte) error {
	if l.rec != nil {
		l.arm()
		for _, b := range unit {
			l.put13(b)
		}
		return nil
	}
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
		l.arm()
		if _, err := l.tc.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Flush encrypts what Encode packed.
func (l *Layer) Flush() error {
	if l.rec != nil {
		l.flush13()
		return nil
	}
	if len(l.gather) == 0 {
		return nil
	}
	l.arm()
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
	if l.rec != nil {
		l.control(recordAlert, []byte{alertLevelWarning, alertCloseNotify})
		l.flush13()
		return
	}
	l.tc.CloseWrite()
}

// Release stops a handshake still running and drops the buffers.
func (l *Layer) Release() {
	l.tr.Close()
	if l.gather != nil && l.rec == nil { // the record layer's is the reactor's
		putBuf(l.gather)
	}
	l.gather = nil
}

// maxGather is the plaintext packed into one record.
const maxGather = 16 << 10

// bufs holds record-sized scratch buffers shared by all connections (as
// array pointers, so a Put allocates nothing).
var bufs = sync.Pool{New: func() any { return new([bufSize]byte) }}

const bufSize = 64 << 10

func getBuf() []byte  { return bufs.Get().(*[bufSize]byte)[:] }
func putBuf(b []byte) { bufs.Put((*[bufSize]byte)(b[:bufSize])) }

// feed gives in to crypto/tls and passes the plaintext of every record
// it completes up.
func (l *Layer) feed(in []byte) (int, error) {
	if len(in) > 0 {
		l.arm()
	}
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
			l.tr.io.Up(buf[:n])
			n = 0
		}
		switch {
		case err == nil:
		case err == errWouldBlock:
			return nil
		case err == io.EOF: // close_notify: a graceful close
			return err
		default: // crypto/tls has just written its alert: send it, then close
			return reactor.FlushFirst(err)
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
	io   *reactor.LayerIO
	hs   *handshakeState // nil once the handshake is over: loop mode
	feed []byte          // loop mode: the records being decoded
}

// handshakeState is what the transport needs only while the handshake
// goroutine runs.
type handshakeState struct {
	cpu     chan struct{}
	prio    threadPriority // lowered while the cpu token is held
	mu      sync.Mutex
	cond    sync.Cond
	buf     []byte // handshake input not yet read
	closed  bool
	haveCPU bool  // the handshake goroutine holds a cpu token
	err     error // the handshake's result, once it is over
}

func newHandshakeState(cpu chan struct{}, nice int) *handshakeState {
	h := &handshakeState{cpu: cpu, prio: threadPriority{delta: nice}}
	h.cond.L = &h.mu
	return h
}

// feedHandshake appends input for the handshake goroutine, up to
// maxHandshakeInput held, and returns how much it took.
func (t *transport) feedHandshake(b []byte) int {
	h := t.hs
	h.mu.Lock()
	defer h.mu.Unlock()
	b = b[:min(len(b), max(0, maxHandshakeInput-len(h.buf)))]
	if len(b) == 0 {
		return 0
	}
	h.buf = append(h.buf, b...)
	h.cond.Signal()
	return len(b)
}

// done records the handshake's result and gives back the handshake
// goroutine's cpu token. Handshake goroutine only.
func (h *handshakeState) done(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
	h.giveCPU()
}

// takeCPU waits for a cpu token, then lowers the thread the handshake
// computes on. Handshake goroutine only, h.mu not held.
func (h *handshakeState) takeCPU() {
	h.cpu <- struct{}{} // may wait while other handshakes compute
	h.prio.lower()
	h.mu.Lock()
	h.haveCPU = true
	h.mu.Unlock()
}

// giveCPU restores the thread's priority and gives the cpu token back, if
// held. Handshake goroutine only, h.mu held.
func (h *handshakeState) giveCPU() {
	if h.haveCPU {
		h.haveCPU = false
		h.prio.restore()
		<-h.cpu
	}
}

// takeLoop switches to loop mode once the handshake goroutine is done and
// returns the input the handshake did not read and the handshake's result.
func (t *transport) takeLoop() ([]byte, error) {
	h := t.hs
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return nil, h.err
	}
	t.hs = nil
	return h.buf, nil
}

func (t *transport) Read(p []byte) (int, error) {
	h := t.hs
	if h == nil { // set on the loop, read on the loop afterwards
		n := copy(p, t.feed)
		t.feed = t.feed[n:]
		if n == 0 {
			return 0, errWouldBlock
		}
		return n, nil
	}
	h.mu.Lock()
	for len(h.buf) == 0 && !h.closed {
		h.giveCPU() // waiting for the peer: let another handshake compute
		h.cond.Wait()
	}
	if h.closed {
		h.mu.Unlock()
		return 0, net.ErrClosed
	}
	n := copy(p, h.buf)
	h.buf = h.buf[n:]
	if len(h.buf) == 0 {
		h.buf = nil
	}
	need := !h.haveCPU
	h.mu.Unlock()
	if need {
		h.takeCPU()
	}
	return n, nil
}

func (t *transport) Write(p []byte) (int, error) {
	if t.hs == nil {
		t.io.DownCopy(p)
		return len(p), nil
	}
	if !t.io.Post(p) {
		return 0, net.ErrClosed
	}
	return len(p), nil
}

// Close wakes a handshake blocked in Read (timeout, or the conn closed).
// Loop only (Release, Close), or crypto/tls on the handshake goroutine.
func (t *transport) Close() error {
	h := t.hs
	if h == nil {
		return nil
	}
	h.mu.Lock()
	h.closed = true
	h.cond.Broadcast()
	h.mu.Unlock()
	return nil
}

func (t *transport) LocalAddr() net.Addr              { return t.io.Conn().LocalAddr() }
func (t *transport) RemoteAddr() net.Addr             { return t.io.Conn().RemoteAddr() }
func (t *transport) SetDeadline(time.Time) error      { return nil }
func (t *transport) SetReadDeadline(time.Time) error  { return nil }
func (t *transport) SetWriteDeadline(time.Time) error { return nil }

var _ io.ReadWriter = (*transport)(nil)
