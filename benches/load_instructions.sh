#!/usr/bin/env bash
# Instructions a request under load: one server of benches/load_server.rs runs under
# valgrind's callgrind while wrk sends it one repeated token; the counters are zeroed after
# a warm-up and read after the measured run. Instruction counts do not depend on what else
# the machine does, so this weighs a piece of the server exactly where benches/load.sh
# weighs it within a few hundredths. It counts user space only, on every thread (the audit
# sink's writer included), not the kernel's share of a request.
#
#   benches/load_instructions.sh deployed                       # the orders example's configuration
#   DEPLOYED_AUDIT=tracing benches/load_instructions.sh deployed
#   benches/load_instructions.sh bare-deployed
#
# The first argument is a serve mode of load_server (bare, bare-deployed, deployed,
# portcullis, ...); the environment reaches the server (DEPLOYED_*, RUST_LOG). Settings:
# SECONDS_MEASURED (8), PORT (3937), KEEP (unset: a directory to copy the callgrind file
# and the request count into, for `callgrind_annotate --inclusive=yes <file>`: what each
# step of a request costs is its inclusive count divided by the requests). Needs valgrind and wrk, and the tokens of a
# benches/load.sh run in target/load (LOAD_DIR) that are still valid.
set -euo pipefail

MODE=${1:?usage: benches/load_instructions.sh <serve mode>}
SECONDS_MEASURED=${SECONDS_MEASURED:-8}
PORT=${PORT:-3937}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOAD_DIR=${LOAD_DIR:-$ROOT/target/load}
for tool in valgrind callgrind_control wrk; do
    command -v "$tool" >/dev/null || { echo "load_instructions.sh: $tool is needed" >&2; exit 1; }
done
[[ -f "$LOAD_DIR/repeated.token" ]] || { echo "load_instructions.sh: no tokens in $LOAD_DIR: run benches/load.sh once" >&2; exit 1; }
SERVER=$(cargo bench --bench load_server --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*"' | sed 's/"executable":"\(.*\)"/\1/' | tail -n 1)
WORK=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.%p" \
    "$SERVER" serve "$MODE" "127.0.0.1:$PORT" "$LOAD_DIR" >/dev/null 2>"$WORK/valgrind.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.5
done
drive() {
    wrk -t1 -c8 -d"$1"s -s benches/load/repeated.lua "http://127.0.0.1:$PORT/orders/7" -- "$LOAD_DIR/repeated.token"
}
drive 3 >/dev/null
callgrind_control -z "$PID" >/dev/null
OUT=$(drive "$SECONDS_MEASURED")
callgrind_control -d "$PID" >/dev/null
sleep 1
REQUESTS=$(grep -o '^ *[0-9]* requests in' <<<"$OUT" | grep -o '[0-9]*')
# wrk's script prints the count of answers other than 2xx: a run that has any is invalid.
grep -q 'status_errors=0 ' <<<"$OUT" || { echo "load_instructions.sh: answers other than 2xx: $OUT" >&2; exit 1; }
DUMP=$(ls -t "$WORK"/callgrind.*.1 | head -n 1)
INSTRUCTIONS=$(sed -n 's/^summary: //p; s/^totals: //p' "$DUMP" | head -n 1)
if [[ -n "${KEEP:-}" ]]; then
    mkdir -p "$KEEP"
    cp "$DUMP" "$KEEP/callgrind.$MODE.out"
    echo "$REQUESTS" > "$KEEP/requests.$MODE"
fi
echo "$MODE ${DEPLOYED_AUDIT:+DEPLOYED_AUDIT=$DEPLOYED_AUDIT }${DEPLOYED_GUARD:+DEPLOYED_GUARD=$DEPLOYED_GUARD }${DEPLOYED_WITHOUT:+DEPLOYED_WITHOUT=$DEPLOYED_WITHOUT }${DEPLOYED_HEADERS:+DEPLOYED_HEADERS=$DEPLOYED_HEADERS }${RUST_LOG:+RUST_LOG=$RUST_LOG }requests=$REQUESTS instructions=$INSTRUCTIONS per_request=$((INSTRUCTIONS / REQUESTS))"
