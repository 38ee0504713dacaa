package chatload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/bench/internal/procstat"
	"github.com/chatd/chatd/client"
)

// Env is what a scenario runs against and where it reports.
type Env struct {
	// Addr is the chat port ("host:port"), or the chat ports of several
	// nodes of one cluster, comma-separated: SDK clients then spread over
	// them and fail over (see failover), raw connections spread by index.
	Addr string
	// AdminURL is chatd's admin base URL ("http://127.0.0.1:9090"), empty
	// when unknown; it is where server memory and CPU are read from.
	AdminURL string
	// ServerPID is the chatd process id when known (in-process: our own),
	// read through /proc when there is no admin URL.
	ServerPID int
	// InProcess is true when chatd runs inside this process, so memory
	// readings include chatbench's own clients.
	InProcess bool
	// Progress receives the live progress line; Terminal makes it one
	// line rewritten in place.
	Progress io.Writer
	Terminal bool
	// Log is for setup events; it never receives passwords or tokens.
	Log zerolog.Logger
	// RunID makes usernames and client_msg_ids unique per run.
	RunID string
	// Workers is --workers: child processes for large connection counts.
	Workers int
	// Self is the executable to start workers from (os.Args[0]).
	Self string
	// SourceIP, when set, is the local address client connections bind to.
	SourceIP string
	// Dialer, when set, is the transport every connection goes over (raw
	// when nil); CA is the certificate file it trusts, for workers.
	Dialer *Dialer
	CA     string
	// CPUProfile, when set, is where scenarios that support it save a CPU
	// profile of chatd taken during their measured phase (needs AdminURL).
	CPUProfile string
	// ProfileSeconds is that profile's length.
	ProfileSeconds int
	// Accounts, when set, records every account this run names, for a
	// chatd that outlives the run.
	Accounts *AccountLog
}

// clientOptions returns SDK options that dial over the transport, bind the
// source address when one is set and report pushes to onPush. With
// several nodes they reconnect, so a client whose node goes away fails
// over to another one and its sends in flight are retried there.
func (e *Env) clientOptions(onPush func(client.Push)) client.Options {
	o := client.Options{OnPush: onPush, CallTimeout: 30 * time.Second, PingInterval: 30 * time.Second}
	if e.failover() {
		o.Reconnect, o.MinBackoff, o.MaxBackoff = true, 100*time.Millisecond, time.Second
	}
	d := e.dialer()
	if d.Transport == TransportTLS { // the SDK runs the TLS handshake itself
		o.TLS, o.Dial = d.TLS, d.Net.DialContext
	} else {
		o.Dial = d.DialContext
	}
	return o
}

// failover reports whether Addr lists several nodes of a cluster.
func (e *Env) failover() bool { return len(client.SplitAddrs(e.Addr)) > 1 }

// nthAddr returns the node of a comma-separated list that raw connection
// i goes to: the nodes in turn, so raw connections spread evenly. (Raw
// connections do not fail over: they are for scenarios that measure the
// server, not the SDK.)
func nthAddr(list string, i int) string {
	addrs := client.SplitAddrs(list)
	if len(addrs) == 0 {
		return list
	}
	return addrs[i%len(addrs)]
}

// dialer returns the transport's dialer bound to the source address if any.
func (e *Env) dialer() *Dialer {
	return e.Dialer.from(e.SourceIP)
}

// ServerDesc describes the server for the report.
func (e *Env) ServerDesc() string {
	if e.InProcess {
		return "in-process chatd at " + e.Addr
	}
	return "chatd at " + e.Addr
}

// ServerMetrics holds the server-side readings a scenario can compare
// before and after.
type ServerMetrics struct {
	RSS      int64   // resident bytes
	Heap     int64   // Go heap in use (admin metrics only; 0 when unknown)
	Stack    int64   // Go stacks in use (admin metrics only)
	CPU      float64 // user+system seconds since start
	Sessions int64   // -1 when unknown
	Conns    int64   // -1 when unknown
	Source   string  // where they came from
	// At is when the reading was taken and SelfCPU chatbench's own CPU
	// seconds then, so a scenario can tell whether the load generator or
	// the server was the busier one.
	At      time.Time
	SelfCPU float64
}

// Settling after setup: what setup set off in chatd (the ends of the setup
// connections' sessions, each telling friends, or a search index catching
// up) must not run inside the measured phase, where its CPU would count as
// the load's. settleWindow is how long each reading covers, settleQuiet
// the CPU share below which chatd counts as quiet, settleMax the longest
// wait.
var (
	settleWindow = 500 * time.Millisecond
	settleQuiet  = 0.1 // cores
	settleMax    = 30 * time.Second
)

// settle waits until the server's CPU use over settleWindow falls below
// settleQuiet, at most settleMax, and returns how long it waited and
// whether it ended quiet. Without a reading of the server's CPU it returns
// at once.
func (e *Env) settle(ctx context.Context) (time.Duration, bool) {
	start := time.Now()
	prev, err := e.ReadServer(ctx)
	if err != nil || prev.CPU == 0 {
		return 0, true
	}
	for time.Since(start) < settleMax {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(settleWindow):
		}
		cur, err := e.ReadServer(ctx)
		if err != nil {
			return time.Since(start), false
		}
		if (cur.CPU-prev.CPU)/cur.At.Sub(prev.At).Seconds() < settleQuiet {
			return time.Since(start), true
		}
		prev = cur
	}
	return time.Since(start), false
}

