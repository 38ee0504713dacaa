package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// ReadJSON loads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode report %s: %w", path, err)
	}
	return &r, nil
}

func verdict(f Figure) string {
	switch {
	case f.Met == nil:
		return ""
	case *f.Met:
		return "met"
	default:
		return "**not met**"
	}
}

// WriteGoals writes one Markdown table of every figure that has a goal,
// across reports, for the summary at the top of LOADTEST.md.
func WriteGoals(w io.Writer, reps []*Report) {
	fmt.Fprintln(w, "| scenario | figure | measured | goal | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range reps {
		for _, f := range r.Figures {
			if f.Goal == "" {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s |\n", r.Scenario, f.Name, formatValue(f.Value), f.Unit, f.Goal, verdict(f))
		}
	}
}

// WriteMarkdown writes one report as a Markdown section.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", r.Scenario)
	fmt.Fprintf(w, "%s, %.1f s of load, started %s.\n\n", r.Server, r.DurationS, r.Started.UTC().Format("15:04:05 UTC"))
	fmt.Fprintln(w, "| figure | value | unit | goal |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, f := range r.Figures {
		g := f.Goal
		if v := verdict(f); v != "" {
			g += " (" + v + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Name, formatValue(f.Value), f.Unit, g)
	}
	if len(r.Latency) > 0 {
		names := make([]string, 0, len(r.Latency))
		for k := range r.Latency {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
		for _, n := range names {
			s := r.Latency[n]
			fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", n, s.Count, s.P50Ms, s.P90Ms, s.P99Ms, s.P999Ms, s.MaxMs)
		}
	}
	if a := r.Accounting; a != nil {
		v := "nothing lost or duplicated"
		if !a.OK() {
			v = "**FAILED**"
		}
		fmt.Fprintf(w, "\nAccounting: %d acked, %d send failures, %d expected deliveries, %d delivered, %d lost, %d duplicated, %d unexpected, %d delivered without ack: %s.\n",
			a.Acked, a.Failed, a.Expected, a.Delivered, a.Lost, a.Duplicated, a.Unexpected, a.Unacked, v)
	}
	if len(r.Errors) > 0 {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, "\nErrors:")
		for _, k := range keys {
			fmt.Fprintf(w, " %s %d;", k, r.Errors[k])
		}
		fmt.Fprintln(w)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	fmt.Fprintln(w)
}
