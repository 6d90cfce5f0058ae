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
//! an ORDER BY, one partition) at a time, within its memory bound; `LAG`, `LEAD` and `NTILE`
//! look along the whole partition, which it then holds.

use bytes::Bytes;
use mysql_common::constants::ColumnType;

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
    /// `LAG(column, offset)`: the value of the row `offset` rows before in the partition
    /// (NULL before its first).
    Lag { column: usize, offset: u64 },
    /// `LEAD(column, offset)`: the value of the row `offset` rows after (NULL past its last).
    Lead { column: usize, offset: u64 },
    /// `NTILE(n)`: the row's bucket of `n` as equal as can be, the first ones a row larger.
    Ntile(u64),
    /// `FIRST_VALUE(column)`: the partition's first row's value.
    FirstValue(usize),
    /// `LAST_VALUE(column)`: the value of the last of the row's peers (the default frame's
    /// last row).
    LastValue(usize),
    /// `NTH_VALUE(column, n)`: the partition's `n`-th row's value, once the frame reaches it.
    NthValue { column: usize, n: u64 },
    /// `PERCENT_RANK()`: `(rank - 1) / (rows - 1)`, a DOUBLE (0 for one row).
    PercentRank,
    /// `CUME_DIST()`: the rows up to the row's last peer over the partition's rows, a DOUBLE.
    CumeDist,
    /// An aggregate over a frame of rows around the current one (`ROWS BETWEEN …`).
    FramedAggregate {
        aggregate: Aggregate,
        frame: RowsFrame,
    },
}

/// A `ROWS` frame: its first and last rows as offsets from the current row (negative:
/// preceding), `None` for `UNBOUNDED PRECEDING` / `UNBOUNDED FOLLOWING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsFrame {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl RowsFrame {
    /// The frame of the row at `position` of `rows` rows, clamped to them (`None`: empty).
    fn around(self, position: usize, rows: usize) -> Option<(usize, usize)> {
        let (position, rows) = (position as i64, rows as i64);
        let first = self.start.map_or(0, |s| position.saturating_add(s)).max(0);
        let last = (self.end.map_or(rows - 1, |e| position.saturating_add(e))).min(rows - 1);
        (first <= last).then_some((first as usize, last as usize))
    }
}

impl WindowFunction {
    /// Whether its value depends on rows after the current row's peers: the partition is
    /// held whole.
    fn needs_partition(&self) -> bool {
        !matches!(
            self,
            WindowFunction::RowNumber
                | WindowFunction::Rank
                | WindowFunction::DenseRank
                | WindowFunction::Aggregate(_)
        )
    }

    /// The aggregate it computes over a frame, if it is one.
    fn framed(&self) -> Option<(&Aggregate, RowsFrame)> {
        match self {
            WindowFunction::FramedAggregate { aggregate, frame } => Some((aggregate, *frame)),
            _ => None,
        }
    }

    /// The column whose values it shows, if it shows one's.
    fn shown_column(&self) -> Option<usize> {
        match self {
            WindowFunction::Lag { column, .. }
            | WindowFunction::Lead { column, .. }
            | WindowFunction::FirstValue(column)
            | WindowFunction::LastValue(column)
            | WindowFunction::NthValue { column, .. } => Some(*column),
            _ => None,
        }
    }
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
    /// Each framed aggregate's own, in order.
    framed: Vec<Aggregator>,
    width: usize,
    columns: Vec<ColumnMeta>,
    /// Some function needs the whole partition (`WindowFunction::needs_partition`).
    holds_partition: bool,
    state: State,
    budget: Budget,
}

#[derive(Debug, Default)]
struct State {
    partition: Option<Vec<Value>>,
    peers: Option<Vec<Value>>,
    /// The rows waiting for the end of their peer group, with their row numbers.
    pending: Vec<(TextRow, u64)>,
    /// When the partition is held: its rows whose peer groups ended, with what they show.
    held: Vec<Ranked>,
    /// The aggregates' values of each ended peer group of a held partition.
    totals: Vec<TextRow>,
    held_rows: u64,
    held_bytes: u64,
    accs: Vec<Acc>,
    row_number: u64,
    rank: u64,
    dense_rank: u64,
}

/// A row with its place in the window: row number, rank, dense rank, its peer group's
/// aggregate values (an index of `State::totals`, or the row itself).
#[derive(Debug)]
struct Ranked {
    row: TextRow,
    row_number: u64,
    rank: u64,
    dense_rank: u64,
    /// The row number of the last of its peers.
    last_peer: u64,
    totals: usize,
}

