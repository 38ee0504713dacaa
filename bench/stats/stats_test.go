package stats

import (
	"encoding/json"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func TestMergeThroughJSON(t *testing.T) {
	// Two "workers" record disjoint halves; the parent merges their JSON
	// snapshots and must see the same figures as one histogram of all.
	a, b, all := NewLatency(), NewLatency(), NewLatency()
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Millisecond
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		all.Record(d)
	}
	parent := NewLatency()
	for _, w := range []*Latency{a, b} {
		raw, err := json.Marshal(w.Export())
		if err != nil {
			t.Fatal(err)
		}
		var snap hdrhistogram.Snapshot
		if err := json.Unmarshal(raw, &snap); err != nil {
			t.Fatal(err)
		}
		if err := parent.Merge(&snap); err != nil {
			t.Fatal(err)
		}
	}
	got, want := parent.Summary(), all.Summary()
	if got != want {
		t.Fatalf("merged = %+v, want %+v", got, want)
	}
	if got.Count != 1000 || got.P50Ms < 499 || got.P50Ms > 501 || got.MaxMs < 999 || got.MaxMs > 1001 {
		t.Fatalf("figures off: %+v", got)
	}
}

func TestMergeRejectsBadSnapshot(t *testing.T) {
	l := NewLatency()
	bad := &hdrhistogram.Snapshot{LowestTrackableValue: 0, HighestTrackableValue: -1, SignificantFigures: 9}
	if err := l.Merge(bad); err == nil {
		t.Fatal("invalid snapshot merged")
	}
	if l.Count() != 0 {
		t.Fatal("invalid snapshot changed the histogram")
	}
}

func TestRecordClamps(t *testing.T) {
	l := NewLatency()
	l.Record(0)
	l.Record(time.Hour)
	s := l.Summary()
	if s.Count != 2 || s.MaxMs < 599000 {
		t.Fatalf("summary = %+v", s)
	}
}

func TestRunTimeline(t *testing.T) {
	r := NewRun([]string{"sent"}, []string{"lat"})
	r.Add("sent", 10)
	r.Observe("lat", 5*time.Millisecond)
	s1 := r.Tick()
	if s1.Rates["sent"] <= 0 || s1.P99Ms["lat"] < 4.9 || s1.P99Ms["lat"] > 5.1 {
		t.Fatalf("first sample = %+v", s1)
	}
	s2 := r.Tick()
	if s2.Rates["sent"] != 0 {
		t.Fatalf("rate without sends = %v", s2.Rates["sent"])
	}
	if _, ok := s2.P99Ms["lat"]; ok {
		t.Fatal("empty window reported a p99")
	}
	if r.Latency("lat").Count() != 1 || len(r.Timeline()) != 2 || r.Get("sent") != 10 {
		t.Fatal("totals lost by sampling")
	}
	r.Restart()
	if len(r.Timeline()) != 0 {
		t.Fatal("setup samples kept after Restart")
	}
	r.Add("sent", 5)
	if s := r.Tick(); s.T > 1 || s.Rates["sent"] <= 0 {
		t.Fatalf("sample after restart = %+v", s)
	}
}

func TestCurveIsMonotonic(t *testing.T) {
	l := NewLatency()
	for i := 1; i <= 10000; i++ {
		l.Record(time.Duration(i) * time.Microsecond * 7)
	}
	c := l.Curve()
	if len(c) == 0 || c[len(c)-1].Percentile != 100 {
		t.Fatalf("curve = %v", c)
	}
	for i := 1; i < len(c); i++ {
		if c[i].Ms < c[i-1].Ms {
			t.Fatalf("curve not monotonic at %d: %v", i, c)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	l := NewLatency()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Millisecond
		for pb.Next() {
			l.Record(d)
			d += time.Microsecond
		}
	})
}
