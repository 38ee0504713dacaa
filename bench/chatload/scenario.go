package chatload

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/chatd/chatd/bench/chatload/ledger"
	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// Scenario is one load pattern. Flags registers its options; Run drives
// the server and returns what it measured (a failed verification is in the
// report, an error means the scenario could not run).
type Scenario interface {
	Flags(fs *flag.FlagSet)
	Run(ctx context.Context, e *Env) (*report.Report, error)
	// Summary is one line for the usage text.
	Summary() string
}

var registry = map[string]func() Scenario{
	"connect": func() Scenario { return &connectScenario{} },
	"login":   func() Scenario { return &loginScenario{} },
	"chat":    func() Scenario { return &chatScenario{} },
	"group":   func() Scenario { return &groupScenario{} },
	"room":    func() Scenario { return &roomScenario{} },
	"offline": func() Scenario { return &offlineScenario{} },
	"files":   func() Scenario { return &filesScenario{} },
	"mixed":   func() Scenario { return &mixedScenario{} },
	"crash":   func() Scenario { return &crashScenario{} },
}

// Lookup returns a fresh scenario by name.
func Lookup(name string) (Scenario, bool) {
	f, ok := registry[name]
	if !ok {
		return nil, false
	}
	return f(), true
}

// Names lists the scenarios, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// StartsOwnServer reports whether a scenario runs its own chatd, so none
// is needed at --addr or in-process.
func StartsOwnServer(name string) bool { return name == "crash" }

// NeedsRealPasswordHash reports whether a scenario measures password
// logins, so an in-process chatd must keep the production argon2 cost.
func NeedsRealPasswordHash(name string) bool { return name == "login" }

// newReport starts a report with the flags that were set.
func newReport(name string, e *Env, fs *flag.FlagSet) *report.Report {
	r := &report.Report{Scenario: name, Started: time.Now().UTC(), Server: e.ServerDesc(), Params: map[string]string{}}
	if fs != nil {
		fs.VisitAll(func(f *flag.Flag) { r.Params[f.Name] = f.Value.String() })
	}
	return r
}

// finish copies the run's histograms, counters, timeline and errors into r.
func finish(r *report.Report, run *stats.Run, errs *errCounts, led *ledger.Ledger) {
	r.Latency = map[string]stats.Summary{}
	r.Curves = map[string][]stats.Point{}
	for _, n := range run.LatencyNames() {
		l := run.Latency(n)
		if l.Count() == 0 {
			continue
		}
		r.Latency[n] = l.Summary()
		r.Curves[n] = l.Curve()
	}
	r.Counters = run.Counters()
	r.Timeline = run.Timeline()
	if errs != nil {
		m, ex := errs.snapshot()
		if len(m) > 0 {
			r.Errors = m
			keys := make([]string, 0, len(ex))
			for k := range ex {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				r.Note("first %s error: %s", k, ex[k])
			}
		}
	}
	noteRateLimit(r)
	if led != nil {
		res := led.Result()
		r.Accounting = &res
		r.AddFigure("lost messages", float64(res.Lost), "msgs", "== 0")
		r.AddFigure("duplicated messages", float64(res.Duplicated+res.Unexpected), "msgs", "== 0")
	}
}

// noteRateLimit says in the summary, not only in the progress line and the
// JSON counters, when chatd's per-connection message limit shaped the load
// (sends waited out, or other requests refused, with RATE_LIMITED), and
// which chatd flags lift it.
func noteRateLimit(r *report.Report) {
	n := r.Counters["rate_limited"] + r.Errors["rate_limited"]
	if n == 0 {
		return
	}
	r.AddFigure("requests refused as RATE_LIMITED", float64(n), "requests", "")
	r.Note("chatd rate-limited this load %d times, so these figures show its per-connection message limit "+
		"(a default chatd allows 50 messages/s, bursts of 100), not its capacity: start chatd with "+
		"--msg-rate 1000000 --msg-burst 1000000 (or CHATD_MSG_RATE, CHATD_MSG_BURST) to lift it, as bench/loadtest.sh does", n)
}

// sink is the receiving side of a messaging scenario: it de-duplicates
// pushes per receiver by (conv, seq) as an application would, feeds the
// ledger and records push latency.
type sink struct {
	led  *ledger.Ledger
	run  *stats.Run
	seen []seqSeen
	// ignoreOwn skips messages the receiver's user sent (a re-login's
	// backlog can hold them when the cursor was behind).
	ignoreOwn bool
	// benign, when set, marks send errors the scenario causes on purpose
	// (a client closed for churn): counted as interrupted, not as errors.
	benign func(error) bool
}

func newSink(receivers int, run *stats.Run) *sink {
	return &sink{led: ledger.New(receivers), run: run, seen: make([]seqSeen, receivers)}
}

// sinkCounters and sinkLatencies are the names a sink records into.
var (
	sinkCounters  = []string{"sent", "delivered", "redelivered", "foreign", "rate_limited", "send_errors", "send_interrupted", "own_echo", "file_msgs"}
	sinkLatencies = []string{"push", "ack"}
)

// onPush returns the push callback of receiver r (user id self).
func (k *sink) onPush(r int32, self *atomic.Int64) func(client.Push) {
	return func(p client.Push) { k.take(r, self, p) }
}

