//! Checking a [`Document`] and building the immutable [`Topology`] from it.
//!
//! Every check records its problem and carries on, so one run reports them all.

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use shardgate_ring::{
    Collation, HashRing, KeyRange, RangeMap, RingError, ShardId, Sharder, DEFAULT_VIRTUAL_NODES,
};
use toml::Spanned;

use crate::address::parse_address;
use crate::error::Diagnostics;
use crate::schema::{
    BackendSchema, Document, PoolSchema, RangeSchema, ReplicationSchema, ReshardingSchema,
    RingSchema, ServerSchema, ShardSchema, TableSchema, UserSchema,
};
use crate::{
    BackendSettings, BackendTls, ConfigText, Consistency, Endpoint, PoolSettings,
    ReplicationSettings, ReshardingSettings, ServerSettings, Shard, ShardKeyType, TableRule,
    TlsFiles, Topology, UserAccount,
};

/// Most virtual nodes per shard a config may ask for.
pub const MAX_VIRTUAL_NODES: u32 = 65_536;

/// How a table is placed, before the shared sharders are built.
enum Placement {
    /// A reference table: a full copy on every shard.
    Reference,
    ConsistentHash,
    HashMod,
    Range(RangeMap),
}

/// A checked table, waiting for its sharder.
struct TableDraft {
    name: String,
    shard_key: String,
    key_type: ShardKeyType,
    key_collation: Collation,
    placement: Placement,
    consistency: Option<Consistency>,
    auto_increment: Option<crate::AutoIncrement>,
    lookups: Vec<crate::Lookup>,
}

/// Checks everything in `doc`; the topology only when no problem was found.
pub(crate) fn build(doc: Document, d: &mut Diagnostics<'_>) -> Option<Topology> {
    let server = server(doc.server.as_ref(), d);
    let tls_configured = doc
        .server
        .as_ref()
        .is_some_and(|s| s.get_ref().tls_cert_file.is_some());
    let users = users(&doc.users, tls_configured, d);
    let backend = backend(doc.backend.as_ref(), d);
    let virtual_nodes = virtual_nodes(doc.ring.as_ref(), d);
    let shards = shards(&doc.shards, d);
    let names: Vec<&str> = shards.iter().map(|s| s.name.as_str()).collect();
    let default_shard = default_shard(doc.default_shard.as_ref(), &names, d);
    let tables = tables(&doc.tables, &names, d);
    let replication = replication(doc.replication.as_ref(), d);
    let resharding = resharding(doc.resharding.as_ref(), d);

    if d.has_errors() {
        return None;
    }
    let backend = backend?;
    let mut ring = None;
    let mut hash_mod = None;
    let (references, tables): (Vec<TableDraft>, Vec<TableDraft>) = tables
        .into_iter()
        .partition(|draft| matches!(draft.placement, Placement::Reference));
    let reference_tables = references
        .into_iter()
        .map(|r| r.name.to_ascii_lowercase())
        .collect();
    let has_lookups = tables.iter().any(|draft| !draft.lookups.is_empty());
    let tables = tables
        .into_iter()
        .map(|draft| {
            let sharder = match draft.placement {
                Placement::ConsistentHash => ring
                    .get_or_insert_with(|| {
                        Arc::new(Sharder::ConsistentHash(HashRing::new(
                            &names,
                            virtual_nodes,
                        )))
                    })
                    .clone(),
                Placement::HashMod => hash_mod
                    .get_or_insert_with(|| {
                        Arc::new(Sharder::HashMod {
                            shards: names.len(),
                        })
                    })
                    .clone(),
                Placement::Range(map) => Arc::new(Sharder::Range(map)),
                Placement::Reference => unreachable!("reference tables were set apart"),
            };
            let rule = TableRule {
                name: draft.name,
                shard_key: draft.shard_key,
                key_type: draft.key_type,
                key_collation: draft.key_collation,
                sharder,
                consistency: draft.consistency,
                auto_increment: draft.auto_increment,
                lookups: draft.lookups,
            };
            (rule.name.to_ascii_lowercase(), rule)
        })
        .collect();
    Some(Topology {
        server,
        users,
        backend,
        default_shard,
        tables,
        shards: shards.into_iter().filter_map(|s| s.shard).collect(),
        replication,
        resharding,
        reference_tables,
        has_lookups,
        text: ConfigText(Arc::from("")),
        schema: Default::default(),
    })
}

/// A number that must be greater than 0, if given; `key` names it in the error.
fn positive(field: &Option<Spanned<i64>>, key: &str, d: &mut Diagnostics<'_>) -> Option<u64> {
    let value = field.as_ref()?;
    match u64::try_from(*value.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            let message = format!("must be greater than 0 (got {})", value.get_ref());
            d.at(value.span(), key.to_owned(), message);
            None
        }
    }
}

/// A spelled-out choice (`consistency`, `replica_fallback`), reported with its line if unknown.
fn choice<T: FromStr<Err = String>>(
    field: &Option<Spanned<String>>,
    key: &str,
    d: &mut Diagnostics<'_>,
) -> Option<T> {
    let value = field.as_ref()?;
    match value.get_ref().parse() {
        Ok(v) => Some(v),
        Err(message) => {
            d.at(value.span(), key.to_owned(), message);
            None
        }
    }
}

