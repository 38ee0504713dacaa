package tlslayer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
)

// testCert is a self-signed ECDSA P-256 certificate for localhost, which
// is also its own CA.
type testCert struct {
	cert    tls.Certificate
	pool    *x509.CertPool
	certPEM []byte
	keyPEM  []byte
}

func newTestCert(t testing.TB, cn string) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost", "chat.example"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tc := testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		pool:    x509.NewCertPool(),
	}
	if tc.cert, err = tls.X509KeyPair(tc.certPEM, tc.keyPEM); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	tc.pool.AddCert(leaf)
	return tc
}

// recorder is a handler that pushes a TLS layer on every connection,
// echoes what it gets, and reports closes.
type recorder struct {
	cfg    *Config
	data   func(c *reactor.Conn, b []byte) int // nil: echo
	opened chan *reactor.Conn
	closed chan error
	mu     sync.Mutex
	layers map[uint64]*Layer
}

func newRecorder(cfg *Config) *recorder {
	return &recorder{cfg: cfg, opened: make(chan *reactor.Conn, 1024), closed: make(chan error, 1024), layers: map[uint64]*Layer{}}
}

func (r *recorder) OnOpen(c *reactor.Conn) {
	l := r.cfg.Layer()
	r.mu.Lock()
	r.layers[c.ID()] = l
	r.mu.Unlock()
	c.PushLayer(l)
	select { // a test that does not look must not stall the loop
	case r.opened <- c:
	default:
	}
}

func (r *recorder) layer(c *reactor.Conn) *Layer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.layers[c.ID()]
}

// setData replaces the data callback (nil: echo).
func (r *recorder) setData(f func(c *reactor.Conn, b []byte) int) {
	r.mu.Lock()
	r.data = f
	r.mu.Unlock()
}

func (r *recorder) OnData(c *reactor.Conn, b []byte) int {
	r.mu.Lock()
	data := r.data
	r.mu.Unlock()
	if data != nil {
		return data(c, b)
	}
	c.WriteCopy(b)
	return len(b)
}

func (r *recorder) OnClose(c *reactor.Conn, err error) {
	select {
	case r.closed <- err:
	default:
	}
}

// waitClose returns the next OnClose cause.
func (r *recorder) waitClose(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.closed:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for OnClose")
		return nil
	}
}

// serve starts an engine whose connections run TLS with cert.
func serve(t testing.TB, cert testCert, mod func(*tls.Config), opts Options, ropts reactor.Options) (*recorder, *reactor.Engine, string) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.cert}}
	if mod != nil {
		mod(cfg)
	}
	r := newRecorder(NewServer(cfg, opts))
	if ropts.Loops == 0 {
		ropts.Loops = 2
	}
	e, err := reactor.New(r, ropts)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return r, e, addr.String()
}

// dialTLS connects a crypto/tls client trusting cert.
func dialTLS(t testing.TB, addr string, cert testCert, mod func(*tls.Config)) (*tls.Conn, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: cert.pool, ServerName: "localhost"}
	if mod != nil {
		mod(cfg)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}
