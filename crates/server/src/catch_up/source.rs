//! The source's binlog, read as a MariaDB replica reads it: a GTID-based dump from the last
//! applied position. MariaDB has no `COM_BINLOG_DUMP_GTID`; it takes the position from
//! session variables and an empty file name in `COM_BINLOG_DUMP`.

use std::time::Duration;

use bytes::Bytes;
use shardgate_backend::{BackendConn, Pool};
use shardgate_binlog::GtidPos;
use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;

use super::sql::{rows, run, string_literal};
use super::CatchUpError;

/// How often an idle source sends a heartbeat; a stream silent for [`SILENCE`] is dead.
const HEARTBEAT: Duration = Duration::from_secs(1);
pub(super) const SILENCE: Duration = Duration::from_secs(5);

/// A dump connection.
pub(super) struct BinlogSource {
    conn: BackendConn,
    source: String,
}

impl BinlogSource {
    /// Checks the source's settings and starts the dump after `from` (announcing itself as
    /// replica `server_id`).
    pub(super) async fn open(
        pool: &Pool,
        source: &str,
        server_id: u32,
        from: &GtidPos,
    ) -> Result<Self, CatchUpError> {
        let mut conn = pool.open_unpooled().await?;
        check_settings(&mut conn, source).await?;
        let setup = format!(
            "SET @mariadb_slave_capability = 4, @slave_connect_state = {}, \
             @slave_gtid_strict_mode = 1, @slave_gtid_ignore_duplicates = 0, \
             @master_binlog_checksum = @@global.binlog_checksum, @master_heartbeat_period = {}",
            string_literal(&from.to_string()),
            HEARTBEAT.as_nanos()
        );
        let refused = |error| CatchUpError::DumpRefused {
            source_shard: source.to_owned(),
            error,
        };
        run(&mut conn, &setup)
            .await
            .map_err(|e| e.map_or_else(|e| e, refused))?;
        // Position 4 (after the file's magic), no flags, our server id, no file name.
        let mut dump = Vec::with_capacity(10);
        dump.extend_from_slice(&4u32.to_le_bytes());
        dump.extend_from_slice(&0u16.to_le_bytes());
        dump.extend_from_slice(&server_id.to_le_bytes());
        conn.send_no_reply(Command::COM_BINLOG_DUMP, &dump).await?;
        Ok(BinlogSource {
            conn,
            source: source.to_owned(),
        })
    }

    /// The next event (without the packet's leading 0x00).
    pub(super) async fn next_event(&mut self) -> Result<Bytes, CatchUpError> {
        let next = tokio::time::timeout(SILENCE, self.conn.next_row()).await;
        let packet = match next {
            Err(_) => return Err(CatchUpError::Silent(self.source.clone(), SILENCE.as_secs())),
            Ok(packet) => packet?,
        };
        match packet {
            Ok(event) if event.first() == Some(&0) => Ok(event.slice(1..)),
            Ok(_) => Err(CatchUpError::Connection(format!(
                "source {}: a binlog packet without its 0x00 marker",
                self.source
            ))),
            Err(Finish::Err(error)) => Err(CatchUpError::DumpRefused {
                source_shard: self.source.clone(),
                error,
            }),
            Err(_) => Err(CatchUpError::Connection(format!(
                "source {} ended the binlog stream",
                self.source
            ))),
        }
    }
}

/// The binlog settings row-based catch-up needs, each refused with what to change.
async fn check_settings(conn: &mut BackendConn, source: &str) -> Result<(), CatchUpError> {
    let sql = "SELECT @@global.log_bin, @@global.binlog_format, @@global.binlog_row_image, \
               @@global.log_bin_compress";
    let answer = rows(conn, sql, 4).await?;
    let values = match answer {
        Ok(found) => found.into_iter().next().unwrap_or_default(),
        Err(refused) => return Err(CatchUpError::Connection(refused.to_string())),
    };
    let value = |i: usize| {
        (values.get(i).cloned().flatten())
            .unwrap_or_default()
            .to_ascii_uppercase()
    };
    let requirement = |what: String| CatchUpError::Requirement {
        source_shard: source.to_owned(),
        what,
    };
    if value(0) != "1" {
        return Err(requirement("the binary log is off (log_bin)".into()));
    }
    if value(1) != "ROW" {
        return Err(requirement(format!(
            "binlog_format is {}: the catch-up reads row events only (binlog_format = ROW)",
            value(1)
        )));
    }
    if value(2) != "FULL" {
        return Err(requirement(format!(
            "binlog_row_image is {}: a row must be logged whole to be rewritten on its new owner (binlog_row_image = FULL)",
            value(2)
        )));
    }
    if value(3) == "1" {
        return Err(requirement(
            "log_bin_compress is on: the catch-up reads uncompressed events only".into(),
        ));
    }
    Ok(())
}
