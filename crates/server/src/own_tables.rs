//! The proxy's own tables in the backend database (sequences, lookup indexes, the placement
//! record): their qualified names, and clean connections and plain reads to reach them.

use shardgate_backend::{BackendConn, BackendError, Flavor, PooledConn, QueryHead};
use shardgate_config::Topology;
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, ServerErr};

use crate::runtime::Runtime;

/// `name`, qualified with the backend database.
pub(crate) fn qualified(topology: &Topology, name: &str) -> String {
    let db = &topology.backend.database;
    match db.is_empty() {
        true => format!("`{name}`"),
        false => format!("`{}`.`{name}`", db.replace('`', "``")),
    }
}

/// `text` as a utf8mb4 string literal, whatever the connection's character set and `sql_mode`.
pub(crate) fn text_literal(text: &str) -> String {
    format!("CONVERT(X'{}' USING utf8mb4)", hex::encode(text))
}

/// A pooled connection to `shard`'s primary without any session's variables (a reset one:
/// another session's `autocommit` or `sql_log_bin` must not change what the proxy writes).
pub(crate) async fn clean_conn(
    runtime: &Runtime,
    shard: usize,
) -> Result<PooledConn, BackendError> {
    let mut conn = runtime.primary(shard).get(Flavor::common()).await?;
    if conn.vars_fingerprint != 0 {
        crate::state::expect_ok(&mut conn, Command::COM_RESET_CONNECTION, b"").await?;
        conn.statements.clear();
        conn.vars_fingerprint = 0;
        conn.database = None;
    }
    Ok(conn)
}

/// The rows of `sql`, each cell as its bytes (`None` for NULL), `columns` cells a row; or the
/// server's refusal.
pub(crate) async fn rows_of(
    conn: &mut BackendConn,
    sql: &str,
    columns: usize,
) -> Result<Result<Vec<Vec<Option<Vec<u8>>>>, ServerErr>, BackendError> {
    match conn.query_rows(sql.as_bytes()).await? {
        QueryHead::Columns(_) => {}
        QueryHead::Done(Finish::Err(refused)) => return Ok(Err(refused)),
        QueryHead::Done(_) => return Ok(Ok(Vec::new())),
    }
    let mut rows = Vec::new();
    loop {
        match conn.next_row().await? {
            Ok(row) => rows.push(
                (0..columns)
                    .map(|i| {
                        shardgate_wire::text_row::text_cell(&row, i)
                            .ok()
                            .flatten()
                            .map(<[u8]>::to_vec)
                    })
                    .collect(),
            ),
            Err(Finish::Err(refused)) => return Ok(Err(refused)),
            Err(_) => return Ok(Ok(rows)),
        }
    }
}
