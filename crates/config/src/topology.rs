//! The validated, immutable view of a config file that every query reads.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use shardgate_ring::{Collation, KeyKind, KeyValue, RingError, ShardId, Sharder};

/// Everything the proxy needs to route and serve, built once per (re)load.
#[derive(Debug)]
pub struct Topology {
    pub server: ServerSettings,
    pub users: Vec<UserAccount>,
    pub backend: BackendSettings,
    /// Shards in config order; a `ShardId` indexes this vector.
    pub shards: Vec<Shard>,
    /// Where unsharded tables live.
    pub default_shard: ShardId,
    /// Sharded tables, keyed by lower-cased table name.
    pub tables: foldhash::HashMap<String, TableRule>,
    pub replication: ReplicationSettings,
    pub resharding: ReshardingSettings,
    /// Reference tables (lower-cased): a full copy on every shard.
    pub reference_tables: foldhash::HashSet<String>,
    /// Some table has `lookups`: only then does the planner look for them.
    pub has_lookups: bool,
    /// The config text it was read from (a resharding migration records the one it starts
    /// from: its verify, clean-up and cancel need it after the cutover).
    pub text: ConfigText,
    /// The one part that changes while the topology serves: the tables' columns as last read
    /// from the shards (`server/src/schema_loader.rs`), empty until the first load.
    pub schema: shardgate_schema::SchemaCell,
}

/// A config file's text; `Debug` prints only its length (it holds passwords).
#[derive(Clone)]
pub struct ConfigText(pub Arc<str>);

impl fmt::Debug for ConfigText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigText({} bytes)", self.0.len())
    }
}

impl std::ops::Deref for ConfigText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// How a resharding migration's cutover holds writes (`[resharding]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReshardingSettings {
    /// The longest a write to a moving key is held; a cutover not done by then is abandoned
    /// (the held writes run on the old topology) and tried again.
    pub cutover_hold: Duration,
    /// The catch-up lag (source transactions not applied yet) under which a cutover starts.
    pub cutover_lag_events: u64,
    /// A migration pauses when its catch-up starts, and cuts over only after
    /// `SHARDGATE RESHARD RESUME`.
    pub pause_before_cutover: bool,
}

impl Default for ReshardingSettings {
    fn default() -> Self {
        ReshardingSettings {
            cutover_hold: Duration::from_secs(3),
            cutover_lag_events: 20,
            pause_before_cutover: false,
        }
    }
}

/// How reads use replicas (`[replication]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// The consistency level of tables that set none.
    pub consistency: Consistency,
    /// A replica further behind than this leaves rotation.
    pub max_lag: Duration,
    /// What reads do when no replica may serve them.
    pub fallback: ReplicaFallback,
    /// How often each endpoint is checked.
    pub health_check_interval: Duration,
    /// How long one step of a check (connect, query) may take.
    pub health_check_timeout: Duration,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        ReplicationSettings {
            consistency: Consistency::ReadYourWrites,
            max_lag: Duration::from_secs(5),
            fallback: ReplicaFallback::Primary,
            health_check_interval: Duration::from_secs(1),
            health_check_timeout: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `host:port` the MySQL front door listens on.
    pub listen: String,
    /// The version string sent in the handshake (`@@version` still comes from the backend).
    pub server_version: String,
    /// How long a scattered statement may take on any one shard.
    pub scatter_timeout: Duration,
    /// Rows a merge that must hold rows (sorting unordered input, grouping) may keep.
    pub merge_max_rows: u64,
    /// Bytes such a merge may keep.
    pub merge_max_bytes: u64,
    /// `host:port` of the HTTP endpoint serving `/metrics`, `/healthz` and `/readyz`, if any.
    pub metrics_listen: Option<String>,
    /// Statements slower than this are logged (text shortened, literal values replaced).
    pub slow_query: Duration,
    /// How often the tables' columns are read again from the shards (`None`: only at start,
    /// on reload, after DDL through the proxy and when a plan finds them missing).
    pub schema_refresh: Option<Duration>,
    /// What a transaction that reaches a second shard does.
    pub transaction_mode: TransactionMode,
    /// `innodb_lock_wait_timeout` for transactions over several shards (transaction_mode
    /// "multi"): no server sees a deadlock between shards, so this is what ends one.
    pub multi_shard_lock_wait_timeout: Option<u64>,
    /// Client-side TLS: PEM certificate chain and private key files (both or neither).
    pub tls: Option<TlsFiles>,
    /// How long a client may take from connecting to the end of authentication.
    pub handshake_timeout: Duration,
    /// The largest command a client may send (MariaDB's `max_allowed_packet`); a larger one
    /// gets error 1153 and the connection is closed.
    pub max_allowed_packet: usize,
    /// Client connections open at once (handshaking ones included); one more is refused with
    /// MariaDB's 1040 before the handshake.
    pub max_client_connections: usize,
    /// Failed logins from one client address after which it is refused (1129) for
    /// `host_block`; 0 turns the limit off.
    pub max_connect_errors: u64,
    /// How long a blocked address stays blocked, and how long a failure counts.
    pub host_block: Duration,
    /// Every client must use TLS: plain logins get 1045.
    pub require_tls: bool,
    /// Clients may also log in as the servers' own MariaDB accounts (mysql_native_password,
    /// read from the default shard's `mysql.user`); their sessions' backend connections log in
    /// as them, so MariaDB's privileges apply.
    pub pass_through_auth: bool,
    /// The longest any statement may run, on every route (`None`: no bound of the proxy's
    /// own; a session's `max_statement_time` still applies). Past it the statement is killed
    /// on its backends and the client gets 1969.
    pub query_timeout: Option<Duration>,
    /// How long the proxy waits for a client to read what it writes (MariaDB's
    /// `net_write_timeout`); past it the client is disconnected.
    pub client_write_timeout: Duration,
}

