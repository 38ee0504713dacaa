// Package sniff serves several protocols on one reactor listener by looking
// at the first bytes a client sends: 0x16 starts a TLS handshake (a TLS
// record of type handshake), "GET " starts an HTTP request, taken as a
// WebSocket upgrade, and anything else is the application's raw protocol.
// Inside TLS the same look at the first decrypted bytes tells WebSocket
// over TLS from raw over TLS. RequireTLS closes plaintext connections.
//
// The application's handler is wrapped: it sees OnOpen only once the
// protocol is settled (for WebSocket, once the upgrade succeeded), then
// the application's bytes in OnData (whole messages for WebSocket), and
// OnClose only if it saw OnOpen. A connection that is refused before
// (plaintext under RequireTLS, a failed upgrade or TLS handshake) never
// reaches it. Nothing here knows the application's protocol; the caller
// supplies the TLS layer (for instance the reactor's TLS package) and the
// WebSocket configuration.
//
// Until the protocol is settled the wrapper keeps its state in the
// connection's context, so a settled connection costs nothing extra: the
// handler owns the context from its OnOpen on, as without the wrapper.
package sniff

import (
	"bytes"

	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/websocket"
)

// Config says which protocols a listener serves besides the raw one.
type Config struct {
	// TLS, if set, makes the TLS layer for a connection whose first byte is
	// 0x16; without it such a connection is raw.
	TLS func(c *reactor.Conn) reactor.Layer
	// RequireTLS closes connections that do not start a TLS handshake.
	RequireTLS bool
	// WebSocket, if set, accepts WebSocket upgrades (plaintext and inside
	// TLS) with this configuration (its OnUpgrade runs before the
	// application's OnOpen); without it "GET " is raw.
	WebSocket *websocket.Config
}

// recordHandshake is the first byte of a TLS ClientHello record.
const recordHandshake = 0x16

var httpGet = []byte("GET ")

// stage is what the wrapper keeps in an unsettled connection's context.
type stage struct{ inTLS bool }

var (
	plain   = &stage{}            // nothing read yet
	inTLS   = &stage{inTLS: true} // TLS layer pushed, no plaintext yet
	pending = &stage{}            // WebSocket layer pushed, upgrade not done
)

type handler struct {
	inner reactor.Handler
	cfg   Config
}

// New wraps inner so that one listener serves raw, TLS, WebSocket and
// WebSocket over TLS connections as cfg allows.
func New(inner reactor.Handler, cfg Config) reactor.Handler {
	h := &handler{inner: inner, cfg: cfg}
	if cfg.WebSocket != nil {
		// A copy whose upgrade hook opens the application after the caller's.
		ws := *cfg.WebSocket
		user := ws.OnUpgrade
		ws.OnUpgrade = func(c *reactor.Conn, r *websocket.Request, l *websocket.Layer) {
			if user != nil {
				user(c, r, l)
			}
			h.open(c)
		}
		h.cfg.WebSocket = &ws
	}
	return h
}

// OnOpen waits for the first bytes before telling the application.
func (h *handler) OnOpen(c *reactor.Conn) { c.SetContext(plain) }

// OnData settles the protocol on the first bytes (of the socket, or of the
// TLS plaintext), then passes everything to the application.
func (h *handler) OnData(c *reactor.Conn, data []byte) int {
	st, ok := c.Context().(*stage)
	if !ok {
		return h.inner.OnData(c, data)
	}
	if st == plain && h.cfg.TLS != nil && data[0] == recordHandshake {
		c.SetContext(inTLS)
		_ = c.PushLayer(h.cfg.TLS(c))
		return 0 // the TLS layer gets these bytes
	}
	if st == plain && h.cfg.RequireTLS {
		_ = c.Close()
		return len(data)
	}
	if h.cfg.WebSocket != nil && st != pending {
		k := min(len(data), len(httpGet))
		if bytes.Equal(data[:k], httpGet[:k]) {
			if k < len(httpGet) {
				return 0 // maybe "GET ": wait for the rest
			}
			c.SetContext(pending)
			_ = c.PushLayer(websocket.NewLayer(h.cfg.WebSocket))
			return 0 // the WebSocket layer gets these bytes
		}
	}
	h.open(c)
	return h.inner.OnData(c, data)
}

// open hands the connection (and its context) to the application.
func (h *handler) open(c *reactor.Conn) {
	c.SetContext(nil)
	h.inner.OnOpen(c)
}

// OnClose tells the application about connections it has seen open.
func (h *handler) OnClose(c *reactor.Conn, err error) {
	if _, unsettled := c.Context().(*stage); !unsettled {
		h.inner.OnClose(c, err)
	}
}
