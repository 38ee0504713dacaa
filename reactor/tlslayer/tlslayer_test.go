package tlslayer

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/reactor"
)

var versions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestEchoManyConns: many TLS connections echo messages of many sizes
// (beyond one record) intact, on TLS 1.2 and 1.3.
func TestEchoManyConns(t *testing.T) {
	cert := newTestCert(t, "echo")
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			r, e, addr := serve(t, cert, nil, Options{}, reactor.Options{})
			const conns, msgs = 30, 20
			var wg sync.WaitGroup
			for i := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := dialTLS(t, addr, cert, func(c *tls.Config) { c.MinVersion, c.MaxVersion = v.v, v.v })
					if err != nil {
						t.Errorf("dial: %v", err)
						return
					}
					if got := c.ConnectionState().Version; got != v.v {
						t.Errorf("version %x, want %x", got, v.v)
					}
					for m := range msgs {
						want := bytes.Repeat([]byte{byte(i), byte(m)}, 1+(i*msgs+m)*397%20000)
						if _, err := c.Write(want); err != nil {
							t.Errorf("write: %v", err)
							return
						}
						got := make([]byte, len(want))
						if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
							t.Errorf("conn %d msg %d: echo differs (%v)", i, m, err)
							return
						}
					}
					c.Close()
				}()
			}
			wg.Wait()
			for range conns {
				if err := r.waitClose(t); !errors.Is(err, io.EOF) {
					t.Errorf("OnClose err = %v, want io.EOF", err)
				}
			}
			if s := e.Stats(); s.QueuedBytes != 0 {
				t.Errorf("queued bytes left: %+v", s)
			}
		})
	}
}

