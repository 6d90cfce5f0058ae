use shardgate_backend::BackendError;
use shardgate_binlog::BinlogError;
use shardgate_protocol::ServerErr;
use thiserror::Error;

/// Why a catch-up stopped, or cannot start.
#[derive(Debug, Error, Clone)]
pub enum CatchUpError {
    /// A server setting the catch-up cannot work with (no binlog, not ROW, not FULL images).
    #[error("source {source_shard}: {what}")]
    Requirement { source_shard: String, what: String },
    /// The source refused the binlog dump (e.g. the start position was purged from its binlog).
    #[error("source {source_shard} refused the binlog dump: {error}")]
    DumpRefused {
        source_shard: String,
        error: ServerErr,
    },
    /// A target refused a statement: retrying would not help.
    #[error("target {target} refused `{statement}`: {error}")]
    TargetRefused {
        target: String,
        statement: String,
        error: ServerErr,
    },
    #[error("source {source_shard}: table `{table}`: {error}")]
    Table {
        source_shard: String,
        table: String,
        error: String,
    },
    #[error("source {source_shard}: {error}")]
    Binlog {
        source_shard: String,
        error: BinlogError,
    },
    /// A connection broke or could not be opened (retried from the last applied GTID).
    #[error("{0}")]
    Connection(String),
    /// The source's binlog stream went silent past its heartbeat (retried).
    #[error("source {0} sent nothing within {1} s (not even a heartbeat)")]
    Silent(String, u64),
    #[error("no target shard `{0}` was given to the catch-up")]
    UnknownTarget(String),
    /// The catch-up was stopped, or ended with the error its progress names.
    #[error("the catch-up is not running: {0}")]
    NotRunning(String),
}

impl CatchUpError {
    /// Worth reconnecting and resuming from the last applied GTID: a broken or silent
    /// connection, or a dump the server ended (its thread killed, a shutdown) but not one it
    /// cannot serve (1236: the position is not in its binlog, or its GTIDs are out of order).
    pub(super) fn retryable(&self) -> bool {
        match self {
            CatchUpError::Connection(_) | CatchUpError::Silent(..) => true,
            CatchUpError::DumpRefused { error, .. } => error.code != 1236,
            _ => false,
        }
    }
}

impl From<BackendError> for CatchUpError {
    fn from(e: BackendError) -> Self {
        CatchUpError::Connection(e.to_string())
    }
}
