package admin

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/chatd/chatd/reactor"
)

// fakeSource is a Source whose answers the test sets.
type fakeSource struct {
	ready    atomic.Bool
	sessions atomic.Int64
	stats    reactor.Stats
}

func (f *fakeSource) Ready() bool                 { return f.ready.Load() }
func (f *fakeSource) ReactorStats() reactor.Stats { return f.stats }
func (f *fakeSource) Sessions() int               { return int(f.sessions.Load()) }

func get(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthz(t *testing.T) {
	h := Handler(&fakeSource{})
	if code, body := get(t, h, "GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("GET /healthz = %d %q, want 200 ok", code, body)
	}
	if code, _ := get(t, h, "HEAD", "/healthz"); code != 200 {
		t.Fatalf("HEAD /healthz = %d, want 200", code)
	}
}

func TestReadyzFollowsServer(t *testing.T) {
	src := &fakeSource{}
	h := Handler(src)
	if code, _ := get(t, h, "GET", "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before ready = %d, want 503", code)
	}
	src.ready.Store(true)
	if code, _ := get(t, h, "GET", "/readyz"); code != 200 {
		t.Fatalf("/readyz when ready = %d, want 200", code)
	}
	src.ready.Store(false) // shutting down
	if code, _ := get(t, h, "GET", "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while shutting down = %d, want 503", code)
	}
}

// sampleLine is one Prometheus text sample: name, optional labels, value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)

// parseExposition checks the text format line by line and returns the
// samples by series (name plus labels); a series seen twice fails the test.
func parseExposition(t *testing.T, text string) map[string]string {
	t.Helper()
	series := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a Prometheus sample line: %q", line)
		}
		key := m[1] + m[2]
		if _, dup := series[key]; dup {
			t.Fatalf("series %s exposed twice", key)
		}
		series[key] = m[3]
	}
	return series
}

func TestMetricsExposeReactorSessionsProcessAndRegistered(t *testing.T) {
	src := &fakeSource{stats: reactor.Stats{
		Conns: 3, Accepted: 10, Closed: 7, BytesIn: 1000, BytesOut: 2000,
		Writev: 40, EAGAIN: 2, QueuedBytes: 512, DroppedLossy: 5, Wakeups: 9,
	}}
	src.sessions.Store(4)
	c := metrics.NewCounter(`chatd_admin_test_total{op="ping"}`)
	t.Cleanup(func() { metrics.GetDefaultSet().UnregisterMetric(`chatd_admin_test_total{op="ping"}`) })
	c.Add(6)

	rec := httptest.NewRecorder()
	Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type = %q", ct)
	}
	got := parseExposition(t, rec.Body.String())
	for name, want := range map[string]string{
		"chatd_reactor_connections":         "3",
		"chatd_reactor_queued_bytes":        "512",
		"chatd_reactor_accepted_total":      "10",
		"chatd_reactor_closed_total":        "7",
		"chatd_reactor_bytes_in_total":      "1000",
		"chatd_reactor_bytes_out_total":     "2000",
		"chatd_reactor_writev_total":        "40",
		"chatd_reactor_eagain_total":        "2",
		"chatd_reactor_dropped_lossy_total": "5",
		"chatd_reactor_wakeups_total":       "9",
		"chatd_sessions":                    "4",
		`chatd_admin_test_total{op="ping"}`: "6",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		if _, ok := got[name]; !ok {
			t.Errorf("process metric %s missing", name)
		}
	}
}

func TestSessionsGaugeRegisteredByServiceIsNotDuplicated(t *testing.T) {
	src := &fakeSource{}
	src.sessions.Store(99) // must not be used: the service's own gauge wins
	metrics.NewGauge(sessionsMetric, func() float64 { return 11 })
	t.Cleanup(func() { metrics.GetDefaultSet().UnregisterMetric(sessionsMetric) })

	var b strings.Builder
	WriteMetrics(&b, src)
	got := parseExposition(t, b.String()) // fails on a duplicate series
	if got[sessionsMetric] != "11" {
		t.Fatalf("%s = %q, want the service's 11", sessionsMetric, got[sessionsMetric])
	}
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	h := Handler(&fakeSource{})
	if code, _ := get(t, h, "POST", "/metrics"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d, want 405", code)
	}
	if code, _ := get(t, h, "GET", "/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}
}

func TestPprof(t *testing.T) {
	h := Handler(&fakeSource{})
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
	src := &fakeSource{}
	src.ready.Store(true)
	s, err := Listen("127.0.0.1:0", src, zerolog.Nop())
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
	s, err := Listen("127.0.0.1:0", &fakeSource{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Listen(s.Addr().String(), &fakeSource{}, zerolog.Nop()); err == nil {
		s2.Close()
		t.Fatal("second Listen on a bound port succeeded")
	} else if !strings.Contains(err.Error(), "admin: listen") {
		t.Fatalf("error %q lacks context", err)
	}
}

func BenchmarkWriteMetrics(b *testing.B) {
	src := &fakeSource{}
	for b.Loop() {
		WriteMetrics(io.Discard, src)
	}
}
