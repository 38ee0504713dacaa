package chatload

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chatd/chatd/bench/stats"
)

// startProgress samples run once a second (the timeline) and shows a
// progress line: rewritten in place on a terminal, a plain line every five
// seconds otherwise. extra adds scenario-specific text. stop ends it.
func (e *Env) startProgress(run *stats.Run, phase *string, errs *errCounts, extra func() string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			s := run.Tick()
			if e.Progress == nil || (!e.Terminal && i%5 != 0) {
				continue
			}
			total := map[string]float64{}
			for _, n := range run.LatencyNames() {
				if sum := run.Latency(n).Summary(); sum.Count > 0 {
					total[n] = sum.P99Ms
				}
			}
			line := progressLine(s, total, *phase, errs.total())
			if extra != nil {
				line += " " + extra()
			}
			if e.Terminal {
				fmt.Fprintf(e.Progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(e.Progress, line)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			if e.Progress != nil && e.Terminal {
				fmt.Fprintln(e.Progress)
			}
		})
	}
}

// progressLine formats one sample: elapsed, non-zero rates, p99 of the
// last interval and p99 so far per latency, errors.
func progressLine(s stats.Sample, total map[string]float64, phase string, errs int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%5.0fs] %s", s.T, phase)
	names := make([]string, 0, len(s.Rates))
	for k, v := range s.Rates {
		if v != 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, " %s %.0f/s", k, s.Rates[k])
	}
	names = names[:0]
	for k := range total {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if v, ok := s.P99Ms[k]; ok {
			fmt.Fprintf(&b, " %s-p99 %.1fms (so far %.1fms)", k, v, total[k])
		} else {
			fmt.Fprintf(&b, " %s-p99 so far %.1fms", k, total[k])
		}
	}
	fmt.Fprintf(&b, " errors %d", errs)
	return b.String()
}

// seqSeen remembers per conversation which seqs a receiver has been shown,
// across its client instances (a reconnect starts a new client, whose own
// filter is empty): what a real application does with its message store.
// Seqs are gapless from 1, so a bitset per conversation holds them.
type seqSeen struct {
	mu sync.Mutex
	m  map[string]*convSeen
}

type convSeen struct {
	bits []uint64
	hi   int64
}

// mark records (conv, seq) and reports whether it is new.
func (s *seqSeen) mark(conv string, seq int64) bool {
	if seq < 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*convSeen{}
	}
	c := s.m[conv]
	if c == nil {
		c = &convSeen{}
		s.m[conv] = c
	}
	return c.set(seq)
}

// set marks seq (>= 0) and reports whether it is new; the caller holds
// the seqSeen's lock.
func (c *convSeen) set(seq int64) bool {
	w := int(seq / 64)
	if w >= len(c.bits) {
		grow := make([]uint64, w+1+w/2)
		copy(grow, c.bits)
		c.bits = grow
	}
	mask := uint64(1) << (seq % 64)
	if c.bits[w]&mask != 0 {
		return false
	}
	c.bits[w] |= mask
	c.hi = max(c.hi, seq)
	return true
}

// markBytes is mark for a conv still in its frame: the lookup copies
// nothing; only a conversation's first mark allocates its name.
func (s *seqSeen) markBytes(conv []byte, seq int64) bool {
	if seq < 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.m[string(conv)]
	if c == nil {
		if s.m == nil {
			s.m = map[string]*convSeen{}
		}
		c = &convSeen{}
		s.m[string(conv)] = c
	}
	return c.set(seq)
}

// highest returns the highest seq seen per conversation.
func (s *seqSeen) highest() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.m))
	for k, c := range s.m {
		out[k] = c.hi
	}
	return out
}
