//! Verify (Vitess's VDiff is the model): every moving row of a flow, on its source and on
//! its new owner, compared whole — every column's exact value as the binary protocol gives
//! it — page by page in primary-key order: a page of the source (keyset, `LIMIT`), then the
//! new owner's rows of the same key range; rows only on one side and rows that differ are
//! counted, and their keys reported. The rows compared are the flow's moving keys on both
//! sides (the serving topology places them on the source, the target on the new owner), so
//! the new owner's own rows are not counted. Each side is read outside any snapshot: run while
//! clients write the moving keys (before catch-up exists), their rows differ.

use std::collections::HashMap;

use mysql_async::prelude::*;
use mysql_async::{Row, Value};
use shardgate_config::Topology;
use shardgate_migration::Cursor;

use crate::migration_error::MigrationError;
use crate::migration_record::FlowRecord;
use crate::reshard_table::FlowTable;

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

/// Compares `flow`'s moving rows on its source (in `serving`) and its new owner (in `target`).
pub(crate) async fn verify_flow(
    serving: &Topology,
    target: &Topology,
    flow: &FlowRecord,
    page_rows: u64,
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