fn replication(
    schema: Option<&Spanned<ReplicationSchema>>,
    d: &mut Diagnostics<'_>,
) -> ReplicationSettings {
    let mut settings = ReplicationSettings::default();
    let Some(schema) = schema.map(Spanned::get_ref) else {
        return settings;
    };
    if let Some(c) = choice(&schema.consistency, "replication.consistency", d) {
        settings.consistency = c;
    }
    if let Some(f) = choice(&schema.replica_fallback, "replication.replica_fallback", d) {
        settings.fallback = f;
    }
    if let Some(s) = positive(&schema.max_lag_seconds, "replication.max_lag_seconds", d) {
        settings.max_lag = Duration::from_secs(s);
    }
    if let Some(ms) = positive(
        &schema.health_check_interval_ms,
        "replication.health_check_interval_ms",
        d,
    ) {
        settings.health_check_interval = Duration::from_millis(ms);
    }
    if let Some(ms) = positive(
        &schema.health_check_timeout_ms,
        "replication.health_check_timeout_ms",
        d,
    ) {
        settings.health_check_timeout = Duration::from_millis(ms);
    }
    settings
}

fn resharding(
    schema: Option<&Spanned<ReshardingSchema>>,
    d: &mut Diagnostics<'_>,
) -> ReshardingSettings {
    let mut settings = ReshardingSettings::default();
    let Some(schema) = schema.map(Spanned::get_ref) else {
        return settings;
    };
    if let Some(ms) = positive(&schema.cutover_hold_ms, "resharding.cutover_hold_ms", d) {
        settings.cutover_hold = Duration::from_millis(ms);
    }
    if let Some(n) = positive(
        &schema.cutover_lag_events,
        "resharding.cutover_lag_events",
        d,
    ) {
        settings.cutover_lag_events = n;
    }
    if let Some(pause) = &schema.pause_before_cutover {
        settings.pause_before_cutover = *pause.get_ref();
    }
    settings
}

