// Package report writes every load-test result in the repository. For a
// chatbench scenario, a Report becomes the final plain-text table, the JSON
// report (--json), Markdown for bench/LOADTEST.md, and an SVG chart
// (--svg) of throughput and p99 over time and the latency percentile curve,
// drawn with text/template so no plotting library is needed. For the
// library comparison, WriteComparison turns loadgen's JSON lines into the
// tables of bench/RESULTS.md: medians over rounds, ratios against a base
// library and the reactor's goal checks.
package report
