//! Merging partial aggregates from shards: COUNT, SUM, MIN, MAX and AVG (from SUM and COUNT).
//!
//! Each shard computes the aggregate over its rows; the merge combines the partials: counts
//! add up, sums add up exactly (`DECIMAL`) or as doubles (`DOUBLE`), MIN/MAX keep the
//! extreme cell verbatim, and AVG is finalised as `SUM(x) / COUNT(x)` with MariaDB's result
//! type and scale. The `*Values` variants aggregate raw column values instead of partials,
//! for pipelines that de-duplicate first (`COUNT(DISTINCT x)`, `SUM(DISTINCT x)`).
//!
//! Result types, as MariaDB 10.11 reports them (verified with `--column-type-info`):
//!
//! | aggregate | input | result |
//! |---|---|---|
//! | COUNT | any | `LONGLONG(21)`, NOT NULL (a partial COUNT: the shards' own column) |
//! | SUM | integer, `YEAR`, `BIT`, `DECIMAL(p,s)` | `NEWDECIMAL(min(p+22, 65), s)` |
//! | SUM | `FLOAT`, `DOUBLE[(m,d)]`, strings | `DOUBLE`, decimals `d` (31 = not fixed) |
//! | AVG | integer, `DECIMAL(p,s)` | `NEWDECIMAL(p+4, min(s+4, 38))` (`div_precision_increment` = 4) |
//! | AVG | `FLOAT`, `DOUBLE[(m,d)]`, strings | `DOUBLE`, decimals `d+4` (31 when that reaches 31) |
//! | MIN, MAX | any | the input column's |
//!
//! SUM and AVG of no non-NULL value are NULL, COUNT is 0. An exact AVG rounds half away
//! from zero (`AVG` of 0, 0, 2 over `INT` is `0.6667`, of one -0.00005 is `-0.0001`).

use bytes::Bytes;
use mysql_common::constants::{ColumnFlags, ColumnType};

use crate::bit_aggregate::{bit_meta, bits_of, BitOp};
use crate::column::{ColumnMeta, ValueKind};
use crate::compare::{compare_values, RowOrder, SortKey};
use crate::decimal::{Decimal, MAX_PRECISION, MAX_SCALE};
use crate::distinct_aggregate::DistinctValues;
use crate::error::{MergeError, Result};
use crate::float_text::NOT_FIXED_DEC;
use crate::group_concat::{group_concat_meta, Concat, GroupConcatSpec};
use crate::memory::MemoryLimit;
use crate::pipeline::MergeWarning;
use crate::row::{RowWriter, TextRow};
use crate::value::Value;
use crate::variance::{variance_meta, Moments, PartialMoments, VarianceKind};

/// One output column of an aggregating operator, reading columns of the input rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregate {
    /// The cell of the group's first row, verbatim: group columns, and columns the planner
    /// knows to be constant within a group.
    First(usize),
    /// A partial `COUNT(...)` column: the counts add up.
    Count(usize),
    /// `COUNT(column)` over raw values: the non-NULL cells are counted.
    CountValues(usize),
    /// `COUNT(*)` over raw rows: the rows are counted.
    CountRows,
    /// A partial `SUM(x)` column: the sums add up; NULL when every partial is NULL.
    Sum(usize),
    /// `SUM(column)` over raw values.
    SumValues(usize),
    /// A partial `MIN(x)` (or raw `x`) column: the least non-NULL cell.
    Min(usize),
    /// A partial `MAX(x)` (or raw `x`) column: the greatest non-NULL cell.
    Max(usize),
    /// `AVG(x)` from partial `SUM(x)` and `COUNT(x)` columns.
    Avg {
        /// The partial `SUM(x)` column.
        sum: usize,
        /// The partial `COUNT(x)` column.
        count: usize,
    },
    /// `AVG(column)` over raw values.
    AvgValues(usize),
    /// `COUNT(DISTINCT a, b, …)` over raw values.
    CountDistinct(Vec<usize>),
    /// `SUM(DISTINCT x)` over raw values.
    SumDistinct(usize),
    /// `AVG(DISTINCT x)` over raw values.
    AvgDistinct(usize),
    /// `BIT_AND` / `BIT_OR` / `BIT_XOR` of partials, or of raw values cast to integers.
    Bit { op: BitOp, column: usize },
    /// The `VARIANCE` / `STDDEV` family over raw exact values.
    Variance { kind: VarianceKind, column: usize },
    /// The `VARIANCE` / `STDDEV` family from shard partials: `COUNT(x)`, `SUM(x)`, `VAR_POP(x)`
    /// as a full double, and `MIN(x)` (a column of `x`'s type, for the result's column).
    VarianceParts {
        kind: VarianceKind,
        count: usize,
        sum: usize,
        pop_variance: usize,
        typed: usize,
    },
    /// `GROUP_CONCAT` over raw values.
    GroupConcat(Box<GroupConcatSpec>),
}

