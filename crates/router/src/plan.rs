//! The plan: where a statement runs, as a printable value.

use std::fmt;

use std::collections::BTreeSet;

use shardgate_config::Topology;
use shardgate_ring::ShardId;

use crate::shard_key::{KeySource, OwnedKey};
use crate::RouteError;

/// What kind of statement it is, for the read/write split and the transaction logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// A SELECT (or SHOW, DESCRIBE…) that takes no locks.
    Read,
    /// `SELECT … FOR UPDATE` / `LOCK IN SHARE MODE`.
    LockingRead,
    Write,
    Ddl,
    /// Changes session state only (SET, USE).
    Session,
    Transaction,
}

/// A session variable assignment the proxy keeps and replays on every backend connection it uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionVar {
    /// Normalized name (`sql_mode`, `names`, `@x`): a later assignment to the same name replaces it.
    pub name: String,
    /// The statement that applies it, e.g. `SET SESSION sql_mode = 'ANSI'`.
    pub sql: String,
    /// Its value is an expression the server computes (`CONCAT(@@sql_mode, …)`): replayed by
    /// the value it got, never computed again on another connection.
    pub computed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnCommand {
    /// `BEGIN` / `START TRANSACTION …` (the text is replayed on the shard the transaction opens on).
    Begin,
    Commit,
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint(String),
    /// `ROLLBACK TO [SAVEPOINT] name`.
    RollbackTo(String),
    /// `RELEASE SAVEPOINT name`.
    Release(String),
    /// `COMMIT RELEASE` / `ROLLBACK RELEASE`: the transaction ends, then the client's
    /// connection.
    EndAndDisconnect {
        commit: bool,
    },
}

impl fmt::Display for TxnCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnCommand::Begin => f.write_str("BEGIN"),
            TxnCommand::Commit => f.write_str("COMMIT"),
            TxnCommand::Rollback => f.write_str("ROLLBACK"),
            TxnCommand::Savepoint(name) => write!(f, "SAVEPOINT `{name}`"),
            TxnCommand::RollbackTo(name) => write!(f, "ROLLBACK TO SAVEPOINT `{name}`"),
            TxnCommand::Release(name) => write!(f, "RELEASE SAVEPOINT `{name}`"),
            TxnCommand::EndAndDisconnect { commit: true } => f.write_str("COMMIT RELEASE"),
            TxnCommand::EndAndDisconnect { commit: false } => f.write_str("ROLLBACK RELEASE"),
        }
    }
}

/// Where a statement runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// One shard, the statement text unchanged.
    Shard(ShardId),
    /// Every shard, the same text (DDL on sharded tables); the answers are combined into one OK.
    AllShards,
    /// `USE db`: changes the session's database.
    Use(String),
    /// `SET …`: session variables to keep (validated by running them once), and the autocommit value if set.
    Set {
        vars: Vec<SessionVar>,
        autocommit: Option<bool>,
        /// The text sets global values too (`SET GLOBAL a = 1, SESSION b = 2`): it runs on
        /// every other primary as well, for admin users (see `Route::EveryPrimary`).
        globals: bool,
    },
    Transaction(TxnCommand),
    /// `SET @@shardgate_consistency = …`: the session's consistency level for reads (`None`:
    /// back to each table's own).
    SetConsistency(Option<shardgate_config::Consistency>),
    /// One shard, known when a prepared statement executes with its parameters.
    Deferred(DeferredRoute),
    /// A different statement per shard (a multi-row INSERT split by shard); the answers are
    /// combined into one OK, all shards' parts committing together or not at all.
    Split(Vec<(ShardId, String)>),
    /// A SELECT sent to several shards, its answers merged (see [`crate::ScatterPlan`]).
    Scatter(Box<crate::ScatterPlan>),
    /// UNION / INTERSECT / EXCEPT whose branches run on different shards: each branch run as
    /// planned, their rows combined in the proxy (see [`crate::SetOperationPlan`]).
    SetOperation(Box<crate::SetOperationPlan>),
    /// A SELECT no shard answers alone and no merge handles: its sharded tables copied to
    /// temporary tables on one compute connection, where it runs unchanged (see
    /// [`crate::MaterializePlan`]).
    Materialize(Box<crate::MaterializePlan>),
    /// A SELECT joining two sharded tables that are not co-located: each side's rows read
    /// with its own conditions and joined in the proxy (batched lookups or a hash join; see
    /// [`crate::JoinPlan`]).
    Join(Box<crate::JoinPlan>),
    /// UPDATE / DELETE without a shard key: the same text on these shards, all or nothing,
    /// affected rows summed.
    Broadcast(Vec<ShardId>),
    /// A write to a reference table: the same text on every shard's copy, all or nothing,
    /// answered as one copy (every copy must answer the same).
    Copies(Vec<ShardId>),
    /// `KILL …`: the proxy stops one of its own client sessions, or the statement it runs.
    Kill(crate::Kill),
    /// `SHOW [FULL] PROCESSLIST`: the proxy's own client sessions.
    ProcessList {
        full: bool,
    },
    /// Account management and `SET GLOBAL`: the same text on every shard's primary, the
    /// default shard first, for admin users; others get error 1227 naming `privilege`.
    EveryPrimary {
        privilege: &'static str,
    },
    /// `CREATE` / `ALTER` / `DROP` of a stored function, procedure or trigger
    /// (`crate::stored_program`): the text on the default shard, whose answer is the
    /// statement's, then on every other shard in turn — as `elsewhere` when given (a `DROP`
    /// with `IF EXISTS` added).
    StoredProgram {
        elsewhere: Option<String>,
    },
    /// `EXPLAIN` of a statement that does not run on one shard: the proxy answers with its
    /// plan tree (`crate::PlanTree`).
    Explain(Box<Explained>),
    /// `CHECK` / `CHECKSUM` / `OPTIMIZE` / `ANALYZE` / `REPAIR TABLE` of sharded or reference
    /// tables: the same text on every shard, the reports combined as one server's.
    Maintenance(crate::Maintenance),
}

