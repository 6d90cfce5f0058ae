//! Joins every shard can answer for its own rows, so that a scatter pushes them down whole:
//! sharded tables joined by equal shard keys of one sharder (`users u JOIN orders o ON
//! o.user_id = u.id`: an order lives on its user's shard), and reference tables, which every
//! shard has in full. An unqualified column is the shard key of the one table that has it
//! (`o_orderkey = l_orderkey`), by the schema cache ([`crate::column_owner`]).

use std::ops::Range;
use std::sync::Arc;

use shardgate_config::Topology;
use sqlparser::ast::{
    BinaryOperator, Expr, JoinConstraint, JoinOperator, TableFactor, TableWithJoins,
};

use crate::column_owner::{owner, Columns, Owner};
use crate::placement::is_column;
use crate::scatter::refuse;
use crate::shard_key::{base_name, conjuncts, TableRef};
use crate::RouteError;

/// How a join keeps rows: inner, or preserving one side (the rows of the other side may be
/// missing, NULL-extended).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inner,
    /// `LEFT JOIN`: every row of the tables before it is kept.
    Left,
    /// `RIGHT JOIN`: every row of the joined table is kept.
    Right,
}

/// The sharded tables of a FROM list that joins tables (`Ok(None)`: not a list of plain
/// tables, or no sharded table, which the caller refuses as before), when the join is
/// co-located; otherwise an error naming why its rows could live on different shards.
///
/// `with_derived`: `Some(ctes)` — derived tables, and references to the statement's CTEs
/// `ctes` (lower-cased), may be joined too, as a reference table would be; the caller checks
/// that their sharded tables follow the rows of the FROM list's (`pushdown::follows_outer_rows`:
/// a derived table whose rows follow its shard key, joined by it).
pub(crate) fn colocated_tables<'t>(
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    topology: &'t Topology,
    with_derived: Option<&[String]>,
) -> Result<Option<Vec<TableRef<'t>>>, RouteError> {
    // Each factor's sharded table (or `None` for a reference table), in FROM order, and its
    // base table's name.
    let mut factors: Vec<Option<TableRef<'t>>> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    // Conditions that hold for every result row, or (outer joins) for the rows of the
    // NULL-supplying side: `Some(factor)` restricts the equality to pairs including it. The
    // range: the factors the condition sees (an ON clause, those of its own join).
    let mut conditions: Vec<(&Expr, Option<usize>, Range<usize>)> = Vec::new();
    // Equalities a `USING (…)` or `NATURAL` join implies between shard keys.
    let mut implied: Vec<(Expr, Option<usize>)> = Vec::new();
    let mut problem: Option<String> = None;
    // Factors that are derived tables, whose columns the schema cache does not know.
    let mut derived: Vec<usize> = Vec::new();
    for twj in from {
        let mut before_sharded = false;
        let chain_start = factors.len();
        let relations = std::iter::once((&twj.relation, None)).chain(
            twj.joins
                .iter()
                .map(|j| (&j.relation, Some(&j.join_operator))),
        );
        for (relation, operator) in relations {
            let (table, alias, is_derived) = match relation {
                TableFactor::Table {
                    name,
                    alias,
                    args: None,
                    ..
                } => match base_name(name) {
                    Some(cte)
                        if name.0.len() == 1
                            && with_derived.is_some_and(|ctes| ctes.contains(&cte)) =>
                    {
                        let named = alias.as_ref().map(|a| a.name.value.to_ascii_lowercase());
                        (named.unwrap_or(cte), None, true)
                    }
                    Some(table) => (table, alias.as_ref(), false),
                    None => return Ok(None),
                },
                TableFactor::Derived {
                    lateral: false,
                    alias: Some(alias),
                    ..
                } if with_derived.is_some() => (alias.name.value.to_ascii_lowercase(), None, true),
                _ => return Ok(None),
            };
            let index = factors.len();
            if is_derived {
                derived.push(index);
            }
            names.push(table.clone());
            let sharded = match topology.table(&table) {
                _ if is_derived => {
                    factors.push(None);
                    false
                }
                Some(rule) => {
                    factors.push(Some(TableRef::new(
                        rule,
                        table.clone(),
                        alias.map(|a| a.name.value.to_ascii_lowercase()),
                        topology,
                    )));
                    true
                }
                None if topology.is_reference(&table) => {
                    factors.push(None);
                    false
                }
                None => {
                    problem.get_or_insert_with(|| {
                        format!("a join with unsharded table `{table}`, which only the default shard has")
                    });
                    factors.push(None);
                    false
                }
            };
            if let Some(operator) = operator {
                let Some((kind, constraint)) = join_kind(operator) else {
                    problem.get_or_insert_with(|| "this kind of join is not supported".to_owned());
                    continue;
                };
                // Every shard would keep the preserved reference rows that match nothing
                // of its own: one server returns them once.
                let preserves_reference = match kind {
                    Kind::Inner => false,
                    Kind::Left => sharded && !before_sharded,
                    Kind::Right => !sharded && before_sharded,
                };
                if preserves_reference {
                    problem.get_or_insert_with(|| {
                        "an outer join keeping reference-table rows that match no sharded row"
                            .to_owned()
                    });
                }
                let only = (kind != Kind::Inner).then_some(index);
                match constraint {
                    JoinConstraint::On(on) => conditions.push((on, only, chain_start..index + 1)),
                    JoinConstraint::Using(_) | JoinConstraint::Natural => {
                        if let Some(Some(right)) = factors.last() {
                            for left in factors[chain_start..index].iter().flatten() {
                                if let Some(eq) = crate::join_columns::implied_key_equality(
                                    constraint, left, right,
                                ) {
                                    implied.push((eq, only));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            before_sharded |= sharded;
        }
    }
    let sharded: Vec<(usize, &TableRef<'t>)> = factors
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.as_ref().map(|t| (i, t)))
        .collect();
    let Some(&(_, first)) = sharded.first() else {
        return Ok(None);
    };
    if let Some(why) = problem {
        return Err(refuse("SELECT", first, why));
    }
    let everything = 0..factors.len();
    conditions.extend(selection.map(|s| (s, None, everything.clone())));
    conditions.extend(
        implied
            .iter()
            .map(|(e, only)| (e, *only, everything.clone())),
    );
    // The equalities of two sharded factors' shard keys among the conditions' conjuncts.
    let scope: Vec<Columns<'_>> = (names.iter().enumerate())
        .map(|(i, n)| match derived.contains(&i) {
            true => Columns::Some(&[]),
            false => Columns::Table(n),
        })
        .collect();
    let schema = topology.schema.current();
    let mut missing = Vec::new();
    let mut key_of = |e: &Expr, visible: &Range<usize>| -> Option<usize> {
        let e = strip_nested(e);
        if let Expr::Identifier(id) = e {
            // Only a shard key's name can be one: the cache is asked about no other.
            if !factors
                .iter()
                .flatten()
                .any(|t| id.value.eq_ignore_ascii_case(&t.rule.shard_key))
            {
                return None;
            }
            return match owner(&id.value, &scope, topology, &schema, &mut missing) {
                Owner::Table(k) if visible.contains(&k) => factors[k]
                    .as_ref()
                    .filter(|t| t.is_key_column(e, true))
                    .map(|_| k),
                _ => None,
            };
        }
        visible.clone().find(|&k| {
            factors[k]
                .as_ref()
                .is_some_and(|t| t.is_key_column(e, false))
        })
    };
    let mut joins: Vec<(usize, usize, Option<usize>)> = Vec::new();
    for (condition, only, visible) in &conditions {
        let mut parts = Vec::new();
        conjuncts(condition, &mut parts);
        for part in parts {
            let Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = part
            else {
                continue;
            };
            if !is_column(left) || !is_column(right) {
                continue;
            }
            if let (Some(x), Some(y)) = (key_of(left, visible), key_of(right, visible)) {
                joins.push((x, y, *only));
            }
        }
    }
    // Every sharded table must reach the first through equalities of shard keys.
    let mut reached = vec![false; sharded.len()];
    if let Some(first) = reached.first_mut() {
        *first = true;
    }
    loop {
        let mut grew = false;
        for b in 0..sharded.len() {
            if reached[b] {
                continue;
            }
            let joined = (0..sharded.len()).any(|a| {
                reached[a]
                    && placed_alike(sharded[a].1, sharded[b].1)
                    && joins.iter().any(|&(x, y, only)| {
                        let (fa, fb) = (sharded[a].0, sharded[b].0);
                        only.is_none_or(|k| k == fa || k == fb)
                            && ((x, y) == (fa, fb) || (x, y) == (fb, fa))
                    })
            });
            if joined {
                reached[b] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    if let Some(b) = reached.iter().position(|r| !r) {
        if !missing.is_empty() {
            // Their columns may show an unqualified column to be the shard key that joins it.
            return Err(RouteError::SchemaNeeded { tables: missing });
        }
        let b = sharded[b].1;
        return Err(refuse(
            "SELECT",
            first,
            format!(
                "the join of `{}` and `{}` is not on equal shard keys placed by one sharder, so its rows may live on different shards (cross-shard joins are not supported)",
                first.rule.name, b.rule.name
            ),
        ));
    }
    Ok(Some(factors.into_iter().flatten().collect()))
}

/// Whether rows of `a` and `b` with equal shard keys live on one shard.
pub(crate) fn placed_alike(a: &TableRef<'_>, b: &TableRef<'_>) -> bool {
    a.keys_exact
        && b.keys_exact
        && Arc::ptr_eq(&a.rule.sharder, &b.rule.sharder)
        && a.rule.key_kind() == b.rule.key_kind()
}

/// `e` without the parentheses around it.
pub(crate) fn strip_nested(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

fn join_kind(operator: &JoinOperator) -> Option<(Kind, &JoinConstraint)> {
    use JoinOperator as J;
    Some(match operator {
        J::Join(c) | J::Inner(c) | J::CrossJoin(c) | J::StraightJoin(c) => (Kind::Inner, c),
        J::Left(c) | J::LeftOuter(c) => (Kind::Left, c),
        J::Right(c) | J::RightOuter(c) => (Kind::Right, c),
        _ => return None,
    })
}