// take handles one push for receiver r and reports whether it was a new
// chatbench message delivery.
func (k *sink) take(r int32, self *atomic.Int64, p client.Push) bool {
	mp, ok := p.Body.(*protocol.MsgPush)
	if !ok {
		return false
	}
	return k.takeMsg(r, self, &mp.Message)
}

// takeMsg is take for a message already decoded.
func (k *sink) takeMsg(r int32, self *atomic.Int64, m *protocol.Message) bool {
	now := time.Now()
	if k.ignoreOwn && m.From == self.Load() {
		k.run.Add("own_echo", 1)
		return false
	}
	if !k.seen[r].mark(m.Conv, m.Seq) {
		k.run.Add("redelivered", 1)
		return false
	}
	if m.Type == "file" { // a file shared in the conversation (files, mixed)
		k.run.Add("file_msgs", 1)
		return false
	}
	n, sent, err := parseBody(m.Body)
	if err != nil {
		k.run.Add("foreign", 1)
		return false
	}
	if !k.led.Delivered(r, n) {
		return false
	}
	k.run.Add("delivered", 1)
	k.run.Observe("push", now.Sub(sent))
	return true
}

// send sends one ledger-numbered message and records the outcome; it
// returns the seq the message got, 0 when it failed. RATE_LIMITED is waited
// out and retried with the same client_msg_id (idempotent); other errors
// count as failed sends.
func (k *sink) send(ctx context.Context, e *Env, c *client.Client, req protocol.MsgSendReq, to []int32, size int, errs *errCounts) int64 {
	n := k.led.Next()
	t0 := time.Now()
	req.Body = makeBody(n, t0, size)
	req.ClientMsgID = fmt.Sprintf("%s-%d", e.RunID, n)
	for {
		r, err := c.SendMsg(ctx, req)
		if err == nil {
			k.led.Acked(n, to)
			k.run.Add("sent", 1)
			k.run.Observe("ack", time.Since(t0))
			return r.Seq
		}
		if d, ok := retryAfter(err); ok {
			k.run.Add("rate_limited", 1)
			select {
			case <-time.After(d):
				continue
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		k.led.Failed(n)
		if k.benign != nil && k.benign(err) {
			k.run.Add("send_interrupted", 1)
			return 0
		}
		k.run.Add("send_errors", 1)
		errs.add(err)
		return 0
	}
}

// drain waits until every acknowledged message was delivered, progress
// stops for stall, or timeout passes; it returns how long it waited.
func (k *sink) drain(ctx context.Context, timeout, stall time.Duration) time.Duration {
	start := time.Now()
	last, lastMove := k.led.Outstanding(), start
	for {
		out := k.led.Outstanding()
		if out <= 0 {
			return time.Since(start)
		}
		if out != last {
			last, lastMove = out, time.Now()
		}
		if time.Since(start) > timeout || time.Since(lastMove) > stall {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// loadShape is the common send-pacing flags.
type loadShape struct {
	dur      time.Duration
	rate     float64
	inflight int
	maxMsgs  int64
	size     int
	drain    time.Duration
}

func (l *loadShape) flags(fs *flag.FlagSet, dur time.Duration, inflight int) {
	fs.DurationVar(&l.dur, "duration", dur, "how long to send")
	fs.Float64Var(&l.rate, "rate", 0, "target messages per second over all senders (0: closed loop)")
	fs.IntVar(&l.inflight, "inflight", inflight, "requests in flight per sender (closed-loop window)")
	fs.Int64Var(&l.maxMsgs, "max-msgs", 0, "stop after this many messages (0: only --duration)")
	fs.IntVar(&l.size, "size", 64, "message body bytes")
	fs.DurationVar(&l.drain, "drain", 20*time.Second, "longest wait for outstanding deliveries after sending")
}

// drive runs senders×inflight goroutines calling one(ctx, sender) until the
// duration passes, the message budget is spent or ctx ends; with a rate
// they share a limiter.
func (l *loadShape) drive(ctx context.Context, senders int, one func(ctx context.Context, s int)) {
	ctx, cancel := context.WithTimeout(ctx, l.dur)
	defer cancel()
	var lim *rate.Limiter
	if l.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(l.rate), max(1, int(l.rate/20)))
	}
	var budget atomic.Int64
	budget.Store(l.maxMsgs)
	// A WaitGroup, not a counter that closes a channel at zero: with a
	// small message budget the first workers can finish before the last
	// one starts, and the counter would reach zero twice.
	var wg sync.WaitGroup
	for s := range senders {
		for range max(1, l.inflight) {
			wg.Go(func() {
				for ctx.Err() == nil {
					if l.maxMsgs > 0 && budget.Add(-1) < 0 {
						return
					}
					if lim != nil && lim.Wait(ctx) != nil {
						return
					}
					// Sends in flight at the deadline finish on their own
					// context so the ledger sees their outcome.
					one(context.WithoutCancel(ctx), s)
				}
			})
		}
	}
	wg.Wait()
}

// paramString joins key=value pairs for notes.
func paramString(kv ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%v=%v", kv[i], kv[i+1])
	}
	return b.String()
}
