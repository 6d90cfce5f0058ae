//! A migration's durable state (issue #15), in two tables of the proxy's own database on the
//! default shard's primary (`own_database.rs`), next to `shardgate_placements`, created when the first migration
//! starts: `shardgate_migrations` (one row per migration: its phase, the target file's text,
//! the copy's rate, which proxy drives it) and `shardgate_migration_flows` (one row per table
//! and flow of keys: the source's snapshot GTID position, the keyset cursor, rows copied,
//! errors). The copy writes a flow's row after each page it wrote to the new owner, so a
//! restarted proxy goes on from the cursor (a page copied twice is written twice, which the
//! idempotent write allows).

use mysql_async::prelude::*;
use mysql_async::{Conn, Row};
use shardgate_config::Topology;
use shardgate_migration::{Cursor, Phase};

use crate::migration_error::MigrationError;
use crate::own_database::{create_own_database, record_table, NO_RECORD};

pub const MIGRATIONS_TABLE: &str = "shardgate_migrations";
pub const FLOWS_TABLE: &str = "shardgate_migration_flows";

/// ER_BAD_FIELD_ERROR: a column the records of an older proxy lack.
const UNKNOWN_COLUMN: u16 = 1054;

/// One migration.
#[derive(Debug, Clone)]
pub(crate) struct MigrationRecord {
    pub id: u64,
    pub phase: Phase,
    pub paused: bool,
    pub target_file: String,
    pub target_config: String,
    pub rows_per_second: u64,
    /// The `[server] listen` address of the proxy that drives it.
    pub owner: String,
    pub last_error: Option<String>,
    /// The config text of the topology it started from (empty in records older than
    /// cutover): what verify, clean-up and cancel compare against after the cutover.
    pub source_config: String,
    /// How long the cutover held writes to the moving keys, once it swapped the topology.
    pub cutover_pause_ms: Option<u64>,
}

/// One table's flow of keys from one shard to another, with its copy's progress.
#[derive(Debug, Clone)]
pub(crate) struct FlowRecord {
    pub table: String,
    pub from: String,
    pub to: String,
    /// The key ranges that move (`range` tables), pushed to the source as a condition.
    pub ranges: Vec<(Option<i128>, Option<i128>)>,
    pub rows_estimated: u64,
    /// `@@gtid_binlog_pos` of the source at the first snapshot: where catch-up starts.
    pub snapshot_gtid: Option<String>,
    /// The source's last transaction the catch-up applied to the new owners (the same for
    /// every flow of a source), saved every [`crate::reshard_catch_up`] tick: where a
    /// restarted catch-up resumes.
    pub applied_gtid: Option<String>,
    /// After the cutover: the new owner's last transaction the reverse catch-up applied to
    /// the source (the same for every flow to that new owner).
    pub reverse_gtid: Option<String>,
    pub cursor: Cursor,
    pub rows_copied: u64,
    pub rows_scanned: u64,
    pub copied: bool,
    pub last_error: Option<String>,
}

/// Where the records are: the default shard's primary.
#[derive(Debug, Clone)]
pub(crate) struct Records {
    backend: shardgate_config::BackendSettings,
    endpoint: shardgate_config::Endpoint,
    migrations: String,
    flows: String,
    /// The statement creating the tables' database.
    create_database: String,
}

impl Records {
    pub fn of(topology: &Topology) -> Records {
        Records {
            backend: topology.backend.clone(),
            endpoint: topology.shards[topology.default_shard].primary.clone(),
            migrations: record_table(topology, MIGRATIONS_TABLE),
            flows: record_table(topology, FLOWS_TABLE),
            create_database: create_own_database(topology),
        }
    }

    pub async fn conn(&self) -> Result<Conn, MigrationError> {
        (crate::migration_conn::connect(&self.backend, &self.endpoint).await)
            .map_err(MigrationError::Record)
    }

