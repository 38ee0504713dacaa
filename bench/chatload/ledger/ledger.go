package ledger

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Ledger tracks messages by number (0, 1, 2, ... as handed out by Next) and
// receivers by index (0..receivers-1). It is safe for concurrent use: each
// receiver's record has its own lock, so receivers do not contend.
type Ledger struct {
	next atomic.Uint64

	mu       sync.Mutex
	expected map[uint64][]int32 // acked message -> receivers (slices may be shared)
	sent     int64
	failed   int64

	recv []receiver

	expectedTotal atomic.Int64 // deliveries owed by acked messages
	uniqueTotal   atomic.Int64 // distinct (message, receiver) deliveries seen
	dupTotal      atomic.Int64
}

type receiver struct {
	mu   sync.Mutex
	seen bitset
}

// New makes a ledger for the given number of receivers.
func New(receivers int) *Ledger {
	return &Ledger{expected: make(map[uint64][]int32), recv: make([]receiver, receivers)}
}

// Next hands out the next message number.
func (l *Ledger) Next() uint64 { return l.next.Add(1) - 1 }

// Acked records that message n was acknowledged by the server and must reach
// every receiver listed. to is retained and must not be modified.
func (l *Ledger) Acked(n uint64, to []int32) {
	l.mu.Lock()
	l.expected[n] = to
	l.sent++
	l.mu.Unlock()
	l.expectedTotal.Add(int64(len(to)))
}

// Failed records that sending message n failed (no acknowledgement). The
// message may still have been stored; deliveries of it are reported apart.
func (l *Ledger) Failed(n uint64) {
	l.mu.Lock()
	l.failed++
	l.mu.Unlock()
}

// Delivered records that receiver r was pushed message n and reports
// whether it is the first time.
func (l *Ledger) Delivered(r int32, n uint64) bool {
	if r < 0 || int(r) >= len(l.recv) {
		return false
	}
	rc := &l.recv[r]
	rc.mu.Lock()
	first := rc.seen.set(n)
	rc.mu.Unlock()
	if first {
		l.uniqueTotal.Add(1)
	} else {
		l.dupTotal.Add(1)
	}
	return first
}

// Outstanding returns deliveries owed by acknowledged messages minus the
// distinct deliveries seen so far: scenarios drain until it reaches zero
// (or stops moving). It is exact while every delivered message was acked;
// deliveries of unacknowledged messages make it smaller, which is why the
// verdict comes from Result, never from Outstanding.
func (l *Ledger) Outstanding() int64 {
	return l.expectedTotal.Load() - l.uniqueTotal.Load()
}

// Result is the final accounting.
type Result struct {
	Acked      int64 `json:"acked"`       // messages the server acknowledged
	Failed     int64 `json:"send_failed"` // sends without an acknowledgement
	Expected   int64 `json:"expected_deliveries"`
	Delivered  int64 `json:"delivered"`  // distinct deliveries of acked messages
	Lost       int64 `json:"lost"`       // expected deliveries that never came
	Duplicated int64 `json:"duplicated"` // deliveries beyond the first, per receiver
	Unacked    int64 `json:"delivered_unacked"`
	Unexpected int64 `json:"unexpected"` // delivered to a receiver not in the ack's list
	// FirstLost names a few lost deliveries to start a diagnosis with.
	FirstLost []string `json:"first_lost,omitempty"`
}

// OK reports whether nothing was lost or duplicated.
func (r Result) OK() bool { return r.Lost == 0 && r.Duplicated == 0 && r.Unexpected == 0 }

// Result computes the accounting. Call it after the scenario stopped
// sending and drained; it walks every acknowledged message once.
func (l *Ledger) Result() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := Result{Acked: l.sent, Failed: l.failed, Duplicated: l.dupTotal.Load()}
	// Lock every receiver for a consistent view.
	for i := range l.recv {
		l.recv[i].mu.Lock()
	}
	defer func() {
		for i := range l.recv {
			l.recv[i].mu.Unlock()
		}
	}()
	owed := make([]bitset, len(l.recv))
	for n, to := range l.expected {
		for _, r := range to {
			res.Expected++
			owed[r].set(n)
			if l.recv[r].seen.has(n) {
				res.Delivered++
				continue
			}
			res.Lost++
			if len(res.FirstLost) < 5 {
				res.FirstLost = append(res.FirstLost, fmt.Sprintf("msg %d to receiver %d", n, r))
			}
		}
	}
	for r := range l.recv {
		l.recv[r].seen.each(func(n uint64) {
			if owed[r].has(n) {
				return
			}
			if _, acked := l.expected[n]; acked {
				res.Unexpected++
			} else {
				res.Unacked++
			}
		})
	}
	return res
}

// bitset is a growable set of message numbers.
type bitset []uint64

func (b *bitset) set(n uint64) bool {
	w := int(n / 64)
	if w >= len(*b) {
		grow := make([]uint64, w+1+w/2)
		copy(grow, *b)
		*b = grow
	}
	mask := uint64(1) << (n % 64)
	if (*b)[w]&mask != 0 {
		return false
	}
	(*b)[w] |= mask
	return true
}

func (b bitset) has(n uint64) bool {
	w := int(n / 64)
	return w < len(b) && b[w]&(uint64(1)<<(n%64)) != 0
}

func (b bitset) each(f func(uint64)) {
	for w, word := range b {
		for word != 0 {
			bit := uint64(0)
			for word&(1<<bit) == 0 {
				bit++
			}
			f(uint64(w)*64 + bit)
			word &^= 1 << bit
		}
	}
}

// EachAcked calls f for every acknowledged message with its receivers
// (for checks against the server's store after a run).
func (l *Ledger) EachAcked(f func(n uint64, to []int32)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, to := range l.expected {
		f(n, to)
	}
}
