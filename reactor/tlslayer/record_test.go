package tlslayer

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
)

// client13 is the client side of a TLS 1.3 connection driven record by
// record once crypto/tls's client has finished the handshake: its record
// state is taken out of the tls.Conn as the server's is (takeRecord13,
// which checks it against crypto/tls's ciphers), so a test can send what
// crypto/tls never sends (KeyUpdate, broken records). TestClient13AgainstCryptoTLS
// checks it, KeyUpdate included, against a crypto/tls server.
type client13 struct {
	t          testing.TB
	nc         net.Conn
	r          *record13
	buf        []byte // bytes from the server not yet opened
	keyUpdates int    // KeyUpdates received
}

func dial13(t testing.TB, addr string, cert testCert) *client13 {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	tc := tls.Client(nc, &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MinVersion: tls.VersionTLS13})
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	st := tc.ConnectionState()
	r, raw := takeRecord13(tc, &st, true)
	if r == nil {
		t.Fatalf("client: could not take the record state (suite %x)", st.CipherSuite)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &client13{t: t, nc: nc, r: r, buf: raw}
}

// record seals one record: outer type, inner content type, content, padding.
func (c *client13) record(outer, inner byte, content []byte, pad int) []byte {
	a := c.r.cipher(&c.r.out)
	body := append(append(bytes.Clone(content), inner), make([]byte, pad)...)
	hdr := []byte{outer, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(hdr[3:], uint16(len(body)+a.Overhead()))
	nonce := c.r.out.nonce()
	c.r.out.seq++
	return a.Seal(bytes.Clone(hdr), nonce, body, hdr)
}

// data seals p as application data records of at most maxPlain bytes.
func (c *client13) data(p []byte) []byte {
	var out []byte
	for len(p) > 0 {
		k := min(len(p), maxPlain)
		out = append(out, c.record(recordAppData, recordAppData, p[:k], 0)...)
		p = p[k:]
	}
	return out
}

// keyUpdate seals a KeyUpdate and moves the write side to the next secret.
func (c *client13) keyUpdate(request bool) []byte {
	req := byte(keyUpdateNotRequested)
	if request {
		req = keyUpdateRequested
	}
	rec := c.record(recordAppData, recordHandshake, []byte{msgKeyUpdate, 0, 0, 1, req}, 0)
	c.r.update(&c.r.out)
	return rec
}

func (c *client13) send(recs ...[]byte) {
	c.t.Helper()
	if _, err := c.nc.Write(bytes.Join(recs, nil)); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next record's inner type and content, skipping
// NewSessionTickets and applying KeyUpdates.
func (c *client13) recv() (byte, []byte, error) {
	for {
		for len(c.buf) < 5 || len(c.buf) < 5+int(binary.BigEndian.Uint16(c.buf[3:])) {
			b := make([]byte, 32<<10)
			n, err := c.nc.Read(b)
			c.buf = append(c.buf, b[:n]...)
			if err != nil {
				return 0, nil, err
			}
		}
		n := 5 + int(binary.BigEndian.Uint16(c.buf[3:]))
		rec := c.buf[:n]
		c.buf = c.buf[n:]
		if rec[0] != recordAppData {
			return 0, nil, fmt.Errorf("outer record type %d", rec[0])
		}
		a := c.r.cipher(&c.r.in) // first: it derives the IV after a KeyUpdate
		pt, err := a.Open(nil, c.r.in.nonce(), rec[5:], rec[:5])
		if err != nil {
			return 0, nil, err
		}
		c.r.in.seq++
		pt = bytes.TrimRight(pt, "\x00")
		typ, pt := pt[len(pt)-1], pt[:len(pt)-1]
		if typ != recordHandshake {
			return typ, pt, nil
		}
		for len(pt) >= 4 {
			n := 4 + (int(pt[1])<<16 | int(pt[2])<<8 | int(pt[3]))
			switch pt[0] {
			case 4: // NewSessionTicket
			case msgKeyUpdate:
				c.keyUpdates++
				c.r.update(&c.r.in)
			default:
				return 0, nil, fmt.Errorf("handshake message %d", pt[0])
			}
			pt = pt[n:]
		}
	}
}

// readData reads n bytes of application data.
func (c *client13) readData(n int) []byte {
	c.t.Helper()
	var got []byte
	for len(got) < n {
		typ, pt, err := c.recv()
		if err != nil {
			c.t.Fatalf("after %d of %d bytes: %v", len(got), n, err)
		}
		if typ != recordAppData {
			c.t.Fatalf("after %d of %d bytes: record type %d (%v)", len(got), n, typ, pt)
		}
		got = append(got, pt...)
	}
	return got
}

// TestClient13AgainstCryptoTLS: the test client (and so the key schedule
// and KeyUpdate of record.go) works against a crypto/tls server over
// package net: it echoes across a KeyUpdate with and without a request,
// and answers a requested one with its own.
func TestClient13AgainstCryptoTLS(t *testing.T) {
	cert := newTestCert(t, "ref")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.cert}})
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
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	keyUpdateEcho(t, dial13(t, ln.Addr().String(), cert))
}

