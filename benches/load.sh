#!/usr/bin/env bash
# Load benchmark: GET /orders/{id} on loopback under wrk, for bare axum, Portcullis and the
# hand-assembled stack (jsonwebtoken + governor + garde, benches/support/hand_assembled.rs).
#
#   benches/load.sh                      # 3 rounds of 10 s per variant, 32 connections
#   DURATION=20 ROUNDS=5 benches/load.sh
#   VARIANTS="bare portcullis_cached" benches/load.sh
#   RATE=60000 VARIANTS="bare portcullis_cached" benches/load.sh   # open loop, 60k req/s
#
# Variants (each run starts a fresh server process, so no token cache survives a run):
#   bare                         bare axum, the floor (the same Authorization header is sent)
#   bare_connect_info            bare axum served with ConnectInfo, as Portcullis is (that
#                                serving choice alone)
#   bare_fields                  bare axum served with ConnectInfo, answering with the four
#                                fields Portcullis adds to an allowed response (Cache-Control,
#                                RateLimit-Policy, RateLimit, X-Request-Id) as constants: the
#                                floor for a response that carries them
#   bare_map_response            (not run by default) bare axum behind one map_response
#                                layer that changes nothing: what the lightest axum
#                                middleware costs, for scale
#   portcullis_cached            Portcullis, one repeated RS256 token (a cache hit)
#   portcullis_uncached_RS256    Portcullis with its token cache off, one repeated RS256
#                                token (verified on every request, like the hand stack)
#   hand_repeated_RS256          the hand-assembled stack, one repeated RS256 token
#   portcullis_first_seen_RS256  Portcullis, a distinct RS256 token on every request
#   portcullis_first_seen_ES256  Portcullis, a distinct ES256 token on every request
#   hand_first_seen_RS256        the hand-assembled stack, a distinct RS256 token each request
#   deployed                     (not run by default) Portcullis as the orders example deploys
#                                it: a Prometheus recorder, the example's tracing subscriber
#                                (RUST_LOG, default info,portcullis::audit=off), the audit
#                                trail as JSON lines on standard output (a line for every
#                                request), served behind the guard (nosniff on every
#                                response), and the example's handler work (a JSON row of a
#                                Mutex<BTreeMap> cloned, parsed, re-serialized), one repeated
#                                RS256 token
#   bare_deployed                (not run by default) bare axum doing that same handler work
#   bare_deployed_transport      (not run by default) the same, served by Portcullis'
#                                transport::serve instead of axum::serve: its serving loop
#                                weighed apart from the pipeline
#   body_axum, body_transport    (not run by default) bare axum answering with BODY_BYTES
#                                bytes (16384 unless set), served by axum::serve, then by
#                                transport::serve: weigh the second beside the first with
#                                SIDE_BY_SIDE=1 BESIDE_MODE=body-axum VARIANTS=body_transport
#
# As deployed, side by side with bare axum doing the same work (DEPLOYED=1 sets the variants
# and the server beside them):
#   DEPLOYED=1 benches/load.sh                                      # the recommended profile
#   DEPLOYED=1 CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
#       benches/load.sh                                             # Cargo's default release
# To weigh one piece of the deployed server at a time (benches/support/deployed.rs):
#   DEPLOYED_WITHOUT=recorder,subscriber,guard (any of them) leaves pieces out (without the
#   guard, the endpoint's router alone); DEPLOYED_HEADERS=layer adds the security-headers layer around the
#   app (around the guard); DEPLOYED_LOG=sink formats log lines and writes them nowhere,
#   DEPLOYED_LOG=colours writes them with colours (the server's output is no terminal);
#   DEPLOYED_AUDIT=tracing makes the audit trail tracing log lines instead of JSON lines
#   (the filter then defaults to info); DEPLOYED_GUARD=wrap serves the endpoint merged into
#   an app's router behind Guard::wrap, as an app adopting Portcullis does; RUST_LOG is the
#   deployed server's filter, as the example's.
#
# The server is pinned to CPU $SERVER_CPU and wrk (one thread) to CPU $CLIENT_CPU. Variants
# alternate (A B C ... A B C ...) for $ROUNDS rounds so that drift on a shared machine
# cancels; the table gives medians over the rounds and each ratio to bare axum, and the
# median of the per-round ratios ("paired": each round's run against bare axum's run of the
# same round, which on a noisy machine moves less than the ratio of two medians).
#
# Closed loop (default): wrk keeps every connection busy, so requests/s is the server's
# capacity, and latency at saturation is connections ÷ throughput (a p99 ratio only repeats
# the throughput ratio). Open loop (RATE=<requests per second>): `load_server drive` sends
# at that fixed rate whatever the server's pace and measures each latency from the
# request's scheduled send time (no coordinated omission): at a rate below every variant's
# capacity, the latencies compare what one request waits for on each.
#
# Every run also reads the server's CPU time (user and system, all threads) around the
# measurement: "server CPU a request", and its ratio to bare axum's. Under wrk it tells whether the server was the bottleneck (CPU a request × requests
# a second ≈ 1 s); in an open loop, what a request costs at that load, including the
# wake-ups of a server that is not always busy.
#
# Side by side (SIDE_BY_SIDE=1): for each variant, its server and a bare axum server run at
# the same time, both pinned to CPU $SERVER_CPU, each driven by its own wrk on CPU
# $CLIENT_CPU. The two servers share one core, so whatever slows the machine down slows both
# alike, and the ratio of their requests per second is the ratio of what a request costs
# each (variant ÷ bare: 0.90 means a request of the variant costs 1/0.90 = 1.11 of bare
# axum's). On a shared virtual machine, where two runs a minute apart differ by 10 to 30%,
# this ratio moves by 1 to 3% between rounds. Its own error shows in the row of bare against
# bare (the default VARIANTS then start with it). The table also gives each server's CPU
# time a request, split into user space and the kernel (clock ticks read from /proc around
# the run, all threads): where a difference in cost lies. It measures cost, not latency; and two
# servers taking turns on one core evict each other's caches, which may weigh on the larger
# working set. To weigh a change, put another build beside this one instead of bare axum:
# BESIDE_SERVER=<a copy of an earlier target/release/deps/load_server-*> and
# BESIDE_MODE=<its serve mode, e.g. portcullis>. Two builds of the same code differ by the
# layout of their machine code, by several percent (docs/performance.md): BESIDE_MODE=same
# puts each variant beside the same mode of the other build, and the table then divides
# each ratio by the first variant's, so that VARIANTS="bare_deployed deployed" weighs the
# change to the deployed server net of what the build alone moved bare axum. To weigh one piece of the deployed
# configuration, put the whole of it beside the variant that leaves the piece out:
# BESIDE_ENV holds arguments of env(1) (NAME=value, -u NAME) for the server beside only, so
# DEPLOYED_WITHOUT=recorder BESIDE_ENV="-u DEPLOYED_WITHOUT" SIDE_BY_SIDE=1 VARIANTS=deployed
# BESIDE_MODE=deployed benches/load.sh weighs the Prometheus recorder (a ratio of 1.01
# means the recorder costs 1% of a deployed request).
#
# Environment (defaults): LOAD_SERVER (unset: build benches/load_server.rs; else the path of
# a load_server binary to run, which the script then does not build), SIDE_BY_SIDE (unset),
# BESIDE_SERVER (this build), BESIDE_MODE
# (bare), BESIDE_ENV (unset), RATE (unset: closed loop under wrk), DURATION (10) seconds per run, WARMUP (2)
# seconds of warm-up per run (with the repeated token, under wrk), ROUNDS (3), CONNECTIONS
# (32), SERVER_CPU (0), CLIENT_CPU (1), PORT (3917; side by side also the next port),
# TOKENS_PER_SECOND (30000: distinct tokens prepared per second of DURATION; a run that
# needs more says so; an open loop prepares RATE a second), LOAD_DIR (target/load: keys and tokens, reused
# while valid), VARIANTS (all of the above), NICE (-20 when run as root, else 0: the server
# and the client run at this priority, so that other work on a shared machine disturbs
# them less).
# With the kernel's scheduler autogroups, nice only orders the processes of one session, so
# the server and wrk each run in a session of their own whose autogroup gets that nice too.
#
# The server is built with the workspace's [profile.bench]: optimization across crates at
# link time and one code generation unit, as a service should ship (docs/performance.md).
# With Cargo's default release settings instead: CARGO_PROFILE_BENCH_LTO=false
# CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 benches/load.sh. The table's header says which.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-3917}
TOKENS_PER_SECOND=${TOKENS_PER_SECOND:-30000}
[[ $(id -u) -eq 0 ]] && DEFAULT_NICE=-20 || DEFAULT_NICE=0
NICE=${NICE:-$DEFAULT_NICE}
SIDE_BY_SIDE=${SIDE_BY_SIDE:-}
if [[ -n "${DEPLOYED:-}" ]]; then
    SIDE_BY_SIDE=1
    BESIDE_MODE=${BESIDE_MODE:-bare-deployed}
    VARIANTS=${VARIANTS:-bare_deployed deployed}
