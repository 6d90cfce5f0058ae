//! The copy phase of a migration, one flow at a time: a consistent snapshot of the source
//! and the GTID position that goes with it (`consistent_snapshot.rs`), read in
//! primary-key order by keyset pages, the moving rows written to the new owner's primary in
//! batches by an idempotent upsert, the cursor saved after each page.
//!
//! Throttled to `rows_per_second` rows written, and waiting while a replica of the source
//! lags beyond `[replication] max_lag` (the health checker's figure).
//!
//! A resumed copy (after a pause it does not: the snapshot stays open; after a proxy restart
//! or a failure it does) opens a new snapshot and goes on after its cursor. Rows before the
//! cursor were read in an earlier snapshot: their later changes, and rows deleted between the
//! snapshots, are catch-up's to apply, from the first snapshot's GTID position, which is the
//! one kept (replaying the binlog from an earlier position over rows read later converges to
//! the same rows, as each event carries whole rows).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};
use shardgate_backend::Role;
use shardgate_config::Topology;
use shardgate_migration::Cursor;
use tokio::sync::watch;

use crate::migration_error::MigrationError;
use crate::migration_live::{Control, Live};
use crate::migration_record::{FlowRecord, Records};
use crate::reshard_table::{ensure_on_target, FlowTable};
use crate::Proxy;

/// What copies a migration's flows.
pub(crate) struct Copier<'a> {
    pub proxy: &'a Arc<Proxy>,
    pub target: &'a Topology,
    pub records: &'a Records,
    pub record_conn: Conn,
    pub id: u64,
    pub rows_per_second: u64,
    pub control: watch::Receiver<Control>,
    pub live: Arc<Live>,
    /// The throttle's clock: rows written since `run_started`.
    run_started: Instant,
    run_rows: u64,
}

impl<'a> Copier<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        proxy: &'a Arc<Proxy>,
        target: &'a Topology,
        records: &'a Records,
        record_conn: Conn,
        id: u64,
        rows_per_second: u64,
        control: watch::Receiver<Control>,
        live: Arc<Live>,
    ) -> Self {
        Copier {
            proxy,
            target,
            records,
            record_conn,
            id,
            rows_per_second: rows_per_second.max(1),
            control,
            live,
            run_started: Instant::now(),
            run_rows: 0,
        }
    }

    /// Copies `flow` from its cursor to the end of its table (as of its snapshot).
    pub async fn copy(&mut self, flow: &mut FlowRecord) -> Result<(), MigrationError> {
        let serving = self.proxy.runtime().topology.clone();
        let from = (serving.shard_index(&flow.from))
            .ok_or_else(|| MigrationError::NoShard(flow.from.clone()))?;
        let to = (self.target.shard_index(&flow.to))
            .ok_or_else(|| MigrationError::NoShard(flow.to.clone()))?;
        let connect = |topology: &Topology, shard: usize| {
            let endpoint = topology.shards[shard].primary.clone();
            let backend = topology.backend.clone();
            async move { crate::migration_conn::connect(&backend, &endpoint).await }
        };
        let mut source = connect(&serving, from)
            .await
            .map_err(MigrationError::on(&flow.from))?;
        let mut target = connect(self.target, to)
            .await
            .map_err(MigrationError::on(&flow.to))?;
        let Some(table) =
            FlowTable::read(&mut source, &flow.from, &serving, self.target, flow).await?
        else {
            flow.copied = true;
            return self
                .records
                .save_flow(&mut self.record_conn, self.id, flow)
                .await;
        };
        ensure_on_target(&mut source, &mut target, flow, &table.query.table).await?;
        let on_source = MigrationError::on(&flow.from);
        let gtid = (crate::consistent_snapshot::open(&mut source).await).map_err(on_source)?;
        if flow.snapshot_gtid.is_none() {
            flow.snapshot_gtid = gtid;
        }
        self.live.started(flow);
        tracing::info!(migration = self.id, table = %flow.table, from = %flow.from, to = %flow.to, snapshot_gtid = ?flow.snapshot_gtid, "copy of a flow starts");
        let page_rows = (self.rows_per_second / 10).clamp(10, 1000);
        loop {
            self.steer(from).await?;
            let after = flow.cursor.values();
            let (sql, params) = table.query.page(after.as_deref(), page_rows);
            let rows: Vec<Row> =
                (source.exec(sql, params).await).map_err(MigrationError::on(&flow.from))?;
            let scanned = rows.len() as u64;
            let Some(last) = rows.last().map(|r| table.key_of(&r.clone().unwrap())) else {
                break;
            };
            let mut moving = Vec::new();
            for row in rows {
                let values = row.unwrap();
                if table.moves(&values)? {
                    moving.push(values);
                }
            }
            for batch in moving.chunks(table.query.max_rows_per_write()) {
                let params: Vec<Value> = batch.iter().flatten().cloned().collect();
                (target
                    .exec_drop(table.query.upsert(batch.len()), params)
                    .await)
                    .map_err(MigrationError::on(&flow.to))?;
            }
            let copied = moving.len() as u64;
            flow.cursor = Cursor::after(&last);
            flow.rows_copied += copied;
            flow.rows_scanned += scanned;
            self.records
                .save_flow(&mut self.record_conn, self.id, flow)
                .await?;
            self.live.copied(flow, copied);
            crate::migration_metrics::rows_copied(copied);
            crate::migration_metrics::copy_rate(self.live.progress(flow).rate().unwrap_or(0.0));
            self.throttle(copied).await;
            if scanned < page_rows {
                break;
            }
        }
        let _ = source.query_drop("COMMIT").await;
        flow.copied = true;
        self.records
            .save_flow(&mut self.record_conn, self.id, flow)
            .await?;
        tracing::info!(migration = self.id, table = %flow.table, from = %flow.from, to = %flow.to, rows = flow.rows_copied, "flow copied");
        Ok(())
    }

    /// Sleeps until the rows written in this run are within `rows_per_second`; a control
    /// change wakes it.
    async fn throttle(&mut self, rows: u64) {
        self.run_rows += rows;
        let due = self.run_started
            + Duration::from_secs_f64(self.run_rows as f64 / self.rows_per_second as f64);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = self.control.changed() => {}
        }
    }

    /// Between pages: stops on a cancel, waits while paused or while the source's replicas
    /// lag (the throttle's clock starts afresh after a wait, so it does not burst).
    async fn steer(&mut self, source: usize) -> Result<(), MigrationError> {
        let mut waited = false;
        loop {
            let control = *self.control.borrow_and_update();
            match control {
                Control::Cancel => return Err(MigrationError::Cancelled),
                Control::Pause => {
                    waited = true;
                    if self.control.changed().await.is_err() {
                        return Err(MigrationError::Cancelled);
                    }
                    continue;
                }
                Control::Run => {}
            }
            let runtime = self.proxy.runtime();
            let bound = runtime.topology.replication.max_lag;
            let shard = &runtime.topology.shards[source].name;
            let lag = (runtime.services())
                .filter(|s| s.target().role == Role::Replica && s.target().shard == *shard)
                .filter_map(|s| s.health.snapshot().lag)
                .max()
                .unwrap_or_default();
            let lagging = lag > bound;
            self.live.set_lag(lag, lagging);
            if !lagging {
                break;
            }
            waited = true;
            let interval = runtime.topology.replication.health_check_interval;
            drop(runtime);
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.control.changed() => {}
            }
        }
        if waited {
            self.run_started = Instant::now();
            self.run_rows = 0;
        }
        Ok(())
    }
}
