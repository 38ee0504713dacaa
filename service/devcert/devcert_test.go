package devcert

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// TestServesTLSToAClientThatTrustsIt: a client trusting the certificate
// completes a handshake for each default host; one that does not fails.
func TestServesTLSToAClientThatTrustsIt(t *testing.T) {
	c, err := Generate(DefaultHosts, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.TLS()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = conn.(*tls.Conn).Handshake(); conn.Close() }()
		}
	}()
	for _, host := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: c.Pool(), ServerName: host})
		if err != nil {
			t.Fatalf("trusted handshake as %s: %v", host, err)
		}
		conn.Close()
	}
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := tls.Client(nc, &tls.Config{ServerName: "localhost"}).Handshake(); err == nil {
		t.Fatal("a client that does not trust the certificate completed the handshake")
	}
}
