//! Streaming `GROUP BY` over rows sorted by the group columns (the planner adds
//! `ORDER BY` on the group columns to every shard, and the merge sort keeps that order).
//!
//! It holds one group at a time and emits a group's row as soon as a row of the next group
//! arrives. Group columns compare under their collation, so `'a'` and `'A'` are one group of
//! a `general_ci` column, shown as its first row's value, as MariaDB does. MariaDB sorts long
//! strings by the first 1,024 bytes of their sort keys but groups them whole, so rows of
//! groups equal in that prefix may come interleaved: such a *run* of groups is held together
//! (under the memory bound) until a row beyond it arrives. Under `WITH ROLLUP` groups follow
//! the sort. Without group
//! columns it is a scalar aggregate: exactly one row, even for no input (COUNT 0, SUM NULL).
//!
//! `WITH ROLLUP` adds MariaDB's super-aggregate rows: when a group ends the last group of a
//! prefix of the group columns, a row over that prefix's groups follows, its group columns
//! beyond the prefix NULL, longest prefix first, the grand total last. Each prefix keeps its
//! own accumulators, fed the same rows as the group (the shards' partials combine at any
//! level), so a rollup row costs what a group does.

use bytes::Bytes;

use crate::aggregate::{Acc, Aggregate, AggregateSettings, Aggregator};
use crate::column::ColumnMeta;
use crate::error::Result;
use crate::memory::{Budget, ENTRY_OVERHEAD};
use crate::pipeline::{MergeWarning, RowOperator};
use crate::value::Value;

/// `GROUP BY` over input sorted by the group columns.
#[derive(Debug)]
pub struct OrderedAggregate {
    agg: Aggregator,
    /// The groups the sort cannot tell apart yet (one, but for long strings), in order of
    /// their first rows.
    run: Vec<(Vec<Value>, Vec<Acc>)>,
    /// The group of `run` the last row went to.
    at: usize,
    /// What the groups of a run beyond its first hold, and the bytes charged for them.
    run_budget: Budget,
    run_bytes: u64,
    emitted_any: bool,
    rollup: Option<Rollup>,
}