/// What aggregates need from the session and the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateSettings {
    /// Bounds what a group's DISTINCT and GROUP_CONCAT states hold.
    pub memory: MemoryLimit,
    /// The session's `group_concat_max_len`.
    pub group_concat_max_len: u64,
    /// The session's `collation_connection` sorts by binary (`_bin`): GROUP_CONCAT of numbers
    /// takes it, and MariaDB flags such a column BINARY.
    pub connection_binsort: bool,
    /// The connection's result collation: GROUP_CONCAT's column.
    pub result_charset: u16,
    /// MariaDB would sort the grouped results by an aggregate through a temporary table,
    /// which changes how it describes GROUP_CONCAT's column.
    pub materialized: bool,
}

impl Default for AggregateSettings {
    fn default() -> Self {
        AggregateSettings {
            memory: MemoryLimit::UNLIMITED,
            group_concat_max_len: 1_048_576,
            connection_binsort: false,
            result_charset: 45,
            materialized: false,
        }
    }
}

impl Aggregate {
    /// The input columns this output reads.
    pub fn columns(&self) -> Vec<usize> {
        match self {
            Aggregate::CountRows => vec![],
            Aggregate::Avg { sum, count } => vec![*sum, *count],
            Aggregate::CountDistinct(cs) => cs.clone(),
            Aggregate::GroupConcat(spec) => spec.columns().collect(),
            Aggregate::Bit { column, .. } | Aggregate::Variance { column, .. } => vec![*column],
            Aggregate::VarianceParts {
                count,
                sum,
                pop_variance,
                typed,
                ..
            } => vec![*count, *sum, *pop_variance, *typed],
            Aggregate::First(c)
            | Aggregate::Count(c)
            | Aggregate::CountValues(c)
            | Aggregate::Sum(c)
            | Aggregate::SumValues(c)
            | Aggregate::Min(c)
            | Aggregate::Max(c)
            | Aggregate::SumDistinct(c)
            | Aggregate::AvgDistinct(c)
            | Aggregate::AvgValues(c) => vec![*c],
        }
    }

    /// The input columns whose values this output compares (and so needs their real
    /// collations): MIN/MAX, DISTINCT arguments, GROUP_CONCAT's DISTINCT and ORDER BY.
    pub fn compared_columns(&self) -> Vec<usize> {
        match self {
            Aggregate::Min(c) | Aggregate::Max(c) => vec![*c],
            Aggregate::CountDistinct(cs) => cs.clone(),
            Aggregate::GroupConcat(spec) => {
                let mut cs: Vec<usize> = spec.order.iter().map(|k| k.column).collect();
                if spec.distinct {
                    cs.extend(&spec.args);
                }
                cs
            }
            _ => vec![],
        }
    }

    /// The input column whose row values this output adds up (a floating-point one gives a
    /// result that depends on the order of rows).
    pub fn summed_column(&self) -> Option<usize> {
        match self {
            Aggregate::SumValues(c)
            | Aggregate::AvgValues(c)
            | Aggregate::SumDistinct(c)
            | Aggregate::AvgDistinct(c)
            | Aggregate::Variance { column: c, .. } => Some(*c),
            _ => None,
        }
    }

    /// Whether this output's column depends on `div_precision_increment` (computed with 4).
    pub fn uses_div_precision_increment(&self) -> bool {
        matches!(
            self,
            Aggregate::Avg { .. }
                | Aggregate::AvgValues(_)
                | Aggregate::AvgDistinct(_)
                | Aggregate::Variance { .. }
                | Aggregate::VarianceParts { .. }
        )
    }

    /// The metadata of this output column, given the input rows' columns.
    pub fn result_meta(&self, inputs: &[ColumnMeta]) -> Result<ColumnMeta> {
        self.result_meta_with(inputs, &AggregateSettings::default())
    }

