package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/template"

	"github.com/chatd/chatd/bench/stats"
)

// Chart geometry: three stacked panels of the same size.
const (
	chartW   = 900
	panelH   = 220
	marginL  = 70
	marginR  = 160
	marginT  = 30
	panelGap = 60
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

type svgSeries struct {
	Name   string
	Color  string
	Points string // "x,y x,y ..."
	LabelY int
}

type svgTick struct {
	Pos   float64
	Label string
}

type svgPanel struct {
	Title  string
	Y      int // top of the plot area
	W, H   int
	X0     int
	XTicks []svgTick
	YTicks []svgTick
	XLabel string
	YLabel string
	Series []svgSeries
	Empty  bool
}

type svgData struct {
	W, H   int
	Title  string
	Panels []svgPanel
}

var svgTmpl = template.Must(template.New("svg").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{{.W}}" y="16" text-anchor="end" font-size="12" dx="-10">{{.Title}}</text>
{{range .Panels}}{{$p := .}}<g transform="translate({{.X0}},{{.Y}})">
<text x="0" y="-10" font-size="13" font-weight="bold">{{.Title}}</text>
<rect x="0" y="0" width="{{.W}}" height="{{.H}}" fill="none" stroke="#999"/>
{{if .Empty}}<text x="{{.W}}" y="{{.H}}" dx="-8" dy="-8" text-anchor="end" fill="#999">no data</text>{{end}}
{{range .YTicks}}<line x1="0" x2="{{$p.W}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#eee"/><text x="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="0" y2="{{$p.H}}" stroke="#eee"/><text x="{{.Pos}}" y="{{$p.H}}" dy="14" text-anchor="middle">{{.Label}}</text>
{{end}}<text x="{{.W}}" y="{{.H}}" dy="30" text-anchor="end">{{.XLabel}}</text>
<text x="-50" y="{{.H}}" transform="rotate(-90 -50 {{.H}})" dx="{{.H}}" text-anchor="end">{{.YLabel}}</text>
{{range .Series}}<polyline fill="none" stroke="{{.Color}}" stroke-width="1.5" points="{{.Points}}"/>
<text x="{{$p.W}}" y="{{.LabelY}}" dx="8" fill="{{.Color}}">{{.Name}}</text>
{{end}}</g>
{{end}}</svg>
`))

// WriteSVG draws the chart to path.
func (r *Report) WriteSVG(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create chart %s: %w", path, err)
	}
	if err := r.RenderSVG(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	return nil
}

// RenderSVG writes the chart: throughput over time, p99 over time, and the
// percentile curve of every latency histogram.
func (r *Report) RenderSVG(w io.Writer) error {
	plotW := chartW - marginL - marginR
	d := svgData{W: chartW, H: marginT + 3*(panelH+panelGap), Title: fmt.Sprintf("chatbench %s, %s", r.Scenario, r.Started.UTC().Format("2006-01-02 15:04 UTC"))}

	var tmax float64
	for _, s := range r.Timeline {
		tmax = math.Max(tmax, s.T)
	}
	rateNames := seriesNames(r.Timeline, func(s int) map[string]float64 { return r.Timeline[s].Rates })
	p99Names := seriesNames(r.Timeline, func(s int) map[string]float64 { return r.Timeline[s].P99Ms })

	timePanel := func(i int, title, ylabel string, names []string, get func(s int) map[string]float64) svgPanel {
		p := svgPanel{Title: title, Y: marginT + i*(panelH+panelGap), W: plotW, H: panelH, X0: marginL, XLabel: "seconds", YLabel: ylabel}
		var ymax float64
		for s := range r.Timeline {
			for _, n := range names {
				ymax = math.Max(ymax, get(s)[n])
			}
		}
		if len(names) == 0 || ymax == 0 || tmax == 0 {
			p.Empty = true
			return p
		}
		ymax = niceCeil(ymax)
		p.XTicks = linearTicks(0, tmax, plotW, false)
		p.YTicks = linearTicks(0, ymax, panelH, true)
		for k, n := range names {
			var pts []string
			last := 0.0
			for s := range r.Timeline {
				v, ok := get(s)[n]
				if !ok {
					continue
				}
				x := r.Timeline[s].T / tmax * float64(plotW)
				y := float64(panelH) - v/ymax*float64(panelH)
				last = y
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			}
			p.Series = append(p.Series, svgSeries{Name: n, Color: palette[k%len(palette)], Points: strings.Join(pts, " "), LabelY: int(last) + 4})
		}
		spreadLabels(p.Series)
		return p
	}
	d.Panels = append(d.Panels,
		timePanel(0, "throughput", "per second", rateNames, func(s int) map[string]float64 { return r.Timeline[s].Rates }),
		timePanel(1, "p99 latency per interval", "ms", p99Names, func(s int) map[string]float64 { return r.Timeline[s].P99Ms }))

	// Percentile curve: x is the number of nines, -log10(1-p), capped at 5.
	cp := svgPanel{Title: "latency by percentile", Y: marginT + 2*(panelH+panelGap), W: plotW, H: panelH, X0: marginL, XLabel: "percentile", YLabel: "ms"}
	names := make([]string, 0, len(r.Curves))
	var ymax float64
	for n, c := range r.Curves {
		if len(c) == 0 {
			continue
		}
		names = append(names, n)
		for _, pt := range c {
			ymax = math.Max(ymax, pt.Ms)
		}
	}
	sort.Strings(names)
	if len(names) == 0 || ymax == 0 {
		cp.Empty = true
	} else {
		ymax = niceCeil(ymax)
		const maxNines = 5.0
		for i, lbl := range []string{"0", "90", "99", "99.9", "99.99", "99.999"} {
			cp.XTicks = append(cp.XTicks, svgTick{Pos: float64(i) / maxNines * float64(plotW), Label: lbl})
		}
		cp.YTicks = linearTicks(0, ymax, panelH, true)
		for k, n := range names {
			var pts []string
			last := 0.0
			for _, pt := range r.Curves[n] {
				nines := maxNines
				if pt.Percentile < 100 {
					nines = math.Min(maxNines, -math.Log10(1-pt.Percentile/100))
				}
				x := nines / maxNines * float64(plotW)
				y := float64(panelH) - pt.Ms/ymax*float64(panelH)
				last = y
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			}
			cp.Series = append(cp.Series, svgSeries{Name: n, Color: palette[k%len(palette)], Points: strings.Join(pts, " "), LabelY: int(last) + 4})
		}
		spreadLabels(cp.Series)
	}
	d.Panels = append(d.Panels, cp)
	if err := svgTmpl.Execute(w, d); err != nil {
		return fmt.Errorf("render chart: %w", err)
	}
	return nil
}

// seriesNames lists, sorted, the names that are non-zero in some sample.
func seriesNames(samples []stats.Sample, get func(s int) map[string]float64) []string {
	seen := map[string]bool{}
	for i := range samples {
		for k, v := range get(i) {
			if v != 0 {
				seen[k] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// linearTicks places five ticks from lo to hi over size pixels; on the y
// axis the pixel origin is at the bottom.
func linearTicks(lo, hi float64, size int, yAxis bool) []svgTick {
	const n = 5
	ticks := make([]svgTick, 0, n+1)
	for i := 0; i <= n; i++ {
		v := lo + (hi-lo)*float64(i)/n
		pos := float64(i) / n * float64(size)
		if yAxis {
			pos = float64(size) - pos
		}
		ticks = append(ticks, svgTick{Pos: pos, Label: formatValue(v)})
	}
	return ticks
}

// spreadLabels moves series labels apart so they do not overprint.
func spreadLabels(ss []svgSeries) {
	idx := make([]int, len(ss))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ss[idx[a]].LabelY < ss[idx[b]].LabelY })
	for k := 1; k < len(idx); k++ {
		if prev := ss[idx[k-1]].LabelY; ss[idx[k]].LabelY < prev+12 {
			ss[idx[k]].LabelY = prev + 12
		}
	}
}
