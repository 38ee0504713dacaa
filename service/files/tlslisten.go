package files

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
)

// The file port takes TLS on the same port as plaintext (section 17 of the
// contract): a connection whose first byte is 0x16 starts a TLS handshake.
// The decision, and the handshake, happen on the connection's first read or
// write, in the transfer worker that serves it and under its deadlines, so
// a slow client holds no accept loop.

// recordHandshake is the first byte of a TLS ClientHello record.
const recordHandshake = 0x16

// ErrPlaintext is the error of a plaintext connection to a listener that
// requires TLS.
var ErrPlaintext = errors.New("files: plaintext connection refused: TLS required")

// TLSListener wraps ln so that each accepted connection is served as TLS
// with cfg when it starts a TLS handshake and as plaintext otherwise (or
// refused with ErrPlaintext when require is set). Plaintext connections keep
// sendfile: io.Copy to them still reaches the TCP socket's ReadFrom.
func TLSListener(ln net.Listener, cfg *tls.Config, require bool) net.Listener {
	return &tlsListener{Listener: ln, cfg: cfg, require: require}
}

type tlsListener struct {
	net.Listener
	cfg     *tls.Config
	require bool
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, l: l}, nil
}

// sniffConn is an accepted connection until its first byte says which it
// is; afterwards every call goes to inner (a *tls.Conn or the plaintext
// connection with that byte put back). Deadlines go to the TCP connection
// underneath either way.
type sniffConn struct {
	net.Conn
	l     *tlsListener
	once  sync.Once
	inner net.Conn
	err   error
}

func (c *sniffConn) decide() error {
	c.once.Do(func() {
		var b [1]byte
		if _, err := io.ReadFull(c.Conn, b[:]); err != nil {
			c.err = err
			return
		}
		pc := &prefixConn{Conn: c.Conn, first: b[0], has: true}
		switch {
		case b[0] == recordHandshake:
			c.inner = tls.Server(pc, c.l.cfg)
		case c.l.require:
			c.err = ErrPlaintext
			_ = c.Conn.Close()
		default:
			c.inner = pc
		}
	})
	return c.err
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if err := c.decide(); err != nil {
		return 0, err
	}
	return c.inner.Read(p)
}

func (c *sniffConn) Write(p []byte) (int, error) {
	if err := c.decide(); err != nil {
		return 0, err
	}
	return c.inner.Write(p)
}

// ReadFrom lets io.Copy reach the TCP socket's sendfile on plaintext.
func (c *sniffConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.decide(); err != nil {
		return 0, err
	}
	if rf, ok := c.inner.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.inner}, r)
}

// Close sends TLS's close_notify when the connection is TLS.
func (c *sniffConn) Close() error {
	if c.inner != nil {
		return c.inner.Close()
	}
	return c.Conn.Close()
}

// prefixConn gives back the byte the sniff read before the connection's
// own bytes.
type prefixConn struct {
	net.Conn
	first byte
	has   bool
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.has && len(p) > 0 {
		p[0], c.has = c.first, false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom passes io.Copy on to the TCP connection (sendfile).
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