fn server(schema: Option<&Spanned<ServerSchema>>, d: &mut Diagnostics<'_>) -> ServerSettings {
    let mut settings = ServerSettings::default();
    let Some(schema) = schema.map(Spanned::get_ref) else {
        return settings;
    };
    if let Some(listen) = &schema.listen {
        match parse_address(listen.get_ref(), true) {
            Ok(_) => settings.listen = listen.get_ref().clone(),
            Err(message) => d.at(listen.span(), "server.listen", message),
        }
    }
    if let Some(version) = &schema.server_version {
        if version.get_ref().trim().is_empty() {
            d.at(
                version.span(),
                "server.server_version",
                "empty server version (leave the key out for the default)",
            );
        } else {
            settings.server_version = version.get_ref().clone();
        }
    }
    if let Some(ms) = positive(&schema.scatter_timeout_ms, "server.scatter_timeout_ms", d) {
        settings.scatter_timeout = Duration::from_millis(ms);
    }
    if let Some(rows) = positive(&schema.merge_max_rows, "server.merge_max_rows", d) {
        settings.merge_max_rows = rows;
    }
    if let Some(bytes) = positive(&schema.merge_max_bytes, "server.merge_max_bytes", d) {
        settings.merge_max_bytes = bytes;
    }
    if let Some(listen) = &schema.metrics_listen {
        match parse_address(listen.get_ref(), true) {
            Ok(_) => settings.metrics_listen = Some(listen.get_ref().clone()),
            Err(message) => d.at(listen.span(), "server.metrics_listen", message),
        }
    }
    if let Some(ms) = positive(&schema.slow_query_ms, "server.slow_query_ms", d) {
        settings.slow_query = Duration::from_millis(ms);
    }
    if let Some(ms) = &schema.schema_refresh_ms {
        // 0 turns the periodic refresh off.
        match u64::try_from(*ms.get_ref()) {
            Ok(0) => settings.schema_refresh = None,
            Ok(ms) => settings.schema_refresh = Some(Duration::from_millis(ms)),
            Err(_) => d.at(
                ms.span(),
                "server.schema_refresh_ms",
                format!("must be 0 or more (got {})", ms.get_ref()),
            ),
        }
    }
    if let Some(mode) = choice(&schema.transaction_mode, "server.transaction_mode", d) {
        settings.transaction_mode = mode;
    }
    if let Some(seconds) = &schema.multi_shard_lock_wait_timeout_seconds {
        // 0 leaves the servers' own setting alone.
        match u64::try_from(*seconds.get_ref()) {
            Ok(0) => settings.multi_shard_lock_wait_timeout = None,
            Ok(s) if s <= 1_073_741_824 => settings.multi_shard_lock_wait_timeout = Some(s),
            _ => d.at(
                seconds.span(),
                "server.multi_shard_lock_wait_timeout_seconds",
                format!(
                    "must be between 0 (leave the servers' setting) and 1073741824 (got {})",
                    seconds.get_ref()
                ),
            ),
        }
    }
    if let Some(ms) = positive(
        &schema.handshake_timeout_ms,
        "server.handshake_timeout_ms",
        d,
    ) {
        settings.handshake_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = &schema.query_timeout_ms {
        // 0: no bound of the proxy's own, as MariaDB's max_statement_time = 0.
        match u64::try_from(*ms.get_ref()) {
            Ok(0) => settings.query_timeout = None,
            Ok(ms) => settings.query_timeout = Some(Duration::from_millis(ms)),
            Err(_) => d.at(
                ms.span(),
                "server.query_timeout_ms",
                format!("must be 0 (no bound) or more (got {})", ms.get_ref()),
            ),
        }
    }
    if let Some(ms) = positive(
        &schema.client_write_timeout_ms,
        "server.client_write_timeout_ms",
        d,
    ) {
        settings.client_write_timeout = Duration::from_millis(ms);
    }
    if let Some(bytes) = &schema.max_allowed_packet {
        let range = crate::MAX_ALLOWED_PACKET_RANGE;
        match usize::try_from(*bytes.get_ref()) {
            Ok(n) if range.contains(&n) => settings.max_allowed_packet = n,
            _ => d.at(
                bytes.span(),
                "server.max_allowed_packet",
                format!(
                    "must be between {} and {} bytes, as in MariaDB (got {})",
                    range.start(),
                    range.end(),
                    bytes.get_ref()
                ),
            ),
        }
    }
    if let Some(n) = positive(
        &schema.max_client_connections,
        "server.max_client_connections",
        d,
    ) {
        settings.max_client_connections = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(errors) = &schema.max_connect_errors {
        match u64::try_from(*errors.get_ref()) {
            Ok(n) => settings.max_connect_errors = n,
            Err(_) => d.at(
                errors.span(),
                "server.max_connect_errors",
                format!(
                    "must not be negative (got {}; 0 turns the limit off)",
                    errors.get_ref()
                ),
            ),
        }
    }
    if let Some(ms) = positive(&schema.host_block_ms, "server.host_block_ms", d) {
        settings.host_block = Duration::from_millis(ms);
    }
    settings.tls = tls_files(schema, d);
    if let Some(pass_through) = &schema.pass_through_auth {
        settings.pass_through_auth = *pass_through.get_ref();
    }
    if let Some(required) = &schema.require_tls {
        settings.require_tls = *required.get_ref();
        if settings.require_tls && schema.tls_cert_file.is_none() {
            d.at(
                required.span(),
                "server.require_tls",
                "require_tls needs tls_cert_file and tls_key_file: without a certificate no client could log in",
            );
        }
    }
    settings
}

/// Why a `[[users]] password` that looks like a mysql_native_password hash is not one: a
/// value of `*` and hex digits only, or of 41 characters starting with `*`, is read as a hash
/// and must be `*` + 40 hex digits; anything else is a cleartext password.
fn hash_problem(password: &str) -> Option<String> {
    let digits = password.strip_prefix('*')?;
    let all_hex = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit());
    let hash_sized = digits.chars().count() == 40;
    match (all_hex, hash_sized) {
        (true, true) | (false, false) => None,
        (true, false) => Some(format!(
            "malformed mysql_native_password hash: `*` must be followed by 40 hex digits (got {})",
            digits.len()
        )),
        (false, true) => Some(
            "malformed mysql_native_password hash: `*` must be followed by 40 hex digits (0-9, A-F)"
                .to_owned(),
        ),
    }
}

/// `tls_cert_file` and `tls_key_file`: both or neither, each an existing file.
fn tls_files(schema: &ServerSchema, d: &mut Diagnostics<'_>) -> Option<TlsFiles> {
    let file = |field: &Option<Spanned<String>>, key: &str, d: &mut Diagnostics<'_>| {
        let value = field.as_ref()?;
        let path = std::path::PathBuf::from(value.get_ref());
        if path.is_file() {
            Some(path)
        } else {
            d.at(
                value.span(),
                key.to_owned(),
                format!("no such file: {}", path.display()),
            );
            None
        }
    };
    let cert = file(&schema.tls_cert_file, "server.tls_cert_file", d);
    let key = file(&schema.tls_key_file, "server.tls_key_file", d);
    match (&schema.tls_cert_file, &schema.tls_key_file) {
        (Some(_), None) => d.error(
            None,
            "server.tls_key_file",
            "tls_cert_file is set without tls_key_file: set both (PEM files) or neither",
        ),
        (None, Some(_)) => d.error(
            None,
            "server.tls_cert_file",
            "tls_key_file is set without tls_cert_file: set both (PEM files) or neither",
        ),
        _ => {}
    }
    Some(TlsFiles {
        cert: cert?,
        key: key?,
    })
}

