//! Shared by the router's integration tests: the test topology.
#![allow(dead_code)]

use shardgate_config::Topology;

/// `tests/golden/topology.toml`: shards s0, s1, s2 (default s0); sharded tables `users` (id),
/// `orders` (user_id), `events` (id, range), `sessions` (token, string key) and `ledger`
/// (account_id, hash_mod). Every other table is unsharded.
pub const TOPOLOGY_TOML: &str = include_str!("../golden/topology.toml");

/// The parsed test topology.
pub fn topology() -> Topology {
    shardgate_config::parse(TOPOLOGY_TOML, "tests/golden/topology.toml")
        .unwrap_or_else(|e| panic!("test topology is invalid:\n{e}"))
}
