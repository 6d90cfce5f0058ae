//! A copy narrowed by the reference table it is joined to: in a block such as TPC-H Q17's
//! `FROM lineitem, part WHERE p_partkey = l_partkey AND p_brand = 'Brand#23' AND …`, every
//! `lineitem` row the statement reads joins a `part` row satisfying part's own conditions, so
//! the copy of `lineitem` reads only `l_partkey IN (SELECT p_partkey FROM part WHERE p_brand =
//! 'Brand#23' AND …)` — on each shard, from that shard's copy of the reference table, which
//! holds the same rows. A semi-join reduction: a few hundred rows copied, not the table.
//!
//! Taken for an equality of the copied table's column and a reference table's column that is
//! a top-level conjunct of the block's WHERE (a row it holds for joins a real row of the
//! reference table, which the reference table's own top-level conjuncts hold for too), with at
//! least one such conjunct. The server compares `x IN (SELECT y …)` as it compares `x = y`, so
//! any column types narrow exactly.

use shardgate_config::Topology;
use shardgate_schema::SchemaStatus;
use sqlparser::ast::{BinaryOperator, Expr, Select, TableFactor};

use crate::block_scope::BlockScope;
use crate::colocated::strip_nested;
use crate::prune::chain;
use crate::pushable::pushable;

/// The conditions narrowing the copy of the table at `this` (a position in `scope`) by the
/// reference tables `select` joins it to: `column IN (SELECT …)`, with the copied table's
/// column as `own` renders it (unqualified, for the copy's reads).
pub(crate) fn reference_semijoins(
    select: &Select,
    scope: &BlockScope<'_>,
    this: usize,
    own: &dyn Fn(&Expr) -> String,
    topology: &Topology,
    schema: &SchemaStatus,
) -> Vec<String> {
    let Some(selection) = &select.selection else {
        return Vec::new();
    };
    let owner = |e: &Expr| scope.owner(e, topology, schema);
    let mut found = Vec::new();
    for part in chain(selection, &BinaryOperator::And) {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = strip_nested(part)
        else {
            continue;
        };
        let (left, right) = (strip_nested(left), strip_nested(right));
        let (column, reference_column) = match (owner(left), owner(right)) {
            (Some(l), Some(r)) if l == this && r != this => (left, right),
            (Some(l), Some(r)) if r == this && l != this => (right, left),
            _ => continue,
        };
        if let Some(values) = reference_values(select, scope, reference_column, topology, schema) {
            found.push(format!("({} IN ({values}))", own(column)));
        }
    }
    found
}

/// `SELECT column FROM reference WHERE …`: the values of `column` (a column of a reference
/// table of `select`, by `scope`) in the rows of that table satisfying its own top-level
/// conjuncts of the WHERE; `None` when it is no reference table's or there is no such
/// conjunct.
pub(crate) fn reference_values(
    select: &Select,
    scope: &BlockScope<'_>,
    column: &Expr,
    topology: &Topology,
    schema: &SchemaStatus,
) -> Option<String> {
    let owner = |e: &Expr| scope.owner(e, topology, schema);
    let reference = owner(column)?;
    if !scope
        .table(reference)
        .is_some_and(|t| topology.is_reference(t))
    {
        return None;
    }
    let TableFactor::Table { name, alias, .. } = scope.factor(reference) else {
        return None;
    };
    let conditions: Vec<String> = chain(select.selection.as_ref()?, &BinaryOperator::And)
        .into_iter()
        .filter(|p| pushable(p, &|e| owner(e) == Some(reference)))
        .map(|p| format!("({p})"))
        .collect();
    if conditions.is_empty() {
        return None;
    }
    let alias = alias
        .as_ref()
        .map_or_else(String::new, |a| format!(" AS {}", a.name));
    Some(format!(
        "SELECT {column} FROM {name}{alias} WHERE {}",
        conditions.join(" AND ")
    ))
}
