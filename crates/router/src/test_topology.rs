//! The topology the router's unit tests plan against: shards `s0` and `s1` (the default),
//! and the tables a test names.

use shardgate_config::Topology;

const SHARDS: &str = r#"
default_shard = "s0"
[[users]]
name = "app"
password = "pw"
[backend]
user = "u"
password = "p"
database = "app"
[[shards]]
name = "s0"
primary = "127.0.0.1:3306"
[[shards]]
name = "s1"
primary = "127.0.0.1:3307"
"#;

/// Two shards and `tables` (`[[tables]]` entries).
pub(crate) fn two_shards(tables: &str) -> Topology {
    shardgate_config::parse(&format!("{SHARDS}{tables}"), "t.toml").expect("a valid test config")
}

/// `topology` with `table`'s columns (`(name, type, collation)`, in order) in its schema cache,
/// next to what it holds.
pub(crate) fn with_columns(
    topology: Topology,
    table: &str,
    columns: &[(&str, &str, Option<&str>)],
) -> Topology {
    let rows = columns
        .iter()
        .enumerate()
        .map(
            |(n, &(column, ty, collation))| shardgate_schema::ColumnRow {
                table: table.into(),
                column: column.into(),
                ordinal: n as u64 + 1,
                column_type: ty.into(),
                collation: collation.map(Into::into),
                default: shardgate_schema::ColumnDefault::Null,
                primary_key: n == 0,
            },
        );
    let loaded = shardgate_schema::Schema::from_rows(rows);
    let ticket = topology.schema.begin_load();
    topology
        .schema
        .install_tables(ticket, &[table.to_ascii_lowercase()], loaded, Vec::new());
    topology
}

/// `tests/golden/topology.toml`, with the columns of its string-keyed `sessions` (a
/// `utf8mb4_general_ci` key) in its schema cache.
pub(crate) fn golden() -> Topology {
    let text = include_str!("../tests/golden/topology.toml");
    let topology = shardgate_config::parse(text, "topology.toml").expect("valid topology");
    with_columns(
        topology,
        "sessions",
        &[
            ("token", "varchar(64)", Some("utf8mb4_general_ci")),
            ("user_id", "int(11)", None),
            ("v", "int(11)", None),
        ],
    )
}