// ReadServer reads the server's memory, CPU and sessions: from the admin
// /metrics when there is an admin URL, else from /proc/<pid>.
func (e *Env) ReadServer(ctx context.Context) (m ServerMetrics, err error) {
	at, self := time.Now(), selfCPU()
	defer func() { m.At, m.SelfCPU = at, self }()
	if e.AdminURL != "" {
		return readMetrics(ctx, strings.TrimRight(e.AdminURL, "/")+"/metrics")
	}
	if e.ServerPID > 0 {
		return readProc(e.ServerPID)
	}
	return ServerMetrics{Sessions: -1, Conns: -1}, fmt.Errorf("no admin URL or server pid: server memory unknown")
}

func readMetrics(ctx context.Context, url string) (ServerMetrics, error) {
	m := ServerMetrics{Sessions: -1, Conns: -1, Source: url}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return m, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	vals, err := parseMetrics(resp.Body)
	if err != nil {
		return m, fmt.Errorf("parse %s: %w", url, err)
	}
	var ok bool
	var v float64
	if v, ok = vals["process_resident_memory_bytes"]; !ok {
		return m, fmt.Errorf("%s has no process_resident_memory_bytes", url)
	}
	m.RSS = int64(v)
	m.CPU = vals["process_cpu_seconds_total"]
	m.Heap = int64(vals["go_memstats_heap_inuse_bytes"])
	m.Stack = int64(vals["go_memstats_stack_inuse_bytes"])
	if v, ok = vals["chatd_sessions"]; ok {
		m.Sessions = int64(v)
	}
	if v, ok = vals["chatd_reactor_connections"]; ok {
		m.Conns = int64(v)
	}
	return m, nil
}

// parseMetrics reads the unlabelled samples of a Prometheus text exposition.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := make(map[string]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.ContainsRune(name, '{') {
			continue
		}
		f, err := strconv.ParseFloat(strings.Fields(val)[0], 64)
		if err != nil {
			continue
		}
		out[name] = f
	}
	return out, sc.Err()
}

func readProc(pid int) (ServerMetrics, error) {
	m := ServerMetrics{Sessions: -1, Conns: -1, Source: fmt.Sprintf("/proc/%d", pid)}
	rss, err := procstat.RSS(pid)
	if err != nil {
		return m, fmt.Errorf("read server status: %w", err)
	}
	m.RSS = rss
	if cpu, err := procstat.CPU(pid); err == nil {
		m.CPU = cpu.Seconds()
	}
	return m, nil
}

// CollectGarbage asks chatd for a heap profile with gc=1, which runs a
// garbage collection first, so the next memory reading holds live data
// rather than garbage from earlier work (argon2 buffers, say). It needs
// the admin URL; without one it does nothing.
func (e *Env) CollectGarbage(ctx context.Context) error {
	if e.AdminURL == "" {
		return nil
	}
	url := strings.TrimRight(e.AdminURL, "/") + "/debug/pprof/heap?gc=1"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("gc request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	return nil
}

// settledReading collects garbage, then reads the server until its RSS
// stops falling (the Go runtime returns freed memory to the OS gradually,
// so RSS lags behind a collection by seconds) or wait passes.
func (e *Env) settledReading(ctx context.Context, wait time.Duration) (ServerMetrics, error) {
	_ = e.CollectGarbage(ctx)
	m, err := e.ReadServer(ctx)
	if err != nil {
		return m, err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return m, nil
		case <-time.After(2 * time.Second):
		}
		_ = e.CollectGarbage(ctx)
		n, err := e.ReadServer(ctx)
		if err != nil {
			return m, nil
		}
		falling := n.RSS < m.RSS-(512<<10)
		m = n
		if !falling {
			break
		}
	}
	return m, nil
}

// StartCPUProfile fetches a CPU profile of chatd from the admin pprof
// endpoint for secs seconds into e.CPUProfile, in the background; the
// returned function waits for it and reports failure as a note.
func (e *Env) StartCPUProfile(ctx context.Context, secs int) (wait func() string) {
	if e.CPUProfile == "" || e.AdminURL == "" || secs <= 0 {
		return func() string { return "" }
	}
	done := make(chan string, 1)
	go func() {
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimRight(e.AdminURL, "/"), secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			done <- fmt.Sprintf("cpu profile: %v", err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- fmt.Sprintf("cpu profile: %v", err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(e.CPUProfile)
		if err != nil {
			done <- fmt.Sprintf("cpu profile: %v", err)
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			done <- fmt.Sprintf("cpu profile: %v", err)
			return
		}
		done <- fmt.Sprintf("chatd CPU profile of %d s from the start of the measured phase written to %s", secs, e.CPUProfile)
	}()
	return func() string { return <-done }
}
