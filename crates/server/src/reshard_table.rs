//! One table of a flow as a copy, a verify and a cancel see it: its columns and primary key
//! (read from the source), the keyset statements over it, and which of its rows move — the
//! rows whose shard key the serving topology places on the flow's source and the target
//! topology on its destination. For a hash strategy that is computed here (the ring's xxh3
//! cannot be written in SQL), so every row of the source is read and the moving ones kept;
//! a `range` table's moving key ranges are also pushed to the server as a condition.

use mysql_async::prelude::*;
use mysql_async::{Conn, Value};
use shardgate_config::{TableRule, Topology};
use shardgate_migration::{key_range_filter, KeysetQuery};
use shardgate_ring::{KeyValue, Sharder};

use crate::migration_error::MigrationError;
use crate::migration_record::FlowRecord;

/// A table of one flow, ready to be read page by page.
#[derive(Debug, Clone)]
pub(crate) struct FlowTable {
    pub query: KeysetQuery,
    /// Where the shard key is among the columns.
    shard_key: usize,
    from: String,
    to: String,
    serving: TableRule,
    serving_names: Vec<String>,
    target: TableRule,
    target_names: Vec<String>,
}

impl FlowTable {
    /// Reads `flow`'s table's shape on `conn`, a connection to shard `shard` (the flow's
    /// source, or its new owner for a cancel); `None` when that shard has no such table (it
    /// holds none of its rows).
    pub async fn read(
        conn: &mut Conn,
        shard: &str,
        serving: &Topology,
        target: &Topology,
        flow: &FlowRecord,
    ) -> Result<Option<FlowTable>, MigrationError> {
        let (Some(serving_rule), Some(target_rule)) =
            (serving.table(&flow.table), target.table(&flow.table))
        else {
            return Err(MigrationError::NotAResharding(format!(
                "`{}` is not sharded in both the serving and the target topology",
                flow.table
            )));
        };
        let database = &serving.backend.database;
        let columns: Vec<String> = conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (database, &flow.table),
            )
            .await
            .map_err(MigrationError::on(shard))?;
        if columns.is_empty() {
            return Ok(None);
        }
        let key: Vec<String> = conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
                (database, &flow.table),
            )
            .await
            .map_err(MigrationError::on(shard))?;
        if key.is_empty() {
            return Err(MigrationError::NoPrimaryKey(flow.table.clone()));
        }
        let shard_key = (columns.iter())
            .position(|c| c.eq_ignore_ascii_case(&serving_rule.shard_key))
            .ok_or_else(|| MigrationError::Unplaceable {
                table: flow.table.clone(),
                message: format!("no column {}", serving_rule.shard_key),
            })?;
        let filter = match serving_rule.sharder.as_ref() {
            Sharder::Range(_) => Some(key_range_filter(&columns[shard_key], &flow.ranges)),
            _ => None,
        };
        let names = |t: &Topology| t.shards.iter().map(|s| s.name.clone()).collect();
        Ok(Some(FlowTable {
            query: KeysetQuery {
                table: crate::own_tables::qualified(serving, &flow.table),
                columns,
                key,
                filter,
            },
            shard_key,
            from: flow.from.clone(),
            to: flow.to.clone(),
            serving: serving_rule.clone(),
            serving_names: names(serving),
            target: target_rule.clone(),
            target_names: names(target),
        }))
    }

    /// Whether the row `values` (every column) moves from the flow's source to its
    /// destination.
    pub fn moves(&self, values: &[Value]) -> Result<bool, MigrationError> {
        let unplaceable = |message: String| MigrationError::Unplaceable {
            table: self.serving.name.clone(),
            message,
        };
        let key = match &values[self.shard_key] {
            Value::Int(i) => KeyValue::Int(i128::from(*i)),
            Value::UInt(u) => KeyValue::Int(i128::from(*u)),
            Value::Bytes(b) => KeyValue::Str(b),
            // No statement of a client reaches such a row by its key: it moves nowhere.
            Value::NULL => return Ok(false),
            other => return Err(unplaceable(format!("{other:?}"))),
        };
        let owner = |rule: &TableRule, names: &[String]| {
            (rule.shard_for(&key))
                .map(|i| names.get(i).cloned().unwrap_or_default())
                .map_err(|e| unplaceable(e.to_string()))
        };
        Ok(owner(&self.serving, &self.serving_names)? == self.from
            && owner(&self.target, &self.target_names)? == self.to)
    }

    /// The primary key of the row `values`.
    pub fn key_of(&self, values: &[Value]) -> Vec<Value> {
        (self.query.key_positions().into_iter())
            .map(|i| values[i].clone())
            .collect()
    }
}

/// Creates `table` on `target` as the source defines it, if it is not there.
pub(crate) async fn ensure_on_target(
    source: &mut Conn,
    target: &mut Conn,
    flow: &FlowRecord,
    qualified_table: &str,
) -> Result<(), MigrationError> {
    let row: Option<(String, String)> = (source
        .query_first(format!("SHOW CREATE TABLE {qualified_table}"))
        .await)
        .map_err(MigrationError::on(&flow.from))?;
    let Some((_, create)) = row else {
        return Ok(());
    };
    let create = match create.strip_prefix("CREATE TABLE ") {
        Some(rest) => format!("CREATE TABLE IF NOT EXISTS {rest}"),
        None => return Ok(()),
    };
    target
        .query_drop(create)
        .await
        .map_err(MigrationError::on(&flow.to))
}

/// One side of a flow: where its moving keys were, or where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Source,
    NewOwner,
}
