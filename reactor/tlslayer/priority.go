package tlslayer

// defaultHandshakeNice is how many nice steps a computing handshake's thread
// drops by when Options.HandshakeNice is 0: enough that a loop woken by an
// established connection preempts it at once, not so many that handshakes
// starve while the loops are busy (nice 10 still gets about a tenth of a
// core beside a busy nice-0 thread).
const defaultHandshakeNice = 10

// threadPriority lowers the OS priority of the thread a handshake computes
// on, between taking a cpu token and giving it back. Only the handshake's
// own goroutine uses it.
type threadPriority struct {
	delta   int  // nice steps to drop by; 0: off
	base    int  // the thread's nice value before it was lowered
	lowered bool // the goroutine is locked to a lowered thread
	tid     int  // the lowered thread (Linux): asked once per turn, not per syscall
}
