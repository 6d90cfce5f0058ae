//! GROUP BY and aggregates over the `Join` primitive. The joined rows are what a scatter's raw
//! plan has its shards send (`scatter/aggregate.rs`): the group columns and every aggregate's
//! arguments, each computed by the shard of the side it reads. The merge sorts them by the
//! group columns and computes the aggregates, then ORDER BY and LIMIT over the groups.
//!
//! Taken when every group term is a column (by name, select-list position or alias), every
//! plain item a column, every aggregate call one the merge computes from raw values with its
//! arguments on one side, and each value the merge compares (groups, MIN / MAX, DISTINCT
//! arguments, GROUP_CONCAT, sort keys) a column that compares in the proxy as in MariaDB.
//! `HAVING` over aggregates, group columns and numbers (comparisons, `+ - * /`, `AND` / `OR` /
//! `NOT`, `IS [NOT] NULL`, `BETWEEN`; an AVG / STDDEV / VARIANCE only compared, as its raw
//! merge has no more digits than it shows) is evaluated by the merge. `WITH ROLLUP`, `SELECT
//! DISTINCT`, expressions over aggregates in the select list and any other HAVING keep their
//! copies.

use shardgate_merge::{Aggregate, SortKey};
use sqlparser::ast::{Expr, GroupByExpr, Query, Select, SelectItem};

use super::{number, resolve, side_of, Compares, Side};
use crate::aggregate_fn::{self, AggFn};
use crate::scatter::column_names::{column_ref, select_list_texts, truncate_name};
use crate::scatter::select_form::{aggregate_call, scan};
use crate::{AggregateSpec, MergeSpec, Syntax};

/// The raw rows' columns and the merge over them.
pub(super) struct Grouping {
    /// Each raw column: its side and its position in that side's select list.
    pub raw: Vec<(usize, usize)>,
    /// Over the raw columns: `merge_keys` are the group columns the rows are sorted by first.
    pub merge: MergeSpec,
}

/// Whether `select` groups its rows: GROUP BY, HAVING, or an aggregate call in its select list
/// or ORDER BY.
pub(super) fn groups(query: &Query, select: &Select, sides: &[Side<'_>; 2]) -> bool {
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => !exprs.is_empty() || !modifiers.is_empty(),
        GroupByExpr::All(_) => true,
    };
    let Some(table) = sides[0].placing() else {
        return true;
    };
    let calls = |e: &Expr| scan(e, &table).unwrap_or(true);
    let in_items = select.projection.iter().any(|item| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => calls(e),
        _ => false,
    });
    let in_order = query.order_by.as_ref().is_some_and(|o| match &o.kind {
        sqlparser::ast::OrderByKind::Expressions(exprs) => exprs.iter().any(|t| calls(&t.expr)),
        _ => false,
    });
    grouped || select.having.is_some() || in_items || in_order
}