/// `[server] max_client_connections` when not set.
pub const DEFAULT_MAX_CLIENT_CONNECTIONS: usize = 10_000;
/// `[server] max_connect_errors` when not set: MariaDB's default.
pub const DEFAULT_MAX_CONNECT_ERRORS: u64 = 100;

/// `[server] max_allowed_packet` when not set: MariaDB 10.11's default, 16 MiB.
pub const DEFAULT_MAX_ALLOWED_PACKET: usize = 16 * 1024 * 1024;
/// The bounds MariaDB accepts for `max_allowed_packet`: 1 KiB to 1 GiB.
pub const MAX_ALLOWED_PACKET_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024 * 1024;

/// PEM files of the certificate the proxy presents to clients that ask for TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// `[server] transaction_mode`: what happens when a transaction touches a second shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionMode {
    /// The statement is refused; the transaction stays usable (for ROLLBACK, or its own shard).
    #[default]
    Single,
    /// The second shard joins; COMMIT commits the shards one after another (not atomic).
    Multi,
}

impl FromStr for TransactionMode {
    type Err = String;

    /// Parses the config spelling.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "single" => Ok(TransactionMode::Single),
            "multi" => Ok(TransactionMode::Multi),
            other => Err(format!(
                "unknown transaction_mode {other:?} (expected \"single\" or \"multi\")"
            )),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: crate::DEFAULT_LISTEN.to_owned(),
            server_version: crate::DEFAULT_SERVER_VERSION.to_owned(),
            scatter_timeout: Duration::from_secs(30),
            merge_max_rows: 1_000_000,
            merge_max_bytes: 256 * 1024 * 1024,
            metrics_listen: None,
            slow_query: Duration::from_secs(1),
            schema_refresh: Some(Duration::from_secs(60)),
            transaction_mode: TransactionMode::Single,
            multi_shard_lock_wait_timeout: Some(5),
            tls: None,
            handshake_timeout: Duration::from_secs(10),
            max_allowed_packet: DEFAULT_MAX_ALLOWED_PACKET,
            max_client_connections: DEFAULT_MAX_CLIENT_CONNECTIONS,
            max_connect_errors: DEFAULT_MAX_CONNECT_ERRORS,
            host_block: Duration::from_secs(5 * 60),
            require_tls: false,
            pass_through_auth: false,
            query_timeout: None,
            client_write_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub struct UserAccount {
    pub name: String,
    /// The password, or its mysql_native_password hash (`*` + 40 hex digits), as configured.
    pub password: String,
    /// May run the proxy's admin statements (`SHOW SHARDGATE …`).
    pub admin: bool,
    /// Logs in over TLS only (as MariaDB's `REQUIRE SSL`).
    pub require_tls: bool,
}

/// Without the password: a topology printed with `{:?}` must not show it.
impl fmt::Debug for UserAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAccount")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("require_tls", &self.require_tls)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct BackendSettings {
    pub user: String,
    pub password: String,
    /// The database every backend connection starts in (and the session default).
    pub database: String,
    /// The database of the proxy's own records (placements, resharding, heartbeats) on the
    /// default shard: not `database`, where applications would see them.
    pub own_database: String,
    pub pool: PoolSettings,
    /// Whether and how backend connections use TLS.
    pub tls: BackendTls,
}