/// The `[[users]]` accounts; `tls_configured`: `[server]` names a certificate, which an
/// account that requires TLS needs.
fn users(
    items: &[Option<Spanned<UserSchema>>],
    tls_configured: bool,
    d: &mut Diagnostics<'_>,
) -> Vec<UserAccount> {
    if items.is_empty() {
        d.error(
            None,
            "users",
            "no users: add a [[users]] entry with the name and password clients log in with",
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut users = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item else { continue };
        let (span, user) = (item.span(), item.get_ref());
        let key = format!("users[{i}]");
        let name = match &user.name {
            None => {
                d.at(span.clone(), format!("{key}.name"), "missing user name");
                None
            }
            Some(name) if name.get_ref().is_empty() => {
                d.at(name.span(), format!("{key}.name"), "empty user name");
                None
            }
            Some(name) => {
                let line = d.line_of(name.span().start);
                match seen.get(name.get_ref()) {
                    Some(first) => {
                        let message = format!(
                            "duplicate user {:?} (first defined on line {first})",
                            name.get_ref()
                        );
                        d.at(name.span(), format!("{key}.name"), message);
                    }
                    None => {
                        seen.insert(name.get_ref().clone(), line);
                    }
                }
                Some(name.get_ref().clone())
            }
        };
        let who = name
            .as_deref()
            .map(|n| format!("user {n:?}"))
            .unwrap_or_else(|| "a user".into());
        let password = match &user.password {
            None => {
                d.at(
                    span,
                    format!("{key}.password"),
                    format!("{who} has no password; every client account needs one"),
                );
                None
            }
            Some(password) if password.get_ref().is_empty() => {
                d.at(
                    password.span(),
                    format!("{key}.password"),
                    format!("{who} has an empty password; every client account needs one"),
                );
                None
            }
            Some(password) => match hash_problem(password.get_ref()) {
                Some(message) => {
                    d.at(password.span(), format!("{key}.password"), message);
                    None
                }
                None => Some(password.get_ref().clone()),
            },
        };
        let require_tls = user.require_tls.as_ref().is_some_and(|r| *r.get_ref());
        if let (true, false, Some(required)) = (require_tls, tls_configured, &user.require_tls) {
            d.at(
                required.span(),
                format!("{key}.require_tls"),
                format!("{who} requires TLS, but [server] sets no tls_cert_file and tls_key_file: it could never log in"),
            );
        }
        if let (Some(name), Some(password)) = (name, password) {
            // A bool already: TOML's type check rejected anything else with its line.
            let admin = user.admin.as_ref().is_some_and(|a| *a.get_ref());
            users.push(UserAccount {
                name,
                password,
                admin,
                require_tls,
            });
        }
    }
    users
}

fn backend(
    schema: Option<&Spanned<BackendSchema>>,
    d: &mut Diagnostics<'_>,
) -> Option<BackendSettings> {
    let Some(schema) = schema else {
        d.error(None, "backend", "missing [backend] section: the user, password and database the proxy logs in to every MariaDB with");
        return None;
    };
    let (span, backend) = (schema.span(), schema.get_ref());
    let mut text =
        |field: &Option<Spanned<String>>, name: &str, may_be_empty: bool| -> Option<String> {
            let key = format!("backend.{name}");
            match field {
                None => {
                    d.at(span.clone(), key, format!("missing backend {name}"));
                    None
                }
                Some(value) if !may_be_empty && value.get_ref().trim().is_empty() => {
                    d.at(value.span(), key, format!("empty backend {name}"));
                    None
                }
                Some(value) => Some(value.get_ref().clone()),
            }
        };
    let user = text(&backend.user, "user", false);
    // A backend account without a password is legitimate (e.g. a local sandbox).
    let password = text(&backend.password, "password", true);
    let database = text(&backend.database, "database", false);
    let own_database = own_database(backend, database.as_deref(), d);
    let pool = pool(backend.pool.as_ref().map(Spanned::get_ref), d);
    let tls = backend_tls(backend, d);
    Some(BackendSettings {
        user: user?,
        password: password?,
        database: database?,
        own_database: own_database?,
        pool: pool?,
        tls: tls?,
    })
}

/// `[backend] own_database`: by default `_shardgate_<database>`; a name MariaDB takes (at most
/// 64 characters) and not the applications' database.
fn own_database(
    backend: &BackendSchema,
    database: Option<&str>,
    d: &mut Diagnostics<'_>,
) -> Option<String> {
    let key = "backend.own_database";
    let (name, span) = match &backend.own_database {
        Some(name) => (name.get_ref().clone(), Some(name.span())),
        None => (format!("_shardgate_{}", database?), None),
    };
    let problem = if name.trim().is_empty() {
        Some("empty backend own_database".to_owned())
    } else if name.chars().count() > 64 {
        Some(format!("database name {name:?} is longer than MariaDB's 64 characters: set [backend] own_database to a shorter one"))
    } else if Some(name.as_str()) == database {
        Some(format!("own_database {name:?} is the applications' database: the proxy's records would be theirs to see and dump"))
    } else {
        None
    };
    match problem {
        Some(message) => {
            d.error(span, key, message);
            None
        }
        None => Some(name),
    }
}

/// `[backend] tls` and `tls_ca_file`: the verifying modes need the CA file, the others take none.
fn backend_tls(backend: &BackendSchema, d: &mut Diagnostics<'_>) -> Option<BackendTls> {
    let mode = match &backend.tls {
        None => "disabled",
        Some(mode) if BackendTls::MODES.contains(&mode.get_ref().as_str()) => mode.get_ref(),
        Some(mode) => {
            let message = format!(
                "unknown TLS mode {:?} (expected one of: {})",
                mode.get_ref(),
                BackendTls::MODES.join(", ")
            );
            d.at(mode.span(), "backend.tls", message);
            return None;
        }
    };
    let verifies = matches!(mode, "verify_ca" | "verify_identity");
    let ca = match (&backend.tls_ca_file, verifies) {
        (None, false) => None,
        (None, true) => {
            let span = backend.tls.as_ref().map(Spanned::span);
            let message = format!("tls = {mode:?} checks the servers' certificates against a CA: set tls_ca_file (a PEM file)");
            d.error(span, "backend.tls_ca_file", message);
            return None;
        }
        (Some(ca), false) => {
            let message = format!("tls_ca_file is only read with tls = \"verify_ca\" or \"verify_identity\" (tls is {mode:?}): certificates would not be checked");
            d.at(ca.span(), "backend.tls_ca_file", message);
            return None;
        }
        (Some(ca), true) => {
            let path = std::path::PathBuf::from(ca.get_ref());
            if !path.is_file() {
                let message = format!("no such file: {}", path.display());
                d.at(ca.span(), "backend.tls_ca_file", message);
                return None;
            }
            Some(path)
        }
    };
    Some(match (mode, ca) {
        ("preferred", _) => BackendTls::Preferred,
        ("required", _) => BackendTls::Required,
        ("verify_ca", Some(ca)) => BackendTls::VerifyCa(ca),
        ("verify_identity", Some(ca)) => BackendTls::VerifyIdentity(ca),
        _ => BackendTls::Disabled,
    })
}

/// A non-negative pool number of at least `min`, or `default` when absent.
fn number(
    field: &Option<Spanned<i64>>,
    name: &str,
    min: i64,
    default: u64,
    d: &mut Diagnostics<'_>,
) -> Option<u64> {
    let Some(value) = field else {
        return Some(default);
    };
    let got = *value.get_ref();
    if got < min {
        let rule = if min == 1 {
            "must be greater than 0"
        } else {
            "must not be negative"
        };
        d.at(
            value.span(),
            format!("backend.pool.{name}"),
            format!("{rule} (got {got})"),
        );
        return None;
    }
    Some(got as u64)
}

fn pool(schema: Option<&PoolSchema>, d: &mut Diagnostics<'_>) -> Option<PoolSettings> {
    let defaults = PoolSettings::default();
    let Some(p) = schema else {
        return Some(defaults);
    };
    // A duration key in milliseconds, read like any other pool number.
    let millis = |field: &Option<Spanned<i64>>,
                  name: &str,
                  min: i64,
                  default: Duration,
                  d: &mut Diagnostics<'_>| {
        number(field, name, min, default.as_millis() as u64, d).map(Duration::from_millis)
    };
    let max_size = number(&p.max_size, "max_size", 1, defaults.max_size as u64, d);
    let min_idle = number(&p.min_idle, "min_idle", 0, defaults.min_idle as u64, d);
    let idle_timeout = millis(
        &p.idle_timeout_ms,
        "idle_timeout_ms",
        1,
        defaults.idle_timeout,
        d,
    );
    let max_lifetime = millis(
        &p.max_lifetime_ms,
        "max_lifetime_ms",
        1,
        defaults.max_lifetime,
        d,
    );
    let connect_timeout = millis(
        &p.connect_timeout_ms,
        "connect_timeout_ms",
        1,
        defaults.connect_timeout,
        d,
    );
    let checkout_timeout = millis(
        &p.checkout_timeout_ms,
        "checkout_timeout_ms",
        1,
        defaults.checkout_timeout,
        d,
    );
    let validation_interval = millis(
        &p.validation_interval_ms,
        "validation_interval_ms",
        0,
        defaults.validation_interval,
        d,
    );
    let max_prepared_statements = number(
        &p.max_prepared_statements,
        "max_prepared_statements",
        1,
        defaults.max_prepared_statements as u64,
        d,
    );
    let validation_query = match &p.validation_query {
        Some(q) if q.get_ref().trim().is_empty() => {
            d.at(
                q.span(),
                "backend.pool.validation_query",
                "empty validation query (leave the key out for \"SELECT 1\")",
            );
            None
        }
        Some(q) => Some(q.get_ref().clone()),
        None => Some(defaults.validation_query),
    };
    if let (Some(max), Some(min), Some(field)) = (max_size, min_idle, &p.min_idle) {
        if min > max {
            d.at(
                field.span(),
                "backend.pool.min_idle",
                format!("min_idle ({min}) must not exceed max_size ({max})"),
            );
        }
    }
    Some(PoolSettings {
        max_size: usize::try_from(max_size?).ok()?,
        min_idle: usize::try_from(min_idle?).ok()?,
        idle_timeout: idle_timeout?,
        max_lifetime: max_lifetime?,
        connect_timeout: connect_timeout?,
        checkout_timeout: checkout_timeout?,
        validation_query: validation_query?,
        validation_interval: validation_interval?,
        max_prepared_statements: usize::try_from(max_prepared_statements?).ok()?,
    })
}

