package chatload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// mixedScenario is a soak: pairs chatting, a group talking, users going
// offline and coming back (acking what they have, then a token re-login
// whose backlog brings what they missed), for a configurable time; at the
// end every acknowledged message must have reached each recipient once.
type mixedScenario struct {
	fs         *flag.FlagSet
	pairs      int
	groupSize  int
	perUser    float64
	groupShare float64
	churn      float64
	dur        time.Duration
	drain      time.Duration
	conc       int
	files      int
	fileKB     int

	us          []*user
	cur         []atomic.Pointer[client.Client] // nil while a user is offline
	ids         []atomic.Int64
	group       int64
	groupTo     [][]int32
	pairTo      [][]int32
	src         string // the file sent during the soak
	filesSent   atomic.Int64
	filesFailed atomic.Int64
	fileNote    string
	waited      time.Duration
}

// Summary implements Scenario.
func (s *mixedScenario) Summary() string {
	return "soak: 1:1 and group messages with presence churn (reconnects); every acked message delivered exactly once"
}

// Flags implements Scenario.
func (s *mixedScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.pairs, "pairs", 20, "pairs of friends (2 users each)")
	fs.IntVar(&s.groupSize, "group-members", 10, "members of the one group (the first users)")
	fs.Float64Var(&s.perUser, "rate-per-user", 5, "messages per second each online user sends")
	fs.Float64Var(&s.groupShare, "group-share", 0.2, "share of a group member's messages that go to the group")
	fs.Float64Var(&s.churn, "churn", 0.05, "share of users that disconnect and come back each second")
	fs.DurationVar(&s.dur, "duration", 30*time.Second, "soak length")
	fs.DurationVar(&s.drain, "drain", 30*time.Second, "longest wait for outstanding deliveries at the end")
	fs.IntVar(&s.conc, "setup-concurrency", 16, "parallel logins during setup")
	fs.IntVar(&s.files, "files", 4, "files sent between friends during the soak (skipped when the server has no file port)")
	fs.IntVar(&s.fileKB, "file-kb", 256, "size of each file in KiB")
}

// Run implements Scenario.
func (s *mixedScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	if n := 2 * s.pairs; s.groupSize > n || s.groupSize < 2 {
		return nil, fmt.Errorf("--group-members must be 2..%d", n)
	}
	return runPhases(ctx, e, "mixed", s.fs, append([]string{"reconnects"}, sinkCounters...), sinkLatencies, s)
}

// login connects user i and makes it the current session of receiver i.
func (s *mixedScenario) login(ctx context.Context, t *trial, i int) error {
	c, _, err := t.e.connect(ctx, s.us[i], "bench", t.sink.onPush(int32(i), &s.ids[i]))
	if err != nil {
		return err
	}
	s.ids[i].Store(s.us[i].ID)
	s.cur[i].Store(c)
	return nil
}

func (s *mixedScenario) setup(ctx context.Context, t *trial) error {
	e, n := t.e, 2*s.pairs
	s.us = e.newUsers("m", n)
	if err := e.registerAll(ctx, s.us, s.conc); err != nil {
		return err
	}
	k := newSink(n, t.run)
	k.ignoreOwn = true
	k.benign = func(err error) bool { return errors.Is(err, client.ErrClosed) || errors.Is(err, client.ErrConnLost) }
	t.sink = k
	s.cur = make([]atomic.Pointer[client.Client], n)
	s.ids = make([]atomic.Int64, n)
	t.deferred(func() {
		for i := range s.cur {
			if c := s.cur[i].Swap(nil); c != nil {
				c.Close()
			}
		}
	})
	if err := parallel(ctx, n, s.conc, func(ctx context.Context, i int) error { return s.login(ctx, t, i) }); err != nil {
		return err
	}
	if err := parallel(ctx, s.pairs, s.conc, func(ctx context.Context, p int) error {
		return befriend(ctx, s.cur[2*p].Load(), s.cur[2*p+1].Load(), s.us[2*p+1].ID)
	}); err != nil {
		return err
	}
	grp, err := s.cur[0].Load().GroupCreate(ctx, "soak", nil)
	if err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	s.group = grp.GroupID
	if err := parallel(ctx, s.groupSize-1, s.conc, func(ctx context.Context, j int) error {
		_, err := s.cur[j+1].Load().GroupJoin(ctx, s.group)
		return err
	}); err != nil {
		return fmt.Errorf("join group: %w", err)
	}
	s.groupTo = make([][]int32, s.groupSize)
	for i := range s.groupTo {
		for j := 0; j < s.groupSize; j++ {
			if j != i {
				s.groupTo[i] = append(s.groupTo[i], int32(j))
			}
		}
	}
	s.pairTo = make([][]int32, n)
	for i := range s.pairTo {
		s.pairTo[i] = []int32{int32(i ^ 1)}
	}
	if s.files > 0 {
		dir, err := os.MkdirTemp("", "chatbench-mixed-*")
		if err != nil {
			return fmt.Errorf("temp dir: %w", err)
		}
		t.deferred(func() { os.RemoveAll(dir) })
		s.src = filepath.Join(dir, "file.bin")
		if err := writeRandomFile(s.src, int64(s.fileKB)<<10); err != nil {
			return err
		}
	}
	return nil
}

