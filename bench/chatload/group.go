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
	loops   bool
	mention int           // members each message mentions (msg.send mentions)
	reply   bool          // each message quotes the sender's previous one (reply_to)
	within  time.Duration // goal for the slowest message to reach every receiver
	shape   loadShape

	nrecv   int
	rawN    int
	sending []groupSender
	waited  time.Duration
}

// groupSender is device 0 of a sending member; it owes every session of
// every member but itself (its own other devices included).
type groupSender struct {
	c        *client.Client
	gid      int64
	to       []int32
	mentions []int64       // --mentions: the members named in each message
	last     *atomic.Int64 // --reply: the seq of the sender's previous message
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
	fs.IntVar(&s.mention, "mentions", 0, "members each message @mentions (the next ones after its sender), to compare with plain text")
	fs.BoolVar(&s.reply, "reply", false, "each message quotes (reply_to) its sender's previous one, to compare with plain text")
	fs.DurationVar(&s.within, "all-within", 0, "goal for the slowest message's last delivery after its send (0: none); with --rate 1 --senders 1 each message fans out alone, e.g. group --groups 1 --members 10000 --senders 1 --rate 1 --all-within 100ms")
	fs.BoolVar(&s.raw, "raw-receivers", true, "receive on bare connections scanned for the accounting fields instead of SDK clients that decode every push (senders stay SDK clients)")
	fs.BoolVar(&s.loops, "receiver-loops", true, "serve the bare receivers on reactor event loops instead of a goroutine each (raw transport without --source-ip; otherwise goroutines)")
	s.shape.flags(fs, 10*time.Second, 2)
}

// Run implements Scenario.
func (s *groupScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	if s.users <= 0 {
		s.users = s.members
	}
	if s.members > s.users || s.senders > s.members || s.members < 2 {
		return nil, fmt.Errorf("need 2 <= members <= users and senders <= members")
	}
	if most := protocol.DefaultLimits().MaxMentions; s.mention < 0 || s.mention >= s.members || s.mention > most {
		return nil, fmt.Errorf("--mentions: need 0 <= mentions < members and <= %d", most)
	}
	return runPhases(ctx, e, "group", s.fs, sinkCounters, sinkLatencies, s)
}

