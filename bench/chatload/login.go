package chatload

import (
	"context"
	"flag"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
)

// loginScenario measures password logins (bounded by argon2id by design)
// and token re-logins (the reconnect storm) separately.
type loginScenario struct {
	fs        *flag.FlagSet
	users     int
	conc      int
	tokens    int
	tokenConc int
}

// Summary implements Scenario.
func (s *loginScenario) Summary() string {
	return "register N users, then concurrent password logins and token re-logins, measured apart"
}

// Flags implements Scenario.
func (s *loginScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.users, "users", 50, "accounts to register and log in with a password")
	fs.IntVar(&s.conc, "concurrency", 16, "password logins in flight")
	fs.IntVar(&s.tokens, "token-logins", 5000, "token logins (each on a new connection, kept open to the end)")
	fs.IntVar(&s.tokenConc, "token-concurrency", 200, "token logins in flight")
}

// Run implements Scenario.
func (s *loginScenario) Run(ctx context.Context, e *Env) (*report.Report, error) {
	rep := newReport("login", e, s.fs)
	limit := maxConnsPerProcess
	if e.InProcess {
		limit = 9000
	}
	if s.tokens > limit {
		return nil, fmt.Errorf("--token-logins %d over %d connections for one process", s.tokens, limit)
	}
	run := stats.NewRun([]string{"registered", "password_logins", "token_logins", "failed"}, []string{"register", "password", "token"})
	errs := &errCounts{}
	phase := "register"
	stop := e.startProgress(run, &phase, errs, nil)
	defer stop()

	us := e.newUsers("l", s.users)
	start := time.Now()
	// Registration through the SDK, timed per call.
	if err := parallel(ctx, len(us), s.conc, func(ctx context.Context, i int) error {
		c, err := clientForRegister(ctx, e)
		if err != nil {
			return err
		}
		defer c.Close()
		t0 := time.Now()
		id, err := c.Register(ctx, us[i].Name, us[i].Password, "")
		if err != nil {
			return fmt.Errorf("register %s: %w", us[i].Name, err)
		}
		run.Observe("register", time.Since(t0))
		run.Add("registered", 1)
		us[i].ID = id
		return nil
	}); err != nil {
		return nil, err
	}
	regTime := time.Since(start)

	phase = "password logins"
	start = time.Now()
	_ = parallel(ctx, len(us), s.conc, func(ctx context.Context, i int) error {
		t0 := time.Now()
		c, _, err := e.connect(ctx, us[i], "pw", nil)
		if err != nil {
			run.Add("failed", 1)
			errs.add(err)
			return nil
		}
		run.Observe("password", time.Since(t0))
		run.Add("password_logins", 1)
		c.Close()
		return nil
	})
	pwTime := time.Since(start)

	phase = "token logins"
	var valid []*user
	for _, u := range us {
		if u.Token != "" {
			valid = append(valid, u)
		}
	}
	if len(valid) == 0 {
		return nil, fmt.Errorf("no password login succeeded")
	}
	d := e.dialer()
	var mu sync.Mutex
	conns := make([]net.Conn, 0, s.tokens)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	before, _ := e.ReadServer(ctx)
	profDone := e.StartCPUProfile(ctx, e.ProfileSeconds)
	start = time.Now()
	_ = parallel(ctx, s.tokens, s.tokenConc, func(ctx context.Context, i int) error {
		u := valid[i%len(valid)]
		t0 := time.Now()
		c, err := rawLogin(ctx, d, nthAddr(e.Addr, i), u.Name, u.Token, fmt.Sprintf("t%d", i), 1024)
		if err != nil {
			run.Add("failed", 1)
			errs.add(err)
			return nil
		}
		run.Observe("token", time.Since(t0))
		run.Add("token_logins", 1)
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return nil
	})
	tokTime := time.Since(start)
	after, _ := e.ReadServer(ctx)
	stop()

	rep.DurationS = regTime.Seconds() + pwTime.Seconds() + tokTime.Seconds()
	rep.AddFigure("registrations/s", float64(run.Get("registered"))/regTime.Seconds(), "reg/s", "")
	rep.AddFigure("password logins/s", float64(run.Get("password_logins"))/pwTime.Seconds(), "login/s", "")
	rep.AddFigure("token logins/s (connect + login)", float64(run.Get("token_logins"))/tokTime.Seconds(), "login/s", ">= 10000")
	rep.AddFigure("failed logins", float64(run.Get("failed")), "logins", "== 0")
	addServerCPU(rep, before, after, float64(run.Get("token_logins")), "token login")
	finish(rep, run, errs, nil)
	if note := profDone(); note != "" {
		rep.Note("%s", note)
	}
	rep.Note("password logins are bounded by argon2id by design (%d in %.1f s); token logins reuse the %d users' tokens, each on its own connection and device",
		run.Get("password_logins"), pwTime.Seconds(), len(valid))
	return rep, nil
}
