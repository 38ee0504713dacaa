#!/usr/bin/env bash
# bench/run.sh: the single entry point of `make bench`.
#
# Builds the four bench servers, the load generator and the table builder (bench/tabulate) into
# bench/out/, runs the matrix (echo 100/1,000 conns x 64 B/4 KiB, idle RSS at
# 10,000 conns, broadcast 1,000 conns with 10 senders), alternating the
# libraries within every scenario and rotating which goes first each round,
# and writes bench/RESULTS.md with the medians over rounds.
#
# Environment (defaults in brackets):
#   QUICK=1        smoke run: 1 round, short durations
#   ROUNDS         rounds per library and scenario [3; QUICK: 1]
#   ECHO_DUR       measured time per echo run [4s; QUICK: 1s]
#   BC_DUR         sending time per broadcast run [5s; QUICK: 2s]
#   BC_RATE        broadcast frames/s summed over the senders [100]
#   BC_CONNS       broadcast connections [1000]; BC_SENDERS [10]; BC_SIZE payload bytes [64]
#   IDLE_CONNS     idle connections [10000]; IDLE_SETTLE [2s; QUICK: 1s]
#   LIBS           libraries ["reactor gnet netpoll net"]; those named ws-* are
#                  driven over WebSocket (loadgen -ws), those named tls-* over
#                  TLS (loadgen -tls)
#   SKIP           scenarios whose name matches this regex are left out [none]
#   BASE           library the report's ratios divide by [gnet]
#   RESULTS        the report written [bench/RESULTS.md]
#   TITLE          its heading [bench: the reactor against its peers]
#   LOOPS          -loops given to every server [nproc]
#   PORT           first port; each server run takes the next one [19500]
#   NOTE           free text put into RESULTS.md (e.g. "machine was busy")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
OUT=$BENCH/out
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	ROUNDS=${ROUNDS:-1} ECHO_DUR=${ECHO_DUR:-1s} BC_DUR=${BC_DUR:-2s} IDLE_SETTLE=${IDLE_SETTLE:-1s}
else
	ROUNDS=${ROUNDS:-3} ECHO_DUR=${ECHO_DUR:-4s} BC_DUR=${BC_DUR:-5s} IDLE_SETTLE=${IDLE_SETTLE:-2s}
fi
BC_RATE=${BC_RATE:-100}
BC_CONNS=${BC_CONNS:-1000}
BC_SENDERS=${BC_SENDERS:-10}
BC_SIZE=${BC_SIZE:-64}
IDLE_CONNS=${IDLE_CONNS:-10000}
LIBS=${LIBS:-"reactor gnet netpoll net"}
BASE=${BASE:-gnet}
RESULTS=${RESULTS:-$BENCH/RESULTS.md}
TITLE=${TITLE:-"bench: the reactor against its peers"}
LOOPS=${LOOPS:-$(nproc)}
PORT=${PORT:-19500}
NOTE=${NOTE:-}
read -r -a LIBARR <<<"$LIBS"

# Every scenario: name, server mode, loadgen arguments.
SCENARIOS=(
	"echo-c100-s64|echo|-mode echo -conns 100 -size 64 -duration $ECHO_DUR"
	"echo-c100-s4096|echo|-mode echo -conns 100 -size 4096 -duration $ECHO_DUR"
	"echo-c1000-s64|echo|-mode echo -conns 1000 -size 64 -duration $ECHO_DUR"
	"echo-c1000-s4096|echo|-mode echo -conns 1000 -size 4096 -duration $ECHO_DUR"
	"idle-c$IDLE_CONNS|echo|-mode idle -conns $IDLE_CONNS -settle $IDLE_SETTLE"
	"broadcast-c$BC_CONNS-k$BC_SENDERS|broadcast|-mode broadcast -conns $BC_CONNS -senders $BC_SENDERS -rate $BC_RATE -size $BC_SIZE -duration $BC_DUR"
)
if [[ -n ${SKIP:-} ]]; then
	kept=()
	for sc in "${SCENARIOS[@]}"; do
		[[ ${sc%%|*} =~ $SKIP ]] || kept+=("$sc")
	done
	SCENARIOS=("${kept[@]}")
