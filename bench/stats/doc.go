// Package stats records what the load generators measure (chatbench's
// engine and bench/loadgen alike): latency distributions in HdrHistogram
// form (safe for concurrent recording, sharded when thousands of
// goroutines record, exportable as JSON snapshots so worker processes can
// hand them to the parent to merge), named counters, and a once-a-second
// timeline of rates and p99 that feeds the live progress line and the SVG
// chart.
package stats
