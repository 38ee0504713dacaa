package report

import (
	"bytes"
	"strings"
	"testing"
)

const loadgenSample = `{"label":"reactor/echo-c100-s64/1","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":100,"p50_us":10,"p99_us":50,"server_cpu_us_per_msg":2}
{"label":"reactor/echo-c100-s64/2","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":300,"p50_us":30,"p99_us":70,"server_cpu_us_per_msg":6}
{"label":"reactor/echo-c100-s64/3","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":200,"p50_us":20,"p99_us":60,"server_cpu_us_per_msg":3}
{"label":"gnet/echo-c100-s64/1","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":100,"p50_us":20,"p99_us":40,"server_cpu_us_per_msg":4}
{"label":"gnet/idle-c10000/1","mode":"idle","conns":10000,"size":64,"messages":10000,"server_rss_per_conn":600}
{"label":"reactor/idle-c10000/1","mode":"idle","conns":10000,"size":64,"messages":10000,"server_rss_per_conn":300}
{"label":"reactor/broadcast-c1000-k10/1","mode":"broadcast","conns":10,"size":64,"senders":2,"rate":10,"messages":990,"probes":1,"server_cpu_us_per_msg":1,"server_syscw":100}
{"label":"gnet/broadcast-c1000-k10/1","mode":"broadcast","conns":10,"size":64,"senders":2,"rate":10,"messages":990,"probes":1,"server_cpu_us_per_msg":4,"server_syscw":500}
`

const sampleSyscalls = "label\ttotal\twrite\twritev\n" +
	"reactor/broadcast-c1000-k10/1\t200\t0\t200\n" +
	"gnet/broadcast-c1000-k10/1\t500\t500\t0\n"

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}}
	for _, c := range cases {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestReport(t *testing.T) {
	runs, err := parseResults(strings.NewReader(loadgenSample))
	if err != nil {
		t.Fatal(err)
	}
	names, err := parseSyscalls(strings.NewReader(sampleSyscalls), runs)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := summarize(runs, "reactor", "echo-c100-s64")
	if !ok || c.n != 3 || c.cpu != 3 || c.msgs != 200 || c.p99 != 60 || c.cpuMin != 2 || c.cpuMax != 6 {
		t.Fatalf("reactor echo summary %+v", c)
	}
	b, _ := summarize(runs, "reactor", "broadcast-c1000-k10")
	if !b.hasSys || b.sysPerDel != 0.2 || b.syscwPerDel != 0.1 {
		t.Fatalf("broadcast summary %+v: want 200 syscalls and 100 syscw over 1000 deliveries", b)
	}
	var out bytes.Buffer
	write(&out, runs, []string{"reactor", "gnet", "netpoll"}, "gnet", names)
	md := out.String()
	for _, want := range []string{
		"| reactor | 3 | 200 | 2.00x | 3.00 | 2.00–6.00 | 0.75x | 20 | 60 | 0 |",
		"| reactor | 1 | 300 | 0.50x |",
		"| CPU/msg ≤ 0.9x gnet | echo, 100 conns, 64 B messages | 3.00 µs (0.75x) | ≤ 3.60 µs | yes |",
		"| idle RSS/conn ≤ 400 B | idle, 10000 conns | 300 B | ≤ 400 B | yes |",
		"| CPU/delivery ≤ 0.5x gnet |",
		"| reactor/broadcast-c1000-k10/1 | 100 | 200 | 0 | 200 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n%s", want, md)
		}
	}
	if strings.Contains(md, "netpoll |") {
		t.Error("a library without runs got a row")
	}
}

func TestParseResultsRejectsBadLabel(t *testing.T) {
	if _, err := parseResults(strings.NewReader(`{"label":"no-slashes","mode":"echo"}`)); err == nil {
		t.Fatal("bad label accepted")
	}
	if _, err := parseResults(strings.NewReader(`{not json`)); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

func TestWebSocketGoals(t *testing.T) {
	const ws = `{"label":"ws-reactor/echo-c100-s64/1","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":100,"server_cpu_us_per_msg":2}
{"label":"ws-nbio/echo-c100-s64/1","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":100,"server_cpu_us_per_msg":5}
{"label":"ws-gorilla/echo-c100-s64/1","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":100,"server_cpu_us_per_msg":3}
{"label":"reactor/echo-c100-s64/1","mode":"echo","conns":100,"size":64,"messages":1000,"msgs_per_s":100,"server_cpu_us_per_msg":1}
{"label":"ws-reactor/idle-c10000/1","mode":"idle","conns":10000,"size":64,"messages":10000,"server_rss_per_conn":1300}
{"label":"reactor/idle-c10000/1","mode":"idle","conns":10000,"size":64,"messages":10000,"server_rss_per_conn":200}
`
	runs, err := parseResults(strings.NewReader(ws))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	write(&out, runs, []string{"ws-reactor", "ws-nbio", "ws-gorilla", "reactor"}, "ws-nbio", nil)
	md := out.String()
	for _, want := range []string{
		"| CPU ≤ 0.5x best peer (ws-gorilla) | echo, 100 conns, 64 B messages | 2.00 µs (0.67x) | ≤ 1.50 µs | **no** |",
		"| idle RSS/conn ≤ raw + 1 KiB | idle, 10000 conns | 1300 B (raw 200 B) | ≤ 1224 B | **no** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "issue 2)") {
		t.Errorf("the raw goals were checked in a WebSocket report:\n%s", md)
	}
}
