//! `GROUP BY` over unsorted input, under a memory bound.
//!
//! Every group's state is held until the input ends (each group counts as a row of the
//! [`MemoryLimit`]); then the groups come out sorted by the group columns ascending, the
//! order MariaDB 10.11 gives a `GROUP BY` without `ORDER BY`. Prefer [`OrderedAggregate`](crate::OrderedAggregate)
//! whenever the shards can sort by the group columns.

use std::collections::HashMap;

use bytes::Bytes;

use crate::aggregate::{Acc, Aggregate, AggregateSettings, Aggregator};
use crate::column::ColumnMeta;
use crate::error::Result;
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::pipeline::{MergeWarning, RowOperator};
use crate::value::Value;

struct Group {
    key: Vec<Value>,
    accs: Vec<Acc>,
    size: u64,
}

/// `GROUP BY` over unsorted input.
pub struct HashAggregate {
    agg: Aggregator,
    index: HashMap<Vec<u8>, usize>,
    groups: Vec<Group>,
    budget: Budget,
}

impl std::fmt::Debug for HashAggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashAggregate({} groups)", self.groups.len())
    }
}

impl HashAggregate {
    /// Groups rows with `inputs` columns by `group_by` and computes `outputs` per group,
    /// holding at most `limit`.
    pub fn new(
        group_by: &[usize],
        outputs: Vec<Aggregate>,
        inputs: &[ColumnMeta],
        limit: MemoryLimit,
    ) -> Result<HashAggregate> {
        Ok(HashAggregate {
            agg: Aggregator::new(group_by, outputs, inputs, AggregateSettings::default())?,
            index: HashMap::new(),
            groups: Vec::new(),
            budget: Budget::new("hash aggregate", limit),
        })
    }

    /// The metadata of the output columns.
    pub fn output_columns(&self) -> &[ColumnMeta] {
        self.agg.result_columns()
    }

    /// Folds one row into its group. Fails with
    /// [`MergeError::MemoryLimit`](crate::MergeError::MemoryLimit) when a new group would
    /// exceed the bound.
    pub fn push_row(&mut self, row: Bytes) -> Result<()> {
        let (row, key) = self.agg.group.extract(row)?;
        let mut kb = Vec::new();
        self.agg.group.key_bytes(&key, &mut kb);
        let gi = match self.index.get(&kb) {
            Some(&gi) => gi,
            None => {
                let accs = self.agg.start();
                let size = 2 * kb.len() as u64 + ENTRY_OVERHEAD;
                self.budget.charge(1, size)?;
                self.index.insert(kb, self.groups.len());
                self.groups.push(Group { key, accs, size: 0 });
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[gi];
        self.agg.update(&mut g.accs, &row)?;
        // First and extreme cells may have grown the group: charge the difference.
        let size: u64 = g.accs.iter().map(Acc::size).sum();
        if size > g.size {
            let grow = size - g.size;
            g.size = size;
            self.budget.charge(0, grow)?;
        }
        Ok(())
    }

    /// Ends the input: the groups' rows, sorted by the group columns.
    pub fn finish_rows(&mut self) -> Result<Vec<Bytes>> {
        let mut groups = std::mem::take(&mut self.groups);
        self.index.clear();
        let order = &self.agg.group;
        if order.is_empty() && groups.is_empty() {
            // A scalar aggregate answers one row even without input.
            return Ok(vec![self.agg.finish(&self.agg.start())?]);
        }
        groups.sort_by(|a, b| order.compare(&a.key, &b.key));
        groups.iter().map(|g| self.agg.finish(&g.accs)).collect()
    }
}

impl RowOperator for HashAggregate {
    fn push(&mut self, row: Bytes, _out: &mut Vec<Bytes>) -> Result<()> {
        self.push_row(row)
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.finish_rows()?);
        Ok(())
    }

    fn warnings(&self) -> (Vec<MergeWarning>, u64) {
        self.agg.warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::count_meta;
    use crate::error::{LimitUnit, MergeError};
    use crate::row::encode_text_row;
    use mysql_common::constants::ColumnType;
    use shardgate_wire::text_row::text_cell;

    fn inputs() -> Vec<ColumnMeta> {
        vec![ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG), count_meta()]
    }

    fn row(g: Option<i64>, n: i64) -> Bytes {
        Bytes::from(encode_text_row(&[
            g.map_or(Value::Null, Value::Int),
            Value::Int(n),
        ]))
    }

    fn cells(rows: &[Bytes]) -> Vec<(String, String)> {
        let s = |r: &Bytes, i| {
            text_cell(r, i)
                .unwrap()
                .map_or("NULL".into(), |t| String::from_utf8(t.to_vec()).unwrap())
        };
        rows.iter().map(|r| (s(r, 0), s(r, 1))).collect()
    }

    #[test]
    fn groups_unsorted_input_and_sorts_the_groups() {
        let outs = vec![Aggregate::First(0), Aggregate::Count(1)];
        let mut agg = HashAggregate::new(&[0], outs, &inputs(), MemoryLimit::rows(10)).unwrap();
        for (g, n) in [
            (Some(3), 1),
            (None, 2),
            (Some(1), 5),
            (Some(3), 4),
            (None, 1),
        ] {
            agg.push_row(row(g, n)).unwrap();
        }
        let out = agg.finish_rows().unwrap();
        let want =
            [("NULL", "3"), ("1", "5"), ("3", "5")].map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(cells(&out), want);
    }

    #[test]
    fn memory_bound_trips_with_a_typed_error() {
        let mut agg = HashAggregate::new(
            &[0],
            vec![Aggregate::Count(1)],
            &inputs(),
            MemoryLimit::rows(2),
        )
        .unwrap();
        agg.push_row(row(Some(1), 1)).unwrap();
        agg.push_row(row(Some(2), 1)).unwrap();
        agg.push_row(row(Some(1), 1)).unwrap();
        let err = agg.push_row(row(Some(3), 1)).unwrap_err();
        assert_eq!(
            err,
            MergeError::MemoryLimit {
                operator: "hash aggregate",
                limit: 2,
                unit: LimitUnit::Rows
            }
        );

        let mut agg = HashAggregate::new(
            &[0],
            vec![Aggregate::Count(1)],
            &inputs(),
            MemoryLimit::bytes(1000),
        )
        .unwrap();
        let err = (0..1000)
            .try_for_each(|g| agg.push_row(row(Some(g), 1)))
            .unwrap_err();
        assert!(matches!(
            err,
            MergeError::MemoryLimit {
                unit: LimitUnit::Bytes,
                limit: 1000,
                ..
            }
        ));
    }

    #[test]
    fn scalar_without_input_is_one_row() {
        let mut agg = HashAggregate::new(
            &[],
            vec![Aggregate::Count(1)],
            &inputs(),
            MemoryLimit::UNLIMITED,
        )
        .unwrap();
        let out = agg.finish_rows().unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(text_cell(&out[0], 0).unwrap(), Some(&b"0"[..]));
    }
}
