#!/usr/bin/env bash
# Runs every check: formatting, clippy, and all tests (unit, property, and end-to-end tests
# against real MariaDB sandboxes, the mariadb CLI and PyMySQL). Installs what they need first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --all-targets
# Nothing may be left running by the tests.
if pgrep -x mariadbd >/dev/null; then
    echo "test.sh: mariadbd processes were left running:" >&2
    pgrep -ax mariadbd >&2
    exit 1
fi
