package discovery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/chatd/chatd/protocol"
)

// Defaults for the zero fields of Config.
const (
	DefaultRepliesPerSecond   = 50
	DefaultReplyBurst         = 20
	DefaultPerSourcePerSecond = 1
	DefaultPerSourceBurst     = 5
	// maxSources bounds the per-source limiter table; when it fills (a
	// flood of spoofed sources) it is emptied, and the global limit still
	// holds.
	maxSources = 4096
	// readBuf is larger than the request so a longer datagram is seen as
	// longer (and ignored) rather than truncated into a match.
	readBuf = 64
)

// Config configures a Responder. Zero rate fields select the defaults.
type Config struct {
	// Addr is the UDP address to listen on, e.g. ":9002" (":0" picks a port).
	Addr string
	// Name and Version are announced as-is.
	Name    string
	Version string
	// ChatAddr and FileAddr are announced; an empty or unspecified host is
	// replaced per requester with the local address routing to it.
	ChatAddr string
	FileAddr string
	// RepliesPerSecond and ReplyBurst cap replies from all sources together.
	RepliesPerSecond float64
	ReplyBurst       int
	// PerSourcePerSecond and PerSourceBurst cap replies to one source IP.
	PerSourcePerSecond float64
	PerSourceBurst     int
	// Logger receives debug lines for ignored or limited datagrams and
	// warnings for socket errors.
	Logger zerolog.Logger
}

func (c Config) withDefaults() Config {
	if c.RepliesPerSecond <= 0 {
		c.RepliesPerSecond = DefaultRepliesPerSecond
	}
	if c.ReplyBurst <= 0 {
		c.ReplyBurst = DefaultReplyBurst
	}
	if c.PerSourcePerSecond <= 0 {
		c.PerSourcePerSecond = DefaultPerSourcePerSecond
	}
	if c.PerSourceBurst <= 0 {
		c.PerSourceBurst = DefaultPerSourceBurst
	}
	return c
}

// Stats counts datagrams since Listen.
type Stats struct {
	Received uint64 // datagrams read
	Replied  uint64 // replies sent
	Ignored  uint64 // datagrams that were not a discovery request
	Limited  uint64 // requests dropped by the rate limits
	Failed   uint64 // replies that could not be built or sent
}

// Responder is a running discovery listener. Its methods are safe for
// concurrent use.
type Responder struct {
	conn *net.UDPConn
	cfg  Config
	log  zerolog.Logger

	// Used only by the serve goroutine.
	global  *rate.Limiter
	sources map[netip.Addr]*rate.Limiter

	received, replied, ignored, limited, failed atomic.Uint64

	closeOnce sync.Once
	closed    atomic.Bool
	done      chan struct{}
}

// Listen binds cfg.Addr and starts answering in a background goroutine
// until Close.
func Listen(cfg Config) (*Responder, error) {
	cfg = cfg.withDefaults()
	if err := checkAnnounced("chat address", cfg.ChatAddr); err != nil {
		return nil, err
	}
	if err := checkAnnounced("file address", cfg.FileAddr); err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("discovery: resolve %q: %w", cfg.Addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("discovery: listen %q: %w", cfg.Addr, err)
	}
	r := &Responder{
		conn:    conn,
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "discovery").Logger(),
		global:  rate.NewLimiter(rate.Limit(cfg.RepliesPerSecond), cfg.ReplyBurst),
		sources: make(map[netip.Addr]*rate.Limiter),
		done:    make(chan struct{}),
	}
	go r.serve()
	return r, nil
}

// checkAnnounced rejects an announced address that is not host:port, so a
// typo fails at startup instead of being announced to every client.
func checkAnnounced(what, addr string) error {
	if addr == "" {
		return nil // announced as "" (e.g. no file server)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("discovery: %s %q: %w", what, addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("discovery: %s %q: port must be a number", what, addr)
	}
	return nil
}

// Addr returns the bound UDP address.
func (r *Responder) Addr() net.Addr { return r.conn.LocalAddr() }

// Stats returns the counters so far.
func (r *Responder) Stats() Stats {
	return Stats{
		Received: r.received.Load(),
		Replied:  r.replied.Load(),
		Ignored:  r.ignored.Load(),
		Limited:  r.limited.Load(),
		Failed:   r.failed.Load(),
	}
}

