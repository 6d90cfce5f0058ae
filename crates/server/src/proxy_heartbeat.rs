//! Which proxies serve a topology: each `shardgate serve` process writes a heartbeat row (its
//! `[server] listen`) to `shardgate_proxies` on the default shard's primary every
//! [`BEAT_EVERY`], once that table exists. A resharding cutover switches only the proxy that
//! drives the migration, so `SHARDGATE RESHARD START` refuses while another proxy's heartbeat
//! is fresh, naming it. The table is created by the first START (in the proxy's own database;
//! never before resharding is used), which then waits for
//! the other proxies' next beat.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::*;
use shardgate_config::Topology;

use crate::migration_error::MigrationError;
use crate::own_database::{create_own_database, record_table, NO_RECORD};
use crate::Proxy;

pub const PROXIES_TABLE: &str = "shardgate_proxies";

const BEAT_EVERY: Duration = Duration::from_secs(5);

/// A heartbeat older than this is a proxy gone.
const ALIVE_WITHIN_SECONDS: u64 = 15;

async fn connect(topology: &Topology) -> Result<mysql_async::Conn, mysql_async::Error> {
    let endpoint = &topology.shards[topology.default_shard].primary;
    crate::migration_conn::connect(&topology.backend, endpoint).await
}

/// Writes this proxy's heartbeat, if the table exists.
async fn beat(topology: &Topology) -> Result<(), mysql_async::Error> {
    let table = record_table(topology, PROXIES_TABLE);
    let mut conn = connect(topology).await?;
    let written = conn
        .exec_drop(
            format!("REPLACE INTO {table} (listen, seen_at) VALUES (?, NOW(6))"),
            (&topology.server.listen,),
        )
        .await;
    match written {
        // No resharding was ever started here: nothing to announce.
        Err(mysql_async::Error::Server(e)) if NO_RECORD.contains(&e.code) => Ok(()),
        other => other,
    }
}

/// Creates the heartbeat table unless it exists; whether it did.
async fn create_table(
    conn: &mut mysql_async::Conn,
    topology: &Topology,
) -> Result<bool, mysql_async::Error> {
    let table = record_table(topology, PROXIES_TABLE);
    conn.query_drop(create_own_database(topology)).await?;
    let created = conn
        .query_drop(format!(
            "CREATE TABLE {table} (listen VARCHAR(255) NOT NULL PRIMARY KEY, seen_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB COMMENT='shardgate: the proxies serving this topology (heartbeats)'"
        ))
        .await;
    match created {
        Ok(()) => Ok(true),
        // ER_TABLE_EXISTS_ERROR
        Err(mysql_async::Error::Server(e)) if e.code == 1050 => Ok(false),
        Err(e) => Err(e),
    }
}

impl Proxy {
    /// Writes this proxy's heartbeat until the process ends (a failed write is logged once
    /// per outage and tried again).
    pub async fn heartbeat(self: Arc<Self>) {
        let mut failing = false;
        loop {
            let topology = self.runtime().topology.clone();
            match beat(&topology).await {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "proxy heartbeat not written: a resharding START on another proxy will not see this one");
                }
                Err(_) => {}
            }
            tokio::time::sleep(BEAT_EVERY).await;
        }
    }
}

/// Refuses when a proxy other than `topology`'s own wrote a heartbeat lately. The first time
/// (no table yet), creates the table and waits for the other proxies' next beat.
pub(crate) async fn refuse_other_proxies(topology: &Topology) -> Result<(), MigrationError> {
    let table = record_table(topology, PROXIES_TABLE);
    let mut conn = connect(topology).await.map_err(MigrationError::Record)?;
    if create_table(&mut conn, topology)
        .await
        .map_err(MigrationError::Record)?
    {
        tracing::info!(
            wait_seconds = (BEAT_EVERY + Duration::from_secs(2)).as_secs(),
            "waiting for other proxies serving this topology to announce themselves"
        );
        tokio::time::sleep(BEAT_EVERY + Duration::from_secs(2)).await;
    }
    let sql = format!(
        "SELECT listen FROM {table} WHERE listen <> ? AND seen_at > NOW(6) - INTERVAL {ALIVE_WITHIN_SECONDS} SECOND ORDER BY listen"
    );
    let others: Vec<String> = match conn.exec(sql, (&topology.server.listen,)).await {
        Ok(others) => others,
        Err(mysql_async::Error::Server(e)) if NO_RECORD.contains(&e.code) => Vec::new(),
        Err(e) => return Err(MigrationError::Record(e)),
    };
    match others.is_empty() {
        true => Ok(()),
        false => Err(MigrationError::OtherProxies(others.join(", "))),
    }
}
