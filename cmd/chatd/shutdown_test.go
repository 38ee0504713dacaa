package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/service/admin"
)

// steps records the order shutdown calls things in.
type steps struct {
	mu  sync.Mutex
	got []string
}

func (s *steps) add(name string) {
	s.mu.Lock()
	s.got = append(s.got, name)
	s.mu.Unlock()
}

func (s *steps) list() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.got, ",")
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// fakeService stands in for *service.Server: not ready once Shutdown
// begins, and Shutdown runs probe (a look at the admin listener while the
// service drains).
type fakeService struct {
	steps    *steps
	draining atomic.Bool
	probe    func()
	err      error
}

func (f *fakeService) Ready() bool { return !f.draining.Load() }
func (f *fakeService) Shutdown(ctx context.Context) error {
	f.draining.Store(true)
	if _, ok := ctx.Deadline(); !ok {
		f.steps.add("service-without-deadline")
	}
	f.probe()
	f.steps.add("service")
	return f.err
}

// shutdownFunc adapts a function to the Shutdown interface.
type shutdownFunc func(context.Context) error

func (f shutdownFunc) Shutdown(ctx context.Context) error { return f(ctx) }

// recordingAdmin wraps the real admin server to record its shutdown.
type recordingAdmin struct {
	*admin.Server
	steps *steps
}

func (r recordingAdmin) Shutdown(ctx context.Context) error {
	r.steps.add("admin")
	return r.Server.Shutdown(ctx)
}

func TestShutdownOrderKeepsAdminUpWhileServiceAndFilesDrain(t *testing.T) {
	st := &steps{}
	svc := &fakeService{steps: st}
	adm, err := admin.Listen(admin.Config{Addr: "127.0.0.1:0", Checks: []admin.Check{admin.Ready("service", svc.Ready)}})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + adm.Addr().String() + "/readyz"
	if code := statusOf(t, url); code != 200 {
		t.Fatalf("/readyz before shutdown = %d", code)
	}
	var during int
	svc.probe = func() { during = statusOf(t, url) }

	err = shutdown(5*time.Second, zerolog.Nop(), running{
		Discovery: closeFunc(func() error { st.add("discovery"); return nil }),
		Service:   svc,
		Files: shutdownFunc(func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				st.add("files-without-deadline")
			}
			st.add("files")
			return nil
		}),
		Store: closeFunc(func() error { st.add("store"); return nil }),
		Admin: recordingAdmin{adm, st},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.list(); got != "discovery,service,files,store,admin" {
		t.Fatalf("shutdown order %s", got)
	}
	if during != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while the service drained = %d, want 503", during)
	}
	http.DefaultClient.CloseIdleConnections()
	if _, err := http.Get(url); err == nil {
		t.Fatal("admin listener still up after shutdown")
	}
}

func TestShutdownReportsEveryFailureAndStillClosesTheStore(t *testing.T) {
	st := &steps{}
	svc := &fakeService{steps: st, probe: func() {}, err: context.DeadlineExceeded}
	err := shutdown(time.Second, zerolog.Nop(), running{
		Service: svc,
		Store:   closeFunc(func() error { st.add("store"); return errors.New("disk gone") }),
	})
	if got := st.list(); got != "service,store" {
		t.Fatalf("steps %s: the store must close even after a failed service shutdown", got)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("error %v should carry both failures", err)
	}
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAwaitShutdownGivesUpOnAWedgedStep(t *testing.T) {
	never := make(chan error) // a shutdown that never returns
	err := awaitShutdown(never, 10*time.Millisecond, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("wedged shutdown: %v", err)
	}
	done := make(chan error, 1)
	done <- errors.New("store: close failed")
	if err := awaitShutdown(done, time.Minute, zerolog.Nop()); err == nil || err.Error() != "store: close failed" {
		t.Fatalf("finished shutdown: %v, want its own error", err)
	}
}
