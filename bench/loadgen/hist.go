package main

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latencies is a histogram of microsecond latencies sharded by connection
// so that a thousand goroutines rarely contend on one lock.
type latencies struct {
	shards [16]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
	}
}

const maxLatencyUs = 60_000_000 // one minute

func newLatencies() *latencies {
	l := &latencies{}
	for i := range l.shards {
		l.shards[i].h = hdrhistogram.New(1, maxLatencyUs, 3)
	}
	return l
}

// record adds one latency observed by connection conn.
func (l *latencies) record(conn int, d time.Duration) {
	us := d.Microseconds()
	us = max(1, min(us, maxLatencyUs))
	s := &l.shards[conn%len(l.shards)]
	s.mu.Lock()
	_ = s.h.RecordValue(us)
	s.mu.Unlock()
}

// merged returns one histogram of everything recorded.
func (l *latencies) merged() *hdrhistogram.Histogram {
	out := hdrhistogram.New(1, maxLatencyUs, 3)
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		s.mu.Unlock()
	}
	return out
}
