#!/usr/bin/env bash
# Randomized, grammar-based differential test: shardgate in front of 3 MariaDB shards against one
# plain MariaDB, on a seeded random schema, data set and statement stream (tests/fuzz/README.md).
#
#   scripts/fuzz-differential.sh [--statements N] [--seed S] [--binary PATH] [--keep]
#                                [--max-differences K] [other options of tests/fuzz/fuzz_differential.py]
#
# Defaults: 5000 statements, seed 1, target/debug/shardgate (built if missing). Exit status 1 if
# any difference was found, 0 otherwise (2: the run itself failed).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --binary=*) binary="${1#--binary=}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
if [[ -z "$binary" ]]; then
    binary=target/debug/shardgate
    if [[ ! -x "$binary" ]]; then
        cargo build --bin shardgate
    fi
fi
if [[ ! -x "$binary" ]]; then
    echo "fuzz-differential: no executable at $binary" >&2
    exit 2
fi
if ! python3 -c 'import pymysql' 2>/dev/null; then
    echo "fuzz-differential: PyMySQL is missing (pip install pymysql)" >&2
    exit 2
fi
exec python3 tests/fuzz/fuzz_differential.py --binary "$binary" "${args[@]}"
