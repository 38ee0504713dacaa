package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatd/chatd/bench/chatload/ledger"
	"github.com/chatd/chatd/bench/stats"
)

// Figure is one headline number, with the goal it is compared against.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Goal  string  `json:"goal,omitempty"` // e.g. ">= 20000", "<= 25"
	Met   *bool   `json:"met,omitempty"`
}

// Report is everything a scenario measured.
type Report struct {
	Scenario   string                   `json:"scenario"`
	Started    time.Time                `json:"started"`
	DurationS  float64                  `json:"duration_s"`
	Server     string                   `json:"server"`
	Params     map[string]string        `json:"params"`
	Figures    []Figure                 `json:"figures"`
	Latency    map[string]stats.Summary `json:"latency"`
	Curves     map[string][]stats.Point `json:"percentile_curves,omitempty"`
	Counters   map[string]int64         `json:"counters"`
	Accounting *ledger.Result           `json:"accounting,omitempty"`
	Timeline   []stats.Sample           `json:"timeline,omitempty"`
	Notes      []string                 `json:"notes,omitempty"`
	Errors     map[string]int64         `json:"errors,omitempty"`
	Extra      map[string]any           `json:"extra,omitempty"`
}

// AddFigure appends a figure; goal is "" or an operator and a number
// (">= 20000", "<= 25") that Met is computed from.
func (r *Report) AddFigure(name string, value float64, unit, goal string) {
	f := Figure{Name: name, Value: value, Unit: unit, Goal: goal}
	var op string
	var want float64
	if n, _ := fmt.Sscanf(goal, "%s %g", &op, &want); n == 2 {
		var met bool
		switch op {
		case ">=":
			met = value >= want
		case "<=":
			met = value <= want
		case "==":
			met = value == want
		}
		f.Met = &met
	}
	r.Figures = append(r.Figures, f)
}

// Note adds a free-text remark shown under the table.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// OK reports whether the accounting (if any) found nothing lost or
// duplicated and every figure with a goal "== 0" met it.
func (r *Report) OK() bool {
	if r.Accounting != nil && !r.Accounting.OK() {
		return false
	}
	for _, f := range r.Figures {
		if f.Goal == "== 0" && f.Met != nil && !*f.Met {
			return false
		}
	}
	return true
}

// WriteTable writes the human-readable final table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario %s against %s, %.1f s\n", r.Scenario, r.Server, r.DurationS)
	if len(r.Params) > 0 {
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + r.Params[k]
		}
		fmt.Fprintf(tw, "params   %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "figure\tvalue\tunit\tgoal\t")
	for _, f := range r.Figures {
		verdict := ""
		if f.Met != nil {
			verdict = " (met)"
			if !*f.Met {
				verdict = " (NOT met)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s%s\t\n", f.Name, formatValue(f.Value), f.Unit, f.Goal, verdict)
	}
	if len(r.Latency) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "latency (ms)\tcount\tp50\tp90\tp99\tp99.9\tmax\t")
		names := make([]string, 0, len(r.Latency))
		for k := range r.Latency {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, n := range names {
			s := r.Latency[n]
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", n, s.Count, s.P50Ms, s.P90Ms, s.P99Ms, s.P999Ms, s.MaxMs)
		}
	}
	if a := r.Accounting; a != nil {
		fmt.Fprintln(tw)
		verdict := "OK: nothing lost or duplicated"
		if !a.OK() {
			verdict = "FAILED"
		}
		fmt.Fprintf(tw, "accounting\tacked %d, send failures %d, expected deliveries %d, delivered %d, lost %d, duplicated %d, unexpected %d, delivered-unacked %d: %s\t\n",
			a.Acked, a.Failed, a.Expected, a.Delivered, a.Lost, a.Duplicated, a.Unexpected, a.Unacked, verdict)
		for _, l := range a.FirstLost {
			fmt.Fprintf(tw, "  lost\t%s\t\n", l)
		}
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(tw)
		for _, k := range keys {
			fmt.Fprintf(tw, "error\t%s\t%d\t\n", k, r.Errors[k])
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note: %s\n", n)
	}
	return tw.Flush()
}

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e15 && v > -1e15:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}