fi
[[ -n "$SIDE_BY_SIDE" && -n "${RATE:-}" ]] && { echo "load.sh: SIDE_BY_SIDE is a closed loop: unset RATE" >&2; exit 1; }
[[ -n "$SIDE_BY_SIDE" ]] && VARIANTS=${VARIANTS:-bare bare_fields portcullis_cached}
VARIANTS=${VARIANTS:-bare bare_connect_info bare_fields portcullis_cached portcullis_uncached_RS256 hand_repeated_RS256 portcullis_first_seen_RS256 portcullis_first_seen_ES256 hand_first_seen_RS256}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOAD_DIR=${LOAD_DIR:-$ROOT/target/load}
SCRIPTS=$ROOT/benches/load
URL="http://127.0.0.1:$PORT/orders/7"

# Runs the rest of its arguments in a new session at priority $1 (nice, and the session's
# scheduler autogroup where the kernel has them), by exec all the way: the PID of a
# background `$BOOST ... &` is the PID of the program itself.
# shellcheck disable=SC2016 # expanded by the inner bash
BOOST=(setsid bash -c 'echo "$0" >"/proc/$$/autogroup" 2>/dev/null; exec nice -n "$0" "$@"')

# What the numbers were measured on, and how the server was built: the [profile.bench] of
# Cargo.toml, or what the environment overrides of it say.
machine() {
    echo "$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load average $(cut -d' ' -f1-3 /proc/loadavg); built with lto $(bench_setting lto CARGO_PROFILE_BENCH_LTO), codegen-units $(bench_setting codegen-units CARGO_PROFILE_BENCH_CODEGEN_UNITS)"
}

