package files

import (
	"bytes"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
)

func TestNextRate(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		cur     float64
		late    bool
		ceiling float64
		want    float64
	}{
		{100e6, true, inf, 60e6},
		{5e6, true, inf, paceFloor},
		{100e6, false, inf, 100e6 * paceIncrease},
		{100e6, false, 101e6, 101e6},
		{1e6, false, inf, paceFloor * paceIncrease},
		{paceUnlimited, false, inf, paceUnlimited},
		{paceUnlimited, true, inf, paceUnlimited * paceDecrease},
		{1e6, true, 1e6, 1e6}, // a RateLimit under the floor stays the ceiling
		{1e6, false, 1e6, 1e6},
	} {
		if got := nextRate(tc.cur, tc.late, tc.ceiling); math.Abs(got-tc.want) > 1 {
			t.Errorf("nextRate(%g, %v, %g) = %g, want %g", tc.cur, tc.late, tc.ceiling, got, tc.want)
		}
	}
}

// scriptedPacer is a pacer whose lateness samples come from late(limit):
// no sleeping, so a test runs hundreds of decisions in microseconds. Every
// sample also moves bytes unless idle is set, as a transfer limited by the
// pacer would.
type scriptedPacer struct {
	*pacer
	mu      sync.Mutex
	rates   []float64
	samples int
	idle    bool
}

func newScriptedPacer(ceiling float64, late func(limit float64, held bool) time.Duration) *scriptedPacer {
	sp := &scriptedPacer{pacer: newPacer(rate.NewLimiter(rate.Inf, rateBurst), ceiling)}
	sp.stall = func() (time.Duration, bool) { return 0, false } // lateness alone decides
	sp.sample = func() time.Duration {
		held := !sp.hold.TryRLock()
		if !held {
			sp.hold.RUnlock()
		}
		sp.mu.Lock()
		sp.samples++
		idle := sp.idle
		sp.mu.Unlock()
		if !idle {
			sp.moved.Add(1 << 40)
		}
		return late(float64(sp.lim.Limit()), held)
	}
	sp.onRate = func(r float64) {
		sp.mu.Lock()
		sp.rates = append(sp.rates, r)
		sp.mu.Unlock()
	}
	return sp
}

// decide runs the pacer with one active transfer until it has made n rate
// decisions, and returns them.
func (sp *scriptedPacer) decide(t *testing.T, n int) []float64 {
	t.Helper()
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		sp.run(quit)
		close(done)
	}()
	sp.begin()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sp.mu.Lock()
		got := len(sp.rates)
		sp.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d rate decisions in 10 s", got)
		}
		time.Sleep(time.Millisecond)
	}
	sp.end()
	close(quit)
	<-done
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.rates[:n]
}

// A machine that gets late above 100 MB/s: the pacer must settle around
// that rate, cutting it whenever it overshoots.
func TestPacerSettlesBelowTheRateThatMakesItLate(t *testing.T) {
	sp := newScriptedPacer(0, func(limit float64, held bool) time.Duration {
		if !held && limit > 100e6 {
			return 5 * time.Millisecond
		}
		return 100 * time.Microsecond
	})
	rates := sp.decide(t, 300)
	if rates[0] != paceStart {
		t.Fatalf("first rate %g, want paceStart %g", rates[0], float64(paceStart))
	}
	for i, r := range rates[50:] {
		if r > 100e6*paceIncrease || r < 100e6*paceDecrease*paceDecrease {
			t.Fatalf("decision %d: rate %g outside the band around 100 MB/s", 50+i, r)
		}
	}
}

// An idle machine: the rate climbs to unlimited, and a RateLimit stays the
// ceiling.
func TestPacerOpensUpWhenNeverLate(t *testing.T) {
	never := func(float64, bool) time.Duration { return 100 * time.Microsecond }
	rates := newScriptedPacer(0, never).decide(t, 200)
	if last := rates[len(rates)-1]; last != paceUnlimited {
		t.Fatalf("rate after 200 quiet windows: %g, want unlimited", last)
	}
	rates = newScriptedPacer(50e6, never).decide(t, 100)
	for _, r := range rates {
		if r > 50e6 {
			t.Fatalf("rate %g above the 50 MB/s ceiling", r)
		}
	}
	if rates[len(rates)-1] != 50e6 {
		t.Fatalf("rate %g, want the ceiling", rates[len(rates)-1])
	}
}

