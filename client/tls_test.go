package client_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/devcert"
	"github.com/chatd/chatd/service/servicetest"
)

// TestTLSChatAndFiles: against a chatd that requires TLS, a client that
// trusts its certificate chats and moves a file over TLS on both ports; a
// client that does not trust it gets ErrCertificate.
func TestTLSChatAndFiles(t *testing.T) {
	cert, err := devcert.Generate(devcert.DefaultHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := cert.TLS()
	if err != nil {
		t.Fatal(err)
	}
	addr := servicetest.Start(t, servicetest.WithFiles(), servicetest.WithLogLevel(zerolog.WarnLevel),
		servicetest.WithConfig(func(c *service.Config) {
			c.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
			c.RequireTLS = true
		})).ChatAddr
	ctx := testCtx(t)
	opts := client.Options{TLS: &tls.Config{RootCAs: cert.Pool()}}
	alice := newUser(t, addr, "alice", opts)
	bob := newUser(t, addr, "bob", opts)
	befriend(t, alice, bob)

	content := bytes.Repeat([]byte("secret bytes "), 50_000)
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	fileID, err := alice.SendFile(ctx, client.Target{User: bob.id}, path, nil)
	if err != nil {
		t.Fatalf("upload over TLS: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "got.txt")
	if err := bob.DownloadFile(ctx, fileID, dest, nil); err != nil {
		t.Fatalf("download over TLS: %v", err)
	}
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("downloaded %d bytes (%v), want the %d sent", len(got), err, len(content))
	}

	_, err = client.Dial(ctx, addr, client.Options{TLS: &tls.Config{}, MaxBackoff: time.Millisecond})
	if !errors.Is(err, client.ErrCertificate) {
		t.Fatalf("untrusted certificate: %v, want ErrCertificate", err)
	}
}
