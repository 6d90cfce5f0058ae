//! The sequence tables on the default shard's primary, where generated ids come from: one
//! table per sequence holding one row, `(id = 0, next_id)`, the lowest id no proxy has
//! reserved yet.
//!
//! A reservation is one autocommitted statement,
//! `UPDATE seq SET next_id = LAST_INSERT_ID(next_id + n) WHERE id = 0`, whose OK packet
//! reports the new `next_id`: the block `[next_id - n, next_id)` belongs to the proxy that ran
//! it, whatever other proxies do at the same time (InnoDB serializes the updates of the row),
//! and survives a crash of the proxy or the server once the OK arrived.

use std::ops::Range;

use shardgate_backend::{BackendConn, BackendError, Flavor, QueryHead};
use shardgate_config::AutoIncrement;
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, ServerErr, StatusFlags};

use crate::own_tables::qualified;
use crate::runtime::Runtime;

/// Why ids could not be reserved, or a sequence not created.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("sequence table {table} does not exist on the default shard's primary: create it with `shardgate sequence init --config <file> --table {for_table}`")]
    Missing { table: String, for_table: String },
    #[error("sequence table {table} has no row with id = 0: run `shardgate sequence init --config <file> --table {for_table}`")]
    NoRow { table: String, for_table: String },
    #[error("sequence table {table}: {error}")]
    Server { table: String, error: ServerErr },
    #[error("table `{0}` has no auto_increment in the config")]
    NotConfigured(String),
    #[error("sequence table {table}: unexpected answer ({detail})")]
    Unexpected { table: String, detail: String },
}

/// A connection to the default shard's primary without any session's variables (a reset
/// one: another session's `autocommit` or `sql_log_bin` must not change a reservation).
async fn clean_conn(runtime: &Runtime) -> Result<shardgate_backend::PooledConn, BackendError> {
    crate::own_tables::clean_conn(runtime, runtime.topology.default_shard).await
}

/// Reserves `size` ids of `table`'s sequence: one statement on the default shard's primary.
pub(crate) async fn reserve(
    runtime: &Runtime,
    table: &str,
    ai: &AutoIncrement,
    size: u64,
) -> Result<Range<u64>, SequenceError> {
    let name = qualified(&runtime.topology, &ai.sequence);
    let sql = format!("UPDATE {name} SET next_id = LAST_INSERT_ID(next_id + {size}) WHERE id = 0");
    let (affected, end) = update_sequence(runtime, &name, table, &sql).await?;
    if affected != 1 {
        return Err(SequenceError::NoRow {
            table: name,
            for_table: table.to_owned(),
        });
    }
    let start = end
        .checked_sub(size)
        .ok_or_else(|| SequenceError::Unexpected {
            table: name.clone(),
            detail: format!("next_id {end} below the block of {size}"),
        })?;
    Ok(start..end)
}

/// Moves `table`'s sequence up to `next` (never down): ids below it are no longer handed out
/// by any proxy that reserves afterwards. One autocommitted statement.
pub(crate) async fn raise_to(
    runtime: &Runtime,
    table: &str,
    ai: &AutoIncrement,
    next: u64,
) -> Result<(), SequenceError> {
    let name = qualified(&runtime.topology, &ai.sequence);
    let sql = format!("UPDATE {name} SET next_id = GREATEST(next_id, {next}) WHERE id = 0");
    update_sequence(runtime, &name, table, &sql)
        .await
        .map(|_| ())
}

/// Runs UPDATE `sql` of sequence table `name` (of `table`) on a clean connection of the default
/// shard's primary, committed: its affected rows and the id its OK reports.
async fn update_sequence(
    runtime: &Runtime,
    name: &str,
    table: &str,
    sql: &str,
) -> Result<(u64, u64), SequenceError> {
    let mut conn = clean_conn(runtime).await?;
    match conn.execute(Command::COM_QUERY, sql.as_bytes()).await? {
        Finish::Ok {
            affected_rows,
            last_insert_id,
            status,
            ..
        } => {
            if status.contains(StatusFlags::SERVER_STATUS_IN_TRANS) {
                crate::state::expect_ok(&mut conn, Command::COM_QUERY, b"COMMIT").await?;
            }
            Ok((affected_rows, last_insert_id))
        }
        Finish::Err(error) => Err(server_error(error, name.to_owned(), table)),
        Finish::LocalInfile => {
            conn.broken = true;
            Err(SequenceError::Unexpected {
                table: name.to_owned(),
                detail: "a LOAD DATA request".into(),
            })
        }
    }
}