/// Plans the grouping of `select` (see the module's comment), adding the raw columns to the
/// sides' select lists; `None` when it keeps its copies.
pub(super) fn plan(
    sql: &str,
    syntax: Syntax,
    query: &Query,
    select: &Select,
    sides: &mut [Side<'_>; 2],
) -> Option<Grouping> {
    let GroupByExpr::Expressions(group_exprs, modifiers) = &select.group_by else {
        return None;
    };
    if !modifiers.is_empty() || select.distinct.is_some() {
        return None;
    }
    let texts = select_list_texts(sql, syntax, select.projection.len())?;
    let mut planner = Planner {
        table: sides[0].placing()?,
        sides,
        raw: Vec::new(),
        outputs: Vec::new(),
        names: Vec::new(),
    };
    // The select list: one output per item, in order.
    let mut items: Vec<(&Expr, Option<&sqlparser::ast::Ident>)> = Vec::new();
    for (item, text) in select.projection.iter().zip(texts) {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            _ => return None,
        };
        let output = planner.output_of(expr)?;
        let name = match (alias, &output) {
            (Some(alias), _) => alias.value.clone(),
            (None, Aggregate::First(_)) => column_ref(expr)?.to_owned(),
            (None, _) => truncate_name(text),
        };
        planner.outputs.push(output);
        planner.names.push(name);
        items.push((expr, alias));
    }
    let visible = items.len();
    // GROUP BY: columns, by name, position or the alias of a column item.
    let mut group_by = Vec::new();
    for g in group_exprs {
        let item = item_named(g, &items, planner.sides)?;
        let raw = match item {
            Some(i) => match planner.outputs[i] {
                Aggregate::First(c) => c,
                _ => return None,
            },
            None => planner.compared_column(g)?,
        };
        if !group_by.contains(&raw) {
            group_by.push(raw);
        }
    }
    // ORDER BY over the groups: an item (position, alias, the same expression), or another
    // column or aggregate computed hidden.
    let mut sort = Vec::new();
    if let Some(order_by) = &query.order_by {
        let sqlparser::ast::OrderByKind::Expressions(terms) = &order_by.kind else {
            return None;
        };
        if order_by.interpolate.is_some() {
            return None;
        }
        for term in terms {
            if term.options.nulls_first.is_some() || term.with_fill.is_some() {
                return None;
            }
            let same = items
                .iter()
                .position(|(e, _)| e.to_string() == term.expr.to_string());
            let output = match (item_named(&term.expr, &items, planner.sides)?, same) {
                (Some(i), _) | (None, Some(i)) => i,
                (None, None) => {
                    let output = planner.output_of(&term.expr)?;
                    planner.hidden(output, term.expr.to_string())
                }
            };
            if !planner.sorts_exactly(&planner.outputs[output]) {
                return None;
            }
            sort.push(SortKey {
                column: output,
                descending: term.options.sort == Some(sqlparser::ast::OrderBySort::Desc),
            });
        }
    }
    let having = match &select.having {
        Some(condition) => Some(planner.condition(condition, &items, false)?),
        None => None,
    };
    let (offset, limit) = super::limit_of(query)?;
    // The rows are sorted by the group columns: in ORDER BY's order and directions when it
    // names only group columns (then the groups need no sort after; MariaDB, too, sorts them
    // without a temporary table, which describes GROUP_CONCAT's column differently).
    let mut merge_keys: Vec<SortKey> = Vec::new();
    for key in &sort {
        match planner.outputs[key.column] {
            Aggregate::First(c) if group_by.contains(&c) => {
                if merge_keys.iter().all(|m| m.column != c) {
                    merge_keys.push(SortKey {
                        column: c,
                        descending: key.descending,
                    });
                }
            }
            _ => {
                merge_keys.clear();
                break;
            }
        }
    }
    if !merge_keys.is_empty() {
        sort.clear();
    }
    for &g in &group_by {
        if merge_keys.iter().all(|m| m.column != g) {
            merge_keys.push(SortKey::asc(g));
        }
    }
    Some(Grouping {
        raw: planner.raw,
        merge: MergeSpec {
            merge_keys,
            aggregate: Some(AggregateSpec {
                group_by,
                outputs: planner.outputs,
                names: planner.names,
                computed: Vec::new(),
                rollup: false,
            }),
            window: None,
            having,
            distinct: false,
            sort,
            offset,
            limit,
            visible,
        },
    })
}

/// Scalar functions a side's shard computes as the one server would (deterministic, of their
/// arguments alone).
const SCALAR_FUNCTIONS: &[&str] = &[
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "round",
    "truncate",
    "mod",
    "sign",
    "greatest",
    "least",
    "coalesce",
    "ifnull",
    "nullif",
    "if",
    "concat",
    "concat_ws",
    "lower",
    "upper",
    "lcase",
    "ucase",
    "length",
    "char_length",
    "character_length",
    "substring",
    "substr",
    "left",
    "right",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "year",
    "month",
    "day",
    "dayofmonth",
    "hour",
    "minute",
    "second",
    "date",
    "date_format",
    "quarter",
    "week",
    "weekday",
    "dayofweek",
    "to_days",
    "datediff",
];

