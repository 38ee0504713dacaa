//go:build linux && !reactor_netfallback

package reactor

import (
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
		nfd, sa, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
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
		if !l.e.opts.ReusePort {
			target = l.e.pick()
		}
		c := l.e.newConn(target, nfd, rawFromSockaddr(sa))
		target.nconns.Add(1)
		if target == l {
			l.register(c, false)
		} else if !target.post(cmd{c: c, op: opRegister}) {
			unix.Close(nfd)
			target.nconns.Add(-1)
		}
	}
}
