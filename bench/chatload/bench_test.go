package chatload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatd/chatd/bench/chatload/inproc"
	"github.com/chatd/chatd/bench/report"
	"github.com/chatd/chatd/bench/stats"
	"github.com/chatd/chatd/client"
	"github.com/chatd/chatd/protocol"
)

func TestParallelStopsAtFirstError(t *testing.T) {
	var ran atomic.Int64
	boom := errors.New("boom")
	err := parallel(context.Background(), 1000, 4, func(ctx context.Context, i int) error {
		ran.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if ran.Load() >= 1000 {
		t.Fatal("kept going after the error")
	}
	var sum atomic.Int64
	if err := parallel(context.Background(), 100, 7, func(_ context.Context, i int) error { sum.Add(int64(i)); return nil }); err != nil || sum.Load() != 4950 {
		t.Fatalf("sum = %d, err %v", sum.Load(), err)
	}
}

func TestErrorClass(t *testing.T) {
	for err, want := range map[error]string{
		protocol.RateLimited(5):                       "rate_limited",
		fmt.Errorf("x: %w", context.DeadlineExceeded): "timeout",
		fmt.Errorf("send: %w", client.ErrConnLost):    "conn_lost",
		errors.New("dial tcp: connection refused"):    "connection_refused",
		errors.New("socket: too many open files"):     "too_many_open_files",
		errors.New("something else"):                  "other",
	} {
		if got := errorClass(err); got != want {
			t.Errorf("errorClass(%v) = %q, want %q", err, got, want)
		}
	}
	if d, ok := retryAfter(protocol.RateLimited(250)); !ok || d != 250*time.Millisecond {
		t.Errorf("retryAfter = %v, %v", d, ok)
	}
	var c errCounts
	c.add(protocol.RateLimited(1))
	c.add(protocol.RateLimited(1))
	c.add(nil)
	if m, ex := c.snapshot(); m["rate_limited"] != 2 || ex["rate_limited"] == "" || c.total() != 2 {
		t.Errorf("counts = %v %v", m, ex)
	}
}

func msgPush(conv string, seq, from int64, body string) client.Push {
	return client.Push{Op: protocol.OpMsgPush, Body: &protocol.MsgPush{Message: protocol.Message{Conv: conv, Seq: seq, From: from, Body: body}}}
}

func TestSinkTake(t *testing.T) {
	run := stats.NewRun(sinkCounters, sinkLatencies)
	k := newSink(2, run)
	k.ignoreOwn = true
	var self atomic.Int64
	self.Store(7)
	n := k.led.Next()
	k.led.Acked(n, []int32{1})
	body := makeBody(n, time.Now(), 10)
	if !k.take(1, &self, msgPush("p:1:7", 1, 1, body)) {
		t.Fatal("first delivery not taken")
	}
	if k.take(1, &self, msgPush("p:1:7", 1, 1, body)) || run.Get("redelivered") != 1 {
		t.Fatal("same conv+seq taken twice")
	}
	if k.take(1, &self, msgPush("p:1:7", 2, 7, makeBody(99, time.Now(), 0))) || run.Get("own_echo") != 1 {
		t.Fatal("own message taken")
	}
	if k.take(1, &self, msgPush("p:1:7", 3, 1, "hello")) || run.Get("foreign") != 1 {
		t.Fatal("foreign body taken")
	}
	// The same message under another seq is a stored duplicate.
	if k.take(1, &self, msgPush("p:1:7", 4, 1, body)) {
		t.Fatal("stored duplicate taken as new")
	}
	if k.take(1, &self, client.Push{Op: protocol.OpPresence, Body: &protocol.PresencePush{}}) {
		t.Fatal("presence taken")
	}
	res := k.led.Result()
	if res.Delivered != 1 || res.Duplicated != 1 || res.Lost != 0 {
		t.Fatalf("result = %+v", res)
	}
	if run.Latency("push").Count() != 1 {
		t.Fatal("latency not recorded once")
	}
}

func TestSeqSeenHighest(t *testing.T) {
	var s seqSeen
	for _, q := range []int64{1, 2, 5, 3} {
		s.mark("g:1", q)
	}
	s.mark("p:1:2", 9)
	if s.mark("g:1", 5) || !s.mark("g:1", 300) || s.mark("g:1", -1) {
		t.Fatal("mark wrong")
	}
	s.mark("g:1", 4)
	if h := s.highest(); h["g:1"] != 300 {
		t.Fatalf("highest = %v", h)
	}
	if h := s.highest(); h["g:1"] != 300 || h["p:1:2"] != 9 || len(h) != 2 {
		t.Fatalf("highest = %v", h)
	}
}

func TestDriveHonoursBudget(t *testing.T) {
	l := loadShape{dur: 10 * time.Second, inflight: 3, maxMsgs: 50}
	var n atomic.Int64
	l.drive(context.Background(), 4, func(context.Context, int) { n.Add(1) })
	if n.Load() != 50 {
		t.Fatalf("sent %d, want 50", n.Load())
	}
}

func TestProgressLineAndSay(t *testing.T) {
	line := progressLine(stats.Sample{T: 3, Rates: map[string]float64{"sent": 10, "idle": 0}, P99Ms: map[string]float64{"push": 1.5}},
		map[string]float64{"push": 2.5, "ack": 4}, "sending", 2)
	for _, want := range []string{"sending", "sent 10/s", "push-p99 1.5ms (so far 2.5ms)", "ack-p99 so far 4.0ms", "errors 2"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "idle") {
		t.Errorf("zero rate shown: %q", line)
	}
	if r, ts, ok := parseSay("say 3 1000"); !ok || r != 3 || ts.UnixNano() != 1000 {
		t.Errorf("parseSay = %d %v %v", r, ts, ok)
	}
	if _, _, ok := parseSay("say x 1"); ok {
		t.Error("bad say accepted")
	}
}

func startServer(t *testing.T) *Env {
	t.Helper()
	srv, err := inproc.Start(context.Background(), inproc.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &Env{Addr: srv.Addr, AdminURL: srv.AdminURL, InProcess: true, RunID: fmt.Sprintf("t%d", time.Now().UnixNano()%1e9), Log: zerolog.Nop()}
}

// TestWorkerProtocol runs a connect job through RunWorker (as a worker
// process would) and checks the lines it writes: every connection logged
// in, and a histogram the parent can merge.
func TestWorkerProtocol(t *testing.T) {
	e := startServer(t)
	ctx := context.Background()
	us := e.newUsers("w", 2)
	if err := e.registerAll(ctx, us, 2); err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		c, _, err := e.connect(ctx, u, "setup", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	job := connectJob{Addr: e.Addr, SourceIP: "127.0.0.2", Conns: 30, Conc: 8, MaxHold: 30,
		Users: []credUser{{us[0].Name, us[0].Token}, {us[1].Name, us[1].Token}}}
	b, _ := json.Marshal(job)
	pr, pw := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- RunWorker(ctx, pr, &out) }()
	pw.Write(append(b, '\n'))
	pw.Close() // EOF releases the hold right after the ramp
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var ramped, result *workerMsg
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m workerMsg
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		switch m.Type {
		case "ramped":
			ramped = &m
		case "result":
			result = &m
		}
	}
	if ramped == nil || result == nil {
		t.Fatalf("missing lines:\n%s", out.String())
	}
	if ramped.Open != 30 || ramped.Failed != 0 || result.Open != 30 {
		t.Fatalf("ramped %+v result %+v", ramped, result)
	}
	l := stats.NewLatency()
	if err := l.Merge(result.Hist); err != nil || l.Count() != 30 {
		t.Fatalf("histogram: %d values, %v", l.Count(), err)
	}
}

func TestScenarioRegistry(t *testing.T) {
	names := Names()
	if len(names) != 9 {
		t.Fatalf("scenarios = %v", names)
	}
	for _, n := range names {
		s, ok := Lookup(n)
		if !ok || s.Summary() == "" {
			t.Errorf("%s: no summary", n)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("unknown scenario found")
	}
	if !NeedsRealPasswordHash("login") || NeedsRealPasswordHash("chat") || !StartsOwnServer("crash") {
		t.Error("scenario properties wrong")
	}
}

// TestRateLimitInSummary checks that a run chatd rate-limited says so in
// the final table, naming the chatd flags that lift the limit, and that a
// run it did not limit says nothing about it.
func TestRateLimitInSummary(t *testing.T) {
	table := func(limited int64) string {
		run := stats.NewRun(sinkCounters, sinkLatencies)
		run.Add("rate_limited", limited)
		rep := &report.Report{Scenario: "chat"}
		finish(rep, run, &errCounts{}, nil)
		var b strings.Builder
		if err := rep.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	got := table(7)
	for _, want := range []string{"rate-limited this load 7 times", "--msg-rate", "--msg-burst", "requests refused as RATE_LIMITED"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary of a rate-limited run lacks %q:\n%s", want, got)
		}
	}
	if got := table(0); strings.Contains(got, "rate-limited") || strings.Contains(got, "--msg-rate") {
		t.Errorf("summary of an unlimited run mentions the rate limit:\n%s", got)
	}
}

// TestAccountLog checks that every account a scenario names is recorded,
// one line per setup, and that a nil log records nothing.
func TestAccountLog(t *testing.T) {
	path := t.TempDir() + "/accounts.jsonl"
	e := &Env{RunID: "cbtest", Addr: "127.0.0.1:1", Accounts: &AccountLog{Path: path}}
	a, b := e.newUsers("c", 2), e.newUsers("g", 3)
	recs, err := ReadAccounts(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || e.Accounts.Recorded() != 5 {
		t.Fatalf("records %+v, recorded %d; want 2 records of 5 accounts", recs, e.Accounts.Recorded())
	}
	for i, us := range [][]*user{a, b} {
		if r := recs[i]; r.Run != "cbtest" || r.Addr != e.Addr || len(r.Users) != len(us) || r.Users[len(us)-1] != us[len(us)-1].Name {
			t.Fatalf("record %d = %+v for %d users", i, r, len(us))
		}
	}
	if raw, _ := os.ReadFile(path); bytes.Contains(raw, []byte(a[0].Password)) {
		t.Fatal("the accounts file holds the password")
	}
	quiet := &Env{RunID: "cbtest"}
	quiet.newUsers("c", 2)
	if quiet.Accounts.Recorded() != 0 {
		t.Fatal("a nil log recorded accounts")
	}
	if recs, err := ReadAccounts(t.TempDir() + "/none.jsonl"); err != nil || recs != nil {
		t.Fatalf("missing file: %v, %v", recs, err)
	}
}
