package admin

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatd/chatd/service/admin/admintest"
)

func handler(t *testing.T, cfg Config) http.Handler {
	t.Helper()
	h, err := Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthz(t *testing.T) {
	h := handler(t, Config{})
	if code, body := get(t, h, "GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("GET /healthz = %d %q, want 200 ok", code, body)
	}
	if code, _ := get(t, h, "HEAD", "/healthz"); code != 200 {
		t.Fatalf("HEAD /healthz = %d, want 200", code)
	}
}

// pinger is a store stand-in whose Ping the test controls.
type pinger struct{ err atomic.Pointer[error] }

func (p *pinger) Ping(context.Context) error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

func TestReadyzNeedsEveryCheck(t *testing.T) {
	var serving atomic.Bool
	db := &pinger{}
	h := handler(t, Config{Checks: []Check{Ready("service", serving.Load), {Name: "store", Run: db.Ping}}})
	if code, body := get(t, h, "GET", "/readyz"); code != http.StatusServiceUnavailable || body != "not ready\nservice: not ready\n" {
		t.Fatalf("/readyz before start = %d %q, want 503 naming the service", code, body)
	}
	serving.Store(true)
	if code, body := get(t, h, "GET", "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz when ready = %d %q, want 200", code, body)
	}
	down := errors.New("dial tcp 127.0.0.1:3306: connection refused")
	db.err.Store(&down)
	if code, body := get(t, h, "GET", "/readyz"); code != http.StatusServiceUnavailable || body != "not ready\nstore: "+down.Error()+"\n" {
		t.Fatalf("/readyz with the database down = %d %q, want 503 naming the store", code, body)
	}
	db.err.Store(nil)
	serving.Store(false) // shutting down
	if code, _ := get(t, h, "GET", "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while shutting down = %d, want 503", code)
	}
}

// A store that does not answer makes /readyz answer not-ready once the
// bound has passed, whether its ping honours the context or ignores it.
func TestReadyzBoundsAHangingCheck(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	honours := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	ignores := func(context.Context) error { <-release; return nil }
	h := handler(t, Config{
		Checks:       []Check{{Name: "store", Run: honours}, {Name: "bus", Run: ignores}},
		CheckTimeout: 20 * time.Millisecond,
	})
	code, body := get(t, h, "GET", "/readyz")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with hanging checks = %d, want 503", code)
	}
	want := "not ready\nstore: context deadline exceeded\nbus: no answer within 20ms\n"
	if body != want && body != "not ready\nstore: no answer within 20ms\nbus: no answer within 20ms\n" {
		t.Fatalf("/readyz body %q, want %q", body, want)
	}
}

func TestMetricsParseWithHelpTypeAndBuckets(t *testing.T) {
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "chatd_admin_test_seconds", Help: "A test histogram.", Buckets: []float64{0.001, 0.01, 0.1}})
	lat.Observe(0.005)
	s, err := Listen(Config{Addr: "127.0.0.1:0", Collectors: []prometheus.Collector{lat, BuildInfo("1.2.3", "abc123")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mfs := admintest.Scrape(t, "http://"+s.Addr().String()+"/metrics")

	h := mfs["chatd_admin_test_seconds"].GetMetric()[0].GetHistogram()
	var les []float64
	for _, b := range h.GetBucket() {
		les = append(les, b.GetUpperBound())
	}
	if !slices.Equal(les, []float64{0.001, 0.01, 0.1, math.Inf(1)}) || h.GetBucket()[1].GetCumulativeCount() != 1 || h.GetSampleCount() != 1 {
		t.Errorf("histogram buckets %v (%v), want le 0.001, 0.01, 0.1, +Inf with one sample in 0.01", les, h)
	}
	bi := mfs["chatd_build_info"].GetMetric()
	if len(bi) != 1 || bi[0].GetGauge().GetValue() != 1 ||
		admintest.Label(bi[0], "version") != "1.2.3" || admintest.Label(bi[0], "commit") != "abc123" ||
		admintest.Label(bi[0], "go") != runtime.Version() {
		t.Errorf("chatd_build_info = %v", bi)
	}
	want := []string{"go_goroutines", "go_memstats_heap_inuse_bytes"}
	if runtime.GOOS == "linux" {
		want = append(want, "process_cpu_seconds_total", "process_resident_memory_bytes")
	}
	for _, name := range want {
		if mfs[name] == nil {
			t.Errorf("runtime or process metric %s missing", name)
		}
	}
}

func TestTwoCollectorsOfOneSeriesAreRefused(t *testing.T) {
	g := func() prometheus.Collector {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "chatd_x", Help: "x"})
	}
	if _, err := Handler(Config{Collectors: []prometheus.Collector{g(), g()}}); err == nil {
		t.Fatal("Handler accepted two collectors of chatd_x")
	}
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	h := handler(t, Config{})
	if code, _ := get(t, h, "POST", "/metrics"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", code)
	}
	if code, _ := get(t, h, "GET", "/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

func TestPprof(t *testing.T) {
	h := handler(t, Config{})
	code, body := get(t, h, "GET", "/debug/pprof/")
	if code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/ = %d, body lacks the profile list", code)
	}
	code, body = get(t, h, "GET", "/debug/pprof/goroutine?debug=1")
	if code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("GET /debug/pprof/goroutine = %d %.80q", code, body)
	}
	if code, _ := get(t, h, "GET", "/debug/pprof/cmdline"); code != 200 {
		t.Fatalf("GET /debug/pprof/cmdline = %d", code)
	}
}

func TestListenServesAndShutsDown(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr().String()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ready\n" {
		t.Fatalf("GET /readyz over TCP = %d %q", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("listener still answers after Shutdown")
	}
}

func TestListenErrors(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Listen(Config{Addr: s.Addr().String()}); err == nil {
		s2.Close()
		t.Fatal("second Listen on a bound port succeeded")
	} else if !strings.Contains(err.Error(), "admin: listen") {
		t.Fatalf("error %q lacks context", err)
	}
}

func BenchmarkScrape(b *testing.B) {
	h, err := Handler(Config{Collectors: []prometheus.Collector{BuildInfo("1", "a")}})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/metrics", nil)
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
