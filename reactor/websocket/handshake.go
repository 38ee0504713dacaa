package websocket

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// DefaultMaxRequest is the request-head size limit when Config.MaxRequest is 0.
const DefaultMaxRequest = 8 << 10

// keyGUID is the fixed GUID of section 1.3 that Sec-WebSocket-Accept hashes in.
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Config is what a server accepts: the upgrade's path, subprotocols and
// origins, and the limits of the sessions that follow. The zero value
// accepts any path and origin, no subprotocol, messages up to
// DefaultMaxMessage.
type Config struct {
	// Path, if set, is the only request path accepted (404 otherwise). The
	// query string is not part of the comparison.
	Path string
	// Subprotocols the server speaks. The first one the client offers (in
	// the client's order) is selected; none in common selects none.
	Subprotocols []string
	// RequireSubprotocol rejects (400) a client that offers none of
	// Subprotocols.
	RequireSubprotocol bool
	// CheckOrigin, if set, decides on the request's Origin (403 when it
	// returns false). See AllowOrigins.
	CheckOrigin func(r *Request) bool
	// MaxRequest bounds the request head in bytes (431 over it); 0 =
	// DefaultMaxRequest.
	MaxRequest int
	// MaxMessage bounds a message's payload (close 1009 over it); 0 =
	// DefaultMaxMessage.
	MaxMessage int
	// BinaryOnly fails a connection that sends a text message with status
	// 1003 (unsupported data).
	BinaryOnly bool
}

// Request is a parsed upgrade request.
type Request struct {
	Target   string      // request-target as sent (path and query)
	Path     string      // Target without the query
	Host     string      // Host header
	Origin   string      // Origin header ("" when absent, as from non-browser clients)
	Protocol string      // the selected subprotocol ("" for none)
	Header   http.Header // every header field, canonical keys
}

// HandshakeError is a refused upgrade: Status is the HTTP status sent back.
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket: upgrade refused with %d: %s", e.Status, e.Reason)
}

// AcceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(keyGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AllowOrigins returns a CheckOrigin that accepts requests without an
// Origin header (clients other than browsers) and those whose Origin equals
// one of origins, compared without regard to case ("https://chat.example").
// "*" accepts every origin.
func AllowOrigins(origins ...string) func(*Request) bool {
	return func(r *Request) bool {
		if r.Origin == "" {
			return true
		}
		for _, o := range origins {
			if o == "*" || strings.EqualFold(o, r.Origin) {
				return true
			}
		}
		return false
	}
}

// Upgrade parses the HTTP/1.1 upgrade request at the start of data, which
// may be incomplete: n == 0 with a nil error asks for more bytes. On success
// it returns the length of the request head (bytes after it already belong
// to the WebSocket stream), the 101 response to write and the request. A
// refused request gives a *HandshakeError and the error response to write
// before closing.
func (cfg *Config) Upgrade(data []byte) (n int, resp []byte, req *Request, err error) {
	limit := cfg.MaxRequest
	if limit <= 0 {
		limit = DefaultMaxRequest
	}
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		var he *HandshakeError
		switch {
		case len(data) >= 4 && !bytes.HasPrefix(data, []byte("GET ")):
			he = refuse(http.StatusMethodNotAllowed, "not a GET request")
		case len(data) > limit:
			he = refuse(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
		default:
			return 0, nil, nil, nil
		}
		return 0, he.response(), nil, he
	}
	if end+4 > limit {
		he := refuse(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
		return 0, he.response(), nil, he
	}
	req, he := cfg.parse(data[:end])
	if he != nil {
		return 0, he.response(), nil, he
	}
	return end + 4, accept(req), req, nil
}

// refuse returns the HandshakeError for status.
func refuse(status int, reason string) *HandshakeError {
	return &HandshakeError{Status: status, Reason: reason}
}

// parse checks the request head (without its final blank line).
func (cfg *Config) parse(head []byte) (*Request, *HandshakeError) {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	method, rl, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rl, []byte(" "))
	if !ok1 || !ok2 || len(target) == 0 {
		return nil, refuse(http.StatusBadRequest, "malformed request line")
	}
	if string(method) != http.MethodGet {
		return nil, refuse(http.StatusMethodNotAllowed, "not a GET request")
	}
	major, minor, ok := http.ParseHTTPVersion(string(proto))
	if !ok || major != 1 || minor < 1 {
		return nil, refuse(http.StatusBadRequest, "not HTTP/1.1")
	}
	r := &Request{Target: string(target), Header: make(http.Header)}
	r.Path, _, _ = strings.Cut(r.Target, "?")
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return nil, refuse(http.StatusBadRequest, "malformed header field")
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		r.Header[key] = append(r.Header[key], string(bytes.TrimSpace(value)))
	}
	h := r.Header
	r.Host, r.Origin = h.Get("Host"), h.Get("Origin")
	switch {
	case !hasToken(h["Upgrade"], "websocket"):
		return nil, refuse(http.StatusUpgradeRequired, "not a WebSocket upgrade")
	case !hasToken(h["Connection"], "upgrade"):
		return nil, refuse(http.StatusBadRequest, "Connection header lacks upgrade")
	case len(h["Host"]) != 1 || r.Host == "":
		return nil, refuse(http.StatusBadRequest, "missing Host")
	case len(h["Sec-Websocket-Version"]) != 1 || h.Get("Sec-Websocket-Version") != "13":
		return nil, refuse(http.StatusUpgradeRequired, "unsupported WebSocket version")
	}
	if k := h["Sec-Websocket-Key"]; len(k) != 1 || !validKey(k[0]) {
		return nil, refuse(http.StatusBadRequest, "bad Sec-WebSocket-Key")
	}
	if cfg.Path != "" && r.Path != cfg.Path {
		return nil, refuse(http.StatusNotFound, "no WebSocket endpoint at this path")
	}
	if cfg.CheckOrigin != nil && !cfg.CheckOrigin(r) {
		return nil, refuse(http.StatusForbidden, "origin not allowed")
	}
	r.Protocol = cfg.selectProtocol(h["Sec-Websocket-Protocol"])
	if r.Protocol == "" && cfg.RequireSubprotocol {
		return nil, refuse(http.StatusBadRequest, "no supported subprotocol offered")
	}
	return r, nil
}

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(b) == 16
}

// hasToken reports whether a comma-separated header holds token (any case).
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// selectProtocol returns the first subprotocol the client offers that the
// server speaks.
func (cfg *Config) selectProtocol(offers []string) string {
	for _, v := range offers {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			for _, p := range cfg.Subprotocols {
				if t == p {
					return p
				}
			}
		}
	}
	return ""
}

// accept builds the 101 response.
func accept(r *Request) []byte {
	b := make([]byte, 0, 160)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, AcceptKey(r.Header.Get("Sec-Websocket-Key"))...)
	if r.Protocol != "" {
		b = append(b, "\r\nSec-WebSocket-Protocol: "...)
		b = append(b, r.Protocol...)
	}
	return append(b, "\r\n\r\n"...)
}

// response builds the error response for a refused upgrade; a 426 names the
// protocol and version the server speaks.
func (e *HandshakeError) response() []byte {
	var extra string
	if e.Status == http.StatusUpgradeRequired {
		extra = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	}
	body := e.Reason + "\n"
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		e.Status, http.StatusText(e.Status), extra, len(body), body)
}