# The value of setting $1 of [profile.bench], or of environment variable $2 when set.
bench_setting() {
    local value=${!2:-}
    [[ -n "$value" ]] ||
        value=$(awk -v key="$1" '/^\[/ { section = $0 } section == "[profile.bench]" && $1 == key { gsub(/"/, "", $3); print $3 }' Cargo.toml)
    echo "${value:-unset (Cargo default)}"
}

SERVER_PID=""
WRK_PID=""
# Side by side: the bare server and its wrk.
PAIR_SERVER_PID=""
PAIR_WRK_PID=""
stop() {
    if [[ -n "$1" ]]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}
cleanup() {
    stop "$WRK_PID"
    stop "$PAIR_WRK_PID"
    stop "$SERVER_PID"
    stop "$PAIR_SERVER_PID"
    WRK_PID="" PAIR_WRK_PID="" SERVER_PID="" PAIR_SERVER_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "load.sh: $*" >&2; }

# wrk, from Debian's packages.
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 ||
        { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null; }
fi
command -v taskset >/dev/null || { log "taskset (util-linux) is needed"; exit 1; }

# The server binary, built in release mode (or LOAD_SERVER, a copy of one already built).
if [[ -n "${LOAD_SERVER:-}" ]]; then
    SERVER=$LOAD_SERVER
    log "serving with $SERVER"
