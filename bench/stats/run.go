package stats

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Run groups one scenario's counters and latency histograms and samples
// them into a timeline. Counters and histograms are created up front (by
// name) so the hot path is an atomic add or a histogram record, never a
// map write.
type Run struct {
	start    time.Time
	counters map[string]*atomic.Int64
	latency  map[string]*Latency
	window   map[string]*Latency // per-interval copy for the timeline's p99

	mu      sync.Mutex
	last    map[string]int64
	lastT   time.Time
	samples []Sample
}

// NewRun makes a run with the named counters and latency histograms.
func NewRun(counters, latencies []string) *Run {
	r := &Run{
		start:    time.Now(),
		counters: make(map[string]*atomic.Int64, len(counters)),
		latency:  make(map[string]*Latency, len(latencies)),
		window:   make(map[string]*Latency, len(latencies)),
		last:     make(map[string]int64, len(counters)),
	}
	r.lastT = r.start
	for _, c := range counters {
		r.counters[c] = new(atomic.Int64)
	}
	for _, l := range latencies {
		r.latency[l] = NewLatency()
		r.window[l] = NewLatency()
	}
	return r
}

// Start returns when the run began.
func (r *Run) Start() time.Time { return r.start }

// Restart moves the start of the run (and the timeline origin) to now and
// drops the samples taken so far: call it after setup so neither rates nor
// the timeline include registration time.
func (r *Run) Restart() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start = time.Now()
	r.lastT = r.start
	r.samples = nil
	for name, c := range r.counters {
		r.last[name] = c.Load()
	}
}

// Add adds n to a counter created by NewRun; an unknown name panics, which
// is a programming error caught by the scenario's test.
func (r *Run) Add(name string, n int64) { r.counters[name].Add(n) }

// Get returns a counter's value.
func (r *Run) Get(name string) int64 { return r.counters[name].Load() }

// Observe records a latency in the named histogram and its timeline window.
func (r *Run) Observe(name string, d time.Duration) {
	r.latency[name].Record(d)
	r.window[name].Record(d)
}

// ObserveAll records several latencies in the named histogram and its
// timeline window, each under one lock (a receiver's batch of deliveries).
func (r *Run) ObserveAll(name string, ds []time.Duration) {
	r.latency[name].RecordAll(ds)
	r.window[name].RecordAll(ds)
}

// Latency returns the named histogram.
func (r *Run) Latency(name string) *Latency { return r.latency[name] }

// Counters returns every counter's value.
func (r *Run) Counters() map[string]int64 {
	out := make(map[string]int64, len(r.counters))
	for k, c := range r.counters {
		out[k] = c.Load()
	}
	return out
}

// LatencyNames returns the histogram names, sorted.
func (r *Run) LatencyNames() []string {
	names := make([]string, 0, len(r.latency))
	for k := range r.latency {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Sample is one timeline point: per-second rates of every counter over the
// interval since the previous sample and p99 of each latency in it.
type Sample struct {
	T     float64            `json:"t_s"`
	Rates map[string]float64 `json:"rates"`
	P99Ms map[string]float64 `json:"p99_ms"`
}

// Tick takes a sample now and appends it to the timeline.
func (r *Run) Tick() Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	dt := now.Sub(r.lastT).Seconds()
	s := Sample{T: now.Sub(r.start).Seconds(), Rates: make(map[string]float64, len(r.counters)),
		P99Ms: make(map[string]float64, len(r.window))}
	for name, c := range r.counters {
		v := c.Load()
		if dt > 0 {
			s.Rates[name] = float64(v-r.last[name]) / dt
		}
		r.last[name] = v
	}
	for name, w := range r.window {
		if sum := w.TakeInterval(); sum.Count > 0 {
			s.P99Ms[name] = sum.P99Ms
		}
	}
	r.lastT = now
	r.samples = append(r.samples, s)
	return s
}

// Timeline returns the samples taken so far.
func (r *Run) Timeline() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

// Elapsed returns the time since the start.
func (r *Run) Elapsed() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Since(r.start)
}
