package tlslayer

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"hash"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/chatd/chatd/reactor"
)

// TestExpandLabel checks the allocation-free HKDF-Expand-Label against
// RFC 8448 section 3 (the server's handshake write key and IV) and against
// crypto/hkdf for both hashes, every length the record layer asks for and
// its labels, and checks that it allocates nothing.
func TestExpandLabel(t *testing.T) {
	secret, _ := hex.DecodeString(strings.ReplaceAll("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38", " ", ""))
	var key [16]byte
	var iv [12]byte
	expandLabel(secret, "key", key[:])
	expandLabel(secret, "iv", iv[:])
	if got, want := hex.EncodeToString(key[:]), "3fce516009c21727d0f2e4e86ee403bc"; got != want {
		t.Fatalf("key %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(iv[:]), "5d313eb2671276ee13000b30"; got != want {
		t.Fatalf("iv %s, want %s", got, want)
	}
	for _, h := range []struct {
		n   int
		new func() hash.Hash
	}{{32, sha256.New}, {48, sha512.New384}} {
		secret := bytes.Repeat([]byte{0xa5}, h.n)
		secret[0] = byte(h.n)
		for _, label := range []string{"key", "iv", "traffic upd"} {
			for _, n := range []int{12, 16, 32, h.n} {
				info := append([]byte{byte(n >> 8), byte(n), byte(6 + len(label))}, "tls13 "+label...)
				want, err := hkdf.Expand(h.new, secret, string(append(info, 0)), n)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, n)
				expandLabel(secret, label, got)
				if !bytes.Equal(got, want) {
					t.Fatalf("hash %d label %q length %d: %x, want %x", h.n, label, n, got, want)
				}
			}
		}
		out := make([]byte, h.n)
		if a := testing.AllocsPerRun(10, func() { expandLabel(secret, "traffic upd", out) }); a != 0 {
			t.Fatalf("hash %d: expandLabel allocates %v times", h.n, a)
		}
	}
}

// TestCompactConnectionState: a connection the record layer took over
// reports the same ConnectionState as crypto/tls did at the end of the
// handshake (ALPN, SNI), from the compact form when there are no client
// certificates; with them it keeps the whole struct. Its exporter agrees
// with the client's when Options.KeepExporter is set and returns
// ErrNoExporter otherwise; the state OnHandshake gets exports either way.
func TestCompactConnectionState(t *testing.T) {
	if !stateFields.ok {
		t.Fatal("tls.ConnectionState's fields changed: connections keep the whole struct (192 bytes)")
	}
	cert, client := newTestCert(t, "state"), newTestCert(t, "client")
	for _, tc := range []struct{ certs, keepEKM bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		seen := make(chan tls.ConnectionState, 1)
		r, _, addr := serve(t, cert, func(c *tls.Config) {
			c.NextProtos = []string{"chatd.v1"}
			if tc.certs {
				c.ClientAuth = tls.RequireAnyClientCert
			}
		}, Options{KeepExporter: tc.keepEKM, OnHandshake: func(c *reactor.Conn, st tls.ConnectionState) error { seen <- st; return nil }}, reactor.Options{})
		c, err := dialTLS(t, addr, cert, func(c *tls.Config) {
			c.ServerName, c.NextProtos = "chat.example", []string{"chatd.v1"}
			if tc.certs {
				c.Certificates = []tls.Certificate{client.cert}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("x"))
		io.ReadFull(c, make([]byte, 1))
		want := <-seen
		l := r.layer(<-r.opened)
		if l.rec == nil {
			t.Fatal("the record layer did not take the connection over")
		}
		if compact := l.rec.rare.Load() == nil; compact == tc.certs {
			t.Fatalf("%+v: compact %v", tc, compact)
		}
		got, ok := l.ConnectionState()
		if !ok {
			t.Fatal("ConnectionState not ok")
		}
		// ekm is a func: compare the rest, then what it exports.
		ekmOf := func(st *tls.ConnectionState) *ekmFunc {
			return (*ekmFunc)(unsafe.Add(unsafe.Pointer(st), stateFields.ekm))
		}
		w, g := want, got
		*ekmOf(&w), *ekmOf(&g) = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%+v: ConnectionState\n%+v\nwant\n%+v", tc, g, w)
		}
		cst := c.ConnectionState()
		cb, err := cst.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
		if err != nil {
			t.Fatal(err)
		}
		a, err := want.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
		if err != nil || !bytes.Equal(a, cb) {
			t.Fatalf("%+v: OnHandshake's state exported %x %v, the client %x", tc, a, err, cb)
		}
		b, err := got.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
		switch {
		case tc.keepEKM && (err != nil || !bytes.Equal(b, cb)):
			t.Fatalf("%+v: exported %x %v, the client %x", tc, b, err, cb)
		case !tc.keepEKM && err != ErrNoExporter:
			t.Fatalf("%+v: exported %x %v, want ErrNoExporter", tc, b, err)
		}
		c.Close()
	}
}

// TestCiphersOnceAfterQuiet: the record layer's ciphers are not kept after
// the handshake, the ones built for the first records after a quiet spell
// go at the end of that pass, and the ones built again before the sweep
// stay (no sweep runs in this test, so no timing decides the outcome).
func TestCiphersOnceAfterQuiet(t *testing.T) {
	old := sweepEvery
	sweepEvery = time.Hour
	t.Cleanup(func() { sweepEvery = old })
	cert := newTestCert(t, "once")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{Loops: 1})
	c, err := dialTLS(t, addr, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-r.opened
	echo := func(msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q: %q %v", msg, got, err)
		}
	}
	p, l := pushPeek(t, r, func() { echo("first") })
	if l.rec == nil {
		t.Fatal("the record layer did not take the connection over")
	}
	if got := p.states(l); got != [2]string{"idle", "idle"} {
		t.Fatalf("after the first record: %v, want both idle", got)
	}
	for _, msg := range []string{"second", "third"} {
		echo(msg)
		if got := p.states(l); got != [2]string{"live", "live"} {
			t.Fatalf("after %q: %v, want both live", msg, got)
		}
	}
}