    /// The metadata of this output column, given the input rows' columns and `settings`.
    pub fn result_meta_with(
        &self,
        inputs: &[ColumnMeta],
        settings: &AggregateSettings,
    ) -> Result<ColumnMeta> {
        for c in self.columns() {
            if c >= inputs.len() {
                return Err(MergeError::NoSuchColumn {
                    column: c,
                    columns: inputs.len(),
                });
            }
        }
        match *self {
            Aggregate::CountDistinct(_) => Ok(count_meta()),
            Aggregate::SumDistinct(c) => sum_result_meta(&inputs[c]),
            Aggregate::AvgDistinct(c) => avg_result_meta(&inputs[c]),
            Aggregate::Bit { .. } => Ok(bit_meta()),
            Aggregate::Variance { column, .. } => variance_meta(&inputs[column]),
            Aggregate::VarianceParts { typed, .. } => variance_meta(&inputs[typed]),
            Aggregate::GroupConcat(ref spec) => Ok(group_concat_meta(
                spec,
                inputs,
                settings.group_concat_max_len,
                settings.result_charset,
                settings.materialized,
                settings.connection_binsort,
            )),
            Aggregate::First(c) | Aggregate::Min(c) | Aggregate::Max(c) => Ok(inputs[c]),
            // The shards' own COUNT column describes the merged one exactly.
            Aggregate::Count(c) if inputs[c].kind().is_integer() => Ok(inputs[c]),
            Aggregate::Count(_) | Aggregate::CountValues(_) | Aggregate::CountRows => {
                Ok(count_meta())
            }
            Aggregate::Sum(c) => {
                let m = inputs[c];
                match m.kind() {
                    ValueKind::Decimal | ValueKind::Double => Ok(m),
                    // A partial SUM is always DECIMAL or DOUBLE; take anything else as raw.
                    _ => sum_result_meta(&m),
                }
            }
            Aggregate::SumValues(c) => sum_result_meta(&inputs[c]),
            Aggregate::Avg { sum, count } => {
                if !inputs[count].kind().is_integer() {
                    return Err(MergeError::Unsupported(format!(
                        "AVG needs an integer COUNT column, column {count} is {:?}",
                        inputs[count].column_type
                    )));
                }
                avg_meta_from_sum(&inputs[sum])
            }
            Aggregate::AvgValues(c) => avg_result_meta(&inputs[c]),
        }
    }
}

/// `MIN` / `MAX` of `column` as MariaDB describes the item: the column's type (an `ENUM` /
/// `SET` as a `VARCHAR`), nullable, with none of its flags but `UNSIGNED_FLAG` and
/// `BINARY_FLAG` (numbers, temporal values and binary strings have it); a string's decimals
/// are `NOT_FIXED_DEC`. Idempotent: a shard's own `MIN` column stays as it is.
pub fn extreme_meta(column: &ColumnMeta) -> ColumnMeta {
    let mut item = *column;
    item.flags &= ColumnFlags::UNSIGNED_FLAG;
    if column.charset == 63 {
        item.flags |= ColumnFlags::BINARY_FLAG;
    }
    if column.kind() == ValueKind::Bytes {
        item.decimals = NOT_FIXED_DEC;
        if (column.flags).intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG) {
            item.column_type = ColumnType::MYSQL_TYPE_VAR_STRING;
        }
    }
    item
}

/// `COUNT(...)`: `BIGINT(21) NOT NULL`.
pub fn count_meta() -> ColumnMeta {
    ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG)
        .with_flags(ColumnFlags::NOT_NULL_FLAG | ColumnFlags::BINARY_FLAG)
        .with_length(21)
}

/// Flags of a computed `SUM`/`AVG` column. (`NUM_FLAG`, which `--column-type-info` shows,
/// is added by the client library; MariaDB does not send it.)
fn numeric_flags() -> ColumnFlags {
    ColumnFlags::BINARY_FLAG
}

/// MariaDB's `float_length(decimals)`: display length of a `DOUBLE` result.
fn float_length(decimals: u8) -> u32 {
    if decimals < NOT_FIXED_DEC {
        15 + 2 + u32::from(decimals)
    } else {
        23
    }
}

/// Decimal precision of an exact column: its length less sign and point.
pub(crate) fn exact_precision(m: &ColumnMeta) -> u32 {
    let sign = u32::from(!m.is_unsigned());
    let point = u32::from(m.kind() == ValueKind::Decimal && m.decimals > 0);
    m.length.saturating_sub(sign + point).max(1)
}

fn decimal_meta(precision: u32, scale: u8) -> ColumnMeta {
    ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
        .with_flags(numeric_flags())
        .with_decimals(scale)
        .with_length(precision + u32::from(scale > 0) + 1)
}

