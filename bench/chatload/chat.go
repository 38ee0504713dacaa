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

// chatScenario: P pairs of friends send each other 1:1 messages.
type chatScenario struct {
	fs    *flag.FlagSet
	pairs int
	conc  int
	shape loadShape

	us      []*user
	clients []*client.Client
	ids     []atomic.Int64
	to      [][]int32 // each user's recipient list: its partner alone
	waited  time.Duration
	// With several nodes: where each client started, and how many
	// messages the catch-up sync after the drain delivered.
	startAddr []string
	caughtUp  int64
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
	s.shape.flags(fs, 10*time.Second, 4)
}

// Run implements Scenario.
func (s *chatScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	return runPhases(ctx, e, "chat", s.fs, sinkCounters, sinkLatencies, s)
}

func (s *chatScenario) setup(ctx context.Context, t *trial) error {
	e, n := t.e, 2*s.pairs
	s.us = e.newUsers("c", n)
	t.sink = newSink(n, t.run)
	// A send whose reply was lost with a node is stored; the backlog of
	// the re-login on another node can push it back to its sender.
	t.sink.ignoreOwn = e.failover()
	s.clients = make([]*client.Client, n)
	t.deferred(func() { closeAll(s.clients) })
	if err := e.registerAll(ctx, s.us, s.conc); err != nil {
		return err
	}
	s.ids = make([]atomic.Int64, n)
	ids := s.ids
	err := parallel(ctx, n, s.conc, func(ctx context.Context, i int) error {
		c, _, err := e.connect(ctx, s.us[i], "bench", t.sink.onPush(int32(i), &ids[i]))
		if err != nil {
			return err
		}
		ids[i].Store(s.us[i].ID)
		s.clients[i] = c
		return nil
	})
	if err != nil {
		return err
	}
	if err := parallel(ctx, s.pairs, s.conc, func(ctx context.Context, p int) error {
		return befriend(ctx, s.clients[2*p], s.clients[2*p+1], s.us[2*p+1].ID)
	}); err != nil {
		return err
	}
	s.to = make([][]int32, n)
	s.startAddr = make([]string, n)
	for i := range s.to {
		s.to[i] = []int32{int32(i ^ 1)}
		s.startAddr[i] = s.clients[i].Addr()
	}
	return nil
}

func (s *chatScenario) load(ctx context.Context, t *trial) {
	s.shape.drive(ctx, len(s.clients), func(ctx context.Context, i int) {
		t.sink.send(ctx, t.e, s.clients[i], protocol.MsgSendReq{ToUser: s.us[i^1].ID}, s.to[i], s.shape.size, t.errs)
	})
}

func (s *chatScenario) verify(ctx context.Context, t *trial) {
	s.waited = t.sink.drain(ctx, s.shape.drain, 5*time.Second)
	if t.e.failover() && t.sink.led.Outstanding() > 0 && s.movedClients() > 0 {
		s.caughtUp = s.catchUp(ctx, t)
	}
}

// movedClients counts the clients that are on another node than at setup.
func (s *chatScenario) movedClients() int {
	n := 0
	for i, c := range s.clients {
		if c.Addr() != s.startAddr[i] {
			n++
		}
	}
	return n
}

// catchUp does what an application does after its node went away: it
// syncs each conversation for messages the client has not handed over.
// It runs only when a client failed over: without one, a push owed is a
// lost message, and the ledger must say so.
// One can be missing from the pushes when a node stored it and died
// before publishing it, and the sender's retry on another node was
// answered from the store (an idempotent resend pushes nothing); a later
// message of the conversation would bring it, but the run may have ended.
// It returns how many deliveries the sync added.
func (s *chatScenario) catchUp(ctx context.Context, t *trial) int64 {
	var n int64
	for i := 0; i+1 < len(s.clients); i += 2 {
		conv := protocol.PrivateConv(s.us[i].ID, s.us[i+1].ID)
		for _, r := range []int{i, i + 1} {
			// Seqs are dense: pages of 500 cover the conversation.
			for after := int64(0); ; after += 500 {
				msgs, more, err := s.clients[r].SyncNew(ctx, conv, after)
				if err != nil {
					t.errs.add(err)
					break
				}
				for j := range msgs {
					if t.sink.takeMsg(int32(r), &s.ids[r], &msgs[j]) {
						n++
					}
				}
				if !more {
					break
				}
			}
		}
	}
	return n
}

func (s *chatScenario) report(t *trial) {
	rep, run := t.rep, t.run
	rep.Note("setup (register, login, befriend %d users) took %.1f s", 2*s.pairs, t.setupTime.Seconds())
	rep.DurationS = t.loadTime.Seconds()
	sent := float64(run.Get("sent"))
	rep.AddFigure("messages sent (acked)", sent, "msgs", "")
	rep.AddFigure("sent/s", sent/t.loadTime.Seconds(), "msg/s", ">= 20000")
	rep.AddFigure("delivered/s", float64(run.Get("delivered"))/(t.loadTime+s.waited).Seconds(), "msg/s", ">= 20000")
	if sum := run.Latency("push").Summary(); sum.Count > 0 {
		rep.AddFigure("push latency p99", sum.P99Ms, "ms", "<= 25")
	}
	t.cpuUnits, t.cpuUnit = sent, "msg"
	rep.Note("drain after sending took %.2f s; %s", s.waited.Seconds(), paramString("pairs", s.pairs, "inflight", s.shape.inflight, "rate", s.shape.rate))
	if t.e.failover() {
		rep.AddFigure("clients that failed over to another node", float64(s.movedClients()), "clients", "")
		rep.AddFigure("deliveries by the catch-up sync after the drain", float64(s.caughtUp), "msgs", "")
		rep.Note("%d users spread over the nodes %s; a client whose node went away reconnected to the next one", len(s.clients), t.e.Addr)
	}
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