else
    log "building benches/load_server.rs (release)"
    SERVER=$(cargo bench --bench load_server --no-run --message-format=json 2>/dev/null |
        grep -o '"executable":"[^"]*"' | sed 's/"executable":"\(.*\)"/\1/' | tail -n 1)
fi
[[ -x "$SERVER" ]] || { log "could not build the load server"; exit 1; }

# Keys and tokens: enough distinct tokens that none repeats within a run, valid until the
# end of the whole benchmark. Reused from an earlier run while they suffice.
NEEDED=$((DURATION * TOKENS_PER_SECOND))
# An open loop sends exactly RATE a second.
[[ -n "${RATE:-}" && $((DURATION * RATE)) -gt $NEEDED ]] && NEEDED=$((DURATION * RATE))
COUNT=$(wc -w <<<"$VARIANTS")
LIFETIME=$(((DURATION + WARMUP + 5) * COUNT * ROUNDS + 3600))
meta() { sed -n "s/^$1=//p" "$LOAD_DIR/meta" 2>/dev/null || true; }
if [[ -f "$LOAD_DIR/meta" && $(meta rs256) -ge $NEEDED && $(meta es256) -ge $NEEDED &&
    $(meta expires) -ge $(($(date +%s) + LIFETIME - 3600)) ]]; then
    log "reusing the tokens of $LOAD_DIR"
else
    log "signing $NEEDED RS256 and $NEEDED ES256 tokens into $LOAD_DIR (RSA signing takes a while)"
    "$SERVER" prepare "$LOAD_DIR" "$NEEDED" "$NEEDED" "$((LIFETIME + 3600))"
fi

server_mode() {
    case $1 in
    bare) echo bare ;;
    bare_connect_info) echo bare-connect-info ;;
    bare_fields) echo bare-fields ;;
    bare_map_response) echo bare-map-response ;;
    bare_deployed) echo bare-deployed ;;
    bare_deployed_transport) echo bare-deployed-transport ;;
    body_axum) echo body-axum ;;
    body_transport) echo body-transport ;;
    deployed) echo deployed ;;
    portcullis_uncached_*) echo portcullis-uncached ;;
    portcullis_*) echo portcullis ;;
    hand_*) echo hand ;;
    *) log "unknown variant $1"; exit 1 ;;
    esac
}

# Which wrk script and which token file.
client_args() {
    case $1 in
    *first_seen_RS256) echo "$SCRIPTS/first_seen.lua $LOAD_DIR/rs256.tokens" ;;
    *first_seen_ES256) echo "$SCRIPTS/first_seen.lua $LOAD_DIR/es256.tokens" ;;
    *) echo "$SCRIPTS/repeated.lua $LOAD_DIR/repeated.token" ;;
    esac
}

# Starts the server of mode $1 on port $2 (default $PORT): its PID in SERVER_PID.
start_server() {
    local port=${2:-$PORT}
    # Standard output (the deployed server's log lines) goes nowhere: writing it is part of
    # the server's work, reading it is not.
    # shellcheck disable=SC2086 # SERVER_ENV is a list of env(1) arguments
    "${BOOST[@]}" "$NICE" env ${SERVER_ENV:-} taskset -c "$SERVER_CPU" "$SERVER" serve "$1" "127.0.0.1:$port" "$LOAD_DIR" >/dev/null &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { log "the $1 server exited"; exit 1; }
        sleep 0.1
    done
    log "the $1 server did not start listening on port $port"
    exit 1
}

# Drives the server for $1 seconds with wrk script $2 and its argument $3; wrk's output goes
# to $WRK_OUT.
client() {
    "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$1s" \
        -s "$2" "$URL" -- "$3" >"$WRK_OUT" &
    WRK_PID=$!
    wait "$WRK_PID" || { log "wrk failed"; cat "$WRK_OUT" >&2; exit 1; }
    WRK_PID=""
}