// load soaks: every user sends at its rate, a few files go between
// friends, and users drop off and come back.
func (s *mixedScenario) load(ctx context.Context, t *trial) {
	k, errs, n := t.sink, t.errs, 2*s.pairs
	t.phase = "soak"
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, s.dur)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lim := rate.NewLimiter(rate.Limit(s.perUser), 1)
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for lim.Wait(sctx) == nil {
				c := s.cur[i].Load()
				if c == nil {
					continue // offline for now
				}
				send := context.WithoutCancel(sctx)
				if i < s.groupSize && rng.Float64() < s.groupShare {
					k.send(send, t.e, c, protocol.MsgSendReq{ToGroup: s.group}, s.groupTo[i], 64, errs)
				} else {
					k.send(send, t.e, c, protocol.MsgSendReq{ToUser: s.us[i^1].ID}, s.pairTo[i], 64, errs)
				}
			}
		}(i)
	}
	// A few files between friends, spread over the soak.
	if s.files > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			every := s.dur / time.Duration(s.files+1)
			for f := 0; f < s.files; f++ {
				select {
				case <-sctx.Done():
					return
				case <-time.After(every):
				}
				i := f % n
				c := s.cur[i].Load()
				if c == nil {
					continue
				}
				fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := c.SendFile(fctx, client.Target{User: s.us[i^1].ID}, s.src, nil)
				fcancel()
				if pe := protocol.AsError(err); pe != nil && pe.Code == protocol.CodeUnavailable {
					s.fileNote = "the server's file port is not available (file.offer answered UNAVAILABLE): no files in this soak"
					return
				}
				if err != nil {
					if !k.benign(err) {
						errs.add(fmt.Errorf("send file: %w", err))
					}
					s.filesFailed.Add(1)
					continue
				}
				s.filesSent.Add(1)
			}
		}()
	}
	// Churn: ack what was shown, close, come back a little later.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, uint64(start.UnixNano())))
		var inner sync.WaitGroup
		defer inner.Wait()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
			for j := 0; j < int(s.churn*float64(n)+rng.Float64()); j++ {
				i := rng.IntN(n)
				old := s.cur[i].Swap(nil)
				if old == nil {
					continue
				}
				away := time.Duration(200+rng.IntN(1300)) * time.Millisecond
				inner.Add(1)
				go func() {
					defer inner.Done()
					actx, acancel := context.WithTimeout(ctx, 10*time.Second)
					for conv, seq := range k.seen[i].highest() {
						if err := old.Ack(actx, conv, seq); err != nil {
							errs.add(fmt.Errorf("ack before disconnect: %w", err))
						}
					}
					acancel()
					old.Close()
					time.Sleep(away)
					if err := s.login(ctx, t, i); err != nil {
						errs.add(fmt.Errorf("re-login: %w", err))
						return
					}
					t.run.Add("reconnects", 1)
				}()
			}
		}
	}()
	wg.Wait()
}

// verify brings back anyone still offline (a failed re-login), then waits
// for the deliveries and the file messages.
func (s *mixedScenario) verify(ctx context.Context, t *trial) {
	for i := range s.cur {
		if s.cur[i].Load() == nil {
			if err := s.login(ctx, t, i); err != nil {
				t.errs.add(fmt.Errorf("final login: %w", err))
			}
		}
	}
	s.waited = t.sink.drain(ctx, s.drain, 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); t.run.Get("file_msgs") < s.filesSent.Load() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *mixedScenario) report(t *trial) {
	rep, run := t.rep, t.run
	rep.Note("setup (%d users, group of %d) took %.1f s", 2*s.pairs, s.groupSize, t.setupTime.Seconds())
	rep.DurationS = t.loadTime.Seconds()
	sent := float64(run.Get("sent"))
	rep.AddFigure("messages sent (acked)", sent, "msgs", "")
	rep.AddFigure("sent/s", sent/t.loadTime.Seconds(), "msg/s", "")
	rep.AddFigure("deliveries/s", float64(run.Get("delivered"))/(t.loadTime+s.waited).Seconds(), "deliveries/s", "")
	rep.AddFigure("reconnects (presence churn)", float64(run.Get("reconnects")), "logins", "")
	rep.AddFigure("sends interrupted by a churn close", float64(run.Get("send_interrupted")), "msgs", "")
	if s.fileNote != "" {
		rep.Note("%s", s.fileNote)
	} else if s.files > 0 {
		rep.AddFigure("files sent", float64(s.filesSent.Load()), "files", "")
		rep.AddFigure("file messages received", float64(run.Get("file_msgs")), "msgs", "")
		rep.AddFigure("file messages missing at the recipient", float64(max(0, s.filesSent.Load()-run.Get("file_msgs"))), "msgs", "== 0")
	}
	rep.AddFigure("own messages in a re-login backlog (ignored)", float64(run.Get("own_echo")), "msgs", "")
	rep.AddFigure("pushes filtered as redelivered (same conv+seq)", float64(run.Get("redelivered")), "msgs", "")
	t.cpuUnits, t.cpuUnit = sent, "msg"
	rep.Note("push latency includes messages held for offline users until their re-login; drain took %.2f s", s.waited.Seconds())
}
