package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/protocol"
)

// Errors returned by calls; test with errors.Is. Failures the server
// reports are *protocol.Error values instead (errors.As-able).
var (
	// ErrClosed: the Client was closed by Close.
	ErrClosed = errors.New("client: closed")
	// ErrConnLost: the connection broke before the reply arrived. The
	// request may or may not have been carried out; Send and SendTo retry
	// by themselves (they are idempotent), other calls may be repeated by
	// the caller once the client has reconnected.
	ErrConnLost = errors.New("client: connection lost")
	// ErrKicked: the server closed the session because the same user and
	// device logged in elsewhere; the client does not reconnect after it.
	ErrKicked = errors.New("client: kicked by a login elsewhere")
)

// State is the connection state reported to Options.OnState.
type State int

// Connection states.
const (
	// StateConnected: a connection is up (and logged in again after a
	// reconnect when the client had a session).
	StateConnected State = iota + 1
	// StateReconnecting: the connection broke and the client is dialling
	// again with backoff.
	StateReconnecting
	// StateDisconnected: the connection is down and the client will not
	// reconnect by itself (reconnect off, kicked, or the token refused).
	StateDisconnected
	// StateClosed: Close was called.
	StateClosed
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Options tunes a Client. The zero value is usable: no reconnect, pushes on
// the channel returned by Pushes, the contract's default timeouts.
type Options struct {
	// Device is the login device label ("default" when empty). One
	// session lives per (user, device).
	Device string
	// CallTimeout bounds every call whose context has no deadline
	// (default 15 s).
	CallTimeout time.Duration
	// DialTimeout bounds each TCP dial (default 10 s).
	DialTimeout time.Duration
	// PingInterval is how often an idle-proof ping is sent (default 30 s,
	// as the contract asks; negative disables).
	PingInterval time.Duration
	// Reconnect makes the client dial again when the connection breaks,
	// with exponential backoff and jitter between MinBackoff (default
	// 200 ms) and MaxBackoff (default 30 s), and log in again with the
	// session token. Calls made meanwhile wait for the new connection
	// until their context ends. When Dial was given several addresses,
	// the next one is dialled first (fail-over, see Dial).
	Reconnect  bool
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// OnPush, when set, receives every push on the client's reader
	// goroutine instead of the Pushes channel. It must return quickly and
	// must not wait for a reply of this client (that reply is read by the
	// same goroutine).
	OnPush func(Push)
	// PushBuffer is the capacity of the Pushes channel (default 1024).
	// When it is full the reader goroutine waits: replies and further
	// pushes are not read until the application drains the channel. That
	// is deliberate backpressure (nothing is dropped), so an application
	// must keep draining Pushes, and must not wait for a reply on the same
	// goroutine that drains it.
	PushBuffer int
	// OnState, when set, is called (from an internal goroutine, possibly
	// the reader) on every change of connection state, with the error that
	// caused it if any. It must return quickly and must not wait for a
	// reply of this client.
	OnState func(State, error)
	// MaxFrameBody is the largest frame body accepted from the server
	// (default 1 MiB, the contract's default).
	MaxFrameBody int
	// Dial replaces the TCP dialler (tests, proxies).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when set, makes the client speak TLS on the chat port and the
	// file port. Its RootCAs name the authorities trusted (nil: the
	// system's); ServerName defaults to the host of the address dialled. A
	// certificate the client refuses fails with an error wrapping
	// ErrCertificate.
	TLS *tls.Config
	// Logger receives connection-level events; the zero Logger discards.
	Logger zerolog.Logger
}

func (o *Options) setDefaults() {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 15 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.PushBuffer <= 0 {
		o.PushBuffer = 1024
	}
	if o.MaxFrameBody <= 0 {
		o.MaxFrameBody = protocol.DefaultMaxFrameBody
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
		o.Dial = d.DialContext
	}
}

// Client is a connection to a chatd server. All methods are safe for
// concurrent use; requests from many goroutines are pipelined on the one
// connection.
type Client struct {
	addrs  []string // the chat ports of one server's nodes (section 19)
	opts   Options
	log    zerolog.Logger
	nextID atomic.Uint32
	seen   seqTracker

	pushes  chan Push
	closeCh chan struct{}
	wg      sync.WaitGroup // every goroutine but the readers
	readers sync.WaitGroup // reader goroutines, the only senders on pushes

	mu       sync.Mutex
	at       int           // index in addrs of the node last connected to
	cur      *conn         // nil while disconnected
	ready    chan struct{} // closed when cur is set again
	state    State
	closed   bool
	kicked   bool
	username string
	token    string
	session  *protocol.LoginResp
	// inflight holds the client_msg_ids of sends waiting for their reply:
	// when a reconnect's backlog pushes one of them back, the retried
	// send's reply reports it instead (see handlePush).
	inflight map[string]struct{}
}

// Dial connects to the chat port at addr ("host:port") and returns a Client
// that is connected but not logged in.
//
// addr may list the chat ports of several nodes of one server separated by
// commas ("a:9000,b:9000", protocol section 19). Each Dial starts at the
// next address in turn, from a random first one per process, so the
// clients of one process and of many processes spread over the nodes; an
// address that refuses the connection is skipped for the next one, and
// Dial fails only when all of them do. With Options.Reconnect a lost
// connection is dialled again at the next address first (fail-over), then
// around the list with backoff; the client stays on the node it reached
// (it does not move back when the first one returns). Addr tells which
// node a client is on.
//
// The first dial is not retried, even with Options.Reconnect.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	addrs := SplitAddrs(addr)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("client: dial: no server address in %q", addr)
	}
	opts.setDefaults()
	c := &Client{
		addrs:   addrs,
		opts:    opts,
		log:     opts.Logger.With().Str("server", strings.Join(addrs, ",")).Logger(),
		closeCh: make(chan struct{}),
		ready:   make(chan struct{}),
	}
	if opts.OnPush == nil {
		c.pushes = make(chan Push, opts.PushBuffer)
	}
	start := spreadStart(len(addrs))
	var cn *conn
	var errs []error
	for i := range addrs {
		at := (start + i) % len(addrs)
		var err error
		if cn, err = c.dial(ctx, addrs[at]); err == nil {
			c.at = at
			break
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if cn == nil {
		return nil, errors.Join(errs...)
	}
	if testHookBeforePublish != nil {
		testHookBeforePublish(cn)
	}
	c.mu.Lock()
	c.cur = cn
	close(c.ready)
	c.state = StateConnected
	c.mu.Unlock()
	c.wg.Go(func() { c.closePushesWhenDone() })
	if err := cn.reason(); err != nil {
		// The connection died before it was published, so its reader
		// could not report it: do it here (it reconnects if asked to).
		c.connLost(cn, err)
	}
	return c, nil
}

// SplitAddrs splits a comma-separated list of addresses (as Dial takes it,
// and as command-line flags carry it), dropping blanks around and between
// the commas.
func SplitAddrs(list string) []string {
	var out []string
	for a := range strings.SplitSeq(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// spreadFrom and spreadNext make the first address each Dial tries: the
// next one in turn from a random start, so clients spread over the nodes
// whether a process makes one client or thousands.
var (
	spreadFrom = rand.Uint32()
	spreadNext atomic.Uint32
)

// spreadStart returns the index of the first of n addresses to try.
func spreadStart(n int) int {
	return int((spreadFrom + spreadNext.Add(1) - 1) % uint32(n))
}

// testHookBeforePublish lets a test act between the first dial and its
// publication (nil outside tests).
var testHookBeforePublish func(*conn)

// Addr returns the address of the node the client is connected to (while
// it reconnects: the node it last reached).
func (c *Client) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addrs[c.at]
}

// Pushes returns the channel on which pushes arrive when Options.OnPush is
// not set (nil otherwise). It must be drained (see Options.PushBuffer); it
// is closed after Close.
func (c *Client) Pushes() <-chan Push { return c.pushes }

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Close closes the connection, stops reconnecting, fails calls in flight
// with ErrClosed and closes the Pushes channel. It does not log out: the
// session token stays valid for a later LoginToken.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cur
	c.cur = nil
	close(c.closeCh)
	c.mu.Unlock()
	if cn != nil {
		cn.close(ErrClosed)
	}
	c.setState(StateClosed, nil)
	c.wg.Wait()
	return nil
}

// closePushesWhenDone closes the Pushes channel once Close has been called
// and every goroutine that could send on it has returned.
func (c *Client) closePushesWhenDone() {
	<-c.closeCh
	c.readers.Wait()
	if c.pushes != nil {
		close(c.pushes)
	}
}

// dial opens a new connection to addr and starts its reader and pinger.
func (c *Client) dial(ctx context.Context, addr string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	nc, err := c.opts.Dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	if nc, err = c.secure(dctx, nc, addr); err != nil {
		return nil, err
	}
	cn := &conn{
		nc:      nc,
		pending: make(map[uint32]chan reply),
		done:    make(chan struct{}),
	}
	c.readers.Add(1)
	go func() {
		defer c.readers.Done()
		c.readLoop(cn)
	}()
	if c.opts.PingInterval > 0 {
		c.wg.Go(func() { c.pingLoop(cn) })
	}
	return cn, nil
}

// reply is a reply frame handed from the reader to the waiting caller.
type reply struct {
	op   protocol.Op
	body []byte
}

// conn is one TCP connection and its in-flight calls.
type conn struct {
	nc net.Conn

	wmu  sync.Mutex
	wbuf []byte

	mu      sync.Mutex
	pending map[uint32]chan reply
	fills   map[uint32]struct{} // msg.sync calls made by fillGaps
	err     error               // why the connection ended; set before done is closed
	done    chan struct{}
}

// register adds a waiter for reqID, or fails when the connection is over.
func (cn *conn) register(id uint32, ch chan reply, fill bool) error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return cn.err
	}
	cn.pending[id] = ch
	if fill {
		if cn.fills == nil {
			cn.fills = make(map[uint32]struct{})
		}
		cn.fills[id] = struct{}{}
	}
	return nil
}

