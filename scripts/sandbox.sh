#!/usr/bin/env bash
# Quick start: installs MariaDB if missing, builds shardgate, and runs a local sandbox —
# 2 shards × (primary + 1 replica) with GTID replication, sample data, and the proxy on :6033.
# Extra arguments go to `shardgate sandbox` (e.g. --shards 4 --replicas 2 --port 7033).
# Ctrl-C stops the proxy and every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --quiet
exec ./target/release/shardgate sandbox "$@"
