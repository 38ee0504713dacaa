package reactor

import (
	"sync"
	"unsafe"
)

// Copy chunks: the reactor-owned buffers WriteCopy copies into. They come in
// four size classes (1, 4, 16 and 64 KiB); a WriteCopy larger than the
// biggest class gets a private copy instead. Each loop keeps a small bounded
// free list per class (guarded by the loop's queue lock, which WriteCopy
// holds anyway); what does not fit spills to a process-wide sync.Pool, so a
// burst does not pin memory forever: the garbage collector trims sync.Pool.

const (
	minChunkShift   = 10 // 1 KiB
	chunkClassShift = 2  // each class is 4x the previous one
	numChunkClasses = 4  // 1, 4, 16, 64 KiB
	maxChunk        = 1 << (minChunkShift + chunkClassShift*(numChunkClasses-1))
	chunkPoolBytes  = 1 << 20 // free bytes a loop keeps per class before spilling
)

// chunkSpill holds chunks beyond the loops' free lists, as pointers to their
// first byte so Put and Get do not allocate an interface box.
var chunkSpill [numChunkClasses]sync.Pool

// chunkSize returns the capacity of class k.
func chunkSize(k int) int { return 1 << (minChunkShift + chunkClassShift*k) }

// chunkClass returns the smallest class holding n bytes (n <= maxChunk).
func chunkClass(n int) int {
	k := 0
	for k < numChunkClasses-1 && chunkSize(k) < n {
		k++
	}
	return k
}

// chunkClassOf returns the class whose capacity is exactly c, or -1.
func chunkClassOf(c int) int {
	for k := range numChunkClasses {
		if chunkSize(k) == c {
			return k
		}
	}
	return -1
}

// chunkPool is one loop's free chunks per class.
type chunkPool struct {
	free [numChunkClasses][][]byte
}

// get returns an empty chunk of class k: from the free list, the spill pool
// or, failing both, a new allocation.
func (p *chunkPool) get(k int) []byte {
	if l := p.free[k]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[k] = l[:len(l)-1]
		return b
	}
	if v, _ := chunkSpill[k].Get().(*byte); v != nil {
		return unsafe.Slice(v, chunkSize(k))[:0]
	}
	return make([]byte, 0, chunkSize(k))
}

// put takes back a chunk that is no longer referenced by any queue. Buffers
// that are not chunks (wrong capacity) are left to the garbage collector.
func (p *chunkPool) put(b []byte) {
	k := chunkClassOf(cap(b))
	if k < 0 {
		return
	}
	if len(p.free[k]) < chunkPoolBytes/chunkSize(k) {
		p.free[k] = append(p.free[k], b[:0])
		return
	}
	chunkSpill[k].Put(&b[:1][0])
}

// held returns how many chunks the free lists keep (for tests).
func (p *chunkPool) held() int {
	n := 0
	for _, l := range p.free {
		n += len(l)
	}
	return n
}
