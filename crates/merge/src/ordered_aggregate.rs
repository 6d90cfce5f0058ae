//! Streaming `GROUP BY` over rows sorted by the group columns (the planner adds
//! `ORDER BY` on the group columns to every shard, and the merge sort keeps that order).
//!
//! It holds one group at a time and emits a group's row as soon as a row of the next group
//! arrives. Group columns compare under their collation, so `'a'` and `'A'` are one group of
//! a `general_ci` column, shown as its first row's value, as MariaDB does. Without group
//! columns it is a scalar aggregate: exactly one row, even for no input (COUNT 0, SUM NULL).

use bytes::Bytes;

use crate::aggregate::{Acc, Aggregate, AggregateSettings, Aggregator};
use crate::column::ColumnMeta;
use crate::error::Result;
use crate::pipeline::{MergeWarning, RowOperator};
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
    pub fn new(
        group_by: &[usize],
        outputs: Vec<Aggregate>,
        inputs: &[ColumnMeta],
    ) -> Result<OrderedAggregate> {
        Self::with_settings(group_by, outputs, inputs, AggregateSettings::default())
    }

    /// [`OrderedAggregate::new`] with the memory bound of a group's DISTINCT and GROUP_CONCAT
    /// states and the session's `group_concat_max_len` in `settings`.
    pub fn with_settings(
        group_by: &[usize],
        outputs: Vec<Aggregate>,
        inputs: &[ColumnMeta],
        settings: AggregateSettings,
    ) -> Result<OrderedAggregate> {
        Ok(OrderedAggregate {
            agg: Aggregator::new(group_by, outputs, inputs, settings)?,
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

    fn warnings(&self) -> (Vec<MergeWarning>, u64) {
        self.agg.warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{avg_meta_from_sum, count_meta};
    use crate::column::ColumnMeta;
    use crate::decimal::Decimal;
    use crate::row::{decode_text_row, encode_text_row};
    use mysql_common::constants::ColumnType;

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::parse(s.as_bytes()).unwrap())
    }

    /// Shard rows of `SELECT g, COUNT(*), SUM(x), MIN(x), MAX(x), COUNT(x) … GROUP BY g ORDER BY g`
    /// over `g VARCHAR general_ci, x DECIMAL(10,2)`.
    fn inputs() -> Vec<ColumnMeta> {
        let sum = ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_decimals(2)
            .with_length(34);
        vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
            count_meta(),
            sum,
            sum.with_length(12),
            sum.with_length(12),
            count_meta(),
        ]
    }

    fn row(vals: &[Value]) -> Bytes {
        Bytes::from(encode_text_row(vals))
    }

    fn outputs() -> Vec<Aggregate> {
        vec![
            Aggregate::First(0),
            Aggregate::Count(1),
            Aggregate::Sum(2),
            Aggregate::Min(3),
            Aggregate::Max(4),
            Aggregate::Avg { sum: 2, count: 5 },
        ]
    }

    fn text(rows: &[Bytes], cols: &[ColumnMeta]) -> Vec<Vec<String>> {
        let strs: Vec<ColumnMeta> = cols
            .iter()
            .map(|_| ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect();
        rows.iter()
            .map(|r| {
                decode_text_row(r, &strs)
                    .unwrap()
                    .iter()
                    .map(|v| {
                        v.to_text()
                            .map_or("NULL".into(), |t| String::from_utf8(t).unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn merges_partials_group_by_group() {
        let ins = inputs();
        let mut agg = OrderedAggregate::new(&[0], outputs(), &ins).unwrap();
        let s = |x: &str| Value::bytes(x.to_owned());
        let merged_input = [
            row(&[
                Value::Null,
                Value::Int(1),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Int(0),
            ]),
            row(&[
                s("a"),
                Value::Int(2),
                dec("1.50"),
                dec("0.50"),
                dec("1.00"),
                Value::Int(2),
            ]),
            row(&[
                s("A"),
                Value::Int(1),
                dec("-3.00"),
                dec("-3.00"),
                dec("-3.00"),
                Value::Int(1),
            ]),
            row(&[
                s("b"),
                Value::Int(3),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Int(0),
            ]),
        ];
        let mut out = Vec::new();
        for r in merged_input {
            agg.push(r, &mut out).unwrap();
        }
        assert_eq!(out.len(), 2, "a group is emitted when the next one starts");
        agg.finish(&mut out).unwrap();
        let cols = agg.output_columns().to_vec();
        assert_eq!(cols[5], avg_meta_from_sum(&ins[2]).unwrap());
        assert_eq!(
            text(&out, &cols),
            vec![
                vec!["NULL", "1", "NULL", "NULL", "NULL", "NULL"],
                vec!["a", "3", "-1.50", "-3.00", "1.00", "-0.500000"],
                vec!["b", "3", "NULL", "NULL", "NULL", "NULL"],
            ]
        );
    }

    #[test]
    fn scalar_aggregate_answers_one_row_even_without_input() {
        let ins = inputs();
        let outs = vec![
            Aggregate::Count(1),
            Aggregate::Sum(2),
            Aggregate::Avg { sum: 2, count: 5 },
        ];
        let mut agg = OrderedAggregate::new(&[], outs.clone(), &ins).unwrap();
        let mut out = Vec::new();
        agg.finish(&mut out).unwrap();
        assert_eq!(text(&out, &ins[..3]), vec![vec!["0", "NULL", "NULL"]]);

        let mut agg = OrderedAggregate::new(&[], outs, &ins).unwrap();
        let mut out = Vec::new();
        for (c, sum, n) in [(2, "0.05", 2), (0, "NULL", 0), (1, "0.00", 1)] {
            let sum = if sum == "NULL" { Value::Null } else { dec(sum) };
            let r = row(&[
                Value::Null,
                Value::Int(c),
                sum,
                Value::Null,
                Value::Null,
                Value::Int(n),
            ]);
            agg.push(r, &mut out).unwrap();
        }
        agg.finish(&mut out).unwrap();
        // AVG = 0.05 / 3 = 0.016666… at scale 2 + 4.
        assert_eq!(text(&out, &ins[..3]), vec![vec!["3", "0.05", "0.016667"]]);
    }

    #[test]
    fn rejects_bad_specs() {
        let ins = inputs();
        assert!(OrderedAggregate::new(&[9], outputs(), &ins).is_err());
        assert!(OrderedAggregate::new(&[0], vec![Aggregate::Sum(9)], &ins).is_err());
        assert!(
            OrderedAggregate::new(&[0], vec![Aggregate::Avg { sum: 2, count: 0 }], &ins).is_err()
        );
    }
}
