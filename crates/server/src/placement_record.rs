//! The placement record: where the proxy last placed each table's rows (by shard name), kept
//! in table `shardgate_placements` of the proxy's own database on the default shard's primary
//! (`own_database.rs`)
//! (`shardgate_config::Placements::to_record`). A proxy that starts with a config file that
//! would look for existing rows elsewhere refuses to start, as a reload is refused
//! (`key_owners.rs`); the record is written at start-up and after every reload applied.
//! Topologies with one shard and no sharded or reference tables keep none.

use shardgate_config::{ConfigError, ConfigErrors, Placements, Topology};
use shardgate_protocol::Command;

use crate::own_database::{create_own_database, record_table, NO_RECORD};
use crate::own_tables::{clean_conn, rows_of, text_literal};
use crate::Runtime;

/// The record's table, in the backend database.
pub const RECORD_TABLE: &str = "shardgate_placements";

/// Whether `topology` places rows anywhere but one server.
fn worth_recording(topology: &Topology) -> bool {
    topology.shards.len() > 1
        || !topology.tables.is_empty()
        || !topology.reference_tables.is_empty()
}

/// At start-up: `Err` when the record says rows are where `runtime`'s topology would not look
/// for them; otherwise the record is brought up to date. A default shard that cannot be
/// reached, or a record that cannot be written, is logged and the proxy starts.
pub async fn check_at_start(runtime: &Runtime, file_name: &str) -> Result<(), ConfigErrors> {
    if !worth_recording(&runtime.topology) {
        return Ok(());
    }
    match read(runtime).await {
        Ok(Some(recorded)) => {
            crate::key_owners::keeps_key_owners(&recorded, runtime, &runtime.topology, file_name)
                .await?;
        }
        Ok(None) => tracing::info!("no placement record yet: this config's placements are recorded"),
        Err(Unreadable::Damaged(message)) => {
            return Err(ConfigErrors {
                errors: vec![ConfigError {
                    file: file_name.to_owned(),
                    line: None,
                    key: RECORD_TABLE.into(),
                    message: format!(
                        "{message}: repair the row, or drop table {} once every table's rows are where this config places them",
                        record_table(&runtime.topology, RECORD_TABLE)
                    ),
                }],
            })
        }
        Err(Unreadable::Unreachable(e)) => {
            tracing::warn!(error = %e, "placement record not read: the config's placements are not checked against where rows are");
            return Ok(());
        }
    }
    write(runtime).await;
    Ok(())
}

/// Why the record could not be read.
enum Unreadable {
    /// A row that is no placement.
    Damaged(String),
    Unreachable(String),
}

/// The recorded placements, `None` without a record.
async fn read(runtime: &Runtime) -> Result<Option<Placements>, Unreadable> {
    let sql = format!(
        "SELECT table_key, placement FROM {}",
        record_table(&runtime.topology, RECORD_TABLE)
    );
    let answer = async {
        let mut conn = clean_conn(runtime, runtime.topology.default_shard).await?;
        rows_of(&mut conn, &sql, 2).await
    };
    let rows = match answer.await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) if NO_RECORD.contains(&e.code) => return Ok(None),
        Ok(Err(e)) => return Err(Unreadable::Unreachable(e.to_string())),
        Err(e) => return Err(Unreadable::Unreachable(e.to_string())),
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let text = |cell: &Option<Vec<u8>>| {
        String::from_utf8_lossy(cell.as_deref().unwrap_or_default()).into_owned()
    };
    let rows = rows.iter().map(|r| (text(&r[0]), text(&r[1])));
    Placements::from_record(rows)
        .map(Some)
        .map_err(|e| Unreadable::Damaged(e.to_string()))
}

/// Records the placements `runtime` serves (replacing the record whole, in one transaction);
/// a failure is logged.
pub(crate) async fn write(runtime: &Runtime) {
    if !worth_recording(&runtime.topology) {
        return;
    }
    let table = record_table(&runtime.topology, RECORD_TABLE);
    let rows: Vec<String> = (Placements::of(&runtime.topology).to_record().iter())
        .map(|(key, placement)| format!("({}, {})", text_literal(key), text_literal(placement)))
        .collect();
    let statements = [
        create_own_database(&runtime.topology),
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (table_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY, placement TEXT CHARACTER SET utf8mb4 NOT NULL, recorded_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB COMMENT='shardgate: where each table''s rows are placed; read at start-up'"
        ),
        "BEGIN".to_owned(),
        format!("DELETE FROM {table}"),
        format!("INSERT INTO {table} (table_key, placement) VALUES {}", rows.join(", ")),
        "COMMIT".to_owned(),
    ];
    let written = async {
        let mut conn = clean_conn(runtime, runtime.topology.default_shard).await?;
        for sql in &statements {
            if let Err(e) =
                crate::state::expect_ok(&mut conn, Command::COM_QUERY, sql.as_bytes()).await
            {
                // Whatever the transaction did is rolled back with the connection.
                conn.broken = true;
                return Err(e);
            }
        }
        Ok(())
    };
    match written.await {
        Ok(()) => tracing::debug!(version = runtime.version, "placements recorded"),
        Err(e) => {
            tracing::warn!(error = %e, "placement record not written: a restart with another config is not checked against this one")
        }
    }
}