# Offers $RATE requests/s for $1 seconds with the tokens of file $2 (open loop); the result
# goes to $WRK_OUT.
open_loop_client() {
    "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" "$SERVER" drive "127.0.0.1:$PORT" "$2" \
        "$RATE" "$CONNECTIONS" "$1" >"$WRK_OUT" &
    WRK_PID=$!
    wait "$WRK_PID" || { log "the open-loop client failed"; cat "$WRK_OUT" >&2; exit 1; }
    WRK_PID=""
}

# Drives the server for $1 seconds with wrk script $2 and token file $3, or at $RATE.
measure() {
    if [[ -n "${RATE:-}" ]]; then
        open_loop_client "$1" "$3"
    else
        client "$@"
    fi
}

# CPU time the server process has used so far (all its threads, user and system), in
# clock ticks; read around a run, it gives the CPU the server spent a request.
server_ticks() {
    awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}
# The user and the system CPU time of process $1 so far, in clock ticks: "user system".
process_ticks() {
    awk '{ print $14, $15 }' "/proc/$1/stat"
}
TICKS_PER_SECOND=$(getconf CLK_TCK)
# $1 clock ticks of CPU time spread over $2 requests, in µs a request (empty without requests).
per_request() {
    awk -v t="$1" -v hz="$TICKS_PER_SECOND" -v n="$2" \
        'BEGIN { if (n > 0) printf "%.3f", t / hz * 1e6 / n; else print "" }'
}

# The value of `name=value` in the RESULT line of the last run.
field() {
    [[ " $line " =~ \ $1=([^ ]*)\  ]] && echo "${BASH_REMATCH[1]}"
}

# The median of the numbers on standard input.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
column_of() { awk -v v="$1" -v c="$2" '$1 == v { print $c }' "$RESULTS"; }
# The first and third quartiles of the numbers on standard input, as "q1–q3".
# $1 decimals (default 2).
quartiles() {
    sort -g | awk -v d="${1:-2}" '{ v[NR] = $1 } END { if (NR == 0) exit; q1 = v[int((NR + 3) / 4)]; q3 = v[int((3 * NR + 3) / 4)]; printf "%." d "f–%." d "f", q1, q3 }'
}
# Each round's value of column $2 for variant $1 divided by bare axum's in the same round:
# runs a few seconds apart, so drift between rounds cancels out of their median.
paired_ratios() {
    awk -v v="$1" -v c="$2" '$1 == "bare" { bare[$2] = $c } $1 == v { mine[$2] = $c }
        END { for (r in mine) if (bare[r] > 0) printf "%.4f\n", mine[r] / bare[r] }' "$RESULTS"
}
ms() {
    [[ -z "$1" ]] && { echo "-"; return; }
    awk -v us="$1" 'BEGIN { if (us < 1000) printf "%.0f µs", us; else printf "%.2f ms", us / 1000 }'
}
# $1 / $2 as a ratio with suffix $3, or "-" when either is missing.
ratio() {
    [[ -z "$1" || -z "$2" ]] && { echo "-"; return; }
    awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { if (b == 0) print "-"; else printf "%.2f%s", a / b, s }'
}

# Results: one line per run,
# "variant round rps p50_us p99_us status_errors socket_errors wrapped p999_us p90_us
# server_cpu_us_per_request".
RESULTS=$(mktemp)
WRK_OUT=$(mktemp)
trap 'cleanup; rm -f "$RESULTS" "$WRK_OUT"' EXIT