    /// Creates the tables if missing.
    pub async fn ensure(&self, conn: &mut Conn) -> Result<(), MigrationError> {
        let migrations = format!(
            "CREATE TABLE IF NOT EXISTS {} (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, phase VARCHAR(32) NOT NULL, paused TINYINT NOT NULL DEFAULT 0, target_file TEXT CHARACTER SET utf8mb4 NOT NULL, target_config MEDIUMTEXT CHARACTER SET utf8mb4 NOT NULL, rows_per_second BIGINT UNSIGNED NOT NULL, owner VARCHAR(255) NOT NULL, last_error TEXT CHARACTER SET utf8mb4 NULL, created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)) ENGINE=InnoDB COMMENT='shardgate: resharding migrations (issue #15)'",
            self.migrations
        );
        let flows = format!(
            "CREATE TABLE IF NOT EXISTS {} (migration_id BIGINT UNSIGNED NOT NULL, table_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, from_shard VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, to_shard VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, ranges TEXT NOT NULL, rows_estimated BIGINT UNSIGNED NOT NULL, snapshot_gtid TEXT NULL, applied_gtid TEXT NULL, reverse_gtid TEXT NULL, cursor_key MEDIUMTEXT NOT NULL, rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0, rows_scanned BIGINT UNSIGNED NOT NULL DEFAULT 0, copied TINYINT NOT NULL DEFAULT 0, last_error TEXT CHARACTER SET utf8mb4 NULL, started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), PRIMARY KEY (migration_id, table_name, from_shard, to_shard)) ENGINE=InnoDB COMMENT='shardgate: each migration''s flows of keys and their copy''s progress'",
            self.flows
        );
        // Records written before catch-up existed.
        let applied = format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS applied_gtid TEXT NULL AFTER snapshot_gtid, ADD COLUMN IF NOT EXISTS reverse_gtid TEXT NULL AFTER applied_gtid",
            self.flows
        );
        let migration_columns = format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS source_config MEDIUMTEXT CHARACTER SET utf8mb4 NULL, ADD COLUMN IF NOT EXISTS cutover_pause_ms BIGINT UNSIGNED NULL",
            self.migrations
        );
        let database = self.create_database.clone();
        for sql in [database, migrations, flows, applied, migration_columns] {
            conn.query_drop(sql).await.map_err(MigrationError::Record)?;
        }
        Ok(())
    }

    /// The migration not yet done, cancelled or failed, if any.
    pub async fn active(&self, conn: &mut Conn) -> Result<Option<MigrationRecord>, MigrationError> {
        let all = self.migrations(conn).await?;
        Ok(all.into_iter().find(|m| !m.phase.is_terminal()))
    }

    /// Every migration, the latest first; none when the tables do not exist yet.
    pub async fn migrations(
        &self,
        conn: &mut Conn,
    ) -> Result<Vec<MigrationRecord>, MigrationError> {
        let sql = format!(
            "SELECT id, phase, paused, target_file, target_config, rows_per_second, owner, last_error, source_config, cutover_pause_ms FROM {} ORDER BY id DESC",
            self.migrations
        );
        let rows: Vec<Row> = match conn.query(&sql).await {
            Ok(rows) => rows,
            Err(mysql_async::Error::Server(e)) if NO_RECORD.contains(&e.code) => {
                return Ok(Vec::new())
            }
            // Records of an older proxy: their new columns are added, then read.
            Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_COLUMN => {
                self.ensure(conn).await?;
                conn.query(&sql).await.map_err(MigrationError::Record)?
            }
            Err(e) => return Err(MigrationError::Record(e)),
        };
        Ok(rows
            .into_iter()
            .map(|mut row| {
                let text = |row: &mut Row, i: usize| row.take::<Option<String>, _>(i).flatten();
                let number = |row: &mut Row, i: usize| row.take::<u64, _>(i).unwrap_or(0);
                MigrationRecord {
                    id: number(&mut row, 0),
                    phase: Phase::parse(&text(&mut row, 1).unwrap_or_default())
                        .unwrap_or(Phase::Failed),
                    paused: number(&mut row, 2) != 0,
                    target_file: text(&mut row, 3).unwrap_or_default(),
                    target_config: text(&mut row, 4).unwrap_or_default(),
                    rows_per_second: number(&mut row, 5),
                    owner: text(&mut row, 6).unwrap_or_default(),
                    last_error: text(&mut row, 7),
                    source_config: text(&mut row, 8).unwrap_or_default(),
                    cutover_pause_ms: row.take::<Option<u64>, _>(9).flatten(),
                }
            })
            .collect())
    }

    pub async fn migration(
        &self,
        conn: &mut Conn,
        id: u64,
    ) -> Result<MigrationRecord, MigrationError> {
        (self.migrations(conn).await?.into_iter())
            .find(|m| m.id == id)
            .ok_or(MigrationError::Unknown(id))
    }

    /// Records a new migration in phase `planned` with its flows; its id.
    pub async fn insert(
        &self,
        conn: &mut Conn,
        record: &MigrationRecord,
        flows: &[FlowRecord],
    ) -> Result<u64, MigrationError> {
        let mut tx =
            (conn.start_transaction(Default::default()).await).map_err(MigrationError::Record)?;
        tx.exec_drop(
            format!(
                "INSERT INTO {} (phase, target_file, target_config, rows_per_second, owner, source_config) VALUES (?, ?, ?, ?, ?, ?)",
                self.migrations
            ),
            (
                Phase::Planned.as_str(),
                &record.target_file,
                &record.target_config,
                record.rows_per_second,
                &record.owner,
                &record.source_config,
            ),
        )
        .await
        .map_err(MigrationError::Record)?;
        let id = tx.last_insert_id().unwrap_or(0);
        for flow in flows {
            tx.exec_drop(
                format!(
                    "INSERT INTO {} (migration_id, table_name, from_shard, to_shard, ranges, rows_estimated, cursor_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    self.flows
                ),
                (
                    id,
                    &flow.table,
                    &flow.from,
                    &flow.to,
                    serde_json::to_string(&flow.ranges).unwrap_or_else(|_| "[]".into()),
                    flow.rows_estimated,
                    flow.cursor.to_json(),
                ),
            )
            .await
            .map_err(MigrationError::Record)?;
        }
        tx.commit().await.map_err(MigrationError::Record)?;
        Ok(id)
    }

    pub async fn flows(&self, conn: &mut Conn, id: u64) -> Result<Vec<FlowRecord>, MigrationError> {
        let sql = format!(
            "SELECT table_name, from_shard, to_shard, ranges, rows_estimated, snapshot_gtid, cursor_key, rows_copied, rows_scanned, copied, last_error, applied_gtid, reverse_gtid FROM {} WHERE migration_id = ? ORDER BY table_name, from_shard, to_shard",
            self.flows
        );
        let rows: Vec<Row> = match conn.exec(&sql, (id,)).await {
            Ok(rows) => rows,
            Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_COLUMN => {
                self.ensure(conn).await?;
                (conn.exec(&sql, (id,)).await).map_err(MigrationError::Record)?
            }
            Err(e) => return Err(MigrationError::Record(e)),
        };
        let damaged = |what: String| MigrationError::Record(mysql_async::Error::Other(what.into()));
        rows.into_iter()
            .map(|mut row| {
                let text = |row: &mut Row, i: usize| row.take::<Option<String>, _>(i).flatten();
                let number = |row: &mut Row, i: usize| row.take::<u64, _>(i).unwrap_or(0);
                let ranges = text(&mut row, 3).unwrap_or_default();
                let cursor = text(&mut row, 6).unwrap_or_default();
                Ok(FlowRecord {
                    table: text(&mut row, 0).unwrap_or_default(),
                    from: text(&mut row, 1).unwrap_or_default(),
                    to: text(&mut row, 2).unwrap_or_default(),
                    ranges: serde_json::from_str(&ranges)
                        .map_err(|e| damaged(format!("flow ranges {ranges:?}: {e}")))?,
                    rows_estimated: number(&mut row, 4),
                    snapshot_gtid: text(&mut row, 5),
                    applied_gtid: text(&mut row, 11),
                    reverse_gtid: text(&mut row, 12),
                    cursor: Cursor::from_json(&cursor)
                        .map_err(|e| damaged(format!("flow cursor {cursor:?}: {e}")))?,
                    rows_copied: number(&mut row, 7),
                    rows_scanned: number(&mut row, 8),
                    copied: number(&mut row, 9) != 0,
                    last_error: text(&mut row, 10),
                })
            })
            .collect()
    }

    /// Saves a flow's progress (after a page was written to its new owner).
    pub async fn save_flow(
        &self,
        conn: &mut Conn,
        id: u64,
        flow: &FlowRecord,
    ) -> Result<(), MigrationError> {
        let sql = format!(
            "UPDATE {} SET snapshot_gtid = ?, cursor_key = ?, rows_copied = ?, rows_scanned = ?, copied = ?, last_error = ? WHERE migration_id = ? AND table_name = ? AND from_shard = ? AND to_shard = ?",
            self.flows
        );
        let params: Vec<mysql_async::Value> = vec![
            flow.snapshot_gtid.clone().into(),
            flow.cursor.to_json().into(),
            flow.rows_copied.into(),
            flow.rows_scanned.into(),
            u8::from(flow.copied).into(),
            flow.last_error.clone().into(),
            id.into(),
            flow.table.clone().into(),
            flow.from.clone().into(),
            flow.to.clone().into(),
        ];
        conn.exec_drop(sql, params)
            .await
            .map_err(MigrationError::Record)
    }

    /// Saves where the catch-up of `source` stands, on each of its flows (`reverse`: the
    /// reverse catch-up from new owner `source`).
    pub async fn save_applied(
        &self,
        conn: &mut Conn,
        id: u64,
        source: &str,
        applied: &str,
        reverse: bool,
    ) -> Result<(), MigrationError> {
        let sql = match reverse {
            false => format!(
                "UPDATE {} SET applied_gtid = ? WHERE migration_id = ? AND from_shard = ?",
                self.flows
            ),
            true => format!(
                "UPDATE {} SET reverse_gtid = ? WHERE migration_id = ? AND to_shard = ?",
                self.flows
            ),
        };
        conn.exec_drop(sql, (applied, id, source))
            .await
            .map_err(MigrationError::Record)
    }

    pub async fn set_phase(
        &self,
        conn: &mut Conn,
        id: u64,
        phase: Phase,
        error: Option<&str>,
    ) -> Result<(), MigrationError> {
        let sql = format!(
            "UPDATE {} SET phase = ?, last_error = ? WHERE id = ?",
            self.migrations
        );
        conn.exec_drop(sql, (phase.as_str(), error, id))
            .await
            .map_err(MigrationError::Record)
    }

    /// Records how long the cutover held writes.
    pub async fn set_cutover_pause(
        &self,
        conn: &mut Conn,
        id: u64,
        pause_ms: u64,
    ) -> Result<(), MigrationError> {
        let sql = format!(
            "UPDATE {} SET cutover_pause_ms = ? WHERE id = ?",
            self.migrations
        );
        conn.exec_drop(sql, (pause_ms, id))
            .await
            .map_err(MigrationError::Record)
    }

    pub async fn set_paused(
        &self,
        conn: &mut Conn,
        id: u64,
        paused: bool,
    ) -> Result<(), MigrationError> {
        let sql = format!("UPDATE {} SET paused = ? WHERE id = ?", self.migrations);
        conn.exec_drop(sql, (u8::from(paused), id))
            .await
            .map_err(MigrationError::Record)
    }
}