// keyUpdateEcho echoes across KeyUpdates from the client: not requested,
// then requested (the server must answer with its own), twice.
func keyUpdateEcho(t *testing.T, c *client13) {
	t.Helper()
	echo := func(msg string, recs ...[]byte) {
		t.Helper()
		c.send(append(recs, c.data([]byte(msg)))...)
		if got := string(c.readData(len(msg))); got != msg {
			t.Fatalf("echo %q, got %q", msg, got)
		}
	}
	echo("before")
	echo("plain update", c.keyUpdate(false))
	if c.keyUpdates != 0 {
		t.Fatalf("%d KeyUpdates from the server, want none", c.keyUpdates)
	}
	echo("requested update", c.keyUpdate(true))
	if c.keyUpdates != 1 {
		t.Fatalf("%d KeyUpdates from the server, want 1", c.keyUpdates)
	}
	echo(strings.Repeat("again ", 5000), c.keyUpdate(true), c.keyUpdate(false))
	if c.keyUpdates != 2 {
		t.Fatalf("%d KeyUpdates from the server, want 2", c.keyUpdates)
	}
}

// TestRecordLayerKeyUpdate: the server takes KeyUpdates with and without
// update_requested and answers the requested ones.
func TestRecordLayerKeyUpdate(t *testing.T) {
	cert := newTestCert(t, "keyupdate")
	_, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	base := takeovers.Load()
	keyUpdateEcho(t, dial13(t, addr, cert))
	if takeovers.Load() == base {
		t.Fatal("the record layer did not take the connection over")
	}
}

// splitConn writes in pieces of n bytes, one syscall each.
type splitConn struct {
	net.Conn
	n int
}

