package stats

import (
	"fmt"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: values are microseconds from 1 µs to 10 minutes with
// three significant digits (0.1% resolution).
const (
	lowestMicros  = 1
	highestMicros = int64(10 * time.Minute / time.Microsecond)
	sigFigs       = 3
)

// Latency is a concurrency-safe latency histogram in microseconds.
type Latency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewLatency returns an empty histogram.
func NewLatency() *Latency {
	return &Latency{h: hdrhistogram.New(lowestMicros, highestMicros, sigFigs)}
}

// Record adds one observation; values outside the range are clamped so a
// stalled run still shows up as a (huge) maximum rather than vanishing.
func (l *Latency) Record(d time.Duration) {
	us := d.Microseconds()
	if us < lowestMicros {
		us = lowestMicros
	}
	if us > highestMicros {
		us = highestMicros
	}
	l.mu.Lock()
	_ = l.h.RecordValue(us) // cannot fail: clamped into range above
	l.mu.Unlock()
}

// RecordAll is Record for each of ds, under one lock.
func (l *Latency) RecordAll(ds []time.Duration) {
	l.mu.Lock()
	for _, d := range ds {
		us := min(max(d.Microseconds(), lowestMicros), highestMicros)
		_ = l.h.RecordValue(us) // cannot fail: clamped into range
	}
	l.mu.Unlock()
}

// Count returns the number of observations.
func (l *Latency) Count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.TotalCount()
}

// Export returns a snapshot that can travel as JSON (workers to parent).
func (l *Latency) Export() *hdrhistogram.Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.Export()
}

// Merge adds a snapshot exported by another histogram (for example a worker
// process's). A snapshot that fails validation is refused, not half-merged.
func (l *Latency) Merge(s *hdrhistogram.Snapshot) error {
	if s == nil {
		return nil
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("merge histogram snapshot: %w", err)
	}
	other := hdrhistogram.Import(s)
	l.mu.Lock()
	dropped := l.h.Merge(other)
	l.mu.Unlock()
	if dropped > 0 {
		return fmt.Errorf("merge histogram snapshot: %d values out of range", dropped)
	}
	return nil
}

// TakeInterval returns the observations since the last call as a summary
// and starts a new interval (used by the timeline's windowed p99).
func (l *Latency) TakeInterval() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := summarize(l.h)
	l.h.Reset()
	return s
}

// Summary is a histogram reduced to the figures the report shows.
type Summary struct {
	Count  int64   `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary returns the current figures.
func (l *Latency) Summary() Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return summarize(l.h)
}

func summarize(h *hdrhistogram.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Summary{
		Count:  h.TotalCount(),
		MeanMs: h.Mean() / 1000,
		P50Ms:  ms(h.ValueAtPercentile(50)),
		P90Ms:  ms(h.ValueAtPercentile(90)),
		P99Ms:  ms(h.ValueAtPercentile(99)),
		P999Ms: ms(h.ValueAtPercentile(99.9)),
		MaxMs:  ms(h.Max()),
	}
}

// Point is one point of a percentile curve.
type Point struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// curvePercentiles are spaced by "nines" so the tail is as visible as the body.
var curvePercentiles = []float64{0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100}

// Curve returns latency at a fixed set of percentiles (for the chart).
func (l *Latency) Curve() []Point {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h.TotalCount() == 0 {
		return nil
	}
	vals := l.h.ValueAtPercentilesSlice(curvePercentiles)
	pts := make([]Point, len(vals))
	for i, v := range vals {
		pts[i] = Point{Percentile: curvePercentiles[i], Ms: float64(v) / 1000}
	}
	return pts
}

// Micros returns the latency at a percentile (0-100) in microseconds.
func (l *Latency) Micros(percentile float64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.ValueAtPercentile(percentile)
}

// MaxMicros returns the largest latency recorded, in microseconds.
func (l *Latency) MaxMicros() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.Max()
}

// shards is how many histograms a Sharded spreads its recordings over.
const shards = 16

// Sharded is a Latency split into shards chosen by the caller (by
// connection, say), so that a thousand recording goroutines rarely meet on
// one lock; Merged adds them up once the run is over.
type Sharded struct {
	shards [shards]*Latency
}

// NewSharded returns an empty sharded histogram.
func NewSharded() *Sharded {
	s := &Sharded{}
	for i := range s.shards {
		s.shards[i] = NewLatency()
	}
	return s
}

// Record adds one observation to the shard picked by key (any int).
func (s *Sharded) Record(key int, d time.Duration) {
	s.shards[uint(key)%shards].Record(d)
}

// Merged returns one histogram of everything recorded.
func (s *Sharded) Merged() *Latency {
	out := NewLatency()
	for _, l := range s.shards {
		l.mu.Lock()
		out.h.Merge(l.h)
		l.mu.Unlock()
	}
	return out
}
