//! The lookup tables on the default shard's primary: one per lookup, `(column, shard key)`,
//! both of the data table's types and collations, primary key `(column, shard key)`.
//!
//! They live on the default shard rather than sharded by value: one known place, no second
//! ring, one connection per write for the lookup rows and their lock; the cost is that the
//! default shard takes every lookup's traffic.

use shardgate_backend::{BackendConn, BackendError};
use shardgate_config::{Lookup, TableRule, Topology};
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, ServerErr, StatusFlags};

/// Why a lookup could not be read, written or built.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0}")]
    Backend(#[from] BackendError),
    /// Another live row holds the value of a unique lookup.
    #[error("Duplicate entry '{value}' for key '{key}'")]
    Duplicate { value: String, key: String },
    #[error("lookup table {table} does not exist on the default shard's primary: create it with `shardgate lookup init --config <file> --table {for_table}`")]
    Missing { table: String, for_table: String },
    #[error("lookup table {table}: {error}")]
    Server { table: String, error: ServerErr },
    #[error("table `{0}` has no lookups in the config")]
    NotConfigured(String),
    /// An UPDATE of a lookup column would change more rows than `[server] merge_max_rows`.
    #[error("an UPDATE of a lookup column of `{table}` changes more than {limit} rows (merge_max_rows): update fewer rows at a time")]
    TooManyRows { table: String, limit: u64 },
    #[error("lookup table {table}: unexpected answer ({detail})")]
    Unexpected { table: String, detail: String },
}

pub(crate) use crate::own_tables::qualified;

/// A value the server gave (its stored bytes) as a literal: a binary string, which a string
/// column takes byte for byte and a number column reads as a number.
pub(crate) fn stored_literal(bytes: &[u8]) -> String {
    format!("CAST(X'{}' AS BINARY)", hex::encode(bytes))
}

fn server_error(error: ServerErr, table: &str, for_table: &str) -> LookupError {
    match error.code {
        // ER_NO_SUCH_TABLE
        1146 => LookupError::Missing {
            table: table.to_owned(),
            for_table: for_table.to_owned(),
        },
        _ => LookupError::Server {
            table: table.to_owned(),
            error,
        },
    }
}

/// Runs `sql` (about lookup `table` of data table `for_table`), which answers OK: its affected
/// rows and status.
pub(crate) async fn run_ok(
    conn: &mut BackendConn,
    sql: &str,
    table: &str,
    for_table: &str,
) -> Result<(u64, StatusFlags), LookupError> {
    match conn.execute(Command::COM_QUERY, sql.as_bytes()).await? {
        Finish::Ok {
            affected_rows,
            status,
            ..
        } => Ok((affected_rows, status)),
        Finish::Err(error) => Err(server_error(error, table, for_table)),
        Finish::LocalInfile => {
            conn.broken = true;
            Err(LookupError::Unexpected {
                table: table.to_owned(),
                detail: "a LOAD DATA request".into(),
            })
        }
    }
}

/// The rows of `sql`, each cell as its bytes (`None` for NULL), `columns` cells a row.
pub(crate) async fn query_rows(
    conn: &mut BackendConn,
    sql: &str,
    columns: usize,
    table: &str,
    for_table: &str,
) -> Result<Vec<Vec<Option<Vec<u8>>>>, LookupError> {
    crate::own_tables::rows_of(conn, sql, columns)
        .await?
        .map_err(|error| server_error(error, table, for_table))
}

/// Commits what `status` says is open on `conn` (a session's `autocommit = 0` opens one).
pub(crate) async fn commit_if_open(
    conn: &mut BackendConn,
    status: StatusFlags,
    table: &str,
    for_table: &str,
) -> Result<(), LookupError> {
    if status.contains(StatusFlags::SERVER_STATUS_IN_TRANS) {
        run_ok(conn, "COMMIT", table, for_table).await?;
    }
    Ok(())
}

/// `CREATE TABLE` of `lookup` of `rule`: its columns copied from the data table (type,
/// charset, collation), so the lookup compares values as the data table does.
pub(crate) fn create_sql(topology: &Topology, rule: &TableRule, lookup: &Lookup) -> String {
    let (col, key) = (&lookup.column, &rule.shard_key);
    format!(
        "CREATE TABLE IF NOT EXISTS {} (PRIMARY KEY (`{col}`, `{key}`), KEY `by_key` (`{key}`)) ENGINE=InnoDB COMMENT='shardgate lookup: {col} of {} to {key}' SELECT `{col}`, `{key}` FROM {} WHERE 1 = 0",
        qualified(topology, &lookup.table),
        rule.name,
        qualified(topology, &rule.name)
    )
}
