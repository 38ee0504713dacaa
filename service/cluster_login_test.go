package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/chatd/chatd/protocol"
)

// failLogin makes one login with a wrong password on n.
func failLogin(t *testing.T, n *clusterEnv, name string) {
	t.Helper()
	c := n.dial()
	c.must(protocol.CodeBadCredentials, protocol.OpLogin, &protocol.LoginReq{Username: name, Password: "wrong-password"}, nil)
	c.nc.Close()
}

// loginCode logs name in on n with the right password and returns the code.
func loginCode(t *testing.T, n *clusterEnv, name string) protocol.Code {
	t.Helper()
	c := n.dial()
	defer c.nc.Close()
	_, ch := c.send(protocol.OpLogin, &protocol.LoginReq{Username: name, Password: testPassword})
	return c.decode(c.wait(protocol.OpLogin, ch), nil)
}

// Failed logins count across nodes, per username and per address: failures
// spread over two nodes lock the username (then the address) out on both,
// also with the right password.
func TestClusterLoginFailures(t *testing.T) {
	ns := newClusterWith(t, clustertest.URL(t), func(c *Config) { c.LoginFailuresPerUser, c.LoginFailuresPerIP = 5, 8 }, "a", "b")
	a, b := ns[0], ns[1]
	eventually(t, "a and b see each other", func() bool { return len(a.node.LiveNodes()) == 2 && len(b.node.LiveNodes()) == 2 })
	names := make([]string, 4)
	for i := range names {
		names[i] = uniqueName(fmt.Sprint("lf", i))
		a.register(names[i])
	}
	blocked := func(f func(*Server) (time.Duration, bool)) func() bool {
		return func() bool {
			_, ba := f(a.srv)
			_, bb := f(b.srv)
			return ba && bb
		}
	}

	// Per username: 3 failures on a and 2 on b are the 5 that lock it out.
	u := names[0]
	for range 3 {
		failLogin(t, a, u)
	}
	for range 2 {
		failLogin(t, b, u)
	}
	eventually(t, "both nodes count 5 failures of "+u, blocked(func(s *Server) (time.Duration, bool) { return s.userFails.Blocked(u, s.now()) }))
	for _, n := range ns {
		if code := loginCode(t, n, u); code != protocol.CodeRateLimited {
			t.Fatalf("login of %s on %s with the right password: %s, want RATE_LIMITED", u, n.node.ID(), code)
		}
	}
	// The address has 5 of its 8: another user still logs in.
	if code := loginCode(t, b, names[1]); code != protocol.CodeOK {
		t.Fatalf("login of another user: %s", code)
	}

	// Per address: 3 more failures, of other users, on both nodes.
	failLogin(t, a, names[2])
	failLogin(t, b, names[2])
	failLogin(t, a, names[3])
	eventually(t, "both nodes count 8 failures from the address", blocked(func(s *Server) (time.Duration, bool) { return s.ipFails.Blocked("127.0.0.1", s.now()) }))
	for _, n := range ns {
		if code := loginCode(t, n, names[1]); code != protocol.CodeRateLimited {
			t.Fatalf("login from the blocked address on %s: %s, want RATE_LIMITED", n.node.ID(), code)
		}
	}
}
