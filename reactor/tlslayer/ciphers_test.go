package tlslayer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/chatd/chatd/reactor"
)

// cipherState describes one direction's record cipher: "idle" (a lazyAEAD
// without its cipher), "live" (a lazyAEAD with it), "crypto/tls" (the
// cipher crypto/tls made) or "other" (not a TLS 1.3 wrapper).
func cipherState(tc *tls.Conn, dir uintptr) string {
	hc := unsafe.Add(unsafe.Pointer(tc), dir)
	slot := innerAEAD(*(*any)(unsafe.Add(hc, cipherFields.cipher)))
	if slot == nil {
		return "other"
	}
	if lz, ok := (*slot).(*lazyAEAD); ok {
		if lz.aead == nil {
			return "idle"
		}
		return "live"
	}
	return "crypto/tls"
}

// peek is a pass-through layer above TLS whose Wake runs f on the loop,
// where the TLS layer's state may be read.
type peek struct {
	io *reactor.LayerIO
	f  chan func()
}

func (p *peek) Open(io *reactor.LayerIO) error { p.io = io; return nil }
func (p *peek) Decode(in []byte) (int, error)  { p.io.Up(in); return len(in), nil }
func (p *peek) Encode(unit [][]byte) error {
	for _, b := range unit {
		p.io.Down(b)
	}
	return nil
}
func (p *peek) Flush() error { return nil }
func (p *peek) Close()       {}
func (p *peek) Release()     {}
func (p *peek) Wake() error  { (<-p.f)(); return nil }

// states returns the server side's in and out cipher states, read on the loop.
func (p *peek) states(l *Layer) [2]string {
	got := make(chan [2]string, 1)
	p.f <- func() {
		if r := l.rec; r != nil { // the TLS 1.3 record layer took over
			state := func(d *dir13) string {
				if d.keys == nil {
					return "idle"
				}
				return "live"
			}
			got <- [2]string{state(&r.in), state(&r.out)}
			return
		}
		got <- [2]string{cipherState(l.tc, cipherFields.in), cipherState(l.tc, cipherFields.out)}
	}
	p.io.Wake()
	return <-got
}

// pushPeek puts a peek on the next connection's stack through its first
// OnData (the echo goes on) and returns it with the connection's TLS layer.
func pushPeek(t *testing.T, r *recorder, send func()) (*peek, *Layer) {
	t.Helper()
	p := &peek{f: make(chan func(), 1)}
	pushed := make(chan *reactor.Conn, 1)
	r.setData(func(c *reactor.Conn, b []byte) int {
		if p.io == nil {
			c.PushLayer(p)
			pushed <- c
		}
		c.WriteCopy(b)
		return len(b)
	})
	send()
	c := <-pushed
	r.setData(nil)
	return p, r.layer(c)
}

// waitStates polls until the server's ciphers are in want (the sweeper runs
// on its own time), failing after 20 s.
func waitStates(t *testing.T, p *peek, l *Layer, want [2]string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := p.states(l)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cipher states %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fastSweep(t testing.TB) {
	old := sweepEvery
	sweepEvery = 20 * time.Millisecond
	t.Cleanup(func() { sweepEvery = old })
}

// TestIdleConnDropsCiphers: a quiet TLS 1.3 AES-GCM connection lets its
// record ciphers go (crypto/tls's are swapped for key-only ones) and
// builds them again for the next records, both ways, many times; TLS 1.2
// keeps crypto/tls's. It fails if a Go release renames the fields this
// relies on, so that the loss is noticed.
func TestIdleConnDropsCiphers(t *testing.T) {
	if !cipherFields.ok {
		t.Fatal("crypto/tls.Conn no longer has in/out halfConns with cipher and trafficSecret: idle connections keep their ciphers")
	}
	fastSweep(t)
	cert := newTestCert(t, "ciphers")
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{Loops: 1})
			c, err := dialTLS(t, addr, cert, func(c *tls.Config) { c.MinVersion, c.MaxVersion = v.v, v.v })
			if err != nil {
				t.Fatal(err)
			}
			<-r.opened
			echo := func(msg []byte) {
				t.Helper()
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatal("echo differs")
				}
			}
			p, l := pushPeek(t, r, func() { echo([]byte("first")) })
			suite := c.ConnectionState().CipherSuite
			want := [2]string{"other", "other"}
			if v.v == tls.VersionTLS13 {
				want = [2]string{"crypto/tls", "crypto/tls"}
				if _, _, ok := suiteParams(suite); ok { // the record layer (record.go)
					want = [2]string{"idle", "idle"}
				}
			}
			for i, size := range []int{1, 700, 16 << 10, 40 << 10, 3} {
				waitStates(t, p, l, want)
				echo(bytes.Repeat([]byte{byte(i)}, size))
			}
		})
	}
}

// TestDroppedCiphersAES256: with OpenSSL's s_client on TLS 1.3
// AES-256-GCM (SHA-384 key derivation), the ciphers go while idle and come
// back, several times. (A KeyUpdate makes crypto/tls build new ciphers,
// which the next sweep swaps the same way; s_client's "k" command could not
// be used to test it: after it, s_client stops echoing even with crypto/tls
// over package net.)
func TestDroppedCiphersAES256(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("this test drives OpenSSL's s_client, which is not installed: ", err)
	}
	fastSweep(t)
	cert := newTestCert(t, "aes256")
	r, _, addr := serve(t, cert, nil, Options{}, reactor.Options{Loops: 1})
	cmd := exec.Command(openssl, "s_client", "-connect", addr, "-tls1_3",
		"-ciphersuites", "TLS_AES_256_GCM_SHA384", "-quiet", "-no_ign_eof")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewReader(stdout)
	echo := func(s string) {
		t.Helper()
		stdin.Write([]byte(s + "\n"))
		type line struct {
			s   string
			err error
		}
		res := make(chan line, 1)
		go func() {
			got, err := lines.ReadString('\n')
			res <- line{got, err}
		}()
		select {
		case got := <-res:
			if got.err != nil || got.s != s+"\n" {
				t.Fatalf("echo of %q: %q, %v; s_client said:\n%s", s, got.s, got.err, stderr.String())
			}
		case err := <-r.closed:
			t.Fatalf("echo of %q: the server closed the connection: %v; s_client said:\n%s", s, err, stderr.String())
		case <-time.After(20 * time.Second):
			t.Fatalf("echo of %q: no answer in 20 s; s_client said:\n%s", s, stderr.String())
		}
	}
	<-r.opened
	p, l := pushPeek(t, r, func() { echo("hello") })
	idle := [2]string{"idle", "idle"}
	waitStates(t, p, l, idle)
	base := swaps.Load()
	for _, msg := range []string{"one", "two", strings.Repeat("three", 4000)} {
		waitStates(t, p, l, idle)
		echo(msg)
	}
	if n := swaps.Load() - base; n != 0 {
		t.Fatalf("%d more crypto/tls ciphers swapped; want none: the first swap is kept", n)
	}
}

// TestTrafficKey checks the key derivation against RFC 8448 section 3 (the
// server's handshake traffic secret and write key).
func TestTrafficKey(t *testing.T) {
	secret, _ := hex.DecodeString(strings.ReplaceAll("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38", " ", ""))
	key, err := trafficKey(sha256.New, secret, 16)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(key), "3fce516009c21727d0f2e4e86ee403bc"; got != want {
		t.Fatalf("key %s, want %s", got, want)
	}
}
