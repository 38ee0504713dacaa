// Package bench holds chatd's comparison of its reactor with the Go
// networking libraries it competes with (cloudwego/netpoll, gnet v2 and
// package net with a goroutine per connection). It has no code of its own:
// the servers live in bench/servers/<library>, the load generator in
// bench/loadgen, the table builder in bench/report and the harness in
// run.sh. The method is in README.md: on this 2-core machine the load
// generator, not the server, bounds messages per second, so servers are
// compared by server CPU time per message (from /proc/<pid>/stat), write
// syscalls per delivery and idle RSS per connection, with libraries
// alternated within every scenario and medians taken over rounds.
package bench
