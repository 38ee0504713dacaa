//go:build !linux || reactor_netfallback

package reactor

import (
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// The fallback's reader goroutine: one per connection, it runs OnOpen,
// OnData and OnClose under the connection's callback mutex.

func (c *Conn) reader(opened chan struct{}) {
	e := c.e
	defer e.wg.Done()
	c.hmu.Lock()
	e.h.OnOpen(c)
	c.hmu.Unlock()
	close(opened)
	buf := make([]byte, e.opts.ReadBufferSize)
	var in []byte
	for {
		if d := c.idle.Load(); d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
		n, err := c.nc.Read(buf)
		if n > 0 {
			e.ctr.bytesIn.Add(uint64(n))
			c.hmu.Lock()
			if c.isOpen() {
				if c.lay != nil {
					c.decodeAt(0, buf[:n])
				} else {
					in = append(in, buf[:n]...)
					n0 := c.depth()
					k := clampConsumed(e.h.OnData(c, in), len(in))
					if k < len(in) && c.depth() != n0 {
						c.decodeAt(n0, in[k:]) // OnData pushed a layer
						k = len(in)
					}
					in = append(in[:0], in[k:]...)
				}
			}
			c.hmu.Unlock()
			if len(in) > e.opts.MaxInbound {
				c.closeNow(ErrInboundTooLarge)
			}
		}
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				c.closeNow(ErrIdleTimeout)
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.closeNow(ErrIdleTimeout)
			case errors.Is(err, io.EOF):
				c.requestClose(errEOF)
			default:
				c.closeNow(err)
			}
			break
		}
	}
	<-c.writerOK
	c.mu.Lock()
	cause := c.cause
	c.mu.Unlock()
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	e.ctr.conns.Add(^uint64(0))
	e.ctr.closed.Add(1)
	c.hmu.Lock()
	e.h.OnClose(c, cause)
	c.releaseLayers()
	c.hmu.Unlock()
}
