//! Streaming `GROUP BY` over rows sorted by the group columns (the planner adds
//! `ORDER BY` on the group columns to every shard, and the merge sort keeps that order).
//!
//! It holds one group at a time and emits a group's row as soon as a row of the next group
//! arrives. Group columns compare under their collation, so `'a'` and `'A'` are one group of
//! a `general_ci` column, shown as its first row's value, as MariaDB does. Without group
//! columns it is a scalar aggregate: exactly one row, even for no input (COUNT 0, SUM NULL).

use bytes::Bytes;

use crate::aggregate::{Acc, Aggregate, Aggregator};
use crate::column::ColumnMeta;
use crate::error::Result;
use crate::pipeline::RowOperator;
use crate::value::Value;

/// `GROUP BY` over input sorted by the group columns.
#[derive(Debug)]
pub struct OrderedAggregate {
    agg: Aggregator,
    current: Option<(Vec<Value>, Vec<Acc>)>,
    emitted_any: bool,
}

impl OrderedAggregate {
    /// Groups rows with `inputs` columns by `group_by` (empty: one scalar group) and computes
    /// `outputs` per group.
    pub fn new(group_by: &[usize], outputs: Vec<Aggregate>, inputs: &[ColumnMeta]) -> Result<OrderedAggregate> {
        Ok(OrderedAggregate {
            agg: Aggregator::new(group_by, outputs, inputs)?,
            current: None,
            emitted_any: false,
        })
    }

    /// The metadata of the output columns.
    pub fn output_columns(&self) -> &[ColumnMeta] {
        self.agg.result_columns()
    }

    /// Feeds the next row; returns the previous group's row when this one starts a new group.
    pub fn push_row(&mut self, row: Bytes) -> Result<Option<Bytes>> {
        let (row, key) = self.agg.group.extract(row)?;
        let mut done = None;
        let same = match &self.current {
            Some((k, _)) => self.agg.group.compare(k, &key).is_eq(),
            None => false,
        };
        if !same {
            if let Some((_, accs)) = self.current.take() {
                done = Some(self.agg.finish(&accs)?);
                self.emitted_any = true;
            }
            self.current = Some((key, self.agg.start()));
        }
        if let Some((_, accs)) = &mut self.current {
            self.agg.update(accs, &row)?;
        }
        Ok(done)
    }

    /// Ends the input; returns the last group's row (for a scalar aggregate without input, the
    /// row of an empty group).
    pub fn finish_rows(&mut self) -> Result<Option<Bytes>> {
        match self.current.take() {
            Some((_, accs)) => {
                self.emitted_any = true;
                Ok(Some(self.agg.finish(&accs)?))
            }
            None if self.agg.group.is_empty() && !self.emitted_any => {
                self.emitted_any = true;
                Ok(Some(self.agg.finish(&self.agg.start())?))
            }
            None => Ok(None),
        }
    }
}

impl RowOperator for OrderedAggregate {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.push_row(row)?);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.finish_rows()?);
        Ok(())
    }
}
