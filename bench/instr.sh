#!/usr/bin/env bash
# bench/instr.sh: what `make bench-instr` runs. The noise-free echo figure:
# user-space instructions per echoed message, for each library in the four
# echo cells (100 and 1,000 connections x 64 B and 4 KiB messages).
#
# Every server runs under `valgrind --tool=callgrind`, which counts the
# instructions the process executes in user space (Ir); the count does not
# depend on how busy the machine is, unlike CPU time. For each cell a fresh
# server is started, a warm-up run of the load generator is made, and then
# PAIRS pairs of runs with a fixed message count (loadgen -count): N1
# messages per connection, then N2. `callgrind_control -d` dumps (and zeroes)
# the counters before and after every run, so each run's Ir is exact, and
#
#     Ir per message = (Ir(N2 run) - Ir(N1 run)) / (conns * (N2 - N1))
#
# cancels what does not scale with the message count (connect, accept,
# close). Each pair gives one figure; the report shows their mean and spread.
# The server is killed with SIGKILL at the end: callgrind 3.19 asserts on the
# signal Go's SIGTERM handler takes (threads.c vgCallgrind_post_signal), and
# every figure has been dumped by then. GODEBUG=cpu.rdtscp=off keeps Go's
# runtime from RDTSCP, which valgrind 3.19 cannot run (SIGILL on machines
# whose CPUID offers it, as some AMD EPYC hosts here do). A library whose
# name starts with tls- is driven over TLS (loadgen -tls).
#
# Environment (defaults in brackets):
#   LIBS        libraries ["reactor gnet netpoll"]
#   BASE        library the ratio column divides by [gnet]
#   PAIRS       N1/N2 pairs per cell [2]
#   N1_100 N2_100     messages per connection at 100 conns [100 500]
#   N1_1000 N2_1000   messages per connection at 1,000 conns [20 100]
#   LOOPS       -loops given to every server [1]
#   GOMAXPROCS  of the servers [1] (valgrind runs one thread at a time anyway;
#               one P keeps the Go scheduler's spinning out of the count)
#   RESULTS     the report written [bench/INSTR-RESULTS.md]; RESULTS=- : stdout only
#   PORT        first port; each server takes the next one [19700]
#   NOTE        free text put into the report
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
OUT=$BENCH/out
WORK=$OUT/instr
LIBS=${LIBS:-"reactor gnet netpoll"}
BASE=${BASE:-gnet}
PAIRS=${PAIRS:-2}
N1_100=${N1_100:-100} N2_100=${N2_100:-500}
N1_1000=${N1_1000:-20} N2_1000=${N2_1000:-100}
LOOPS=${LOOPS:-1}
SERVER_PROCS=${GOMAXPROCS:-1}
RESULTS=${RESULTS:-$BENCH/INSTR-RESULTS.md}
PORT=${PORT:-19700}
NOTE=${NOTE:-}
read -r -a LIBARR <<<"$LIBS"
CELLS=("100 64" "100 4096" "1000 64" "1000 4096")


for tool in valgrind callgrind_control ss; do
	command -v "$tool" >/dev/null || { log "bench-instr needs $tool"; exit 1; }
done

