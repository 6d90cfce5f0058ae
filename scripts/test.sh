#!/usr/bin/env bash
# Runs every check: formatting, clippy, and all tests (unit, property, and end-to-end tests
# against real MariaDB sandboxes, the mariadb CLI and PyMySQL). Installs what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --all-targets
# Nothing the tests started may be left running (their servers live in shardgate-sandbox-* dirs).
if pgrep -f 'mariadbd .*shardgate-sandbox-' >/dev/null; then
    echo "test.sh: sandbox mariadbd processes were left running:" >&2
    pgrep -af 'mariadbd .*shardgate-sandbox-' >&2
    exit 1
fi