fn double_meta(decimals: u8, length: u32) -> ColumnMeta {
    ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE)
        .with_flags(numeric_flags())
        .with_decimals(decimals)
        .with_length(length)
}

fn is_exact(kind: ValueKind) -> bool {
    matches!(kind, ValueKind::Decimal) || kind.is_integer()
}

fn temporal_unsupported(what: &str, m: &ColumnMeta) -> MergeError {
    MergeError::Unsupported(format!(
        "{what} of a {:?} column cannot be merged",
        m.column_type
    ))
}

/// Fixed decimals of a floating-point input (strings and not-fixed doubles: 31).
fn float_decimals(m: &ColumnMeta) -> u8 {
    match m.kind() {
        ValueKind::Float | ValueKind::Double if m.decimals < NOT_FIXED_DEC => m.decimals,
        _ => NOT_FIXED_DEC,
    }
}

/// MariaDB's `SUM(x)` column for an `x` column.
pub fn sum_result_meta(input: &ColumnMeta) -> Result<ColumnMeta> {
    let kind = input.kind();
    if matches!(
        kind,
        ValueKind::Date | ValueKind::DateTime | ValueKind::Time
    ) {
        return Err(temporal_unsupported("SUM", input));
    }
    if is_exact(kind) {
        let p = (exact_precision(input) + 22).min(MAX_PRECISION);
        let scale = if kind == ValueKind::Decimal {
            input.decimals
        } else {
            0
        };
        return Ok(decimal_meta(p, scale));
    }
    let d = float_decimals(input);
    Ok(double_meta(d, float_length(d)))
}

/// MariaDB's `AVG(x)` column for an `x` column.
pub fn avg_result_meta(input: &ColumnMeta) -> Result<ColumnMeta> {
    let kind = input.kind();
    if matches!(
        kind,
        ValueKind::Date | ValueKind::DateTime | ValueKind::Time
    ) {
        return Err(temporal_unsupported("AVG", input));
    }
    if is_exact(kind) {
        let s = if kind == ValueKind::Decimal {
            input.decimals
        } else {
            0
        };
        let scale = (u32::from(s) + 4).min(MAX_SCALE) as u8;
        return Ok(decimal_meta(exact_precision(input) + 4, scale));
    }
    let d = avg_double_decimals(float_decimals(input));
    Ok(double_meta(d, (input.length + 4).min(float_length(d))))
}

fn avg_double_decimals(d: u8) -> u8 {
    if d >= NOT_FIXED_DEC {
        NOT_FIXED_DEC
    } else {
        (d + 4).min(NOT_FIXED_DEC)
    }
}

/// MariaDB's `AVG(x)` column, knowing only the shards' `SUM(x)` column (what the executor
/// sees after the planner rewrote `AVG(x)` into `SUM(x), COUNT(x)`). Type and decimals are
/// exact; the display length is exact for `DECIMAL` results below 65 digits and
/// approximate for `DOUBLE` results.
pub fn avg_meta_from_sum(sum: &ColumnMeta) -> Result<ColumnMeta> {
    match sum.kind() {
        ValueKind::Decimal => {
            let s = sum.decimals;
            let p_sum = sum.length.saturating_sub(u32::from(s > 0) + 1);
            let p = if p_sum >= MAX_PRECISION {
                MAX_PRECISION
            } else {
                p_sum.saturating_sub(22).max(1)
            };
            let scale = (u32::from(s) + 4).min(MAX_SCALE) as u8;
            Ok(decimal_meta(p + 4, scale))
        }
        ValueKind::Double | ValueKind::Float => {
            let d = avg_double_decimals(float_decimals(sum));
            Ok(double_meta(d, float_length(d)))
        }
        _ => avg_result_meta(sum),
    }
}

/// A running sum.
#[derive(Debug, Clone)]
pub(crate) enum Sum {
    Empty,
    Exact(Decimal),
    Double(f64),
}

impl Sum {
    pub(crate) fn add(&mut self, v: &Value, exact: bool) {
        if v.is_null() {
            return;
        }
        if exact {
            let d = v
                .as_decimal()
                .unwrap_or_else(|| Decimal::from_f64_exact(v.to_f64().unwrap_or(0.0)));
            *self = match std::mem::replace(self, Sum::Empty) {
                Sum::Exact(s) => Sum::Exact(s.add(&d)),
                _ => Sum::Exact(d),
            };
        } else {
            let f = v.to_f64().unwrap_or(0.0);
            *self = match self {
                Sum::Double(s) => Sum::Double(*s + f),
                _ => Sum::Double(f),
            };
        }
    }
}