func (cn *conn) unregister(id uint32) {
	cn.mu.Lock()
	delete(cn.pending, id)
	delete(cn.fills, id)
	cn.mu.Unlock()
}

// takeFill reports whether id is a gap-filling msg.sync, forgetting it.
func (cn *conn) takeFill(id uint32) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	_, ok := cn.fills[id]
	delete(cn.fills, id)
	return ok
}

// deliver hands a reply to its waiter; replies nobody waits for (timed out
// calls) are dropped.
func (cn *conn) deliver(id uint32, r reply) {
	cn.mu.Lock()
	ch, ok := cn.pending[id]
	delete(cn.pending, id)
	cn.mu.Unlock()
	if ok {
		ch <- r // buffered 1, never blocks
	}
}

// close ends the connection once, recording why.
func (cn *conn) close(why error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = why
	cn.pending = nil
	close(cn.done)
	cn.mu.Unlock()
	_ = cn.nc.Close()
}

// reason returns why the connection ended.
func (cn *conn) reason() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

// writeFrame encodes and writes one frame under the write lock, by ctx's
// deadline. A call whose time ran out before a byte left (it waited for
// the lock, or the socket was full) fails alone with ctx's error: the
// stream is intact, so the connection stays. Any other failed write closes
// the connection (the reader then reports the loss).
func (cn *conn) writeFrame(ctx context.Context, encode func([]byte) ([]byte, error)) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	buf, err := encode(cn.wbuf[:0])
	if err != nil {
		return err
	}
	if cap(buf) <= 64<<10 {
		cn.wbuf = buf[:0] // keep a modest buffer for the next frame
	}
	deadline, _ := ctx.Deadline()
	_ = cn.nc.SetWriteDeadline(deadline)
	n, err := cn.nc.Write(buf)
	if err == nil {
		return nil
	}
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	cn.close(fmt.Errorf("%w: write: %v", ErrConnLost, err))
	return fmt.Errorf("%w: write: %v", ErrConnLost, err)
}

