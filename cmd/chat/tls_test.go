package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/devcert"
	"github.com/chatd/chatd/service/servicetest"
)

// TestSendOverTLS: `chat --ca FILE send` reaches a chatd that requires TLS;
// `chat --tls` without the authority says the certificate was refused.
func TestSendOverTLS(t *testing.T) {
	cert, err := devcert.Generate(devcert.DefaultHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := cert.TLS()
	if err != nil {
		t.Fatal(err)
	}
	addr := servicetest.Start(t, servicetest.WithConfig(func(c *service.Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		c.RequireTLS = true
	})).ChatAddr
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, cert.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"alice", "bob"} {
		c, err := client.Dial(ctx, addr, client.Options{TLS: &tls.Config{RootCAs: cert.Pool()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Register(ctx, name, "password-"+name, ""); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("CHAT_PASSWORD", "password-alice")
	var out lockedBuffer
	// Not friends: send looks bob up in alice's friend list and says he
	// is not there, which takes a login and a friend.list over TLS.
	err = run([]string{"--server", addr, "--ca", caFile, "--user", "alice", "send", "--to", "bob", "hi"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "not among your friends") {
		t.Fatalf("send over TLS: %v (%s), want the friend list's answer", err, out.String())
	}
	err = run([]string{"--server", addr, "--tls", "--user", "alice", "send", "--to", "bob", "hi"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("send with an untrusted certificate: %v, want a certificate error", err)
	}
}
