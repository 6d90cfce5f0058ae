//! Plain statements and reads on the catch-up's own connections.

use shardgate_backend::BackendConn;
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, ServerErr};

use super::CatchUpError;

/// Runs `sql`, which answers OK: the server's refusal as `Err(Ok(refusal))`, a broken
/// connection as `Err(Err(..))`.
pub(super) async fn run(
    conn: &mut BackendConn,
    sql: &str,
) -> Result<(), Result<ServerErr, CatchUpError>> {
    match conn.execute(Command::COM_QUERY, sql.as_bytes()).await {
        Ok(Finish::Err(refused)) => Err(Ok(refused)),
        Ok(_) => Ok(()),
        Err(e) => Err(Err(e.into())),
    }
}

/// The rows of `sql` (cells as text, NULL as `None`), `columns` cells a row.
pub(super) async fn rows(
    conn: &mut BackendConn,
    sql: &str,
    columns: usize,
) -> Result<Result<Vec<Vec<Option<String>>>, ServerErr>, CatchUpError> {
    let rows = crate::own_tables::rows_of(conn, sql, columns).await?;
    Ok(rows.map(|rows| {
        (rows.into_iter())
            .map(|row| {
                (row.into_iter())
                    .map(|cell| cell.map(|c| String::from_utf8_lossy(&c).into_owned()))
                    .collect()
            })
            .collect()
    }))
}

/// The source's `@@gtid_binlog_pos` (its last transaction of each domain).
pub(super) async fn binlog_position(
    conn: &mut BackendConn,
) -> Result<shardgate_binlog::GtidPos, CatchUpError> {
    let answer = rows(conn, "SELECT @@global.gtid_binlog_pos", 1).await?;
    let text = match answer {
        Ok(rows) => rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()),
        Err(refused) => return Err(CatchUpError::Connection(refused.to_string())),
    };
    (text.unwrap_or_default().parse()).map_err(|e| CatchUpError::Connection(format!("{e}")))
}

/// `text` as a string literal whatever the session's `sql_mode`.
pub(super) fn string_literal(text: &str) -> String {
    crate::own_tables::text_literal(text)
}
