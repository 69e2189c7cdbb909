#!/usr/bin/env bash
# What Redis costs the orders example: requests per second with quotas and revocations in
# memory, in Redis with leased quotas, and in Redis with exact quotas; then how long a
# revocation made through one instance takes to be enforced by another.
#
#   benches/redis_modes.sh                       # 3 rounds of 10 s per variant, then 50 revocations
#   DURATION=20 ROUNDS=5 benches/redis_modes.sh
#   VARIANTS="memory leased" REVOCATIONS=0 benches/redis_modes.sh   # throughput only
#   VARIANTS="" REVOCATIONS=200 benches/redis_modes.sh              # propagation only
#
# Part 1, throughput. The release build of the example (`cargo build --release --example
# orders`) serves `GET /orders/1` (an order created just before, so a 200) to wrk -t1
# -c$CONNECTIONS for $DURATION seconds after $WARMUP seconds of warm-up, every request
# with the same token from the example's development issuer (READER_TOKEN, read from its
# start-up output; a cache hit after the first request). Variants:
#   memory   no REDIS_URL: quotas and revocations in the instance's memory
#   leased   REDIS_URL, REDIS_RATE_MODE=leased: quotas leased from Redis in batches
#   exact    REDIS_URL, REDIS_RATE_MODE=exact: every decision made in Redis
# Each run starts a fresh server process (and empties Redis first). The server is pinned to
# CPU $SERVER_CPU; wrk and redis-server to CPU $CLIENT_CPU. Variants alternate (memory
# leased exact memory leased exact ...) for $ROUNDS rounds so that drift on a shared
# machine cancels. Every quota is multiplied by $RATE_SCALE so that no request is limited:
# a run with any answer other than 2xx (wrk's status errors: a 429, a 503) is invalid, is
# marked so in the table, and makes the script exit 1. The table gives per variant the
# median requests/s, its ratio to memory (ratio of the medians, and the median of each
# round's ratio to memory's run of the same round), the server's and Redis' CPU time a
# request (user and system, all threads, read from /proc around the measured run).
#
# Part 2, revocation propagation. One Redis, two instances of the example in leased mode,
# both pinned to CPU $SERVER_CPU: the first with its development issuer, the second trusting
# it (OIDC_ISSUER = the issuer URL the first prints). For each of $REVOCATIONS tokens
# (distinct jti, from the first instance's token endpoint) benches/support/revocation_probe.py
# checks the second instance accepts it (GET /orders, 200), revokes it through the first
# (POST /admin/revocations, 204), then asks the second every $POLL_MS ms until it refuses the
# token (401): the time from the 204's arrival to the refusal's. It prints p50, p99 and max.
# A token never refused (within 5 s) makes the script exit 1.
#
# Environment (defaults): DURATION (10) seconds per run, WARMUP (2), ROUNDS (3),
# CONNECTIONS (32), SERVER_CPU (0), CLIENT_CPU (1), VARIANTS (memory leased exact),
# REVOCATIONS (50; 0 skips part 2), POLL_MS (5), RATE_SCALE (100000), RUST_LOG (warn: the
# example's log is not part of what is measured), NICE (-20 when run as root, else 0: the
# server, wrk and redis-server run at this priority, each in a session of its own so that
# the kernel's scheduler autogroups honour it), CARGO_TARGET_DIR (as Cargo's).
#
# Needs wrk, redis-server, redis-cli, curl, taskset (util-linux) and python3; exits 1,
# saying which, when one is missing.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
VARIANTS=${VARIANTS-memory leased exact}
REVOCATIONS=${REVOCATIONS:-50}
POLL_MS=${POLL_MS:-5}
RATE_SCALE=${RATE_SCALE:-100000}
export RUST_LOG=${RUST_LOG:-warn}
[[ $(id -u) -eq 0 ]] && DEFAULT_NICE=-20 || DEFAULT_NICE=0
NICE=${NICE:-$DEFAULT_NICE}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "redis_modes.sh: $*" >&2; }

missing=()
for program in wrk redis-server redis-cli curl taskset python3; do
    command -v "$program" >/dev/null || missing+=("$program")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "missing: ${missing[*]} (Debian: apt-get install wrk redis-server curl util-linux python3)"
    exit 1
fi
for variant in $VARIANTS; do
    case $variant in
    memory | leased | exact) ;;
    *) log "unknown variant $variant (memory, leased, exact)"; exit 1 ;;
    esac
done

