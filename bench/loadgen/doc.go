// Command loadgen drives a bench server and reports one JSON line of
// results. It uses plain package net with a goroutine per connection: simple,
// and on loopback its cost per message is close to the servers'.
//
// Modes:
//   - echo: -conns connections, each a closed loop with -depth messages of
//     -size bytes in flight; reports round trips per second and p50/p99
//     round-trip latency, and verifies every echoed byte. With -count N
//     every connection sends exactly N messages and stops (-duration is
//     then the time limit), so a run's work is fixed: bench/instr.sh
//     counts the server's instructions over two such runs.
//   - idle: opens -conns connections, sends one byte on each and waits for
//     its echo (so every connection has been through the server's read
//     path), then holds them; reports the server's VmRSS growth per
//     connection.
//   - broadcast: -conns connections of which -senders send frames at a fixed
//     total -rate; every receiver checks that each sender's frames arrive
//     complete, in order and without gaps; reports deliveries per second and
//     send-to-delivery latency.
//
// With -pid, loadgen samples the server's CPU time, write syscalls and RSS
// from /proc around the measured window, so CPU per message covers exactly
// the messages counted.
package main