/// Without the password: a topology printed with `{:?}` must not show it.
impl fmt::Debug for BackendSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSettings")
            .field("user", &self.user)
            .field("database", &self.database)
            .field("own_database", &self.own_database)
            .field("pool", &self.pool)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// `[backend] tls` and `tls_ca_file`: TLS on the proxy's connections to the servers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BackendTls {
    /// Plain connections.
    #[default]
    Disabled,
    /// TLS when the server offers it, its certificate not checked; plain otherwise.
    Preferred,
    /// TLS always (a server without it is an error), its certificate not checked.
    Required,
    /// TLS with a certificate signed by the CA in the file; the host name is not checked.
    VerifyCa(std::path::PathBuf),
    /// TLS with a certificate signed by the CA in the file and naming the endpoint's host.
    VerifyIdentity(std::path::PathBuf),
}

impl BackendTls {
    /// The config spellings of the modes, in order of strictness.
    pub const MODES: [&'static str; 5] = [
        "disabled",
        "preferred",
        "required",
        "verify_ca",
        "verify_identity",
    ];

    /// The config spelling.
    pub fn mode(&self) -> &'static str {
        match self {
            BackendTls::Disabled => "disabled",
            BackendTls::Preferred => "preferred",
            BackendTls::Required => "required",
            BackendTls::VerifyCa(_) => "verify_ca",
            BackendTls::VerifyIdentity(_) => "verify_identity",
        }
    }

    /// The CA file the server certificates are checked against, in the verifying modes.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        match self {
            BackendTls::VerifyCa(ca) | BackendTls::VerifyIdentity(ca) => Some(ca),
            _ => None,
        }
    }
}

/// Where the MySQL front door listens when `[server] listen` is not set.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:6033";

/// The handshake version string when `[server] server_version` is not set; clients detect
/// MariaDB from it.
pub const DEFAULT_SERVER_VERSION: &str = "5.5.5-10.11.0-MariaDB-shardgate";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_size: usize,
    pub min_idle: usize,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub connect_timeout: Duration,
    /// How long a query waits for a free connection before failing.
    pub checkout_timeout: Duration,
    /// Sent on a connection that sat idle longer than `validation_interval`.
    pub validation_query: String,
    pub validation_interval: Duration,
    /// Prepared statements kept per backend connection (least recently used closed first), so
    /// the proxy never exhausts a server's `max_prepared_stmt_count`.
    pub max_prepared_statements: usize,
}

impl Default for PoolSettings {
    /// The defaults documented in `config/README.md`.
    fn default() -> Self {
        PoolSettings {
            max_size: 64,
            min_idle: 0,
            idle_timeout: Duration::from_secs(5 * 60),
            max_lifetime: Duration::from_secs(60 * 60),
            connect_timeout: Duration::from_secs(2),
            checkout_timeout: Duration::from_secs(5),
            validation_query: "SELECT 1".to_owned(),
            validation_interval: Duration::from_secs(30),
            max_prepared_statements: 128,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Shard {
    pub name: String,
    pub primary: Endpoint,
    pub replicas: Vec<Endpoint>,
}

/// A MariaDB server address, as `host:port` (an IPv6 host is shown as `[::1]:3306`;
/// `host` holds it without brackets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How values of a shard key are compared before hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardKeyType {
    /// Integer column: `'42'` and `42` are the same key; non-integers are rejected.
    Integer,
    /// String column: values hash by their folded form under the table's key collation
    /// (`Collation::fold_key`); integers by their decimal text.
    String,
}

/// How one sharded table is placed.
#[derive(Debug, Clone)]
pub struct TableRule {
    /// Table name as written in the config.
    pub name: String,
    /// Shard key column, lower-cased.
    pub shard_key: String,
    pub key_type: ShardKeyType,
    /// The collation string keys are placed by (`shard_key_collation`): values it calls equal
    /// share a shard. Unused for integer keys.
    pub key_collation: Collation,
    /// Shared between tables of the same strategy so that equal keys co-locate.
    pub sharder: Arc<Sharder>,
    /// Its reads' consistency level, when it sets one (else `[replication] consistency`).
    pub consistency: Option<Consistency>,
    /// The column the proxy fills from a sequence when an INSERT leaves it out (or NULL / 0).
    pub auto_increment: Option<AutoIncrement>,
    /// Lookup indexes: columns whose values the proxy maps to shard keys (`lookups`).
    pub lookups: Vec<Lookup>,
}

/// One of a table's `lookups`: a table on the default shard mapping `column`'s values to the
/// shard key of the rows holding them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Lower-cased.
    pub column: String,
    /// At most one row may hold a value (enforced across shards).
    pub unique: bool,
    /// Written with every write, but not used to route reads (while it is backfilled).
    pub write_only: bool,
    /// The lookup table's name on the default shard.
    pub table: String,
}

/// A table's `auto_increment`: ids for `column` come from the sequence table `sequence` on
/// the default shard, reserved `cache` at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoIncrement {
    /// Lower-cased.
    pub column: String,
    /// The sequence table's name, as written in the config.
    pub sequence: String,
    /// How many ids one reservation takes.
    pub cache: u64,
}

