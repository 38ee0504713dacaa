package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/service/devcert"
	"github.com/rs/zerolog"
)

// TestCertCommandWritesATrustableCertificate: `chatd cert` writes a
// certificate and key into the data dir, says how to trust them, and
// refuses to overwrite them.
func TestCertCommandWritesATrustableCertificate(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	env := runEnv{LookupEnv: func(string) (string, bool) { return "", false }, ReadFile: os.ReadFile, Stdout: &out, Stderr: &out}
	if err := run(context.Background(), []string{"cert", "--data-dir", dir, "--host", "chat.example"}, env); err != nil {
		t.Fatalf("chatd cert: %v\n%s", err, out.String())
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")); err != nil {
		t.Fatalf("written pair does not load: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	cert := parseCert(t, certPEM)
	for _, host := range []string{"localhost", "chat.example"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("certificate not valid for %s: %v", host, err)
		}
	}
	for _, want := range []string{"--tls-cert", "chat --tls --ca", "trusted certificate authority"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(context.Background(), []string{"cert", "--data-dir", dir}, env); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second chatd cert: %v, want a refusal to overwrite", err)
	}
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTLSFlags: the pair goes together, --tls-required needs a certificate.
func TestTLSFlags(t *testing.T) {
	for _, c := range []struct {
		cfg  config
		want string
	}{
		{config{TLSCert: "c.pem"}, "go together"},
		{config{TLSKey: "k.pem"}, "go together"},
		{config{TLSRequired: true}, "needs a certificate"},
	} {
		if err := checkTLSFlags(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := checkTLSFlags(config{TLSCert: "c", TLSKey: "k", TLSRequired: true}); err != nil {
		t.Errorf("complete settings refused: %v", err)
	}
}

// TestCertReloadOnFileChange: a server using loadTLS presents the new
// certificate after the files are replaced, without a restart.
func TestCertReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func() devcert.Cert {
		c, err := devcert.Generate(devcert.DefaultHosts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, c.CertPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := write()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tc, err := loadTLS(ctx, config{TLSCert: certFile, TLSKey: keyFile}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	handshakeWith := func(c devcert.Cert) error {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer conn.Close()
		return tls.Client(conn, &tls.Config{RootCAs: c.Pool(), ServerName: "localhost"}).Handshake()
	}
	if err := handshakeWith(first); err != nil {
		t.Fatalf("first certificate: %v", err)
	}
	// Make the new files' stamp differ even on a coarse clock.
	time.Sleep(10 * time.Millisecond)
	second := write()
	deadline := time.Now().Add(4 * certPollInterval)
	for handshakeWith(second) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was not served after the files changed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWebPortServesHTTPSWithTheCertificate: with --tls-cert the web port
// speaks HTTPS with the chat port's certificate, and the page is pointed
// at wss:// and an https:// file_url.
func TestWebPortServesHTTPSWithTheCertificate(t *testing.T) {
	dir := t.TempDir()
	c, err := devcert.Generate([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startChatd(t, map[string]string{"CHATD_DATA_DIR": t.TempDir(), "CHATD_TLS_CERT": certFile, "CHATD_TLS_KEY": keyFile})
	base := "https://" + d.at.Web.String()
	if !strings.Contains(d.stdout.String(), "web        "+base+"/") {
		t.Fatalf("web port not printed as %s:\n%s", base, d.stdout.String())
	}
	if resp, err := http.Get("http://" + d.at.Web.String() + "/config.json"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on a web port that has a certificate")
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Pool()}}}
	checkClientConfig(t, hc, base, "wss://", d.at.Chat)
}
