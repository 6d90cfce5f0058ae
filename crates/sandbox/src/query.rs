//! Running SQL on instances, and waiting for replication.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use crate::launch::POLL;
use crate::{Instance, Sandbox, SandboxError};

/// A row as text: `None` is SQL NULL.
pub type TextRow = Vec<Option<String>>;

impl Sandbox {
    /// Runs `sql` (one statement, or several separated by `;`) on `inst` as the admin account
    /// over its Unix socket, without a default database. Returns the rows of every result set.
    /// Hangs while the instance is frozen: wrap it in a timeout then.
    pub async fn exec(&self, inst: &Instance, sql: &str) -> Result<Vec<TextRow>, SandboxError> {
        let rows = query(inst, None, sql).await?;
        Ok(rows.into_iter().map(text_row).collect())
    }

    /// Like [`Sandbox::exec`], with `database` as the default database.
    pub async fn exec_in(
        &self,
        inst: &Instance,
        database: &str,
        sql: &str,
    ) -> Result<Vec<TextRow>, SandboxError> {
        let rows = query(inst, Some(database), sql).await?;
        Ok(rows.into_iter().map(text_row).collect())
    }

    /// Like [`Sandbox::exec`], each row keyed by column name.
    pub async fn exec_named(
        &self,
        inst: &Instance,
        sql: &str,
    ) -> Result<Vec<BTreeMap<String, Option<String>>>, SandboxError> {
        let rows = query(inst, None, sql).await?;
        Ok(rows.into_iter().map(named_row).collect())
    }

    /// The first column of the first row (`None` for no row or NULL).
    pub async fn scalar(&self, inst: &Instance, sql: &str) -> Result<Option<String>, SandboxError> {
        let rows = self.exec(inst, sql).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }

    /// `SHOW SLAVE STATUS` of a replica, keyed by column (`Slave_IO_Running`,
    /// `Slave_SQL_Running`, `Seconds_Behind_Master`, `Last_SQL_Error`, …). Empty for a server
    /// that does not replicate.
    pub async fn replica_status(
        &self,
        inst: &Instance,
    ) -> Result<BTreeMap<String, Option<String>>, SandboxError> {
        let rows = self.exec_named(inst, "SHOW SLAVE STATUS").await?;
        Ok(rows.into_iter().next().unwrap_or_default())
    }

    /// Waits until every replica has applied everything its primary had written when this was
    /// called (`MASTER_GTID_WAIT` on the primary's `@@gtid_binlog_pos`).
    pub async fn wait_replicas_synced(&self, timeout: Duration) -> Result<(), SandboxError> {
        let deadline = Instant::now() + timeout;
        let mut waits = Vec::new();
        for shard in &self.shards {
            if shard.replicas.is_empty() {
                continue;
            }
            let pos = self
                .scalar(&shard.primary, "SELECT @@GLOBAL.gtid_binlog_pos")
                .await?
                .unwrap_or_default();
            for r in &shard.replicas {
                waits.push(self.wait_gtid(r, pos.clone(), deadline, timeout));
            }
        }
        try_join_all(waits).await?;
        Ok(())
    }

    async fn wait_gtid(
        &self,
        replica: &Instance,
        pos: String,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), SandboxError> {
        let secs = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        let sql = format!("SELECT MASTER_GTID_WAIT('{pos}', {secs:.3})");
        match self.scalar(replica, &sql).await?.as_deref() {
            Some("0") => Ok(()),
            _ => Err(SandboxError::Timeout {
                what: format!("{} to apply GTID position '{pos}'", replica.name),
                timeout,
            }),
        }
    }

    /// Waits until a replica's IO and SQL threads both run.
    pub async fn wait_replica_running(
        &self,
        replica: &Instance,
        timeout: Duration,
    ) -> Result<(), SandboxError> {
        let deadline = Instant::now() + timeout;
        loop {
            let st = self.replica_status(replica).await?;
            let field = |k: &str| st.get(k).cloned().flatten().unwrap_or_default();
            if field("Slave_IO_Running") == "Yes" && field("Slave_SQL_Running") == "Yes" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SandboxError::Replication {
                    instance: replica.name.clone(),
                    detail: format!(
                        "Slave_IO_Running={} Slave_SQL_Running={} Last_IO_Error={:?} Last_SQL_Error={:?}",
                        field("Slave_IO_Running"),
                        field("Slave_SQL_Running"),
                        field("Last_IO_Error"),
                        field("Last_SQL_Error"),
                    ),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Runs `sql` as admin over the socket; rows of every result set.
pub(crate) async fn query(
    inst: &Instance,
    db: Option<&str>,
    sql: &str,
) -> Result<Vec<Row>, SandboxError> {
    let sql_err = |source| SandboxError::Sql {
        instance: inst.name.clone(),
        source,
    };
    let mut conn = Conn::new(inst.admin_opts().db_name(db))
        .await
        .map_err(sql_err)?;
    let result = async {
        let mut rows = Vec::new();
        let mut res = conn.query_iter(sql).await?;
        while !res.is_empty() {
            rows.extend(res.collect::<Row>().await?);
        }
        drop(res);
        Ok(rows)
    }
    .await
    .map_err(sql_err);
    let _ = conn.disconnect().await;
    result
}

fn cell(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn text_row(row: Row) -> TextRow {
    row.unwrap().into_iter().map(cell).collect()
}

fn named_row(row: Row) -> BTreeMap<String, Option<String>> {
    let names: Vec<String> = row
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    names.into_iter().zip(text_row(row)).collect()
}
