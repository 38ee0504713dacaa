package files

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// The pacer treats file transfers as background traffic: it lets them run
// as fast as they can while the process stays responsive, and slows them
// down as soon as they delay everything else (the chat event loops share
// this process and its processors). The signal is the lateness of a short
// sleep, which grows with the run-queue delay any woken thread of the
// process sees, event loops included: every window of paceWindow sleeps,
// the rate is cut when the window's 90th percentile lateness exceeds 1.25×
// the baseline plus paceSlack, and raised when it does not. The baseline is
// the same percentile measured with file bytes held for a few milliseconds
// every paceRebase, the median of the last paceBases such measurements (one
// disturbed measurement moves nothing), so the pacer adapts to the machine
// (a busy virtual machine oversleeps more than an idle server) and to the
// chat load of the moment. Where the kernel reports CPU pressure stall
// information, a late window counts only if some task waited for a
// processor at least paceStallShare of the time: lateness on uncontended
// processors (an idle virtual CPU waking slowly) is not the transfers'
// doing, and cutting them would only make downloads crawl on an idle
// server. The cut is steeper than the rise, as in TCP's congestion
// control: the rate settles just under the point where the process starts
// to run late.
const (
	paceInterval    = time.Millisecond      // one lateness sample: a sleep this long
	paceWindow      = 50                    // samples per rate decision
	paceBaseSamples = 30                    // samples per baseline, bytes held
	paceBaseSkip    = 5                     // first held samples, left out while in-flight steps finish
	paceRebase      = 2 * time.Second       // how often the baseline is measured again
	paceBases       = 5                     // baselines whose median sets the threshold
	paceSlack       = 50 * time.Microsecond // lateness allowed above 1.25× the baseline
	paceStart       = 64e6                  // bytes/s when transfers start
	paceFloor       = 4e6                   // bytes/s below which file transfers are never slowed
	paceUnlimited   = 8e9                   // bytes/s above which the pacer stops limiting
	paceDecrease    = 0.6                   // rate factor when the window was late
	paceIncrease    = 1.05                  // rate factor when it was not
	paceStallShare  = 0.15                  // CPU stall share under which lateness is not the transfers' doing
)

// pacer adapts lim, the byte rate shared by all transfers, to the lateness
// the process sees while transfers are active (begin/end), within
// [paceFloor, ceiling].
type pacer struct {
	lim     *rate.Limiter
	ceiling float64 // Config.RateLimit, or +Inf

	// hold is write-locked while the baseline is measured; every transfer
	// step passes through a read lock first.
	hold   sync.RWMutex
	active atomic.Int64
	moved  atomic.Int64 // bytes through step since the last decision
	wake   chan struct{}

	// sample returns the lateness of one paceInterval sleep (tests replace
	// it with a scripted one).
	sample func() time.Duration
	// stall returns the running total of CPU stall time, false when the
	// system does not report it (cpuStall; tests script it).
	stall func() (time.Duration, bool)
	// onRate observes every rate decision (the metric; tests).
	onRate func(bytesPerSec float64)
}

func newPacer(lim *rate.Limiter, ceiling float64) *pacer {
	if ceiling <= 0 {
		ceiling = math.Inf(1)
	}
	return &pacer{lim: lim, ceiling: ceiling, wake: make(chan struct{}, 1), sample: sleepLateness, stall: cpuStall, onRate: func(float64) {}}
}

// sleepLateness sleeps paceInterval and returns how much longer it took.
func sleepLateness() time.Duration {
	start := time.Now()
	time.Sleep(paceInterval)
	return time.Since(start) - paceInterval
}

// begin and end bracket one transfer.
func (p *pacer) begin() {
	if p.active.Add(1) == 1 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *pacer) end() { p.active.Add(-1) }

// step waits while the baseline is being measured, and counts the n
// bytes the caller is about to move.
func (p *pacer) step(n int) {
	p.moved.Add(int64(n))
	p.hold.RLock()
	//lint:ignore SA2001 the empty critical section is the point: wait out the writer
	p.hold.RUnlock()
}

