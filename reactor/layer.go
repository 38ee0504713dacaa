package reactor

import "errors"

// Layer sits between a connection's socket and its Handler and transforms the
// bytes both ways: TLS (decrypt what arrives, encrypt what the handler
// writes), WebSocket (unframe, frame). A handler installs one with
// Conn.PushLayer, usually in OnOpen, or in OnData once the first bytes tell
// which protocol the peer speaks (the bytes OnData did not consume become the
// new layer's input). Layers stack: each push goes on top, nearest the
// handler, so WebSocket pushed after TLS runs inside it.
//
// Every method runs on the connection's loop (on the non-Linux fallback:
// serialised with the handler's callbacks) and must not block; a layer
// that has blocking work (a TLS handshake) does it on its own goroutine,
// talks to the loop with LayerIO.Post and LayerIO.Wake, and holds the
// handler's output with LayerIO.Hold meanwhile.
//
// Outbound, the handler's Write, WriteCopy, Writev, WriteLossy and
// WriteBatch, from the loop or any goroutine, are queued as units (one per
// call; a Writev is one unit) and encoded on the loop when the connection is
// flushed, once per pass, so the units queued during a pass are encoded
// together and their wire bytes leave in one writev, in write order.
// Outbound limits count what reaches the socket: a unit counts its own
// length until the loop encodes it (in the pass that takes it, even while
// the socket is full), then the wire bytes made of it. On a connection
// without layers none of this runs: the raw path only checks for a nil
// stack.
type Layer interface {
	// Open is called once, when the layer is pushed. io is the layer's handle
	// on the bytes below and above it; it stays valid until Release.
	Open(io *LayerIO) error
	// Decode gets bytes that arrived from below (the socket, or the layer
	// under this one), valid only during the call, and returns how many it
	// consumed; the rest is kept (up to Options.MaxInbound) and offered again
	// with more appended, or alone right after the layer's Wake, so a layer
	// that cannot take input yet (a TLS handshake in progress) may leave it
	// with the connection instead of buffering it itself. It
	// passes what it decodes up with io.Up. An error closes the connection
	// with that cause; io.EOF closes it gracefully (the peer said goodbye:
	// queued output is flushed first, then OnClose gets io.EOF); an error
	// wrapped by FlushFirst writes the layer's last words first.
	Decode(in []byte) (int, error)
	// Encode gets one unit written from above (the handler's write, or a
	// layer above's Down) and sends wire bytes down with io.Down or
	// io.DownCopy, or builds them in io.Reserve's room and sends them with
	// io.Commit. The unit's buffers are valid until the next Flush; a layer
	// may pass one of them to io.Down unchanged during this call.
	Encode(unit [][]byte) error
	// Flush ends a batch of Encode calls: a layer that gathers units (TLS
	// packs several into one record) sends what it holds now.
	Flush() error
	// Wake runs on the loop after io.Wake was called from any goroutine.
	// Input Decode left unconsumed is offered again when it returns. Its
	// errors close the connection as Decode's do.
	Wake() error
	// Close is called once when a graceful close starts (Conn.Close, peer
	// EOF, Shutdown), after the queued units were encoded, so the layer can
	// send its last bytes (TLS close_notify, a WebSocket close frame).
	Close()
	// Release is called once when the connection is gone, on every path; the
	// layer drops what it holds. No other method is called afterwards.
	Release()
}

// FlushFirst wraps err for a Layer's Decode or Wake to return when the
// layer has just sent down its last words before failing (a TLS alert, a
// WebSocket close frame): the connection closes with err (OnClose gets err
// itself, not the wrapper) after one non-blocking attempt to write what the
// layers have already sent toward the socket (layers are flushed first, so
// a close frame inside TLS is sealed). The handler's units not yet encoded
// are dropped and no layer's Close is called. One attempt, not a graceful
// close: a peer that does not read cannot hold the connection open, and
// what its full socket does not take is dropped. On the non-Linux fallback
// the connection closes at once. A nil err gives nil.
func FlushFirst(err error) error {
	if err == nil {
		return nil
	}
	return &flushFirst{err}
}

// flushFirst is FlushFirst's wrapper.
type flushFirst struct{ err error }

func (f *flushFirst) Error() string { return f.err.Error() }

// Unwrap returns the error the connection closes with.
func (f *flushFirst) Unwrap() error { return f.err }

// maxLayers bounds a connection's layer stack (TLS and WebSocket need two).
const maxLayers = 4

// ErrTooManyLayers is returned by Conn.PushLayer on a connection that already
// has the maximum number of layers.
var ErrTooManyLayers = errors.New("reactor: too many layers on one connection")
