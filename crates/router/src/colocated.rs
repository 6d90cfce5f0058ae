//! Joins every shard can answer for its own rows, so that a scatter pushes them down whole:
//! sharded tables joined by equal shard keys of one sharder (`users u JOIN orders o ON
//! o.user_id = u.id`: an order lives on its user's shard), and reference tables, which every
//! shard has in full.

use shardgate_config::Topology;
use sqlparser::ast::{Expr, JoinConstraint, JoinOperator, TableFactor, TableWithJoins};

use crate::scatter::refuse;
use crate::shard_key::{base_name, keys_joined, TableRef};
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
pub(crate) fn colocated_tables<'t>(
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    topology: &'t Topology,
) -> Result<Option<Vec<TableRef<'t>>>, RouteError> {
    // Each factor's sharded table (or `None` for a reference table), in FROM order.
    let mut factors: Vec<Option<TableRef<'t>>> = Vec::new();
    // Conditions that hold for every result row, or (outer joins) for the rows of the
    // NULL-supplying side: `Some(factor)` restricts the equality to pairs including it.
    let mut conditions: Vec<(&Expr, Option<usize>)> =
        selection.map(|s| (s, None)).into_iter().collect();
    // Equalities a `USING (…)` or `NATURAL` join implies between shard keys.
    let mut implied: Vec<(Expr, Option<usize>)> = Vec::new();
    let mut problem: Option<String> = None;
    for twj in from {
        let mut before_sharded = false;
        let chain_start = factors.len();
        let relations = std::iter::once((&twj.relation, None)).chain(
            twj.joins
                .iter()
                .map(|j| (&j.relation, Some(&j.join_operator))),
        );
        for (relation, operator) in relations {
            let TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } = relation
            else {
                return Ok(None);
            };
            let Some(table) = base_name(name) else {
                return Ok(None);
            };
            let index = factors.len();
            let sharded = match topology.table(&table) {
                Some(rule) => {
                    factors.push(Some(TableRef {
                        rule,
                        name: table.clone(),
                        alias: alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
                    }));
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
                    JoinConstraint::On(on) => conditions.push((on, only)),
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
    conditions.extend(implied.iter().map(|(e, only)| (e, *only)));
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
                    && conditions.iter().any(|&(c, only)| {
                        only.is_none_or(|k| k == sharded[a].0 || k == sharded[b].0)
                            && keys_joined(c, sharded[a].1, sharded[b].1)
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

fn join_kind(operator: &JoinOperator) -> Option<(Kind, &JoinConstraint)> {
    use JoinOperator as J;
    Some(match operator {
        J::Join(c) | J::Inner(c) | J::CrossJoin(c) | J::StraightJoin(c) => (Kind::Inner, c),
        J::Left(c) | J::LeftOuter(c) => (Kind::Left, c),
        J::Right(c) | J::RightOuter(c) => (Kind::Right, c),
        _ => return None,
    })
}
