//go:build linux && !reactor_netfallback

package reactor

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Waiting for events. The loop never blocks a thread in epoll_wait: it polls
// its epoll set without blocking and, when nothing is ready, parks its
// goroutine in the Go runtime's netpoller on the epoll fd, which becomes
// readable whenever a registered descriptor is ready. A thread blocked in a
// syscall keeps its P until sysmon retakes it, which kept sysmon waking every
// 20 µs and added thread hand-offs; under 100-connection echo load parking
// cut context switches about 3x and server CPU per message by about a fifth
// (see doc.go). An idle loop also frees its P for other goroutines.

// initPoller wraps the epoll fd for the runtime netpoller; on error the
// epoll fd is closed.
func (l *loop) initPoller() error {
	if err := unix.SetNonblock(l.epfd, true); err != nil {
		unix.Close(l.epfd)
		return os.NewSyscallError("fcntl", err)
	}
	l.ep = os.NewFile(uintptr(l.epfd), "epoll")
	// Deadlines work only on descriptors the netpoller accepted; without it
	// the loop could not park, so refuse to start.
	if err := l.ep.SetReadDeadline(time.Time{}); err != nil {
		l.ep.Close()
		return fmt.Errorf("epoll fd not pollable by the runtime: %w", err)
	}
	rc, err := l.ep.SyscallConn()
	if err != nil {
		l.ep.Close()
		return fmt.Errorf("epoll fd: %w", err)
	}
	l.epRC = rc
	l.pollFn = l.pollOnce // bound once: a method value per wait would allocate
	l.events = make([]unix.EpollEvent, 256)
	return nil
}

// closePoller releases the epoll fd (through the os.File that owns it).
func (l *loop) closePoller() {
	if l.ep != nil {
		l.ep.Close()
		return
	}
	unix.Close(l.epfd)
}

// wait fills l.events and returns how many are ready. timeout 0 polls, a
// negative one waits without limit.
func (l *loop) wait(timeout time.Duration) (int, error) {
	l.nev, l.evErr = 0, 0
	if timeout == 0 {
		l.pollOnce(0)
	} else {
		if timeout > 0 {
			l.ep.SetReadDeadline(time.Now().Add(timeout))
			l.deadline = true
		} else if l.deadline {
			l.ep.SetReadDeadline(time.Time{})
			l.deadline = false
		}
		// Read calls pollOnce, and while it reports nothing parks until the
		// epoll fd is readable or the deadline passes.
		if err := l.epRC.Read(l.pollFn); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, fmt.Errorf("wait for epoll fd: %w", err)
		}
	}
	if l.evErr != 0 {
		return 0, os.NewSyscallError("epoll_pwait", l.evErr)
	}
	return l.nev, nil
}

// pollOnce is a non-blocking epoll_pwait; it reports whether to stop
// waiting (events ready or an error). Raw: it never blocks, so the
// scheduler hand-off of a normal syscall would be pure overhead.
func (l *loop) pollOnce(uintptr) bool {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd),
		uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	switch errno {
	case 0:
		l.nev = int(r)
		return l.nev > 0
	case unix.EINTR:
		return true // an empty pass, then wait again
	}
	l.evErr = errno
	return true
}
