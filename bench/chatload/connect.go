package chatload

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/time/rate"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
)

// maxConnsPerProcess keeps a process below the 20,000 open-file limit.
const maxConnsPerProcess = 19000

// connectScenario ramps to N logged-in connections and holds them.
type connectScenario struct {
	fs       *flag.FlagSet
	conns    int
	users    int
	hold     time.Duration
	conc     int
	rampRate float64
	noLogin  bool
	settle   time.Duration
}

// Summary implements Scenario.
func (s *connectScenario) Summary() string {
	return "ramp to N logged-in connections, hold; chatd RSS per connection, accept rate, failures"
}

// Flags implements Scenario.
func (s *connectScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.conns, "conns", 10000, "connections to open")
	fs.IntVar(&s.users, "users", 20, "accounts the sessions log in as (each connection is its own device)")
	fs.DurationVar(&s.hold, "hold", 10*time.Second, "how long to hold the connections open")
	fs.IntVar(&s.conc, "concurrency", 200, "dials in progress at once per process")
	fs.Float64Var(&s.rampRate, "ramp-rate", 0, "new connections per second over all processes (0: as fast as possible)")
	fs.BoolVar(&s.noLogin, "no-login", false, "open bare TCP connections without logging in")
	fs.DurationVar(&s.settle, "settle", 30*time.Second, "longest wait for chatd's RSS to stop falling before the baseline (setup's argon2 hashes leave garbage)")
}

// connectJob is the work one process does; workers receive it as JSON.
type connectJob struct {
	Addr      string     `json:"addr"`
	SourceIP  string     `json:"source_ip,omitempty"`
	Transport string     `json:"transport,omitempty"`
	CA        string     `json:"ca,omitempty"` // certificate file the transport trusts
	Conns     int        `json:"conns"`
	First     int        `json:"first"` // global index of the first connection (device names)
	Users     []credUser `json:"users,omitempty"`
	Conc      int        `json:"concurrency"`
	RampRate  float64    `json:"ramp_rate"`
	MaxHold   float64    `json:"max_hold_s"` // safety bound when the parent vanishes
	RunID     string     `json:"run_id"`
	Keepalive float64    `json:"keepalive_s"`
}

// credUser is a username and session token handed to a worker.
type credUser struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// workerMsg is one line a worker writes on stdout.
type workerMsg struct {
	Type   string                 `json:"type"` // progress, ramped, result
	Open   int64                  `json:"open"`
	Failed int64                  `json:"failed"`
	Hist   *hdrhistogram.Snapshot `json:"hist,omitempty"`
	Errors map[string]int64       `json:"errors,omitempty"`
	Err    string                 `json:"err,omitempty"`
}

// runConnect opens the job's connections, reports progress through emit,
// holds them until release is closed (or MaxHold), then closes them and
// emits the result with the connect-latency histogram.
func runConnect(ctx context.Context, job connectJob, emit func(workerMsg), release <-chan struct{}) {
	d, err := NewDialer(job.Transport, job.CA)
	if err != nil {
		emit(workerMsg{Type: "error", Err: err.Error()})
		return
	}
	d = d.from(job.SourceIP)
	d.Net.Timeout = 30 * time.Second
	lat := stats.NewLatency()
	errs := &errCounts{}
	var open, failed atomic.Int64
	conns := make([]net.Conn, job.Conns)
	var lim *rate.Limiter
	if job.RampRate > 0 {
		lim = rate.NewLimiter(rate.Limit(job.RampRate), max(1, int(job.RampRate/20)))
	}
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				emit(workerMsg{Type: "progress", Open: open.Load(), Failed: failed.Load()})
			}
		}
	}()
	_ = parallel(ctx, job.Conns, job.Conc, func(ctx context.Context, i int) error {
		if lim != nil && lim.Wait(ctx) != nil {
			return nil
		}
		var name, token string
		if len(job.Users) > 0 {
			u := job.Users[(job.First+i)%len(job.Users)]
			name, token = u.Name, u.Token
		}
		t0 := time.Now()
		c, err := rawLogin(ctx, d, nthAddr(job.Addr, job.First+i), name, token, fmt.Sprintf("d%d", job.First+i), 1024)
		if err != nil {
			failed.Add(1)
			errs.add(err)
			return nil
		}
		lat.Record(time.Since(t0))
		conns[i] = c
		open.Add(1)
		return nil
	})
	close(stopProgress)
	m, _ := errs.snapshot()
	emit(workerMsg{Type: "ramped", Open: open.Load(), Failed: failed.Load(), Errors: m})

	// Hold: ping every keepalive so the idle timeout does not close them.
	keep := time.Duration(job.Keepalive * float64(time.Second))
	if keep <= 0 {
		keep = 30 * time.Second
	}
	maxHold := time.NewTimer(time.Duration(job.MaxHold * float64(time.Second)))
	defer maxHold.Stop()
	tick := time.NewTicker(keep)
	defer tick.Stop()
