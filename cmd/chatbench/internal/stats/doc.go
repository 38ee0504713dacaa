// Package stats records what chatbench measures: latency distributions in
// HdrHistogram form (safe for concurrent recording, exportable as JSON
// snapshots so worker processes can hand them to the parent to merge),
// named counters, and a once-a-second timeline of rates and p99 that feeds
// the live progress line and the SVG chart.
package stats
