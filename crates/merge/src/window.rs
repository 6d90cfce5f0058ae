//! Window functions over rows sorted by the window's partition, then its order: the shards
//! send their rows (each computing the window over its own rows only, which gives the column
//! its definition), the merge sorts them into one stream and replaces those columns' values
//! by the window's over all the rows.
//!
//! One window: `PARTITION BY p … ORDER BY o …` with MariaDB's default frame. Rows whose order
//! values are equal are *peers*: `RANK` and `DENSE_RANK` give them one rank, and an aggregate
//! over an ordered window sums every row up to the current one's last peer (`RANGE BETWEEN
//! UNBOUNDED PRECEDING AND CURRENT ROW`); without an ORDER BY every row of a partition is a
//! peer, so an aggregate is the partition's. The operator holds one peer group (or, without
//! an ORDER BY, one partition) at a time, within its memory bound.

use bytes::Bytes;

use crate::aggregate::{Acc, Aggregate, AggregateSettings, Aggregator};
use crate::column::{ColumnMeta, ValueKind};
use crate::compare::{RowOrder, SortKey};
use crate::error::{MergeError, Result};
use crate::memory::{Budget, ENTRY_OVERHEAD};
use crate::pipeline::RowOperator;
use crate::row::{RowWriter, TextRow};
use crate::value::Value;

/// A window function the merge computes.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowFunction {
    /// `ROW_NUMBER()`: the row's position in its partition.
    RowNumber,
    /// `RANK()`: the position of the row's first peer.
    Rank,
    /// `DENSE_RANK()`: how many peer groups precede the row's, plus one.
    DenseRank,
    /// `COUNT` / `SUM` / `AVG` / `MIN` / `MAX` over the frame, of the shard column it names
    /// (`CountRows`, `CountValues`, `SumValues`, `AvgValues`, `Min`, `Max`).
    Aggregate(Aggregate),
}

/// The window functions of one window, over rows arriving sorted by its partition and order.
#[derive(Debug)]
pub struct Window {
    partition: RowOrder,
    order: RowOrder,
    ordered: bool,
    /// Per function: the column whose value it replaces.
    outputs: Vec<(usize, WindowFunction)>,
    /// The aggregates among the functions, in order.
    aggregator: Aggregator,
    width: usize,
    state: State,
    budget: Budget,
}

#[derive(Debug, Default)]
struct State {
    partition: Option<Vec<Value>>,
    peers: Option<Vec<Value>>,
    /// The rows waiting for the end of their peer group, with their row numbers.
    pending: Vec<(TextRow, u64)>,
    held_bytes: u64,
    accs: Vec<Acc>,
    row_number: u64,
    rank: u64,
    dense_rank: u64,
}