hold:
	for {
		select {
		case <-release:
			break hold
		case <-ctx.Done():
			break hold
		case <-maxHold.C:
			break hold
		case <-tick.C:
			for _, c := range conns {
				if c != nil {
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = c.Write(pingFrame)
				}
			}
		}
	}
	// Still open after the hold: a connection the server dropped shows as
	// a read of EOF; count those as failures found at the end.
	var dropped int64
	for _, c := range conns {
		if c == nil {
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			dropped++
		}
		c.Close()
	}
	m, _ = errs.snapshot()
	if dropped > 0 {
		if m == nil {
			m = map[string]int64{}
		}
		m["closed_by_server_during_hold"] = dropped
	}
	emit(workerMsg{Type: "result", Open: open.Load() - dropped, Failed: failed.Load() + dropped, Hist: lat.Export(), Errors: m})
}

// RunWorker serves one connect job read as JSON from in and writes
// workerMsg lines to out; a line "release" on in (or its end) ends the hold.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		return fmt.Errorf("read job: %w", err)
	}
	var job connectJob
	if err := json.Unmarshal(line, &job); err != nil {
		return fmt.Errorf("decode job: %w", err)
	}
	release := make(chan struct{})
	go func() {
		// Any further line or EOF releases the hold.
		_, _ = br.ReadBytes('\n')
		close(release)
	}()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	var encErr error
	runConnect(ctx, job, func(m workerMsg) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(m); err != nil && encErr == nil {
			encErr = err
		}
	}, release)
	return encErr
}

// WorkerCommand is the hidden first argument that makes chatbench a
// worker process of a parent run.
const WorkerCommand = "__worker"

// procHandle is one running job (a worker process or an in-process run).
type procHandle struct {
	msgs    chan workerMsg
	release func()
	wait    func() error
}

func startInProcess(ctx context.Context, job connectJob) *procHandle {
	msgs := make(chan workerMsg, 16)
	rel := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(msgs)
		runConnect(ctx, job, func(m workerMsg) {
			if m.Type == "progress" {
				select { // progress may be dropped, results never
				case msgs <- m:
				default:
				}
				return
			}
			msgs <- m
		}, rel)
	}()
	var once sync.Once
	return &procHandle{msgs: msgs, release: func() { once.Do(func() { close(rel) }) }, wait: func() error { <-done; return nil }}
}

func startWorker(ctx context.Context, self string, job connectJob) (*procHandle, error) {
	cmd := exec.CommandContext(ctx, self, WorkerCommand)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("worker stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("worker stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %s: %w", self, err)
	}
	b, _ := json.Marshal(job)
	if _, err := stdin.Write(append(b, '\n')); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("send job to worker: %w", err)
	}
	msgs := make(chan workerMsg, 16)
	go func() {
		defer close(msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var m workerMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				msgs <- workerMsg{Type: "error", Err: fmt.Sprintf("bad worker line: %v", err)}
				continue
			}
			msgs <- m
		}
	}()
	var once sync.Once
	return &procHandle{
		msgs:    msgs,
		release: func() { once.Do(func() { _, _ = stdin.Write([]byte("release\n")); stdin.Close() }) },
		wait:    cmd.Wait,
	}, nil
}

