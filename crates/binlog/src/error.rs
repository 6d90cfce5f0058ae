use thiserror::Error;

/// Why a binlog event or a followed table cannot be applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BinlogError {
    #[error("`{0}` is not a MariaDB GTID position (domain-server-seq, comma separated)")]
    BadGtid(String),
    #[error("a binlog event is shorter than its header says")]
    Truncated,
    #[error("a binlog event cannot be read: {0}")]
    Malformed(String),
    #[error("binlog event type {0} is compressed or encrypted (log_bin_compress, encrypt_binlog): the catch-up reads plain events only")]
    Compressed(u8),
    #[error("a rows event names a table no table map event announced")]
    NoTableMap,
    #[error("the binlog holds only part of `{0}`'s columns (binlog_row_image is not FULL): its rows cannot be rewritten whole")]
    PartialRowImage(String),
    #[error(
        "`{0}` has no primary key: its rows cannot be deleted idempotently on their new owner"
    )]
    NoPrimaryKey(String),
    #[error("`{table}` has no column `{column}` (its shard key)")]
    NoShardKeyColumn { table: String, column: String },
    #[error("`{table}`'s binlog rows have {binlog} columns, its definition {schema}: the table was altered during the catch-up")]
    ColumnsChanged {
        table: String,
        binlog: usize,
        schema: usize,
    },
    #[error("a binlog value cannot be written back: {0}")]
    ValueMismatch(String),
    #[error("{0} values are not supported")]
    UnsupportedValue(&'static str),
}