func (s *groupScenario) setup(ctx context.Context, t *trial) error {
	e := t.e
	us := e.newUsers("g", s.users)
	if err := e.registerAll(ctx, us, s.conc); err != nil {
		return err
	}
	// Receiver r is device r%devices of user r/devices.
	s.nrecv = s.users * s.devices
	k := newSink(s.nrecv, t.run)
	t.sink = k
	// Group g has users (g*members + j) % users; its first member owns it
	// and creates it, then every other member logs in, joins its groups
	// and logs out: few setup sessions are online at a time, so the
	// group.event of a join reaches few members (with every member online
	// a group of n would cost n²/2 pushes), and a 10,000-member group
	// needs no 10,000 SDK clients at once.
	members := make([][]int, s.groups)
	gids := make([]int64, s.groups)
	isSender := make([]bool, s.users)
	joins := make([][]int64, s.users)
	for g := range members {
		for j := 0; j < s.members; j++ {
			members[g] = append(members[g], (g*s.members+j)%s.users)
		}
		for i := 0; i < s.senders; i++ {
			isSender[members[g][i]] = true
		}
		owner, _, err := e.connect(ctx, us[members[g][0]], "setup", nil)
		if err != nil {
			return err
		}
		grp, err := owner.GroupCreate(ctx, fmt.Sprintf("bench %d", g), nil)
		owner.Close()
		if err != nil {
			return fmt.Errorf("create group: %w", err)
		}
		gids[g] = grp.GroupID
		for _, u := range members[g][1:] {
			joins[u] = append(joins[u], grp.GroupID)
		}
	}
	if err := parallel(ctx, s.users, s.conc, func(ctx context.Context, u int) error {
		c, _, err := e.connect(ctx, us[u], "setup", nil)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, gid := range joins[u] {
			if _, err := c.GroupJoin(ctx, gid); err != nil {
				return fmt.Errorf("join group: %w", err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// Receivers: senders' device 0 must be an SDK client (it sends); with
	// --raw-receivers every other session is a bare connection.
	clients := make([]*client.Client, s.nrecv)
	t.deferred(func() { closeAll(clients) })
	raws := make([]*rawConn, s.nrecv)
	t.deferred(func() {
		for _, c := range raws {
			if c != nil {
				c.Close()
			}
		}
	})
	ids := make([]atomic.Int64, s.nrecv)
	d := e.dialer()
	var hub *recvLoops
	if s.raw && s.loops && d.plain() && e.SourceIP == "" {
		var err error
		if hub, err = newRecvLoops(); err != nil {
			return err
		}
		t.deferred(hub.close)
	}
	if err := parallel(ctx, s.nrecv, s.conc, func(ctx context.Context, r int) error {
		u, dev := r/s.devices, r%s.devices
		ids[r].Store(us[u].ID)
		device := fmt.Sprintf("dev%d", dev)
		if !s.raw || (dev == 0 && isSender[u]) {
			c, _, err := e.connect(ctx, us[u], device, k.onPush(int32(r), &ids[r]))
			clients[r] = c
			return err
		}
		if hub != nil {
			frame, chunkDone := k.rawFrames(int32(r), &ids[r])
			if err := hub.login(ctx, nthAddr(e.Addr, r), us[u].Name, us[u].Token, device, frame, chunkDone); err != nil {
				return fmt.Errorf("raw login %s: %w", us[u].Name, err)
			}
			return nil
		}
		// A small reader: past the login reply, receiveChunks reads into
		// its own buffer, which grows only on a busy connection.
		c, err := rawLogin(ctx, d, nthAddr(e.Addr, r), us[u].Name, us[u].Token, device, 4<<10)
		if err != nil {
			return fmt.Errorf("raw login %s: %w", us[u].Name, err)
		}
		raws[r] = c
		go k.rawReceive(c, int32(r), &ids[r])
		return nil
	}); err != nil {
		return err
	}
	stopKeep := make(chan struct{})
	t.deferred(func() { close(stopKeep) })
	go rawKeepalive(raws, 30*time.Second, stopKeep)
	if hub != nil {
		go hub.keepalive(30*time.Second, stopKeep)
	}
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
			var named []int64
			for j := 1; j <= s.mention; j++ {
				named = append(named, us[members[g][(i+j)%s.members]].ID)
			}
			s.sending = append(s.sending, groupSender{c: clients[self], gid: gids[g], to: to, mentions: named, last: new(atomic.Int64)})
		}
	}
	for _, c := range raws {
		if c != nil {
			s.rawN++
		}
	}
	if hub != nil {
		s.rawN += hub.count()
	}
	return nil
}

func (s *groupScenario) load(ctx context.Context, t *trial) {
	s.shape.drive(ctx, len(s.sending), func(ctx context.Context, i int) {
		sd := s.sending[i]
		req := protocol.MsgSendReq{ToGroup: sd.gid, Mentions: sd.mentions}
		if s.reply {
			req.ReplyTo = sd.last.Load() // 0 (none) until the sender's first message is in
		}
		if seq := t.sink.send(ctx, t.e, sd.c, req, sd.to, s.shape.size, t.errs); seq > 0 && s.reply {
			sd.last.Store(seq)
		}
	})
}

func (s *groupScenario) verify(ctx context.Context, t *trial) {
	s.waited = t.sink.drain(ctx, s.shape.drain, 5*time.Second)
}

func (s *groupScenario) report(t *trial) {
	rep, run := t.rep, t.run
	rep.Note("setup (%d users, %d sessions of which %d bare receivers, %d groups) took %.1f s", s.users, s.nrecv, s.rawN, s.groups, t.setupTime.Seconds())
	rep.DurationS = t.loadTime.Seconds()
	sent := float64(run.Get("sent"))
	rep.AddFigure("messages sent (acked)", sent, "msgs", "")
	rep.AddFigure("sent/s", sent/t.loadTime.Seconds(), "msg/s", "")
	// The throughput goal is for a closed loop; a paced run (--rate) sets
	// its own pace.
	throughputGoal := ">= 1000000"
	if s.shape.rate > 0 {
		throughputGoal = ""
	}
	rep.AddFigure("deliveries/s", float64(run.Get("delivered"))/(t.loadTime+s.waited).Seconds(), "deliveries/s", throughputGoal)
	if sum := run.Latency("push").Summary(); sum.Count > 0 {
		rep.AddFigure("fan-out latency p99", sum.P99Ms, "ms", "")
		// The slowest delivery is the last receiver of the slowest
		// message: with one message in flight at a time (--rate 1), the
		// time until every member had it.
		goal := ""
		if s.within > 0 {
			goal = fmt.Sprintf("<= %g", float64(s.within)/float64(time.Millisecond))
		}
		rep.AddFigure("slowest message to every receiver", sum.MaxMs, "ms", goal)
	}
	t.cpuUnits, t.cpuUnit = float64(run.Get("delivered")), "delivery"
	rep.Note("drain after sending took %.2f s; fan-out per message %d sessions", s.waited.Seconds(), s.members*s.devices-1)
	if s.mention > 0 || s.reply {
		rep.Note("each message mentions %d members; reply_to the sender's previous message: %v", s.mention, s.reply)
	}
}
