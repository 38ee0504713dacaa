package tlslayer

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
)

// FuzzRecordFeed feeds arbitrary bytes to a TLS layer, as the first bytes
// of a connection (the handshake's input) or after a completed handshake
// (the loop's record feed), and requires that the server neither panics nor
// hangs: once the client stops sending, the connection is closed.
func FuzzRecordFeed(f *testing.F) {
	f.Add(byte(0), []byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0})
	f.Add(byte(1), []byte{0x17, 0x03, 0x03, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(byte(1), []byte{0x15, 0x03, 0x03, 0x00, 0x02, 1, 0})
	f.Add(byte(1), []byte{0x16, 0x03, 0x03, 0xff, 0xff})
	f.Add(byte(0), []byte("GET / HTTP/1.1\r\n\r\n"))
	cert := newTestCert(f, "fuzz")
	_, _, addr := serve(f, cert, nil, Options{HandshakeTimeout: 2 * time.Second}, reactor.Options{})
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if mode&1 == 1 {
			c := tls.Client(nc, &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12 + uint16(mode>>1&1)})
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatalf("handshake: %v", err)
			}
		}
		nc.Write(data)
		nc.(*net.TCPConn).CloseWrite()
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, nc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server did not close the connection")
			}
		}
	})
}