// Run implements Scenario.
func (s *connectScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("connect", e, s.fs)
	procs := max(1, e.Workers)
	if s.conns > procs*maxConnsPerProcess {
		return nil, fmt.Errorf("%d connections need at least %d worker processes (--workers), %d each at most", s.conns, (s.conns+maxConnsPerProcess-1)/maxConnsPerProcess, maxConnsPerProcess)
	}
	if e.InProcess && e.Workers == 0 && s.conns > 9000 {
		return nil, fmt.Errorf("with chatd in-process both ends of %d connections would share one 20,000-file limit: use --workers", s.conns)
	}
	run := stats.NewRun([]string{"opened", "failed"}, nil)
	errs := &errCounts{}
	phase := "setup"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()

	var creds []credUser
	if !s.noLogin {
		us := e.newUsers("k", max(1, s.users))
		if err := e.registerAll(ctx, us, 16); err != nil {
			return nil, err
		}
		if err := parallel(ctx, len(us), 16, func(ctx context.Context, i int) error {
			c, _, err := e.connect(ctx, us[i], "setup", nil)
			if err != nil {
				return err
			}
			return c.Close()
		}); err != nil {
			return nil, err
		}
		for _, u := range us {
			creds = append(creds, credUser{Name: u.Name, Token: u.Token})
		}
	}
	// Baseline after a garbage collection, once RSS stops falling: the
	// setup's argon2 hashes leave tens of MiB of garbage behind.
	time.Sleep(500 * time.Millisecond) // let setup sessions close
	before, berr := e.settledReading(ctx, s.settle)

	phase = "ramping"
	run.Restart()
	start := time.Now()
	maxHold := s.hold + 5*time.Minute
	handles := make([]*procHandle, 0, procs)
	defer func() {
		for _, h := range handles {
			h.release()
			_ = h.wait()
		}
	}()
	for p := 0; p < procs; p++ {
		share := s.conns / procs
		if p < s.conns%procs {
			share++
		}
		job := connectJob{Addr: e.Addr, SourceIP: e.SourceIP, Transport: e.dialer().Transport, CA: e.CA, Conns: share, First: p*(s.conns/procs) + min(p, s.conns%procs), Users: creds,
			Conc: s.conc, RampRate: s.rampRate / float64(procs), MaxHold: maxHold.Seconds(), RunID: e.RunID, Keepalive: 30}
		if e.Workers > 0 {
			job.SourceIP = fmt.Sprintf("127.0.0.%d", 2+p)
			h, err := startWorker(ctx, e.Self, job)
			if err != nil {
				return nil, err
			}
			handles = append(handles, h)
		} else {
			handles = append(handles, startInProcess(ctx, job))
		}
	}
	// Collect progress until every process has ramped.
	open := make([]int64, procs)
	fail := make([]int64, procs)
	ramped := 0
	var rampErrs = map[string]int64{}
	collect := func(p int, m workerMsg) {
		run.Add("opened", m.Open-open[p])
		run.Add("failed", m.Failed-fail[p])
		open[p], fail[p] = m.Open, m.Failed
	}
	cases := mergeMsgs(handles)
	for ramped < procs {
		pm, ok := <-cases
		if !ok {
			return nil, errors.New("a worker exited before ramping")
		}
		switch pm.msg.Type {
		case "progress":
			collect(pm.proc, pm.msg)
		case "ramped":
			collect(pm.proc, pm.msg)
			for k, v := range pm.msg.Errors {
				rampErrs[k] += v
			}
			ramped++
		case "error":
			return nil, fmt.Errorf("worker %d: %s", pm.proc, pm.msg.Err)
		}
	}
	rampTime := time.Since(start)
	phase = "holding"
	var opened int64
	for _, v := range open {
		opened += v
	}
	time.Sleep(min(2*time.Second, s.hold)) // let the last logins settle
	early, eerr := e.settledReading(ctx, 0)
	select {
	case <-time.After(s.hold - min(2*time.Second, s.hold)):
	case <-ctx.Done():
	}
	// The figure per session comes from the end of the hold, after a GC
	// and once RSS stopped falling: right after the ramp RSS still holds
	// the ramp's garbage, which the runtime returns over some seconds.
	phase = "settling"
	during, derr := e.settledReading(ctx, s.settle)
	if derr != nil {
		during, derr = early, eerr
	}
	rep.Note("baseline RSS read after a forced GC once it fell by less than 512 KiB in 2 s (at most %v): %.1f MiB, Go heap %.1f MiB", s.settle, float64(before.RSS)/(1<<20), float64(before.Heap)/(1<<20))
	phase = "closing"
	lat := stats.NewLatency()
	var finalOpen, finalFailed int64
	finalErrs := map[string]int64{}
	for _, h := range handles {
		h.release()
	}
	results := 0
	for pm := range cases {
		if pm.msg.Type != "result" {
			continue
		}
		results++
		finalOpen += pm.msg.Open
		finalFailed += pm.msg.Failed
		for k, v := range pm.msg.Errors {
			finalErrs[k] += v
		}
		if err := lat.Merge(pm.msg.Hist); err != nil {
			return nil, fmt.Errorf("worker %d histogram: %w", pm.proc, err)
		}
	}
	stop()
	if results != procs {
		return nil, fmt.Errorf("%d of %d workers sent a result", results, procs)
	}

	rep.DurationS = time.Since(start).Seconds()
	rep.AddFigure("connections requested", float64(s.conns), "conns", "")
	rep.AddFigure("connections open after ramp", float64(opened), "conns", "")
	rep.AddFigure("connect failures", float64(finalFailed), "conns", "== 0")
	rep.AddFigure("ramp time", rampTime.Seconds(), "s", "")
	rep.AddFigure("accept rate (logins completed/s)", float64(opened)/rampTime.Seconds(), "conn/s", "")
	if berr == nil && derr == nil && opened > 0 {
		// With several nodes the memory read is one node's, which holds
		// only its share of the sessions: divide by what it reports.
		held := opened
		if e.failover() && during.Sessions > 0 {
			held = during.Sessions
			rep.Note("several nodes: the RSS figures are those of the node --admin names, per session it holds (%d of %d)", held, opened)
		}
		per := float64(during.RSS-before.RSS) / float64(held)
		rep.AddFigure("chatd RSS before (baseline)", float64(before.RSS)/(1<<20), "MiB", "")
		rep.AddFigure("chatd RSS 2 s after the ramp", float64(early.RSS)/(1<<20), "MiB", "")
		rep.AddFigure("chatd RSS at the end of the hold (settled)", float64(during.RSS)/(1<<20), "MiB", "")
		what := "session"
		goal := "<= 2048" // issue 18's bound (it was 4 KiB before)
		if s.noLogin {
			what, goal = "connection", ""
		}
		rep.AddFigure("chatd RSS per "+what+" (growth over the baseline)", per, "B", goal)
		rep.AddFigure("chatd RSS holding / "+what+"s (upper bound, includes the baseline)", float64(during.RSS)/float64(held), "B", "")
		if during.Heap > 0 {
			rep.AddFigure("chatd Go heap+stacks per "+what+" after GC", float64(during.Heap+during.Stack-before.Heap-before.Stack)/float64(held), "B", "")
		}
		if during.Sessions >= 0 {
			rep.AddFigure("chatd sessions reported", float64(during.Sessions), "sessions", "")
		}
		rep.Note("memory read from %s", during.Source)
	} else {
		rep.Note("server memory unknown: %v %v (give --admin or --pid)", berr, derr)
	}
	if e.Workers > 0 {
		rep.Note("%d worker processes, source addresses 127.0.0.2..127.0.0.%d", e.Workers, 1+e.Workers)
	}
	r := stats.NewRun(nil, []string{"connect+login"})
	if err := r.Latency("connect+login").Merge(lat.Export()); err != nil {
		return nil, err
	}
	finish(rep, r, errs, nil)
	rep.Timeline = run.Timeline()
	rep.Counters = run.Counters()
	if len(finalErrs) > 0 {
		rep.Errors = finalErrs
	}
	for k, v := range rampErrs {
		if _, ok := finalErrs[k]; !ok {
			if rep.Errors == nil {
				rep.Errors = map[string]int64{}
			}
			rep.Errors[k] = v
		}
	}
	return rep, nil
}

type procMsg struct {
	proc int
	msg  workerMsg
}

// mergeMsgs fans the processes' messages into one channel, closed when all
// processes are done.
func mergeMsgs(hs []*procHandle) <-chan procMsg {
	out := make(chan procMsg, 64)
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Add(1)
		go func(i int, h *procHandle) {
			defer wg.Done()
			for m := range h.msgs {
				out <- procMsg{proc: i, msg: m}
			}
		}(i, h)
	}
	go func() { wg.Wait(); close(out) }()
	return out
}