# Runs the rest of its arguments in a new session at priority $1 (nice, and the session's
# scheduler autogroup where the kernel has them), by exec all the way: the PID of a
# background `"${BOOST[@]}" ... &` is the PID of the program itself.
# shellcheck disable=SC2016 # expanded by the inner bash
BOOST=(setsid bash -c 'echo "$0" >"/proc/$$/autogroup" 2>/dev/null; exec nice -n "$0" "$@"')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-redis-modes.XXXXXX")
chmod 700 "$WORK"
PIDS=()  # every process started, stopped by process id on exit
stop() {
    local pid=$1
    [[ -n "$pid" ]] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop "$pid"
    done
    PIDS=()
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# N distinct free loopback ports.
free_ports() {
    python3 -c '
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
for s in sockets:
    s.close()' "$1"
}

# The server: the release build of the example.
log "building the orders example (release)"
ORDERS=$(nice -n 19 cargo build --release --example orders --message-format=json 2>"$WORK/build.log" |
    grep -o '"executable":"[^"]*examples/orders"' | sed 's/"executable":"\(.*\)"/\1/' | tail -n 1) || true
[[ -n "$ORDERS" && -x "$ORDERS" ]] || { cat "$WORK/build.log" >&2; log "could not build the orders example"; exit 1; }

# Redis, on the client's CPU, nothing persisted.
read -r REDIS_PORT <<<"$(free_ports 1)"
REDIS_URL_LOCAL="redis://127.0.0.1:$REDIS_PORT/"
"${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
deadline=$((SECONDS + 10))
until [[ $(redis-cli -p "$REDIS_PORT" PING 2>/dev/null) == PONG ]]; do
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log" >&2; log "redis-server exited"; exit 1; }
    ((SECONDS < deadline)) || { log "redis-server did not answer within 10 s"; exit 1; }
    sleep 0.1
done

# The environment of one instance of variant $1: every variable the example reads that this
# script does not set is removed, so that the caller's environment changes nothing.
variant_env() {
    local env=(env -u REDIS_URL -u REDIS_CLUSTER_URLS -u REDIS_CA_FILE -u REDIS_RATE_MODE
        -u OIDC_ISSUER -u OIDC_AUDIENCE -u ORDERS_TLS_CERT -u ORDERS_TLS_KEY
        -u ORDERS_FIELD_KEYS -u ORDERS_FIELD_KEYS_FILE "ORDERS_RATE_SCALE=$RATE_SCALE")
    case $1 in
    memory) ;;
    leased | exact) env+=("REDIS_URL=$REDIS_URL_LOCAL" "REDIS_RATE_MODE=$1") ;;
    esac
    printf '%s\n' "${env[@]}"
}

# Starts an instance of variant $1 on port $2 with output to $3, extra environment in the
# rest of the arguments; waits until /ready answers 200; its PID in STARTED_PID.
start_instance() {
    local variant=$1 port=$2 out=$3
    shift 3
    local env
    mapfile -t env < <(variant_env "$variant")
    "${BOOST[@]}" "$NICE" taskset -c "$SERVER_CPU" "${env[@]}" "ORDERS_ADDR=127.0.0.1:$port" "$@" \
        "$ORDERS" >"$out" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    local deadline=$((SECONDS + 30))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 200 ]]; do
        kill -0 "$STARTED_PID" 2>/dev/null || { tail -n 30 "$out" >&2; log "the $variant instance exited"; exit 1; }
        ((SECONDS < deadline)) || { tail -n 30 "$out" >&2; log "the $variant instance was not ready within 30 s"; exit 1; }
        sleep 0.1
    done
}

# Removes PID $1 from the processes to stop on exit (it has ended: its id may be reused).
forget() {
    local kept=() pid
    for pid in "${PIDS[@]}"; do
        [[ $pid == "$1" ]] || kept+=("$pid")
    done
    PIDS=("${kept[@]}")
}

# Stops the process of PID $1 and forgets it.
stop_instance() {
    stop "$1"
    forget "$1"
}

# Waits for the background process of PID $1, then forgets it; its exit status.
wait_for() {
    local status=0
    wait "$1" || status=$?
    forget "$1"
    return "$status"
}

# The value of `NAME=` in the start-up output $2.
printed() { sed -n "s/^$1=//p" "$2" | head -n 1; }

# CPU time process $1 has used so far (all its threads, user and system), in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)
cpu_per_request() {
    awk -v t="$1" -v hz="$TICKS_PER_SECOND" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print "-" }'
}

