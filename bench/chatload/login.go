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
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// loginScenario measures password logins (bounded by argon2id by design)
// and token re-logins (the reconnect storm) separately. Every token login
// presents its own device's token, as a fleet of devices reconnecting after
// a restart would: the scenario first logs each device in once with the
// password to get that token (argon2id per device: against a chatd at the
// default cost, keep --token-logins small or start chatd with a cheaper
// --argon2-memory; token logins never hash a password).
type loginScenario struct {
	fs        *flag.FlagSet
	users     int
	conc      int
	tokens    int
	tokenConc int
	friends   int
}

// Summary implements Scenario.
func (s *loginScenario) Summary() string {
	return "register N users, then concurrent password logins and token re-logins (one token per device), measured apart"
}

// Flags implements Scenario.
func (s *loginScenario) Flags(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.users, "users", 50, "accounts to register and log in with a password; the token logins' devices are spread over them")
	fs.IntVar(&s.conc, "concurrency", 16, "password logins in flight")
	fs.IntVar(&s.tokens, "token-logins", 5000, "token logins, each by its own device with that device's token, on a new connection kept open to the end")
	fs.IntVar(&s.tokenConc, "token-concurrency", 200, "token logins in flight")
	fs.IntVar(&s.friends, "friends", 0, "friends each user asks (the next ones in a ring), with one message per pair, so login replies carry friends, conversations and presence")
}

// deviceToken is one device's session token, from its password login.
type deviceToken struct {
	user   *user
	device string
	token  string
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
	if s.users < 1 || s.friends < 0 || s.friends >= s.users {
		return nil, fmt.Errorf("--users %d and --friends %d: want at least one user and fewer friends than users", s.users, s.friends)
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
	clients := make([]*client.Client, len(us))
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
		clients[i] = c
		return nil
	})
	pwTime := time.Since(start)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	if run.Get("password_logins") < int64(len(us)) {
		return nil, fmt.Errorf("%d of %d password logins failed", int64(len(us))-run.Get("password_logins"), len(us))
	}

	phase = "friends"
	start = time.Now()
	if err := s.makeFriends(ctx, us, clients); err != nil {
		return nil, err
	}
	friendTime := time.Since(start)
	for i, c := range clients {
		c.Close()
		clients[i] = nil
	}

	phase = "device tokens"
	start = time.Now()
	devs := make([]deviceToken, s.tokens)
	if err := parallel(ctx, s.tokens, s.conc, func(ctx context.Context, i int) error {
		u := us[i%len(us)]
		dev := fmt.Sprintf("t%d", i)
		opts := e.clientOptions(func(client.Push) {})
		opts.Device = dev
		c, err := client.Dial(ctx, nthAddr(e.Addr, i), opts)
		if err != nil {
			return fmt.Errorf("dial %s: %w", e.Addr, err)
		}
		defer c.Close()
		if _, err := c.Login(ctx, u.Name, u.Password); err != nil {
			return fmt.Errorf("password login of %s device %s: %w", u.Name, dev, err)
		}
		devs[i] = deviceToken{user: u, device: dev, token: c.Token()}
		return nil
	}); err != nil {
		return nil, err
	}
	mintTime := time.Since(start)

	phase = "token logins"
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
		dt := devs[i]
		t0 := time.Now()
		c, err := rawLogin(ctx, d, nthAddr(e.Addr, i), dt.user.Name, dt.token, dt.device, 1024)
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
	rep.Note("password logins are bounded by argon2id by design (%d in %.1f s, at the server's --argon2-memory and --argon2-time)",
		run.Get("password_logins"), pwTime.Seconds())
	rep.Note("token logins: %d devices over %d users, each device with its own token (got by one password login per device beforehand, %.1f s, not timed); %d friends per user asked in a ring, one message per pair (%.1f s)",
		s.tokens, len(us), mintTime.Seconds(), s.friends, friendTime.Seconds())
	return rep, nil
}

// makeFriends has each user ask the next s.friends users in a ring and
// send each new friend one message, so that every later login carries
// friends and conversations and announces presence.
func (s *loginScenario) makeFriends(ctx context.Context, us []*user, clients []*client.Client) error {
	if s.friends == 0 {
		return nil
	}
	// One goroutine per user asks its successors; a pair is made once
	// (i asks i+k), so the whole ring has users x friends pairs.
	return parallel(ctx, len(us), s.conc, func(ctx context.Context, i int) error {
		for k := 1; k <= s.friends; k++ {
			j := (i + k) % len(us)
			if err := befriend(ctx, clients[i], clients[j], us[j].ID); err != nil {
				return fmt.Errorf("befriend %s and %s: %w", us[i].Name, us[j].Name, err)
			}
			if _, err := clients[i].SendMsg(ctx, protocol.MsgSendReq{ToUser: us[j].ID, Body: "hello"}); err != nil {
				return fmt.Errorf("message %s to %s: %w", us[i].Name, us[j].Name, err)
			}
		}
		return nil
	})
}