// Transfers that do not use their allowance (a slow client) must not raise
// the rate: when they speed up, the pacer starts from where it was.
func TestPacerDoesNotGrowUnusedRate(t *testing.T) {
	sp := newScriptedPacer(0, func(float64, bool) time.Duration { return 100 * time.Microsecond })
	sp.idle = true
	quit := make(chan struct{})
	defer close(quit)
	go sp.run(quit)
	sp.begin()
	defer sp.end()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sp.mu.Lock()
		n := sp.samples
		sp.mu.Unlock()
		if n > 20*paceWindow {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d samples", n)
		}
		time.Sleep(time.Millisecond)
	}
	if got := float64(sp.lim.Limit()); got != paceStart {
		t.Fatalf("rate %g after unused windows, want it left at %g", got, float64(paceStart))
	}
}

// The baseline is measured with file bytes held: a step blocks while it is
// taken, and the threshold derives from it, not from loaded windows.
func TestPacerHoldsBytesForTheBaseline(t *testing.T) {
	var heldSamples, freeSamples int
	var mu sync.Mutex
	sp := newScriptedPacer(0, func(limit float64, held bool) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if held {
			heldSamples++
			return 100 * time.Microsecond
		}
		freeSamples++
		return 10 * time.Millisecond // loaded windows are always late
	})
	rates := sp.decide(t, 20)
	mu.Lock()
	if heldSamples < paceBaseSamples || freeSamples < 19*paceWindow {
		t.Errorf("held %d, free %d samples", heldSamples, freeSamples)
	}
	mu.Unlock()
	if last := rates[len(rates)-1]; last != paceFloor {
		t.Fatalf("rate %g after 20 late windows, want the floor", last)
	}

	// step waits for the baseline's hold.
	p := newPacer(rate.NewLimiter(rate.Inf, rateBurst), 0)
	p.hold.Lock()
	stepped := make(chan struct{})
	go func() {
		p.step(1)
		close(stepped)
	}()
	select {
	case <-stepped:
		t.Fatal("step went through a held baseline")
	case <-time.After(20 * time.Millisecond):
	}
	p.hold.Unlock()
	<-stepped
}

// With no transfer active the pacer samples nothing (no wake-ups on an
// idle server) and run returns on quit.
func TestPacerIdleAndQuit(t *testing.T) {
	sp := newScriptedPacer(0, func(float64, bool) time.Duration { return 0 })
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		sp.run(quit)
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	sp.mu.Lock()
	n := sp.samples
	sp.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d samples with no transfer", n)
	}
	close(quit)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after quit")
	}
}

// With pacing on (the default) a transfer goes through the pacer: the
// rate gauge shows its decisions and the bytes arrive intact.
func TestPacedTransferIsIntact(t *testing.T) {
	h := newHarness(t, nil)
	if h.s.pace == nil {
		t.Fatal("pacing is off by default")
	}
	metricPace.Set(0)
	data := randBytes(51, 8<<20)
	id := h.upload(t, 1, data)
	if !bytes.Equal(h.download(t, 2, id), data) {
		t.Fatal("bytes differ")
	}
	if testutil.ToFloat64(metricPace) == 0 {
		t.Fatal("no rate decision during the transfers")
	}
	off := newHarness(t, func(c *Config) { c.DisablePacing = true })
	if off.s.pace != nil || off.s.rate != nil {
		t.Fatal("DisablePacing without RateLimit must leave transfers unlimited")
	}
}

// Lateness while the processors are not contended is not the transfers'
// doing: with the stall share under paceStallShare the rate is not cut.
func TestPacerIgnoresLatenessWithoutCPUStall(t *testing.T) {
	late := func(_ float64, held bool) time.Duration {
		if held {
			return 100 * time.Microsecond
		}
		return 5 * time.Millisecond
	}
	sp := newScriptedPacer(0, late)
	sp.stall = func() (time.Duration, bool) { return 0, true } // never stalled
	rates := sp.decide(t, 40)
	if last := rates[len(rates)-1]; last <= paceStart {
		t.Fatalf("rate %g after 40 late windows without CPU stall, want it raised", last)
	}

	// The same lateness with the processors contended cuts the rate.
	sp = newScriptedPacer(0, late)
	var clock time.Duration
	sp.stall = func() (time.Duration, bool) {
		clock += time.Second // every read reports a second of stall: always contended
		return clock, true
	}
	rates = sp.decide(t, 40)
	if last := rates[len(rates)-1]; last != paceFloor {
		t.Fatalf("rate %g after 40 late, stalled windows, want the floor", last)
	}
}

func TestParseStall(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"some avg10=1.13 avg60=3.52 avg300=7.95 total=790810941\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 790810941 * time.Microsecond, true},
		{"full avg10=0.00 total=12\nsome avg10=0.00 total=34\n", 34 * time.Microsecond, true},
		{"some avg10=1.13\n", 0, false},
		{"some total=x\n", 0, false},
		{"", 0, false},
	} {
		got, ok := parseStall([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseStall(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
