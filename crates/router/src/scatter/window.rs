//! Window functions the merge computes (`merge::Window`): a window that does not partition by
//! a shard key has partitions across shards. The shards send every row sorted by the
//! window's partition and order, each computing the window over its own rows (so the column
//! arrives described as MariaDB describes it); the merge sorts the streams into one and
//! replaces those values by the window's over all the rows, then ORDER BY and LIMIT.
//!
//! One window per statement (every function `OVER` the same `PARTITION BY … ORDER BY …`),
//! each function a whole select item: `ROW_NUMBER`, `RANK`, `DENSE_RANK`, `COUNT` / `SUM` /
//! `AVG` / `MIN` / `MAX` without DISTINCT, `LAG` / `LEAD` (an offset as a number, no default),
//! `NTILE(n)`, `FIRST_VALUE` / `LAST_VALUE` / `NTH_VALUE`, `PERCENT_RANK`, `CUME_DIST`; the
//! aggregates also over a frame of rows of their own ([`rows_frame`]). Anything else keeps the
//! copies.

use shardgate_merge::{RowsFrame, WindowFunction};
use sqlparser::ast::{
    FunctionArgumentList, WindowFrame, WindowFrameBound, WindowFrameUnits, WindowSpec as Over,
    WindowType,
};

use super::*;
use crate::WindowSpec;

impl<'a> ScatterBuilder<'a> {
    /// A SELECT whose window functions the merge computes.
    pub(super) fn build_window(mut self) -> Result<Built, RouteError> {
        let (offset, limit) = self.limit()?;
        let mut windowed: Vec<(usize, &'a Function)> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let Some(e) = item.expr else { continue };
            match strip(e) {
                Expr::Function(f) if f.over.is_some() => windowed.push((i, f)),
                _ if has_window(e) => {
                    return Err(self.refuse(format!(
                    "`{e}` computes with a window function across shards (only whole select items)"
                )))
                }
                _ => {}
            }
        }
        let spec = self.one_window(&windowed)?;
        // Hidden columns follow a `*`: where its columns end must be known.
        self.expand_stars()?;
        self.push_visible_items();
        let mut functions = Vec::new();
        for &(i, f) in &windowed {
            let function = self.window_function(f)?;
            functions.push((self.item_start(i), function));
        }
        let partition_by: Vec<usize> = spec
            .partition_by
            .iter()
            .map(|p| self.cols.expr(p))
            .collect();
        let mut order_by = Vec::new();
        for term in &spec.order_by {
            if term.options.nulls_first.is_some() || term.with_fill.is_some() {
                return Err(self.refuse(format!("the window's ORDER BY `{term}`")));
            }
            order_by.push(SortKey {
                column: self.cols.expr(&term.expr),
                descending: Self::direction(term),
            });
        }
        let mut sort = Vec::new();
        for term in self.order_terms() {
            let column = match self.order_target(&term.expr)? {
                Target::Skip => continue,
                Target::Position(p) if p < self.visible_width() => p,
                Target::Position(p) => {
                    return Err(self.refuse(format!("ORDER BY position {} does not exist", p + 1)))
                }
                Target::Item(i) => {
                    if let Some(alias) = self.items[i].alias {
                        self.check_alias_against_stars(&alias.value)?;
                    }
                    self.item_start(i)
                }
                Target::Expr(e) if has_window(e) => {
                    return Err(self.refuse(format!(
                        "ORDER BY `{e}` computes with a window function across shards"
                    )))
                }
                Target::Expr(e) => self.cols.expr(e),
            };
            sort.push(SortKey {
                column,
                descending: Self::direction(term),
            });
        }
        let merge_keys: Vec<SortKey> = (partition_by.iter().map(|&c| SortKey::asc(c)))
            .chain(order_by.iter().copied())
            .collect();
        if sorted_by_window(&sort, &merge_keys, partition_by.is_empty(), &functions) {
            sort.clear();
        }
        let sql_tree = self.shard_statement(None, &merge_keys, None, true);
        let visible = self.visible_width();
        Ok(Built::of(
            sql_tree,
            MergeSpec {
                merge_keys,
                window: Some(WindowSpec {
                    partition_by,
                    order_by,
                    functions,
                }),
                sort,
                offset,
                limit,
                visible,
                ..MergeSpec::default()
            },
            self.cols,
        ))
    }

