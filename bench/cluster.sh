#!/usr/bin/env bash
# bench/cluster.sh: the entry point of `make loadtest-cluster`, issue 16's
# scale runs against real chatd processes clustered over NATS and MariaDB.
#
# Each run starts fresh chatd processes on a database of its own
# (chatd_scale_<run>_<time>, created here, dropped after unless KEEP_DB=1),
# all joined to one NATS server, runs one chatbench scenario with the chat
# addresses of every node, and stops them (SIGTERM). Beside chatbench's own
# report it records what chatbench cannot see from one admin port:
#   - every node's RSS (after a forced GC, once it stops falling) before the
#     load and while the connect scenario holds its sessions;
#   - the CPU time of each chatd node, mariadbd, nats-server and chatbench
#     over the sending phase, from /proc/<pid>/stat sampled every second
#     (the phase is the report's start + setup time + duration);
#   - the load average at the start and end of each run.
# The kill run sends kill -9 to node 2 KILL_AFTER seconds after the first
# message is stored (seen in node 1's metrics), while chatbench's clients
# fail over and its ledger counts lost and duplicated messages.
#
# Nodes run with --idle-timeout 15m: chatbench pings its held connections
# only once every connection is up, and a ramp over MySQL can take longer
# than the default 90 s, which closed the first sessions mid-ramp.
#
# Results (chatbench JSON and text, node logs, results.txt with the extra
# figures) go to RESULTS. The figures are written up by hand in
# bench/LOADTEST.md ("Cluster (issue 16)") and docs/cluster.md.
#
# Environment (defaults in brackets):
#   RUNS        runs, in order [connect chat chat-one chat-rate group kill group-kill]
#                 connect   CONNS logged-in sessions over the nodes, WORKERS processes
#                 chat      PAIRS pairs of friends, partners on different nodes
#                 chat-rate the chat run at a fixed RATE, below saturation (latency)
#                 chat-one  the same chat run against one chatd (MySQL, no cluster)
#                 group     one group of GROUP_MEMBERS members spread over the nodes
#                 kill      the chat run with node 2 killed (SIGKILL) in the middle
#                 group-kill  the group run (SDK receivers, which fail over) with node 2 killed
#   NODES [3]  CONNS [50000]  WORKERS [3]  USERS [20] (accounts of connect)  RATE [3000] (msg/s)  PAIRS [50]  INFLIGHT [4]  DURATION [15s]
#   GROUP_MEMBERS [1000]  GROUP_SENDERS [2]  GROUP_DURATION [15s]  KILL_AFTER [8] (s)
#   KILL_DURATION [30s]   NATS_URL [nats://127.0.0.1:4222]  MYSQL [root:@tcp(127.0.0.1:3306)]
#   BASE_PORT [21000]: node i listens on chat BASE+10+i, file +20+i, web +30+i, admin +40+i
#   BIN  directory with chatd and chatbench [built into a temporary directory]
#   PROFILE [0]: 1 saves a CPU profile of node 1 (8 s of sending) as RESULTS/RUN.node1.pprof
#   RESULTS [bench/out/cluster]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

RUNS=${RUNS:-connect chat chat-one chat-rate group kill group-kill}
NODES=${NODES:-3}
CONNS=${CONNS:-50000}
WORKERS=${WORKERS:-3}
USERS=${USERS:-20}
RATE=${RATE:-3000}
PAIRS=${PAIRS:-50}
INFLIGHT=${INFLIGHT:-4}
DURATION=${DURATION:-15s}
GROUP_MEMBERS=${GROUP_MEMBERS:-1000}
GROUP_SENDERS=${GROUP_SENDERS:-2}
GROUP_DURATION=${GROUP_DURATION:-15s}
KILL_AFTER=${KILL_AFTER:-8}
KILL_DURATION=${KILL_DURATION:-30s}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
MYSQL=${MYSQL:-root:@tcp(127.0.0.1:3306)}
BASE_PORT=${BASE_PORT:-21000}
RESULTS=${RESULTS:-$ROOT/bench/out/cluster}
KEEP_DB=${KEEP_DB:-0}
PROFILE=${PROFILE:-0}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chatd-cluster.XXXXXX")
if [[ -z ${BIN:-} ]]; then
	BIN=$WORK/bin
	log "building chatd and chatbench into $BIN"
	(cd "$ROOT" && go build -o "$BIN/" ./cmd/chatd ./cmd/chatbench)
fi
CHATD=$BIN/chatd
CHATBENCH=$BIN/chatbench
mkdir -p "$RESULTS"
SUMMARY=$RESULTS/results.txt
SECRET=cluster-bench-file-secret-0123456789
MYSQL_HOST=${MYSQL#*tcp(}
MYSQL_HOST=${MYSQL_HOST%)*}

