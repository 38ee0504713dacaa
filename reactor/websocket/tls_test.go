package websocket

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
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
	_ = c.PushLayer(NewLayer(h.ws, nil))
	h.Handler.OnOpen(c)
}

// TestAutobahnReactorTLS plays categories 1-7 of the Autobahn table with
// the WebSocket layer stacked on the TLS layer (wss).
func TestAutobahnReactorTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	layers := tlslayer.NewServer(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, tlslayer.Options{})
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
