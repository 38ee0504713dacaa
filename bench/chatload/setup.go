package chatload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

// user is one account a scenario created.
type user struct {
	Idx      int
	Name     string
	Password string
	ID       int64
	Token    string // session token from the first password login; never logged
}

// newUsers names n accounts unique to this run and records them in
// e.Accounts (a failure to record is logged: the run goes on).
func (e *Env) newUsers(prefix string, n int) []*user {
	us := make([]*user, n)
	for i := range us {
		us[i] = &user{Idx: i, Name: fmt.Sprintf("%s_%s%d", e.RunID, prefix, i), Password: runPassword(e.RunID)}
	}
	if err := e.Accounts.record(e.RunID, e.Addr, us); err != nil {
		e.Log.Warn().Err(err).Msg("accounts not recorded: chatbench cleanup will not find them")
	}
	return us
}

// registerAll registers the users over conc connections (the server hashes
// each password, at most GOMAXPROCS at a time, so more is pointless).
func (e *Env) registerAll(ctx context.Context, us []*user, conc int) error {
	conc = max(1, min(conc, len(us)))
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := client.Dial(ctx, e.Addr, e.clientOptions(nil))
			if err != nil {
				errs <- fmt.Errorf("dial for register: %w", err)
				return
			}
			defer c.Close()
			drainPushes(c)
			for i := w; i < len(us); i += conc {
				id, err := c.Register(ctx, us[i].Name, us[i].Password, "")
				if err != nil {
					errs <- fmt.Errorf("register %s: %w", us[i].Name, err)
					return
				}
				us[i].ID = id
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// drainPushes empties a channel-mode client's pushes so it never stalls.
func drainPushes(c *client.Client) {
	if ch := c.Pushes(); ch != nil {
		go func() {
			for range ch {
			}
		}()
	}
}

// connect dials and logs u in: with its token when it has one, else with
// the password (keeping the token for later logins).
func (e *Env) connect(ctx context.Context, u *user, device string, onPush func(client.Push)) (*client.Client, *protocol.LoginResp, error) {
	if onPush == nil {
		onPush = func(client.Push) {}
	}
	opts := e.clientOptions(onPush)
	opts.Device = device
	c, err := client.Dial(ctx, e.Addr, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", e.Addr, err)
	}
	var resp *protocol.LoginResp
	if u.Token != "" {
		resp, err = c.LoginToken(ctx, u.Name, u.Token)
	} else {
		resp, err = c.Login(ctx, u.Name, u.Password)
		if err == nil {
			u.Token = c.Token()
		}
	}
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("login %s: %w", u.Name, err)
	}
	return c, resp, nil
}

// parallel runs f(i) for i in [0, n) on conc goroutines and returns the
// first error.
func parallel(ctx context.Context, n, conc int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conc = max(1, min(conc, n))
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if stop || i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// befriend makes a and b friends (a asks, b accepts).
func befriend(ctx context.Context, a, b *client.Client, bID int64) error {
	rid, err := a.FriendRequest(ctx, bID, "")
	if err != nil {
		return fmt.Errorf("friend request: %w", err)
	}
	if err := b.FriendRespond(ctx, rid, true); err != nil {
		return fmt.Errorf("friend respond: %w", err)
	}
	return nil
}

// errorClass names an error for the report's error counts.
func errorClass(err error) string {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		return strings.ToLower(string(pe.Code))
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, client.ErrConnLost):
		return "conn_lost"
	case errors.Is(err, client.ErrClosed):
		return "closed"
	case errors.Is(err, client.ErrKicked):
		return "kicked"
	default:
		s := err.Error()
		for _, k := range []string{"connection refused", "connection reset", "too many open files", "cannot assign requested address", "i/o timeout", "broken pipe", "EOF"} {
			if strings.Contains(s, k) {
				return strings.ReplaceAll(k, " ", "_")
			}
		}
		return "other"
	}
}

// errCounts counts errors by class.
type errCounts struct {
	mu sync.Mutex
	m  map[string]int64
	// example keeps the first error of each class for the notes.
	example map[string]string
}

func (c *errCounts) add(err error) {
	if err == nil {
		return
	}
	k := errorClass(err)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int64{}
		c.example = map[string]string{}
	}
	c.m[k]++
	if _, ok := c.example[k]; !ok {
		c.example[k] = err.Error()
	}
	c.mu.Unlock()
}

func (c *errCounts) snapshot() (map[string]int64, map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.m))
	ex := make(map[string]string, len(c.example))
	for k, v := range c.m {
		m[k] = v
	}
	for k, v := range c.example {
		ex[k] = v
	}
	return m, ex
}

func (c *errCounts) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.m {
		n += v
	}
	return n
}

// retryAfter returns how long a RATE_LIMITED error asks to wait.
func retryAfter(err error) (time.Duration, bool) {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeRateLimited {
		return time.Duration(max(pe.RetryAfterMs, 1)) * time.Millisecond, true
	}
	return 0, false
}

// clientForRegister dials a connection for registrations.
func clientForRegister(ctx context.Context, e *Env) (*client.Client, error) {
	c, err := client.Dial(ctx, e.Addr, e.clientOptions(func(client.Push) {}))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", e.Addr, err)
	}
	return c, nil
}
