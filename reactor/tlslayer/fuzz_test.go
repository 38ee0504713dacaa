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

// FuzzRecord13 sends well-sealed TLS 1.3 records of arbitrary content to
// the record layer (record.go) after a real handshake, so the fuzzer
// reaches past the MAC check: inner content types, padding, alerts,
// KeyUpdate and other handshake messages, split or not. data is a list of
// records, each [outer type, inner type, padding, length, content...].
// The server must neither panic nor hang: once the client stops sending,
// the connection is closed.
func FuzzRecord13(f *testing.F) {
	f.Add([]byte{23, 23, 0, 5, 'h', 'e', 'l', 'l', 'o'})
	f.Add([]byte{23, 22, 0, 5, 24, 0, 0, 1, 1, 23, 23, 3, 2, 'h', 'i'})
	f.Add([]byte{23, 22, 0, 2, 24, 0, 23, 22, 0, 3, 0, 1, 0})
	f.Add([]byte{23, 21, 0, 2, 1, 0})
	f.Add([]byte{23, 21, 0, 2, 2, 40})
	f.Add([]byte{23, 0, 9, 0})
	f.Add([]byte{22, 22, 0, 4, 4, 0, 0, 0})
	cert := newTestCert(f, "fuzz13")
	_, _, addr := serve(f, cert, nil, Options{}, reactor.Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := dial13(t, addr, cert)
		var recs [][]byte
		for len(data) >= 4 {
			outer, inner, pad, n := data[0], data[1], int(data[2]), int(data[3])
			data = data[4:]
			n = min(n, len(data))
			recs = append(recs, c.record(outer, inner, data[:n], pad))
			data = data[n:]
		}
		c.send(recs...)
		c.nc.(*net.TCPConn).CloseWrite()
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c.nc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("server did not close the connection")
			}
		}
	})
}
