#!/usr/bin/env bash
# Compile time of 100 secured endpoints: Portcullis against plain axum 0.8 + utoipa 6.
#
#   benches/compile_time/run.sh [--rounds N] [--modes LIST] [--release] [--timings] [--dir DIR]
#                               [--endpoints 10..100]
#
# Generates two crates with the same 100 handlers (gen.py says what they contain):
#   portcullis_100   #[secure]/#[input]/#[output], scopes!, SecureRouter + routes![...]
#   axum_utoipa_100  #[utoipa::path], ToSchema, a garde-validating extractor, utoipa-axum's
#                    OpenApiRouter + routes!(...)
# builds their dependencies once (each crate has its own CARGO_TARGET_DIR under DIR), then
# times only the crate itself, round after round, alternating the crates (A B, then B A,
# so that drift on a shared machine and the order cancel out), and prints the median wall
# time of each crate, their ratio and every sample as a markdown table.
#
# Modes (--modes, comma-separated; default check,build,rebuild):
#   check    `cargo check`, the crate's incremental cache removed first: its first check
#   build    `cargo build` (dev profile, incremental on as cargo's default), the crate's
#            incremental cache removed first: the first build of the crate, dependencies
#            already built. This is the number the issue's 1.5x target is about.
#   rebuild  `touch src/main.rs; cargo build` with the incremental cache warm: the
#            edit-compile loop when nothing changed but the file's time
#   release  `touch src/main.rs; cargo build --release` (incremental off, cargo's default);
#            --release adds it
# --endpoints N (a multiple of 10, default 100) keeps the first N/10 resources: with 10,
# the crates show the fixed cost of each stack (linking, the router's own generic code),
# which the cost per endpoint comes on top of; use another --dir for it.
# --timings adds one `cargo build --timings` per crate at the end, and says where its HTML
# report is (the per-unit split between the front end and code generation).
#
# Everything runs with --offline. The generated crates carry a copy of the repository's
# Cargo.lock, so they use its versions; utoipa-axum is not in it, and the first run
# fetches it (and pastey) once if cargo's cache lacks them.
#
# The environment's CARGO_INCREMENTAL is ignored for the timed builds (they measure what
# a user gets by default); other cargo settings (RUSTFLAGS, ...) are passed through.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rounds=3
modes="check,build,rebuild"
release=0
timings=0
dir="$repo/target/compile_time"
endpoints=100

usage() {
    sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --modes) modes="$2"; shift 2 ;;
        --release) release=1; shift ;;
        --timings) timings=1; shift ;;
        --dir) dir="$2"; shift 2 ;;
        --endpoints) endpoints="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $release -eq 1 && ",$modes," != *",release,"* ]]; then
    modes="$modes,release"
fi
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "--rounds takes a positive number" >&2
    exit 2
fi
if ! [[ $endpoints =~ ^(10|20|30|40|50|60|70|80|90|100)$ ]]; then
    echo "--endpoints takes a multiple of 10 from 10 to 100" >&2
    exit 2
fi
IFS=',' read -r -a mode_list <<<"$modes"
for mode in "${mode_list[@]}"; do
    case "$mode" in
        check | build | rebuild | release) ;;
        *) echo "unknown mode: $mode (check, build, rebuild, release)" >&2; exit 2 ;;
    esac
done

crates=(portcullis_100 axum_utoipa_100)
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
log="$dir/run.log"
: >"$log"

say() { printf '%s\n' "$*" >&2; }

python3 "$here/gen.py" "$dir" "$repo" "$((endpoints / 10))"

# cargo, in a crate's directory and target directory, with CARGO_INCREMENTAL unset.
crate_cargo() {
    local crate="$1"
    shift
    (
        cd "$dir/$crate"
        env -u CARGO_INCREMENTAL CARGO_TARGET_DIR="$dir/$crate-target" cargo "$@"
    )
}

