package main

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatd/chatd/bench/internal/tlscert"
)

// TestMain lets -flood-process re-run this test binary as loadgen.
func TestMain(m *testing.M) {
	if os.Getenv(floodChildEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveTLSEcho starts a crypto/tls echo server and counts its connections.
func serveTLSEcho(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	cfg, err := tlscert.Config()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String(), accepted
}

// TestRunFlood: pings go to -addr, the flood's handshakes to -flood-addr,
// from this process or from a child loadgen.
func TestRunFlood(t *testing.T) {
	clientTLS = &tls.Config{InsecureSkipVerify: true}
	t.Cleanup(func() { clientTLS = nil })
	for _, child := range []bool{false, true} {
		pinged, pingedConns := serveTLSEcho(t)
		flooded, floodedConns := serveTLSEcho(t)
		cfg := config{Addr: pinged, FloodAddr: flooded, FloodProcess: child, Conns: 4, Dialers: 2, Flood: 2,
			Duration: 400 * time.Millisecond, Interval: 10 * time.Millisecond}
		res, err := runFlood(context.Background(), cfg)
		if err != nil {
			t.Fatalf("child %v: %v", child, err)
		}
		if res.Errors != 0 || res.Handshakes < 1 || res.QuietP99us <= 0 || res.P99us <= 0 {
			t.Fatalf("child %v: implausible flood result %+v", child, res)
		}
		if n := pingedConns.Load(); n != 4 {
			t.Fatalf("child %v: the pinged server took %d connections, want the 4 pinging ones", child, n)
		}
		if n := floodedConns.Load(); n < res.Handshakes {
			t.Fatalf("child %v: the flooded server took %d connections for %d handshakes", child, n, res.Handshakes)
		}
	}
}
