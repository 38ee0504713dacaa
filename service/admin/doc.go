// Package admin is chatd's operator HTTP listener, kept apart from the chat
// and file ports and bound to loopback by default.
//
// /metrics serves the Prometheus text format: every metric registered on
// client_golang's default registry (the service's chatd_* counters and
// le-bucket histograms, the Go runtime and process collectors) plus the
// collectors the caller passes (the server's event-loop counters,
// chatd_build_info). /healthz answers 200 while the process runs. /readyz
// answers 200 only while every readiness Check passes within a bound (the
// caller's list: the service accepting work, the store answering a ping,
// in cluster mode the bus), else 503 with the failing checks, so a load
// balancer drains the instance. /debug/pprof/ serves the runtime profiles.
// The package knows nothing of the reactor or the store: what it reads is
// passed in as checks and collectors, so it is tested with fakes.
//
// Why prometheus/client_golang and not VictoriaMetrics/metrics v1.45 (which
// chatd used before, with vmrange histograms stock Prometheus cannot use):
// VictoriaMetrics' metadata mode writes "# HELP name" with no text, and its
// le-bucket PrometheusHistogram takes a mutex on every observation, while
// client_golang is the reference implementation of the format operators
// scrape: HELP text on every family, le buckets, and the Go and process
// collectors whose metric names every ready-made dashboard expects. Its
// counters and histograms are lock-free atomics, as cheap on the hot path
// as what they replace.
package admin