# Dependencies, once: a first build fetches what the cache lacks (utoipa-axum).
for crate in "${crates[@]}"; do
    say "== $crate: building dependencies (not timed)"
    if ! crate_cargo "$crate" build --offline >>"$log" 2>&1; then
        say "   (offline build failed: fetching what the cache lacks once, see $log)"
        crate_cargo "$crate" fetch >>"$log" 2>&1
        crate_cargo "$crate" build --offline >>"$log" 2>&1
    fi
    for mode in "${mode_list[@]}"; do
        case "$mode" in
            check) crate_cargo "$crate" check --offline >>"$log" 2>&1 ;;
            release) crate_cargo "$crate" build --release --offline >>"$log" 2>&1 ;;
        esac
    done
done

# One timed compilation of the crate itself; prints "wall cpu" in seconds (cpu: user +
# system time of cargo and the compilers it ran, which suffers less than the wall time
# from other work on a shared machine).
measure() {
    local crate="$1" mode="$2" target="$dir/$1-target"
    local -a args
    case "$mode" in
        check) args=(check) ;;
        build | rebuild) args=(build) ;;
        release) args=(build --release) ;;
    esac
    touch "$dir/$crate/src/main.rs"
    if [[ $mode == check || $mode == build ]]; then
        rm -rf "$target/debug/incremental/$crate"-*
    fi
    local TIMEFORMAT='%R %U %S' times
    times="$({ time crate_cargo "$crate" "${args[@]}" --offline >>"$log" 2>&1; } 2>&1)"
    awk '{ printf "%.2f %.2f", $1, $2 + $3 }' <<<"$times"
}

# Warm the incremental cache for `rebuild`.
for crate in "${crates[@]}"; do
    crate_cargo "$crate" build --offline >>"$log" 2>&1
done

declare -A wall cpu
for ((round = 1; round <= rounds; round++)); do
    if ((round % 2 == 1)); then order=(0 1); else order=(1 0); fi
    for mode in "${mode_list[@]}"; do
        for index in "${order[@]}"; do
            crate="${crates[$index]}"
            read -r w c <<<"$(measure "$crate" "$mode")"
            wall["$crate/$mode"]+="$w "
            cpu["$crate/$mode"]+="$c "
            say "round $round/$rounds  $mode  $crate  wall ${w}s  cpu ${c}s  (load $(cut -d' ' -f1-3 /proc/loadavg))"
        done
    done
done

median() {
    tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

describe() {
    case "$1" in
        check) echo "cargo check, crate from scratch (incremental)" ;;
        build) echo "cargo build (dev), crate from scratch (incremental)" ;;
        rebuild) echo "cargo build (dev), touch, warm incremental cache" ;;
        release) echo "cargo build --release, touch" ;;
    esac
}

# One table: $1 is the name of the associative array of samples.
table() {
    local -n samples="$1"
    local mode a b ratio
    echo "| measurement | portcullis_100 | axum_utoipa_100 | ratio | samples (portcullis / axum) |"
    echo "|---|---:|---:|---:|---|"
    for mode in "${mode_list[@]}"; do
        a="$(median <<<"${samples[portcullis_100/$mode]}")"
        b="$(median <<<"${samples[axum_utoipa_100/$mode]}")"
        ratio="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / b }')"
        echo "| $(describe "$mode") | $a | $b | **$ratio** | ${samples[portcullis_100/$mode]% } / ${samples[axum_utoipa_100/$mode]% } |"
    done
}

echo
echo "Compile time of each crate ($endpoints endpoints) alone (dependencies built), median of $rounds rounds, seconds;"
echo "$(nproc) cores, $(rustc --version | cut -d' ' -f1-2), $(date -u +%Y-%m-%d), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "Wall time:"
echo
table wall
echo
echo "CPU time (user + system, cargo and rustc):"
echo
table cpu

if [[ $timings -eq 1 ]]; then
    echo
    for crate in "${crates[@]}"; do
        touch "$dir/$crate/src/main.rs"
        rm -rf "$dir/$crate-target/debug/incremental/$crate"-*
        crate_cargo "$crate" build --offline --timings >>"$log" 2>&1
        echo "- $crate: \`cargo build --timings\` report in $dir/$crate-target/cargo-timings/cargo-timing.html"
    done
fi
