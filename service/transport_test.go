package service

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/devcert"
	"github.com/gorilla/websocket"
)

// transport is how the test clients reach the chat port: server adjusts
// the server's Config (a certificate), dial opens a connection that carries
// frames. The zero transport is raw frames over TCP.
type transport struct {
	name   string
	server func(*Config)
	dial   func(t testing.TB, addr string) net.Conn
}

// testCert is one development certificate for every TLS test.
var testCert = sync.OnceValue(func() devcert.Cert {
	c, err := devcert.Generate(devcert.DefaultHosts, 24*time.Hour)
	if err != nil {
		panic(err)
	}
	return c
})

func serveTLS(cfg *Config) {
	cert, err := testCert().TLS()
	if err != nil {
		panic(err)
	}
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
}

func clientTLS() *tls.Config {
	return &tls.Config{RootCAs: testCert().Pool(), ServerName: "localhost"}
}

var (
	tlsTransport = transport{name: "tls", server: serveTLS, dial: func(t testing.TB, addr string) net.Conn {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS())
		if err != nil {
			t.Fatalf("dial TLS: %v", err)
		}
		return c
	}}
	wsTransport = transport{name: "ws", dial: func(t testing.TB, addr string) net.Conn {
		return dialWS(t, "ws://"+addr+wsPath, nil, nil)
	}}
	wssTransport = transport{name: "wss", server: serveTLS, dial: func(t testing.TB, addr string) net.Conn {
		return dialWS(t, "wss://"+addr+wsPath, clientTLS(), nil)
	}}
)

// TestTransports runs every scenario on the embedded store over TLS,
// WebSocket and WebSocket inside TLS: the same frames, the same answers.
func TestTransports(t *testing.T) {
	if testing.Short() {
		t.Skip("the raw transport runs in TestSQLite; -short skips the others")
	}
	for _, tr := range []transport{tlsTransport, wsTransport, wssTransport} {
		b := sqliteBackend
		b.tr = tr
		t.Run(tr.name, func(t *testing.T) {
			for _, sc := range scenarios {
				if sc.rawOnly {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { sc.fn(t, b) })
			}
		})
	}
}

// dialWS opens a WebSocket to url with the chatd.v1 subprotocol and returns
// it as a net.Conn: each Write is one binary message, Read returns the
// messages' bytes in order.
func dialWS(t testing.TB, url string, tc *tls.Config, header http.Header) net.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{wsSubprotocol}, TLSClientConfig: tc, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, header)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, code)
	}
	return &wsConn{Conn: ws}
}

// wsConn adapts a gorilla WebSocket to the net.Conn the test client reads
// frames from.
type wsConn struct {
	*websocket.Conn
	rest []byte
	wmu  sync.Mutex
}

func (c *wsConn) Read(p []byte) (int, error) {
	for len(c.rest) == 0 {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return 0, err
		}
		c.rest = msg
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) SetDeadline(d time.Time) error {
	if err := c.SetReadDeadline(d); err != nil {
		return err
	}
	return c.SetWriteDeadline(d)
}

// TestWebSocketRules: a message holding more or less than one frame closes
// with 1002, a text message with 1003, a refused Origin gets 403, and a
// client without the chatd.v1 subprotocol is refused.
func TestWebSocketRules(t *testing.T) {
	e := newEnv(t, sqliteBackend, func(c *Config) { c.WSOrigins = []string{"https://chat.example"} })
	url := "ws://" + e.srv.ChatAddr().String() + wsPath
	ping := protocol.AppendFrame(nil, protocol.OpPing, 1, []byte("{}"))
	origin := http.Header{"Origin": {"https://chat.example"}}

	closeCode := func(msgType int, payload []byte) int {
		t.Helper()
		d := websocket.Dialer{Subprotocols: []string{wsSubprotocol}}
		ws, _, err := d.Dial(url, origin)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(msgType, payload); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					return ce.Code
				}
				t.Fatalf("read: %v, want a close frame", err)
			}
		}
	}
	if code := closeCode(websocket.BinaryMessage, append(append([]byte(nil), ping...), ping...)); code != websocket.CloseProtocolError {
		t.Errorf("two frames in one message: close %d, want 1002", code)
	}
	if code := closeCode(websocket.BinaryMessage, ping[:len(ping)-1]); code != websocket.CloseProtocolError {
		t.Errorf("part of a frame: close %d, want 1002", code)
	}
	if code := closeCode(websocket.TextMessage, ping); code != websocket.CloseUnsupportedData {
		t.Errorf("text message: close %d, want 1003", code)
	}

	// One frame per message is answered.
	c := newTClient(t, dialWS(t, url, nil, origin))
	var pong protocol.PingResp
	c.must(protocol.CodeOK, protocol.OpPing, &protocol.PingReq{}, &pong)

	for name, h := range map[string]http.Header{
		"foreign origin": {"Origin": {"https://evil.example"}},
	} {
		d := websocket.Dialer{Subprotocols: []string{wsSubprotocol}}
		if _, resp, err := d.Dial(url, h); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: err %v, want 403", name, err)
		}
	}
	if _, resp, err := (&websocket.Dialer{}).Dial(url, origin); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no subprotocol: err %v, want 400", err)
	}
}

// TestRequireTLS: with RequireTLS a plaintext client is closed unanswered
// while a TLS client is served.
func TestRequireTLS(t *testing.T) {
	e := newEnv(t, sqliteBackend, serveTLS, func(c *Config) { c.RequireTLS = true })
	plain := e.dial()
	plain.send(protocol.OpPing, &protocol.PingReq{})
	plain.closed()

	e.tr = tlsTransport
	c := e.dial()
	var pong protocol.PingResp
	c.must(protocol.CodeOK, protocol.OpPing, &protocol.PingReq{}, &pong)

	if _, err := New(Config{Store: e.st, RequireTLS: true}); err != errRequireTLS {
		t.Errorf("RequireTLS without TLS: %v, want errRequireTLS", err)
	}
}
