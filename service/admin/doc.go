// Package admin is chatd's operator HTTP listener, kept apart from the chat
// and file ports and bound to loopback by default: /metrics exposes every
// metric registered with github.com/VictoriaMetrics/metrics (the service's
// chatd_* counters and histograms, Go runtime and process CPU, memory and
// file descriptors) in the Prometheus text format, plus the event-loop
// counters and the sessions online read from the server at scrape time;
// /healthz answers 200 while the process runs, /readyz 200 only while the
// server accepts work (503 before start and during shutdown, so a load
// balancer drains it); /debug/pprof/ serves the runtime profiles. What it
// needs from the server is the small Source interface, so it is tested
// with a fake.
package admin