// TestALPNAndSNI: the negotiated protocol and the server name reach
// OnHandshake before any data, and Layer.ConnectionState afterwards.
func TestALPNAndSNI(t *testing.T) {
	cert := newTestCert(t, "alpn")
	seen := make(chan tls.ConnectionState, 1)
	r, _, addr := serve(t, cert, func(c *tls.Config) { c.NextProtos = []string{"chatd.v1"} },
		Options{OnHandshake: func(c *reactor.Conn, st tls.ConnectionState) error { seen <- st; return nil }}, reactor.Options{})
	c, err := dialTLS(t, addr, cert, func(c *tls.Config) {
		c.ServerName, c.NextProtos = "chat.example", []string{"other", "chatd.v1"}
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	st := <-seen
	if st.NegotiatedProtocol != "chatd.v1" || st.ServerName != "chat.example" {
		t.Fatalf("OnHandshake saw ALPN %q SNI %q", st.NegotiatedProtocol, st.ServerName)
	}
	sc := <-r.opened
	if st, ok := r.layer(sc).ConnectionState(); !ok || st.NegotiatedProtocol != "chatd.v1" || st.ServerName != "chat.example" {
		t.Fatalf("ConnectionState = %q %q %v", st.NegotiatedProtocol, st.ServerName, ok)
	}
}

// TestOnHandshakeRefuses: an error from OnHandshake closes the connection
// before the handler sees a byte.
func TestOnHandshakeRefuses(t *testing.T) {
	cert := newTestCert(t, "refuse")
	refused := errors.New("no ALPN")
	r, _, addr := serve(t, cert, nil, Options{OnHandshake: func(c *reactor.Conn, st tls.ConnectionState) error {
		if st.NegotiatedProtocol == "" {
			return refused
		}
		return nil
	}}, reactor.Options{})
	r.setData(func(c *reactor.Conn, b []byte) int { t.Error("OnData after a refused handshake"); return len(b) })
	c, err := dialTLS(t, addr, cert, nil)
	if err == nil {
		c.Write([]byte("x"))
	}
	if err := r.waitClose(t); !errors.Is(err, refused) {
		t.Fatalf("OnClose err = %v, want %v", err, refused)
	}
}

// TestBadCertificates: a client that does not trust the certificate, or
// asks for another name, or shares no version, fails its handshake, and the
// server closes the connection without a byte reaching OnData.
func TestBadCertificates(t *testing.T) {
	cert := newTestCert(t, "server")
	other := newTestCert(t, "other CA")
	r, e, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	r.setData(func(c *reactor.Conn, b []byte) int { t.Error("OnData without a handshake"); return len(b) })
	for _, tc := range []struct {
		name string
		mod  func(*tls.Config)
	}{
		{"unknown CA", func(c *tls.Config) { c.RootCAs = other.pool }},
		{"wrong name", func(c *tls.Config) { c.ServerName = "elsewhere.example" }},
		{"no common version", func(c *tls.Config) { c.MaxVersion = tls.VersionTLS11; c.MinVersion = tls.VersionTLS10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := dialTLS(t, addr, cert, tc.mod); err == nil {
				t.Fatal("client handshake succeeded")
			}
			// The cause is the handshake error, or the reset or EOF of a
			// client that hung up after its alert, whichever the server
			// saw first; never a clean local close.
			if err := r.waitClose(t); err == nil {
				t.Fatal("OnClose err = nil, want the failed handshake")
			}
		})
	}
	waitZero(t, e)
}

// TestStalledHandshake: a peer that stops mid-handshake (or never starts)
// is closed once HandshakeTimeout has passed, and nothing stays queued.
func TestStalledHandshake(t *testing.T) {
	cert := newTestCert(t, "stall")
	r, e, addr := serve(t, cert, nil, Options{HandshakeTimeout: 300 * time.Millisecond}, reactor.Options{})
	for _, first := range [][]byte{nil, {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00}} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(first)
		if err := r.waitClose(t); !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("OnClose err = %v, want ErrHandshakeTimeout", err)
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(nc); err != nil {
			t.Fatalf("socket not closed: %v", err)
		}
	}
	waitZero(t, e)
}

// TestMaxHandshakes: connections over the cap of handshakes in flight are
// refused with ErrBusy.
func TestMaxHandshakes(t *testing.T) {
	cert := newTestCert(t, "busy")
	r, _, addr := serve(t, cert, nil, Options{MaxHandshakes: 1, HandshakeTimeout: 5 * time.Second}, reactor.Options{})
	first, err := net.Dial("tcp", addr) // stalls, holding the only slot
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	<-r.opened
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := r.waitClose(t); !errors.Is(err, ErrBusy) {
		t.Fatalf("OnClose err = %v, want ErrBusy", err)
	}
}

// TestSlowReader: a TLS client that stops reading makes the server's
// queue hit MaxOutbound (counted in ciphertext), and the connection closes
// with ErrSlowConsumer instead of growing memory.
func TestSlowReader(t *testing.T) {
	cert := newTestCert(t, "slow")
	const limit = 512 << 10
	chunk := bytes.Repeat([]byte("z"), 8<<10)
	r, e, addr := serve(t, cert, nil, Options{}, reactor.Options{Loops: 1, MaxOutbound: limit})
	var werr error
	done := make(chan struct{})
	r.setData(func(c *reactor.Conn, b []byte) int {
		go func() { // a pusher that never stops, as a broadcast would
			defer close(done)
			for i := 0; i < 100_000; i++ {
				if werr = c.Write(chunk); werr != nil {
					return
				}
			}
		}()
		return len(b)
	})
	c, err := dialTLS(t, addr, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("go")) // then never read
	<-done
	if !errors.Is(werr, reactor.ErrSlowConsumer) && !errors.Is(werr, reactor.ErrClosed) {
		t.Fatalf("write err = %v, want ErrSlowConsumer", werr)
	}
	if err := r.waitClose(t); !errors.Is(err, reactor.ErrSlowConsumer) {
		t.Fatalf("OnClose err = %v, want ErrSlowConsumer", err)
	}
	waitZero(t, e)
}

// rawRecorder keeps every byte a client reads from the socket.
type rawRecorder struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *rawRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// lastRecordType returns the content type of the last whole TLS record in b.
func lastRecordType(b []byte) byte {
	var typ byte
	for len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		if len(b) < 5+n {
			break
		}
		typ = b[0]
		b = b[5+n:]
	}
	return typ
}

