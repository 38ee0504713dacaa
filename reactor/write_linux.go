//go:build linux && !reactor_netfallback

package reactor

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The write path: one writev per connection per pass.

// flushAll writes each connection with pending output once.
func (l *loop) flushAll() {
	list := l.flushq
	l.flushq = l.flushNext[:0]
	for i, c := range list {
		list[i] = nil
		c.flags &^= fFlush
		if c.state.Load() == stClosed {
			continue
		}
		l.flush(c)
	}
	l.flushNext = list[:0]
}

// flush issues one writev over up to IOV_MAX queued buffers. What the kernel
// does not take stays queued with its offset until the next EPOLLOUT edge.
func (l *loop) flush(c *Conn) {
	if c.flags&fConnecting != 0 {
		return
	}
	// Units are encoded even while the socket is full, so MaxOutbound
	// counts the wire bytes they become.
	if s := c.lay.Load(); s != nil && !l.encodeOut(c, s) {
		return
	}
	if c.flags&fWaitOut != 0 {
		return
	}
	if c.out.empty() {
		if c.flags&fCloseReq != 0 && c.drained() {
			l.closeNow(c, closeErr(c.code))
		}
		return
	}
	var r uintptr
	var errno unix.Errno
	total, all := 0, false
	if c.out.buffers() == 1 {
		// One buffer (the common echo/request-reply case): plain write skips
		// the kernel's iovec import, and building and clearing an iovec.
		b := c.out.bufs[c.out.head].b[c.out.off:]
		total, all = len(b), true
		r, _, errno = unix.RawSyscall(unix.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	} else {
		iov := l.iov[:0]
		for i := c.out.head; i < len(c.out.bufs) && len(iov) < iovMax; i++ {
			b := c.out.bufs[i].b
			if i == c.out.head {
				b = b[c.out.off:]
			}
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
			total += len(b)
		}
		all = len(iov) == c.out.buffers()
		r, _, errno = unix.RawSyscall(unix.SYS_WRITEV, uintptr(c.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		clear(iov) // drop references to caller buffers
	}
	l.ctr.writev.Add(1)
	if errno != 0 {
		switch errno {
		case unix.EAGAIN:
			l.socketFull(c)
		case unix.EINTR:
			l.markFlush(c)
		default:
			if c.flags&fCloseReq != 0 && c.code == closeEOF {
				l.closeNow(c, errEOF) // the peer closed first; EPIPE is a consequence
				return
			}
			l.closeNow(c, os.NewSyscallError("writev", errno))
		}
		return
	}
	n := int(r)
	if n == total && all {
		// Everything left: release hands back the written chunks and the
		// array in one pass, without consume's walk.
		c.written(int64(n))
		l.ctr.bytesOut.Add(uint64(n))
		l.recycleOut(c)
		if c.flags&fCloseReq != 0 && c.drained() {
			l.closeNow(c, closeErr(c.code))
		}
		return
	}
	k := len(l.chunkRet)
	c.out.consume(n, &l.chunkRet)
	if k != len(l.chunkRet) {
		l.ctr.chunks.Add(int64(k - len(l.chunkRet)))
	}
	c.written(int64(n))
	l.ctr.bytesOut.Add(uint64(n))
	if n < total {
		// Short write: the socket buffer is full and the kernel has set
		// SOCK_NOSPACE, so an EPOLLOUT edge will follow when it drains.
		l.socketFull(c)
		return
	}
	if !c.out.empty() {
		l.markFlush(c) // more than IOV_MAX buffers: next pass
		return
	}
	l.recycleOut(c)
	if c.flags&fCloseReq != 0 && c.drained() {
		l.closeNow(c, closeErr(c.code))
	}
}

// recycleOut takes the empty queue's array back so an idle conn pins none.
func (l *loop) recycleOut(c *Conn) {
	if c.out.bufs == nil {
		return
	}
	k := len(l.chunkRet)
	b := c.out.release(&l.chunkRet)
	if k != len(l.chunkRet) {
		l.ctr.chunks.Add(int64(k - len(l.chunkRet)))
	}
	// Bounded: at most 1024 arrays of at most 128 entries (3 MiB worst case).
	if cap(b) <= 128 && len(l.qpool) < 1024 {
		l.qpool = append(l.qpool, b)
	}
}

// socketFull makes c wait for the EPOLLOUT edge that follows a full
// socket; a graceful close starts its timeout then.
func (l *loop) socketFull(c *Conn) {
	c.flags |= fWaitOut
	l.ctr.eagain.Add(1)
	if c.flags&fCloseReq != 0 {
		l.armClose(c)
	}
}

// dropOut empties c's outbound queue without pooling its chunks.
func (l *loop) dropOut(c *Conn) {
	var gone [][]byte
	c.out.release(&gone)
	l.ctr.chunks.Add(-int64(len(gone)))
}

// retireChunk takes back a WriteCopy chunk that will not be written (its conn
// closed first); the next drain returns it to the pool.
func (l *loop) retireChunk(b []byte) {
	l.chunkRet = append(l.chunkRet, b)
	l.ctr.chunks.Add(-1)
}
