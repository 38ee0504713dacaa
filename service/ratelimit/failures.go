package ratelimit

import (
	"sync"
	"time"
)

// Failures limits failed attempts per key: Limit failures within Window
// block the key for Window after the failure that reached the limit.
type Failures struct {
	limit   int
	window  time.Duration
	maxKeys int

	mu      sync.Mutex
	keys    map[string]*entry
	inserts int
}

type entry struct {
	fails        []time.Time // failures inside the window, oldest first
	blockedUntil time.Time
	last         time.Time // last failure, for eviction
}

// NewFailures returns a limiter allowing limit failures per window for each
// key and tracking at most maxKeys keys (0 = 100,000).
func NewFailures(limit int, window time.Duration, maxKeys int) *Failures {
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &Failures{limit: limit, window: window, maxKeys: maxKeys, keys: make(map[string]*entry)}
}

// Blocked reports whether key is blocked at now and, if so, for how long.
func (f *Failures) Blocked(key string, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.keys[key]
	if e == nil || !now.Before(e.blockedUntil) {
		return 0, false
	}
	return e.blockedUntil.Sub(now), true
}

// Fail records a failure of key at now. It returns true when this failure
// reached the limit and blocked the key.
func (f *Failures) Fail(key string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.keys[key]
	if e == nil {
		f.inserts++
		if f.inserts%1024 == 0 || len(f.keys) >= f.maxKeys {
			f.sweep(now)
		}
		e = &entry{}
		f.keys[key] = e
	}
	e.last = now
	cut := 0
	for cut < len(e.fails) && now.Sub(e.fails[cut]) >= f.window {
		cut++
	}
	e.fails = append(e.fails[:0], e.fails[cut:]...)
	e.fails = append(e.fails, now)
	if len(e.fails) >= f.limit {
		// Block for a window from the failure that tripped it; the counted
		// failures are spent.
		e.blockedUntil = now.Add(f.window)
		e.fails = e.fails[:0]
		return true
	}
	return false
}

// Len returns the number of keys tracked.
func (f *Failures) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// sweep drops entries with nothing left to remember; if the map is still at
// its cap, it drops the entries whose last failure is oldest until a quarter
// of the cap is free. Called with mu held.
func (f *Failures) sweep(now time.Time) {
	for k, e := range f.keys {
		if now.Sub(e.last) >= f.window && !now.Before(e.blockedUntil) {
			delete(f.keys, k)
		}
	}
	if len(f.keys) < f.maxKeys {
		return
	}
	cutoff := now
	// Find an age cut that frees about a quarter: halve the age until enough
	// would go. Cheap and bounded (a few passes over the map).
	for age := f.window; age > time.Millisecond && len(f.keys) > f.maxKeys*3/4; age /= 2 {
		cutoff = now.Add(-age)
		for k, e := range f.keys {
			if e.last.Before(cutoff) && !now.Before(e.blockedUntil) {
				delete(f.keys, k)
			}
		}
	}
	for k := range f.keys {
		if len(f.keys) <= f.maxKeys*3/4 {
			break
		}
		delete(f.keys, k)
	}
}
