//! The proxy's own database (`[backend] own_database`, `_shardgate_<database>` by default) on
//! the default shard's primary: the records applications must not see — placements,
//! resharding migrations and their flows, proxy heartbeats. In the applications' database
//! `SHOW TABLES` listed them and `mariadb-dump` carried them into other deployments. Records
//! an earlier shardgate kept there are moved here at start-up.

use mysql_async::prelude::*;
use shardgate_config::Topology;

use crate::migration_record::{FLOWS_TABLE, MIGRATIONS_TABLE};
use crate::placement_record::RECORD_TABLE;
use crate::proxy_heartbeat::PROXIES_TABLE;
use shardgate_router::quote_identifier as quoted;

/// The records' tables.
const RECORDS: [&str; 4] = [RECORD_TABLE, MIGRATIONS_TABLE, FLOWS_TABLE, PROXIES_TABLE];

/// MariaDB's "Table … doesn't exist" and "Unknown database": no record yet.
pub(crate) const NO_RECORD: [u16; 2] = [1146, 1049];

/// Record table `name` in the proxy's own database.
pub(crate) fn record_table(topology: &Topology, name: &str) -> String {
    format!(
        "{}.{}",
        quoted(&topology.backend.own_database),
        quoted(name)
    )
}

/// The statement creating the proxy's own database, run before a record table is created.
pub(crate) fn create_own_database(topology: &Topology) -> String {
    format!(
        "CREATE DATABASE IF NOT EXISTS {}",
        quoted(&topology.backend.own_database)
    )
}

/// Why the records an earlier shardgate kept in `[backend] database` stay there.
#[derive(Debug, thiserror::Error)]
#[error("the proxy's records in database `{from}` could not be moved to `{to}` ([backend] own_database): {cause}; grant the backend account all privileges on `{to}`, or move them by hand (RENAME TABLE)")]
pub struct RecordsNotMoved {
    from: String,
    to: String,
    cause: mysql_async::Error,
}

/// Moves record tables found in `[backend] database` into the own database (`RENAME TABLE`,
/// atomic on the server; its replicas follow). A default shard that cannot be reached is
/// logged: the records are read from the own database, as the rest of start-up does. A record
/// table in both databases is left where it is, with a warning: the own one is read.
pub async fn move_records_into_own_database(topology: &Topology) -> Result<(), RecordsNotMoved> {
    let backend = &topology.backend;
    let endpoint = &topology.shards[topology.default_shard].primary;
    let found = async {
        let mut conn = crate::migration_conn::connect(backend, endpoint).await?;
        let sql = format!(
            "SELECT table_schema, table_name FROM information_schema.TABLES WHERE table_schema IN (?, ?) AND table_name IN ({})",
            ["?"; RECORDS.len()].join(", ")
        );
        let mut params = vec![backend.database.clone(), backend.own_database.clone()];
        params.extend(RECORDS.iter().map(|t| t.to_string()));
        let found: Vec<(String, String)> = conn.exec(sql, params).await?;
        Ok::<_, mysql_async::Error>((conn, found))
    };
    let (mut conn, found) = match found.await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "the proxy's records were not looked for in [backend] database: records an earlier shardgate kept there are not read");
            return Ok(());
        }
    };
    let in_db = |db: &str, table: &str| found.iter().any(|(d, t)| d == db && t == table);
    let not_moved = |cause| RecordsNotMoved {
        from: backend.database.clone(),
        to: backend.own_database.clone(),
        cause,
    };
    for table in RECORDS {
        if !in_db(&backend.database, table) {
            continue;
        }
        if in_db(&backend.own_database, table) {
            tracing::warn!(
                table,
                database = %backend.database,
                own_database = %backend.own_database,
                "a proxy record table is in both databases: the own database's is read; drop the other"
            );
            continue;
        }
        let old = format!("{}.{}", quoted(&backend.database), quoted(table));
        let moved = async {
            conn.query_drop(create_own_database(topology)).await?;
            let sql = format!("RENAME TABLE {old} TO {}", record_table(topology, table));
            conn.query_drop(sql).await
        };
        moved.await.map_err(not_moved)?;
        tracing::info!(table, from = %backend.database, to = %backend.own_database, "proxy record table moved out of the applications' database");
    }
    Ok(())
}