/// `auto_increment.cache` when not set.
pub const DEFAULT_SEQUENCE_CACHE: u64 = 1000;

impl TableRule {
    /// The shard owning `key` — the one function both the proxy and `shardgate route` call.
    pub fn shard_for(&self, key: &KeyValue<'_>) -> Result<ShardId, RingError> {
        self.sharder.shard_for(key, self.key_kind())
    }

    /// What the key's values hash as.
    pub fn key_kind(&self) -> KeyKind {
        match self.key_type {
            ShardKeyType::Integer => KeyKind::Integer,
            ShardKeyType::String => KeyKind::String(self.key_collation),
        }
    }
}

impl Topology {
    /// The rule for a table name as written in SQL (case-insensitive), if sharded.
    pub fn table(&self, name: &str) -> Option<&TableRule> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.tables.get(&name.to_ascii_lowercase())
        } else {
            self.tables.get(name)
        }
    }

    /// The index of the shard named `name`.
    /// Whether `name` (as written in SQL) is a reference table.
    pub fn is_reference(&self, name: &str) -> bool {
        self.reference_tables.contains(&name.to_ascii_lowercase())
    }

    pub fn shard_index(&self, name: &str) -> Option<ShardId> {
        self.shards.iter().position(|s| s.name == name)
    }

    /// One line for logs, e.g.
    /// `2 shards (4 endpoints), 2 sharded tables, 1 user, listen 127.0.0.1:6033`.
    pub fn summary(&self) -> String {
        fn count(n: usize, one: &str, many: &str) -> String {
            format!("{n} {}", if n == 1 { one } else { many })
        }
        let endpoints: usize = self.shards.iter().map(|s| 1 + s.replicas.len()).sum();
        format!(
            "{} ({}), {}, {}, listen {}",
            count(self.shards.len(), "shard", "shards"),
            count(endpoints, "endpoint", "endpoints"),
            count(self.tables.len(), "sharded table", "sharded tables"),
            count(self.users.len(), "user", "users"),
            self.server.listen
        )
    }
}

/// How fresh a read must be (per table, `consistency = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Consistency {
    /// Always the primary.
    #[default]
    Strong,
    /// A replica that has applied the session's own writes to the shard, else the primary.
    ReadYourWrites,
    /// Any healthy replica (at most the configured lag behind).
    Eventual,
}

impl Consistency {
    /// The config spelling: `strong`, `read_your_writes`, `eventual`.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Strong => "strong",
            Consistency::ReadYourWrites => "read_your_writes",
            Consistency::Eventual => "eventual",
        }
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Consistency {
    type Err = String;

    /// Parses the config spelling.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "strong" => Ok(Consistency::Strong),
            "read_your_writes" => Ok(Consistency::ReadYourWrites),
            "eventual" => Ok(Consistency::Eventual),
            other => Err(format!(
                "unknown consistency level {other:?} (expected \"strong\", \"read_your_writes\" or \"eventual\")"
            )),
        }
    }
}

/// What a read gets when no replica may serve it (`replica_fallback = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReplicaFallback {
    /// Read from the primary.
    #[default]
    Primary,
    /// Fail the query.
    Error,
}

impl ReplicaFallback {
    /// The config spelling: `primary`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaFallback::Primary => "primary",
            ReplicaFallback::Error => "error",
        }
    }
}

impl FromStr for ReplicaFallback {
    type Err = String;

    /// Parses the config spelling.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "primary" => Ok(ReplicaFallback::Primary),
            "error" => Ok(ReplicaFallback::Error),
            other => Err(format!(
                "unknown replica_fallback {other:?} (expected \"primary\" or \"error\")"
            )),
        }
    }
}