fn virtual_nodes(schema: Option<&Spanned<RingSchema>>, d: &mut Diagnostics<'_>) -> u32 {
    let Some(value) = schema.and_then(|r| r.get_ref().virtual_nodes.as_ref()) else {
        return DEFAULT_VIRTUAL_NODES;
    };
    match u32::try_from(*value.get_ref()) {
        Ok(n) if (1..=MAX_VIRTUAL_NODES).contains(&n) => n,
        _ => {
            let message = format!(
                "must be between 1 and {MAX_VIRTUAL_NODES} (got {})",
                value.get_ref()
            );
            d.at(value.span(), "ring.virtual_nodes", message);
            DEFAULT_VIRTUAL_NODES
        }
    }
}

/// A shard entry with a usable name; `shard` is set when all of it checked out.
struct NamedShard {
    name: String,
    shard: Option<Shard>,
}

fn shards(items: &[Option<Spanned<ShardSchema>>], d: &mut Diagnostics<'_>) -> Vec<NamedShard> {
    if items.is_empty() {
        d.error(
            None,
            "shards",
            "no shards: add at least one [[shards]] entry with a name and a primary",
        );
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    // Endpoint (host lower-cased) → (key, line) where it was first used.
    let mut endpoints: HashMap<(String, u16), (String, usize)> = HashMap::new();
    let mut shards = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item else { continue };
        let (span, shard) = (item.span(), item.get_ref());
        let key = format!("shards[{i}]");
        let name = match &shard.name {
            None => {
                d.at(span.clone(), format!("{key}.name"), "missing shard name");
                None
            }
            Some(name) if name.get_ref().trim().is_empty() => {
                d.at(name.span(), format!("{key}.name"), "empty shard name");
                None
            }
            Some(name) => {
                if let Some(first) = names.get(name.get_ref()) {
                    let message = format!(
                        "duplicate shard name {:?} (first defined on line {first})",
                        name.get_ref()
                    );
                    d.at(name.span(), format!("{key}.name"), message);
                    None
                } else {
                    names.insert(name.get_ref().clone(), d.line_of(name.span().start));
                    Some(name.get_ref().clone())
                }
            }
        };
        let mut endpoint = |text: &Spanned<String>,
                            endpoint_key: String,
                            d: &mut Diagnostics<'_>| {
            let parsed = match parse_address(text.get_ref(), false) {
                Ok(parsed) => parsed,
                Err(message) => {
                    d.at(text.span(), endpoint_key, message);
                    return None;
                }
            };
            let line = d.line_of(text.span().start);
            let identity = (parsed.host.to_ascii_lowercase(), parsed.port);
            if let Some((first_key, first_line)) = endpoints.get(&identity) {
                let message =
                    format!("endpoint {parsed} is already used by {first_key} (line {first_line})");
                d.at(text.span(), endpoint_key, message);
                return None;
            }
            endpoints.insert(identity, (endpoint_key, line));
            Some(parsed)
        };
        let primary = match &shard.primary {
            None => {
                d.at(
                    span.clone(),
                    format!("{key}.primary"),
                    "missing primary: the host:port of the shard's primary MariaDB",
                );
                None
            }
            Some(primary) => endpoint(primary, format!("{key}.primary"), d),
        };
        let mut replicas = Some(Vec::<Endpoint>::new());
        for (r, replica) in shard
            .replicas
            .iter()
            .flat_map(|list| list.get_ref().iter())
            .enumerate()
        {
            let parsed = endpoint(replica, format!("{key}.replicas[{r}]"), d);
            replicas = replicas.zip(parsed).map(|(mut list, parsed)| {
                list.push(parsed);
                list
            });
        }
        if let Some(name) = name {
            let shard = match (primary, replicas) {
                (Some(primary), Some(replicas)) => Some(Shard {
                    name: name.clone(),
                    primary,
                    replicas,
                }),
                _ => None,
            };
            shards.push(NamedShard { name, shard });
        }
    }
    shards
}

