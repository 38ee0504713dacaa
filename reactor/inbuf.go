package reactor

import "math/bits"

// bufPool recycles inbound leftover buffers by power-of-two size class. Each
// loop owns one, so it needs no locking. Free lists are bounded so a burst of
// large frames does not pin memory forever.
type bufPool struct {
	free [numClasses][][]byte
}

const (
	minClassShift = 9  // 512 B
	maxClassShift = 23 // 8 MiB
	numClasses    = maxClassShift - minClassShift + 1
	poolBytesCap  = 1 << 20 // approximate bytes kept per class
)

// classOf returns the size class holding n bytes, or -1 if n is too large.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	s := bits.Len(uint(n - 1))
	if s > maxClassShift {
		return -1
	}
	return s - minClassShift
}

// get returns an empty buffer with capacity of at least n.
func (p *bufPool) get(n int) []byte {
	c := classOf(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[c] = l[:len(l)-1]
		return b
	}
	return make([]byte, 0, 1<<(c+minClassShift))
}

// put returns b to the pool if it has an exact class capacity and there is room.
func (p *bufPool) put(b []byte) {
	c := classOf(cap(b))
	if c < 0 || cap(b) != 1<<(c+minClassShift) {
		return
	}
	limit := poolBytesCap >> (c + minClassShift)
	if limit < 2 {
		limit = 2
	}
	if len(p.free[c]) >= limit {
		return
	}
	p.free[c] = append(p.free[c], b[:0])
}

// inAppend returns cur with data appended, moving to a larger pooled buffer
// when cur is full. cur may be nil.
func inAppend(p *bufPool, cur, data []byte) []byte {
	if len(data) == 0 {
		return cur
	}
	need := len(cur) + len(data)
	if need <= cap(cur) {
		return append(cur, data...)
	}
	nb := p.get(need)
	nb = append(nb, cur...)
	nb = append(nb, data...)
	if cur != nil {
		p.put(cur)
	}
	return nb
}

// inConsume drops the first k bytes of cur. When nothing is left the buffer
// goes back to the pool and nil is returned, so idle connections pin nothing.
func inConsume(p *bufPool, cur []byte, k int) []byte {
	if k <= 0 {
		return cur
	}
	if k >= len(cur) {
		if cur != nil {
			p.put(cur)
		}
		return nil
	}
	n := copy(cur, cur[k:])
	return cur[:n]
}

// clampConsumed bounds a handler's consumed count to [0, n].
func clampConsumed(k, n int) int {
	if k < 0 {
		return 0
	}
	if k > n {
		return n
	}
	return k
}