/// The state of one output column for one group.
#[derive(Debug, Clone)]
pub(crate) enum Acc {
    First(Option<Option<Bytes>>),
    Count(u64),
    Sum(Sum),
    Extreme(Option<(Value, Bytes)>),
    Avg(Sum, u64),
    Distinct(DistinctValues),
    Bits(u64),
    Moments(Moments),
    PartialMoments(PartialMoments),
    Concat(Concat),
}

impl Acc {
    /// Approximate bytes held.
    pub(crate) fn size(&self) -> u64 {
        let held = match self {
            Acc::First(Some(Some(b))) | Acc::Extreme(Some((_, b))) => b.len(),
            Acc::Distinct(d) => d.size() as usize,
            Acc::Concat(c) => c.size() as usize,
            _ => 0,
        };
        held as u64 + 48
    }
}

/// Applies a list of [`Aggregate`]s to rows: the shared core of the ordered and hash
/// aggregate operators.
#[derive(Debug, Clone)]
pub(crate) struct Aggregator {
    outputs: Vec<Aggregate>,
    inputs: Vec<ColumnMeta>,
    results: Vec<ColumnMeta>,
    /// Per output: whether sums are exact.
    exact: Vec<bool>,
    pub(crate) group: RowOrder,
    settings: AggregateSettings,
    /// GROUP_CONCAT results cut at `group_concat_max_len` so far (MariaDB's warning 1260):
    /// how many, and the row each of the first [`KEPT_WARNINGS`] was cut in.
    cuts: std::cell::Cell<u64>,
    cut_rows: std::cell::RefCell<Vec<u64>>,
}

/// MariaDB's default `max_error_count`: conditions kept beyond it are only counted.
pub(crate) const KEPT_WARNINGS: usize = 64;