# The value of `name=value` in $line.
field() { [[ " $line " =~ \ $1=([^ ]*)\  ]] && echo "${BASH_REMATCH[1]}"; }
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
column_of() { awk -v v="$1" -v c="$2" '$1 == v && $c != "-" { print $c }' "$RESULTS"; }
# Each round's requests/s of variant $1 over memory's in the same round.
paired_ratios() {
    awk -v v="$1" '$1 == "memory" { m[$2] = $3 } $1 == v { mine[$2] = $3 }
        END { for (r in mine) if (m[r] > 0) printf "%.4f\n", mine[r] / m[r] }' "$RESULTS"
}
machine() {
    echo "$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load average $(cut -d' ' -f1-3 /proc/loadavg); $(redis-server --version | cut -d' ' -f1-3); the example built by cargo build --release"
}

INVALID=0

# ---- Part 1: throughput ------------------------------------------------------------------
# One line per run: "variant round rps server_cpu_us redis_cpu_us status_errors socket_errors".
RESULTS=$WORK/results
: >"$RESULTS"
if [[ -n "${VARIANTS// /}" ]]; then
    SCRIPT=$ROOT/benches/load/repeated.lua
    TOKEN_FILE=$WORK/token
    WRK_OUT=$WORK/wrk.out
    for round in $(seq "$ROUNDS"); do
        for variant in $VARIANTS; do
            read -r port <<<"$(free_ports 1)"
            redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
            out=$WORK/$variant-$round.out
            start_instance "$variant" "$port" "$out"
            server=$STARTED_PID
            base="http://127.0.0.1:$port"
            reader=$(printed READER_TOKEN "$out")
            writer=$(printed WRITER_TOKEN "$out")
            [[ -n "$reader" && -n "$writer" ]] || { cat "$out" >&2; log "no READER_TOKEN or WRITER_TOKEN in the example's output"; exit 1; }
            (umask 077; echo "$reader" >"$TOKEN_FILE")
            created=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $writer" \
                -H 'Content-Type: application/json' -d '{"item":"tea","quantity":1}' "$base/orders")
            [[ $created == 201 ]] || { log "POST /orders answered $created, not 201"; exit 1; }
            got=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $reader" "$base/orders/1")
            [[ $got == 200 ]] || { log "GET /orders/1 answered $got, not 200"; exit 1; }

            "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" \
                -s "$SCRIPT" "$base/orders/1" -- "$TOKEN_FILE" >"$WRK_OUT" &
            wrk_pid=$!
            PIDS+=("$wrk_pid")
            wait_for "$wrk_pid" || { cat "$WRK_OUT" >&2; log "wrk failed"; exit 1; }
            server_before=$(ticks "$server")
            redis_before=$(ticks "$REDIS_PID")
            "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" \
                -s "$SCRIPT" "$base/orders/1" -- "$TOKEN_FILE" >"$WRK_OUT" &
            wrk_pid=$!
            PIDS+=("$wrk_pid")
            wait_for "$wrk_pid" || { cat "$WRK_OUT" >&2; log "wrk failed"; exit 1; }
            server_after=$(ticks "$server")
            redis_after=$(ticks "$REDIS_PID")
            line=$(grep '^RESULT ' "$WRK_OUT") || { cat "$WRK_OUT" >&2; log "no result from wrk"; exit 1; }
            requests=$(field requests)
            rps=$(field rps)
            status_errors=$(field status_errors)
            socket_errors=$(field socket_errors)
            server_cpu=$(cpu_per_request $((server_after - server_before)) "$requests")
            redis_cpu="-"
            [[ $variant != memory ]] && redis_cpu=$(cpu_per_request $((redis_after - redis_before)) "$requests")
            note=""
            if [[ $status_errors != 0 ]]; then
                # What the server answers now, to say why.
                now=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $reader" "$base/orders/1")
                note=" INVALID: $status_errors answers were not 2xx (the server answers $now now)"
                INVALID=1
            fi
            stop_instance "$server"
            echo "$variant $round $rps $server_cpu $redis_cpu $status_errors $socket_errors" >>"$RESULTS"
            log "round $round/$ROUNDS $variant: $rps req/s, server CPU $server_cpu µs/request, Redis CPU $redis_cpu µs/request, errors $status_errors status / $socket_errors socket$note"
        done
    done

    MEMORY_RPS=$(column_of memory 3 | median)
    echo
    echo "GET /orders/{id} (200), one repeated token, wrk -t1 -c$CONNECTIONS -d${DURATION}s after ${WARMUP}s of warm-up, $ROUNDS rounds (medians), server on CPU $SERVER_CPU, wrk and redis-server on CPU $CLIENT_CPU, nice $NICE, ORDERS_RATE_SCALE=$RATE_SCALE"
    machine
    echo
    echo "| variant | requests/s | vs memory (ratio of medians) | vs memory (median of per-round ratios) | req/s per round | server CPU a request | Redis CPU a request | non-2xx / socket errors |"
    echo "|---|---:|---:|---:|---|---:|---:|---|"
    for variant in $VARIANTS; do
        rps=$(column_of "$variant" 3 | median)
        ratio=$(awk -v a="$rps" -v b="$MEMORY_RPS" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }')
        paired=$(paired_ratios "$variant" | median | awk '{ printf "%.2f", $1 }')
        rounds=$(awk -v v="$variant" '$1 == v { print $3 }' "$RESULTS" | paste -sd/ -)
        server_cpu=$(column_of "$variant" 4 | median)
        redis_cpu=$(column_of "$variant" 5 | median)
        errors=$(awk -v v="$variant" '$1 == v { s += $6; k += $7 } END { printf "%d / %d%s", s, k, s ? " INVALID" : "" }' "$RESULTS")
        echo "| $variant | $(awk -v r="$rps" 'BEGIN { printf "%.0f", r }') | $ratio | ${paired:--} | $rounds | ${server_cpu:--} µs | ${redis_cpu:--}$([[ -n $redis_cpu ]] && echo " µs") | $errors |"
    done
    if [[ $INVALID != 0 ]]; then
        echo
        echo "INVALID: some runs had answers other than 2xx (limited or refused requests); raise RATE_SCALE or see the log above."
    fi