fi
SYSCALLS=(write writev sendmsg sendto sendmmsg)


SERVER_PID=""
PERF_PID=""
stop_server() {
	local pid=$SERVER_PID
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "server $pid ignored SIGTERM for 10 s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	if [[ -n $PERF_PID ]]; then
		wait "$PERF_PID" 2>/dev/null || true
	elif [[ -n $pid ]]; then
		wait "$pid" 2>/dev/null || true
	fi
	SERVER_PID="" PERF_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# start_server LIB MODE PORT [PERF_OUT]: starts a server, under perf stat when
# PERF_OUT is given, and waits until it listens.
start_server() {
	local lib=$1 mode=$2 port=$3 perf_out=${4:-}
	local cmd=("$OUT/server-$lib" -port "$port" -loops "$LOOPS" -mode "$mode")
	if [[ -n $perf_out ]]; then
		local ev=()
		for s in "${SYSCALLS[@]}"; do ev+=(-e "syscalls:sys_enter_$s"); done
		perf stat -x, -o "$perf_out" "${ev[@]}" -- "${cmd[@]}" >>"$OUT/server.log" 2>&1 &
		PERF_PID=$!
		for _ in $(seq 100); do
			SERVER_PID=$(pgrep -P "$PERF_PID" || true)
			[[ -n $SERVER_PID ]] && break
			sleep 0.05
		done
		[[ -n $SERVER_PID ]] || { log "perf did not start $lib"; return 1; }
	else
		"${cmd[@]}" >>"$OUT/server.log" 2>&1 &
		SERVER_PID=$!
	fi
	for _ in $(seq 200); do
		if [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
			sleep 0.3 # let the server finish starting its loops
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || { log "$lib exited before listening"; return 1; }
		sleep 0.05
	done
	log "$lib did not listen on $port within 10 s"
	return 1
}

# perf_total FILE: "total<TAB>count per syscall" from perf stat -x output.
perf_counts() {
	local file=$1 total=0 line=""
	for s in "${SYSCALLS[@]}"; do
		local n
		n=$(awk -F, -v ev="syscalls:sys_enter_$s" '$3 == ev { print $1 }' "$file")
		[[ $n =~ ^[0-9]+$ ]] || n=0
		total=$((total + n))
		line+=$'\t'"$n"
	done
	printf '%s%s' "$total" "$line"
}

mkdir -p "$OUT"
rm -f "$OUT/results.jsonl" "$OUT/syscalls.tsv" "$OUT/commands.txt" "$OUT/failures.txt" "$OUT/server.log" "$OUT"/perf-*.txt

build_bench "$OUT" "${LIBARR[@]}"
(cd "$ROOT" && timeout 300 go build -o "$OUT/tabulate" ./bench/tabulate)

PERF=0
if command -v perf >/dev/null && perf stat -x, -o /dev/null -e syscalls:sys_enter_write -- true 2>/dev/null; then
	PERF=1
	printf 'label\ttotal' >"$OUT/syscalls.tsv"
	printf '\t%s' "${SYSCALLS[@]}" >>"$OUT/syscalls.tsv"
	printf '\n' >>"$OUT/syscalls.tsv"
else
	log "perf syscall tracepoints unavailable: write syscalls per delivery come from syscw only"
fi

START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
port=$PORT
nlibs=${#LIBARR[@]}
for ((round = 1; round <= ROUNDS; round++)); do
	for sc in "${SCENARIOS[@]}"; do
		IFS='|' read -r name mode args <<<"$sc"
		for ((k = 0; k < nlibs; k++)); do
			lib=${LIBARR[$(((k + round - 1) % nlibs))]} # rotate who goes first
			label="$lib/$name/$round"
			port=$((port + 1))
			perf_out=""
			if [[ $PERF == 1 && $mode == broadcast ]]; then
				perf_out="$OUT/perf-$lib-$name-$round.txt"
			fi
			log "round $round/$ROUNDS $name $lib"
			if ! start_server "$lib" "$mode" "$port" "$perf_out"; then
				echo "$label: server did not start" >>"$OUT/failures.txt"
				stop_server
				continue
			fi
			# shellcheck disable=SC2206
			lg=("$OUT/loadgen" -addr "127.0.0.1:$port" $args -pid "$SERVER_PID" -label "$label")
			[[ $lib == ws-* ]] && lg+=(-ws)
			[[ $lib == tls-* ]] && lg+=(-tls)
			printf '%s  # server: %s\n' "${lg[*]}" "$OUT/server-$lib -port $port -loops $LOOPS -mode $mode" >>"$OUT/commands.txt"
			if ! timeout 120 "${lg[@]}" >>"$OUT/results.jsonl" 2>>"$OUT/loadgen.log"; then
				echo "$label: loadgen failed (see out/loadgen.log)" >>"$OUT/failures.txt"
			fi
			stop_server
			if [[ -n $perf_out && -s $perf_out ]]; then
				printf '%s\t%s\n' "$label" "$(perf_counts "$perf_out")" >>"$OUT/syscalls.tsv"
			fi
		done
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

report_args=(-results "$OUT/results.jsonl" -libs "$(tr ' ' ',' <<<"$LIBS")" -base "$BASE")
[[ $PERF == 1 ]] && report_args+=(-syscalls "$OUT/syscalls.tsv")
TABLES=$("$OUT/tabulate" "${report_args[@]}")

{
	echo "# $TITLE"
	echo
	echo "Generated by \`bash bench/run.sh\` (see bench/README.md for the method)."
	echo
	echo "- Date: $START"
	echo "- Source: $SOURCE"
	echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(go version | cut -d' ' -f3-)"
	echo "- Settings: QUICK=$QUICK ROUNDS=$ROUNDS ECHO_DUR=$ECHO_DUR BC_DUR=$BC_DUR BC_RATE=$BC_RATE BC_CONNS=$BC_CONNS BC_SENDERS=$BC_SENDERS BC_SIZE=$BC_SIZE IDLE_CONNS=$IDLE_CONNS LOOPS=$LOOPS"
	echo "- Load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END"
	if [[ $PERF == 1 ]]; then
		echo "- Write syscalls per delivery: perf stat counting the tracepoints syscalls:sys_enter_{$(
			IFS=,
			echo "${SYSCALLS[*]}"
		)} over the broadcast server's whole life, divided by every frame it delivered (join probes included)."
	else
		echo "- Write syscalls per delivery: perf was unavailable; only /proc/<pid>/io syscw is reported (it does not count sendmsg, which netpoll uses)."
	fi
	if awk -v n="$(nproc)" '{ exit !($1 > n / 2) }' <<<"$LOAD_START $LOAD_END" ||
		awk -v n="$(nproc)" '{ exit !($4 > n / 2) }' <<<"$LOAD_START $LOAD_END"; then
		echo "- **Noisy run:** the 1-minute load average was above half the CPU count at start or end, so other work shared the machine; compare ratios within this run only, and treat single-round figures with suspicion."
	fi
	[[ -n $NOTE ]] && echo "- Note: $NOTE"
	if [[ -s $OUT/failures.txt ]]; then
		echo "- **Failures:**"
		sed 's/^/  - /' "$OUT/failures.txt"
	fi
	echo
	echo "## Results"
	echo
	echo "$TABLES"
	echo
	echo "## Commands"
	echo
	echo "Every run starts a fresh server, then the load generator. Round 1's commands (later rounds differ only in port, pid and label):"
	echo
	echo '```'
	grep -- '/1  # server' "$OUT/commands.txt" | sed "s#$ROOT/##g" || true
	echo '```'
	if [[ $PERF == 1 ]]; then
		echo
		echo "Broadcast servers ran under \`perf stat -x, -o bench/out/perf-<lib>-<scenario>-<round>.txt$(printf ' -e syscalls:sys_enter_%s' "${SYSCALLS[@]}") -- <server command>\`."
	fi
} >"$RESULTS"
log "wrote $RESULTS"
