//! What can go wrong with a migration (issue #15): the error of the admin statements and of
//! the workflow's task, mapped to MySQL codes in `errors.rs`.

/// One failure of a migration or of a statement about one.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("SHARDGATE RESHARD: {0}")]
    Statement(#[from] shardgate_migration::StatementError),
    #[error("target file {file:?}: {message}")]
    TargetFile { file: String, message: String },
    #[error("nothing to migrate: every key of every table keeps its shard under {0:?}")]
    NothingMoves(String),
    #[error("{0}")]
    NotAResharding(String),
    #[error(
        "migration {id} is {phase}: one migration at a time (cancel it, or wait until it is done)"
    )]
    Busy { id: u64, phase: String },
    #[error("migration {id} runs on the proxy listening on {owner}: several proxies serving one topology are not supported yet, drive it there")]
    OtherOwner { id: u64, owner: String },
    #[error("no migration {0}")]
    Unknown(u64),
    #[error("migration {id} is {phase}: it cannot be {action}")]
    WrongPhase {
        id: u64,
        phase: String,
        action: &'static str,
    },
    #[error("table `{0}` has no primary key: a copy reads and writes rows by it")]
    NoPrimaryKey(String),
    #[error("shard {0:?} is not in the topology")]
    NoShard(String),
    #[error("row of `{table}` with a shard key the target cannot place: {message}")]
    Unplaceable { table: String, message: String },
    #[error("shard {shard:?}: {source}")]
    Server {
        shard: String,
        source: mysql_async::Error,
    },
    #[error("the migration record on the default shard: {0}")]
    Record(mysql_async::Error),
    #[error("source {0}: no GTID position was recorded at its copy's snapshot: catch-up reads the binary log from there (log_bin and GTIDs on the source)")]
    NoSnapshotPosition(String),
    #[error("catch-up: {0}")]
    CatchUp(#[from] crate::catch_up::CatchUpError),
    #[error("verify after the cutover found {mismatches} mismatching rows: {keys}")]
    VerifyFailed { mismatches: u64, keys: String },
    #[error("migration {id}: the switch back to the source topology was abandoned {attempts} times (writes to the moved keys did not settle within [resharding] cutover_hold_ms): the target keeps serving; CANCEL again")]
    RollBackAbandoned { id: u64, attempts: usize },
    #[error("other proxies serve this topology ({0}): a cutover switches only the proxy driving the migration, so resharding needs this proxy to be the only one (stop the others, or wait 15 s after they stopped)")]
    OtherProxies(String),
    #[error("migration cancelled")]
    Cancelled,
}

impl MigrationError {
    /// The failure of a statement on `shard`'s primary.
    pub(crate) fn on(shard: &str) -> impl FnOnce(mysql_async::Error) -> Self + '_ {
        move |source| MigrationError::Server {
            shard: shard.to_owned(),
            source,
        }
    }
}
