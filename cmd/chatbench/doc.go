// Command chatbench is chatd's load tester: it drives a running chatd (or
// one it starts in-process when given no --addr) through one scenario at a
// time (connect, login, chat, group, room, offline, files, mixed), shows a
// live progress line, verifies that no acknowledged message was lost or
// duplicated, and prints a final table, optionally also a JSON report and
// an SVG chart. Large connection counts are spread over worker processes
// (--workers) with their own 127.0.0.x source addresses; their histograms
// are merged. bench/loadtest.sh runs the standard suite.
package main
