//go:build !linux || reactor_netfallback

package reactor

import (
	"errors"
	"net"
	"os"
)

// The fallback's writer goroutine, one per connection, and WriteBatch.

func (c *Conn) writer() {
	defer c.e.wg.Done()
	defer close(c.writerOK)
	for {
		c.mu.Lock()
		for len(c.out) == 0 && len(c.wire) == 0 && !c.kick && !c.closing && !c.closed {
			c.cond.Wait()
		}
		if c.layered.Load() && !c.closed {
			// Encode on this goroutine, serialised with the callbacks.
			closing := c.closing
			units := c.out
			c.out, c.kick = nil, false
			c.mu.Unlock()
			c.encodeLayers(units, closing)
			c.mu.Lock()
			if len(c.wire) == 0 && closing {
				c.mu.Unlock()
				c.closeNow(nil)
				return
			}
			batch := c.wire
			c.wire = nil
			c.mu.Unlock()
			if !c.writeBatch(batch) {
				return
			}
			continue
		}
		if c.closed || (len(c.out) == 0 && c.closing) {
			c.mu.Unlock()
			c.closeNow(nil) // after a graceful close the cause is already set
			return
		}
		batch := c.out
		c.out = nil
		c.mu.Unlock()
		if !c.writeBatch(batch) {
			return
		}
	}
}

// writeBatch writes batch and gives back its reservation; false when the
// write failed (the conn is closed then).
func (c *Conn) writeBatch(batch [][]byte) bool {
	var n int64
	for _, b := range batch {
		n += int64(len(b))
	}
	bufs := net.Buffers(batch)
	w, err := bufs.WriteTo(c.nc)
	c.e.ctr.writev.Add(1)
	c.e.ctr.bytesOut.Add(uint64(w))
	c.unreserve(n)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) { // set only by a graceful close
			c.mu.Lock()
			if c.closing && !c.closed {
				c.cause = ErrCloseTimeout
			}
			c.mu.Unlock()
		}
		c.closeNow(err)
		return false
	}
	return true
}

// WriteBatch queues b on every connection in conns with Write's rules
// (closing conns skipped, a conn over MaxOutbound closed with
// ErrSlowConsumer) and returns how many it was queued on. This fallback has
// one writer goroutine per connection, so it is a loop of Write.
func WriteBatch(b []byte, conns []*Conn) (queued int) {
	if len(b) == 0 {
		return 0
	}
	for _, c := range conns {
		if c != nil && c.Write(b) == nil {
			queued++
		}
	}
	return queued
}
