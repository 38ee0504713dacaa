package chatload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// crashScenario runs the chat load against a chatd it starts itself,
// kills it with SIGKILL in the middle, restarts it on the same data, and
// checks that every acknowledged message was delivered exactly once and is
// in the store exactly once.
type crashScenario struct {
	fs        *flag.FlagSet
	chatd     string
	pairs     int
	inflight  int
	dur       time.Duration
	killAfter time.Duration
	down      time.Duration
	drain     time.Duration
}

// Summary implements Scenario.
func (s *crashScenario) Summary() string {
	return "chat load, kill -9 of a chatd it started, restart; every acked message delivered and stored exactly once"
}

// Flags implements Scenario.
func (s *crashScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.StringVar(&s.chatd, "chatd", "", "path of the chatd binary to start, kill and restart (required)")
	fs.IntVar(&s.pairs, "pairs", 20, "pairs of friends")
	fs.IntVar(&s.inflight, "inflight", 2, "sends in flight per user")
	fs.DurationVar(&s.dur, "duration", 15*time.Second, "how long to send")
	fs.DurationVar(&s.killAfter, "kill-after", 5*time.Second, "when to kill chatd after sending starts")
	fs.DurationVar(&s.down, "down", time.Second, "how long chatd stays dead")
	fs.DurationVar(&s.drain, "drain", 30*time.Second, "longest wait for deliveries after sending")
}

// chatdProc is a chatd child process.
type chatdProc struct {
	path, addr string
	args       []string
	logPath    string
	cmd        *exec.Cmd
}

func (p *chatdProc) start(ctx context.Context) error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chatd log: %w", err)
	}
	defer logf.Close()
	p.cmd = exec.Command(p.path, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.path, err)
	}
	for i := 0; i < 300; i++ {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(p.logPath)
	return fmt.Errorf("chatd did not listen on %s; its log:\n%s", p.addr, b)
}