// readLoop reads frames until the connection fails, routing replies to
// their callers and pushes to the application.
func (c *Client) readLoop(cn *conn) {
	// A small buffer: most frames are small, larger ones are read
	// straight into their own slice, and a load generator holds
	// thousands of clients.
	br := bufio.NewReaderSize(cn.nc, 8<<10)
	for {
		// A fresh body per frame: replies and pushes outlive the next read.
		h, body, err := protocol.ReadFrame(br, c.opts.MaxFrameBody, nil)
		if err != nil {
			c.connLost(cn, err)
			return
		}
		if h.ReqID != 0 && !h.Op.IsPush() {
			if h.Op == protocol.OpLogin {
				c.noteLogin(body)
			}
			if h.Op == protocol.OpMsgSync && cn.takeFill(h.ReqID) {
				c.emitFilled(body)
			}
			cn.deliver(h.ReqID, reply{op: h.Op, body: body})
			continue
		}
		c.handlePush(h.Op, body)
	}
}

// noteLogin runs on the reader goroutine for a login reply, before the
// pushes that follow it are read: it seeds the duplicate filter with the
// ack cursors so that the missed messages the server pushes next are
// checked against what this client has already delivered.
func (c *Client) noteLogin(body []byte) {
	var r protocol.LoginResp
	if protocol.Unmarshal(body, &r) != nil || r.Code != protocol.CodeOK {
		return
	}
	for _, ci := range r.Convs {
		c.seen.seed(ci.Conv, ci.AckSeq)
	}
}