fi

# ---- Part 2: revocation propagation ----------------------------------------------------
PROPAGATION_FAILED=0
if ((REVOCATIONS > 0)); then
    redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
    read -r port1 port2 <<<"$(free_ports 2)"
    out1=$WORK/first.out
    out2=$WORK/second.out
    start_instance leased "$port1" "$out1"
    first_pid=$STARTED_PID
    issuer=$(sed -n 's/^Development authorization server at \([^ ]*\) .*/\1/p' "$out1" | head -n 1)
    [[ -n "$issuer" ]] || { cat "$out1" >&2; log "the first instance printed no development issuer URL"; exit 1; }
    start_instance leased "$port2" "$out2" "OIDC_ISSUER=$issuer"
    second_pid=$STARTED_PID
    client_secret=$(sed -n 's/^  orders-reader  secret //p' "$out1" | head -n 1)
    admin=$(printed ADMIN_TOKEN "$out1")
    [[ -n "$client_secret" && -n "$admin" ]] || { cat "$out1" >&2; log "no orders-reader secret or ADMIN_TOKEN in the first instance's output"; exit 1; }
    log "propagation: $REVOCATIONS revocations through 127.0.0.1:$port1, polled at 127.0.0.1:$port2 every $POLL_MS ms (issuer $issuer)"
    probe_out=$WORK/probe.out
    poll=$(awk -v ms="$POLL_MS" 'BEGIN { printf "%.4f", ms / 1000 }')
    PROBE_CLIENT_ID=orders-reader PROBE_CLIENT_SECRET=$client_secret PROBE_ADMIN_TOKEN=$admin \
        "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" python3 "$ROOT/benches/support/revocation_probe.py" \
        "http://127.0.0.1:$port1" "http://127.0.0.1:$port2" "$REVOCATIONS" "$poll" >"$probe_out" 2>"$WORK/probe.log" &
    probe_pid=$!
    PIDS+=("$probe_pid")
    wait_for "$probe_pid" || PROPAGATION_FAILED=1
    grep -v '^revocation [0-9]*: refused after' "$WORK/probe.log" >&2 || true
    line=$(grep '^RESULT ' "$probe_out") || { cat "$WORK/probe.log" >&2; log "no result from the revocation probe"; exit 1; }
    stop_instance "$second_pid"
    stop_instance "$first_pid"
    echo
    echo "Revocation propagation: $(field count) tokens revoked through one instance (POST /admin/revocations, 204), another instance (leased mode, same Redis) polled every $POLL_MS ms with each until it refused it (401); from the 204's arrival to the refusal's"
    machine
    echo
    echo "| revocations | refused | never refused (5 s) | p50 | p99 | max | 503 answers while polling |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $(field count) | $(field refused) | $(field never) | $(field p50_ms) ms | $(field p99_ms) ms | $(field max_ms) ms | $(field unavailable) |"
    [[ $PROPAGATION_FAILED == 0 ]] || echo "FAILED: see the lines above (a token not accepted before, a revocation not answered 204, or a revoked token still accepted)."
fi

[[ $INVALID == 0 && $PROPAGATION_FAILED == 0 ]]