impl Window {
    /// The window `PARTITION BY partition ORDER BY order` over rows of `columns`, replacing
    /// column `c` by function `f` for each `(c, f)` of `functions`. Each replaced column must
    /// be described as the function's values are (an integer for the ranks and counts; for
    /// a sum, an average, a minimum or a maximum, the type the merge computes from its
    /// argument's column), else the merge is refused (`Unsupported`) before any row.
    pub fn new(
        partition: &[usize],
        order: &[SortKey],
        functions: Vec<(usize, WindowFunction)>,
        columns: &[ColumnMeta],
        settings: AggregateSettings,
    ) -> Result<Window> {
        let partition_keys: Vec<SortKey> = partition.iter().map(|&c| SortKey::asc(c)).collect();
        let aggregates: Vec<Aggregate> = (functions.iter())
            .filter_map(|(_, f)| match f {
                WindowFunction::Aggregate(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        let aggregator = Aggregator::new(&[], aggregates, columns, settings)?;
        let mut results = aggregator.result_columns().iter();
        for (column, function) in &functions {
            let Some(meta) = columns.get(*column) else {
                return Err(MergeError::NoSuchColumn {
                    column: *column,
                    columns: columns.len(),
                });
            };
            let computed = match function {
                WindowFunction::Aggregate(_) => *results.next().expect("one result per aggregate"),
                _ => crate::aggregate::count_meta(),
            };
            let fits = match function {
                // The argument's own value: of its type, whatever that is.
                WindowFunction::Aggregate(Aggregate::Min(_) | Aggregate::Max(_)) => {
                    computed.kind() == meta.kind()
                        && (computed.kind() == ValueKind::Bytes
                            || computed.decimals == meta.decimals)
                }
                _ => match (computed.kind(), meta.kind()) {
                    (ValueKind::Int | ValueKind::UInt, ValueKind::Int | ValueKind::UInt) => true,
                    (ValueKind::Decimal, ValueKind::Decimal) => computed.decimals == meta.decimals,
                    // A sum of doubles depends on the order MariaDB adds them in.
                    _ => false,
                },
            };
            if !fits {
                return Err(MergeError::Unsupported(format!(
                    "the window function of column {column} would be computed as {:?} with {} decimals, where MariaDB describes it as {:?} with {} decimals",
                    computed.column_type, computed.decimals, meta.column_type, meta.decimals
                )));
            }
        }
        let state = State {
            accs: aggregator.start(),
            ..State::default()
        };
        Ok(Window {
            partition: RowOrder::new(&partition_keys, columns)?,
            order: RowOrder::new(order, columns)?,
            ordered: !order.is_empty(),
            outputs: functions,
            aggregator,
            width: columns.len(),
            state,
            budget: Budget::new("window", settings.memory),
        })
    }

    /// Writes the pending rows with their functions' values, and forgets them.
    fn flush(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if self.state.pending.is_empty() {
            return Ok(());
        }
        let held = self.state.pending.len() as u64;
        let totals = self.aggregator.finish(&self.state.accs)?;
        let totals = TextRow::parse(totals, self.aggregator.result_columns().len())?;
        for (row, row_number) in self.state.pending.drain(..) {
            let mut w = RowWriter::with_capacity(row.payload().len() + 8);
            for c in 0..self.width {
                let mut aggregate = 0;
                let mut value = None;
                for (column, function) in &self.outputs {
                    if *column == c {
                        value = Some(function);
                        break;
                    }
                    aggregate += usize::from(matches!(function, WindowFunction::Aggregate(_)));
                }
                match value {
                    None => w.push_cell(row.cell(c)),
                    Some(WindowFunction::RowNumber) => w.push_value(&Value::UInt(row_number)),
                    Some(WindowFunction::Rank) => w.push_value(&Value::UInt(self.state.rank)),
                    Some(WindowFunction::DenseRank) => {
                        w.push_value(&Value::UInt(self.state.dense_rank))
                    }
                    Some(WindowFunction::Aggregate(_)) => w.push_cell(totals.cell(aggregate)),
                }
            }
            out.push(w.finish());
        }
        self.budget
            .release(held, std::mem::take(&mut self.state.held_bytes));
        Ok(())
    }
}

impl RowOperator for Window {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let row = TextRow::parse(row, self.width)?;
        let partition = self.partition.extract_row(&row)?;
        let peers = self.order.extract_row(&row)?;
        let new_partition = (self.state.partition.as_ref())
            .is_none_or(|p| self.partition.compare(p, &partition).is_ne());
        let new_peers = new_partition
            || (self.ordered
                && (self.state.peers.as_ref())
                    .is_none_or(|p| self.order.compare(p, &peers).is_ne()));
        if new_peers {
            self.flush(out)?;
        }
        if new_partition {
            self.state.partition = Some(partition);
            self.state.accs = self.aggregator.start();
            self.state.row_number = 0;
            self.state.dense_rank = 0;
        }
        if new_peers {
            self.state.peers = Some(peers);
            self.state.rank = self.state.row_number + 1;
            self.state.dense_rank += 1;
        }
        self.state.row_number += 1;
        self.aggregator.update(&mut self.state.accs, &row)?;
        let bytes = row.payload().len() as u64 + ENTRY_OVERHEAD;
        self.budget.charge(1, bytes)?;
        self.state.held_bytes += bytes;
        self.state.pending.push((row, self.state.row_number));
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        self.flush(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::count_meta;
    use crate::decimal::Decimal;
    use crate::row::{decode_text_row, encode_text_row};
    use crate::MemoryLimit;
    use mysql_common::constants::ColumnType;

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::parse(s.as_bytes()).unwrap())
    }

    /// Rows of `SELECT g, x, <rn>, <rank>, <dense>, <sum>, <count> … ORDER BY g, x` over
    /// `g VARCHAR general_ci, x DECIMAL(10,2)`; the shards' own values of the functions are 0.
    fn columns() -> Vec<ColumnMeta> {
        let x = ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_decimals(2)
            .with_length(12);
        vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
            x,
            count_meta(),
            count_meta(),
            count_meta(),
            x.with_length(34),
            count_meta(),
        ]
    }

    fn text(rows: &[Bytes]) -> Vec<String> {
        let strs: Vec<ColumnMeta> = (0..7)
            .map(|_| ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect();
        rows.iter()
            .map(|r| {
                let cells: Vec<String> = decode_text_row(r, &strs)
                    .unwrap()
                    .iter()
                    .map(|v| {
                        v.to_text()
                            .map_or("NULL".into(), |t| String::from_utf8(t).unwrap())
                    })
                    .collect();
                cells.join(" ")
            })
            .collect()
    }

    fn run(
        order: &[SortKey],
        rows: &[(&str, Option<&str>)],
        memory: MemoryLimit,
    ) -> Result<Vec<String>> {
        let settings = AggregateSettings {
            memory,
            ..AggregateSettings::default()
        };
        let mut window = Window::new(
            &[0],
            order,
            vec![
                (2, WindowFunction::RowNumber),
                (3, WindowFunction::Rank),
                (4, WindowFunction::DenseRank),
                (5, WindowFunction::Aggregate(Aggregate::SumValues(1))),
                (6, WindowFunction::Aggregate(Aggregate::CountValues(1))),
            ],
            &columns(),
            settings,
        )?;
        let mut out = Vec::new();
        for (g, x) in rows {
            let x = x.map_or(Value::Null, dec);
            let zero = Value::Int(0);
            let row = encode_text_row(&[
                Value::bytes(g.to_string()),
                x,
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero,
            ]);
            window.push(Bytes::from(row), &mut out)?;
        }
        window.finish(&mut out)?;
        Ok(text(&out))
    }

    /// As MariaDB 10.11 answers `ROW_NUMBER() / RANK() / DENSE_RANK() / SUM(x) / COUNT(x)
    /// OVER (PARTITION BY g ORDER BY x)`: peers share ranks and running totals; 'a' and 'A'
    /// are one partition of a general_ci column.
    #[test]
    fn ranks_and_running_totals_follow_peers_within_partitions() {
        let rows = [
            ("a", None),
            ("a", Some("1.00")),
            ("A", Some("1.00")),
            ("a", Some("2.50")),
            ("b", Some("5.00")),
            ("b", Some("5.00")),
        ];
        let got = run(&[SortKey::asc(1)], &rows, MemoryLimit::UNLIMITED).unwrap();
        assert_eq!(
            got,
            [
                "a NULL 1 1 1 NULL 0",
                "a 1.00 2 2 2 2.00 2",
                "A 1.00 3 2 2 2.00 2",
                "a 2.50 4 4 3 4.50 3",
                "b 5.00 1 1 1 10.00 2",
                "b 5.00 2 1 1 10.00 2",
            ]
        );
    }

    /// Without an ORDER BY every row of a partition is a peer: ranks 1, totals the
    /// partition's.
    #[test]
    fn an_unordered_window_totals_its_partition() {
        let rows = [("a", Some("1.00")), ("a", Some("2.00")), ("b", None)];
        let got = run(&[], &rows, MemoryLimit::UNLIMITED).unwrap();
        assert_eq!(
            got,
            [
                "a 1.00 1 1 1 3.00 2",
                "a 2.00 2 1 1 3.00 2",
                "b NULL 1 1 1 NULL 0",
            ]
        );
    }

    #[test]
    fn a_peer_group_beyond_the_bound_is_error_1038() {
        let rows = [
            ("a", Some("1.00")),
            ("a", Some("1.00")),
            ("a", Some("1.00")),
        ];
        let err = run(&[SortKey::asc(1)], &rows, MemoryLimit::rows(2)).unwrap_err();
        assert_eq!(err.mysql_code().0, 1038);
        // Distinct peers are let go one group at a time.
        let rows = [
            ("a", Some("1.00")),
            ("a", Some("2.00")),
            ("a", Some("3.00")),
        ];
        assert!(run(&[SortKey::asc(1)], &rows, MemoryLimit::rows(1)).is_ok());
    }

    #[test]
    fn a_column_described_otherwise_is_refused_before_any_row() {
        let mut columns = columns();
        columns[5] = ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE);
        let err = Window::new(
            &[0],
            &[],
            vec![(5, WindowFunction::Aggregate(Aggregate::SumValues(1)))],
            &columns,
            AggregateSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(err, MergeError::Unsupported(_)), "{err:?}");
    }
}