impl Window {
    /// The window `PARTITION BY partition ORDER BY order` over rows of `columns`, replacing
    /// column `c` by function `f` for each `(c, f)` of `functions`. Each replaced column must
    /// be described as the function's values are (an integer for the ranks, counts and
    /// NTILE; a DOUBLE for PERCENT_RANK and CUME_DIST; for a sum or an average the type the
    /// merge computes from its argument's column; for MIN / MAX, LAG / LEAD and the
    /// `_VALUE`s the argument's own), else the merge is refused (`Unsupported`) before any
    /// row.
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
        let framed = (functions.iter())
            .filter_map(|(_, f)| f.framed())
            .map(|(a, _)| Aggregator::new(&[], vec![a.clone()], columns, settings))
            .collect::<Result<Vec<_>>>()?;
        let mut framed_results = framed.iter().map(|a| a.result_columns()[0]);
        let mut results = aggregator.result_columns().iter();
        for (column, function) in &functions {
            let Some(meta) = columns.get(*column) else {
                return Err(MergeError::NoSuchColumn {
                    column: *column,
                    columns: columns.len(),
                });
            };
            let shown = function.shown_column();
            let computed = match (function, shown) {
                (WindowFunction::Aggregate(_), _) => {
                    *results.next().expect("one result per aggregate")
                }
                (WindowFunction::FramedAggregate { .. }, _) => framed_results
                    .next()
                    .expect("one aggregator per framed aggregate"),
                (_, Some(c)) => *columns.get(c).ok_or(MergeError::NoSuchColumn {
                    column: c,
                    columns: columns.len(),
                })?,
                (WindowFunction::PercentRank | WindowFunction::CumeDist, _) => {
                    ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(meta.decimals)
                }
                _ => crate::aggregate::count_meta(),
            };
            // The argument's own value (MIN / MAX, LAG …): of its type, whatever that is.
            let own_value = shown.is_some()
                || matches!(
                    function,
                    WindowFunction::Aggregate(Aggregate::Min(_) | Aggregate::Max(_))
                )
                || matches!(
                    function.framed(),
                    Some((Aggregate::Min(_) | Aggregate::Max(_), _))
                );
            let fits = match (computed.kind(), meta.kind()) {
                _ if own_value => {
                    computed.kind() == meta.kind()
                        && (computed.kind() == ValueKind::Bytes
                            || computed.decimals == meta.decimals)
                }
                (ValueKind::Int | ValueKind::UInt, ValueKind::Int | ValueKind::UInt) => true,
                (ValueKind::Decimal, ValueKind::Decimal) => computed.decimals == meta.decimals,
                // A ratio of counts; but a sum of doubles depends on the order MariaDB adds
                // them in.
                (ValueKind::Double, ValueKind::Double) => {
                    matches!(
                        function,
                        WindowFunction::PercentRank | WindowFunction::CumeDist
                    )
                }
                _ => false,
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
            holds_partition: functions.iter().any(|(_, f)| f.needs_partition()),
            outputs: functions,
            aggregator,
            framed,
            width: columns.len(),
            columns: columns.to_vec(),
            state,
            budget: Budget::new("window", settings.memory),
        })
    }

    /// Orders strings within a partition by their first `sort_length` bytes, the session's
    /// `max_sort_length` (as MariaDB's window sort does).
    pub fn with_sort_length(mut self, sort_length: usize) -> Self {
        self.order.set_sort_length(sort_length);
        self
    }

    /// Ends the pending peer group: its rows are written with their functions' values, or,
    /// when the partition is held, kept with their ranks until it ends.
    fn end_peers(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        if self.state.pending.is_empty() {
            return Ok(());
        }
        let totals = self.aggregator.finish(&self.state.accs)?;
        let totals = TextRow::parse(totals, self.aggregator.result_columns().len())?;
        let (rank, dense_rank) = (self.state.rank, self.state.dense_rank);
        let last_peer = self.state.row_number;
        let ranked = self
            .state
            .pending
            .drain(..)
            .map(|(row, row_number)| Ranked {
                row,
                row_number,
                rank,
                dense_rank,
                last_peer,
                totals: 0,
            });
        if self.holds_partition {
            let index = self.state.totals.len();
            self.state
                .held
                .extend(ranked.map(|r| Ranked { totals: index, ..r }));
            self.state.totals.push(totals);
            return Ok(());
        }
        let rows: Vec<Ranked> = ranked.collect();
        for r in &rows {
            out.push(self.write(r, &totals, &[], &[])?);
        }
        self.release();
        Ok(())
    }

    /// Ends the partition: a held one's rows are written.
    fn end_partition(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        self.end_peers(out)?;
        let held = std::mem::take(&mut self.state.held);
        let totals = std::mem::take(&mut self.state.totals);
        let frames = (self.outputs.iter())
            .filter_map(|(_, f)| f.framed())
            .zip(&self.framed)
            .map(|((_, frame), aggregator)| over_frames(aggregator, frame, &held))
            .collect::<Result<Vec<_>>>()?;
        for (i, r) in held.iter().enumerate() {
            let framed: Vec<&TextRow> = frames.iter().map(|values| &values[i]).collect();
            out.push(self.write(r, &totals[r.totals], &held, &framed)?);
        }
        self.release();
        Ok(())
    }

    fn release(&mut self) {
        let rows = std::mem::take(&mut self.state.held_rows);
        let bytes = std::mem::take(&mut self.state.held_bytes);
        self.budget.release(rows, bytes);
    }

    /// Row `r` with its functions' values: aggregates from `totals`, framed ones from
    /// `framed` (one per framed aggregate), LAG / LEAD / NTILE along `partition` (the held
    /// partition, `r` among it).
    fn write(
        &self,
        r: &Ranked,
        totals: &TextRow,
        partition: &[Ranked],
        framed: &[&TextRow],
    ) -> Result<Bytes> {
        let position = usize::try_from(r.row_number - 1).unwrap_or(usize::MAX);
        let along = |offset: u64, ahead: bool| -> Option<&Ranked> {
            let offset = usize::try_from(offset).ok()?;
            let at = if ahead {
                position.checked_add(offset)?
            } else {
                position.checked_sub(offset)?
            };
            partition.get(at)
        };
        // The partition's `n`-th row (counting from 1).
        let at = |n: u64| {
            usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| partition.get(i))
        };
        let mut w = RowWriter::with_capacity(r.row.payload().len() + 8);
        for c in 0..self.width {
            let (mut aggregate, mut frame) = (0, 0);
            let mut value = None;
            for (column, function) in &self.outputs {
                if *column == c {
                    value = Some(function);
                    break;
                }
                aggregate += usize::from(matches!(function, WindowFunction::Aggregate(_)));
                frame += usize::from(function.framed().is_some());
            }
            match value {
                None => w.push_cell(r.row.cell(c)),
                Some(WindowFunction::RowNumber) => w.push_value(&Value::UInt(r.row_number)),
                Some(WindowFunction::Rank) => w.push_value(&Value::UInt(r.rank)),
                Some(WindowFunction::DenseRank) => w.push_value(&Value::UInt(r.dense_rank)),
                Some(WindowFunction::Aggregate(_)) => w.push_cell(totals.cell(aggregate)),
                Some(WindowFunction::FramedAggregate { .. }) => w.push_cell(framed[frame].cell(0)),
                Some(WindowFunction::Lag { column, offset }) => {
                    w.push_cell(along(*offset, false).and_then(|o| o.row.cell(*column)))
                }
                Some(WindowFunction::Lead { column, offset }) => {
                    w.push_cell(along(*offset, true).and_then(|o| o.row.cell(*column)))
                }
                Some(WindowFunction::Ntile(n)) => w.push_value(&Value::UInt(ntile(
                    *n,
                    partition.len() as u64,
                    r.row_number,
                ))),
                Some(WindowFunction::FirstValue(column)) => {
                    w.push_cell(partition.first().and_then(|o| o.row.cell(*column)))
                }
                Some(WindowFunction::LastValue(column)) => {
                    w.push_cell(at(r.last_peer).and_then(|o| o.row.cell(*column)))
                }
                Some(WindowFunction::NthValue { column, n }) => {
                    let reached = *n <= r.last_peer;
                    w.push_cell(at(*n).filter(|_| reached).and_then(|o| o.row.cell(*column)))
                }
                Some(WindowFunction::PercentRank) => {
                    let rows = partition.len() as f64;
                    let value = match rows > 1.0 {
                        true => (r.rank - 1) as f64 / (rows - 1.0),
                        false => 0.0,
                    };
                    w.push_value(&Value::Double {
                        value,
                        decimals: self.columns[c].decimals,
                    })
                }
                Some(WindowFunction::CumeDist) => w.push_value(&Value::Double {
                    value: r.last_peer as f64 / partition.len() as f64,
                    decimals: self.columns[c].decimals,
                }),
            }
        }
        Ok(w.finish())
    }
}

