package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatd/chatd/bench/chatload/ledger"
	"github.com/chatd/chatd/bench/stats"
)

func sample() *Report {
	run := stats.NewRun([]string{"sent", "delivered"}, []string{"push"})
	for i := 1; i <= 100; i++ {
		run.Add("sent", 1)
		run.Add("delivered", 1)
		run.Observe("push", time.Duration(i)*time.Millisecond)
		if i%50 == 0 {
			run.Tick()
		}
	}
	r := &Report{Scenario: "chat", Started: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), DurationS: 2, Server: "in-process",
		Params:   map[string]string{"pairs": "2"},
		Latency:  map[string]stats.Summary{"push": run.Latency("push").Summary()},
		Curves:   map[string][]stats.Point{"push": run.Latency("push").Curve()},
		Counters: run.Counters(), Timeline: run.Timeline()}
	r.AddFigure("sent/s", 50, "msg/s", ">= 20000")
	r.AddFigure("p99", 99, "ms", "<= 25")
	r.AddFigure("lost", 0, "msgs", "== 0")
	r.AddFigure("rss/conn", 3210.5, "B", "")
	r.Accounting = &ledger.Result{Acked: 100, Expected: 100, Delivered: 100}
	return r
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	r := sample()
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"scenario chat against in-process, 2.0 s",
		"params   pairs=2",
		">= 20000 (NOT met)",
		"<= 25 (NOT met)",
		"== 0 (met)",
		"3210", // non-integers of 100 and more are shown without decimals
		"OK: nothing lost or duplicated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "push") || !strings.Contains(out, "100") {
		t.Errorf("latency row missing:\n%s", out)
	}
	if !r.OK() {
		t.Error("OK false for a clean run")
	}
	r.Accounting.Lost = 1
	r.Accounting.FirstLost = []string{"msg 7 to receiver 1"}
	buf.Reset()
	_ = r.WriteTable(&buf)
	if r.OK() || !strings.Contains(buf.String(), "FAILED") || !strings.Contains(buf.String(), "msg 7 to receiver 1") {
		t.Errorf("a loss is not reported:\n%s", buf.String())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Scenario != "chat" || back.Latency["push"].Count != 100 || len(back.Figures) != 4 || back.Accounting.Delivered != 100 {
		t.Fatalf("round trip lost data: %+v", back)
	}
	if back.Figures[0].Met == nil || *back.Figures[0].Met {
		t.Fatal("goal verdict lost")
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	for _, r := range []*Report{sample(), {Scenario: "empty"}} {
		var buf bytes.Buffer
		if err := r.RenderSVG(&buf); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&buf)
		polylines := 0
		for {
			tok, err := dec.Token()
			if err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: not well-formed XML: %v", r.Scenario, err)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
				polylines++
			}
		}
		want := 0
		if r.Scenario == "chat" {
			want = 2 + 1 + 1 // two rates, one p99 series, one curve
		}
		if polylines != want {
			t.Errorf("%s: %d polylines, want %d", r.Scenario, polylines, want)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0.3: 0.5, 7: 10, 12: 20, 450: 500, 1000: 1000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	r := sample()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteGoals(&buf, []*Report{back})
	goals := buf.String()
	if !strings.Contains(goals, "| chat | sent/s | 50 msg/s | >= 20000 | **not met** |") || strings.Contains(goals, "rss/conn") {
		t.Fatalf("goals table:\n%s", goals)
	}
	buf.Reset()
	back.WriteMarkdown(&buf)
	md := buf.String()
	for _, want := range []string{"### chat", "| lost | 0 | msgs | == 0 (met) |", "| push | 100 |", "nothing lost or duplicated"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if _, err := ReadJSON(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file read")
	}
}
