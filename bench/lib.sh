# bench/lib.sh: what the bench scripts share. Sourced, not run.

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# build_bench OUT LIB...: builds the named bench servers (bench/servers/LIB as
# OUT/server-LIB) and the load generator into OUT, and sets SOURCE to the
# commit the binaries come from (saying so when reactor/ or bench/ has
# uncommitted changes, which the binaries then include; a results file
# another script just wrote is not one).
build_bench() {
	local out=$1
	shift
	log "building into $out"
	SOURCE="commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	if [[ -n $(git -C "$ROOT" status --porcelain -- reactor bench ':(exclude)*.md' 2>/dev/null) ]]; then
		SOURCE+=", with uncommitted changes under reactor/ or bench/ (binaries are built from the working tree)"
	fi
	(
		cd "$ROOT"
		for lib in "$@"; do
			timeout 300 go build -o "$out/server-$lib" "./bench/servers/$lib"
		done
		timeout 300 go build -o "$out/loadgen" ./bench/loadgen
	)
}

# wait_ready ADMIN_URL PID LOG: wait (30 s at most) until a chatd answers
# ADMIN_URL/readyz; if it exits or never does, show LOG and stop.
wait_ready() {
	local admin=$1 pid=$2 logf=$3
	for _ in $(seq 1 300); do
		if curl -fsS "$admin/readyz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	log "chatd at $admin did not become ready:"
	cat "$logf" >&2
	exit 1
}
