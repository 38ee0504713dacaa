package service

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

func TestSequencerReleasesInSeqOrder(t *testing.T) {
	q := newSequencer()
	var out []int64
	tickets := make([]seqTicket, 5)
	for i := range tickets {
		tickets[i] = q.begin("g:1")
	}
	// Appends got seqs 10..14 in ticket order but finish shuffled.
	order := []int{3, 1, 4, 0, 2}
	for _, i := range order {
		seq := int64(10 + i)
		q.done(tickets[i], seq, func() { out = append(out, seq) })
	}
	want := []int64{10, 11, 12, 13, 14}
	if len(out) != 5 {
		t.Fatalf("released %v", out)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("released %v, want %v", out, want)
		}
	}
}

func TestSequencerGapFromFailedAppend(t *testing.T) {
	q := newSequencer()
	var out []int64
	a := q.begin("p:1:2") // head, gets 5
	b := q.begin("p:1:2") // fails
	c := q.begin("p:1:2") // gets 6
	q.done(a, 5, func() { out = append(out, 5) })
	// next is 6, c's 6 arrives before b fails: released at once.
	q.done(c, 6, func() { out = append(out, 6) })
	q.done(b, 0, nil)
	if len(out) != 2 || out[0] != 5 || out[1] != 6 {
		t.Fatalf("released %v", out)
	}
	// A gap that never fills is released once nothing is in flight.
	d := q.begin("p:1:2")
	e := q.begin("p:1:2")
	q.done(e, 9, func() { out = append(out, 9) })
	if len(out) != 2 {
		t.Fatalf("released %v before the gap", out)
	}
	q.done(d, 0, nil)
	if len(out) != 3 || out[2] != 9 {
		t.Fatalf("released %v", out)
	}
}

func TestSequencerConcurrent(t *testing.T) {
	q := newSequencer()
	var mu sync.Mutex
	var next int64 = 1 // simulated store
	var out []int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				mu.Lock() // ticket and seq in one order, as the store's queue gives
				tk := q.begin("g:7")
				seq := next
				next++
				mu.Unlock()
				if rand.IntN(4) == 0 {
					// jitter: let others overtake
					for range rand.IntN(100) {
						_ = rand.Int()
					}
				}
				q.done(tk, seq, func() { out = append(out, seq) })
			}
		})
	}
	wg.Wait()
	if len(out) != 1600 {
		t.Fatalf("released %d", len(out))
	}
	for i, s := range out {
		if s != int64(i+1) {
			t.Fatalf("out of order at %d: %d", i, s)
		}
	}
}

func TestSequencerHeadOvertaken(t *testing.T) {
	q := newSequencer()
	var out []int64
	a := q.begin("g:2") // head, but reaches the store last
	b := q.begin("g:2")
	c := q.begin("g:2")
	q.done(c, 1, func() { out = append(out, 1) })
	q.done(a, 3, func() { out = append(out, 3) })
	// b, in flight when the head returned, might hold a lower seq: wait.
	if len(out) != 0 {
		t.Fatalf("released %v while b is in flight", out)
	}
	q.done(b, 2, func() { out = append(out, 2) })
	if len(out) != 3 || out[0] != 1 || out[1] != 2 || out[2] != 3 {
		t.Fatalf("released %v", out)
	}
}

func TestSequencerHeadReturnsFirst(t *testing.T) {
	q := newSequencer()
	var out []int64
	a := q.begin("g:3") // head, committed in one batch with b, after it
	b := q.begin("g:3")
	q.done(a, 2, func() { out = append(out, 2) })
	if len(out) != 0 {
		t.Fatalf("released %v before the overtaker returned", out)
	}
	later := q.begin("g:3") // began after the head returned: a higher seq
	q.done(b, 1, func() { out = append(out, 1) })
	if len(out) != 2 || out[0] != 1 || out[1] != 2 {
		t.Fatalf("released %v, want [1 2]", out)
	}
	q.done(later, 3, func() { out = append(out, 3) })
	if len(out) != 3 || out[2] != 3 {
		t.Fatalf("released %v", out)
	}
}

// TestSequencerOvertakingStore draws seqs after the ticket, so the store's
// order differs from the ticket order (as with a group committer) even
// on a cold conversation: releases must still be gapless and in order.
func TestSequencerOvertakingStore(t *testing.T) {
	for round := range 20 {
		q := newSequencer()
		var mu sync.Mutex
		var next int64 = 1
		var out []int64
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				for range 50 {
					tk := q.begin("g:9")
					if rand.IntN(2) == 0 {
						runtime.Gosched()
					}
					mu.Lock()
					seq := next
					next++
					mu.Unlock()
					if rand.IntN(2) == 0 {
						runtime.Gosched()
					}
					q.done(tk, seq, func() { out = append(out, seq) })
				}
			})
		}
		wg.Wait()
		for i, s := range out {
			if s != int64(i+1) {
				t.Fatalf("round %d: out of order at %d: %d", round, i, s)
			}
		}
		if len(out) != 300 {
			t.Fatalf("round %d: released %d", round, len(out))
		}
	}
}

// TestSequencerReleased: released names the highest seq let out in order,
// never one still held behind a gap, and 0 for an unknown conversation.
func TestSequencerReleased(t *testing.T) {
	q := newSequencer()
	if got := q.released("g:1"); got != 0 {
		t.Fatalf("unknown conversation: released %d", got)
	}
	q.done(q.begin("g:1"), 6, func() {}) // alone: next is learnt at once
	if got := q.released("g:1"); got != 6 {
		t.Fatalf("released %d, want 6", got)
	}
	a, b, c := q.begin("g:1"), q.begin("g:1"), q.begin("g:1")
	q.done(a, 7, func() {})
	q.done(c, 9, func() {}) // 8 still in flight: 9 is held
	if got := q.released("g:1"); got != 7 {
		t.Fatalf("released %d with 8 in flight, want 7", got)
	}
	q.done(b, 8, func() {})
	if got := q.released("g:1"); got != 9 {
		t.Fatalf("released %d, want 9", got)
	}
}