/// `WITH ROLLUP`'s state: the accumulators of each prefix of the group columns.
#[derive(Debug)]
struct Rollup {
    /// Per prefix length `0 .. group columns`: the groups folded since the prefix changed.
    levels: Vec<Vec<Acc>>,
    /// Per output: the last position among the group columns of the column it shows, when
    /// it shows a group column (NULL in the rows of shorter prefixes).
    group_position: Vec<Option<usize>>,
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
            run_budget: Budget::new("ordered aggregate", settings.memory),
            agg: Aggregator::new(group_by, outputs, inputs, settings)?,
            run: Vec::new(),
            at: 0,
            run_bytes: 0,
            emitted_any: false,
            rollup: None,
        })
    }

    /// Adds `WITH ROLLUP`'s super-aggregate rows over the group columns `group_by` (the
    /// constructor's, in the statement's order). An output showing a group column (`First`)
    /// is NULL in the rows of prefixes that leave it out.
    pub fn with_rollup(mut self, group_by: &[usize]) -> OrderedAggregate {
        let group_position = (self.agg.outputs().iter())
            .map(|o| match o {
                Aggregate::First(c) => group_by.iter().rposition(|g| g == c),
                _ => None,
            })
            .collect();
        self.rollup = Some(Rollup {
            levels: (0..group_by.len()).map(|_| self.agg.start()).collect(),
            group_position,
        });
        self
    }

    /// The metadata of the output columns.
    pub fn output_columns(&self) -> &[ColumnMeta] {
        self.agg.result_columns()
    }

    /// Feeds the next row; returns the rows it ends: the previous group's (and with ROLLUP
    /// the super-aggregate rows of the prefixes it ends).
    fn push_row(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let (row, key) = self.agg.group.extract(row)?;
        if self.rollup.is_some() {
            let changed = match self.run.first() {
                Some((k, _)) => self.agg.group.first_difference(k, &key),
                None => Some(0),
            };
            if let Some(at) = changed {
                if let Some((_, accs)) = self.run.pop() {
                    out.push(self.agg.finish(&accs)?);
                    self.emitted_any = true;
                    self.end_prefixes(at + 1, &accs, out)?;
                }
                self.run.push((key, self.agg.start()));
            }
            self.at = 0;
        } else {
            self.at = self.group_of(key, out)?;
        }
        if let Some((_, accs)) = self.run.get_mut(self.at) {
            self.agg.update(accs, &row)?;
        }
        if let Some(rollup) = &mut self.rollup {
            for level in &mut rollup.levels {
                self.agg.update(level, &row)?;
            }
        }
        Ok(())
    }

    /// The position in the run of the group of a row with `key` (started when new), after
    /// ending the run when the sort tells `key` apart from it.
    fn group_of(&mut self, key: Vec<Value>, out: &mut Vec<Bytes>) -> Result<usize> {
        let group = &self.agg.group;
        if (self.run.get(self.at)).is_some_and(|(k, _)| group.same_group(k, &key)) {
            return Ok(self.at);
        }
        let tied =
            (self.run.first()).is_some_and(|(k, _)| group.first_difference(k, &key).is_none());
        if !tied {
            self.end_run(out)?;
        } else if let Some(i) = self.run.iter().position(|(k, _)| group.same_group(k, &key)) {
            return Ok(i);
        } else {
            let mut held = Vec::new();
            group.key_bytes(&key, &mut held);
            let bytes = held.len() as u64 + ENTRY_OVERHEAD;
            self.run_budget.charge(1, bytes)?;
            self.run_bytes += bytes;
        }
        self.run.push((key, self.agg.start()));
        Ok(self.run.len() - 1)
    }

    /// Emits the rows of the run's groups.
    fn end_run(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        let groups = std::mem::take(&mut self.run);
        let extra = groups.len().saturating_sub(1) as u64;
        self.run_budget
            .release(extra, std::mem::take(&mut self.run_bytes));
        for (_, accs) in groups {
            out.push(self.agg.finish(&accs)?);
            self.emitted_any = true;
        }
        Ok(())
    }

    /// With ROLLUP: emits the rows of the prefixes from the longest down to length `from`,
    /// which the group that just ended (`last`) closes, and starts them anew.
    fn end_prefixes(&mut self, from: usize, last: &[Acc], out: &mut Vec<Bytes>) -> Result<()> {
        let Some(rollup) = &mut self.rollup else {
            return Ok(());
        };
        for length in (from..rollup.levels.len()).rev() {
            let mut accs = std::mem::replace(&mut rollup.levels[length], self.agg.start());
            for (i, position) in rollup.group_position.iter().enumerate() {
                if let Some(p) = position {
                    // Within the prefix: the value its last group shows; beyond it: NULL.
                    accs[i] = if *p < length {
                        last[i].clone()
                    } else {
                        Acc::First(Some(None))
                    };
                }
            }
            out.push(self.agg.finish(&accs)?);
        }
        Ok(())
    }

    /// Ends the input; emits the last group's row (for a scalar aggregate without input, the
    /// row of an empty group), and with ROLLUP every prefix's.
    fn finish_rows(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if self.rollup.is_none() {
            self.end_run(out)?;
        }
        match self.run.pop() {
            Some((_, accs)) => {
                self.emitted_any = true;
                out.push(self.agg.finish(&accs)?);
                self.end_prefixes(0, &accs, out)?;
            }
            None if self.agg.group.is_empty() && !self.emitted_any => {
                self.emitted_any = true;
                out.push(self.agg.finish(&self.agg.start())?);
            }
            None => {}
        }
        Ok(())
    }
}

impl RowOperator for OrderedAggregate {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        self.push_row(row, out)
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        self.finish_rows(out)
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

