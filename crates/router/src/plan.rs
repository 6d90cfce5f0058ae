//! The plan: where a statement runs, as a printable value.

use std::fmt;

use shardgate_config::Topology;
use shardgate_ring::ShardId;

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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnCommand {
    /// `BEGIN` / `START TRANSACTION …` (the text is replayed on the shard the transaction opens on).
    Begin,
    Commit,
    Rollback,
    /// SAVEPOINT / ROLLBACK TO / RELEASE: run inside the open transaction.
    Savepoint,
}

/// Where a statement runs.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    },
    Transaction(TxnCommand),
}

/// The routing decision for one statement (or one multi-statement text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: StatementKind,
    pub route: Route,
    /// The text to send, when the proxy rewrote the statement (e.g. `@@socket` hidden).
    pub rewritten: Option<String>,
}

impl Plan {
    pub(crate) fn new(kind: StatementKind, route: Route) -> Self {
        Plan {
            kind,
            route,
            rewritten: None,
        }
    }

    /// A printable form naming shards, e.g. `read → shard s1`.
    pub fn display<'a>(&'a self, topology: &'a Topology) -> impl fmt::Display + 'a {
        PlanDisplay {
            plan: self,
            topology,
        }
    }
}

struct PlanDisplay<'a> {
    plan: &'a Plan,
    topology: &'a Topology,
}

impl fmt::Display for PlanDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.plan.kind {
            StatementKind::Read => "read",
            StatementKind::LockingRead => "locking read",
            StatementKind::Write => "write",
            StatementKind::Ddl => "ddl",
            StatementKind::Session => "session",
            StatementKind::Transaction => "transaction",
        };
        write!(f, "{kind} → ")?;
        match &self.plan.route {
            Route::Shard(id) => write!(f, "shard {}", self.topology.shards[*id].name)?,
            Route::AllShards => {
                let names: Vec<_> = self
                    .topology
                    .shards
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                write!(f, "all shards [{}]", names.join(", "))?
            }
            Route::Use(db) => write!(f, "proxy: use database `{db}`")?,
            Route::Set { vars, .. } => {
                let names: Vec<_> = vars.iter().map(|v| v.name.as_str()).collect();
                write!(f, "proxy: session variables [{}]", names.join(", "))?
            }
            Route::Transaction(t) => write!(f, "proxy: {t:?}")?,
        }
        if let Some(sql) = &self.plan.rewritten {
            write!(f, " as `{sql}`")?;
        }
        Ok(())
    }
}
