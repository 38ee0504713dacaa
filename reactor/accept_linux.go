//go:build linux && !reactor_netfallback

package reactor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const maxAcceptBackoff = 10 // ticks (1 s at the default tick)

// addListener registers a listening socket with this loop (edge-triggered).
func (l *loop) addListener(fd int) {
	if l.stopping {
		unix.Close(fd)
		return
	}
	i := len(l.listeners)
	l.listeners = append(l.listeners, fd)
	l.retrying = append(l.retrying, false)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(evListener - i)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		l.listeners[i] = -1
	}
}

// accept takes connections from listener i until EAGAIN. On EMFILE, ENFILE
// or memory errors it backs off on the timing wheel and retries, never
// giving up on the listener (gnet shuts its engine down here).
func (l *loop) accept(i int) {
	if i >= len(l.listeners) || l.listeners[i] < 0 {
		return
	}
	lfd := l.listeners[i]
	sndBuf := int(l.e.sndBuf.Load())
	for {
		nfd, remote, err := l.accept4(lfd)
		if err != nil {
			switch err {
			case unix.EAGAIN:
				l.backoff = 0
				return
			case unix.EINTR, unix.ECONNABORTED:
				continue
			}
			// EMFILE, ENFILE, ENOBUFS, ENOMEM or anything unexpected: the
			// pending connections stay in the backlog; try again later.
			l.ctr.acceptErrs.Add(1)
			if l.retrying[i] {
				return // a retry is already scheduled
			}
			if l.backoff < maxAcceptBackoff {
				l.backoff++
			}
			l.retrying[i] = true
			t := &afterTimer{f: func() {
				l.retrying[i] = false
				l.accept(i)
			}}
			l.wheel.add(wheelEntry{at: l.now + l.backoff, t: t})
			return
		}
		tuneConn(nfd, sndBuf)
		l.ctr.accepted.Add(1)
		target := l
		if l.e.opts.SingleAcceptor {
			target = l.e.pick()
		}
		c := l.e.newConn(target, nfd, remote)
		target.nconns.Add(1)
		if target == l {
			l.register(c, false)
		} else if !target.post(cmd{c: c, op: opRegister}) {
			unix.Close(nfd)
			target.nconns.Add(-1)
		}
	}
}

// accept4 is unix.Accept4 without its per-call allocations (a sockaddr
// buffer and a Sockaddr value): garbage per accept inflates the RSS of a
// server that accepts ten thousand connections.
func (l *loop) accept4(lfd int) (int, rawAddr, error) {
	l.rsaLen = unix.SizeofSockaddrAny
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&l.rsa)),
		uintptr(unsafe.Pointer(&l.rsaLen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, rawAddr{}, errno
	}
	return int(r), rawFromRaw(&l.rsa), nil
}

// rawFromRaw decodes a kernel sockaddr (port in network byte order).
func rawFromRaw(rsa *unix.RawSockaddrAny) rawAddr {
	var a rawAddr
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		copy(a.ip[:4], p.Addr[:])
		a.port, a.v4 = portFromNet(p.Port), true
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a.ip, a.port = p.Addr, portFromNet(p.Port)
	}
	return a
}

func portFromNet(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