    /// Groups whose long strings are equal in their first 1,024 bytes come interleaved from
    /// the shards (the sort ties them): each is one group, emitted when the run ends.
    #[test]
    fn groups_long_strings_whole_across_a_run_of_ties() {
        let ins = inputs();
        let mut agg = OrderedAggregate::new(&[0], outputs(), &ins).unwrap();
        let long = |end: &str| Value::bytes(format!("{}{end}", "a".repeat(1100)));
        let partial = |g: Value, n: i64| {
            row(&[
                g,
                Value::Int(n),
                dec("1.00"),
                dec("1.00"),
                dec("1.00"),
                Value::Int(n),
            ])
        };
        let mut out = Vec::new();
        for r in [
            partial(long("x"), 1),
            partial(long("y"), 2),
            partial(long("x"), 3),
            partial(long("Y"), 4),
        ] {
            agg.push(r, &mut out).unwrap();
        }
        assert!(
            out.is_empty(),
            "the run is held until the sort tells a row apart"
        );
        agg.push(partial(Value::bytes("b".to_owned()), 5), &mut out)
            .unwrap();
        agg.finish(&mut out).unwrap();
        let counts: Vec<(String, String)> = text(&out, agg.output_columns())
            .into_iter()
            .map(|r| (r[0].get(1100..).unwrap_or(&r[0]).to_owned(), r[1].clone()))
            .collect();
        assert_eq!(counts[0], ("x".into(), "4".into()));
        assert_eq!(counts[1], ("y".into(), "6".into()));
        assert_eq!(counts.len(), 3);
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

    /// MariaDB 10.11's answer to `SELECT a, b, COUNT(*), SUM(c), MAX(d) FROM r GROUP BY a, b
    /// WITH ROLLUP` over (1,'x',1.5,1), (1,'y',2.5,2), (2,'x',NULL,NULL), (2,'x',3,3), here
    /// merged from two shards' groups.
    #[test]
    fn rollup_follows_each_prefix_with_its_total() {
        let sum = ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_decimals(2)
            .with_length(34);
        let ins = vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(33),
            count_meta(),
            sum,
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        ];
        let outs = vec![
            Aggregate::First(0),
            Aggregate::First(1),
            Aggregate::Count(2),
            Aggregate::Sum(3),
            Aggregate::Max(4),
        ];
        let s = |x: &str| Value::bytes(x.to_owned());
        let partials = [
            [
                Value::Int(1),
                s("x"),
                Value::Int(1),
                dec("1.50"),
                Value::Int(1),
            ],
            [
                Value::Int(1),
                s("y"),
                Value::Int(1),
                dec("2.50"),
                Value::Int(2),
            ],
            [
                Value::Int(2),
                s("x"),
                Value::Int(1),
                Value::Null,
                Value::Null,
            ],
            [
                Value::Int(2),
                s("X"),
                Value::Int(1),
                dec("3.00"),
                Value::Int(3),
            ],
        ];
        let mut agg = OrderedAggregate::new(&[0, 1], outs.clone(), &ins)
            .unwrap()
            .with_rollup(&[0, 1]);
        let mut out = Vec::new();
        for p in &partials {
            agg.push(row(p), &mut out).unwrap();
        }
        agg.finish(&mut out).unwrap();
        let cols = agg.output_columns().to_vec();
        assert_eq!(
            text(&out, &cols),
            vec![
                vec!["1", "x", "1", "1.50", "1"],
                vec!["1", "y", "1", "2.50", "2"],
                vec!["1", "NULL", "2", "4.00", "2"],
                vec!["2", "x", "2", "3.00", "3"],
                vec!["2", "NULL", "2", "3.00", "3"],
                vec!["NULL", "NULL", "4", "7.00", "3"],
            ]
        );

        // Without input, no row (not even the grand total), as MariaDB answers.
        let mut agg = OrderedAggregate::new(&[0, 1], outs.clone(), &ins)
            .unwrap()
            .with_rollup(&[0, 1]);
        let mut out = Vec::new();
        agg.finish(&mut out).unwrap();
        assert!(out.is_empty());

        // Rolled up by `b` first: the totals of each `b` show it as its last group does
        // (`'X'`, the first row of the group (2, 'x' = 'X')), and `a` NULL.
        let mut agg = OrderedAggregate::new(&[1, 0], outs, &ins)
            .unwrap()
            .with_rollup(&[1, 0]);
        let mut out = Vec::new();
        for i in [0, 3, 2, 1] {
            agg.push(row(&partials[i]), &mut out).unwrap();
        }
        agg.finish(&mut out).unwrap();
        assert_eq!(
            text(&out, &cols),
            vec![
                vec!["1", "x", "1", "1.50", "1"],
                vec!["2", "X", "2", "3.00", "3"],
                vec!["NULL", "X", "3", "4.50", "3"],
                vec!["1", "y", "1", "2.50", "2"],
                vec!["NULL", "y", "1", "2.50", "2"],
                vec!["NULL", "NULL", "4", "7.00", "3"],
            ]
        );
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