// run paces until quit is closed: idle (no samples, no wake-ups) while no
// transfer is active.
func (p *pacer) run(quit <-chan struct{}) {
	for {
		select {
		case <-p.wake:
		case <-quit:
			return
		}
		p.pace(quit)
	}
}

// pace adjusts the rate window by window while a transfer is active.
func (p *pacer) pace(quit <-chan struct{}) {
	cur := min(float64(paceStart), p.ceiling)
	p.set(cur)
	var threshold time.Duration
	var rebase time.Time
	var bases []time.Duration // the last paceBases baselines, oldest first
	window := make([]time.Duration, 0, max(paceWindow, paceBaseSamples))
	for p.active.Load() > 0 {
		select {
		case <-quit:
			return
		default:
		}
		if now := time.Now(); now.After(rebase) {
			if len(bases) == paceBases {
				bases = bases[1:]
			}
			bases = append(bases, p.baseline(window))
			threshold = median(bases)*5/4 + paceSlack
			rebase = now.Add(paceRebase)
			continue
		}
		late, used := p.measure(window, threshold, cur)
		if late || used {
			cur = nextRate(cur, late, p.ceiling)
			p.set(cur)
		}
	}
}

// measure takes one window of samples into buf and reports whether the
// process ran late (beyond threshold, with the processors contended) and
// whether the transfers used most of the allowance of rate cur.
func (p *pacer) measure(buf []time.Duration, threshold time.Duration, cur float64) (late, used bool) {
	buf = buf[:0]
	p.moved.Store(0)
	start := time.Now()
	stall0, ok0 := p.stall()
	for range paceWindow {
		buf = append(buf, p.sample())
	}
	elapsed := time.Since(start)
	stall1, ok1 := p.stall()
	// A window that did not use most of its allowance says nothing about a
	// higher rate (the transfers were limited elsewhere: the client, the
	// network, the disk), so it may only lower the rate.
	used = float64(p.moved.Load()) >= cur*elapsed.Seconds()/2
	late = p90(buf) > threshold
	// Lateness while the processors are not contended (an idle virtual CPU
	// waking from halt, a blocking system call) is not something slower
	// transfers would fix.
	if late && ok0 && ok1 {
		late = float64(stall1-stall0) >= paceStallShare*float64(elapsed)
	}
	return late, used
}

// baseline holds file bytes and returns the p90 lateness measured
// meanwhile.
func (p *pacer) baseline(buf []time.Duration) time.Duration {
	p.hold.Lock()
	defer p.hold.Unlock()
	buf = buf[:0]
	for i := range paceBaseSamples {
		if d := p.sample(); i >= paceBaseSkip {
			buf = append(buf, d)
		}
	}
	return p90(buf)
}

// nextRate is the rate after a window: cut when it was late, else raised;
// never below paceFloor unless the ceiling is, never above the ceiling or
// paceUnlimited.
func nextRate(cur float64, late bool, ceiling float64) float64 {
	next := max(paceFloor, cur) * paceIncrease
	if late {
		next = max(paceFloor, cur*paceDecrease)
	}
	return min(ceiling, paceUnlimited, next)
}

// set applies bytes/s to the limiter; above paceUnlimited the limiter lets
// everything through.
func (p *pacer) set(bytesPerSec float64) {
	if bytesPerSec >= paceUnlimited {
		p.lim.SetLimit(rate.Inf)
	} else {
		p.lim.SetLimit(rate.Limit(bytesPerSec))
	}
	p.onRate(bytesPerSec)
}

// median returns the median of d without reordering it.
func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// parseStall reads the "some" total (microseconds) out of a pressure file.
func parseStall(b []byte) (time.Duration, bool) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "some ")
		if !ok {
			continue
		}
		for field := range strings.FieldsSeq(rest) {
			if v, ok := strings.CutPrefix(field, "total="); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(us) * time.Microsecond, err == nil
			}
		}
	}
	return 0, false
}

// p90 returns the 90th percentile of d (reordering it).
func p90(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*9/10]
}
