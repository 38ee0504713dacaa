package service

import (
	"errors"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/reactor"
	"github.com/chatd/chatd/reactor/sniff"
	"github.com/chatd/chatd/reactor/tlslayer"
	"github.com/chatd/chatd/reactor/websocket"
)

// The chat port's transports (section 17 of the contract): raw frames, TLS
// when a certificate is configured, and WebSocket at wsPath (plaintext or
// inside TLS), all on one listener; the first bytes tell them apart.
const (
	wsPath        = "/ws"
	wsSubprotocol = "chatd.v1"
)

// errRequireTLS is returned by New when RequireTLS is set without TLS.
var errRequireTLS = errors.New("service: RequireTLS needs a TLS configuration")

// transports wraps the chat handler so that one listener serves every
// transport the configuration allows. The handler sees the same frames
// whichever transport carried them.
func (s *Server) transports(h reactor.Handler) reactor.Handler {
	ws := &websocket.Config{
		Path:               wsPath,
		Subprotocols:       []string{wsSubprotocol},
		RequireSubprotocol: true,
		MaxMessage:         s.cfg.Limits.MaxFrameBody + protocol.HeaderSize,
		BinaryOnly:         true, // a text message closes with 1003
		CheckMessage:       oneFramePerMessage,
	}
	if len(s.cfg.WSOrigins) > 0 {
		ws.CheckOrigin = websocket.AllowOrigins(s.cfg.WSOrigins...)
	}
	cfg := sniff.Config{WebSocket: ws, RequireTLS: s.cfg.RequireTLS}
	if s.cfg.TLS != nil {
		layers := tlslayer.NewServer(s.cfg.TLS, tlslayer.Options{})
		cfg.TLS = func(*reactor.Conn) reactor.Layer { return layers.Layer() }
	}
	return acceptGate{sniff.New(h, cfg), s}
}

// acceptGate runs at accept, before the first bytes settle the transport
// (and so before the chat handler's OnOpen): every connection gets the idle
// timeout, so one that never sends a byte is closed too, and a draining
// server closes new connections at once.
type acceptGate struct {
	reactor.Handler
	s *Server
}

func (g acceptGate) OnOpen(c *reactor.Conn) {
	if d := g.s.cfg.IdleTimeout; d > 0 {
		c.SetIdleTimeout(d)
	}
	g.Handler.OnOpen(c)
	if g.s.draining.Load() {
		_ = c.Close()
	}
}

// oneFramePerMessage enforces that each WebSocket message carries exactly
// one whole frame: anything else closes the connection with 1002.
func oneFramePerMessage(p []byte) int {
	if len(p) < protocol.HeaderSize || protocol.FrameSize(p) != len(p) {
		return websocket.CloseProtocolError
	}
	return 0
}
