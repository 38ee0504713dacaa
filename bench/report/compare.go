package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// run is one loadgen result plus the syscall count of its server.
type run struct {
	Lib, Scenario string
	Round         int
	Mode          string  `json:"mode"`
	Conns         int     `json:"conns"`
	Size          int     `json:"size"`
	Senders       int     `json:"senders"`
	Rate          int     `json:"rate"`
	Messages      int64   `json:"messages"`
	Probes        int64   `json:"probes"`
	Lost          int64   `json:"lost"`
	Errors        int64   `json:"errors"`
	MsgsPerSec    float64 `json:"msgs_per_s"`
	P50us         int64   `json:"p50_us"`
	P99us         int64   `json:"p99_us"`
	CPUusPerMsg   float64 `json:"server_cpu_us_per_msg"`
	Syscw         int64   `json:"server_syscw"`
	RSSPerConn    float64 `json:"server_rss_per_conn"`
	Label         string  `json:"label"`
	Syscalls      int64   // write-family syscalls over the server's life; -1 when not counted
	Breakdown     []int64 // per syscall, in the order of the syscalls file's header
}

// deliveriesWithProbes is every frame the server delivered, join probes
// included, which is what its syscall count covers.
func (r run) deliveriesWithProbes() int64 { return r.Messages + r.Probes*int64(r.Conns) }

func parseResults(rd io.Reader) ([]run, error) {
	var runs []run
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		r := run{Syscalls: -1}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("report: results line %d: %w", line, err)
		}
		parts := strings.Split(r.Label, "/")
		if len(parts) != 3 {
			return nil, fmt.Errorf("report: results line %d: label %q is not lib/scenario/round", line, r.Label)
		}
		round, err := strconv.Atoi(parts[2])
		if err != nil {
			return nil, fmt.Errorf("report: results line %d: round: %w", line, err)
		}
		r.Lib, r.Scenario, r.Round = parts[0], parts[1], round
		runs = append(runs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("report: read results: %w", err)
	}
	return runs, nil
}

// parseSyscalls reads "label<TAB>total<TAB>per-syscall counts..." lines,
// attaches the counts to runs and returns the syscall names from the header
// line ("label<TAB>total<TAB>name...").
func parseSyscalls(rd io.Reader, runs []run) ([]string, error) {
	var names []string
	sc := bufio.NewScanner(rd)
	for line := 1; sc.Scan(); line++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 2 {
			continue
		}
		if f[0] == "label" {
			names = f[2:]
			continue
		}
		nums := make([]int64, len(f)-1)
		for j, s := range f[1:] {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("report: syscalls line %d: %w", line, err)
			}
			nums[j] = n
		}
		for i := range runs {
			if runs[i].Label == f[0] {
				runs[i].Syscalls, runs[i].Breakdown = nums[0], nums[1:]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("report: read syscalls: %w", err)
	}
	return names, nil
}

// syscwCheck prints, per counted run, /proc/<pid>/io syscw next to the
// per-syscall counts perf saw, so the reader can see which calls syscw
// includes on this kernel. syscw covers the measured window only, perf the
// server's whole life, so they differ by the join probes' writes at most.
func syscwCheck(w io.Writer, runs []run, names []string) {
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w, "### Does /proc/<pid>/io syscw count every write-family syscall? (broadcast runs)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| run | syscw (window) | perf total (server life) | %s |\n", strings.Join(names, " | "))
	fmt.Fprintf(w, "|---|---|---|%s\n", strings.Repeat("---|", len(names)))
	for _, r := range runs {
		if r.Syscalls < 0 {
			continue
		}
		cols := make([]string, len(names))
		for i := range names {
			if i < len(r.Breakdown) {
				cols[i] = strconv.FormatInt(r.Breakdown[i], 10)
			}
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s |\n", r.Label, r.Syscw, r.Syscalls, strings.Join(cols, " | "))
	}
	fmt.Fprintln(w)
}

