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

// chatScenario: P pairs of friends send each other 1:1 messages.
type chatScenario struct {
	fs    *flag.FlagSet
	pairs int
	conc  int
	load  loadShape
}

// Summary implements Scenario.
func (s *chatScenario) Summary() string {
	return "P pairs of friends exchange 1:1 messages; sent/s, delivered/s, send->push latency, exactly-once check"
}

// Flags implements Scenario.
func (s *chatScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.pairs, "pairs", 50, "pairs of friends (each user sends to its partner)")
	fs.IntVar(&s.conc, "setup-concurrency", 16, "parallel logins during setup")
	s.load.flags(fs, 10*time.Second, 4)
}

// Run implements Scenario.
func (s *chatScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("chat", e, s.fs)
	run := stats.NewRun(sinkCounters, sinkLatencies)
	errs := &errCounts{}
	phase := "setup"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()

	n := 2 * s.pairs
	us := e.newUsers("c", n)
	k := newSink(n, run)
	clients := make([]*client.Client, n)
	defer closeAll(clients)
	t0 := time.Now()
	if err := e.registerAll(ctx, us, s.conc); err != nil {
		return nil, err
	}
	ids := make([]atomic.Int64, n)
	err := parallel(ctx, n, s.conc, func(ctx context.Context, i int) error {
		c, _, err := e.connect(ctx, us[i], "bench", k.onPush(int32(i), &ids[i]))
		if err != nil {
			return err
		}
		ids[i].Store(us[i].ID)
		clients[i] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := parallel(ctx, s.pairs, s.conc, func(ctx context.Context, p int) error {
		return befriend(ctx, clients[2*p], clients[2*p+1], us[2*p+1].ID)
	}); err != nil {
		return nil, err
	}
	rep.Note("setup (register, login, befriend %d users) took %.1f s", n, time.Since(t0).Seconds())

	// Each user's recipient list is its partner alone, shared by all its sends.
	to := make([][]int32, n)
	for i := range to {
		to[i] = []int32{int32(i ^ 1)}
	}
	phase = "sending"
	before, _ := e.ReadServer(ctx)
	run.Restart()
	profDone := e.StartCPUProfile(ctx, e.ProfileSeconds)
	start := time.Now()
	s.load.drive(ctx, n, func(ctx context.Context, i int) {
		k.send(ctx, e, clients[i], protocol.MsgSendReq{ToUser: us[i^1].ID}, to[i], s.load.size, errs)
	})
	sendTime := time.Since(start)
	phase = "draining"
	waited := k.drain(ctx, s.load.drain, 5*time.Second)
	after, _ := e.ReadServer(ctx)
	stop()

	rep.DurationS = sendTime.Seconds()
	sent := float64(run.Get("sent"))
	rep.AddFigure("messages sent (acked)", sent, "msgs", "")
	rep.AddFigure("sent/s", sent/sendTime.Seconds(), "msg/s", ">= 20000")
	rep.AddFigure("delivered/s", float64(run.Get("delivered"))/(sendTime+waited).Seconds(), "msg/s", ">= 20000")
	finish(rep, run, errs, k.led)
	if sum := run.Latency("push").Summary(); sum.Count > 0 {
		rep.AddFigure("push latency p99", sum.P99Ms, "ms", "<= 25")
	}
	addServerCPU(rep, before, after, sent, "msg")
	if note := profDone(); note != "" {
		rep.Note("%s", note)
	}
	rep.Note("drain after sending took %.2f s; %s", waited.Seconds(), paramString("pairs", s.pairs, "inflight", s.load.inflight, "rate", s.load.rate))
	return rep, nil
}

// addServerCPU adds server CPU per unit when both readings have CPU, and
// how many cores chatd and chatbench each kept busy between the readings.
func addServerCPU(rep *report.Report, before, after ServerMetrics, units float64, unit string) {
	wall := after.At.Sub(before.At).Seconds()
	if wall <= 0 {
		return
	}
	if after.CPU > before.CPU {
		if units > 0 {
			rep.AddFigure(fmt.Sprintf("server CPU per %s", unit), (after.CPU-before.CPU)/units*1e6, "µs", "")
		}
		rep.AddFigure("chatd CPU use", (after.CPU-before.CPU)/wall, "cores", "")
	}
	rep.AddFigure("chatbench CPU use", (after.SelfCPU-before.SelfCPU)/wall, "cores", "")
}

func closeAll(cs []*client.Client) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}