# The nodes of the current run: pids, chat addresses, admin URLs.
PIDS=()
ADDRS=()
ADMINS=()
DB=""
SAMPLER=""
WATCHER=""

sql() { mariadb -h "${MYSQL_HOST%:*}" -P "${MYSQL_HOST#*:}" -u root -e "$1"; }
dsn() { echo "$MYSQL/$1?charset=utf8mb4&collation=utf8mb4_unicode_ci&clientFoundRows=true&interpolateParams=true"; }
out() { echo "$*" | tee -a "$SUMMARY"; }

# start_nodes RUN N CLUSTER(1/0): N chatd processes on a fresh database.
start_nodes() {
	local run=$1 n=$2 clustered=$3
	DB="chatd_scale_${run//-/_}_$(date +%s)"
	sql "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	PIDS=()
	ADDRS=()
	ADMINS=()
	for i in $(seq 1 "$n"); do
		local dir=$WORK/$run/n$i
		mkdir -p "$dir"
		local args=(--mysql-dsn "$(dsn "$DB")" --data-dir "$dir/data" --file-secret "$SECRET"
			--chat-addr "127.0.0.1:$((BASE_PORT + 10 + i))" --file-addr "127.0.0.1:$((BASE_PORT + 20 + i))"
			--web-addr "127.0.0.1:$((BASE_PORT + 30 + i))" --admin-addr "127.0.0.1:$((BASE_PORT + 40 + i))"
			--discovery-addr "" --msg-rate 1000000 --msg-burst 1000000 --idle-timeout 15m --log-level warn --log-format json)
		if [[ $clustered == 1 ]]; then
			args+=(--cluster-nats "$NATS_URL" --node-id "s16n$i")
		fi
		echo "chatd ${args[*]}" | sed "s#$WORK#\$TMP#g" >"$RESULTS/$run.chatd$i.cmd"
		(
			ulimit -n "$(ulimit -Hn)"
			exec "$CHATD" "${args[@]}" >"$dir/out" 2>"$dir/log"
		) &
		PIDS+=($!)
		ADDRS+=("127.0.0.1:$((BASE_PORT + 10 + i))")
		ADMINS+=("http://127.0.0.1:$((BASE_PORT + 40 + i))")
		# The first node applies the schema; the others start once it is ready.
		wait_ready "${ADMINS[-1]}" "${PIDS[-1]}" "$dir/log"
	done
	log "nodes of $run up: pids ${PIDS[*]} on $DB"
}

# save_metrics RUN: every live node's /metrics into RESULTS/RUN.chatdI.metrics,
# and the counters that show where the work went into the summary.
save_metrics() {
	local run=$1 i
	for i in "${!ADMINS[@]}"; do
		local f=$RESULTS/$run.chatd$((i + 1)).metrics
		curl -fsS "${ADMINS[$i]}/metrics" >"$f" 2>/dev/null || continue
		out "metrics chatd$((i + 1)): $(awk '$1 ~ /^(chatd_bus_sent_total|chatd_bus_received_total|chatd_gate_filled_total|chatd_gate_dropped_total|chatd_store_batch_size_sum|chatd_store_batch_size_count|chatd_store_commit_seconds_count|chatd_msg_pushes_total|chatd_bus_announce_late_total)$/ {printf "%s=%s ", $1, $2}' "$f")"
	done
}

stop_nodes() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 1 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
	if [[ -n $DB && $KEEP_DB != 1 ]]; then
		sql "DROP DATABASE IF EXISTS $DB" || true
	fi
	DB=""
}

stop_sampler() {
	if [[ -n $SAMPLER ]]; then
		kill "$SAMPLER" 2>/dev/null || true
		wait "$SAMPLER" 2>/dev/null || true
	fi
	SAMPLER=""
}