/// `unknown shard "s9" (shards: s0, s1)`
fn unknown_shard(name: &str, names: &[&str]) -> String {
    format!("unknown shard {name:?} (shards: {})", names.join(", "))
}

fn default_shard(
    field: Option<&Spanned<String>>,
    names: &[&str],
    d: &mut Diagnostics<'_>,
) -> ShardId {
    let Some(field) = field else { return 0 };
    match names.iter().position(|n| *n == field.get_ref()) {
        Some(index) => index,
        None => {
            d.at(
                field.span(),
                "default_shard",
                unknown_shard(field.get_ref(), names),
            );
            0
        }
    }
}

fn tables(
    items: &[Option<Spanned<TableSchema>>],
    names: &[&str],
    d: &mut Diagnostics<'_>,
) -> Vec<TableDraft> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut drafts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(item) = item else { continue };
        let key = format!("tables[{i}]");
        if let Some(draft) = table(item, &key, names, &mut seen, d) {
            drafts.push(draft);
        }
    }
    crate::auto_increment::sequences_apart_from_tables(items, &seen, d);
    let lookups = drafts
        .iter()
        .map(|t| (t.name.as_str(), t.lookups.as_slice()));
    crate::lookup::lookup_tables_apart(lookups, &seen, d);
    drafts
}

