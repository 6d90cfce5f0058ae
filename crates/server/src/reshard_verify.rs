//! Verify (Vitess's VDiff is the model): every moving row of a flow, on its source and on
//! its new owner, compared whole — every column's exact value as the binary protocol gives
//! it — page by page in primary-key order: a page of the source (keyset, `LIMIT`), then the
//! new owner's rows of the same key range; rows only on one side and rows that differ are
//! counted, and their keys reported. The rows compared are the flow's moving keys on both
//! sides (the serving topology places them on the source, the target on the new owner), so
//! the new owner's own rows are not counted.
//!
//! While clients write the moving keys, the two sides are compared at one position: the side
//! clients write (the source before the cutover, the new owner after it) is read in a
//! consistent snapshot, and the catch-up that copies its changes to the other side is held at
//! the snapshot's GTID position — everything up to it applied, nothing after — until the
//! compare ends. The catch-up is held before the snapshot is opened (it could otherwise apply
//! past the snapshot meanwhile), then let go up to the snapshot's position. Without a running catch-up (during the copy, or paused) each side is read as
//! it is, and rows written meanwhile differ.

use std::collections::HashMap;

use mysql_async::prelude::*;
use mysql_async::{Row, Value};
use shardgate_config::Topology;
use shardgate_migration::Cursor;

use crate::catch_up::CatchUpHandle;
use crate::migration_error::MigrationError;
use crate::migration_record::FlowRecord;
use crate::reshard_table::{FlowTable, Side};

/// How many keys a verify names per flow.
const KEYS_SHOWN: usize = 10;

/// What a verify found for one flow.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowDiff {
    pub table: String,
    pub from: String,
    pub to: String,
    pub source_rows: u64,
    pub target_rows: u64,
    /// On the source only.
    pub missing: u64,
    /// On the new owner only.
    pub extra: u64,
    /// On both, with other values.
    pub different: u64,
    /// The first mismatching keys, e.g. `missing (7)`.
    pub keys: Vec<String>,
}

impl FlowDiff {
    pub fn mismatches(&self) -> u64 {
        self.missing + self.extra + self.different
    }

    fn note(&mut self, what: &str, key: &[Value]) {
        if self.keys.len() < KEYS_SHOWN {
            let values: Vec<String> = key.iter().map(|v| v.as_sql(false)).collect();
            self.keys.push(format!("{what} ({})", values.join(", ")));
        }
    }
}

/// The side of a flow clients write, and the catch-up that brings its changes to the other.
pub(crate) struct AtOnePosition {
    pub written: Side,
    pub catch_up: CatchUpHandle,
}

/// Compares `flow`'s moving rows on its source (in `serving`) and its new owner (in `target`),
/// at one position when `at` names the side written and its catch-up.
pub(crate) async fn verify_flow(
    serving: &Topology,
    target: &Topology,
    flow: &FlowRecord,
    page_rows: u64,
    at: Option<&AtOnePosition>,
) -> Result<FlowDiff, MigrationError> {
    let mut diff = FlowDiff {
        table: flow.table.clone(),
        from: flow.from.clone(),
        to: flow.to.clone(),
        ..FlowDiff::default()
    };
    let from = (serving.shard_index(&flow.from))
        .ok_or_else(|| MigrationError::NoShard(flow.from.clone()))?;
    let to =
        (target.shard_index(&flow.to)).ok_or_else(|| MigrationError::NoShard(flow.to.clone()))?;
    let mut source =
        (crate::migration_conn::connect(&serving.backend, &serving.shards[from].primary).await)
            .map_err(MigrationError::on(&flow.from))?;
    let mut new_owner =
        (crate::migration_conn::connect(&target.backend, &target.shards[to].primary).await)
            .map_err(MigrationError::on(&flow.to))?;
    let Some(table) = FlowTable::read(&mut source, &flow.from, serving, target, flow).await? else {
        return Ok(diff);
    };
    let _held = match at {
        Some(at) => {
            // Held before the snapshot: what the catch-up applied is then in the snapshot.
            let mut held = at.catch_up.hold().await;
            let (written, name) = match at.written {
                Side::Source => (&mut source, &flow.from),
                Side::NewOwner => (&mut new_owner, &flow.to),
            };
            let position = (crate::consistent_snapshot::open(written).await)
                .map_err(MigrationError::on(name))?;
            // No binary log, so no catch-up either: nothing to hold.
            let position =
                position.ok_or_else(|| MigrationError::NoSnapshotPosition(name.clone()))?;
            let position = position.parse().map_err(|e| {
                MigrationError::Record(mysql_async::Error::Other(
                    format!("{name}: GTID position {position:?}: {e}").into(),
                ))
            })?;
            held.up_to(position).await?;
            Some(held)
        }
        None => None,
    };
    let mut after: Option<Vec<Value>> = None;
    loop {
        let (sql, params) = table.query.page(after.as_deref(), page_rows);
        let page: Vec<Row> =
            (source.exec(sql, params).await).map_err(MigrationError::on(&flow.from))?;
        let full = page.len() as u64 == page_rows;
        let upto = match (full, page.last()) {
            (true, Some(last)) => Some(table.key_of(&last.clone().unwrap())),
            _ => None,
        };
        let (sql, params) = table.query.between(after.as_deref(), upto.as_deref());
        let theirs: Vec<Row> = match new_owner.exec(sql, params).await {
            Ok(rows) => rows,
            // No table on the new owner: every moving row is missing there.
            Err(mysql_async::Error::Server(e)) if e.code == 1146 => Vec::new(),
            Err(e) => return Err(MigrationError::on(&flow.to)(e)),
        };
        let mut ours: HashMap<String, Vec<Value>> = HashMap::new();
        for row in page {
            let values = row.unwrap();
            if table.moves(&values)? {
                diff.source_rows += 1;
                ours.insert(Cursor::after(&table.key_of(&values)).to_json(), values);
            }
        }
        for row in theirs {
            let values = row.unwrap();
            if !table.moves(&values)? {
                continue;
            }
            diff.target_rows += 1;
            let key = table.key_of(&values);
            match ours.remove(&Cursor::after(&key).to_json()) {
                Some(source_values) if source_values == values => {}
                Some(_) => {
                    diff.different += 1;
                    diff.note("different", &key);
                }
                None => {
                    diff.extra += 1;
                    diff.note("extra", &key);
                }
            }
        }
        let mut missing: Vec<Vec<Value>> = ours.into_values().map(|v| table.key_of(&v)).collect();
        missing.sort_by_key(|k| format!("{k:?}"));
        for key in missing {
            diff.missing += 1;
            diff.note("missing", &key);
        }
        match upto {
            Some(upto) => after = Some(upto),
            None => break,
        }
    }
    Ok(diff)
}
