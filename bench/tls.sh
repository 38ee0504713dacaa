#!/usr/bin/env bash
# bench/tls.sh: TLS on the reactor (reactor/tlslayer) against nbio's TLS
# server (lesismal/llib's crypto/tls copy on nbio's pollers) and crypto/tls
# over package net (a goroutine per connection), with the raw reactor as the
# idle-memory baseline. Part one is run.sh with those libraries (echo at
# 100 and 1,000 connections, idle RSS at 10,000; no broadcast); part two
# measures, per TLS server, full and resumed handshakes per second (ECDSA
# P-256 certificate, TLS 1.3, HANDSHAKERS in flight) and the p99 of pings on
# FLOOD_CONNS established connections, quiet and then during a flood of
# FLOOD handshakes in flight. Writes bench/TLS-RESULTS.md. Every knob of
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
for lib in $LIBS; do
	[[ $lib == tls-* ]] || continue
	for run in "handshake|-mode handshake -conns $HANDSHAKERS" "resumed|-mode handshake -resume -conns $HANDSHAKERS" \
		"flood|-mode flood -conns $FLOOD_CONNS -flood $FLOOD"; do
		IFS='|' read -r name args <<<"$run"
		port=$((port + 1))
		log "$name $lib"
		"$OUT/server-$lib" -port "$port" -loops "$LOOPS" -mode echo >>"$OUT/server.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			[[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]] && break
			sleep 0.05
		done
		sleep 0.3
		# shellcheck disable=SC2206
		lg=("$OUT/loadgen" -addr "127.0.0.1:$port" $args -duration "$HS_DUR" -pid "$pid" -label "$lib/$name")
		echo "${lg[*]}  # server: $OUT/server-$lib -port $port -loops $LOOPS -mode echo" >>"$OUT/hs-commands.txt"
		timeout 120 "${lg[@]}" >>"$HS" 2>>"$OUT/loadgen.log" || echo "{\"label\":\"$lib/$name\",\"first_error\":\"loadgen failed\"}" >>"$HS"
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
done
{
	echo
	echo "## Handshakes and a handshake flood"
	echo
	echo "One run each (HS_DUR=$HS_DUR, $HANDSHAKERS handshakes in flight; flood: $FLOOD_CONNS established connections pinging 64 B every 10 ms, quiet for HS_DUR, then for HS_DUR with $FLOOD handshakes in flight). Each handshake is followed by a 1-byte echo (which also takes in the TLS 1.3 session ticket)."
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
