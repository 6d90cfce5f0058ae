//! A cancel before cutover: the rows a copy wrote to the new owners are deleted again. No
//! client reaches them yet (the serving topology places their keys on the sources), so
//! deleting every row of a flow's moving keys on its new owner loses nothing; the new owner's
//! own rows (keys the serving topology places there) are kept.

use mysql_async::prelude::*;
use mysql_async::{Row, Value};
use shardgate_config::Topology;
use shardgate_migration::Cursor;

use crate::migration_error::MigrationError;
use crate::migration_record::FlowRecord;
use crate::reshard_table::FlowTable;

/// Rows read, and deleted at most, per statement.
const PAGE_ROWS: u64 = 1000;

/// Deletes `flow`'s moving rows from its new owner; how many.
pub(crate) async fn remove_copied(
    serving: &Topology,
    target: &Topology,
    flow: &FlowRecord,
) -> Result<u64, MigrationError> {
    let to =
        (target.shard_index(&flow.to)).ok_or_else(|| MigrationError::NoShard(flow.to.clone()))?;
    let on_target = || MigrationError::on(&flow.to);
    let mut conn = (crate::migration_conn::connect(&target.backend, &target.shards[to].primary)
        .await)
        .map_err(on_target())?;
    // The table as the new owner has it (the copy created it like the source's).
    let Some(table) = FlowTable::read(&mut conn, &flow.to, serving, target, flow).await? else {
        return Ok(0);
    };
    let mut cursor = Cursor::default();
    let mut removed = 0;
    loop {
        let after = cursor.values();
        let (sql, params) = table.query.page(after.as_deref(), PAGE_ROWS);
        let page: Vec<Row> = conn.exec(sql, params).await.map_err(on_target())?;
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
                .map_err(on_target())?;
        }
        removed += rows as u64;
        cursor = Cursor::after(&last);
        if scanned < PAGE_ROWS {
            break;
        }
    }
    Ok(removed)
}
