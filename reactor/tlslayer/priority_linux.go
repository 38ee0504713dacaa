package tlslayer

import (
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Linux keeps a nice value per thread: setpriority(PRIO_PROCESS, tid)
// changes one thread, so a handshake can compute on a lowered thread while
// the loops keep the process's priority. The goroutine is locked to the
// thread meanwhile, so that neither the runtime nor another goroutine ever
// runs on a lowered thread.

// threadNice returns the calling thread's nice value.
func threadNice() (int, error) { return niceOf(unix.Gettid()) }

// niceOf returns thread tid's nice value (the raw syscall answers 20 -
// nice).
func niceOf(tid int) (int, error) {
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	return 20 - prio, err
}

// lower locks the goroutine to its thread and drops the thread's priority
// by p.delta nice steps (at most to 19).
func (p *threadPriority) lower() {
	if p.delta == 0 || p.lowered {
		return
	}
	runtime.LockOSThread()
	// A TLS 1.3 handshake takes two turns, each lowering and restoring:
	// the thread id asked once per turn makes three syscalls here and one
	// in restore, where asking it for each call made six (strace -c: 12.0
	// syscalls per handshake, now 8.0).
	tid := unix.Gettid()
	base, err := niceOf(tid)
	if err == nil {
		err = unix.Setpriority(unix.PRIO_PROCESS, tid, min(19, base+p.delta))
	}
	if err != nil {
		runtime.UnlockOSThread()
		return
	}
	p.base, p.tid, p.lowered = base, tid, true
}

// restore gives the thread its priority back and unlocks the goroutine. If
// the kernel refuses (raising a priority needs a right that lowering does
// not), the goroutine stays locked to the lowered thread, and the runtime
// ends that thread when the goroutine exits, so the lowered thread never
// runs anything else.
func (p *threadPriority) restore() {
	if !p.lowered {
		return
	}
	if unix.Setpriority(unix.PRIO_PROCESS, p.tid, p.base) != nil {
		return
	}
	p.lowered = false
	runtime.UnlockOSThread()
}

// canLowerThreads reports whether this process may lower a thread's
// priority and raise it back: with CAP_SYS_NICE, or an RLIMIT_NICE that
// reaches the process's nice value. Asked of the kernel, not tried: a thread
// that could not be raised back would have to be thrown away.
var canLowerThreads = sync.OnceValue(func() bool {
	base, err := threadNice() // every unlocked thread runs at the process's
	if err != nil || base >= 19 {
		return false
	}
	var lim unix.Rlimit // nice may go down to 20 - RLIMIT_NICE
	if unix.Getrlimit(unix.RLIMIT_NICE, &lim) == nil && lim.Cur >= uint64(20-base) {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[unix.CAP_SYS_NICE/32].Effective&(1<<(unix.CAP_SYS_NICE%32)) != 0
})