// connLost handles the end of a connection: fail its calls, and reconnect
// when configured.
func (c *Client) connLost(cn *conn, err error) {
	if err == nil {
		err = io.EOF
	}
	cn.close(fmt.Errorf("%w: %v", ErrConnLost, err))
	c.mu.Lock()
	if c.cur != cn || c.closed {
		c.mu.Unlock()
		return
	}
	c.cur = nil
	c.ready = make(chan struct{})
	reconnect := c.opts.Reconnect && !c.kicked
	kicked := c.kicked
	c.mu.Unlock()
	c.log.Debug().Err(err).Bool("reconnect", reconnect).Msg("connection lost")
	if !reconnect {
		if kicked {
			err = ErrKicked
		}
		c.setState(StateDisconnected, err)
		return
	}
	c.setState(StateReconnecting, err)
	c.wg.Go(c.reconnectLoop)
}

// setState records and reports a state change.
func (c *Client) setState(s State, err error) {
	c.mu.Lock()
	if c.state == s || (c.state == StateClosed) {
		c.mu.Unlock()
		return
	}
	c.state = s
	c.mu.Unlock()
	if c.opts.OnState != nil {
		c.opts.OnState(s, err)
	}
}

// getConn returns the live connection, waiting for a reconnect in progress.
func (c *Client) getConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if c.cur != nil {
			cn := c.cur
			c.mu.Unlock()
			return cn, nil
		}
		if c.state != StateReconnecting {
			c.mu.Unlock()
			return nil, ErrConnLost
		}
		ready := c.ready
		c.mu.Unlock()
		select {
		case <-ready:
		case <-c.closeCh:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("client: waiting for reconnect: %w", ctx.Err())
		}
	}
}

// withTimeout applies CallTimeout to a context without a deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.opts.CallTimeout)
}

// newID returns the next non-zero request id.
func (c *Client) newID() uint32 {
	for {
		if id := c.nextID.Add(1); id != 0 {
			return id
		}
	}
}

// call sends one request on the live connection and decodes its reply into
// resp. A reply with a code other than OK is returned as *protocol.Error.
func (c *Client) call(ctx context.Context, op protocol.Op, req any, resp protocol.Body) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	cn, err := c.getConn(ctx)
	if err != nil {
		return fmt.Errorf("client: %v: %w", op, err)
	}
	return c.callOn(ctx, cn, op, req, resp)
}

// callOn is call on a given connection (used by the re-login before the
// connection is published).
func (c *Client) callOn(ctx context.Context, cn *conn, op protocol.Op, req any, resp protocol.Body) error {
	return c.callOnAs(ctx, cn, op, req, resp, false)
}

// callOnAs is callOn; fill marks a msg.sync whose messages the reader
// hands to the application as pushes (see fillGaps) before the reply.
func (c *Client) callOnAs(ctx context.Context, cn *conn, op protocol.Op, req any, resp protocol.Body, fill bool) error {
	id := c.newID()
	ch := make(chan reply, 1)
	if err := cn.register(id, ch, fill); err != nil {
		return fmt.Errorf("client: %v: %w", op, err)
	}
	err := cn.writeFrame(ctx, func(dst []byte) ([]byte, error) {
		return protocol.AppendJSONFrame(dst, op, id, req)
	})
	if err != nil {
		cn.unregister(id)
		return fmt.Errorf("client: %v: %w", op, err)
	}
	select {
	case r := <-ch:
		return decodeReply(op, r.body, resp)
	case <-cn.done:
		return fmt.Errorf("client: %v: %w", op, cn.reason())
	case <-ctx.Done():
		cn.unregister(id)
		return fmt.Errorf("client: %v: %w", op, ctx.Err())
	}
}

// decodeReply decodes a reply body and turns a failure code into an error.
func decodeReply(op protocol.Op, body []byte, resp protocol.Body) error {
	if resp == nil {
		resp = &protocol.Status{}
	}
	if err := protocol.Unmarshal(body, resp); err != nil {
		// A failure reply decodes into Status even when resp's other
		// fields would not.
		var st protocol.Status
		if protocol.Unmarshal(body, &st) == nil && st.Code != protocol.CodeOK && st.Code != "" {
			return st.Err()
		}
		return fmt.Errorf("client: %v: decoding reply: %w", op, err)
	}
	if r, ok := resp.(protocol.Replier); ok {
		st := protocol.StatusOf(r)
		if st.Code == "" {
			return fmt.Errorf("client: %v: reply without code", op)
		}
		return st.Err()
	}
	return nil
}

// pingLoop keeps the connection from hitting the server's idle timeout and
// notices a dead peer: a ping that gets no reply closes the connection.
func (c *Client) pingLoop(cn *conn) {
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-c.closeCh:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.CallTimeout)
			err := c.callOn(ctx, cn, protocol.OpPing, &protocol.PingReq{}, &protocol.PingResp{})
			cancel()
			if err != nil && protocol.AsError(err) == nil {
				cn.close(fmt.Errorf("%w: ping: %v", ErrConnLost, err))
				return
			}
		}
	}
}
