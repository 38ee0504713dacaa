#!/usr/bin/env bash
# bench/tls.sh: TLS on the reactor (reactor/tlslayer) against nbio's TLS
# server (lesismal/llib's crypto/tls copy on nbio's pollers) and crypto/tls
# over package net (a goroutine per connection), with the raw reactor as the
# idle-memory baseline. Part one is run.sh with those libraries (echo at
# 100 and 1,000 connections, idle RSS at 10,000; no broadcast); part two
# measures, per TLS server, full and resumed handshakes per second (ECDSA
# P-256 certificate, TLS 1.3, HANDSHAKERS in flight) and the p99 of pings on
# FLOOD_CONNS established connections, quiet and then during a flood of
# FLOOD handshakes in flight (made by a child loadgen process, so that they
# do not share a Go scheduler with the pings), and the machine's floor: the
# same pings and flood with the flood sent to another tls-reactor process.
# Writes bench/TLS-RESULTS.md. Every knob of
# run.sh applies (QUICK=1, ROUNDS, ...); HS_DUR [5s; QUICK: 2s] is each
# part-two run's length.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/bench/out
export LIBS=${LIBS:-"tls-reactor tls-nbio tls-net reactor"}
export BASE=${BASE:-tls-nbio}
export RESULTS=${RESULTS:-$ROOT/bench/TLS-RESULTS.md}
export TITLE=${TITLE:-"bench: TLS on the reactor against its peers"}
export SKIP=${SKIP:-broadcast}
bash "$ROOT/bench/run.sh"

QUICK=${QUICK:-0}
HS_DUR=${HS_DUR:-$([[ $QUICK == 1 ]] && echo 2s || echo 5s)}
HANDSHAKERS=${HANDSHAKERS:-8}
FLOOD=${FLOOD:-32}
FLOOD_CONNS=${FLOOD_CONNS:-100}
LOOPS=${LOOPS:-$(nproc)}
port=${HS_PORT:-19900}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
HS=$OUT/handshakes.jsonl
rm -f "$HS"
: >"$OUT/hs-commands.txt"
# start_hs_server LIB PORT: starts a TLS echo server, sets pid once it listens.
start_hs_server() {
	"$OUT/server-$1" -port "$2" -loops "$LOOPS" -mode echo >>"$OUT/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[[ -n $(ss -Hltn "sport = :$2" 2>/dev/null) ]] && break
		sleep 0.05
	done
	sleep 0.3
}
# run_hs LABEL SERVER-NOTE LOADGEN-ARGS...: one loadgen run into $HS.
run_hs() {
	local label=$1 note=$2
	shift 2
	lg=("$OUT/loadgen" "$@" -duration "$HS_DUR" -label "$label")
	echo "${lg[*]}  # $note" >>"$OUT/hs-commands.txt"
	timeout 120 "${lg[@]}" >>"$HS" 2>>"$OUT/loadgen.log" || echo "{\"label\":\"$label\",\"first_error\":\"loadgen failed\"}" >>"$HS"
}
for lib in $LIBS; do
	[[ $lib == tls-* ]] || continue
	for run in "handshake|-mode handshake -conns $HANDSHAKERS" "resumed|-mode handshake -resume -conns $HANDSHAKERS" \
		"flood|-mode flood -conns $FLOOD_CONNS -flood $FLOOD -flood-process"; do
		IFS='|' read -r name args <<<"$run"
		port=$((port + 1))
		log "$name $lib"
		start_hs_server "$lib" "$port"
		# shellcheck disable=SC2086
		run_hs "$lib/$name" "server: $OUT/server-$lib -port $port -loops $LOOPS -mode echo" -addr "127.0.0.1:$port" $args -pid "$pid"
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
done
log "flood floor"
start_hs_server tls-reactor $((port + 1))
pinged=$pid
start_hs_server tls-reactor $((port + 2))
run_hs "floor/flood" "servers: $OUT/server-tls-reactor -port $((port + 1)) and -port $((port + 2)), -loops $LOOPS -mode echo" \
	-addr "127.0.0.1:$((port + 1))" -mode flood -conns "$FLOOD_CONNS" -flood "$FLOOD" -flood-process -flood-addr "127.0.0.1:$((port + 2))" -pid "$pinged"
kill -TERM "$pinged" "$pid" 2>/dev/null || true
wait "$pinged" "$pid" 2>/dev/null || true
{
	echo
	echo "## Handshakes and a handshake flood"
	echo
	echo "One run each (HS_DUR=$HS_DUR, $HANDSHAKERS handshakes in flight; flood: $FLOOD_CONNS established connections pinging 64 B every 10 ms, quiet for HS_DUR, then for HS_DUR with $FLOOD handshakes in flight, made by a child loadgen process). Each handshake is followed by a 1-byte echo (which also takes in the TLS 1.3 session ticket). The floor row pings one tls-reactor process while the same flood hits another: what the flood's CPU on this machine's 2 cores costs the pings when the pinged server does no handshake at all."
	echo
	python3 - "$HS" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    lib, name = d["label"].split("/")
    rows.setdefault(lib, {})[name] = d
print("| server | full handshakes/s | server CPU µs per full handshake | resumed handshakes/s | CPU µs per resumed | ping p99 quiet (µs) | ping p99 during flood (µs) | flood/quiet | handshakes/s during flood |")
print("|---|---|---|---|---|---|---|---|---|")
for lib, r in rows.items():
    if lib == "floor":
        fl = r.get("flood", {})
        q, p = fl.get("quiet_p99_us", 0), fl.get("p99_us", 0)
        ratio = f"{p / q:.2f}x" if q else "n/a"
        print(f"| floor: flood at another process | | | | | {q} | {p} | {ratio} | {fl.get('msgs_per_s', 0):.0f} |")
        continue
    f, s, fl = r.get("handshake", {}), r.get("resumed", {}), r.get("flood", {})
    q, p = fl.get("quiet_p99_us", 0), fl.get("p99_us", 0)
    ratio = f"{p / q:.2f}x" if q else "n/a"
    print(f"| {lib} | {f.get('msgs_per_s', 0):.0f} | {f.get('server_cpu_us_per_msg', 0):.0f} | {s.get('msgs_per_s', 0):.0f} | {s.get('server_cpu_us_per_msg', 0):.0f} | {q} | {p} | {ratio} | {fl.get('msgs_per_s', 0):.0f} |")
errs = [f"{d}: {v.get('first_error')}" for lib, r in rows.items() for d, v in r.items() if v.get("errors") or v.get("first_error")]
if errs:
    print()
    print("Errors: " + "; ".join(errs))
PY
	echo
	echo '```'
	sed "s#$ROOT/##g" "$OUT/hs-commands.txt"
	echo '```'
} >>"$RESULTS"
log "appended handshakes to $RESULTS"
