//! The config file's shape, as serde structs: every value keeps its span for error lines.
//!
//! Required keys are `Option`s here so that validation can report each missing key by
//! name, together with every other problem, instead of stopping at the first.

use serde::Deserialize;
use toml::Spanned;

/// Top-level keys, in the order the documentation lists them.
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "default_shard",
    "server",
    "users",
    "backend",
    "ring",
    "replication",
    "resharding",
    "shards",
    "tables",
];

/// `[server]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSchema {
    pub listen: Option<Spanned<String>>,
    pub server_version: Option<Spanned<String>>,
    pub scatter_timeout_ms: Option<Spanned<i64>>,
    pub merge_max_rows: Option<Spanned<i64>>,
    pub merge_max_bytes: Option<Spanned<i64>>,
    pub metrics_listen: Option<Spanned<String>>,
    pub slow_query_ms: Option<Spanned<i64>>,
    pub schema_refresh_ms: Option<Spanned<i64>>,
    pub transaction_mode: Option<Spanned<String>>,
    pub multi_shard_lock_wait_timeout_seconds: Option<Spanned<i64>>,
    pub tls_cert_file: Option<Spanned<String>>,
    pub tls_key_file: Option<Spanned<String>>,
    pub handshake_timeout_ms: Option<Spanned<i64>>,
    pub max_allowed_packet: Option<Spanned<i64>>,
    pub max_client_connections: Option<Spanned<i64>>,
    pub max_connect_errors: Option<Spanned<i64>>,
    pub host_block_ms: Option<Spanned<i64>>,
    pub require_tls: Option<Spanned<bool>>,
    pub pass_through_auth: Option<Spanned<bool>>,
    pub query_timeout_ms: Option<Spanned<i64>>,
    pub client_write_timeout_ms: Option<Spanned<i64>>,
}

/// One `[[users]]` entry: a client account the proxy accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserSchema {
    pub name: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub admin: Option<Spanned<bool>>,
    pub require_tls: Option<Spanned<bool>>,
}

/// `[backend]`: how the proxy logs in to every MariaDB.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendSchema {
    pub user: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    pub database: Option<Spanned<String>>,
    pub own_database: Option<Spanned<String>>,
    pub pool: Option<Spanned<PoolSchema>>,
    pub tls: Option<Spanned<String>>,
    pub tls_ca_file: Option<Spanned<String>>,
}

/// `[backend.pool]`; numbers are `i64` so that negative values get our own message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoolSchema {
    pub max_size: Option<Spanned<i64>>,
    pub min_idle: Option<Spanned<i64>>,
    pub idle_timeout_ms: Option<Spanned<i64>>,
    pub max_lifetime_ms: Option<Spanned<i64>>,
    pub connect_timeout_ms: Option<Spanned<i64>>,
    pub checkout_timeout_ms: Option<Spanned<i64>>,
    pub validation_query: Option<Spanned<String>>,
    pub validation_interval_ms: Option<Spanned<i64>>,
    pub max_prepared_statements: Option<Spanned<i64>>,
}

/// `[ring]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RingSchema {
    pub virtual_nodes: Option<Spanned<i64>>,
}

/// One `[[shards]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShardSchema {
    pub name: Option<Spanned<String>>,
    pub primary: Option<Spanned<String>>,
    pub replicas: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[[tables]]` entry: a sharded table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableSchema {
    pub name: Option<Spanned<String>>,
    pub shard_key: Option<Spanned<String>>,
    pub strategy: Option<Spanned<String>>,
    pub shard_key_type: Option<Spanned<String>>,
    pub shard_key_collation: Option<Spanned<String>>,
    pub ranges: Option<Spanned<Vec<Spanned<RangeSchema>>>>,
    pub consistency: Option<Spanned<String>>,
    pub reference: Option<Spanned<bool>>,
    pub auto_increment: Option<Spanned<AutoIncrementSchema>>,
    pub lookups: Option<Spanned<Vec<Spanned<LookupSchema>>>>,
}

/// One of a table's `lookups = [{ column = "email", unique = true }]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupSchema {
    pub column: Option<Spanned<String>>,
    pub unique: Option<Spanned<bool>>,
    pub write_only: Option<Spanned<bool>>,
    pub table: Option<Spanned<String>>,
}

/// A table's `auto_increment = { column = "id", sequence = "users_seq", cache = 1000 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoIncrementSchema {
    pub column: Option<Spanned<String>>,
    pub sequence: Option<Spanned<String>>,
    pub cache: Option<Spanned<i64>>,
}

/// `[replication]`: how reads use replicas.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplicationSchema {
    pub consistency: Option<Spanned<String>>,
    pub max_lag_seconds: Option<Spanned<i64>>,
    pub replica_fallback: Option<Spanned<String>>,
    pub health_check_interval_ms: Option<Spanned<i64>>,
    pub health_check_timeout_ms: Option<Spanned<i64>>,
}

/// `[resharding]`: how a migration's cutover holds writes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReshardingSchema {
    pub cutover_hold_ms: Option<Spanned<i64>>,
    pub cutover_lag_events: Option<Spanned<i64>>,
    pub pause_before_cutover: Option<Spanned<bool>>,
}

/// One entry of a range table's `ranges`: keys `start <= k < end` live on `shard`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RangeSchema {
    pub shard: Option<Spanned<String>>,
    pub start: Option<Spanned<i64>>,
    pub end: Option<Spanned<i64>>,
}

/// The whole file, each section read on its own so one bad section hides nothing else.
/// Array entries keep their position (`None` = unreadable) so keys like `tables[3]` stay true.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub default_shard: Option<Spanned<String>>,
    pub server: Option<Spanned<ServerSchema>>,
    pub users: Vec<Option<Spanned<UserSchema>>>,
    pub backend: Option<Spanned<BackendSchema>>,
    pub ring: Option<Spanned<RingSchema>>,
    pub replication: Option<Spanned<ReplicationSchema>>,
    pub resharding: Option<Spanned<ReshardingSchema>>,
    pub shards: Vec<Option<Spanned<ShardSchema>>>,
    pub tables: Vec<Option<Spanned<TableSchema>>>,
}