VG_PID=""
stop_server() {
	if [[ -n $VG_PID ]] && kill -0 "$VG_PID" 2>/dev/null; then
		kill -KILL "$VG_PID" 2>/dev/null || true
		wait "$VG_PID" 2>/dev/null || true
	fi
	VG_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

mkdir -p "$WORK"
rm -f "$WORK"/cg.* "$WORK"/valgrind-*.log "$WORK/figures.tsv" "$WORK/commands.txt" "$WORK/loadgen.log"

build_bench "$OUT" "${LIBARR[@]}"

# dump PREFIX: dumps the running server's counters (zeroing them) and sets
# IR to the Ir total of that dump. (Not called in $(...): DUMPS must count.)
DUMPS=0 IR=0
dump() {
	local prefix=$1
	callgrind_control -d "$VG_PID" >/dev/null 2>&1
	DUMPS=$((DUMPS + 1))
	local f=$prefix.$DUMPS
	for _ in $(seq 100); do
		[[ -s $f ]] && grep -q '^totals:' "$f" && break
		sleep 0.05
	done
	IR=$(awk '/^totals:/ { print $2 }' "$f")
	[[ $IR =~ ^[0-9]+$ ]] || { log "no totals in $f"; exit 1; }
}

# drive LIB PORT CONNS SIZE COUNT: one fixed-count echo run.
drive() {
	local lib=$1 port=$2 conns=$3 size=$4 count=$5
	local cmd=("$OUT/loadgen" -addr "127.0.0.1:$port" -mode echo -conns "$conns" -size "$size" -count "$count" -duration 600s)
	[[ $lib == tls-* ]] && cmd+=(-tls)
	printf '%s\n' "${cmd[*]}" >>"$WORK/commands.txt"
	"${cmd[@]}" >>"$WORK/loadgen.log" 2>&1
}

START=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
T0=$SECONDS
port=$PORT
printf 'lib\tconns\tsize\tpair\tir_n1\tir_n2\tper_msg\n' >"$WORK/figures.tsv"
for cell in "${CELLS[@]}"; do
	read -r conns size <<<"$cell"
	if [[ $conns == 100 ]]; then n1=$N1_100 n2=$N2_100; else n1=$N1_1000 n2=$N2_1000; fi
	for lib in "${LIBARR[@]}"; do
		port=$((port + 1))
		prefix=$WORK/cg.$lib.c$conns.s$size
		log "$lib: $conns conns x $size B, -count $n1 and $n2, $PAIRS pairs"
		GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=$SERVER_PROCS valgrind --tool=callgrind \
			--callgrind-out-file="$prefix" \
			"$OUT/server-$lib" -port "$port" -loops "$LOOPS" -mode echo \
			>"$WORK/valgrind-$lib-c$conns-s$size.log" 2>&1 &
		VG_PID=$! DUMPS=0
		for _ in $(seq 600); do
			[[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]] && break
			kill -0 "$VG_PID" 2>/dev/null || { log "$lib exited under valgrind (see $WORK)"; exit 1; }
			sleep 0.1
		done
		drive "$lib" "$port" "$conns" "$size" "$n1" # warm-up: heap growth, first-use paths
		dump "$prefix"
		for ((p = 1; p <= PAIRS; p++)); do
			drive "$lib" "$port" "$conns" "$size" "$n1"
			dump "$prefix"
			a=$IR
			drive "$lib" "$port" "$conns" "$size" "$n2"
			dump "$prefix"
			b=$IR
			per=$(awk -v a="$a" -v b="$b" -v c="$conns" -v n1="$n1" -v n2="$n2" 'BEGIN { printf "%.1f", (b - a) / (c * (n2 - n1)) }')
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lib" "$conns" "$size" "$p" "$a" "$b" "$per" >>"$WORK/figures.tsv"
			log "  pair $p: Ir $a and $b: $per per message"
		done
		stop_server
	done
done
ELAPSED=$((SECONDS - T0))

# The table: per cell, each library's mean over pairs (spread = (max-min)/mean),
# and each library's ratio to BASE.
TABLE=$(awk -F'\t' -v libs="$LIBS" -v base="$BASE" '
NR == 1 { next }
{
	k = $2 SUBSEP $3 SUBSEP $1
	sum[k] += $7; n[k]++
	if (!(k in lo) || $7 < lo[k]) lo[k] = $7
	if (!(k in hi) || $7 > hi[k]) hi[k] = $7
	if (!(($2 SUBSEP $3) in seen)) { seen[$2 SUBSEP $3] = 1; cells[++nc] = $2 SUBSEP $3 }
}
END {
	nl = split(libs, L, " ")
	hdr = "| connections | message |"; sep = "|---:|---:|"
	for (i = 1; i <= nl; i++) { hdr = hdr " " L[i] " Ir/msg (spread) |"; sep = sep "---:|" }
	for (i = 1; i <= nl; i++) if (L[i] != base) { hdr = hdr " " L[i] "/" base " |"; sep = sep "---:|" }
	print hdr; print sep
	for (c = 1; c <= nc; c++) {
		split(cells[c], cs, SUBSEP)
		line = sprintf("| %s | %s |", cs[1] == 1000 ? "1,000" : cs[1], cs[2] == 4096 ? "4 KiB" : cs[2] " B")
		for (i = 1; i <= nl; i++) {
			k = cells[c] SUBSEP L[i]
			if (n[k]) { m[i] = sum[k] / n[k]; line = line sprintf(" %.0f (%.1f%%) |", m[i], 100 * (hi[k] - lo[k]) / m[i]) }
			else { m[i] = 0; line = line " - |" }
			if (L[i] == base) bm = m[i]
		}
		for (i = 1; i <= nl; i++) if (L[i] != base) line = line (bm > 0 && m[i] > 0 ? sprintf(" %.2fx |", m[i] / bm) : " - |")
		print line
	}
}' "$WORK/figures.tsv")

REPORT=$(
	echo "# bench: user-space instructions per echoed message"
	echo
	echo "Generated by \`bash bench/instr.sh\` (\`make bench-instr\`; method in bench/README.md and at the top of the script)."
	echo
	echo "- Date: $START; took ${ELAPSED}s"
	echo "- Source: $SOURCE"
	echo "- Tools: $(valgrind --version), $(go version | cut -d' ' -f3-), kernel $(uname -r)"
	echo "- Settings: PAIRS=$PAIRS N1_100=$N1_100 N2_100=$N2_100 N1_1000=$N1_1000 N2_1000=$N2_1000 LOOPS=$LOOPS GOMAXPROCS=$SERVER_PROCS GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off"
	[[ -n $NOTE ]] && echo "- Note: $NOTE"
	echo
	echo "Ir/msg: instructions the server executed in user space per echoed message, (Ir(N2 run) − Ir(N1 run)) / (conns × (N2 − N1)),"
	echo "the mean over $PAIRS pairs; spread: (max − min) / mean over the pairs. Kernel work (syscalls, TCP) is not counted."
	echo
	echo "$TABLE"
	echo
	echo "## Every pair"
	echo
	echo '```'
	column -t -s $'\t' "$WORK/figures.tsv"
	echo '```'
	echo
	echo "## Commands"
	echo
	echo '```'
	echo "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=$SERVER_PROCS valgrind --tool=callgrind --callgrind-out-file=bench/out/instr/cg.<lib>.c<conns>.s<size> bench/out/server-<lib> -port <port> -loops $LOOPS -mode echo"
	echo "bench/out/loadgen -addr 127.0.0.1:<port> -mode echo -conns <conns> -size <size> -count <N> -duration 600s   # warm-up with N1, then N1, N2 per pair"
	echo "callgrind_control -d <valgrind pid>   # before and after every counted run; the Ir of a run is the totals: line of its dump"
	echo '```'
)
echo "$REPORT" | sed -n '/^| connections/,/^$/p' >&2
if [[ $RESULTS != - ]]; then
	echo "$REPORT" >"$RESULTS"
	log "wrote $RESULTS"
fi