func (s *splitConn) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i += s.n {
		if _, err := s.Conn.Write(p[i:min(len(p), i+s.n)]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// TestRecordLayerEcho: a crypto/tls client's messages of the sizes around
// a record's limit are echoed intact, with the records arriving whole, byte
// by byte and in odd splits.
func TestRecordLayerEcho(t *testing.T) {
	cert := newTestCert(t, "sizes")
	_, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	sizes := []int{1, 16383, 16384, 16385, 100 << 10}
	for _, split := range []int{0, 1, 7, 1000, 4099} {
		t.Run(fmt.Sprintf("split%d", split), func(t *testing.T) {
			base := takeovers.Load()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			var w net.Conn = nc
			if split > 0 {
				w = &splitConn{Conn: nc, n: split}
			}
			c := tls.Client(w, &tls.Config{RootCAs: cert.pool, ServerName: "localhost"})
			c.SetDeadline(time.Now().Add(60 * time.Second))
			for i, size := range sizes {
				if split == 1 && size > 16385 {
					continue // a syscall per byte: enough for the record limits
				}
				want := bytes.Repeat([]byte{byte(i), byte(size)}, size/2+1)[:size]
				go c.Write(want)
				got := make([]byte, size)
				if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("size %d: echo differs (%v)", size, err)
				}
			}
			if takeovers.Load() == base {
				t.Fatal("the record layer did not take the connection over")
			}
		})
	}
}

// TestRecordLayerManyUnits: units of every size, written in one pass and
// from another goroutine while the peer is not reading, are sealed into
// the rooms the reactor reserves (a record ends where a room would cut a
// unit, a room continues the queue's last chunk) and arrive whole and in
// order.
func TestRecordLayerManyUnits(t *testing.T) {
	cert := newTestCert(t, "units")
	// The peer reads only after every unit is queued: about 3.8 MB of
	// records, which the default 4 MiB queue limit holds only while the
	// kernel's socket buffers take the rest (not on a loaded machine).
	r, e, addr := serve(t, cert, nil, Options{}, reactor.Options{Loops: 1, MaxOutbound: 16 << 20})
	var want []byte
	for i := range 1500 {
		want = append(want, bytes.Repeat([]byte{byte(i)}, 1+(i*977)%5000)...)
	}
	half := len(want) / 2
	done := make(chan error, 1)
	r.setData(func(c *reactor.Conn, b []byte) int {
		for p := want[:half]; len(p) > 0; { // inline: one pass, one flush
			k := min(len(p), 1+len(p)%4999)
			c.Writev(p[:k/2], p[k/2:k])
			p = p[k:]
		}
		go func() { // then small flushes into a full socket
			p := want[half:]
			for len(p) > 0 {
				k := min(len(p), 1+len(p)%700)
				if err := c.Write(p[:k]); err != nil {
					done <- err
					return
				}
				p = p[k:]
			}
			done <- nil
		}()
		return len(b)
	})
	c, err := dialTLS(t, addr, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	c.Write([]byte("go"))
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("the bytes differ from offset %d of %d", i, len(want))
	}
	c.Close()
	r.waitClose(t)
	waitZero(t, e)
}

// firstDiff returns the first offset where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestRecordLayerEmptyAndPadded: empty application data records and
// padded ones are taken (RFC 8446 5.4).
func TestRecordLayerEmptyAndPadded(t *testing.T) {
	cert := newTestCert(t, "padding")
	_, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	c := dial13(t, addr, cert)
	c.send(c.record(recordAppData, recordAppData, nil, 0),
		c.record(recordAppData, recordAppData, []byte("pad"), 100),
		c.record(recordAppData, recordAppData, nil, 16384-1),
		c.record(recordAppData, recordAppData, []byte("ded"), 0))
	if got := string(c.readData(6)); got != "padded" {
		t.Fatalf("got %q", got)
	}
}

// holdConn passes its first write (the ClientHello) and holds the rest
// until release, so the client's Finished and its first data leave in
// one segment.
type holdConn struct {
	net.Conn
	mu     sync.Mutex
	first  bool
	held   []byte
	holdOn bool
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.first {
		h.first, h.holdOn = true, true
		return h.Conn.Write(p)
	}
	if h.holdOn {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

func (h *holdConn) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holdOn = false
	_, err := h.Conn.Write(h.held)
	return err
}

// TestRecordLayerDataWithFinished: data in the segment that carries the
// client's Finished (read by the handshake, then opened by the record
// layer) is echoed.
func TestRecordLayerDataWithFinished(t *testing.T) {
	cert := newTestCert(t, "finished")
	_, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	for _, size := range []int{5, 40 << 10} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		h := &holdConn{Conn: nc}
		c := tls.Client(h, &tls.Config{RootCAs: cert.pool, ServerName: "localhost"})
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		want := bytes.Repeat([]byte("f"), size)
		c.Write(want)
		if err := h.release(); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: echo differs (%v)", size, err)
		}
		nc.Close()
	}
}

