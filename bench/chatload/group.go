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

// groupScenario: G groups of M members, S senders each; every member may
// be online on several devices, each device a receiver.
type groupScenario struct {
	fs      *flag.FlagSet
	groups  int
	members int
	senders int
	devices int
	users   int
	conc    int
	raw     bool
	load    loadShape
}

// Summary implements Scenario.
func (s *groupScenario) Summary() string {
	return "G groups of M members, S senders each; deliveries/s and fan-out latency, exactly-once check"
}

// Flags implements Scenario.
func (s *groupScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.groups, "groups", 4, "groups")
	fs.IntVar(&s.members, "members", 50, "members per group")
	fs.IntVar(&s.senders, "senders", 2, "senders per group")
	fs.IntVar(&s.devices, "devices", 1, "sessions (devices) per member, each one receives every message")
	fs.IntVar(&s.users, "users", 0, "accounts to draw members from (0: members, so every user is in every group)")
	fs.IntVar(&s.conc, "setup-concurrency", 16, "parallel logins during setup")
	fs.BoolVar(&s.raw, "raw-receivers", true, "receive on bare connections scanned for the accounting fields instead of SDK clients that decode every push (senders stay SDK clients)")
	s.load.flags(fs, 10*time.Second, 2)
}

// Run implements Scenario.
func (s *groupScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("group", e, s.fs)
	if s.users <= 0 {
		s.users = s.members
	}
	if s.members > s.users || s.senders > s.members || s.members < 2 {
		return nil, fmt.Errorf("need 2 <= members <= users and senders <= members")
	}
	run := stats.NewRun(sinkCounters, sinkLatencies)
	errs := &errCounts{}
	phase := "setup"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()
	t0 := time.Now()

	us := e.newUsers("g", s.users)
	if err := e.registerAll(ctx, us, s.conc); err != nil {
		return nil, err
	}
	// Receiver r is device r%devices of user r/devices. Setup (creating
	// and joining groups) runs on one SDK session per user.
	nrecv := s.users * s.devices
	k := newSink(nrecv, run)
	setup := make([]*client.Client, s.users)
	defer closeAll(setup)
	if err := parallel(ctx, s.users, s.conc, func(ctx context.Context, u int) error {
		c, _, err := e.connect(ctx, us[u], "setup", nil)
		setup[u] = c
		return err
	}); err != nil {
		return nil, err
	}
	// Group g has users (g*members + j) % users; its first member owns it.
	members := make([][]int, s.groups)
	gids := make([]int64, s.groups)
	isSender := make([]bool, s.users)
	for g := range members {
		for j := 0; j < s.members; j++ {
			members[g] = append(members[g], (g*s.members+j)%s.users)
		}
		for i := 0; i < s.senders; i++ {
			isSender[members[g][i]] = true
		}
		grp, err := setup[members[g][0]].GroupCreate(ctx, fmt.Sprintf("bench %d", g), nil)
		if err != nil {
			return nil, fmt.Errorf("create group: %w", err)
		}
		gids[g] = grp.GroupID
		if err := parallel(ctx, s.members-1, s.conc, func(ctx context.Context, j int) error {
			_, err := setup[members[g][j+1]].GroupJoin(ctx, gids[g])
			return err
		}); err != nil {
			return nil, fmt.Errorf("join group: %w", err)
		}
	}
	closeAll(setup)
	clear(setup)
	// Receivers: senders' device 0 must be an SDK client (it sends); with
	// --raw-receivers every other session is a bare connection.
	clients := make([]*client.Client, nrecv)
	defer closeAll(clients)
	raws := make([]*rawConn, nrecv)
	defer func() {
		for _, c := range raws {
			if c != nil {
				c.Close()
			}
		}
	}()
	ids := make([]atomic.Int64, nrecv)
	d := e.dialer()
	if err := parallel(ctx, nrecv, s.conc, func(ctx context.Context, r int) error {
		u, dev := r/s.devices, r%s.devices
		ids[r].Store(us[u].ID)
		device := fmt.Sprintf("dev%d", dev)
		if !s.raw || (dev == 0 && isSender[u]) {
			c, _, err := e.connect(ctx, us[u], device, k.onPush(int32(r), &ids[r]))
			clients[r] = c
			return err
		}
		c, err := rawLogin(ctx, d, e.Addr, us[u].Name, us[u].Token, device, 64<<10)
		if err != nil {
			return fmt.Errorf("raw login %s: %w", us[u].Name, err)
		}
		raws[r] = c
		go k.rawReceive(c, int32(r), &ids[r])
		return nil
	}); err != nil {
		return nil, err
	}
	stopKeep := make(chan struct{})
	defer close(stopKeep)
	go rawKeepalive(raws, 30*time.Second, stopKeep)
	// Sender (g, i) is device 0 of member i; it owes every session of every
	// member but itself (its own other devices included).
	type sender struct {
		c   *client.Client
		gid int64
		to  []int32
	}
	var senders []sender
	for g := range members {
		for i := 0; i < s.senders; i++ {
			self := int32(members[g][i] * s.devices)
			var to []int32
			for _, u := range members[g] {
				for d := 0; d < s.devices; d++ {
					if r := int32(u*s.devices + d); r != self {
						to = append(to, r)
					}
				}
			}
			senders = append(senders, sender{c: clients[self], gid: gids[g], to: to})
		}
	}
	rawN := 0
	for _, c := range raws {
		if c != nil {
			rawN++
		}
	}
	rep.Note("setup (%d users, %d sessions of which %d bare receivers, %d groups) took %.1f s", s.users, nrecv, rawN, s.groups, time.Since(t0).Seconds())

	phase = "sending"
	before, _ := e.ReadServer(ctx)
	run.Restart()
	profDone := e.StartCPUProfile(ctx, e.ProfileSeconds)
	start := time.Now()
	s.load.drive(ctx, len(senders), func(ctx context.Context, i int) {
		sd := senders[i]
		k.send(ctx, e, sd.c, protocol.MsgSendReq{ToGroup: sd.gid}, sd.to, s.load.size, errs)
	})
	sendTime := time.Since(start)
	phase = "draining"
	waited := k.drain(ctx, s.load.drain, 5*time.Second)
	after, _ := e.ReadServer(ctx)
	stop()

	rep.DurationS = sendTime.Seconds()
	sent := float64(run.Get("sent"))
	rep.AddFigure("messages sent (acked)", sent, "msgs", "")
	rep.AddFigure("sent/s", sent/sendTime.Seconds(), "msg/s", "")
	rep.AddFigure("deliveries/s", float64(run.Get("delivered"))/(sendTime+waited).Seconds(), "deliveries/s", ">= 1000000")
	finish(rep, run, errs, k.led)
	if sum := run.Latency("push").Summary(); sum.Count > 0 {
		rep.AddFigure("fan-out latency p99", sum.P99Ms, "ms", "")
	}
	addServerCPU(rep, before, after, float64(run.Get("delivered")), "delivery")
	if note := profDone(); note != "" {
		rep.Note("%s", note)
	}
	rep.Note("drain after sending took %.2f s; fan-out per message %d sessions", waited.Seconds(), s.members*s.devices-1)
	return rep, nil
}