/// The side whose shard computes `e` for a raw column: an expression of that side's columns
/// through operators, CAST, CASE, LIKE and `SCALAR_FUNCTIONS` (no subquery, variable or
/// session-dependent function).
fn computed_on(e: &Expr, sides: &[Side<'_>; 2]) -> Option<usize> {
    use std::ops::ControlFlow;
    let mut side: Option<usize> = None;
    let flow = sqlparser::ast::visit_expressions(e, |x| {
        let fine = match x {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => match resolve(x, sides) {
                Some((s, _)) if side.is_none_or(|t| t == s) => {
                    side = Some(s);
                    true
                }
                _ => false,
            },
            Expr::Function(f) => {
                f.over.is_none()
                    && f.filter.is_none()
                    && crate::scatter::select_form::function_name(f)
                        .is_some_and(|n| SCALAR_FUNCTIONS.contains(&n.as_str()))
            }
            Expr::Value(v) => !matches!(v.value, sqlparser::ast::Value::Placeholder(_)),
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => false,
            _ => true,
        };
        if fine {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    if flow.is_break() {
        return None;
    }
    Some(side.unwrap_or(0))
}

/// Whether the merge computes `output` from raw values only as precisely as it is shown (an
/// average, a variance): MariaDB's arithmetic over it uses more digits.
fn rounded(output: &Aggregate) -> bool {
    matches!(
        output,
        Aggregate::AvgValues(_)
            | Aggregate::AvgDistinct(_)
            | Aggregate::Variance { .. }
            | Aggregate::VarianceParts { .. }
    )
}

/// The select-list item a GROUP BY / ORDER BY term names: by position, or by an alias that is
/// not also a column of either side (MariaDB's to resolve). `Some(None)`: it names no item.
fn item_named(
    term: &Expr,
    items: &[(&Expr, Option<&sqlparser::ast::Ident>)],
    sides: &[Side<'_>; 2],
) -> Option<Option<usize>> {
    if let Some(n) = number(term) {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        return (i < items.len()).then_some(Some(i));
    }
    let Expr::Identifier(id) = term else {
        return Some(None);
    };
    let aliased: Vec<usize> = (0..items.len())
        .filter(|&i| {
            items[i]
                .1
                .is_some_and(|a| a.value.eq_ignore_ascii_case(&id.value))
        })
        .collect();
    match aliased.as_slice() {
        [] => Some(None),
        [i] if resolve(term, sides).is_none() => Some(Some(*i)),
        _ => None,
    }
}

struct Planner<'p, 'a> {
    /// A table of the statement, for `aggregate_call`'s and `scan`'s refusals (not shown).
    table: crate::shard_key::TableRef<'a>,
    sides: &'p mut [Side<'a>; 2],
    raw: Vec<(usize, usize)>,
    outputs: Vec<Aggregate>,
    names: Vec<String>,
}

impl Planner<'_, '_> {
    /// The raw column computing `e` (on the one side it reads), added if new.
    fn raw_column(&mut self, e: &Expr) -> Option<usize> {
        let side = side_of(e, self.sides).or_else(|| computed_on(e, self.sides))?;
        let position = self.sides[side].item(e.to_string());
        Some(match self.raw.iter().position(|r| *r == (side, position)) {
            Some(c) => c,
            None => {
                self.raw.push((side, position));
                self.raw.len() - 1
            }
        })
    }

    /// The raw column of `e`, a column whose values the proxy compares as MariaDB does.
    fn compared_column(&mut self, e: &Expr) -> Option<usize> {
        let (_, column) = resolve(e, self.sides)?;
        if super::compares(column) == Compares::No {
            return None;
        }
        self.raw_column(e)
    }

    /// How an item (or a hidden sort key) is computed: an aggregate call over raw columns, or
    /// a column's value in the group.
    fn output_of(&mut self, e: &Expr) -> Option<Aggregate> {
        let Some((func, f)) = aggregate_call(e, &self.table).ok()? else {
            // A column of the group (MariaDB shows any row's value); an expression over
            // aggregates, or another expression, keeps the copies.
            if scan(e, &self.table).ok()? || column_ref(e).is_none() {
                return None;
            }
            return Some(Aggregate::First(self.compared_column(e)?));
        };
        // Arguments the merge only adds up may be any expression of one side; those it
        // compares are columns.
        let compares_arguments = !matches!(
            func,
            AggFn::Count | AggFn::Sum | AggFn::Avg | AggFn::Bit(_) | AggFn::Variance(_)
        );
        let mut failed = false;
        let output = aggregate_fn::output(func, &f, true, &mut |arg| {
            let column = match compares_arguments {
                true => self.compared_column(arg),
                false => self.raw_column(arg),
            };
            column.unwrap_or_else(|| {
                failed = true;
                0
            })
        })
        .ok()?;
        (!failed).then_some(output)
    }

    /// HAVING's `e` over the outputs, as the merge evaluates it (see the module's comment);
    /// `in_arithmetic`: an operand of `+ - * /`. Hidden outputs are added for what it reads.
    fn condition(
        &mut self,
        e: &Expr,
        items: &[(&Expr, Option<&sqlparser::ast::Ident>)],
        in_arithmetic: bool,
    ) -> Option<shardgate_merge::Expr> {
        use shardgate_merge::Expr as Merged;
        use sqlparser::ast::{BinaryOperator as B, UnaryOperator as U};
        let operand =
            |this: &mut Self, x: &Expr, arithmetic: bool| this.condition(x, items, arithmetic);
        Some(match e {
            Expr::Nested(inner) => operand(self, inner, in_arithmetic)?,
            Expr::Value(v) => Merged::lit(match &v.value {
                // Numbers only: a string would compare by a collation of its own.
                sqlparser::ast::Value::Number(..) => crate::scatter::having_literal(&v.value)?,
                sqlparser::ast::Value::Null => shardgate_merge::Value::Null,
                _ => return None,
            }),
            Expr::Identifier(_) if item_named(e, items, self.sides)?.is_some() => {
                let i = item_named(e, items, self.sides)??;
                if in_arithmetic && rounded(&self.outputs[i]) {
                    return None;
                }
                Merged::col(i)
            }
            Expr::BinaryOp { left, op, right } => {
                let arithmetic = matches!(op, B::Plus | B::Minus | B::Multiply | B::Divide);
                let (l, r) = (
                    operand(self, left, arithmetic)?,
                    operand(self, right, arithmetic)?,
                );
                crate::scatter::merged_binary(op, l, r)?
            }
            Expr::UnaryOp { op: U::Not, expr } => !operand(self, expr, false)?,
            Expr::UnaryOp { op: U::Minus, expr } => {
                Merged::Neg(Box::new(operand(self, expr, true)?))
            }
            Expr::IsNull(x) => Merged::IsNull(Box::new(operand(self, x, false)?)),
            Expr::IsNotNull(x) => Merged::IsNotNull(Box::new(operand(self, x, false)?)),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = operand(self, expr, false)?;
                let (lo, hi) = (operand(self, low, false)?, operand(self, high, false)?);
                crate::scatter::merged_between(x, lo, hi, *negated)
            }
            _ => {
                let output = self.output_of(e)?;
                if in_arithmetic && rounded(&output) {
                    return None;
                }
                Merged::col(self.hidden(output, e.to_string()))
            }
        })
    }

    /// Adds a hidden output (after the visible ones) unless one computes the same.
    fn hidden(&mut self, output: Aggregate, name: String) -> usize {
        match self.outputs.iter().position(|o| *o == output) {
            Some(i) => i,
            None => {
                self.outputs.push(output);
                self.names.push(name);
                self.outputs.len() - 1
            }
        }
    }

    /// Whether sorting by `output` orders groups as MariaDB does: numbers, and columns (their
    /// comparison checked when planned). GROUP_CONCAT's strings keep their copies.
    fn sorts_exactly(&self, output: &Aggregate) -> bool {
        !matches!(output, Aggregate::GroupConcat(_))
    }
}
