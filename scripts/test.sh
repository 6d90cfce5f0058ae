#!/usr/bin/env bash
# Runs every check: formatting, clippy, all tests (unit, property, and end-to-end tests
# against real MariaDB sandboxes, the mariadb CLI and PyMySQL), and each fuzz target for a
# short while. Installs what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --all-targets
# The randomized differential test: 5,000 random statements through the proxy on 3 shards and
# against one MariaDB, fixed seed; any difference fails (tests/fuzz/README.md).
bash scripts/fuzz-differential.sh --statements 5000 --seed 1
# Every cargo-fuzz target (fuzz/) for 20 s; a crash fails the run (fuzz/README.md).
bash scripts/fuzz-targets.sh 20
# Nothing the tests started may be left running (their servers live in shardgate-sandbox-* dirs).
if pgrep -f 'mariadbd .*shardgate-sandbox-' >/dev/null; then
    echo "test.sh: sandbox mariadbd processes were left running:" >&2
    pgrep -af 'mariadbd .*shardgate-sandbox-' >&2
    exit 1
fi
