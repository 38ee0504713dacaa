// Package report turns one chatbench scenario's measurements into output:
// the final plain-text table, the JSON report (--json), and an SVG chart
// (--svg) of throughput and p99 over time and the latency percentile curve,
// drawn with text/template so no plotting library is needed.
package report