    /// The one window every function is computed over: the same PARTITION BY and ORDER BY,
    /// MariaDB's default frame.
    fn one_window(&self, windowed: &[(usize, &'a Function)]) -> Result<&'a Over, RouteError> {
        let mut specs = windowed.iter().map(|(_, f)| match &f.over {
            Some(WindowType::WindowSpec(spec)) => Ok(spec),
            _ => Err(self.refuse(format!("the named window of `{f}`"))),
        });
        let first = specs
            .next()
            .ok_or_else(|| self.refuse("a window function outside the select list"))??;
        for spec in specs {
            let spec = spec?;
            if spec.partition_by != first.partition_by || spec.order_by != first.order_by {
                return Err(self.refuse(
                    "window functions over different windows across shards (the merge computes one window)",
                ));
            }
        }
        for spec in windowed.iter().filter_map(|(_, f)| match &f.over {
            Some(WindowType::WindowSpec(spec)) => Some(spec),
            _ => None,
        }) {
            if spec.window_name.is_some() {
                return Err(self.refuse(format!("the named window `{spec}` across shards")));
            }
        }
        Ok(first)
    }

    /// What the merge computes for the window function call `f`, over its frame.
    fn window_function(&mut self, f: &Function) -> Result<WindowFunction, RouteError> {
        let no = |this: &Self| this.refuse(format!("the window `{f}` across shards"));
        let Some(WindowType::WindowSpec(spec)) = &f.over else {
            return Err(no(self));
        };
        let frame = match &spec.window_frame {
            None => None,
            Some(frame) => rows_frame(frame, !spec.order_by.is_empty()).map_err(|()| no(self))?,
        };
        match (self.over_default_frame(f)?, frame) {
            (function, None) => Ok(function),
            (WindowFunction::Aggregate(aggregate), Some(frame)) => {
                Ok(WindowFunction::FramedAggregate { aggregate, frame })
            }
            _ => Err(no(self)),
        }
    }

    /// What the merge computes for the window function call `f` over MariaDB's default frame.
    fn over_default_frame(&mut self, f: &Function) -> Result<WindowFunction, RouteError> {
        let no = |this: &Self| this.refuse(format!("the window function `{f}` across shards"));
        if f.filter.is_some() || f.null_treatment.is_some() || !f.within_group.is_empty() {
            return Err(no(self));
        }
        let args: &[FunctionArg] = match &f.args {
            FunctionArguments::None => &[],
            FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args,
                clauses,
            }) if clauses.is_empty() => args,
            _ => return Err(no(self)),
        };
        let name = function_name(f).unwrap_or_default();
        // A non-negative whole number as written: LAG / LEAD's offset, NTILE's buckets.
        let count = |e: &Expr| match strip(e) {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<u64>().ok(),
                _ => None,
            },
            _ => None,
        };
        if let ("lag" | "lead", [FunctionArg::Unnamed(FunctionArgExpr::Expr(e)), rest @ ..]) =
            (name.as_str(), args)
        {
            let offset = match rest {
                [] => Some(1),
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(n))] => count(n),
                _ => None,
            };
            let Some(offset) =
                offset.filter(|_| !has_window(e) && !scan(e, self.table).unwrap_or(true))
            else {
                return Err(no(self));
            };
            let column = self.cols.expr(e);
            return Ok(match name.as_str() {
                "lag" => WindowFunction::Lag { column, offset },
                _ => WindowFunction::Lead { column, offset },
            });
        }
        // A column's value along the partition.
        let shown = |this: &mut Self, e: &Expr| -> Result<usize, RouteError> {
            if has_window(e) || scan(e, this.table)? {
                return Err(no(this));
            }
            Ok(this.cols.expr(e))
        };
        match (name.as_str(), args) {
            ("first_value" | "last_value", [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))]) => {
                let column = shown(self, e)?;
                return Ok(match name.as_str() {
                    "first_value" => WindowFunction::FirstValue(column),
                    _ => WindowFunction::LastValue(column),
                });
            }
            (
                "nth_value",
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(e)), FunctionArg::Unnamed(FunctionArgExpr::Expr(n))],
            ) => {
                let n = count(n).filter(|n| *n > 0).ok_or_else(|| no(self))?;
                let column = shown(self, e)?;
                return Ok(WindowFunction::NthValue { column, n });
            }
            ("percent_rank", []) => return Ok(WindowFunction::PercentRank),
            ("cume_dist", []) => return Ok(WindowFunction::CumeDist),
            _ => {}
        }
        if let ("ntile", [FunctionArg::Unnamed(FunctionArgExpr::Expr(n))]) = (name.as_str(), args) {
            return match count(n) {
                Some(buckets) if buckets > 0 => Ok(WindowFunction::Ntile(buckets)),
                _ => Err(no(self)),
            };
        }
        let argument = match args {
            [] => None,
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] => Some(None),
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(Some(e)),
            _ => return Err(no(self)),
        };
        Ok(match (name.as_str(), argument) {
            ("row_number", None) => WindowFunction::RowNumber,
            ("rank", None) => WindowFunction::Rank,
            ("dense_rank", None) => WindowFunction::DenseRank,
            ("count", Some(None)) => WindowFunction::Aggregate(Aggregate::CountRows),
            (name, Some(Some(e))) => {
                if has_window(e) || scan(e, self.table)? {
                    return Err(no(self));
                }
                let c = self.cols.expr(e);
                WindowFunction::Aggregate(match name {
                    "count" => Aggregate::CountValues(c),
                    "sum" => Aggregate::SumValues(c),
                    "avg" => Aggregate::AvgValues(c),
                    "min" => Aggregate::Min(c),
                    "max" => Aggregate::Max(c),
                    _ => return Err(no(self)),
                })
            }
            _ => return Err(no(self)),
        })
    }
}

