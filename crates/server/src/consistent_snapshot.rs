//! A consistent snapshot of one shard's primary and the binlog position it stands at: what
//! a copy reads its rows in, and what a verify reads one side in while the catch-up holds
//! the other side at the same position. The position is `BINLOG_GTID_POS` of the session's
//! `Binlog_snapshot_file` / `Binlog_snapshot_position`, which MariaDB takes at the snapshot,
//! unlike `@@gtid_binlog_pos` read afterwards.

use mysql_async::prelude::*;
use mysql_async::Conn;

/// Opens a `REPEATABLE READ` transaction with a consistent snapshot on `conn`; the
/// snapshot's GTID position, `None` without a binary log.
pub(crate) async fn open(conn: &mut Conn) -> Result<Option<String>, mysql_async::Error> {
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await?;
    let status: Vec<(String, String)> = conn
        .query("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
        .await?;
    let get = |name: &str| {
        (status.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (file, position) = (get("Binlog_snapshot_file"), get("Binlog_snapshot_position"));
    if file.is_empty() {
        return Ok(None);
    }
    conn.exec_first::<Option<String>, _, _>("SELECT BINLOG_GTID_POS(?, ?)", (file, position))
        .await
        .map(Option::flatten)
}
