package chatload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/chatd/chatd/bench/internal/wsclient"
	"github.com/chatd/chatd/protocol"
)

// Transports chatbench can reach the chat port over; chatd serves them all
// on one port.
const (
	TransportRaw = "raw" // bare frames over TCP
	TransportTLS = "tls" // frames inside TLS
	TransportWS  = "ws"  // one frame per binary WebSocket message
	TransportWSS = "wss" // WebSocket inside TLS
)

// wsSubprotocol is the subprotocol chatd requires on its WebSocket path.
const wsSubprotocol = "chatd.v1"

// Dialer opens every connection chatbench makes to the chat port, over the
// transport it was built for, so scenarios see a plain net.Conn of frames.
type Dialer struct {
	// Transport is one of the Transport constants ("" means raw).
	Transport string
	// TLS verifies the server for tls and wss.
	TLS *tls.Config
	// Net dials the TCP connection underneath.
	Net net.Dialer
}

// NewDialer checks transport and builds the TLS configuration for it,
// trusting the PEM certificates in caFile when set and the system roots
// otherwise.
func NewDialer(transport, caFile string) (*Dialer, error) {
	d := &Dialer{Transport: transport, Net: net.Dialer{Timeout: 10 * time.Second}}
	switch transport {
	case "", TransportRaw, TransportWS:
		return d, nil
	case TransportTLS, TransportWSS:
	default:
		return nil, fmt.Errorf("unknown transport %q (want raw, tls, ws or wss)", transport)
	}
	d.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", caFile)
		}
		d.TLS.RootCAs = pool
	}
	return d, nil
}

// from returns a copy of d (raw when d is nil) bound to sourceIP when set.
func (d *Dialer) from(sourceIP string) *Dialer {
	c := Dialer{Net: net.Dialer{Timeout: 10 * time.Second}}
	if d != nil {
		c = *d
	}
	if sourceIP != "" {
		c.Net.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sourceIP)}
	}
	return &c
}

// plain reports whether d speaks bare frames over TCP (no TLS, no
// WebSocket).
func (d *Dialer) plain() bool { return d.Transport == "" || d.Transport == TransportRaw }

// DialContext connects to addr and runs the TLS and WebSocket handshakes the
// transport needs.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nc, err := d.Net.DialContext(ctx, network, addr)
	if err != nil || d.plain() {
		return nc, err
	}
	if d.Transport == TransportTLS || d.Transport == TransportWSS {
		if nc, err = d.secure(ctx, nc, addr); err != nil {
			return nil, err
		}
	}
	if d.Transport == TransportTLS {
		return nc, nil
	}
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	wc, err := wsclient.UpgradeProtocol(nc, timeout, wsSubprotocol)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &frameMessages{Conn: wc}, nil
}

// secure runs the TLS handshake on nc, naming the server after addr's host
// unless the configuration names it.
func (d *Dialer) secure(ctx context.Context, nc net.Conn, addr string) (net.Conn, error) {
	cfg := d.TLS
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// frameMessages sends each whole frame of a write as its own WebSocket
// message: chatd closes a message holding more than one frame with 1002.
// The lock keeps concurrent writers' frames whole, as on a bare socket.
type frameMessages struct {
	*wsclient.Conn
	mu sync.Mutex
}

// Write sends p, whole frames back to back, one message per frame.
func (c *frameMessages) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(p) {
		size := protocol.FrameSize(p[n:])
		if size <= 0 || n+size > len(p) {
			size = len(p) - n // not whole frames: send as is, chatd will refuse it
		}
		if _, err := c.Conn.Write(p[n : n+size]); err != nil {
			return n, err
		}
		n += size
	}
	return n, nil
}