// median of xs (mean of the middle two for an even count); NaN-free input.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cell is the median of one figure for one library and scenario.
type cell struct {
	n                                      int
	msgs, cpu, p50, p99, rss               float64
	lost, errors                           float64
	sysPerDel, syscwPerDel, cpuMin, cpuMax float64
	hasSys                                 bool
}

func summarize(runs []run, lib, scenario string) (cell, bool) {
	var c cell
	var msgs, cpu, p50, p99, rss, lost, errs, sys, syscw []float64
	for _, r := range runs {
		if r.Lib != lib || r.Scenario != scenario {
			continue
		}
		msgs = append(msgs, r.MsgsPerSec)
		cpu = append(cpu, r.CPUusPerMsg)
		p50 = append(p50, float64(r.P50us))
		p99 = append(p99, float64(r.P99us))
		rss = append(rss, r.RSSPerConn)
		lost = append(lost, float64(r.Lost))
		errs = append(errs, float64(r.Errors))
		if d := r.deliveriesWithProbes(); d > 0 {
			if r.Syscalls >= 0 {
				sys = append(sys, float64(r.Syscalls)/float64(d))
			}
			syscw = append(syscw, float64(r.Syscw)/float64(d))
		}
	}
	if len(msgs) == 0 {
		return c, false
	}
	c.n = len(msgs)
	c.msgs, c.cpu, c.p50, c.p99, c.rss = median(msgs), median(cpu), median(p50), median(p99), median(rss)
	c.lost, c.errors = slices.Max(lost), slices.Max(errs)
	c.cpuMin, c.cpuMax = slices.Min(cpu), slices.Max(cpu)
	c.syscwPerDel = median(syscw)
	if len(sys) > 0 {
		c.sysPerDel, c.hasSys = median(sys), true
	}
	return c, true
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func scenarios(runs []run, prefix string) []string {
	var out []string
	for _, r := range runs {
		if strings.HasPrefix(r.Scenario, prefix) && !slices.Contains(out, r.Scenario) {
			out = append(out, r.Scenario)
		}
	}
	return out
}

func describe(runs []run, scenario string) string {
	for _, r := range runs {
		if r.Scenario != scenario {
			continue
		}
		switch r.Mode {
		case "echo":
			return fmt.Sprintf("echo, %d conns, %d B messages", r.Conns, r.Size)
		case "idle":
			return fmt.Sprintf("idle, %d conns", r.Conns)
		case "broadcast":
			return fmt.Sprintf("broadcast, %d conns, %d senders, %d frames/s in total, %d B payload", r.Conns, r.Senders, r.Rate, r.Size)
		}
	}
	return scenario
}

// write prints the Markdown tables.
func write(w io.Writer, runs []run, libs []string, base string, names []string) {
	fmt.Fprintf(w, "Medians over rounds; \"vs %s\" is this library's median divided by %s's (for CPU, memory and latency lower is better; for messages/s higher is better). CPU range is min–max over rounds.\n\n", base, base)
	for _, sc := range scenarios(runs, "echo") {
		fmt.Fprintf(w, "### %s\n\n", describe(runs, sc))
		fmt.Fprintln(w, "| library | rounds | messages/s | vs "+base+" | server CPU µs/msg | CPU range | vs "+base+" | p50 µs | p99 µs | errors |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
		b, _ := summarize(runs, base, sc)
		for _, lib := range libs {
			c, ok := summarize(runs, lib, sc)
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %s | %.2f | %.2f–%.2f | %s | %.0f | %.0f | %.0f |\n",
				lib, c.n, c.msgs, ratio(c.msgs, b.msgs), c.cpu, c.cpuMin, c.cpuMax, ratio(c.cpu, b.cpu), c.p50, c.p99, c.errors)
		}
		fmt.Fprintln(w)
	}
	for _, sc := range scenarios(runs, "idle") {
		fmt.Fprintf(w, "### %s\n\n", describe(runs, sc))
		fmt.Fprintln(w, "| library | rounds | server RSS per conn (B) | vs "+base+" |")
		fmt.Fprintln(w, "|---|---|---|---|")
		b, _ := summarize(runs, base, sc)
		for _, lib := range libs {
			if c, ok := summarize(runs, lib, sc); ok {
				fmt.Fprintf(w, "| %s | %d | %.0f | %s |\n", lib, c.n, c.rss, ratio(c.rss, b.rss))
			}
		}
		fmt.Fprintln(w)
	}
	for _, sc := range scenarios(runs, "broadcast") {
		fmt.Fprintf(w, "### %s\n\n", describe(runs, sc))
		fmt.Fprintln(w, "| library | rounds | deliveries/s | server CPU µs/delivery | CPU range | vs "+base+" | write syscalls/delivery (perf) | syscw/delivery | p50 µs | p99 µs | lost (max) | errors |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
		b, _ := summarize(runs, base, sc)
		for _, lib := range libs {
			c, ok := summarize(runs, lib, sc)
			if !ok {
				continue
			}
			sys := "not counted"
			if c.hasSys {
				sys = fmt.Sprintf("%.3f", c.sysPerDel)
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %.3f | %.3f–%.3f | %s | %s | %.3f | %.0f | %.0f | %.0f | %.0f |\n",
				lib, c.n, c.msgs, c.cpu, c.cpuMin, c.cpuMax, ratio(c.cpu, b.cpu), sys, c.syscwPerDel, c.p50, c.p99, c.lost, c.errors)
		}
		fmt.Fprintln(w)
	}
	goals(w, runs, libs, base)
	syscwCheck(w, runs, names)
}

// goals checks the reactor's targets from issue 2 against these medians
// (issue 14's for WebSocket or TLS when ws-reactor or tls-reactor is among
// libs).
func goals(w io.Writer, runs []run, libs []string, base string) {
	const me = "reactor"
	for _, g := range layerGoalSets {
		if slices.Contains(libs, g.me) {
			layerGoals(w, runs, libs, g)
			return
		}
	}
	if !slices.Contains(libs, me) {
		return
	}
	fmt.Fprintln(w, "### Goals (issue 2) against these medians")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| goal | scenario | reactor | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, sc := range scenarios(runs, "echo") {
		r, ok1 := summarize(runs, me, sc)
		b, ok2 := summarize(runs, base, sc)
		if ok1 && ok2 && b.cpu > 0 {
			fmt.Fprintf(w, "| CPU/msg ≤ 0.9x %s | %s | %.2f µs (%.2fx) | ≤ %.2f µs | %s |\n", base, describe(runs, sc), r.cpu, r.cpu/b.cpu, 0.9*b.cpu, met(r.cpu <= 0.9*b.cpu))
		}
		if r0, ok := summarize(runs, me, sc); ok && r0.n > 0 && strings.Contains(sc, "c1000") {
			best := -1.0
			for _, lib := range libs {
				if lib == me {
					continue
				}
				if c, ok := summarize(runs, lib, sc); ok && (best < 0 || c.p99 < best) {
					best = c.p99
				}
			}
			if best >= 0 {
				fmt.Fprintf(w, "| p99 ≤ best peer | %s | %.0f µs | ≤ %.0f µs | %s |\n", describe(runs, sc), r0.p99, best, met(r0.p99 <= best))
			}
		}
	}
	for _, sc := range scenarios(runs, "idle") {
		if r, ok := summarize(runs, me, sc); ok {
			fmt.Fprintf(w, "| idle RSS/conn ≤ 400 B | %s | %.0f B | ≤ 400 B | %s |\n", describe(runs, sc), r.rss, met(r.rss <= 400))
		}
	}
	for _, sc := range scenarios(runs, "broadcast") {
		r, ok1 := summarize(runs, me, sc)
		b, ok2 := summarize(runs, base, sc)
		if ok1 && ok2 && b.cpu > 0 {
			fmt.Fprintf(w, "| CPU/delivery ≤ 0.5x %s | %s | %.3f µs (%.2fx) | ≤ %.3f µs | %s |\n", base, describe(runs, sc), r.cpu, r.cpu/b.cpu, 0.5*b.cpu, met(r.cpu <= 0.5*b.cpu))
		}
	}
	fmt.Fprintln(w)
}

// met is a goal table's verdict cell.
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// layerGoalSet is issue 14's targets for a reactor layer's bench server:
// server CPU per echoed message (and per broadcast delivery) at most cpu
// times the best peer's (the other libraries named with the same prefix),
// and idle RSS per connection at most idle bytes above the raw reactor's.
type layerGoalSet struct {
	name, me, prefix string
	cpu              float64
	idle             float64
}

var layerGoalSets = []layerGoalSet{
	{name: "WebSocket", me: "ws-reactor", prefix: "ws-", cpu: 0.5, idle: 1024},
	{name: "TLS", me: "tls-reactor", prefix: "tls-", cpu: 0.8, idle: 2048},
}

// layerGoals checks g against these medians.
func layerGoals(w io.Writer, runs []run, libs []string, g layerGoalSet) {
	fmt.Fprintf(w, "### Goals (issue 14, %s) against these medians\n", g.name)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| goal | scenario | %s | target | met |\n", g.me)
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, prefix := range []string{"echo", "broadcast"} {
		for _, sc := range scenarios(runs, prefix) {
			r, ok := summarize(runs, g.me, sc)
			best, bestLib := -1.0, ""
			for _, lib := range libs {
				if c, ok := summarize(runs, lib, sc); ok && lib != g.me && strings.HasPrefix(lib, g.prefix) && c.cpu > 0 && (best < 0 || c.cpu < best) {
					best, bestLib = c.cpu, lib
				}
			}
			if ok && best > 0 {
				fmt.Fprintf(w, "| CPU ≤ %.1fx best peer (%s) | %s | %.2f µs (%.2fx) | ≤ %.2f µs | %s |\n", g.cpu, bestLib, describe(runs, sc), r.cpu, r.cpu/best, g.cpu*best, met(r.cpu <= g.cpu*best))
			}
		}
	}
	for _, sc := range scenarios(runs, "idle") {
		r, ok1 := summarize(runs, g.me, sc)
		raw, ok2 := summarize(runs, "reactor", sc)
		if ok1 && ok2 {
			fmt.Fprintf(w, "| idle RSS/conn ≤ raw + %.0f KiB | %s | %.0f B (raw %.0f B) | ≤ %.0f B | %s |\n", g.idle/1024, describe(runs, sc), r.rss, raw.rss, raw.rss+g.idle, met(r.rss <= raw.rss+g.idle))
		}
	}
	fmt.Fprintln(w)
}

// WriteComparison writes RESULTS.md's tables to w: it reads the loadgen
// JSON lines at resultsPath (labelled "library/scenario/round") and, when
// syscallsPath is not empty, the per-run syscall counts, takes for each
// library and scenario the median of every figure over the rounds, and
// prints ratios against base and the goal checks. libs sets the row order.
func WriteComparison(w io.Writer, resultsPath, syscallsPath string, libs []string, base string) error {
	f, err := os.Open(resultsPath)
	if err != nil {
		return fmt.Errorf("report: open results: %w", err)
	}
	defer f.Close()
	runs, err := parseResults(f)
	if err != nil {
		return err
	}
	var names []string
	if syscallsPath != "" {
		sf, err := os.Open(syscallsPath)
		if err != nil {
			return fmt.Errorf("report: open syscalls: %w", err)
		}
		defer sf.Close()
		if names, err = parseSyscalls(sf, runs); err != nil {
			return err
		}
	}
	write(w, runs, libs, base, names)
	return nil
}
