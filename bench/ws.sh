#!/usr/bin/env bash
# bench/ws.sh: WebSocket on the reactor (reactor/websocket behind
# reactor/sniff) against nbio's websocket server and gorilla/websocket on
# net/http, with the raw reactor beside them as the baseline for idle memory.
# It is run.sh with other libraries (loadgen speaks WebSocket to the ws-*
# servers: one masked binary message per write), writing bench/WS-RESULTS.md.
# Every knob of run.sh applies (QUICK=1, ROUNDS, ...).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export LIBS=${LIBS:-"ws-reactor ws-nbio ws-gorilla reactor"}
export BASE=${BASE:-ws-nbio}
export RESULTS=${RESULTS:-$ROOT/bench/WS-RESULTS.md}
export TITLE=${TITLE:-"bench: WebSocket on the reactor against its peers"}
exec bash "$ROOT/bench/run.sh"
