package files

import (
	"errors"
	"net"
	"sync"
	"time"
)

// errInterrupted is returned when moving the deadline of a connection that
// was interrupted (shutdown, or a newer upload of the same file).
var errInterrupted = errors.New("files: connection interrupted")

// fconn is a file-port connection whose interruption sticks: handlers move
// their deadlines forward as bytes flow, and without the flag such a move
// could undo an interruption that landed between two reads.
type fconn struct {
	net.Conn // *net.TCPConn in production: io.Copy to it uses sendfile

	mu          sync.Mutex
	interrupted bool
}

// interrupt makes every pending and future I/O on c fail at once.
func (c *fconn) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.interrupted = true
	c.Conn.SetDeadline(time.Now())
}

// SetDeadline sets both deadlines unless c was interrupted.
func (c *fconn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interrupted {
		return errInterrupted
	}
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline unless c was interrupted.
func (c *fconn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interrupted {
		return errInterrupted
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline unless c was interrupted.
func (c *fconn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interrupted {
		return errInterrupted
	}
	return c.Conn.SetWriteDeadline(t)
}