// TestRecordLayerSuites: with OpenSSL's s_client on each TLS 1.3 suite
// (crypto/tls's client picks AES-128-GCM on this hardware), lines of
// several sizes are echoed by the record layer, and the client's
// close_notify at the end of its input closes the connection with io.EOF.
func TestRecordLayerSuites(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("this test drives OpenSSL's s_client, which is not installed: ", err)
	}
	cert := newTestCert(t, "suites")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(suite, func(t *testing.T) {
			base := takeovers.Load()
			lines := []string{"one", strings.Repeat("x", 16383), strings.Repeat("y", 70000), "last"}
			input := strings.Join(lines, "\n") + "\n"
			cmd := exec.Command(openssl, "s_client", "-connect", addr, "-tls1_3", "-ciphersuites", suite, "-quiet", "-no_ign_eof")
			out := &echoWriter{want: len(input), full: make(chan struct{})}
			var stderr bytes.Buffer
			cmd.Stdin = &holdEOF{s: input, until: out.full}
			cmd.Stdout, cmd.Stderr = out, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("s_client did not finish; it said:\n%s", stderr.String())
			}
			if got := out.String(); got != input {
				t.Fatalf("echo differs: got %d bytes, want %d; s_client said:\n%s", len(got), len(input), stderr.String())
			}
			if err := r.waitClose(t); !errors.Is(err, io.EOF) {
				t.Fatalf("OnClose err = %v, want io.EOF", err)
			}
			if takeovers.Load() == base {
				t.Fatal("the record layer did not take the connection over")
			}
		})
	}
}

// holdEOF gives its string, then holds EOF back until the echo is whole
// (or 20 s passed): at EOF s_client sends close_notify and stops reading.
type holdEOF struct {
	s     string
	until chan struct{}
}