// Close stops the responder and waits for its goroutine to exit.
func (r *Responder) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		err = r.conn.Close()
		<-r.done
	})
	if err != nil {
		return fmt.Errorf("discovery: close: %w", err)
	}
	return nil
}

func (r *Responder) serve() {
	defer close(r.done)
	buf := make([]byte, readBuf)
	for {
		n, src, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if r.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Transient (e.g. ENOBUFS): log and back off briefly so a
			// persistent error cannot spin this goroutine.
			r.log.Warn().Err(err).Msg("discovery read failed")
			time.Sleep(50 * time.Millisecond)
			continue
		}
		r.received.Add(1)
		r.handle(buf[:n], src)
	}
}

// handle answers one datagram from src.
func (r *Responder) handle(datagram []byte, src netip.AddrPort) {
	if !protocol.IsDiscoverRequest(datagram) || src.Port() == 0 {
		r.ignored.Add(1)
		return
	}
	ip := src.Addr().Unmap()
	if !r.allow(ip) {
		r.limited.Add(1)
		r.log.Debug().Stringer("from", src).Msg("discovery request rate-limited")
		return
	}
	// One route lookup serves both addresses.
	var local netip.Addr
	var found, looked bool
	announce := func(addr string) string {
		if !needsHost(addr) {
			return addr
		}
		if !looked {
			local, found = localAddrFor(ip)
			looked = true
		}
		return withHost(addr, local, found)
	}
	reply, err := protocol.Marshal(&protocol.DiscoverReply{
		Name:     r.cfg.Name,
		Version:  r.cfg.Version,
		ChatAddr: announce(r.cfg.ChatAddr),
		FileAddr: announce(r.cfg.FileAddr),
	})
	if err != nil {
		r.failed.Add(1)
		r.log.Warn().Err(err).Msg("discovery reply encode failed")
		return
	}
	if _, err := r.conn.WriteToUDPAddrPort(reply, src); err != nil {
		r.failed.Add(1)
		r.log.Debug().Err(err).Stringer("to", src).Msg("discovery reply failed")
		return
	}
	r.replied.Add(1)
}

// allow applies the per-source limit first, so one noisy host cannot use up
// the global budget, then the global one.
func (r *Responder) allow(ip netip.Addr) bool {
	lim, ok := r.sources[ip]
	if !ok {
		if len(r.sources) >= maxSources {
			clear(r.sources)
		}
		lim = rate.NewLimiter(rate.Limit(r.cfg.PerSourcePerSecond), r.cfg.PerSourceBurst)
		r.sources[ip] = lim
	}
	return lim.Allow() && r.global.Allow()
}

// Announce returns addr as a client at requester should see it: when addr's
// host is empty or an unspecified address (0.0.0.0, ::), it is replaced by
// this machine's address on the route to requester (the loopback address
// for a loopback requester). Other addresses, and addresses that do not
// parse, are returned unchanged; so is addr when no route is found.
func Announce(addr string, requester netip.Addr) string {
	if !needsHost(addr) {
		return addr
	}
	local, ok := localAddrFor(requester.Unmap())
	return withHost(addr, local, ok)
}

// needsHost reports whether addr is host:port with an empty or unspecified
// host, which Announce fills in.
func needsHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// withHost puts local in place of addr's host, or returns addr unchanged
// when no local address was found.
func withHost(addr string, local netip.Addr, ok bool) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || !ok {
		return addr
	}
	return net.JoinHostPort(local.String(), port)
}

// localAddrFor finds the local address the kernel would send from to reach
// requester. Connecting a UDP socket sends nothing; it only selects a route
// and a source address.
func localAddrFor(requester netip.Addr) (netip.Addr, bool) {
	if !requester.IsValid() {
		return netip.Addr{}, false
	}
	if requester.IsLoopback() {
		if requester.Is4() {
			return netip.AddrFrom4([4]byte{127, 0, 0, 1}), true
		}
		return netip.IPv6Loopback(), true
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(requester, protocol.DefaultDiscoveryPort)))
	if err != nil {
		return netip.Addr{}, false
	}
	defer c.Close()
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := la.AddrPort().Addr().Unmap() // keeps a link-local zone
	return ip, ip.IsValid() && !ip.IsUnspecified()
}