/// `aggregator`'s one value over `frame` for each row of a held partition: added up as the
/// frame moves when one of its ends is unbounded (forward from `UNBOUNDED PRECEDING`,
/// backward to `UNBOUNDED FOLLOWING`), else over each row's frame afresh (the planner bounds
/// its width).
fn over_frames(aggregator: &Aggregator, frame: RowsFrame, rows: &[Ranked]) -> Result<Vec<TextRow>> {
    let value = |accs: &[Acc]| TextRow::parse(aggregator.finish(accs)?, 1);
    let n = rows.len();
    let mut values = Vec::with_capacity(n);
    match (frame.start, frame.end) {
        (None, _) => {
            let (mut accs, mut added) = (aggregator.start(), 0);
            for i in 0..n {
                if let Some((_, last)) = frame.around(i, n) {
                    while added <= last {
                        aggregator.update(&mut accs, &rows[added].row)?;
                        added += 1;
                    }
                }
                values.push(value(&accs)?);
            }
        }
        (Some(_), None) => {
            let (mut accs, mut next) = (aggregator.start(), n);
            for i in (0..n).rev() {
                if let Some((first, _)) = frame.around(i, n) {
                    while next > first {
                        next -= 1;
                        aggregator.update(&mut accs, &rows[next].row)?;
                    }
                }
                values.push(value(&accs)?);
            }
            values.reverse();
        }
        (Some(_), Some(_)) => {
            for i in 0..n {
                let mut accs = aggregator.start();
                if let Some((first, last)) = frame.around(i, n) {
                    for r in &rows[first..=last] {
                        aggregator.update(&mut accs, &r.row)?;
                    }
                }
                values.push(value(&accs)?);
            }
        }
    }
    Ok(values)
}

