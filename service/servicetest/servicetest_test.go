package servicetest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/service"
	"github.com/chatd/chatd/service/servicetest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a client to addr, closed when the test ends.
func dial(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.Dial(testCtx(t), addr, client.Options{OnPush: func(client.Push) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// register creates name on the server at addr and logs it in once.
func register(t *testing.T, addr, name string) {
	t.Helper()
	if _, err := dial(t, addr).Register(testCtx(t), name, "password-"+name, ""); err != nil {
		t.Fatalf("register: %v", err)
	}
	login(t, addr, name)
}

func login(t *testing.T, addr, name string) {
	t.Helper()
	if _, err := dial(t, addr).Login(testCtx(t), name, "password-"+name); err != nil {
		t.Fatalf("login: %v", err)
	}
}

func TestStartServesClientsAndFiles(t *testing.T) {
	s := servicetest.Start(t, servicetest.WithFiles())
	if s.ChatAddr != s.Server.ChatAddr().String() {
		t.Fatalf("ChatAddr %q, server bound %v", s.ChatAddr, s.Server.ChatAddr())
	}
	register(t, s.ChatAddr, "alice")
	if s.Files == nil || s.FileAddr == "" {
		t.Fatalf("files not enabled: %+v / %q", s.Files, s.FileAddr)
	}
	conn, err := net.Dial("tcp", s.FileAddr)
	if err != nil {
		t.Fatalf("file port: %v", err)
	}
	_ = conn.Close()
}

func TestStartWithoutFiles(t *testing.T) {
	s := servicetest.Start(t)
	if s.Files != nil || s.FileAddr != "" {
		t.Fatalf("files enabled without WithFiles: %q", s.FileAddr)
	}
	register(t, s.ChatAddr, "bob")
}

// TestRestartOnSameStoreAndAddress stops a server early and starts
// another on its address and store: the account is still there, and the
// first server's cleanup does not shut anything down twice.
func TestRestartOnSameStoreAndAddress(t *testing.T) {
	st := servicetest.OpenStore(t)
	first := servicetest.Start(t, servicetest.WithStore(st))
	register(t, first.ChatAddr, "carol")
	first.Stop()
	first.Stop()
	if _, err := client.Dial(testCtx(t), first.ChatAddr, client.Options{}); err == nil {
		t.Fatal("dialled a stopped server")
	}
	second := servicetest.Start(t, servicetest.WithStore(st), servicetest.WithChatAddr(first.ChatAddr))
	if second.ChatAddr != first.ChatAddr {
		t.Fatalf("restarted on %s, want %s", second.ChatAddr, first.ChatAddr)
	}
	login(t, second.ChatAddr, "carol")
}

func TestWithConfigSeesTestDefaults(t *testing.T) {
	var got service.Config
	s := servicetest.Start(t, servicetest.WithConfig(func(c *service.Config) {
		got = *c
	}))
	if got.Store != s.Store || got.Loops != 1 || got.Workers != 16 || got.Argon2 != servicetest.CheapArgon2 {
		t.Fatalf("WithConfig saw %+v", got)
	}
}
