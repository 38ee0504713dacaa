#!/usr/bin/env bash
# bench/loadtest.sh: the entry point of `make loadtest`.
#
# Builds chatd and chatbench into a temporary directory, starts a fresh
# chatd on loopback (temporary data dir, fixed high ports, admin listener
# on for /metrics and pprof, the per-connection message rate limit lifted
# because one load-generator connection sends faster than a person), runs
# chatbench's standard suite against it, profiles chatd during the chat
# scenario, stops chatd, and writes bench/LOADTEST.md with the machine, the
# exact commands and the figures. Every step is bounded by a timeout and
# every process is stopped on exit.
#
# Environment (defaults in brackets):
#   CHAT_PORT, FILE_PORT, ADMIN_PORT   chatd ports [random free ports in 20000-31999]
#   CONNECT_CONNS   connections held by the first connect run [10000]; a
#                   second run always holds 19,000 (the goal's size)
#   WORKERS         chatbench worker processes for connect [2]
#   SOAK            mixed scenario length [30s]
#   MYSQL_ADDR      MySQL/MariaDB (root, empty password) for the chat-mysql
#                   run, skipped when nothing answers [127.0.0.1:3306]
#   NOTE            free text put into LOADTEST.md (e.g. "machine was busy")
#   OUT             where LOADTEST.md goes [bench/LOADTEST.md]
#   RESULTS         where the JSON reports, SVG charts and the CPU profile
#                   are kept (git-ignored) [bench/out/loadtest]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# free_port prints a random TCP port below the ephemeral range that nothing
# listens on (the ephemeral range is left to the load generator's dials).
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		if [[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]]; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}
CHAT_PORT=${CHAT_PORT:-$(free_port)}
FILE_PORT=${FILE_PORT:-$(free_port)}
ADMIN_PORT=${ADMIN_PORT:-$(free_port)}
CONNECT_CONNS=${CONNECT_CONNS:-10000}
WORKERS=${WORKERS:-2}
SOAK=${SOAK:-30s}
NOTE=${NOTE:-}
OUT=${OUT:-$ROOT/bench/LOADTEST.md}
RESULTS=${RESULTS:-$ROOT/bench/out/loadtest}
GO=${GO:-go}
MYSQL_ADDR=${MYSQL_ADDR:-127.0.0.1:3306}

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chatd-loadtest.XXXXXX")
CHATD_PID=""
stop_chatd() {
	if [[ -n $CHATD_PID ]] && kill -0 "$CHATD_PID" 2>/dev/null; then
		kill -TERM "$CHATD_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$CHATD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$CHATD_PID" 2>/dev/null || true
		wait "$CHATD_PID" 2>/dev/null || true
	fi
	CHATD_PID=""
}
MYSQL_DB=""
cleanup() {
	stop_chatd
	if [[ -n $MYSQL_DB ]]; then
		mariadb -uroot -h"${MYSQL_ADDR%:*}" -P"${MYSQL_ADDR#*:}" -e "DROP DATABASE IF EXISTS $MYSQL_DB" || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SOURCE="commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null | awk '$2 != "bench/LOADTEST.md" {print $2}' | tr '\n' ' ')
if [[ -n $DIRTY ]]; then
	SOURCE="$SOURCE plus uncommitted changes in: $DIRTY"
fi
log "building chatd and chatbench into $WORK/bin"
(cd "$ROOT" && "$GO" build -o "$WORK/bin/" ./cmd/chatd ./cmd/chatbench)
CHATD=$WORK/bin/chatd
CHATBENCH=$WORK/bin/chatbench

CHATD_BASE=(--chat-addr "127.0.0.1:$CHAT_PORT" --file-addr "127.0.0.1:$FILE_PORT" --discovery-addr "" --web-addr ""
	--admin-addr "127.0.0.1:$ADMIN_PORT" --msg-rate 1000000 --msg-burst 1000000 --log-level warn --log-format json)
CHATD_ARGS=("${CHATD_BASE[@]}" --data-dir "$WORK/data")
# The fresh chatds of the memory and token-login runs hash passwords
# cheaply: those runs need thousands of accounts or device tokens, each one
# argon2id password login at the default cost (about 80 ms of CPU here),
# and token logins never hash.
CHEAP_HASH=(--argon2-memory 64KiB --argon2-time 1)
# start_chatd DATA_DIR [EXTRA ARGS...]: a fresh chatd on the suite's ports.
start_chatd() {
	local data=$1
	shift
	local args=("${CHATD_BASE[@]}" --data-dir "$data" "$@")
	log "starting chatd ${args[*]}"
	"$CHATD" "${args[@]}" >>"$WORK/chatd.out" 2>>"$WORK/chatd.log" &
	CHATD_PID=$!
	wait_ready "http://127.0.0.1:$ADMIN_PORT" "$CHATD_PID" "$WORK/chatd.log"
}

mkdir -p "$WORK/results"
COMMANDS=()
FAILED=()
# bench NAME TIMEOUT ARGS...: one chatbench run against the local chatd.
bench() {
	local name=$1 limit=$2
	shift 2
	local cmd=(chatbench --addr "127.0.0.1:$CHAT_PORT" --admin "http://127.0.0.1:$ADMIN_PORT" --json "$name.json" --svg "$name.svg" "$@")
	COMMANDS+=("${cmd[*]}")
	log "== $name: ${cmd[*]}"
	local rc=0
	(cd "$WORK/results" && timeout --kill-after=10s "$limit" "$CHATBENCH" "${cmd[@]:1}") >"$WORK/results/$name.txt" || rc=$?
	cat "$WORK/results/$name.txt" >&2
	if [[ $rc != 0 ]]; then
		log "$name exited with $rc"
		FAILED+=("$name (exit $rc)")
	fi
}

START=$(date -u +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
PSI_START=$(head -1 /proc/pressure/cpu 2>/dev/null || echo "n/a")
# Memory per session from a fresh process (issue 18): 19,000 sessions of 20
# accounts, then of 19,000 accounts, each on its own chatd; token re-logins
# with one token per device on those chatds, with empty lists and then with
# friends and conversations.
start_chatd "$WORK/data-fresh1" "${CHEAP_HASH[@]}"
bench connect-19000 150s --label connect-19000 --workers "$WORKERS" connect --conns 19000 --users 20 --hold 10s
bench login 180s --cpu-profile login.cpu.pprof --profile-seconds 3 login --users 5000 --token-logins 10000
stop_chatd
start_chatd "$WORK/data-fresh2" "${CHEAP_HASH[@]}"
bench connect-19000-accounts 300s --label connect-19000-accounts --workers "$WORKERS" connect --conns 19000 --users 19000 --hold 10s
bench login-friends 300s --label login-friends login --users 2000 --friends 5 --token-logins 10000
stop_chatd
# One message a second to a group of 10,000 members, every member online:
# how long until the last one has it.
start_chatd "$WORK/data-fresh3" "${CHEAP_HASH[@]}"
bench group-10000 300s --label group-10000 group --groups 1 --members 10000 --senders 1 --rate 1 --duration 10s --all-within 100ms
stop_chatd
start_chatd "$WORK/data"
bench connect 150s --workers "$WORKERS" connect --conns "$CONNECT_CONNS" --users 20 --hold 10s
# Closed loop for throughput, with a CPU profile of chatd while it sends;
# then a fixed rate well below saturation for latency.
bench chat 120s --cpu-profile chat.cpu.pprof --profile-seconds 8 chat --pairs 50 --duration 15s --inflight 4
bench chat-rate 120s --label chat-rate chat --pairs 50 --duration 10s --rate 2000 --inflight 4
bench group 120s --cpu-profile group.cpu.pprof --profile-seconds 6 group --groups 4 --members 50 --senders 2 --devices 8 --duration 10s
bench room 120s room --members 2000 --users 20 --fps 20 --duration 10s --says 5
# The goal's size (issue 13): 19,000 members over 1,000 accounts, so the room
# is past the announce threshold and counts its members instead.
bench room-19000 300s --label room-19000 room --members 19000 --users 1000 --fps 20 --duration 5s --says 5 --setup-concurrency 128
bench offline 120s offline --pairs 50 --per-user 200
bench mixed 180s mixed --pairs 20 --group-members 10 --duration "$SOAK"
# Four 500 MiB transfers at once (issue 18): the chat p99 beside them
# against the same chat alone just before.
bench files 420s files --pairs 4 --size-mb 500 --rounds 1
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
PSI_END=$(head -1 /proc/pressure/cpu 2>/dev/null || echo "n/a")
CHATD_RSS_END=$(curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" | awk '$1=="process_resident_memory_bytes"{printf "%d", $2}')
stop_chatd
# A scenario that runs its own server: kill -9 of a chatd child in the
# middle of the chat load, then a restart on the same data.
bench_own() {
	local name=$1 limit=$2
	shift 2
	local cmd=(chatbench --json "$name.json" --svg "$name.svg" "$@")
	COMMANDS+=("${cmd[*]}")
	log "== $name: ${cmd[*]}"
	local rc=0
	(cd "$WORK/results" && timeout --kill-after=10s "$limit" "$CHATBENCH" "${cmd[@]:1}") >"$WORK/results/$name.txt" || rc=$?
	cat "$WORK/results/$name.txt" >&2
	if [[ $rc != 0 ]]; then
		log "$name exited with $rc"
		FAILED+=("$name (exit $rc)")
	fi
}
bench_own crash 120s crash --chatd "$CHATD" --pairs 20 --duration 15s --kill-after 5s --down 1s
# 1:1 chat on MySQL/MariaDB (issue 18's second store figure), on a fresh
# chatd and a database of its own, when a server answers at MYSQL_ADDR.
if mariadb -uroot -h"${MYSQL_ADDR%:*}" -P"${MYSQL_ADDR#*:}" -e 'SELECT 1' >/dev/null 2>&1; then
	MYSQL_DB=chatd_loadtest_$(date -u +%s)
	mariadb -uroot -h"${MYSQL_ADDR%:*}" -P"${MYSQL_ADDR#*:}" -e "CREATE DATABASE $MYSQL_DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	start_chatd "$WORK/data-mysql" --mysql-dsn "root:@tcp($MYSQL_ADDR)/$MYSQL_DB?charset=utf8mb4&collation=utf8mb4_unicode_ci&clientFoundRows=true&interpolateParams=true"
	bench chat-mysql 120s --label chat-mysql chat --pairs 50 --duration 15s --inflight 4
	stop_chatd
	mariadb -uroot -h"${MYSQL_ADDR%:*}" -P"${MYSQL_ADDR#*:}" -e "DROP DATABASE $MYSQL_DB"
	MYSQL_DB=""
else
	log "no MySQL server at $MYSQL_ADDR: the chat-mysql run is skipped"
fi
SUITE_S=$(($(date -u +%s) - START))

PROFILE_TOP=""
GROUP_TOP=""
LOGIN_TOP=""
if [[ -s $WORK/results/login.cpu.pprof ]]; then
	LOGIN_TOP=$(cd "$ROOT" && "$GO" tool pprof -top -cum -nodecount=25 "$CHATD" "$WORK/results/login.cpu.pprof" 2>/dev/null | sed -n '1,35p' || true)
fi
if [[ -s $WORK/results/chat.cpu.pprof ]]; then
	PROFILE_TOP=$(cd "$ROOT" && "$GO" tool pprof -top -nodecount=30 "$CHATD" "$WORK/results/chat.cpu.pprof" 2>/dev/null | sed -n '1,40p' || true)
fi
if [[ -s $WORK/results/group.cpu.pprof ]]; then
	GROUP_TOP=$(cd "$ROOT" && "$GO" tool pprof -top -nodecount=20 "$CHATD" "$WORK/results/group.cpu.pprof" 2>/dev/null | sed -n '1,30p' || true)
fi

NAMES="connect-19000 connect-19000-accounts login login-friends group-10000 connect chat chat-rate chat-mysql group room room-19000 offline mixed files crash"
# The cluster section (bench/cluster.sh, written up by hand) is kept when
# this suite rewrites the file.
CLUSTER_SECTION=""
if [[ -f $OUT ]]; then
	CLUSTER_SECTION=$(sed -n '/^<!-- cluster:begin -->$/,/^<!-- cluster:end -->$/p' "$OUT")
fi
log "writing $OUT"
{
	echo "# chatbench load test"
	echo
	echo "Written by \`make loadtest\` (bench/loadtest.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); the suite took ${SUITE_S} s."
	echo
	echo "## Machine"
	echo
	echo "- CPUs: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
	echo "- Kernel: $(uname -sr)"
	echo "- Go: $("$GO" version | cut -d' ' -f3-)"
	echo "- Source built: $SOURCE"
	echo "- Open-file limit per process: $(ulimit -n)"
	echo "- chatd and chatbench ran on the same machine over loopback; chatd's data dir was a fresh temporary directory (embedded SQLite store)."
	echo "- Load average (1, 5, 15 min) when the suite started: $LOAD_START; when the shared-chatd part ended: $LOAD_END. On 2 CPUs anything well above 2 means other work (other engineers' builds and tests) shared the machine, so figures are lower and noisier than on an idle machine."
	echo "- CPU pressure (/proc/pressure/cpu, share of time some runnable task waited for a CPU) at the start: \`$PSI_START\`; at the end: \`$PSI_END\`."
	if [[ -n $NOTE ]]; then
		echo "- Note: $NOTE"
	fi
	echo
	echo "## chatd"
	echo
	echo '```'
	echo "chatd $(printf "%q " "${CHATD_ARGS[@]}")" | sed "s#$WORK#\$TMP#g"
	echo '```'
	echo
	echo "\`--msg-rate\`/\`--msg-burst\` lift the per-connection limit of 50 messages/s (the default protects a server from one client; a load test sends from few connections). Everything else is chatd's default, including argon2id at m=19 MiB, t=2 for every registration and password login. RSS of chatd at the end of the suite: $((CHATD_RSS_END / 1048576)) MiB."
	echo
	echo "chat-mysql ran last, on a fresh chatd with the same flags plus \`--mysql-dsn\` naming a new database on the machine's MariaDB (dropped afterwards), which committed with an fsync per transaction (Debian's defaults)."
	echo
	echo "The first five runs (connect-19000 and login, connect-19000-accounts and login-friends, group-10000) ran on three fresh chatds of their own, with the same flags plus \`$(printf "%s " "${CHEAP_HASH[@]}")\`: they need thousands of accounts or device tokens, each one argon2id password login, which token logins and held sessions never repeat. So the memory figures are from a fresh process, and every token login presents its own device's token."
	echo
	echo "## Commands"
	echo
	echo '```'
	for c in "${COMMANDS[@]}"; do echo "$c"; done | sed "s#$WORK#\$TMP#g"
	echo '```'
	echo
	if ((${#FAILED[@]} > 0)); then
		echo "**Runs that exited non-zero** (1: verification failed, 3: could not run, 124: timed out): ${FAILED[*]}"
		echo
	fi
	echo "## Goals and figures"
	echo
	(cd "$WORK/results" && "$CHATBENCH" summary $(for n in $NAMES; do [[ -s $n.json ]] && echo "$n.json"; done))
	if [[ -n $PROFILE_TOP ]]; then
		echo "## chatd CPU profile during the chat scenario (first 8 s of sending)"
		echo
		echo '```'
		echo "$PROFILE_TOP"
		echo '```'
		echo
	fi
	if [[ -n $LOGIN_TOP ]]; then
		echo "## chatd CPU profile during the token logins (3 s, sorted by cumulative time)"
		echo
		echo '```'
		echo "$LOGIN_TOP"
		echo '```'
		echo
	fi
	if [[ -n $GROUP_TOP ]]; then
		echo "## chatd CPU profile during the group scenario (first 6 s of sending)"
		echo
		echo '```'
		echo "$GROUP_TOP"
		echo '```'
		echo
	fi
	echo "JSON reports, SVG charts (throughput and p99 over time, percentile curves) and the CPU profile are written to \`bench/out/loadtest/\` (not committed)."
	echo
	if [[ -n $CLUSTER_SECTION ]]; then
		echo "$CLUSTER_SECTION"
		echo
	fi
	echo "## Raw output"
	echo
	for n in $NAMES; do
		[[ -s $WORK/results/$n.txt ]] || continue
		echo "<details><summary>$n</summary>"
		echo
		echo '```'
		cat "$WORK/results/$n.txt"
		echo '```'
		echo
		echo "</details>"
		echo
	done
} | sed "s#$WORK#\$TMP#g" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
mkdir -p "$RESULTS"
cp "$WORK"/results/* "$RESULTS"/ 2>/dev/null || true
log "reports, charts and profile kept in $RESULTS"
log "done: $OUT"