/// MariaDB's `NTILE(buckets)` of the `row_number`-th of `rows` rows: `rows / buckets` rows a
/// bucket, the first `rows % buckets` buckets one more.
fn ntile(buckets: u64, rows: u64, row_number: u64) -> u64 {
    let buckets = buckets.max(1);
    let (small, larger) = (rows / buckets, rows % buckets);
    let k = row_number - 1;
    let in_larger = larger * (small + 1);
    if k < in_larger {
        k / (small + 1) + 1
    } else {
        larger + (k - in_larger) / small.max(1) + 1
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
        if new_partition {
            self.end_partition(out)?;
        } else if new_peers {
            self.end_peers(out)?;
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
        self.state.held_rows += 1;
        self.state.held_bytes += bytes;
        self.state.pending.push((row, self.state.row_number));
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        self.end_partition(out)
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
        let functions = vec![
            (2, WindowFunction::RowNumber),
            (3, WindowFunction::Rank),
            (4, WindowFunction::DenseRank),
            (5, WindowFunction::Aggregate(Aggregate::SumValues(1))),
            (6, WindowFunction::Aggregate(Aggregate::CountValues(1))),
        ];
        run_functions(order, rows, memory, functions)
    }

    fn run_functions(
        order: &[SortKey],
        rows: &[(&str, Option<&str>)],
        memory: MemoryLimit,
        functions: Vec<(usize, WindowFunction)>,
    ) -> Result<Vec<String>> {
        let settings = AggregateSettings {
            memory,
            ..AggregateSettings::default()
        };
        let mut window = Window::new(&[0], order, functions, &columns(), settings)?;
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

    /// As MariaDB 10.11 answers `SUM(x) OVER (w ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)`,
    /// `COUNT(x) OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)`, `COUNT(*) OVER (w
    /// ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING)` and `COUNT(x) OVER (w ROWS UNBOUNDED
    /// PRECEDING)` with `w` = `PARTITION BY g ORDER BY x`: frames of rows, not of peers
    /// (the two 2.00 rows count apart), empty ones 0 or NULL.
    #[test]
    fn framed_aggregates_add_up_their_rows() {
        let frame = |start, end| RowsFrame { start, end };
        let framed = |aggregate, frame| WindowFunction::FramedAggregate { aggregate, frame };
        let functions = vec![
            (2, WindowFunction::RowNumber),
            (3, framed(Aggregate::CountValues(1), frame(Some(1), None))),
            (4, framed(Aggregate::CountRows, frame(Some(-2), Some(-1)))),
            (5, framed(Aggregate::SumValues(1), frame(Some(-1), Some(1)))),
            (6, framed(Aggregate::CountValues(1), frame(None, Some(0)))),
        ];
        let rows = [
            ("a", Some("1.00")),
            ("a", Some("2.00")),
            ("a", Some("2.00")),
            ("a", Some("4.00")),
            ("b", None),
            ("b", Some("10.00")),
            ("c", Some("7.00")),
        ];
        let got = run_functions(&[SortKey::asc(1)], &rows, MemoryLimit::UNLIMITED, functions);
        assert_eq!(
            got.unwrap(),
            [
                "a 1.00 1 3 0 3.00 1",
                "a 2.00 2 2 1 5.00 2",
                "a 2.00 3 1 2 8.00 3",
                "a 4.00 4 0 2 6.00 4",
                "b NULL 1 1 0 10.00 0",
                "b 10.00 2 0 1 10.00 1",
                "c 7.00 1 0 0 7.00 1",
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

    /// `LAG(x, 1)`, `LEAD(x, 2)` and `NTILE(3)` over `PARTITION BY g ORDER BY x`: MariaDB
    /// 10.11's answer (5 rows in 3 buckets: 2, 2, 1).
    #[test]
    fn lag_lead_and_ntile_look_along_the_partition() {
        let mut columns = columns();
        columns[2] = columns[1];
        columns[3] = columns[1];
        let mut window = Window::new(
            &[0],
            &[SortKey::asc(1)],
            vec![
                (
                    2,
                    WindowFunction::Lag {
                        column: 1,
                        offset: 1,
                    },
                ),
                (
                    3,
                    WindowFunction::Lead {
                        column: 1,
                        offset: 2,
                    },
                ),
                (4, WindowFunction::Ntile(3)),
            ],
            &columns,
            AggregateSettings::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        let rows = [
            ("a", "1.00"),
            ("a", "2.00"),
            ("a", "3.00"),
            ("a", "4.00"),
            ("a", "5.00"),
            ("b", "9.00"),
        ];
        for (g, x) in rows {
            let zero = Value::Int(0);
            let row = encode_text_row(&[
                Value::bytes(g.to_string()),
                dec(x),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero,
            ]);
            window.push(Bytes::from(row), &mut out).unwrap();
        }
        assert_eq!(
            out.len(),
            5,
            "a partition is held until the next one starts"
        );
        window.finish(&mut out).unwrap();
        assert_eq!(
            text(&out),
            [
                "a 1.00 NULL 3.00 1 0 0",
                "a 2.00 1.00 4.00 1 0 0",
                "a 3.00 2.00 5.00 2 0 0",
                "a 4.00 3.00 NULL 2 0 0",
                "a 5.00 4.00 NULL 3 0 0",
                "b 9.00 NULL NULL 1 0 0",
            ]
        );
        assert_eq!(
            (1..=7).map(|r| ntile(4, 7, r)).collect::<Vec<_>>(),
            [1, 1, 2, 2, 3, 3, 4]
        );
        assert_eq!((1..=2).map(|r| ntile(5, 2, r)).collect::<Vec<_>>(), [1, 2]);
    }

    /// `FIRST_VALUE(x)`, `LAST_VALUE(x)`, `NTH_VALUE(x, 2)`, `PERCENT_RANK()`, `CUME_DIST()`
    /// over `PARTITION BY g ORDER BY x` with the default frame (up to the row's last peer):
    /// MariaDB 10.11's answer over x = 1, 2, 2, 3.
    #[test]
    fn values_along_the_frame_and_relative_ranks() {
        let mut columns = columns();
        columns[2] = columns[1];
        columns[3] = columns[1];
        columns[4] = columns[1];
        let double = ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(31);
        columns[5] = double;
        columns[6] = double;
        let mut window = Window::new(
            &[0],
            &[SortKey::asc(1)],
            vec![
                (2, WindowFunction::FirstValue(1)),
                (3, WindowFunction::LastValue(1)),
                (4, WindowFunction::NthValue { column: 1, n: 2 }),
                (5, WindowFunction::PercentRank),
                (6, WindowFunction::CumeDist),
            ],
            &columns,
            AggregateSettings::default(),
        )
        .unwrap();
        let mut out = Vec::new();
        for x in ["1.00", "2.00", "2.00", "3.00"] {
            let zero = Value::Int(0);
            let row = encode_text_row(&[
                Value::bytes("a".to_owned()),
                dec(x),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero.clone(),
                zero,
            ]);
            window.push(Bytes::from(row), &mut out).unwrap();
        }
        window.finish(&mut out).unwrap();
        assert_eq!(
            text(&out),
            [
                "a 1.00 1.00 1.00 NULL 0 0.25",
                "a 2.00 1.00 2.00 2.00 0.3333333333333333 0.75",
                "a 2.00 1.00 2.00 2.00 0.3333333333333333 0.75",
                "a 3.00 1.00 3.00 2.00 1 1",
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
