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