/// The statement an `EXPLAIN` asks about, and its plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The statement after `EXPLAIN` and its options, as written.
    pub sql: String,
    pub plan: Plan,
}

/// A single-shard route that depends on parameter values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredRoute {
    pub verb: &'static str,
    /// Shard keys (table, lower-cased, and value) whose shards must all be one.
    pub keys: Vec<(String, KeySource)>,
    /// The shard literal conditions on other tables already chose.
    pub fixed: Option<ShardId>,
    /// An unsharded table the statement also reads, which only the default shard has.
    pub unsharded: Option<String>,
}

impl DeferredRoute {
    /// The shard, given a way to read parameter `i` (`Ok(None)` for NULL).
    pub fn resolve(
        &self,
        topology: &Topology,
        param: impl Fn(usize) -> Result<Option<OwnedKey>, String>,
    ) -> Result<ShardId, RouteError> {
        if let ([(table, source)], None) = (self.keys.as_slice(), self.fixed) {
            // One key (a point statement), the common case: no set of shards to build.
            let shard = self.key_shard(topology, table, source, &param)?;
            unsharded_conflict(topology, self.unsharded.as_deref(), shard)?;
            return Ok(shard);
        }
        let mut shards = BTreeSet::new();
        shards.extend(self.fixed);
        for (table, source) in &self.keys {
            shards.insert(self.key_shard(topology, table, source, &param)?);
        }
        let names = || {
            shards
                .iter()
                .map(|s| topology.shards[*s].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let first_table = self
            .keys
            .first()
            .map(|(t, _)| t.as_str())
            .unwrap_or_default();
        let one_table = self.fixed.is_none() && self.keys.iter().all(|(t, _)| t == first_table);
        let shard = match shards.len() {
            1 => *shards.first().expect("one"),
            _ if self.verb == "INSERT" => {
                return Err(RouteError::InsertSpansShards {
                    table: first_table.to_owned(),
                    shards: names(),
                })
            }
            _ if one_table => {
                let rule = topology.table(first_table).expect("resolved above");
                return Err(RouteError::KeySpansShards {
                    verb: self.verb,
                    table: rule.name.clone(),
                    key: rule.shard_key.clone(),
                    shards: names(),
                });
            }
            _ => {
                return Err(RouteError::CrossShard {
                    detail: format!("the keys are on {}", names()),
                })
            }
        };
        unsharded_conflict(topology, self.unsharded.as_deref(), shard)?;
        Ok(shard)
    }

    /// The shard `table`'s key value from `source` maps to.
    fn key_shard(
        &self,
        topology: &Topology,
        table: &str,
        source: &KeySource,
        param: &impl Fn(usize) -> Result<Option<OwnedKey>, String>,
    ) -> Result<ShardId, RouteError> {
        let rule = topology.table(table).ok_or_else(|| {
            RouteError::NotSupported(format!("table `{table}` is no longer sharded"))
        })?;
        let param_value;
        let value = match source {
            KeySource::Value(v) => v,
            KeySource::Param(i) => {
                param_value = param(*i).map_err(RouteError::NotSupported)?.ok_or_else(|| {
                    RouteError::NotSupported(format!(
                        "cannot route {} on sharded table `{}`: its shard key `{}` is NULL (parameter {})",
                        self.verb,
                        rule.name,
                        rule.shard_key,
                        i + 1
                    ))
                })?;
                &param_value
            }
        };
        if leaves_id_to_proxy(rule, value) && self.verb == "INSERT" {
            // The full text decides (it knows the session's NO_AUTO_VALUE_ON_ZERO).
            return Err(RouteError::NotSupported(format!(
                "an INSERT into `{}` with 0 for `{}` may need a generated id",
                rule.name, rule.shard_key
            )));
        }
        if self.verb != "INSERT" && !compares_by_key(rule.key_type, value) {
            return Err(RouteError::NotSupported(format!(
                "a number compared with string shard key `{}` of `{}` may match keys on any shard",
                rule.shard_key, rule.name
            )));
        }
        rule.shard_for(&value.as_key())
            .map_err(|source| RouteError::BadKey {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
                source: Box::new(source),
            })
    }
}

/// Whether `value` for `rule`'s shard key in an INSERT may ask for a generated id (0 for a
/// key that is the table's `auto_increment` column; NULL never comes here as a value).
fn leaves_id_to_proxy(rule: &shardgate_config::TableRule, value: &OwnedKey) -> bool {
    rule.auto_increment
        .as_ref()
        .is_some_and(|ai| ai.column == rule.shard_key)
        && matches!(value, OwnedKey::Int(0))
}

/// The routing decision for one statement (or one multi-statement text).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: StatementKind,
    pub route: Route,
    /// The text to send, when the proxy rewrote the statement (e.g. `@@socket` hidden).
    pub rewritten: Option<String>,
    /// The sharded table the statement reads (lower-cased), whose consistency level applies.
    pub table: Option<std::sync::Arc<str>>,
    /// User variables it assigns inside a query (`@v := …`, `… INTO @v`), lower-cased with
    /// their `@`: read back from the connection it ran on and kept for the session.
    pub assigns: Vec<String>,
    /// It names a table: MariaDB clears the previous statement's warnings for it (a statement
    /// without tables adds its own to them).
    pub uses_tables: bool,
    /// State it creates or ends on its connection (temporary tables, locks, handlers), which
    /// the session keeps that connection for.
    pub connection_state: Option<crate::ConnectionState>,
    /// It reads `information_schema.PROCESSLIST`: the server's threads, which are every
    /// session's backend connections with their statements (for admin users only).
    pub lists_server_threads: bool,
    /// Why a statement with subqueries, derived tables, CTEs or set operations runs whole
    /// where it does: each sharded table reference and the condition that places it.
    pub pinned_by: Option<std::sync::Arc<[String]>>,
    /// What the session must know about the text around running it (see `StatementTraits`).
    pub traits: crate::StatementTraits,
    /// A table's lookup indexes: routing a SELECT by one, or rows to write before a write.
    pub lookup: Option<Box<crate::LookupPlan>>,
    /// An INSERT's rows are placed by the default of this table's shard key (lower-cased),
    /// which they leave out (`omitted_key.rs`): the session reads the table's columns afresh
    /// and plans it again before running it, so a default changed behind the proxy's back
    /// never places a row where it will not be found.
    pub placed_by_key_default: Option<std::sync::Arc<str>>,
    /// An INSERT that may give its table's `auto_increment` column ids: the session reads
    /// them (`given_ids`) and moves the table's sequence past them before running it.
    pub gives_ids: bool,
}

impl Plan {
    pub(crate) fn new(kind: StatementKind, route: Route) -> Self {
        Plan {
            kind,
            route,
            rewritten: None,
            table: None,
            assigns: Vec::new(),
            uses_tables: false,
            connection_state: None,
            lists_server_threads: false,
            pinned_by: None,
            traits: crate::StatementTraits::default(),
            lookup: None,
            placed_by_key_default: None,
            gives_ids: false,
        }
    }

