package chatload

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP process_resident_memory_bytes x
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345e+07
process_cpu_seconds_total 3.5
chatd_sessions 42
chatd_requests_total{op="ping"} 9
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["process_resident_memory_bytes"] != 12345000 || m["chatd_sessions"] != 42 || m["process_cpu_seconds_total"] != 3.5 {
		t.Fatalf("parsed %v", m)
	}
	if _, ok := m[`chatd_requests_total{op="ping"}`]; ok {
		t.Fatal("labelled sample kept")
	}
}

func TestReadServerFromAdminAndProc(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("process_resident_memory_bytes 1000\nchatd_sessions 3\nchatd_reactor_connections 4\n"))
	}))
	defer srv.Close()
	e := &Env{AdminURL: srv.URL}
	m, err := e.ReadServer(context.Background())
	if err != nil || m.RSS != 1000 || m.Sessions != 3 || m.Conns != 4 {
		t.Fatalf("admin reading = %+v, %v", m, err)
	}
	e = &Env{ServerPID: os.Getpid()}
	m, err = e.ReadServer(context.Background())
	if err != nil || m.RSS <= 0 || m.Sessions != -1 {
		t.Fatalf("proc reading = %+v, %v", m, err)
	}
	if _, err := (&Env{}).ReadServer(context.Background()); err == nil {
		t.Fatal("reading without a source succeeded")
	}
}

// TestSettle: the load waits while chatd's CPU counter climbs by a core per
// second, starts once it stops climbing, and gives up after settleMax.
func TestSettle(t *testing.T) {
	defer func(w, m time.Duration) { settleWindow, settleMax = w, m }(settleWindow, settleMax)
	settleWindow, settleMax = 20*time.Millisecond, 2*time.Second
	var mu sync.Mutex
	busyUntil := time.Now().Add(300 * time.Millisecond)
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		cpu := min(time.Since(start), busyUntil.Sub(start)).Seconds() + 1 // one core while busy
		fmt.Fprintf(w, "process_resident_memory_bytes 1000\nprocess_cpu_seconds_total %g\n", cpu)
	}))
	defer srv.Close()
	e := &Env{AdminURL: srv.URL}
	waited, quiet := e.settle(context.Background())
	if !quiet || waited < 250*time.Millisecond || waited > settleMax {
		t.Fatalf("settle waited %v (quiet %v) for a server busy 300 ms", waited, quiet)
	}
	mu.Lock()
	busyUntil = time.Now().Add(time.Hour)
	mu.Unlock()
	if waited, quiet := e.settle(context.Background()); quiet || waited < settleMax {
		t.Fatalf("settle waited %v (quiet %v) for a server that stays busy", waited, quiet)
	}
	if waited, quiet := (&Env{}).settle(context.Background()); !quiet || waited != 0 {
		t.Fatalf("settle without a reading waited %v (quiet %v)", waited, quiet)
	}
}
