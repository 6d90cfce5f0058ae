#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 20) and fails on a crash.
#
#   scripts/fuzz-targets.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler. libFuzzer needs nightly
# compiler flags; on a stable toolchain they are unlocked with RUSTC_BOOTSTRAP=1. No sanitizer
# (-s none: safe Rust; panics, overflow checks and debug assertions are what is caught).
# Crashing inputs are left in fuzz/artifacts/TARGET/; corpora grow in fuzz/corpus/TARGET/;
# each run's output is in fuzz/target/logs/TARGET.log.
set -euo pipefail
seconds="${1:-20}"
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
flags=(-s none -O -a)
cargo fuzz build "${flags[@]}"
mkdir -p target/logs
failed=()
for target in $(cargo fuzz list); do
    echo "== $target: ${seconds}s"
    mkdir -p "corpus/$target"
    log="target/logs/$target.log"
    if ! cargo fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 | tee "$log" |
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+== ERROR|thread .* panicked|Done )'; then
        :
    fi
    if grep -qE '^==[0-9]+== ERROR|panicked at|SUMMARY: libFuzzer' "$log"; then
        failed+=("$target")
        echo "!! $target crashed: see fuzz/artifacts/$target/ and fuzz/$log"
    fi
done
if ((${#failed[@]})); then
    echo "crashes in: ${failed[*]}"
    exit 1
fi
echo "no crashes"
