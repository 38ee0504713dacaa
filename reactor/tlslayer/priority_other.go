//go:build !linux

package tlslayer

// Thread priorities are per process elsewhere: handshakes compute at the
// process's priority, limited by Options.HandshakeCPU alone.

func (p *threadPriority) lower()   {}
func (p *threadPriority) restore() {}

func canLowerThreads() bool { return false }