func (r *holdEOF) Read(p []byte) (int, error) {
	if r.s == "" {
		select {
		case <-r.until:
		case <-time.After(20 * time.Second):
		}
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

// echoWriter keeps what s_client prints and closes full once it has want bytes.
type echoWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want int
	full chan struct{}
}

func (w *echoWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := w.buf.Len()
	w.buf.Write(p)
	if had < w.want && w.buf.Len() >= w.want {
		close(w.full)
	}
	return len(p), nil
}

func (w *echoWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRecordLayerCloseNotify: Close sends close_notify after the queued
// output; a close_notify from the client ends in OnClose(io.EOF).
func TestRecordLayerCloseNotify(t *testing.T) {
	cert := newTestCert(t, "close13")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	r.setData(func(c *reactor.Conn, b []byte) int {
		c.WriteCopy([]byte("last words"))
		c.Close()
		return len(b)
	})
	c := dial13(t, addr, cert)
	c.send(c.data([]byte("bye?")))
	if got := string(c.readData(10)); got != "last words" {
		t.Fatalf("got %q", got)
	}
	typ, pt, err := c.recv()
	if err != nil || typ != recordAlert || !bytes.Equal(pt, []byte{alertLevelWarning, alertCloseNotify}) {
		t.Fatalf("after the data: type %d %v, %v; want close_notify", typ, pt, err)
	}
	if err := r.waitClose(t); err != nil {
		t.Fatalf("OnClose err = %v, want nil", err)
	}
	r.setData(nil)
	c = dial13(t, addr, cert)
	c.send(c.data([]byte("hi")))
	if got := string(c.readData(2)); got != "hi" {
		t.Fatalf("got %q", got)
	}
	c.send(c.data([]byte("bye")), c.record(recordAppData, recordAlert, []byte{alertLevelWarning, alertCloseNotify}, 0))
	if got := string(c.readData(3)); got != "bye" {
		t.Fatalf("got %q", got)
	}
	if err := r.waitClose(t); !errors.Is(err, io.EOF) {
		t.Fatalf("OnClose err = %v, want io.EOF", err)
	}
}

// TestRecordLayerBadRecords: a record that does not open, is too large,
// has a type or message a server does not take, or a fatal alert from
// the client closes the connection with the alert's error.
func TestRecordLayerBadRecords(t *testing.T) {
	cert := newTestCert(t, "bad")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	cases := []struct {
		name   string
		recs   func(c *client13) [][]byte
		alert  tls.AlertError
		remote bool
	}{
		{"bad MAC", func(c *client13) [][]byte {
			rec := c.data([]byte("tampered"))
			rec[len(rec)-1] ^= 1
			return [][]byte{rec}
		}, alertBadRecordMAC, false},
		{"oversized", func(c *client13) [][]byte {
			return [][]byte{binary.BigEndian.AppendUint16([]byte{recordAppData, 3, 3}, maxCiphertext+1)}
		}, alertRecordOverflow, false},
		{"plaintext too long", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordAppData, make([]byte, maxPlain+1), 0)}
		}, alertRecordOverflow, false},
		{"unprotected handshake", func(c *client13) [][]byte {
			return [][]byte{{recordHandshake, 3, 3, 0, 5, msgKeyUpdate, 0, 0, 1, 0}}
		}, alertUnexpectedMessage, false},
		{"change_cipher_spec", func(c *client13) [][]byte {
			return [][]byte{{20, 3, 3, 0, 1, 1}}
		}, alertUnexpectedMessage, false},
		{"unknown inner type", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, 99, []byte("?"), 0)}
		}, alertUnexpectedMessage, false},
		{"no inner type", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, 0, nil, 10)}
		}, alertUnexpectedMessage, false},
		{"NewSessionTicket", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordHandshake, []byte{4, 0, 0, 1, 0}, 0)}
		}, alertUnexpectedMessage, false},
		{"KeyUpdate with more after it", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordHandshake, []byte{msgKeyUpdate, 0, 0, 1, 0, msgKeyUpdate}, 0)}
		}, alertUnexpectedMessage, false},
		{"KeyUpdate split around data", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordHandshake, []byte{msgKeyUpdate, 0}, 0), c.data([]byte("x"))}
		}, alertUnexpectedMessage, false},
		{"KeyUpdate bad request", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordHandshake, []byte{msgKeyUpdate, 0, 0, 1, 2}, 0)}
		}, alertIllegalParameter, false},
		{"KeyUpdate bad length", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordHandshake, []byte{msgKeyUpdate, 0, 0, 2, 0, 0}, 0)}
		}, alertDecodeError, false},
		{"short alert", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordAlert, []byte{2}, 0)}
		}, alertDecodeError, false},
		{"fatal alert from the client", func(c *client13) [][]byte {
			return [][]byte{c.record(recordAppData, recordAlert, []byte{alertLevelFatal, 40}, 0)}
		}, 40, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial13(t, addr, cert)
			c.send(c.data([]byte("ok")))
			if got := string(c.readData(2)); got != "ok" {
				t.Fatalf("got %q", got)
			}
			c.send(tc.recs(c)...)
			err := r.waitClose(t)
			var ae *alertError
			if !errors.As(err, &ae) || ae.alert != tc.alert || ae.remote != tc.remote {
				t.Fatalf("OnClose err = %v, want alert %v (remote %v)", err, tc.alert, tc.remote)
			}
			if !tc.remote && alertsWritten { // the server's alert reaches the client before the close
				typ, pt, err := c.recv()
				if err != nil || typ != recordAlert || !bytes.Equal(pt, []byte{alertLevelFatal, byte(tc.alert)}) {
					t.Fatalf("client got type %d %v, %v; want the fatal alert %d", typ, pt, err, tc.alert)
				}
			}
			c.nc.Close()
		})
	}
}

// TestRecordLayerClientCert: with a client certificate the server sends
// its session ticket at the end of the handshake, from the handshake's
// goroutine; the record layer still takes over, continues the sequence
// numbers after it, and reports the client's certificate (and, asked to
// keep it, the exporter).
func TestRecordLayerClientCert(t *testing.T) {
	cert, client := newTestCert(t, "server"), newTestCert(t, "client")
	r, _, addr := serve(t, cert, func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert }, Options{KeepExporter: true}, reactor.Options{})
	base := takeovers.Load()
	c, err := dialTLS(t, addr, cert, func(c *tls.Config) {
		c.Certificates = []tls.Certificate{client.cert}
		c.ClientSessionCache = tls.NewLRUClientSessionCache(1) // so the server sends a ticket
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{3, 20000} {
		want := bytes.Repeat([]byte("c"), size)
		c.Write(want)
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: echo differs (%v)", size, err)
		}
	}
	if takeovers.Load() == base {
		t.Fatal("the record layer did not take the connection over")
	}
	st, ok := r.layer(<-r.opened).ConnectionState()
	if !ok || len(st.PeerCertificates) != 1 || st.PeerCertificates[0].Subject.CommonName != "client" {
		t.Fatalf("ConnectionState: ok %v, %d peer certificates", ok, len(st.PeerCertificates))
	}
	if _, err := st.ExportKeyingMaterial("test", nil, 16); err != nil {
		t.Fatalf("ExportKeyingMaterial: %v", err)
	}
}