// TestCloseNotify: Close sends close_notify after the queued output; a
// close_notify from the peer and a peer that just drops TCP both end in
// OnClose(io.EOF).
func TestCloseNotify(t *testing.T) {
	cert := newTestCert(t, "close")
	r, e, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	r.setData(func(c *reactor.Conn, b []byte) int {
		c.WriteCopy([]byte("last words"))
		c.Close()
		return len(b)
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw := &rawRecorder{Conn: nc}
	c := tls.Client(raw, &tls.Config{RootCAs: cert.pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
	defer c.Close()
	c.Write([]byte("bye?"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v", got, err)
	}
	if typ := lastRecordType(raw.got); typ != 21 {
		t.Fatalf("last record type %d, want 21 (alert: close_notify)", typ)
	}
	if err := r.waitClose(t); err != nil {
		t.Fatalf("OnClose err = %v, want nil", err)
	}

	r.setData(nil) // echo again
	for _, abrupt := range []bool{false, true} {
		c, err := dialTLS(t, addr, cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hi"))
		io.ReadFull(c, make([]byte, 2))
		if abrupt {
			c.NetConn().Close()
		} else {
			c.Close() // close_notify, then FIN
		}
		if err := r.waitClose(t); !errors.Is(err, io.EOF) {
			t.Fatalf("abrupt=%v: OnClose err = %v, want io.EOF", abrupt, err)
		}
	}
	waitZero(t, e)
}

// TestRenegotiationRefused: a TLS 1.2 client asking to renegotiate
// (OpenSSL's s_client "R" command) is refused and the connection closed.
func TestRenegotiationRefused(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("this test drives OpenSSL's s_client, which is not installed: ", err)
	}
	cert := newTestCert(t, "reneg")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{})
	cmd := exec.Command(openssl, "s_client", "-connect", addr, "-tls1_2", "-quiet", "-no_ign_eof")
	stdin, _ := cmd.StdinPipe()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stdin.Write([]byte("ping\n"))
	<-r.opened
	time.Sleep(200 * time.Millisecond) // let the echo come back first
	stdin.Write([]byte("R\n"))
	err = r.waitClose(t)
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("OnClose err = %v, want the refused renegotiation", err)
	}
	t.Logf("OnClose: %v", err)
	cmd.Wait()
	if !strings.Contains(out.String(), "ping") {
		t.Fatalf("no echo before the renegotiation; s_client said:\n%s", out.String())
	}
}

// TestCertReload: a CertReloader serves the new certificate to the next
// handshakes after Reload, without a restart.
func TestCertReload(t *testing.T) {
	a, b := newTestCert(t, "first"), newTestCert(t, "second")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(c testCert) {
		if err := os.WriteFile(certFile, c.certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, c.keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a)
	rl, err := NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	_, _, addr := serve(t, a, func(c *tls.Config) { c.Certificates, c.GetCertificate = nil, rl.GetCertificate }, Options{}, reactor.Options{})
	subject := func() string {
		c, err := dialTLS(t, addr, a, func(c *tls.Config) { c.InsecureSkipVerify = true })
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := subject(); got != "first" {
		t.Fatalf("before reload: %q", got)
	}
	write(b)
	if err := rl.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "second" {
		t.Fatalf("after reload: %q", got)
	}
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	if err := rl.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key")
	}
	if got := subject(); got != "second" {
		t.Fatalf("a failed reload changed the certificate: %q", got)
	}
}

// waitZero waits until no connection is open and nothing is queued.
func waitZero(t *testing.T, e *reactor.Engine) {
	t.Helper()
	var s reactor.Stats
	for range 2000 {
		if s = e.Stats(); s.Conns == 0 && s.QueuedBytes == 0 && s.CopyChunks == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("engine not settled: %s", fmt.Sprintf("%+v", s))
}

// TestDataBeforeServerFinishes: a TLS 1.3 client may send application data
// right after its Finished, before the server has read it. A megabyte sent
// while the server's handshake is still running (held in VerifyConnection)
// waits with the connection and is echoed whole once the handshake is done.
func TestDataBeforeServerFinishes(t *testing.T) {
	cert := newTestCert(t, "early")
	slow := func(c *tls.Config) {
		c.VerifyConnection = func(tls.ConnectionState) error { time.Sleep(300 * time.Millisecond); return nil }
	}
	_, _, addr := serve(t, cert, slow, Options{}, reactor.Options{})
	c, err := dialTLS(t, addr, cert, func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 })
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, beyond what a handshake is given
	go c.Write(want)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("echo of data sent during the handshake: %v (equal %v)", err, bytes.Equal(got, want))
	}
}
