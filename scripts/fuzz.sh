#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (HARDENING.md, "Fuzzing"), one at a time, niced.
#
#   scripts/fuzz.sh [-n RUNS] [-t SECONDS] [-j JOBS] [TARGET ...]
#
#   -n RUNS     executions per target (default 10000000)
#   -t SECONDS  at most this long per target (whichever of -n and -t comes first)
#   -j JOBS     parallel fuzzing processes per target (default 1: the machine is shared)
#   TARGET      targets to run (default: all, as `cargo fuzz list` gives them)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target
# starts from fuzz/corpus/<target> (the seeds come from `cargo run --example seeds`
# when the directory is missing), adds what it finds to a scratch copy, and the
# result is minimised back into fuzz/corpus/<target> (`cargo fuzz cmin`). A crash
# stops that target: its input is in fuzz/artifacts/<target>/, the script goes on with
# the next target and exits 1 at the end. Figures (executions, exec/s, coverage,
# features, corpus size) are printed per target and appended to fuzz/last-run.txt.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

runs=10000000
secs=""
jobs=1
while getopts "n:t:j:" o; do
    case $o in
        n) runs=$OPTARG ;;
        t) secs=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
cargo +nightly --version >/dev/null 2>&1 || { echo "fuzz.sh: the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 2; }

# No sanitizer: the crate is safe Rust (one module of libc calls, not reached here),
# and overflow checks and debug assertions stay on (cargo fuzz's default).
bindir=target/x86_64-unknown-linux-gnu/release
# build TARGET: each target is built just before it runs, with its own flags. The
# engine targets go without compare tracing (-sanitizer-coverage-trace-compares): a
# third of their time went to tracing the compares of the X25519 field arithmetic
# inlined into wgif, while the harness already gives them the values compares would
# find (type words, lengths, MACs). Cargo keeps both builds, so switching is a relink.
flags() {
    echo "-s none"
    case $1 in engine_*) echo --no-trace-compares ;; esac
}
build() {
    # shellcheck disable=SC2046 # flags are single words
    nice -n 19 cargo +nightly fuzz build $(flags "$1") "$1"
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
if [ ! -d corpus ] || [ -z "$(ls corpus 2>/dev/null)" ]; then
    nice -n 19 cargo +nightly run -q --example seeds
fi

limit=(-runs="$runs")
[ -n "$secs" ] && limit+=(-max_total_time="$secs")
status=0
for t in "${targets[@]}"; do
    [ -d "corpus/$t" ] || nice -n 19 cargo +nightly run -q --example seeds
    build "$t"
    work=$(mktemp -d)
    cp -r "corpus/$t/." "$work/"
    mkdir -p "artifacts/$t"
    log=$(mktemp)
    start=$(date +%s)
    rc=0
    # Per-input limits: 2 s and 2 GiB; inputs up to 64 KiB (frames, files, batches).
    par=()
    [ "$jobs" -gt 1 ] && par=(-fork="$jobs")
    nice -n 19 "$bindir/$t" "${limit[@]}" "${par[@]}" \
        -max_len=65536 -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "$work" >"$log" 2>&1 || rc=$?
    secs_taken=$(( $(date +%s) - start ))
    # Minimise: the seeds and everything found, down to what keeps the coverage.
    # (cmin rebuilds with the same flags, so it reruns the binary just built.)
    # shellcheck disable=SC2046
    nice -n 19 cargo +nightly fuzz cmin $(flags "$t") "$t" "$work" >/dev/null 2>&1 || true
    rm -rf "corpus/$t" && mkdir -p "corpus/$t" && cp -r "$work/." "corpus/$t/" && rm -rf "$work"
    done_line=$(grep -a -E "^#[0-9]+.*DONE" "$log" | tail -1 || true)
    execs=$(grep -a "stat::number_of_executed_units" "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -a -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1 || true)
    crash=$(grep -a -E "^(==[0-9]+== ERROR|SUMMARY|thread .* panicked)" "$log" | head -2 || true)
    files=$(ls "corpus/$t" | wc -l)
    bytes=$(du -sb "corpus/$t" | cut -f1)
    line="$t: $execs executions in ${secs_taken}s ($(( execs / (secs_taken > 0 ? secs_taken : 1) )) exec/s), $cov, corpus $files files / $bytes bytes after cmin"
    if [ $rc -ne 0 ]; then
        line="$line, CRASH: $crash (input in fuzz/artifacts/$t/)"
        status=1
    fi
    echo "$line"
    echo "$(date -u +%F) $line" >>last-run.txt
    [ -n "$done_line" ] || tail -5 "$log"
    rm -f "$log"
done
exit $status