impl Aggregator {
    pub(crate) fn new(
        group_by: &[usize],
        outputs: Vec<Aggregate>,
        inputs: &[ColumnMeta],
        settings: AggregateSettings,
    ) -> Result<Aggregator> {
        let results = outputs
            .iter()
            .map(|a| a.result_meta_with(inputs, &settings))
            .collect::<Result<Vec<_>>>()?;
        let exact = results
            .iter()
            .map(|m| m.kind() == ValueKind::Decimal)
            .collect();
        let keys: Vec<SortKey> = group_by.iter().map(|&c| SortKey::asc(c)).collect();
        Ok(Aggregator {
            group: RowOrder::new(&keys, inputs)?,
            outputs,
            inputs: inputs.to_vec(),
            results,
            exact,
            settings,
            cuts: std::cell::Cell::new(0),
            cut_rows: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// The warnings of the groups finished so far (1260 for each cut GROUP_CONCAT), and
    /// how many there were in all.
    pub(crate) fn warnings(&self) -> (Vec<MergeWarning>, u64) {
        let kept = self
            .cut_rows
            .borrow()
            .iter()
            .map(|row| MergeWarning::group_concat_cut(*row))
            .collect();
        (kept, self.cuts.get())
    }

    pub(crate) fn outputs(&self) -> &[Aggregate] {
        &self.outputs
    }

    pub(crate) fn result_columns(&self) -> &[ColumnMeta] {
        &self.results
    }

    pub(crate) fn start(&self) -> Vec<Acc> {
        self.outputs
            .iter()
            .map(|a| match a {
                Aggregate::First(_) => Acc::First(None),
                Aggregate::Count(_) | Aggregate::CountValues(_) | Aggregate::CountRows => {
                    Acc::Count(0)
                }
                Aggregate::Sum(_) | Aggregate::SumValues(_) => Acc::Sum(Sum::Empty),
                Aggregate::Min(_) | Aggregate::Max(_) => Acc::Extreme(None),
                Aggregate::Avg { .. } | Aggregate::AvgValues(_) => Acc::Avg(Sum::Empty, 0),
                Aggregate::CountDistinct(_) => {
                    Acc::Distinct(DistinctValues::new(false, self.settings.memory))
                }
                Aggregate::SumDistinct(_) | Aggregate::AvgDistinct(_) => {
                    Acc::Distinct(DistinctValues::new(true, self.settings.memory))
                }
                Aggregate::Bit { op, .. } => Acc::Bits(op.identity()),
                Aggregate::Variance { .. } => Acc::Moments(Moments::new()),
                Aggregate::VarianceParts { .. } => Acc::PartialMoments(PartialMoments::new()),
                Aggregate::GroupConcat(_) => Acc::Concat(Concat::new(self.settings.memory)),
            })
            .collect()
    }

    fn count_of(&self, row: &TextRow, c: usize) -> Result<u64> {
        let v = row.value(c, &self.inputs[c])?;
        match v {
            Value::Null => Ok(0),
            other => other
                .as_i128()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(|| MergeError::BadValue {
                    column: c,
                    column_type: self.inputs[c].column_type,
                    text: format!("{other:?} is not a count"),
                }),
        }
    }

    /// Folds one input row into a group's state.
    pub(crate) fn update(&self, accs: &mut [Acc], row: &TextRow) -> Result<()> {
        for (i, (agg, acc)) in self.outputs.iter().zip(accs.iter_mut()).enumerate() {
            match (agg, acc) {
                (Aggregate::First(c), Acc::First(first)) => {
                    if first.is_none() {
                        *first = Some(row.cell(*c).map(Bytes::copy_from_slice));
                    }
                }
                (Aggregate::Count(c), Acc::Count(n)) => {
                    *n = n.checked_add(self.count_of(row, *c)?).ok_or_else(|| {
                        MergeError::OutOfRange {
                            type_name: "BIGINT",
                            expr: "COUNT".into(),
                        }
                    })?;
                }
                (Aggregate::CountValues(c), Acc::Count(n)) => {
                    *n += u64::from(row.cell(*c).is_some());
                }
                (Aggregate::CountRows, Acc::Count(n)) => *n += 1,
                (Aggregate::Sum(c) | Aggregate::SumValues(c), Acc::Sum(s)) => {
                    s.add(&row.value(*c, &self.inputs[*c])?, self.exact[i]);
                }
                (Aggregate::Min(c) | Aggregate::Max(c), Acc::Extreme(best)) => {
                    let meta = &self.inputs[*c];
                    let v = row.value(*c, meta)?;
                    if v.is_null() {
                        continue;
                    }
                    let wins = match best {
                        None => true,
                        Some((b, _)) => {
                            let o = compare_values(&v, b, meta.collation());
                            if matches!(agg, Aggregate::Min(_)) {
                                o.is_lt()
                            } else {
                                o.is_gt()
                            }
                        }
                    };
                    if wins {
                        // Copy the cell so the group does not keep the whole row alive.
                        let cell = Bytes::copy_from_slice(row.cell(*c).unwrap_or_default());
                        let v = Value::decode(Some(cell.clone()), meta, *c)?;
                        *best = Some((v, cell));
                    }
                }
                (Aggregate::Avg { sum, count }, Acc::Avg(s, n)) => {
                    s.add(&row.value(*sum, &self.inputs[*sum])?, self.exact[i]);
                    *n += self.count_of(row, *count)?;
                }
                (Aggregate::AvgValues(c), Acc::Avg(s, n)) => {
                    let v = row.value(*c, &self.inputs[*c])?;
                    if !v.is_null() {
                        s.add(&v, self.exact[i]);
                        *n += 1;
                    }
                }
                (Aggregate::CountDistinct(cs), Acc::Distinct(d)) => {
                    let values = cs
                        .iter()
                        .map(|&c| row.value(c, &self.inputs[c]))
                        .collect::<Result<Vec<_>>>()?;
                    let metas: Vec<&ColumnMeta> = cs.iter().map(|&c| &self.inputs[c]).collect();
                    d.insert(values, &metas)?;
                }
                (Aggregate::SumDistinct(c) | Aggregate::AvgDistinct(c), Acc::Distinct(d)) => {
                    let v = row.value(*c, &self.inputs[*c])?;
                    d.insert(vec![v], &[&self.inputs[*c]])?;
                }
                (Aggregate::Bit { op, column }, Acc::Bits(bits)) => {
                    let meta = &self.inputs[*column];
                    if let Some(b) = bits_of(&row.value(*column, meta)?, *column, meta)? {
                        *bits = op.fold(*bits, b);
                    }
                }
                (Aggregate::Variance { column, .. }, Acc::Moments(m)) => {
                    let meta = &self.inputs[*column];
                    m.add(&row.value(*column, meta)?, *column, meta)?;
                }
                (
                    Aggregate::VarianceParts {
                        count,
                        sum,
                        pop_variance,
                        ..
                    },
                    Acc::PartialMoments(m),
                ) => {
                    let n = self.count_of(row, *count)?;
                    let s = row.value(*sum, &self.inputs[*sum])?.as_decimal();
                    let v = row
                        .value(*pop_variance, &self.inputs[*pop_variance])?
                        .to_f64();
                    m.add(n, s, v);
                }
                (Aggregate::GroupConcat(spec), Acc::Concat(c)) => {
                    c.add(spec, row, &self.inputs)?;
                }
                _ => unreachable!("accumulators are built from the same outputs"),
            }
        }
        Ok(())
    }

    /// The result row of a group.
    pub(crate) fn finish(&self, accs: &[Acc]) -> Result<Bytes> {
        let mut w = RowWriter::with_capacity(accs.len() * 8);
        for ((acc, meta), (agg, exact)) in accs
            .iter()
            .zip(&self.results)
            .zip(self.outputs.iter().zip(&self.exact))
        {
            match acc {
                Acc::Distinct(d) => match agg {
                    Aggregate::SumDistinct(_) => w.push_value(&finish_sum(&d.sum(*exact), meta)?),
                    Aggregate::AvgDistinct(_) => {
                        w.push_value(&finish_avg(&d.sum(*exact), d.count(), meta)?)
                    }
                    _ => w.push_value(&Value::UInt(d.count())),
                },
                Acc::Bits(b) => w.push_value(&Value::UInt(*b)),
                Acc::Moments(m) => {
                    let Aggregate::Variance { kind, .. } = agg else {
                        unreachable!("moments are a variance's")
                    };
                    w.push_value(&m.finish(*kind, meta)?)
                }
                Acc::PartialMoments(m) => {
                    let Aggregate::VarianceParts { kind, .. } = agg else {
                        unreachable!("partial moments are a variance's")
                    };
                    w.push_value(&m.finish(*kind, meta)?)
                }
                Acc::Concat(c) => {
                    let Aggregate::GroupConcat(spec) = agg else {
                        unreachable!("a concatenation is a GROUP_CONCAT's")
                    };
                    let done = c.finish(spec, &self.inputs, self.settings.group_concat_max_len)?;
                    if let Some(row) = done.cut_in_row {
                        self.cuts.set(self.cuts.get() + 1);
                        let mut rows = self.cut_rows.borrow_mut();
                        if rows.len() < KEPT_WARNINGS {
                            rows.push(row);
                        }
                    }
                    w.push_cell(done.text.as_deref());
                }
                Acc::First(first) => w.push_cell(first.as_ref().and_then(|c| c.as_deref())),
                Acc::Count(n) => w.push_value(&Value::UInt(*n)),
                Acc::Extreme(best) => w.push_cell(best.as_ref().map(|(_, c)| &c[..])),
                Acc::Sum(s) => w.push_value(&finish_sum(s, meta)?),
                Acc::Avg(s, n) => w.push_value(&finish_avg(s, *n, meta)?),
            }
        }
        Ok(w.finish())
    }
}

fn double_value(v: f64, meta: &ColumnMeta, what: &str) -> Result<Value> {
    if !v.is_finite() {
        return Err(MergeError::OutOfRange {
            type_name: "DOUBLE",
            expr: what.into(),
        });
    }
    Ok(Value::Double {
        value: v,
        decimals: meta.decimals,
    })
}

fn finish_sum(s: &Sum, meta: &ColumnMeta) -> Result<Value> {
    match s {
        Sum::Empty => Ok(Value::Null),
        Sum::Exact(d) => Ok(Value::Decimal(d.rescale(u32::from(meta.decimals)))),
        Sum::Double(f) => double_value(*f, meta, "SUM"),
    }
}

fn finish_avg(s: &Sum, n: u64, meta: &ColumnMeta) -> Result<Value> {
    if n == 0 {
        return Ok(Value::Null);
    }
    match s {
        Sum::Exact(d) => Ok(d
            .div_round(&Decimal::from(n), u32::from(meta.decimals))
            .map_or(Value::Null, Value::Decimal)),
        Sum::Double(f) => double_value(*f / n as f64, meta, "AVG"),
        Sum::Empty => Ok(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: ColumnType, len: u32, dec: u8, unsigned: bool) -> ColumnMeta {
        let mut flags = ColumnFlags::NUM_FLAG;
        if unsigned {
            flags |= ColumnFlags::UNSIGNED_FLAG;
        }
        ColumnMeta::new(t)
            .with_length(len)
            .with_decimals(dec)
            .with_flags(flags)
    }

    /// MariaDB 10.11's `MIN` / `MAX` items over a table's columns.
    #[test]
    fn extremes_are_described_as_their_items() {
        use ColumnFlags as F;
        let id = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG).with_flags(
            F::NOT_NULL_FLAG | F::PRI_KEY_FLAG | F::PART_KEY_FLAG | F::AUTO_INCREMENT_FLAG,
        );
        assert_eq!(extreme_meta(&id).flags, F::BINARY_FLAG);
        let unsigned = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG).with_flags(F::UNSIGNED_FLAG);
        assert_eq!(
            extreme_meta(&unsigned).flags,
            F::UNSIGNED_FLAG | F::BINARY_FLAG
        );
        let mut e = ColumnMeta::new(ColumnType::MYSQL_TYPE_STRING).with_flags(F::ENUM_FLAG);
        e.charset = 45;
        let item = extreme_meta(&e);
        assert_eq!(
            (item.column_type, item.flags, item.decimals),
            (ColumnType::MYSQL_TYPE_VAR_STRING, F::empty(), NOT_FIXED_DEC)
        );
        assert_eq!(extreme_meta(&item), item);
        let mut blob =
            ColumnMeta::new(ColumnType::MYSQL_TYPE_BLOB).with_flags(F::BLOB_FLAG | F::BINARY_FLAG);
        blob.charset = 63;
        assert_eq!(extreme_meta(&blob).flags, F::BINARY_FLAG);
    }

    /// (input, SUM type/length/decimals, AVG type/length/decimals) as MariaDB 10.11 reports.
    #[test]
    fn result_metadata_matches_mariadb() {
        use ColumnType::*;
        let d = MYSQL_TYPE_NEWDECIMAL;
        let f = MYSQL_TYPE_DOUBLE;
        let cases = [
            (col(MYSQL_TYPE_LONG, 11, 0, false), (d, 33, 0), (d, 16, 4)),
            (col(MYSQL_TYPE_TINY, 4, 0, false), (d, 26, 0), (d, 9, 4)),
            (col(MYSQL_TYPE_INT24, 9, 0, false), (d, 31, 0), (d, 14, 4)),
            (
                col(MYSQL_TYPE_LONGLONG, 20, 0, false),
                (d, 42, 0),
                (d, 25, 4),
            ),
            (
                col(MYSQL_TYPE_LONGLONG, 20, 0, true),
                (d, 43, 0),
                (d, 26, 4),
            ),
            (col(MYSQL_TYPE_SHORT, 5, 0, true), (d, 28, 0), (d, 11, 4)),
            (col(MYSQL_TYPE_YEAR, 4, 0, true), (d, 27, 0), (d, 10, 4)),
            (col(MYSQL_TYPE_BIT, 8, 0, true), (d, 31, 0), (d, 14, 4)),
            (col(d, 12, 3, false), (d, 34, 3), (d, 16, 7)),
            (col(d, 6, 2, true), (d, 29, 2), (d, 11, 6)),
            (col(d, 67, 30, false), (d, 67, 30), (d, 71, 34)),
            (col(d, 66, 0, false), (d, 66, 0), (d, 71, 4)),
            (col(d, 40, 36, false), (d, 62, 36), (d, 44, 38)),
            (col(f, 22, 31, false), (f, 23, 31), (f, 23, 31)),
            (
                col(MYSQL_TYPE_FLOAT, 12, 31, false),
                (f, 23, 31),
                (f, 16, 31),
            ),
            (col(f, 10, 2, false), (f, 19, 2), (f, 14, 6)),
            (col(MYSQL_TYPE_FLOAT, 7, 3, false), (f, 20, 3), (f, 11, 7)),
            (col(f, 30, 28, false), (f, 45, 28), (f, 23, 31)),
        ];
        for (input, sum, avg) in cases {
            let s = sum_result_meta(&input).unwrap();
            let a = avg_result_meta(&input).unwrap();
            assert_eq!(
                (s.column_type, s.length, s.decimals),
                sum,
                "SUM of {input:?}"
            );
            assert_eq!(
                (a.column_type, a.length, a.decimals),
                avg,
                "AVG of {input:?}"
            );
            let from_sum = avg_meta_from_sum(&s).unwrap();
            assert_eq!(
                (from_sum.column_type, from_sum.decimals),
                (avg.0, avg.2),
                "AVG from {s:?}"
            );
            if avg.0 == d && sum.1 < 66 {
                assert_eq!(from_sum.length, avg.1, "AVG length from {s:?}");
            }
        }
        let c = count_meta();
        assert_eq!(
            (c.column_type, c.length, c.decimals),
            (MYSQL_TYPE_LONGLONG, 21, 0)
        );
        assert!(sum_result_meta(&ColumnMeta::new(MYSQL_TYPE_DATE)).is_err());
    }
}
