//! The one error type of the merge crate.

use std::fmt;

use mysql_common::constants::ColumnType;

/// What a memory bound counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    /// Rows (or groups, or distinct keys) held at once.
    Rows,
    /// Approximate bytes held at once.
    Bytes,
}

impl fmt::Display for LimitUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitUnit::Rows => "rows",
            LimitUnit::Bytes => "bytes",
        })
    }
}

/// Everything that can go wrong while decoding or merging shard results.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// A text-protocol row payload is not a sequence of length-encoded cells.
    #[error("malformed text row: {reason} (column {column})")]
    MalformedRow {
        /// What is wrong.
        reason: &'static str,
        /// The cell being read when it went wrong.
        column: usize,
    },
    /// A cell's text is not a valid value of its column's type.
    #[error("column {column}: {text:?} is not a valid {column_type:?} value")]
    BadValue {
        /// Index of the column.
        column: usize,
        /// The column's type.
        column_type: ColumnType,
        /// The cell text, lossily decoded and cut to 64 bytes.
        text: String,
    },
    /// A column-definition packet could not be parsed.
    #[error("malformed column definition: {0}")]
    ColumnDefinition(String),
    /// An operator referred to a column the row does not have.
    #[error("column {column} does not exist: rows have {columns} columns")]
    NoSuchColumn {
        /// The missing column.
        column: usize,
        /// How many columns the rows have.
        columns: usize,
    },
    /// A row was pushed to an input that does not exist or has finished.
    #[error("input {input} is not a live input of this merge ({inputs} inputs)")]
    BadInput {
        /// The input.
        input: usize,
        /// How many inputs the merge has.
        inputs: usize,
    },
    /// An operator that holds rows reached its configured memory bound.
    #[error(
        "{operator} reached its memory limit of [server] merge_max_{unit} = {limit} {unit}; narrow \
         the query (WHERE, LIMIT, fewer groups) or raise merge_max_{unit}"
    )]
    MemoryLimit {
        /// The operator that stopped (`sort`, `hash aggregate`, `hash distinct`).
        operator: &'static str,
        /// The limit that was reached.
        limit: u64,
        /// What the limit counts.
        unit: LimitUnit,
    },
    /// An arithmetic result does not fit its type (MariaDB error 1690).
    #[error("{type_name} value is out of range in '{expr}'")]
    OutOfRange {
        /// `BIGINT`, `BIGINT UNSIGNED`, `DECIMAL` or `DOUBLE`.
        type_name: &'static str,
        /// The expression that overflowed.
        expr: String,
    },
    /// An aggregate or expression cannot be applied to a column of this kind.
    #[error("unsupported merge: {0}")]
    Unsupported(String),
}

impl MergeError {
    /// The MySQL error code and SQLSTATE this error maps to at the server edge.
    pub fn mysql_code(&self) -> (u16, &'static str) {
        match self {
            // ER_OUT_OF_SORTMEMORY is what a client sees when MariaDB's own sort buffer runs out.
            MergeError::MemoryLimit { .. } => (1038, "HY001"),
            // ER_DATA_OUT_OF_RANGE
            MergeError::OutOfRange { .. } => (1690, "22003"),
            // ER_NOT_SUPPORTED_YET
            MergeError::Unsupported(_) => (1235, "42000"),
            // ER_UNKNOWN_ERROR: a shard sent something we cannot read.
            _ => (1105, "HY000"),
        }
    }
}

/// Result alias of the merge crate.
pub type Result<T, E = MergeError> = std::result::Result<T, E>;

impl From<shardgate_wire::MalformedCell> for MergeError {
    fn from(e: shardgate_wire::MalformedCell) -> MergeError {
        MergeError::MalformedRow {
            reason: e.reason,
            column: e.column,
        }
    }
}
