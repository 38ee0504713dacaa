package websocket

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/chatd/chatd/reactor"
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
	// CheckMessage, if set, sees each whole message before the handler and
	// returns 0 to pass it on or a close status (for instance 1002 when a
	// message breaks the application's framing) to close the connection
	// with. It runs on the loop and must not keep p.
	CheckMessage func(p []byte) int
	// OnUpgrade, if set, runs on the loop when a Layer's upgrade has
	// succeeded, before the first message reaches OnData: r says which path,
	// origin and subprotocol were chosen, and l is the layer (for
	// Layer.CloseWith).
	OnUpgrade func(c *reactor.Conn, r *Request, l *Layer)
}

// Request is a parsed upgrade request. Its strings share one copy of the
// request head, so parsing it costs one allocation besides the Request.
type Request struct {
	Target   string // request-target as sent (path and query)
	Path     string // Target without the query
	Host     string // Host header
	Origin   string // Origin header ("" when absent, as from non-browser clients)
	Protocol string // the selected subprotocol ("" for none)
	head     string // the header lines, for Header
	key      string // Sec-WebSocket-Key
}

// Header returns the value of the first header field called name (any
// case), or "".
func (r *Request) Header(name string) string {
	for rest := r.head; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\r\n")
		if n, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(n, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
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
func AcceptKey(key string) string { return string(appendAccept(nil, key)) }

// appendAccept appends AcceptKey(key) to dst.
func appendAccept(dst []byte, key string) []byte {
	var buf [64]byte
	sum := sha1.Sum(append(append(buf[:0], key...), keyGUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
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
func (cfg *Config) parse(data []byte) (*Request, *HandshakeError) {
	head := string(data)
	line, rest, _ := strings.Cut(head, "\r\n")
	method, rl, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rl, " ")
	if !ok1 || !ok2 || target == "" {
		return nil, refuse(http.StatusBadRequest, "malformed request line")
	}
	if method != http.MethodGet {
		return nil, refuse(http.StatusMethodNotAllowed, "not a GET request")
	}
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok || major != 1 || minor < 1 {
		return nil, refuse(http.StatusBadRequest, "not HTTP/1.1")
	}
	r := &Request{Target: target, head: rest}
	r.Path, _, _ = strings.Cut(target, "?")
	var hosts, keys, versions int
	var upgrade, connection, version bool
	var protocols []string
	for rest != "" {
		var l string
		l, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, refuse(http.StatusBadRequest, "malformed header field")
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Host"):
			r.Host, hosts = value, hosts+1
		case strings.EqualFold(name, "Upgrade"):
			upgrade = upgrade || hasToken(value, "websocket")
		case strings.EqualFold(name, "Connection"):
			connection = connection || hasToken(value, "upgrade")
		case strings.EqualFold(name, "Sec-WebSocket-Key"):
			r.key, keys = value, keys+1
		case strings.EqualFold(name, "Sec-WebSocket-Version"):
			version, versions = value == "13", versions+1
		case strings.EqualFold(name, "Sec-WebSocket-Protocol"):
			protocols = append(protocols, value)
		case strings.EqualFold(name, "Origin"):
			r.Origin = value
		}
	}
	switch {
	case !upgrade:
		return nil, refuse(http.StatusUpgradeRequired, "not a WebSocket upgrade")
	case !connection:
		return nil, refuse(http.StatusBadRequest, "Connection header lacks upgrade")
	case hosts != 1 || r.Host == "":
		return nil, refuse(http.StatusBadRequest, "missing Host")
	case versions != 1 || !version:
		return nil, refuse(http.StatusUpgradeRequired, "unsupported WebSocket version")
	case keys != 1 || !validKey(r.key):
		return nil, refuse(http.StatusBadRequest, "bad Sec-WebSocket-Key")
	}
	if cfg.Path != "" && r.Path != cfg.Path {
		return nil, refuse(http.StatusNotFound, "no WebSocket endpoint at this path")
	}
	if cfg.CheckOrigin != nil && !cfg.CheckOrigin(r) {
		return nil, refuse(http.StatusForbidden, "origin not allowed")
	}
	r.Protocol = cfg.selectProtocol(protocols)
	if r.Protocol == "" && cfg.RequireSubprotocol {
		return nil, refuse(http.StatusBadRequest, "no supported subprotocol offered")
	}
	return r, nil
}

// validKey reports whether key is the base64 encoding of 16 bytes.
func validKey(key string) bool {
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return len(key) == 24 && err == nil && n == 16
}

// hasToken reports whether a comma-separated header value holds token (any
// case).
func hasToken(value, token string) bool {
	for t := range strings.SplitSeq(value, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
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
	b = appendAccept(b, r.key)
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
