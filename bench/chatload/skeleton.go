package chatload

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/chatd/chatd/bench/chatload/ledger"
	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
)

// phased is a scenario written as its four phases; runPhases supplies
// everything around them, so a scenario holds its own logic only.
type phased interface {
	// setup registers, connects and befriends; t.deferred closes what it
	// opens. The run's clock restarts after it, so rates exclude setup.
	setup(ctx context.Context, t *trial) error
	// load is the measured phase.
	load(ctx context.Context, t *trial)
	// verify waits for what the load owes (deliveries) so the ledger can
	// judge it.
	verify(ctx context.Context, t *trial)
	// report adds the scenario's own figures and notes; the accounting,
	// error counts and server CPU follow.
	report(t *trial)
}

// errNothingToMeasure is what setup returns when the server lacks what the
// scenario measures (a finding, not a failure): the trial ends there and
// its report, holding setup's note, is the result.
var errNothingToMeasure = errors.New("nothing to measure")

// trial is one run of a phased scenario: what its phases share.
type trial struct {
	e    *Env
	rep  *report.Report
	run  *stats.Run
	errs *errCounts
	// sink, when the scenario sets one, is the ledger the report's
	// accounting comes from.
	sink *sink
	// phase names what the progress line shows; a phase may rename it.
	phase string
	// setupTime, loadTime and verifyTime are the phases' lengths.
	setupTime, loadTime, verifyTime time.Duration
	// before and after are the server readings around load and verify.
	before, after ServerMetrics
	// cpuUnits and cpuUnit, when report sets them, add server CPU per unit.
	cpuUnits float64
	cpuUnit  string
	cleanups []func()
}

// deferred registers f to run when the trial ends, last registered first.
func (t *trial) deferred(f func()) { t.cleanups = append(t.cleanups, f) }

// runPhases runs p as the scenario name with the given counters and
// latency histograms: a report carrying the flags that were set, the
// progress line, setup, the server reading and CPU profile around load and
// verify, then p's figures, the accounting and server CPU.
func runPhases(ctx context.Context, e *Env, name string, fs *flag.FlagSet, counters, latencies []string, p phased) (*report.Report, error) {
	t := &trial{e: e, rep: newReport(name, e, fs), run: stats.NewRun(counters, latencies), errs: &errCounts{}, phase: "setup"}
	defer func() {
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
	}()
	stop := e.startProgress(t.run, &t.phase, t.errs, nil)
	defer stop()

	start := time.Now()
	if err := p.setup(ctx, t); errors.Is(err, errNothingToMeasure) {
		return t.rep, nil
	} else if err != nil {
		return nil, err
	}
	t.setupTime = time.Since(start)
	t.phase = "settling"
	if waited, quiet := e.settle(ctx); !quiet {
		t.rep.Note("chatd was still busy %.1f s after setup; the load started anyway", waited.Seconds())
	} else if waited > 2*settleWindow {
		t.rep.Note("the load started %.1f s after setup, once chatd had finished what setup set off (CPU below %.0f%% of a core)", waited.Seconds(), settleQuiet*100)
	}

	t.phase = "sending"
	t.before, _ = e.ReadServer(ctx)
	t.run.Restart()
	profDone := e.StartCPUProfile(ctx, e.ProfileSeconds)
	start = time.Now()
	p.load(ctx, t)
	t.loadTime = time.Since(start)

	t.phase = "draining"
	start = time.Now()
	p.verify(ctx, t)
	t.verifyTime = time.Since(start)
	t.after, _ = e.ReadServer(ctx)
	stop()

	p.report(t)
	var led *ledger.Ledger
	if t.sink != nil {
		led = t.sink.led
	}
	finish(t.rep, t.run, t.errs, led)
	if t.cpuUnit != "" {
		addServerCPU(t.rep, t.before, t.after, t.cpuUnits, t.cpuUnit)
	}
	if note := profDone(); note != "" {
		t.rep.Note("%s", note)
	}
	return t.rep, nil
}