fn table(
    item: &Spanned<TableSchema>,
    key: &str,
    names: &[&str],
    seen: &mut HashMap<String, usize>,
    d: &mut Diagnostics<'_>,
) -> Option<TableDraft> {
    let (span, table) = (item.span(), item.get_ref());
    let name = match &table.name {
        None => {
            d.at(span.clone(), format!("{key}.name"), "missing table name");
            None
        }
        Some(name) if name.get_ref().trim().is_empty() => {
            d.at(name.span(), format!("{key}.name"), "empty table name");
            None
        }
        Some(name) => {
            let lower = name.get_ref().to_ascii_lowercase();
            if let Some(first) = seen.get(&lower) {
                let message = format!(
                    "duplicate table {:?} (first defined on line {first}; table names are case-insensitive)",
                    name.get_ref()
                );
                d.at(name.span(), format!("{key}.name"), message);
                None
            } else {
                seen.insert(lower, d.line_of(name.span().start));
                Some(name.get_ref().clone())
            }
        }
    };
    if table.reference.as_ref().is_some_and(|r| *r.get_ref()) {
        // A full copy on every shard: nothing places its rows.
        let placed_by = [
            ("shard_key", table.shard_key.as_ref().map(Spanned::span)),
            ("strategy", table.strategy.as_ref().map(Spanned::span)),
            (
                "shard_key_type",
                table.shard_key_type.as_ref().map(Spanned::span),
            ),
            (
                "shard_key_collation",
                table.shard_key_collation.as_ref().map(Spanned::span),
            ),
            ("ranges", table.ranges.as_ref().map(Spanned::span)),
            (
                "auto_increment",
                table.auto_increment.as_ref().map(Spanned::span),
            ),
            ("lookups", table.lookups.as_ref().map(Spanned::span)),
        ];
        for (field, at) in placed_by {
            if let Some(at) = at {
                let message = format!("a reference table (reference = true) is copied to every shard and has no {field}");
                d.at(at, format!("{key}.{field}"), message);
            }
        }
        return Some(TableDraft {
            name: name?,
            shard_key: String::new(),
            key_type: ShardKeyType::Integer,
            key_collation: Collation::GeneralCi,
            placement: Placement::Reference,
            consistency: None,
            auto_increment: None,
            lookups: Vec::new(),
        });
    }
    let shard_key = match &table.shard_key {
        None => {
            d.at(
                span.clone(),
                format!("{key}.shard_key"),
                "missing shard_key: the column whose value picks the shard",
            );
            None
        }
        Some(column) if column.get_ref().trim().is_empty() => {
            d.at(
                column.span(),
                format!("{key}.shard_key"),
                "empty shard_key: name the column whose value picks the shard",
            );
            None
        }
        Some(column) => Some(column.get_ref().trim().to_ascii_lowercase()),
    };
    let key_type = match table.shard_key_type.as_ref() {
        None => Some(ShardKeyType::Integer),
        Some(t) => match t.get_ref().as_str() {
            "integer" => Some(ShardKeyType::Integer),
            "string" => Some(ShardKeyType::String),
            other => {
                let message = format!(
                    "unknown shard_key_type {other:?} (expected \"integer\" or \"string\")"
                );
                d.at(t.span(), format!("{key}.shard_key_type"), message);
                None
            }
        },
    };
    let key_collation = key_collation(table, key_type, key, d);
    let strategy = table
        .strategy
        .as_ref()
        .map_or("consistent_hash", |s| s.get_ref().as_str());
    let placement = match strategy {
        "consistent_hash" | "hash_mod" => {
            if let Some(ranges) = &table.ranges {
                let message = format!("ranges are only for strategy = \"range\" (this table's strategy is {strategy:?})");
                d.at(ranges.span(), format!("{key}.ranges"), message);
            }
            Some(if strategy == "hash_mod" {
                Placement::HashMod
            } else {
                Placement::ConsistentHash
            })
        }
        "range" => {
            if let (Some(ShardKeyType::String), Some(t)) = (key_type, &table.shard_key_type) {
                d.at(
                    t.span(),
                    format!("{key}.shard_key_type"),
                    "range tables need an integer shard key (shard_key_type = \"integer\")",
                );
            }
            range_map(table.ranges.as_ref(), span, key, names, d).map(Placement::Range)
        }
        other => {
            let message =
                format!("unknown strategy {other:?} (expected \"consistent_hash\", \"hash_mod\" or \"range\")");
            let strategy_span = table.strategy.as_ref().map(Spanned::span);
            d.error(strategy_span, format!("{key}.strategy"), message);
            None
        }
    };
    let consistency = match &table.consistency {
        None => Some(None),
        Some(_) => choice(&table.consistency, &format!("{key}.consistency"), d).map(Some),
    };
    let auto_increment = match &table.auto_increment {
        None => Some(None),
        Some(ai) => crate::auto_increment::auto_increment(ai, key, d).map(Some),
    };
    let lookups = match (&table.lookups, &name, &shard_key) {
        (None, _, _) => Some(Vec::new()),
        (Some(lookups), Some(name), Some(shard_key)) => {
            crate::lookup::lookups(lookups, name, shard_key, key, d)
        }
        (Some(_), _, _) => None,
    };
    Some(TableDraft {
        name: name?,
        shard_key: shard_key?,
        key_type: key_type?,
        key_collation: key_collation?,
        placement: placement?,
        consistency: consistency?,
        auto_increment: auto_increment?,
        lookups: lookups?,
    })
}

