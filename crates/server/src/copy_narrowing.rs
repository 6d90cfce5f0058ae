//! Copies narrowed by the rows of derived tables, when the statement runs (planned in
//! `router/src/copy_narrowing.rs`): a narrowing whose derived column holds integers keeps its
//! distinct values (at most `MAX_NARROWING_VALUES`), and the copy, when the table's column
//! holds integers too, reads only the rows holding one of them (`WHERE col IN (…)`), on the
//! shards owning them when the column is the shard key. Integer equality is the one the
//! `IN` list reproduces exactly; any other keeps the whole copy.

use std::collections::BTreeSet;

use shardgate_config::ShardKeyType;
use shardgate_merge::{ColumnMeta, ValueKind};
use shardgate_ring::{KeyValue, ShardId};
use shardgate_router::{OverDerived, TableCopy};

use crate::derived_rows::DerivedTable;
use crate::materialize::CopyColumn;
use crate::runtime::Runtime;

/// The most values a narrowed copy reads by (`IN (…)`); beyond, it reads its table whole.
const MAX_NARROWING_VALUES: usize = 10_000;

/// A copy to read only the rows whose integer `column` holds one of `values`.
pub(crate) struct NarrowedCopy {
    /// An index into `OverDerived::copies`.
    pub copy: usize,
    pub column: String,
    pub values: BTreeSet<i128>,
}

/// The values each of `over`'s narrowings keeps: the distinct integers of its derived
/// column, when that column holds integers and they are at most `MAX_NARROWING_VALUES`.
pub(crate) fn narrowed_copies(over: &OverDerived, tables: &[DerivedTable]) -> Vec<NarrowedCopy> {
    let mut narrowed = Vec::new();
    for narrowing in &over.narrowings {
        let Some(table) = tables.get(narrowing.derived) else {
            continue;
        };
        let column = table
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&narrowing.derived_column));
        let Some(column) = column.filter(|&c| {
            matches!(
                table.columns.get(c).map(ColumnMeta::kind),
                Some(ValueKind::Int | ValueKind::UInt)
            )
        }) else {
            continue;
        };
        let mut values = BTreeSet::new();
        let read = table.rows.iter().try_for_each(|row| {
            let cell = shardgate_wire::text_row::text_cell(row, column).map_err(drop)?;
            if let Some(cell) = cell {
                let text = std::str::from_utf8(cell).map_err(drop)?;
                values.insert(text.parse::<i128>().map_err(drop)?);
            }
            match values.len() > MAX_NARROWING_VALUES {
                true => Err(()),
                false => Ok(()),
            }
        });
        if read.is_ok() {
            narrowed.push(NarrowedCopy {
                copy: narrowing.copy,
                column: narrowing.column.clone(),
                values,
            });
        }
    }
    narrowed
}

/// The filter and shards of `copy`'s reads: its own, and, `narrowed` by an integer column of
/// the table, only rows holding one of its values, on the shards owning them when it is the
/// shard key.
pub(crate) fn narrowed_reads(
    runtime: &Runtime,
    copy: &TableCopy,
    narrowed: Option<&NarrowedCopy>,
    columns: &[CopyColumn],
) -> (Option<String>, Vec<ShardId>) {
    let column = narrowed.and_then(|n| {
        let column = columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&n.column));
        column.filter(|c| c.integer).map(|c| (n, c))
    });
    let Some((narrowed, column)) = column else {
        return (copy.filter.clone(), copy.shards.clone());
    };
    let condition = match narrowed.values.is_empty() {
        true => "FALSE".to_owned(),
        false => {
            let values: Vec<String> = narrowed.values.iter().map(i128::to_string).collect();
            format!("{} IN ({})", column.quoted, values.join(", "))
        }
    };
    let filter = match &copy.filter {
        Some(f) => format!("({f}) AND {condition}"),
        None => condition,
    };
    let rule = runtime.topology.table(&copy.table).filter(|rule| {
        rule.key_type == ShardKeyType::Integer && rule.shard_key.eq_ignore_ascii_case(&column.name)
    });
    let shards = match rule {
        Some(rule) => {
            let owners: BTreeSet<ShardId> = (narrowed.values.iter())
                .filter_map(|v| rule.shard_for(&KeyValue::Int(*v)).ok())
                .collect();
            (copy.shards.iter())
                .filter(|s| owners.contains(s))
                .copied()
                .collect()
        }
        None => copy.shards.clone(),
    };
    (Some(filter), shards)
}
