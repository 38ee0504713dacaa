package chatload

import (
	"context"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/bench/report"
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

	us      []*user
	clients []*client.Client
	ids     []atomic.Int64
	waited  time.Duration
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
	if s.perUser < 1 || s.perUser > 500 {
		return nil, fmt.Errorf("--per-user must be 1..500 (the server pushes at most 500 missed messages per conversation at login)")
	}
	return runPhases(ctx, e, "offline", s.fs, append([]string{"caught_up"}, sinkCounters...), append([]string{"catch_up"}, sinkLatencies...), s)
}

// setup makes P friend pairs and logs the receivers (users P..2P-1) out.
func (s *offlineScenario) setup(ctx context.Context, t *trial) error {
	e, P := t.e, s.pairs
	s.us = e.newUsers("o", 2*P)
	if err := e.registerAll(ctx, s.us, s.conc); err != nil {
		return err
	}
	// Receiver p is user P+p; ledger receivers are numbered 0..P-1.
	t.sink = newSink(P, t.run)
	s.clients = make([]*client.Client, 2*P)
	t.deferred(func() { closeAll(s.clients) })
	s.ids = make([]atomic.Int64, 2*P)
	if err := parallel(ctx, 2*P, s.conc, func(ctx context.Context, i int) error {
		c, _, err := e.connect(ctx, s.us[i], "bench", nil)
		if err != nil {
			return err
		}
		s.clients[i] = c
		return nil
	}); err != nil {
		return err
	}
	if err := parallel(ctx, P, s.conc, func(ctx context.Context, p int) error {
		return befriend(ctx, s.clients[p], s.clients[P+p], s.us[P+p].ID)
	}); err != nil {
		return err
	}
	for p := 0; p < P; p++ {
		s.clients[P+p].Close()
		s.clients[P+p] = nil
	}
	time.Sleep(500 * time.Millisecond) // the sessions end on the server
	return nil
}

// load sends every receiver its backlog while it is offline.
func (s *offlineScenario) load(ctx context.Context, t *trial) {
	P := s.pairs
	t.phase = "sending to offline users"
	_ = parallel(ctx, P*s.perUser, P*s.inflight, func(ctx context.Context, i int) error {
		p := i % P
		t.sink.send(ctx, t.e, s.clients[p], protocol.MsgSendReq{ToUser: s.us[P+p].ID}, []int32{int32(p)}, 64, t.errs)
		return nil
	})
}

// verify logs every receiver in at once and waits for its backlog.
func (s *offlineScenario) verify(ctx context.Context, t *trial) {
	P, k, run := s.pairs, t.sink, t.run
	t.phase = "receivers logging in"
	got := make([]atomic.Int64, P)
	loginStart := make([]time.Time, P)
	_ = parallel(ctx, P, s.conc, func(ctx context.Context, p int) error {
		loginStart[p] = time.Now()
		want := int64(s.perUser)
		c, _, err := t.e.connect(ctx, s.us[P+p], "bench", func(pu client.Push) {
			if k.take(int32(p), &s.ids[P+p], pu) && got[p].Add(1) == want {
				run.Observe("catch_up", time.Since(loginStart[p]))
				run.Add("caught_up", 1)
			}
		})
		if err != nil {
			t.errs.add(err)
			return nil
		}
		s.clients[P+p] = c
		return nil
	})
	s.waited = k.drain(ctx, s.wait, 10*time.Second)
}

func (s *offlineScenario) report(t *trial) {
	rep, run := t.rep, t.run
	rep.Note("setup (%d users) took %.1f s", 2*s.pairs, t.setupTime.Seconds())
	rep.DurationS = t.loadTime.Seconds() + t.verifyTime.Seconds()
	rep.AddFigure("messages stored for offline users", float64(run.Get("sent")), "msgs", "")
	rep.AddFigure("stored/s while receivers offline", float64(run.Get("sent"))/t.loadTime.Seconds(), "msg/s", "")
	rep.AddFigure("receivers", float64(s.pairs), "users", "")
	rep.AddFigure("receivers that got everything", float64(run.Get("caught_up")), "users", "")
	rep.AddFigure("time from first login to every missed message", t.verifyTime.Seconds(), "s", "")
	rep.Note("'catch_up' is per receiver from its login to its last missed message; 'push' is the age of a message when it arrived; waited %.2f s after the logins", s.waited.Seconds())
}
