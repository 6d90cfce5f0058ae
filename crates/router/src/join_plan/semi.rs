//! Semi- and anti-joins: `SELECT … FROM a WHERE … [AND] [NOT] EXISTS (SELECT … FROM b WHERE
//! b.x = a.y [AND …])` where `b`'s rows do not follow `a`'s (the correlation is not on
//! co-located shard keys), answered by the `Join` primitive instead of copies of both tables:
//! `a` is the outer side, `b` the inner one reading only its join columns, and the join keeps
//! each `a` row that has a match, once (`EXISTS`), or that has none (`NOT EXISTS`; a NULL
//! `a.y` has none). That is MariaDB's meaning when the EXISTS is one of the WHERE clause's
//! top-level `AND`ed conditions: the subquery's own select list is never evaluated.
//!
//! A correlated `a.y IN (SELECT b.x FROM b WHERE b.z = a.w …)` is the semi-join on `b.x = a.y`
//! and its correlations (a NULL `a.y` matches nothing, as `IN` is never true for it); an
//! uncorrelated one keeps running first with its values written in (`write_subqueries.rs`),
//! which sends the shards only the rows whose value is in the list.
//!
//! Taken when the subquery is a plain `SELECT` of one table (no GROUP BY, HAVING, aggregate,
//! ORDER BY, offset or `LIMIT 0`) whose conditions are equalities of its columns with outer
//! columns and conditions on its own columns, and the outer statement reads its own table
//! only. Anything else keeps its copies.

use sqlparser::ast::{Expr, Query, Select, SelectItem, SetExpr};

use super::{
    join_pair, limit_of, no_grouping, plain_query, plain_select, plan_over, side_of, side_table,
    JoinKind, JoinPlan, Side,
};
use crate::prune::chain;
use crate::{MaterializePlan, Syntax};
use shardgate_config::Topology;
use sqlparser::ast::BinaryOperator;

/// The semi- or anti-join plan of `select`, or `None` when it is not one (see the module).
pub(super) fn semi_join_of(
    sql: &str,
    query: &Query,
    select: &Select,
    syntax: Syntax,
    topology: &Topology,
    fallback: &MaterializePlan,
) -> Option<JoinPlan> {
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let where_parts: Vec<&Expr> = (select.selection.iter())
        .flat_map(|w| chain(w, &BinaryOperator::And))
        .collect();
    // The one EXISTS, or IN: (subquery, negated, the IN's operand).
    let mut memberships = where_parts.iter().filter_map(|part| match part {
        Expr::Exists { subquery, negated } => Some((subquery.as_ref(), *negated, None)),
        Expr::InSubquery {
            expr,
            subquery,
            negated: false,
        } => Some((subquery.as_ref(), false, Some(expr.as_ref()))),
        _ => None,
    });
    let (subquery, negated, operand) = memberships.next()?;
    if memberships.next().is_some() {
        return None;
    }
    let inner = simple_subquery(subquery)?;
    let schema = topology.schema.current();
    let outer_table = side_table(&from.relation, topology, &schema)?;
    let [inner_from] = inner.from.as_slice() else {
        return None;
    };
    if !inner_from.joins.is_empty() {
        return None;
    }
    let inner_table = side_table(&inner_from.relation, topology, &schema)?;
    // Both sharded: a reference table's EXISTS every shard answers (pushed down).
    if outer_table.rule.is_none() || inner_table.rule.is_none() {
        return None;
    }
    if outer_table.name == inner_table.name && outer_table.alias == inner_table.alias {
        return None;
    }
    let mut sides = [Side::of(vec![outer_table]), Side::of(vec![inner_table])];
    let mut pairs = Vec::new();
    // `a.y IN (SELECT b.x …)`: the pair `a.y = b.x` first.
    let in_pair = match operand {
        None => None,
        Some(operand) => {
            let [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] =
                inner.projection.as_slice()
            else {
                return None;
            };
            let equality = Expr::BinaryOp {
                left: Box::new(operand.clone()),
                op: BinaryOperator::Eq,
                right: Box::new(value.clone()),
            };
            Some(join_pair(&equality, &sides)?)
        }
    };
    for part in (inner.selection.iter()).flat_map(|w| chain(w, &BinaryOperator::And)) {
        if let Some(pair) = join_pair(part, &sides) {
            pairs.push(pair);
            continue;
        }
        match side_of(part, &sides) {
            Some(1) => sides[1].filter.push(part),
            _ => return None,
        }
    }
    if let Some(pair) = in_pair {
        // Uncorrelated: its values run first (see the module).
        if pairs.is_empty() {
            return None;
        }
        pairs.insert(0, pair);
    }
    for &part in &where_parts {
        // The membership taken above (a `NOT IN` is not one: it goes on and is refused).
        if matches!(
            part,
            Expr::Exists { .. } | Expr::InSubquery { negated: false, .. }
        ) {
            continue;
        }
        match side_of(part, &sides) {
            Some(0) => sides[0].filter.push(part),
            _ => return None,
        }
    }
    let kind = match negated {
        false => JoinKind::Semi,
        true => JoinKind::Anti,
    };
    let plan = plan_over(
        sql, syntax, query, select, sides, &pairs, kind, topology, fallback,
    )?;
    // The outer statement cannot name the subquery's table: every column it reads is the
    // outer side's (an unqualified name the inner table also has is ambiguous to `resolve`).
    let outer_only = |c: &usize| *c < plan.outer.width;
    (plan.output.iter().all(outer_only) && plan.order_by.iter().all(|(c, _)| outer_only(c)))
        .then_some(plan)
}

/// The subquery's SELECT when nothing in it but its FROM and WHERE decides whether it has
/// rows.
fn simple_subquery(query: &Query) -> Option<&Select> {
    if !plain_query(query) || query.order_by.is_some() {
        return None;
    }
    // `LIMIT n` (n > 0, no offset) keeps EXISTS's answer; `LIMIT 0` or an offset changes it.
    match limit_of(query)? {
        (0, None) => {}
        (0, Some(n)) if n > 0 => {}
        _ => return None,
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if !plain_select(select) || !no_grouping(select) {
        return None;
    }
    // An aggregate makes one row of none (`EXISTS (SELECT COUNT(*) …)` always holds): only
    // plain values in the select list.
    let plain = select.projection.iter().all(|item| match item {
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => matches!(
            e,
            Expr::Value(_) | Expr::Identifier(_) | Expr::CompoundIdentifier(_)
        ),
        _ => false,
    });
    plain.then_some(select)
}
