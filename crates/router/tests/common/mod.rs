//! Shared by the router's integration tests: the test topology.
#![allow(dead_code)]

use shardgate_config::Topology;
use shardgate_schema::{ColumnDefault, ColumnRow, Schema, SchemaStatus};

/// `tests/golden/topology.toml`: shards s0, s1, s2 (default s0); sharded tables `users` (id),
/// `orders` (user_id), `events` (id, range), `sessions` (token, string key) and `ledger`
/// (account_id, hash_mod). Every other table is unsharded.
pub const TOPOLOGY_TOML: &str = include_str!("../golden/topology.toml");

/// The parsed test topology, with the columns of its string-keyed table in its schema cache
/// (whether a string key pins reads depends on its column's collation).
pub fn topology() -> Topology {
    with_schema(parsed(), Schema::from_rows(string_key_columns()))
}

/// The parsed test topology, its schema cache empty.
pub fn parsed() -> Topology {
    shardgate_config::parse(TOPOLOGY_TOML, "tests/golden/topology.toml")
        .unwrap_or_else(|e| panic!("test topology is invalid:\n{e}"))
}

/// `sessions (token VARCHAR(64) utf8mb4_general_ci, user_id INT, v INT)`: its key column
/// follows the table's key collation (the default, `utf8mb4_general_ci`).
pub fn string_key_columns() -> Vec<ColumnRow> {
    [
        ("token", "varchar(64)", Some("utf8mb4_general_ci")),
        ("user_id", "int(11)", None),
        ("v", "int(11)", None),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (column, ty, collation))| ColumnRow {
        table: "sessions".into(),
        column: column.into(),
        ordinal: n as u64 + 1,
        column_type: ty.into(),
        collation: collation.map(Into::into),
        default: ColumnDefault::Null,
        primary_key: column == "token",
    })
    .collect()
}

/// `topology` with `schema` in its schema cache.
pub fn with_schema(topology: Topology, schema: Schema) -> Topology {
    let ticket = topology.schema.begin_load();
    topology.schema.install_all(
        ticket,
        SchemaStatus {
            schema,
            ..Default::default()
        },
    );
    topology
}
