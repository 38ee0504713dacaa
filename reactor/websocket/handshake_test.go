package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

const sampleKey = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 section 1.3

// upgradeRequest returns a well-formed request with extra header lines.
func upgradeRequest(path string, extra ...string) string {
	lines := []string{
		"GET " + path + " HTTP/1.1",
		"Host: chat.example:9000",
		"Upgrade: websocket",
		"Connection: keep-alive, Upgrade",
		"Sec-WebSocket-Key: " + sampleKey,
		"Sec-WebSocket-Version: 13",
	}
	lines = append(lines, extra...)
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

func TestAcceptKeyRFCExample(t *testing.T) {
	if got := AcceptKey(sampleKey); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("AcceptKey = %q", got)
	}
}

func TestUpgradeAccepts(t *testing.T) {
	cfg := &Config{Path: "/ws", Subprotocols: []string{"chatd.v1", "other"}, CheckOrigin: AllowOrigins("https://chat.example")}
	req := upgradeRequest("/ws?x=1", "Origin: https://CHAT.example", "Sec-WebSocket-Protocol: nope, chatd.v1", "Sec-WebSocket-Protocol: other")
	data := []byte(req + "\x81\x80") // the client's first frame already follows
	n, resp, r, err := cfg.Upgrade(data)
	if err != nil || n != len(req) {
		t.Fatalf("Upgrade: n=%d (want %d), err %v", n, len(req), err)
	}
	if r.Path != "/ws" || r.Target != "/ws?x=1" || r.Host != "chat.example:9000" || r.Protocol != "chatd.v1" ||
		r.Header("SEC-WEBSOCKET-PROTOCOL") != "nope, chatd.v1" || r.Header("X-Missing") != "" {
		t.Fatalf("request %+v", r)
	}
	hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hr.StatusCode != 101 || hr.Header.Get("Sec-WebSocket-Accept") != AcceptKey(sampleKey) ||
		!strings.EqualFold(hr.Header.Get("Upgrade"), "websocket") || hr.Header.Get("Sec-WebSocket-Protocol") != "chatd.v1" {
		t.Fatalf("response %q", resp)
	}
}

func TestUpgradeIncremental(t *testing.T) {
	req := []byte(upgradeRequest("/"))
	cfg := &Config{}
	for i := range len(req) {
		n, resp, _, err := cfg.Upgrade(req[:i])
		if n != 0 || resp != nil || err != nil {
			t.Fatalf("prefix of %d bytes: n=%d err=%v", i, n, err)
		}
	}
	if n, _, _, err := cfg.Upgrade(req); n != len(req) || err != nil {
		t.Fatalf("whole request: n=%d err=%v", n, err)
	}
}

func TestUpgradeRefusals(t *testing.T) {
	base := &Config{Path: "/ws", CheckOrigin: AllowOrigins("https://ok.example")}
	drop := func(name string) string {
		var out []string
		for l := range strings.SplitSeq(upgradeRequest("/ws"), "\r\n") {
			if !strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\r\n")
	}
	replace := func(name, line string) string {
		return strings.Replace(drop(name), "\r\n\r\n", "\r\n"+line+"\r\n\r\n", 1)
	}
	cases := []struct {
		name   string
		cfg    *Config
		req    string
		status int
	}{
		{"origin refused", base, upgradeRequest("/ws", "Origin: https://evil.example"), 403},
		{"wrong path", base, upgradeRequest("/other"), 404},
		{"plain GET", base, drop("Upgrade"), 426},
		{"version 8", base, replace("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), 426},
		{"no version", base, drop("Sec-WebSocket-Version"), 426},
		{"no key", base, drop("Sec-WebSocket-Key"), 400},
		{"short key", base, replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAA"), 400},
		{"no connection upgrade", base, replace("Connection", "Connection: keep-alive"), 400},
		{"no host", base, drop("Host"), 400},
		{"HTTP/1.0", base, strings.Replace(upgradeRequest("/ws"), "HTTP/1.1", "HTTP/1.0", 1), 400},
		{"POST", base, strings.Replace(upgradeRequest("/ws"), "GET", "POST", 1), 405},
		{"folded header", base, replace("Origin", " folded"), 400},
		{"no common subprotocol", &Config{Subprotocols: []string{"chatd.v1"}, RequireSubprotocol: true}, upgradeRequest("/", "Sec-WebSocket-Protocol: other"), 400},
		{"head too large", base, upgradeRequest("/ws", "X-Pad: "+strings.Repeat("a", DefaultMaxRequest)), 431},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, resp, _, err := c.cfg.Upgrade([]byte(c.req))
			var he *HandshakeError
			if !errors.As(err, &he) || he.Status != c.status || n != 0 {
				t.Fatalf("Upgrade: n=%d err=%v, want status %d", n, err, c.status)
			}
			hr, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
			if rerr != nil || hr.StatusCode != c.status {
				t.Fatalf("response %q (%v)", resp, rerr)
			}
			if c.status == 426 && hr.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatalf("426 without Sec-WebSocket-Version: 13: %q", resp)
			}
		})
	}
}

func TestUpgradeRefusesEarly(t *testing.T) {
	// Not a GET: known from the first four bytes.
	if _, resp, _, err := (&Config{}).Upgrade([]byte("PRI * HTTP/2.0")); err == nil || resp == nil {
		t.Fatalf("non-GET prefix: err %v", err)
	}
	// A head that never ends: refused once over the limit, not buffered on.
	big := []byte("GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 200))
	if _, _, _, err := (&Config{MaxRequest: 100}).Upgrade(big); err == nil {
		t.Fatal("an endless head was not refused")
	}
}

func TestAllowOriginsWithoutOriginHeader(t *testing.T) {
	check := AllowOrigins("https://a.example")
	if !check(&Request{}) || check(&Request{Origin: "https://b.example"}) || !AllowOrigins("*")(&Request{Origin: "x"}) {
		t.Fatal("AllowOrigins")
	}
}