fn server_error(error: ServerErr, table: String, for_table: &str) -> SequenceError {
    match error.code {
        // ER_NO_SUCH_TABLE
        1146 => SequenceError::Missing {
            table,
            for_table: for_table.to_owned(),
        },
        _ => SequenceError::Server { table, error },
    }
}

/// What `shardgate sequence init` found and left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceInit {
    pub sequence: String,
    /// The largest value of the column on each shard (0 for none), in shard order.
    pub shard_max: Vec<u64>,
    /// The sequence's `next_id` now: above every shard's rows.
    pub next_id: u64,
}

/// Creates `table`'s sequence table on the default shard's primary if needed, and moves its
/// `next_id` above the largest value of the column on every shard (never down). Safe to run
/// again; run it before traffic inserts rows with ids of their own above the sequence.
pub async fn init_sequence(runtime: &Runtime, table: &str) -> Result<SequenceInit, SequenceError> {
    let topology = &runtime.topology;
    let rule = topology
        .table(table)
        .filter(|r| r.auto_increment.is_some())
        .ok_or_else(|| SequenceError::NotConfigured(table.to_owned()))?;
    let ai = rule.auto_increment.as_ref().expect("filtered");
    let data = qualified(topology, &rule.name);
    // LIMIT 1: a pooled connection may carry a session's sql_select_limit (0 hides the row).
    let max_sql = format!(
        "SELECT COALESCE(MAX(`{}`), 0) FROM {data} LIMIT 1",
        ai.column
    );
    let mut shard_max = Vec::with_capacity(topology.shards.len());
    for shard in 0..topology.shards.len() {
        let mut conn = runtime.primary(shard).get(Flavor::common()).await?;
        let max = single_value(&mut conn, &max_sql, &data).await?;
        shard_max.push(parse_id(&max, &data)?);
    }
    let next = shard_max.iter().max().copied().unwrap_or_default() + 1;
    let name = qualified(topology, &ai.sequence);
    let mut conn = clean_conn(runtime).await?;
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {name} (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, next_id BIGINT UNSIGNED NOT NULL) ENGINE=InnoDB COMMENT='shardgate sequence: ids below next_id are reserved'"
    );
    let raise = format!(
        "INSERT INTO {name} (id, next_id) VALUES (0, {next}) ON DUPLICATE KEY UPDATE next_id = GREATEST(next_id, VALUES(next_id))"
    );
    for sql in [create, raise] {
        match conn.execute(Command::COM_QUERY, sql.as_bytes()).await? {
            Finish::Ok { .. } => {}
            Finish::Err(error) => return Err(server_error(error, name, table)),
            Finish::LocalInfile => {
                conn.broken = true;
                return Err(SequenceError::Unexpected {
                    table: name,
                    detail: "a LOAD DATA request".into(),
                });
            }
        }
    }
    let now = single_value(
        &mut conn,
        &format!("SELECT next_id FROM {name} WHERE id = 0 LIMIT 1"),
        &name,
    )
    .await?;
    Ok(SequenceInit {
        sequence: ai.sequence.clone(),
        shard_max,
        next_id: parse_id(&now, &name)?,
    })
}

/// The one value of a one-row query.
async fn single_value(
    conn: &mut BackendConn,
    sql: &str,
    table: &str,
) -> Result<String, SequenceError> {
    match conn.query_rows(sql.as_bytes()).await? {
        QueryHead::Done(Finish::Err(error)) => {
            return Err(SequenceError::Server {
                table: table.to_owned(),
                error,
            })
        }
        QueryHead::Done(_) => {
            return Err(SequenceError::Unexpected {
                table: table.to_owned(),
                detail: "no result set".into(),
            })
        }
        QueryHead::Columns(_) => {}
    }
    let mut value = None;
    while let Ok(row) = conn.next_row().await? {
        if value.is_none() {
            let cell = shardgate_wire::text_row::text_cell(&row, 0).ok().flatten();
            value = Some(String::from_utf8_lossy(cell.unwrap_or_default()).into_owned());
        }
    }
    value.ok_or_else(|| SequenceError::Unexpected {
        table: table.to_owned(),
        detail: "no row".into(),
    })
}

fn parse_id(text: &str, table: &str) -> Result<u64, SequenceError> {
    // A signed column may hold negative ids: the sequence starts above 0 anyway.
    if text.starts_with('-') {
        return Ok(0);
    }
    text.parse().map_err(|_| SequenceError::Unexpected {
        table: table.to_owned(),
        detail: format!("{text:?} is not an integer id"),
    })
}