/// The collation a string shard key's values are placed by (`shard_key_collation`): keys it
/// calls equal share a shard. `utf8mb4_general_ci` (MariaDB's default for utf8mb4) unless set.
fn key_collation(
    table: &TableSchema,
    key_type: Option<ShardKeyType>,
    key: &str,
    d: &mut Diagnostics<'_>,
) -> Option<Collation> {
    let Some(name) = &table.shard_key_collation else {
        return Some(Collation::GeneralCi);
    };
    if key_type != Some(ShardKeyType::String) {
        let message = "shard_key_collation is for string shard keys (shard_key_type = \"string\")";
        d.at(name.span(), format!("{key}.shard_key_collation"), message);
        return None;
    }
    match name.get_ref().as_str() {
        "utf8mb4_general_ci" | "utf8mb3_general_ci" => Some(Collation::GeneralCi),
        "utf8mb4_unicode_ci" | "utf8mb3_unicode_ci" => Some(Collation::UnicodeCi),
        other => {
            let message = format!(
                "unknown shard_key_collation {other:?} (expected \"utf8mb4_general_ci\" or \"utf8mb4_unicode_ci\", the collation of the key column; a *_bin column works with either)"
            );
            d.at(name.span(), format!("{key}.shard_key_collation"), message);
            None
        }
    }
}

fn range_map(
    ranges: Option<&Spanned<Vec<Spanned<RangeSchema>>>>,
    table_span: Range<usize>,
    key: &str,
    names: &[&str],
    d: &mut Diagnostics<'_>,
) -> Option<RangeMap> {
    let ranges_key = format!("{key}.ranges");
    let needs = "a range table needs ranges, e.g. ranges = [ { shard = \"s0\", end = 1000 }, { shard = \"s1\", start = 1000 } ]";
    let Some(ranges) = ranges else {
        d.at(table_span, ranges_key, format!("missing ranges: {needs}"));
        return None;
    };
    if ranges.get_ref().is_empty() {
        d.at(ranges.span(), ranges_key, format!("empty ranges: {needs}"));
        return None;
    }
    let mut key_ranges = Vec::new();
    let mut complete = true;
    for (j, range) in ranges.get_ref().iter().enumerate() {
        let shard = match &range.get_ref().shard {
            None => {
                d.at(
                    range.span(),
                    format!("{ranges_key}[{j}].shard"),
                    "missing shard: the shard that owns this range",
                );
                None
            }
            Some(shard) => match names.iter().position(|n| *n == shard.get_ref()) {
                Some(index) => Some(index),
                None => {
                    d.at(
                        shard.span(),
                        format!("{ranges_key}[{j}].shard"),
                        unknown_shard(shard.get_ref(), names),
                    );
                    None
                }
            },
        };
        let bound = |b: &Option<Spanned<i64>>| b.as_ref().map(|v| i128::from(*v.get_ref()));
        let (start, end) = (bound(&range.get_ref().start), bound(&range.get_ref().end));
        complete &= shard.is_some();
        key_ranges.push(KeyRange {
            start,
            end,
            shard: shard.unwrap_or(0),
        });
    }
    match RangeMap::new(key_ranges) {
        Ok(map) if complete => Some(map),
        Ok(_) => None,
        Err(error) => {
            let index = error.range_index().unwrap_or(0);
            let span = ranges
                .get_ref()
                .get(index)
                .map_or(ranges.span(), Spanned::span);
            d.at(
                span,
                format!("{ranges_key}[{index}]"),
                range_message(&error),
            );
            None
        }
    }
}

/// Range problems in config words: the key names the later range, the message the other.
fn range_message(error: &RingError) -> String {
    match error {
        RingError::EmptyRange { range, .. } => format!("empty range {range}: start must be below end"),
        RingError::RangeOrder { prev, prev_range, range, .. } => {
            format!("range {range} starts before ranges[{prev}] {prev_range}; list ranges in ascending order")
        }
        RingError::RangeOverlap { prev, prev_range, range, .. } => {
            format!("range {range} overlaps ranges[{prev}] {prev_range}; each range must start where the previous one ends")
        }
        RingError::RangeGap { prev, prev_range, range, gap, .. } => format!(
            "gap between ranges[{prev}] {prev_range} and this range {range}: keys {gap} belong to no shard; start this range where the previous one ends"
        ),
        other => other.to_string(),
    }
}
