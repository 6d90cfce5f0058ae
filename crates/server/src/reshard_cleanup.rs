//! Deleting a flow's moving rows from one side, page by page in primary-key order (keyset,
//! never `OFFSET`), by primary key: the clean-up deletes them from the source once verify
//! passed (throttled), a cancel (before the cutover, or after it once the source
//! topology serves again) from the new owner. Only rows whose keys the
//! source topology places on the flow's source and the target on its new owner are deleted.

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Row, Value};
use shardgate_config::Topology;
use shardgate_migration::Cursor;

use crate::migration_error::MigrationError;
use crate::migration_record::FlowRecord;
use crate::reshard_table::{FlowTable, Side};

/// Rows read, and deleted at most, per statement.
const PAGE_ROWS: u64 = 1000;

/// Deletes `flow`'s moving rows from `side`, at most `rows_per_second` (unbounded with
/// `None`); how many.
pub(crate) async fn delete_moving_rows(
    source: &Topology,
    target: &Topology,
    flow: &FlowRecord,
    side: Side,
    rows_per_second: Option<u64>,
) -> Result<u64, MigrationError> {
    let (topology, shard) = match side {
        Side::Source => (source, &flow.from),
        Side::NewOwner => (target, &flow.to),
    };
    let index =
        (topology.shard_index(shard)).ok_or_else(|| MigrationError::NoShard(shard.clone()))?;
    let failed = || MigrationError::on(shard);
    let mut conn =
        (crate::migration_conn::connect(&topology.backend, &topology.shards[index].primary).await)
            .map_err(failed())?;
    let Some(table) = FlowTable::read(&mut conn, shard, source, target, flow).await? else {
        return Ok(0);
    };
    let page_rows = rows_per_second.map_or(PAGE_ROWS, |r| (r / 10).clamp(10, PAGE_ROWS));
    let started = Instant::now();
    let mut cursor = Cursor::default();
    let mut removed = 0;
    loop {
        let after = cursor.values();
        let (sql, params) = table.query.page(after.as_deref(), page_rows);
        let page: Vec<Row> = conn.exec(sql, params).await.map_err(failed())?;
        let Some(last) = page.last().map(|r| table.key_of(&r.clone().unwrap())) else {
            break;
        };
        let scanned = page.len() as u64;
        let mut keys: Vec<Value> = Vec::new();
        let mut rows = 0;
        for row in page {
            let values = row.unwrap();
            if table.moves(&values)? {
                keys.extend(table.key_of(&values));
                rows += 1;
            }
        }
        if rows > 0 {
            conn.exec_drop(table.query.delete(rows), keys)
                .await
                .map_err(failed())?;
        }
        removed += rows as u64;
        cursor = Cursor::after(&last);
        if scanned < page_rows {
            break;
        }
        if let Some(rate) = rows_per_second {
            let due = started + Duration::from_secs_f64(removed as f64 / rate.max(1) as f64);
            tokio::time::sleep_until(due.into()).await;
        }
    }
    Ok(removed)
}
