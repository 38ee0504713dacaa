package websocket

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSession feeds arbitrary client bytes twice, whole and cut at a point
// the fuzzer picks, and requires the same output and verdict: the decoder
// must not depend on how the bytes arrive. It must not panic, and it must
// never hold more than the message limit.
func FuzzSession(f *testing.F) {
	for _, c := range autobahnCases() {
		var stream []byte
		for _, p := range c.pieces() {
			stream = append(stream, p...)
		}
		if len(stream) < 4096 {
			f.Add(stream, uint16(len(stream)/2))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, cut uint16) {
		cfg := &Config{MaxMessage: 512}
		whole, werr := feedAll(cfg, bytes.Clone(stream))

		s := NewSession(cfg)
		r := &echoReceiver{}
		k := int(cut) % (len(stream) + 1)
		in := bytes.Clone(stream)
		n, err := s.Feed(in[:k], r)
		if err == nil {
			rest := append(bytes.Clone(in[n:k]), in[k:]...)
			_, err = s.Feed(rest, r)
		}
		if len(s.msg) > 512 {
			t.Fatalf("reassembly buffer of %d bytes over a 512-byte limit", len(s.msg))
		}
		split, perr := parseServerFrames(r.out)
		if perr != nil {
			t.Fatal(perr)
		}
		if describe(whole) != describe(split) {
			t.Fatalf("whole: %s; cut at %d: %s", describe(whole), k, describe(split))
		}
		var ce1, ce2 *CloseError
		if errors.As(werr, &ce1) != errors.As(err, &ce2) || ce1 != nil && (ce1.Code != ce2.Code || ce1.Remote != ce2.Remote) {
			t.Fatalf("whole: %v; cut at %d: %v", werr, k, err)
		}
	})
}

// FuzzUpgrade parses arbitrary request heads: no panic, an answer for every
// complete head, a consumed length within the input, and no verdict on a
// prefix that the whole input contradicts.
func FuzzUpgrade(f *testing.F) {
	f.Add([]byte(upgradeRequest("/ws", "Origin: https://a.example", "Sec-WebSocket-Protocol: chatd.v1")), uint16(10))
	f.Add([]byte(upgradeRequest("/")), uint16(0))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		cfg := &Config{Path: "/ws", Subprotocols: []string{"chatd.v1"}, CheckOrigin: AllowOrigins("https://a.example"), MaxRequest: 1024}
		n, resp, req, err := cfg.Upgrade(data)
		if n < 0 || n > len(data) {
			t.Fatalf("n = %d of %d bytes", n, len(data))
		}
		switch {
		case err != nil:
			if resp == nil || n != 0 || req != nil {
				t.Fatalf("refusal without a response: %v", err)
			}
		case n > 0:
			if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")) || req == nil {
				t.Fatalf("accepted without a 101: %q", resp)
			}
		case bytes.Contains(data, []byte("\r\n\r\n")):
			t.Fatal("a complete head got no answer")
		}
		k := int(cut) % (len(data) + 1)
		n1, _, _, err1 := cfg.Upgrade(data[:k])
		if err1 != nil && err == nil || n1 > 0 && n1 != n {
			t.Fatalf("prefix of %d bytes: n=%d err=%v; whole: n=%d err=%v", k, n1, err1, n, err)
		}
	})
}