func (p *chatdProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func (p *chatdProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	p.cmd = nil
}

// freePort returns a loopback address with a port free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Run implements Scenario.
func (s *crashScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("crash", e, s.fs)
	if s.chatd == "" {
		return nil, errors.New("--chatd PATH is required: the crash scenario starts and kills its own chatd")
	}
	dir, err := os.MkdirTemp("", "chatbench-crash-*")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	addr, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("pick a port: %w", err)
	}
	proc := &chatdProc{path: s.chatd, addr: addr, logPath: filepath.Join(dir, "chatd.log"), args: []string{
		"--chat-addr", addr, "--file-addr", "127.0.0.1:0", "--admin-addr", "", "--discovery-addr", "", "--web-addr", "", "--data-dir", filepath.Join(dir, "data"),
		"--msg-rate", "1000000", "--msg-burst", "1000000", "--log-level", "error", "--log-format", "json"}}
	if err := proc.start(ctx); err != nil {
		return nil, err
	}
	defer proc.stop()
	// The scenario's own server replaces whatever --addr said.
	local := *e
	local.Addr, local.AdminURL, local.ServerPID, local.InProcess = addr, "", 0, false
	local.Accounts = nil // they die with the scenario's own data dir
	e = &local
	rep.Server = "chatd child process at " + addr + " (killed and restarted)"

	run := stats.NewRun(append([]string{"reconnected"}, sinkCounters...), sinkLatencies)
	errs := &errCounts{}
	phase := "setup"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()

	n := 2 * s.pairs
	us := e.newUsers("x", n)
	if err := e.registerAll(ctx, us, 16); err != nil {
		return nil, err
	}
	k := newSink(n, run)
	// A send whose reply died with the server is stored; after the
	// re-login the backlog pushes it back to its sender before the SDK's
	// retry returns and marks it, so own messages are counted apart.
	k.ignoreOwn = true
	clients := make([]*client.Client, n)
	defer closeAll(clients)
	ids := make([]atomic.Int64, n)
	if err := parallel(ctx, n, 16, func(ctx context.Context, i int) error {
		opts := e.clientOptions(k.onPush(int32(i), &ids[i]))
		opts.Reconnect, opts.MinBackoff, opts.MaxBackoff = true, 100*time.Millisecond, time.Second
		opts.Device = "bench"
		opts.OnState = func(st client.State, _ error) {
			if st == client.StateConnected {
				run.Add("reconnected", 1)
			}
		}
		c, err := client.Dial(ctx, e.Addr, opts)
		if err != nil {
			return fmt.Errorf("dial: %w", err)
		}
		clients[i] = c
		if _, err := c.Login(ctx, us[i].Name, us[i].Password); err != nil {
			return fmt.Errorf("login %s: %w", us[i].Name, err)
		}
		ids[i].Store(us[i].ID)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := parallel(ctx, s.pairs, 16, func(ctx context.Context, p int) error {
		return befriend(ctx, clients[2*p], clients[2*p+1], us[2*p+1].ID)
	}); err != nil {
		return nil, err
	}
	run.Add("reconnected", -run.Get("reconnected")) // count only reconnects after the crash

	// Receivers ack what they have every 200 ms, so the backlog pushed at
	// the re-login stays under the server's 500 per conversation.
	ackCtx, ackStop := context.WithCancel(ctx)
	var ackWG sync.WaitGroup
	ackWG.Add(1)
	go func() {
		defer ackWG.Done()
		acked := make([]map[string]int64, n)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ackCtx.Done():
				return
			case <-t.C:
			}
			for i := range clients {
				if acked[i] == nil {
					acked[i] = map[string]int64{}
				}
				for conv, seq := range k.seen[i].highest() {
					if acked[i][conv] >= seq {
						continue
					}
					actx, cancel := context.WithTimeout(ackCtx, 2*time.Second)
					if clients[i].Ack(actx, conv, seq) == nil {
						acked[i][conv] = seq
					}
					cancel()
				}
			}
		}
	}()
	defer func() { ackStop(); ackWG.Wait() }()

	to := make([][]int32, n)
	for i := range to {
		to[i] = []int32{int32(i ^ 1)}
	}
	phase = "sending"
	run.Restart()
	start := time.Now()
	var killedAt, restartedAt time.Time
	crashDone := make(chan error, 1)
	go func() {
		select {
		case <-time.After(s.killAfter):
		case <-ctx.Done():
			crashDone <- ctx.Err()
			return
		}
		phase = "chatd killed"
		killedAt = time.Now()
		proc.kill()
		time.Sleep(s.down)
		phase = "restarting chatd"
		if err := proc.start(ctx); err != nil {
			crashDone <- err
			return
		}
		restartedAt = time.Now()
		phase = "sending after restart"
		crashDone <- nil
	}()
	load := loadShape{dur: s.dur, inflight: s.inflight, size: 64}
	load.drive(ctx, n, func(ctx context.Context, i int) {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		k.send(sctx, e, clients[i], protocol.MsgSendReq{ToUser: us[i^1].ID}, to[i], 64, errs)
	})
	sendTime := time.Since(start)
	if err := <-crashDone; err != nil {
		return nil, fmt.Errorf("kill and restart chatd: %w", err)
	}
	phase = "draining"
	waited := k.drain(ctx, s.drain, 15*time.Second)

	// The store: every acknowledged message exactly once in its conversation.
	phase = "checking the store"
	var missing, dupStored int64
	for p := 0; p < s.pairs; p++ {
		a, b := 2*p, 2*p+1
		conv := protocol.PrivateConv(us[a].ID, us[b].ID)
		count := map[string]int{}
		for after := int64(0); ; {
			resp, err := clients[a].Sync(ctx, conv, after, 500)
			if err != nil {
				return nil, fmt.Errorf("sync %s: %w", conv, err)
			}
			for _, m := range resp.Messages {
				count[m.ClientMsgID]++
				after = m.Seq
			}
			if !resp.More || len(resp.Messages) == 0 {
				break
			}
		}
		for _, c := range count {
			if c > 1 {
				dupStored += int64(c - 1)
			}
		}
		k.led.EachAcked(func(num uint64, to []int32) {
			if r := int(to[0]); r == a || r == b {
				if count[fmt.Sprintf("%s-%d", e.RunID, num)] == 0 {
					missing++
				}
			}
		})
	}
	stop()

	rep.DurationS = sendTime.Seconds()
	rep.AddFigure("messages sent (acked)", float64(run.Get("sent")), "msgs", "")
	rep.AddFigure("acked messages missing from the store after restart", float64(missing), "msgs", "== 0")
	rep.AddFigure("messages stored twice", float64(dupStored), "msgs", "== 0")
	rep.AddFigure("own messages pushed back to their sender after the reconnect", float64(run.Get("own_echo")), "msgs", "")
	rep.AddFigure("client reconnects after the kill", float64(run.Get("reconnected")), "reconnects", "")
	if !restartedAt.IsZero() {
		rep.AddFigure("chatd down (kill to listening again)", restartedAt.Sub(killedAt).Seconds(), "s", "")
	}
	finish(rep, run, errs, k.led)
	rep.Note("chatd was killed with SIGKILL %.1f s into sending and restarted %.1f s later on the same data dir; sends in flight were retried by the SDK with the same client_msg_id; drain took %.2f s",
		s.killAfter.Seconds(), s.down.Seconds(), waited.Seconds())
	return rep, nil
}
