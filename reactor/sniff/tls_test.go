package sniff

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/internal/testcert"
	"github.com/chatd/chatd/reactor/tlslayer"
	"github.com/chatd/chatd/reactor/websocket"
)

// tlsConfig is a sniffing Config with real TLS from reactor/tlslayer.
func tlsConfig(t *testing.T, requireTLS bool) (Config, *x509.CertPool) {
	cert, pool := testcert.New(t)
	layers := tlslayer.NewServer(&tls.Config{Certificates: []tls.Certificate{cert}}, tlslayer.Options{})
	return Config{
		TLS:        func(*reactor.Conn) reactor.Layer { return layers.Layer() },
		RequireTLS: requireTLS,
		WebSocket:  &websocket.Config{Path: "/ws"},
	}, pool
}

func connectTLS(t *testing.T, addr string, pool *x509.CertPool) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, _ := connect(t, addr)
	tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return tc, bufio.NewReader(tc)
}

func TestSniffAllFourOnOneListener(t *testing.T) {
	cfg, pool := tlsConfig(t, false)
	addr, a := start(t, cfg)
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"raw", func(t *testing.T) { c, r := connect(t, addr); rawRoundTrip(t, c, r, "plain") }},
		{"websocket", func(t *testing.T) { c, r := connect(t, addr); wsRoundTrip(t, c, r, "ws", len(upgrade)) }},
		{"raw in TLS", func(t *testing.T) { c, r := connectTLS(t, addr, pool); rawRoundTrip(t, c, r, "secret") }},
		{"websocket in TLS", func(t *testing.T) { c, r := connectTLS(t, addr, pool); wsRoundTrip(t, c, r, "wss", 3) }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t)
			if opened, _, ctxOK := a.counts(); opened != i+1 || !ctxOK {
				t.Fatalf("application saw %d opens (context nil at open: %v)", opened, ctxOK)
			}
		})
	}
}

func TestSniffRequireTLSWithRealTLS(t *testing.T) {
	cfg, pool := tlsConfig(t, true)
	addr, a := start(t, cfg)
	c, r := connect(t, addr)
	c.Write([]byte("plain"))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("a plaintext connection was answered under RequireTLS")
	}
	tc, tr := connectTLS(t, addr, pool)
	wsRoundTrip(t, tc, tr, "only wss", len(upgrade))
	if opened, _, _ := a.counts(); opened != 1 {
		t.Fatalf("application saw %d opens, want 1", opened)
	}
}

func TestSniffFailedTLSHandshakeNeverReachesTheApplication(t *testing.T) {
	cfg, _ := tlsConfig(t, false)
	addr, a := start(t, cfg)
	c, _ := connect(t, addr)
	tc := tls.Client(c, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}) // trusts nothing
	if err := tc.Handshake(); err == nil {
		t.Fatal("handshake with an untrusted certificate succeeded")
	}
	c.Close()
	// The next connection is the first the application sees.
	c2, r2 := connect(t, addr)
	rawRoundTrip(t, c2, r2, "x")
	if opened, closed, _ := a.counts(); opened != 1 || closed != 0 {
		t.Fatalf("application saw %d opens, %d closes", opened, closed)
	}
}