if [[ -n "$SIDE_BY_SIDE" ]]; then
    BESIDE_SERVER=${BESIDE_SERVER:-$SERVER}
    BESIDE_MODE=${BESIDE_MODE:-bare}
    [[ -x "$BESIDE_SERVER" ]] || { log "BESIDE_SERVER $BESIDE_SERVER is not a program"; exit 1; }
    BESIDE_LABEL="the $BESIDE_MODE server"
    [[ $BESIDE_MODE == same ]] && BESIDE_LABEL="the same mode's server"
    [[ $BESIDE_SERVER != "$SERVER" ]] && BESIDE_LABEL="$BESIDE_LABEL of $BESIDE_SERVER"
    [[ -n "${BESIDE_ENV:-}" ]] && BESIDE_LABEL="$BESIDE_LABEL with $BESIDE_ENV"
    PAIR_PORT=$((PORT + 1))
    PAIR_URL="http://127.0.0.1:$PAIR_PORT/orders/7"
    PAIR_OUT=$(mktemp)
    trap 'cleanup; rm -f "$RESULTS" "$WRK_OUT" "$PAIR_OUT"' EXIT

    # Drives, for $1 seconds and at the same time, the variant's server with wrk script $2
    # and its argument $3 (output in $WRK_OUT) and the server beside it with the repeated
    # token (output in $PAIR_OUT).
    pair_client() {
        "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$1s" \
            -s "$2" "$URL" -- "$3" >"$WRK_OUT" &
        WRK_PID=$!
        "${BOOST[@]}" "$NICE" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$1s" \
            -s "$SCRIPTS/repeated.lua" "$PAIR_URL" -- "$LOAD_DIR/repeated.token" >"$PAIR_OUT" &
        PAIR_WRK_PID=$!
        wait "$WRK_PID" || { log "wrk failed"; cat "$WRK_OUT" >&2; exit 1; }
        wait "$PAIR_WRK_PID" || { log "wrk failed"; cat "$PAIR_OUT" >&2; exit 1; }
        WRK_PID="" PAIR_WRK_PID=""
    }

    # One line per run: "variant round rps rps_beside errors errors_beside wrapped
    # user_us system_us user_us_beside system_us_beside" (CPU time a request, all threads).
    # The ratios of variant $1's runs to the runs beside them.
    side_ratios() { awk -v v="$1" '$1 == v && $4 > 0 { printf "%.4f\n", $3 / $4 }' "$RESULTS"; }
    # Variant $1's median CPU time a request, user (column $2) + system (the next), in µs.
    cpu_split() {
        local user system
        user=$(column_of "$1" "$2" | median)
        system=$(column_of "$1" $(($2 + 1)) | median)
        awk -v u="$user" -v s="$system" 'BEGIN { if (u == "" || s == "") print "-"; else printf "%.2f + %.2f µs", u, s }'
    }
    for round in $(seq "$ROUNDS"); do
        for variant in $VARIANTS; do
            beside_mode=$BESIDE_MODE
            [[ $beside_mode == same ]] && beside_mode=$(server_mode "$variant")
            SERVER=$BESIDE_SERVER SERVER_ENV=${BESIDE_ENV:-} start_server "$beside_mode" "$PAIR_PORT"
            PAIR_SERVER_PID=$SERVER_PID
            start_server "$(server_mode "$variant")"
            read -r script tokens <<<"$(client_args "$variant")"
            pair_client "$WARMUP" "$SCRIPTS/repeated.lua" "$LOAD_DIR/repeated.token"
            read -r user_before system_before <<<"$(process_ticks "$SERVER_PID")"
            read -r beside_user_before beside_system_before <<<"$(process_ticks "$PAIR_SERVER_PID")"
            pair_client "$DURATION" "$script" "$tokens"
            read -r user_after system_after <<<"$(process_ticks "$SERVER_PID")"
            read -r beside_user_after beside_system_after <<<"$(process_ticks "$PAIR_SERVER_PID")"
            cleanup
            line=$(grep '^RESULT ' "$PAIR_OUT") || { log "no result from the client"; cat "$PAIR_OUT" >&2; exit 1; }
            beside_rps=$(field rps)
            beside_errors=$(($(field status_errors) + $(field socket_errors)))
            beside_requests=$(field requests)
            line=$(grep '^RESULT ' "$WRK_OUT") || { log "no result from the client"; cat "$WRK_OUT" >&2; exit 1; }
            rps=$(field rps)
            errors=$(($(field status_errors) + $(field socket_errors)))
            cpu=$(per_request $((user_after - user_before)) "$(field requests)")
            cpu="$cpu $(per_request $((system_after - system_before)) "$(field requests)")"
            cpu="$cpu $(per_request $((beside_user_after - beside_user_before)) "$beside_requests")"
            cpu="$cpu $(per_request $((beside_system_after - beside_system_before)) "$beside_requests")"
            echo "$variant $round $rps $beside_rps $errors $beside_errors $(field wrapped) $cpu" >>"$RESULTS"
            read -r user system beside_user beside_system <<<"$cpu"
            log "round $round/$ROUNDS $variant beside $BESIDE_LABEL: $rps and $beside_rps req/s, ratio $(ratio "$rps" "$beside_rps" ""), CPU a request (user + system) $user + $system µs and $beside_user + $beside_system µs"
        done
    done

    echo
    echo "GET /orders/{id}, side by side: each variant and $BESIDE_LABEL at the same time on CPU $SERVER_CPU, two wrk -t1 -c$CONNECTIONS -d${DURATION}s on CPU $CLIENT_CPU, $ROUNDS rounds, nice $NICE"
    machine
    echo
    FIRST=${VARIANTS%% *}
    FIRST_PAIRED=$(side_ratios "$FIRST" | median)
    NET_HEADER="" NET_RULE=""
    if [[ $BESIDE_MODE == same ]]; then
        NET_HEADER=" ÷ $FIRST's ratio |"
        NET_RULE="---:|"
    fi
    echo "| variant | req/s ÷ the server beside it (median) | quartiles | cost a request vs the one beside | req/s (median) | the server beside it (median) | CPU a request, user + system | the server beside it | ratio per round | errors |$NET_HEADER"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|$NET_RULE"
    for variant in $VARIANTS; do
        paired=$(side_ratios "$variant" | median)
        net=""
        [[ $BESIDE_MODE == same ]] && net=" $(awk -v r="$paired" -v f="$FIRST_PAIRED" 'BEGIN { if (f > 0) printf "%.3f", r / f; else print "-" }') |"
        cost=$(awk -v r="$paired" 'BEGIN { if (r > 0) printf "%.2fx", 1 / r; else print "-" }')
        per_round=$(side_ratios "$variant" | awk '{ printf "%.3f\n", $1 }' | paste -sd/ -)
        errors=$(awk -v v="$variant" '$1 == v { e += $5; b += $6; if ($7 == "true") w = 1 }
            END { printf "%d, %d beside%s", e, b, w ? ", TOKENS REPEATED" : "" }' "$RESULTS")
        echo "| $variant | $(awk -v r="$paired" 'BEGIN { printf "%.3f", r }') | $(side_ratios "$variant" | quartiles 3) | $cost | $(column_of "$variant" 3 | median | awk '{ printf "%.0f", $1 }') | $(column_of "$variant" 4 | median | awk '{ printf "%.0f", $1 }') | $(cpu_split "$variant" 8) | $(cpu_split "$variant" 10) | $per_round | $errors |$net"
    done
    exit 0
fi

for round in $(seq "$ROUNDS"); do
    for variant in $VARIANTS; do
        start_server "$(server_mode "$variant")"
        read -r script tokens <<<"$(client_args "$variant")"
        client "$WARMUP" "$SCRIPTS/repeated.lua" "$LOAD_DIR/repeated.token"
        ticks_before=$(server_ticks)
        measure "$DURATION" "$script" "$tokens"
        ticks_after=$(server_ticks)
        line=$(grep '^RESULT ' "$WRK_OUT") || { log "no result from the client"; cat "$WRK_OUT" >&2; exit 1; }
        cleanup
        rps=$(field rps)
        p50=$(field p50_us)
        p99=$(field p99_us)
        status=$(field status_errors)
        socket=$(field socket_errors)
        wrapped=$(field wrapped)
        p999=$(field p999_us)
        p90=$(field p90_us)
        cpu=$(per_request $((ticks_after - ticks_before)) "$(field requests)")
        echo "$variant $round $rps $p50 $p99 $status $socket $wrapped $p999 $p90 $cpu" >>"$RESULTS"
        repeated=""
        [[ $wrapped == true ]] && repeated=", tokens repeated"
        log "round $round/$ROUNDS $variant: $rps req/s, server CPU ${cpu} µs/request, p50 ${p50} µs, p90 ${p90} µs, p99 ${p99} µs, p99.9 ${p999} µs, errors $status/$socket$repeated"
        if [[ -n "${RATE:-}" ]] && awk -v a="$rps" -v r="$RATE" 'BEGIN { exit !(a < 0.98 * r) }'; then
            log "the $variant server answered $rps of the $RATE req/s offered: saturated, its latencies measure a growing queue"
        fi
    done
done

BARE_RPS=$(column_of bare 3 | median)
BARE_P50=$(column_of bare 4 | median)
BARE_P90=$(column_of bare 10 | median)
BARE_P99=$(column_of bare 5 | median)
BARE_CPU=$(column_of bare 11 | median)
HAND_REPEATED=$(column_of hand_repeated_RS256 3 | median)
HAND_FIRST=$(column_of hand_first_seen_RS256 3 | median)

echo
if [[ -n "${RATE:-}" ]]; then
    echo "GET /orders/{id}, open loop: $RATE requests/s offered on $CONNECTIONS connections for ${DURATION}s (latency from each request's scheduled send), $ROUNDS rounds (medians), server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, nice $NICE"
    PER_ROUND="p99 per round"
    PER_ROUND_COLUMN=5
else
    echo "GET /orders/{id}, wrk -t1 -c$CONNECTIONS -d${DURATION}s, $ROUNDS rounds (medians), server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU, nice $NICE"
    PER_ROUND="req/s per round"
    PER_ROUND_COLUMN=3
fi
machine
echo
echo "| variant | requests/s | p50 | p90 | p99 | p99.9 | req/s vs bare | req/s vs bare, paired (quartiles) | p50 vs bare | p90 vs bare | p99 vs bare | vs hand-assembled | server CPU a request | CPU vs bare | $PER_ROUND | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
for variant in $VARIANTS; do
    rps=$(column_of "$variant" 3 | median)
    p50=$(column_of "$variant" 4 | median)
    p99=$(column_of "$variant" 5 | median)
    p999=$(column_of "$variant" 9 | median)
    p90=$(column_of "$variant" 10 | median)
    cpu=$(column_of "$variant" 11 | median)
    rounds=$(column_of "$variant" "$PER_ROUND_COLUMN" | paste -sd/ -)
    errors=$(awk -v v="$variant" '$1 == v { s += $6; k += $7; if ($8 == "true") w = 1 }
        END { printf "%d status, %d socket%s", s, k, w ? ", TOKENS REPEATED" : "" }' "$RESULTS")
    vs_bare=$(ratio "$rps" "$BARE_RPS" "")
    # Formatted by awk, as every number here: bash's printf reads "0.92" by the locale.
    paired=$(paired_ratios "$variant" 3 | median | awk '{ printf "%.2f", $1 }')
    paired=$([[ -n "$paired" ]] && echo "$paired ($(paired_ratios "$variant" 3 | quartiles))" || echo "-")
    p50_bare=$(ratio "$p50" "$BARE_P50" x)
    p90_bare=$(ratio "$p90" "$BARE_P90" x)
    p99_bare=$(ratio "$p99" "$BARE_P99" x)
    hand=""
    case $variant in
    portcullis_first_seen_*) hand=$HAND_FIRST ;;
    portcullis_*) hand=$HAND_REPEATED ;;
    esac
    # In an open loop every variant answers the rate offered: only latencies compare.
    vs_hand=$(ratio "$rps" "$hand" x)
    [[ -n "${RATE:-}" ]] && vs_hand="-"
    cpu_bare=$(ratio "$cpu" "$BARE_CPU" x)
    cpu_text=$([[ -n "$cpu" ]] && echo "$cpu µs" || echo "-")
    echo "| $variant | $rps | $(ms "$p50") | $(ms "$p90") | $(ms "$p99") | $(ms "$p999") | $vs_bare | $paired | $p50_bare | $p90_bare | $p99_bare | $vs_hand | $cpu_text | $cpu_bare | $rounds | $errors |"
done
