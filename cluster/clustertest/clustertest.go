// Package clustertest gives tests a NATS server with JetStream for a
// cluster: the one CHATD_TEST_NATS_URL names (CI runs a real nats-server)
// or else one embedded in the test process (github.com/nats-io/nats-server,
// its store under the test's temporary directory), and a cluster name of
// their own so tests sharing a server never see each other's subjects or
// directory.
package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EnvURL names the environment variable with a real NATS server's URL.
const EnvURL = "CHATD_TEST_NATS_URL"

// URL returns the NATS server tests use: CHATD_TEST_NATS_URL when set,
// else a fresh embedded server that lives as long as tb.
func URL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return Embedded(tb).URL()
}

// Server is an embedded NATS server with JetStream that a test can stop
// and start again on the same port and store (a bus outage).
type Server struct {
	tb   testing.TB
	opts server.Options
	srv  *server.Server
}

// Embedded starts an embedded NATS server with JetStream on a free
// loopback port; it is shut down when tb ends.
func Embedded(tb testing.TB) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("clustertest: free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{tb: tb, opts: server.Options{Host: "127.0.0.1", Port: port, JetStream: true,
		StoreDir: tb.TempDir(), NoLog: true, NoSigs: true}}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// URL returns the server's client URL.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Start starts the server (again, after Stop).
func (s *Server) Start() {
	s.tb.Helper()
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.tb.Fatalf("clustertest: nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(20 * time.Second) {
		s.tb.Fatal("clustertest: nats server not ready")
	}
	s.srv = srv
}

// Stop shuts the server down (clients see the bus drop).
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Name returns a cluster name for tb alone. Its directory bucket is
// deleted when tb ends, so a long-lived server does not collect them.
func Name(tb testing.TB, url string) string {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "t" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
		if err != nil {
			return // an embedded server already stopped: nothing to clean
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, name+"_sessions")
	})
	return name
}