cleanup() {
	stop_sampler
	stop_nodes
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# rss_settled ADMIN PID: RSS in bytes after forced GCs, once it falls by
# less than 512 KiB in 2 s (at most 20 s), as chatbench reads its one node.
rss_settled() {
	local admin=$1 pid=$2 prev now
	curl -fsS "$admin/debug/pprof/heap?gc=1" >/dev/null
	prev=$(awk '/^VmRSS/{print $2*1024}' "/proc/$pid/status")
	for _ in $(seq 1 10); do
		sleep 2
		curl -fsS "$admin/debug/pprof/heap?gc=1" >/dev/null
		now=$(awk '/^VmRSS/{print $2*1024}' "/proc/$pid/status")
		if ((now >= prev - 524288)); then
			prev=$now
			break
		fi
		prev=$now
	done
	echo "$prev"
}

# metric ADMIN NAME: the value of an unlabelled metric (empty if absent).
metric() {
	local body
	body=$(curl -fsS "$1/metrics" 2>/dev/null) || return 0
	awk -v m="$2" '$1==m && !v {v=$2} END{print v}' <<<"$body"
}

# sample_cpu FILE NAME=PID...: every second one line: unix time, then
# utime+stime in clock ticks of each process, then the machine's busy and
# total ticks (/proc/stat).
sample_cpu() {
	local f=$1
	shift
	while :; do
		local line
		line="$(date +%s.%N)"
		for np in "$@"; do
			local pid=${np#*=} t=""
			t=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || true)
			line+=" ${np%%=*}=${t:-x}"
		done
		line+=" $(awk '/^cpu /{print "busy=" $2+$3+$4+$7+$8+$9 " all=" $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)"
		echo "$line" >>"$f"
		sleep 1
	done
}

# cpu_split SAMPLES FROM TO: cores used by each sampled process between
# unix times FROM and TO (first and last samples inside the window).
cpu_split() {
	awk -v from="$1" -v to="$2" -v hz="$(getconf CLK_TCK)" '
	$1 >= from && $1 <= to { if (!n++) { split($0, a) } ; split($0, b); nb = NF }
	END {
		if (n < 2) { print "cpu split: window too short"; exit }
		secs = b[1] - a[1]; out = sprintf("cpu over %.1f s (cores):", secs)
		for (i = 2; i <= nb; i++) {
			split(a[i], x, "="); split(b[i], y, "=")
			if (x[1] == "busy" || x[1] == "all") { v[x[1]] = y[2] - x[2]; continue }
			if (x[2] == "x" || y[2] == "x") { out = out sprintf(" %s=gone", x[1]); continue }
			out = out sprintf(" %s=%.2f", x[1], (y[2] - x[2]) / hz / secs)
		}
		out = out sprintf(" machine-busy=%.2f of %d", v["busy"] / v["all"] * 2, 2)
		print out
	}' "$3"
}

# load_window JSON: the sending phase as "FROM TO" unix times (started +
# setup, + duration), shrunk by one second at each end.
load_window() {
	local started setup dur
	started=$(date -d "$(jq -r .started "$1")" +%s.%N)
	setup=$(jq -r '.notes[] | select(startswith("setup")) | capture("took (?<s>[0-9.]+) s").s' "$1" | head -1)
	dur=$(jq -r .duration_s "$1")
	awk -v s="$started" -v u="${setup:-0}" -v d="$dur" 'BEGIN{printf "%.3f %.3f\n", s+u+1, s+u+d-1}'
}

# bench RUN ARGS...: chatbench against the current nodes, with the CPU of
# every process sampled; leaves RUN.json and RUN.txt in RESULTS.
bench() {
	local run=$1
	shift
	local addrs
	addrs=$(
		IFS=,
		echo "${ADDRS[*]}"
	)
	local prof=()
	if [[ $PROFILE == 1 ]]; then prof=(--cpu-profile "$run.node1.pprof" --profile-seconds 8); fi
	local cmd=(chatbench --addr "$addrs" --admin "${ADMINS[0]}" --json "$run.json" --label "$run" --quiet --accounts "" "${prof[@]}" "$@")
	out "== $run: ${cmd[*]}"
	out "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	local names=() i
	for i in "${!PIDS[@]}"; do names+=("chatd$((i + 1))=${PIDS[$i]}"); done
	names+=("mariadbd=$(pgrep -xo mariadbd || pgrep -xo mysqld)" "nats=$(pgrep -xo nats-server || echo 0)")
	# What the machine does without us (other work, other databases on
	# the same mariadbd): 5 s before the run.
	rm -f "$RESULTS/$run.idle.cpu"
	sample_cpu "$RESULTS/$run.idle.cpu" "${names[@]}" &
	SAMPLER=$!
	sleep 5.5
	stop_sampler
	out "$(cpu_split 0 9999999999 "$RESULTS/$run.idle.cpu") (5 s before the run, nodes idle)"
	local rc=0
	(cd "$RESULTS" && exec "$CHATBENCH" "${cmd[@]:1}") >"$RESULTS/$run.txt" 2>"$RESULTS/$run.err" &
	local cb=$!
	rm -f "$RESULTS/$run.cpu"
	sample_cpu "$RESULTS/$run.cpu" "${names[@]}" "chatbench=$cb" &
	SAMPLER=$!
	if [[ -n ${ON_START:-} ]]; then $ON_START; fi
	wait "$cb" || rc=$?
	stop_sampler
	if [[ -n $WATCHER ]]; then
		kill "$WATCHER" 2>/dev/null || true
		wait "$WATCHER" 2>/dev/null || true
		WATCHER=""
	fi
	out "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	out "chatbench exit $rc"
	save_metrics "$run"
	cat "$RESULTS/$run.txt" >>"$SUMMARY"
	if [[ -s $RESULTS/$run.json ]]; then
		# shellcheck disable=SC2046
		out "$(cpu_split $(load_window "$RESULTS/$run.json") "$RESULTS/$run.cpu")"
	fi
}

node_rss_line() {
	local what=$1 i s=""
	for i in "${!PIDS[@]}"; do
		s+=" chatd$((i + 1))=$(rss_settled "${ADMINS[$i]}" "${PIDS[$i]}")"
	done
	out "rss $what (bytes, after GC):$s"
}

# watch_connect: while connect holds, every node's sessions and settled RSS.
watch_connect() {
	local i total=0 last=-1 same=0 first=""
	for _ in $(seq 1 900); do
		total=0
		for i in "${!ADMINS[@]}"; do
			local v
			v=$(metric "${ADMINS[$i]}" chatd_sessions)
			v=${v:-0}
			total=$((total + ${v%%.*}))
		done
		if [[ -z $first ]] && ((total > 0)); then first=$(date +%s.%N); fi
		if ((total >= CONNS)); then break; fi
		if ((total == last && total > 0)); then same=$((same + 1)); else same=0; fi
		if ((same >= 10)); then break; fi
		last=$total
		sleep 1
	done
	local ramped
	ramped=$(date +%s.%N)
	out "ramp seen in the nodes' sessions: $(awk -v a="${first:-$ramped}" -v b="$ramped" 'BEGIN{printf "%.1f s, %.0f sessions/s", b-a, '"$total"'/(b-a)}')"
	out "$(cpu_split "${first:-$ramped}" "$ramped" "$RESULTS/connect.cpu") (during the ramp)"
	sleep 3
	local s=""
	for i in "${!ADMINS[@]}"; do
		s+=" chatd$((i + 1))=$(metric "${ADMINS[$i]}" chatd_sessions)"
	done
	out "sessions per node while holding:$s (total $total)"
	node_rss_line "while holding"
}

# kill_node2: kill -9 of node 2 KILL_AFTER seconds after the first stored
# message (the nodes count appends in chatd_msg_append_seconds_count; a
# group's senders may all sit on other nodes than node 1). The watcher is
# stopped with the run (WATCHER), so it never signals a later process.
kill_node2() {
	(
		local n i c
		for _ in $(seq 1 600); do
			n=0
			for i in "${!ADMINS[@]}"; do
				c=$(metric "${ADMINS[$i]}" chatd_msg_append_seconds_count)
				n=$((n + ${c:-0}))
			done
			if ((n > 0)); then break; fi
			sleep 0.5
		done
		sleep "$KILL_AFTER"
		kill -KILL "${PIDS[1]}"
		out "kill -9 of node 2 (pid ${PIDS[1]}) at $(date -u +%H:%M:%S.%N | cut -c1-12), ${KILL_AFTER} s after the first stored message"
	) &
	WATCHER=$!
}

run_connect() {
	start_nodes connect "$NODES" 1
	node_rss_line "idle before the run"
	ON_START=watch_connect bench connect --workers "$WORKERS" connect --conns "$CONNS" --users "$USERS" --hold 60s
	stop_nodes
}

run_chat() {
	start_nodes chat "$NODES" 1
	bench chat chat --pairs "$PAIRS" --duration "$DURATION" --inflight "$INFLIGHT"
	stop_nodes
}

run_chat_rate() {
	start_nodes chat-rate "$NODES" 1
	bench chat-rate chat --pairs "$PAIRS" --duration "$DURATION" --inflight "$INFLIGHT" --rate "$RATE"
	stop_nodes
}

run_chat_one() {
	start_nodes chat-one 1 0
	bench chat-one chat --pairs "$PAIRS" --duration "$DURATION" --inflight "$INFLIGHT"
	stop_nodes
}

run_group() {
	start_nodes group "$NODES" 1
	bench group group --groups 1 --members "$GROUP_MEMBERS" --senders "$GROUP_SENDERS" --duration "$GROUP_DURATION"
	stop_nodes
}

run_kill() {
	start_nodes kill "$NODES" 1
	ON_START=kill_node2 bench kill chat --pairs "$PAIRS" --duration "$KILL_DURATION" --inflight "$INFLIGHT"
	stop_nodes
}

run_group_kill() {
	start_nodes group-kill "$NODES" 1
	ON_START=kill_node2 bench group-kill group --groups 1 --members "$GROUP_MEMBERS" --senders "$GROUP_SENDERS" --duration "$KILL_DURATION" --raw-receivers=false
	stop_nodes
}

out "# cluster runs $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) CPUs, open files $(ulimit -Hn)"
for r in $RUNS; do
	"run_${r//-/_}"
done
log "done: $SUMMARY"