    /// A printable form naming shards: `read → shard s1`, or for a statement the proxy runs
    /// on several shards its operator tree, one line per operator (see [`crate::PlanTree`]).
    pub fn display<'a>(&'a self, topology: &'a Topology) -> impl fmt::Display + 'a {
        crate::PlanTree::of(self, topology)
    }
}

/// A statement that also reads an unsharded table can only run on the default shard, the only
/// one that has it.
pub(crate) fn unsharded_conflict(
    topology: &Topology,
    unsharded: Option<&str>,
    shard: ShardId,
) -> Result<(), RouteError> {
    match unsharded {
        Some(unsharded) if shard != topology.default_shard => Err(RouteError::CrossShard {
            detail: format!(
                "unsharded `{unsharded}` lives on {}, the sharded rows on {}",
                topology.shards[topology.default_shard].name, topology.shards[shard].name
            ),
        }),
        _ => Ok(()),
    }
}

/// Whether a condition `key = value` finds its rows by the key's value: a number compared
/// with a string key is compared as a number (`'042' = 42`), so it may match keys on any
/// shard. (A string is placed by its fold under the key's collation, as the rows it equals.)
pub(crate) fn compares_by_key(key_type: shardgate_config::ShardKeyType, value: &OwnedKey) -> bool {
    key_type != shardgate_config::ShardKeyType::String || matches!(value, OwnedKey::Str(_))
}
