// Package bench is the one home of load-testing code. It holds two
// measurements and what they share. chatd under load: the engine in
// bench/chatload (scenarios, with cmd/chatbench its flags and main),
// bench/loadtest.sh and LOADTEST.md. The reactor against the Go networking
// libraries it competes with (cloudwego/netpoll, gnet v2 and package net
// with a goroutine per connection): the servers in bench/servers/<library>,
// the load generator in bench/loadgen, the table builder bench/tabulate and
// the harness run.sh. Shared: latency histograms and counters in
// bench/stats, every report writer in bench/report, /proc readers in
// bench/internal/procstat. The comparison's method is in README.md: on
// this 2-core machine the load generator, not the server, bounds messages
// per second, so servers are compared by server CPU time per message (from
// /proc/<pid>/stat), write syscalls per delivery and idle RSS per
// connection, with libraries alternated within every scenario and medians
// taken over rounds.
package bench