// TestTLS12KeepsCryptoTLS: a TLS 1.2 connection stays on crypto/tls.
func TestTLS12KeepsCryptoTLS(t *testing.T) {
	cert := newTestCert(t, "tls12")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	base := takeovers.Load()
	c, err := dialTLS(t, addr, cert, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	if err != nil {
		t.Fatal(err)
	}
	p, l := pushPeek(t, r, func() {
		c.Write([]byte("twelve"))
		io.ReadFull(c, make([]byte, 6))
	})
	onCrypto := make(chan bool, 1)
	p.f <- func() { onCrypto <- l.rec == nil && l.tc != nil }
	p.io.Wake()
	if !<-onCrypto || takeovers.Load() != base {
		t.Fatal("a TLS 1.2 connection left crypto/tls")
	}
	if st, ok := l.ConnectionState(); !ok || st.Version != tls.VersionTLS12 {
		t.Fatalf("ConnectionState %x %v", st.Version, ok)
	}
}

// TestDataAndCloseNotifyWithFinished: data and close_notify in the segment
// that carries the client's Finished are decoded when the handshake's Wake
// runs; the echo OnData writes then must reach the client before the close
// (a graceful close flushes what was written first), on the record layer
// (TLS 1.3) and on crypto/tls (TLS 1.2).
func TestDataAndCloseNotifyWithFinished(t *testing.T) {
	cert := newTestCert(t, "finclose")
	r, e, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		for _, size := range []int{5, 40 << 10} {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			// TLS 1.2's client waits for the server's Finished after
			// sending its own, so only what follows the handshake is held.
			h := &holdConn{Conn: nc, first: v == tls.VersionTLS12}
			c := tls.Client(h, &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MaxVersion: v})
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatalf("version %x size %d: handshake: %v", v, size, err)
			}
			h.mu.Lock()
			h.holdOn = true
			h.mu.Unlock()
			want := bytes.Repeat([]byte("f"), size)
			c.Write(want)
			c.CloseWrite()                   // close_notify, held with the rest
			nc.SetWriteDeadline(time.Time{}) // CloseWrite leaves it expired
			if err := h.release(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("version %x size %d: echo %d of %d bytes before EOF (%v)", v, size, len(got), size, err)
			}
			if err := r.waitClose(t); !errors.Is(err, io.EOF) {
				t.Fatalf("OnClose err = %v, want io.EOF", err)
			}
			nc.Close()
		}
	}
	_ = e
}

// TestTLS12BadRecordAlert: on crypto/tls's path (TLS 1.2) a record that
// fails its MAC closes the connection after the alert crypto/tls wrote, so
// the client learns why.
func TestTLS12BadRecordAlert(t *testing.T) {
	cert := newTestCert(t, "alert12")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := tls.Client(nc, &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	c.SetDeadline(time.Now().Add(20 * time.Second))
	c.Write([]byte("ok"))
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}
	// An application-data record whose MAC cannot check out, written under
	// the client's tls.Conn.
	if _, err := nc.Write(append([]byte{recordAppData, 3, 3, 0, 48}, bytes.Repeat([]byte{0x5a}, 48)...)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	if alertsWritten && (err == nil || !strings.Contains(err.Error(), "bad record MAC")) {
		t.Fatalf("client read %v, want the server's bad_record_mac alert", err)
	}
	if err := r.waitClose(t); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("OnClose err = %v, want crypto/tls's error", err)
	}
}