/// The frame `frame` stands for: `Ok(None)` for MariaDB's default (`RANGE BETWEEN UNBOUNDED
/// PRECEDING AND CURRENT ROW`), a frame of rows for `ROWS BETWEEN` bounds of whole numbers
/// (both bounded: at most [`MAX_FRAME_ROWS`] rows wide, each row's frame added up afresh) and
/// for `RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING` (the partition). Refused:
/// other `RANGE` and `GROUPS` frames, and a `ROWS` frame that is not the whole partition in a
/// window without ORDER BY (its rows come in no order).
fn rows_frame(frame: &WindowFrame, ordered: bool) -> Result<Option<RowsFrame>, ()> {
    let end = frame
        .end_bound
        .as_ref()
        .unwrap_or(&WindowFrameBound::CurrentRow);
    let offset = |n: &Expr| -> Result<i64, ()> {
        match strip(n) {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<u32>().map(i64::from).map_err(drop),
                _ => Err(()),
            },
            _ => Err(()),
        }
    };
    // A bound as an offset from the current row (`None`: unbounded, only at its own end).
    let offset_of = |bound: &WindowFrameBound, is_start: bool| match bound {
        WindowFrameBound::CurrentRow => Ok(Some(0)),
        WindowFrameBound::Preceding(Some(n)) => Ok(Some(-offset(n)?)),
        WindowFrameBound::Following(Some(n)) => Ok(Some(offset(n)?)),
        WindowFrameBound::Preceding(None) if is_start => Ok(None),
        WindowFrameBound::Following(None) if !is_start => Ok(None),
        _ => Err(()),
    };
    let (start, end) = (offset_of(&frame.start_bound, true)?, offset_of(end, false)?);
    let rows = RowsFrame { start, end };
    let whole = start.is_none() && end.is_none();
    match frame.units {
        WindowFrameUnits::Range if start.is_none() && end == Some(0) => Ok(None),
        WindowFrameUnits::Range if whole => Ok(Some(rows)),
        WindowFrameUnits::Rows if !ordered && !whole => Err(()),
        WindowFrameUnits::Rows => match (start, end) {
            (Some(s), Some(e)) if e - s > MAX_FRAME_ROWS => Err(()),
            _ => Ok(Some(rows)),
        },
        _ => Err(()),
    }
}

/// The widest frame bounded at both ends the merge computes (each row's afresh).
const MAX_FRAME_ROWS: i64 = 1000;

/// Whether `e` calls a window function.
fn has_window(e: &Expr) -> bool {
    visit_expressions(e, |x| match x {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Whether rows leaving the window (in its order, `merge_keys`) are already in the
/// final ORDER BY's: a prefix of it, or, over one partition, the order of a
/// `ROW_NUMBER()` (unique) or of a rank alone (ties in no order).
fn sorted_by_window(
    sort: &[SortKey],
    merge_keys: &[SortKey],
    one_partition: bool,
    functions: &[(usize, WindowFunction)],
) -> bool {
    let function = |key: &SortKey| {
        (functions.iter())
            .find(|(c, _)| *c == key.column)
            .map(|(_, f)| f)
    };
    match sort {
        _ if merge_keys.starts_with(sort) => true,
        [first, ..] if one_partition && !first.descending => match function(first) {
            Some(WindowFunction::RowNumber) => true,
            Some(WindowFunction::Rank | WindowFunction::DenseRank) => sort.len() == 1,
            _ => false,
        },
        _ => false,
    }
}
