// Command chatbench is chatd's load tester: it drives a running chatd (or
// one it starts in-process when given no --addr) through one scenario at a
// time, shows a live progress line, verifies that no acknowledged message
// was lost or duplicated, and prints a final table, optionally also a JSON
// report (--json) and an SVG chart (--svg). bench/loadtest.sh runs the
// standard suite and writes bench/LOADTEST.md. This command is only flags
// and output: the scenarios and their measurement live in bench/chatload.
//
// Usage:
//
//	chatbench [shared flags] <scenario> [scenario flags]
//	chatbench summary REPORT.json...    Markdown of saved reports
//	chatbench [--accounts FILE] [--addr ADDR] cleanup
//	                                    delete the accounts runs recorded
//
// Scenarios: connect (hold N logged-in sessions; chatd RSS per session),
// login (password and token logins measured apart), chat (1:1 pairs),
// group (fan-out), room (live media and room.say), offline (backlog at
// login), files (file port transfers with chat latency alongside), mixed
// (a soak with presence churn), crash (kill -9 and restart of a chatd that
// chatbench starts itself). 'chatbench <scenario> -h' lists the flags.
//
// Examples:
//
//	chatbench chat --pairs 50 --duration 15s                  # in-process chatd
//	chatbench --addr 127.0.0.1:9000 --admin http://127.0.0.1:9090 \
//	    --workers 2 connect --conns 19000 --hold 30s          # two worker processes
//	chatbench --addr 127.0.0.1:9000 --json chat.json --svg chat.svg \
//	    chat --rate 2000 --duration 30s                       # fixed rate, latency
//	chatbench crash --chatd ./bin/chatd --pairs 20            # kill -9 mid-run
//
// Several nodes: --addr a:9000,b:9000 names the nodes of one cluster
// (docs/cluster.md). The SDK clients of a run spread over them in turn and
// reconnect when their node goes away, to the next node, with their sends
// in flight retried there; when a client failed over, the chat scenario
// syncs each conversation once after its drain if a delivery is still
// owed (what an application does after a fail-over), so killing or
// stopping a node during a run must still leave 0 lost and 0 duplicated
// messages. Raw connections (group --raw, room, login, connect) spread
// over the nodes by index and do not fail over.
//
// Measurement: every message body carries its ledger number and send time
// ("cb <n> <unix ns>"), so latency is taken at the receiver and every push
// is matched to the send it came from; HdrHistogram keeps the latency
// distributions. With --workers N the connect scenario re-executes this
// binary N times (a hidden subcommand), each worker dialling from its own
// source address 127.0.0.(2+i) and holding at most 19,000 connections
// (the per-process open-file limit here is 20,000; a source address has
// about 28,000 ephemeral ports); workers print JSON lines with their
// counts and exported histograms, and the parent merges them. Server
// memory and CPU come from chatd's admin /metrics (--admin) or /proc
// (--pid, or our own process when chatd runs in-process).
//
// Accounts: every run names its accounts <run id>_<scenario letter><n>.
// Against a chatd given by --addr, which outlives the run, the names are
// appended to --accounts (chatbench-accounts.jsonl by default; one JSON
// line per scenario setup with the run id and address), so the accounts a
// run left behind can be found and removed; the table says where.
// `chatbench cleanup` removes them: it logs each recorded account in on its
// record's address (or --addr, the same chatd reached another way, over
// --transport) and sends account.delete, so the server applies every
// effect of a deletion; names that never registered count as absent. It
// removes the file when nothing is left in it, else keeps in it only the
// accounts it could not delete (exit status 1). Run it when no run is
// appending to the file.
//
// Exit status: 0 when everything verified, 1 when a verification failed
// (lost or duplicated messages, failed connections), 2 for usage errors,
// 3 when the scenario could not run.
package main
