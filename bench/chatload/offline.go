package chatload

import (
	"context"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// offlineScenario: senders message friends who are offline, then every
// receiver logs in at once and gets the backlog pushed.
type offlineScenario struct {
	fs       *flag.FlagSet
	pairs    int
	perUser  int
	inflight int
	conc     int
	wait     time.Duration
}

// Summary implements Scenario.
func (s *offlineScenario) Summary() string {
	return "messages to offline users, then their logins; time until every missed message arrived, exactly-once check"
}

// Flags implements Scenario.
func (s *offlineScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.pairs, "pairs", 50, "sender/receiver pairs")
	fs.IntVar(&s.perUser, "per-user", 100, "messages each offline receiver misses (at most 500: the login backlog push)")
	fs.IntVar(&s.inflight, "inflight", 4, "sends in flight per sender")
	fs.IntVar(&s.conc, "setup-concurrency", 16, "parallel logins during setup and at the login storm")
	fs.DurationVar(&s.wait, "wait", 30*time.Second, "longest wait for the backlog after the logins")
}

// Run implements Scenario.
func (s *offlineScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("offline", e, s.fs)
	if s.perUser < 1 || s.perUser > 500 {
		return nil, fmt.Errorf("--per-user must be 1..500 (the server pushes at most 500 missed messages per conversation at login)")
	}
	run := stats.NewRun(append([]string{"caught_up"}, sinkCounters...), append([]string{"catch_up"}, sinkLatencies...))
	errs := &errCounts{}
	phase := "setup"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()
	t0 := time.Now()

	P := s.pairs
	us := e.newUsers("o", 2*P)
	if err := e.registerAll(ctx, us, s.conc); err != nil {
		return nil, err
	}
	// Receiver p is user P+p; ledger receivers are numbered 0..P-1.
	k := newSink(P, run)
	clients := make([]*client.Client, 2*P)
	defer closeAll(clients)
	ids := make([]atomic.Int64, 2*P)
	if err := parallel(ctx, 2*P, s.conc, func(ctx context.Context, i int) error {
		c, _, err := e.connect(ctx, us[i], "bench", nil)
		if err != nil {
			return err
		}
		clients[i] = c
		return nil
	}); err != nil {
		return nil, err
	}
	if err := parallel(ctx, P, s.conc, func(ctx context.Context, p int) error {
		return befriend(ctx, clients[p], clients[P+p], us[P+p].ID)
	}); err != nil {
		return nil, err
	}
	for p := 0; p < P; p++ {
		clients[P+p].Close()
		clients[P+p] = nil
	}
	time.Sleep(500 * time.Millisecond) // the sessions end on the server
	rep.Note("setup (%d users) took %.1f s", 2*P, time.Since(t0).Seconds())

	phase = "sending to offline users"
	run.Restart()
	start := time.Now()
	_ = parallel(ctx, P*s.perUser, P*s.inflight, func(ctx context.Context, i int) error {
		p := i % P
		k.send(ctx, e, clients[p], protocol.MsgSendReq{ToUser: us[P+p].ID}, []int32{int32(p)}, 64, errs)
		return nil
	})
	sendTime := time.Since(start)

	phase = "receivers logging in"
	got := make([]atomic.Int64, P)
	loginStart := make([]time.Time, P)
	base := time.Now()
	err := parallel(ctx, P, s.conc, func(ctx context.Context, p int) error {
		loginStart[p] = time.Now()
		want := int64(s.perUser)
		c, _, err := e.connect(ctx, us[P+p], "bench", func(pu client.Push) {
			if k.take(int32(p), &ids[P+p], pu) && got[p].Add(1) == want {
				run.Observe("catch_up", time.Since(loginStart[p]))
				run.Add("caught_up", 1)
			}
		})
		if err != nil {
			errs.add(err)
			return nil
		}
		clients[P+p] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	waited := k.drain(ctx, s.wait, 10*time.Second)
	allIn := time.Since(base)
	stop()

	rep.DurationS = sendTime.Seconds() + allIn.Seconds()
	rep.AddFigure("messages stored for offline users", float64(run.Get("sent")), "msgs", "")
	rep.AddFigure("stored/s while receivers offline", float64(run.Get("sent"))/sendTime.Seconds(), "msg/s", "")
	rep.AddFigure("receivers", float64(P), "users", "")
	rep.AddFigure("receivers that got everything", float64(run.Get("caught_up")), "users", "")
	rep.AddFigure("time from first login to every missed message", allIn.Seconds(), "s", "")
	finish(rep, run, errs, k.led)
	rep.Note("'catch_up' is per receiver from its login to its last missed message; 'push' is the age of a message when it arrived; waited %.2f s after the logins", waited.Seconds())
	return rep, nil
}
