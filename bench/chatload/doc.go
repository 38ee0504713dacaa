// Package chatload is chatd's load-test engine, the work behind
// cmd/chatbench (which only parses flags and calls it): the scenarios
// (connect, login, chat, group, room, offline, files, mixed, crash) and
// what they share: the environment they run against (a chatd address, its
// admin URL or in-process process id for memory readings), user setup
// through the client SDK, the message body that carries the send time and
// the ledger number, the live progress line, and the worker protocol that
// spreads large connection counts over child processes with their own
// 127.0.0.x source addresses. Its figures go into a report.Report; its
// latencies into bench/stats.
//
// A scenario is its own logic on a common skeleton (skeleton.go): setup,
// load, verify and report phases, with runPhases doing the report,
// counters, progress line, server readings, CPU profile and accounting
// around them. chat, group, offline, files and mixed are written so;
// connect (worker processes), login (three measured phases), room (its own
// ledger of media frames) and crash (its own chatd, killed mid-run) keep a
// Run of their own built from the same parts.
package chatload
