package websocket

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/internal/testcert"
	"github.com/chatd/chatd/reactor/tlslayer"
)

// tlsThenWS pushes TLS, then WebSocket above it, on every connection.
type tlsThenWS struct {
	reactor.Handler
	tls *tlslayer.Config
	ws  *Config
}

func (h tlsThenWS) OnOpen(c *reactor.Conn) {
	_ = c.PushLayer(h.tls.Layer())
	_ = c.PushLayer(NewLayer(h.ws))
	h.Handler.OnOpen(c)
}

// TestAutobahnReactorTLS plays categories 1-7 of the Autobahn table with
// the WebSocket layer stacked on the TLS layer (wss).
func TestAutobahnReactorTLS(t *testing.T) {
	cert, pool := testcert.New(t)
	layers := tlslayer.NewServer(&tls.Config{Certificates: []tls.Certificate{cert}}, tlslayer.Options{})
	addr := startServer(t, tlsThenWS{&echo{}, layers, &Config{}})
	var cases []abCase
	for _, c := range autobahnCases() {
		if !strings.HasPrefix(c.id, "9.") {
			cases = append(cases, c)
		}
	}
	wrap := func(c net.Conn) net.Conn { return tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "localhost"}) }
	playAutobahn(t, addr, wrap, cases)
}
