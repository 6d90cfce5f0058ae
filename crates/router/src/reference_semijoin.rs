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
use sqlparser::ast::{BinaryOperator, Expr, Query, Select, SelectItem, TableFactor};

use crate::block_scope::BlockScope;
use crate::colocated::strip_nested;
use crate::implied::implied_by_disjunction;
use crate::prune::chain;
use crate::pushable::pushable;
use crate::row_conditions::{equality, row_conditions};

/// The conditions narrowing the copy of the table at `this` (a position in `scope`) by the
/// reference tables its block's `conditions` (`row_conditions`) join it to: `column IN
/// (SELECT …)`, with the copied table's column as `own` renders it (unqualified, for the
/// copy's reads).
pub(crate) fn reference_semijoins(
    conditions: &[&Expr],
    scope: &BlockScope<'_>,
    ctes: &[String],
    this: usize,
    own: &dyn Fn(&Expr) -> String,
    topology: &Topology,
    schema: &SchemaStatus,
) -> Vec<String> {
    let block = Block {
        conditions: conditions.to_vec(),
        scope,
        ctes,
        topology,
        schema,
    };
    let mut found = Vec::new();
    for (left, right) in conditions.iter().filter_map(|c| equality(c)) {
        let Some((column, reference_column)) = block.facing(left, right, this) else {
            continue;
        };
        if let Some(values) = block.values(reference_column, &mut Vec::new()) {
            found.push(format!("({} IN ({values}))", own(column)));
        }
    }
    found
}

/// `SELECT column FROM reference WHERE …`: the values of `column` (a column of a reference
/// table of `select`, by `scope`) in the rows of that table satisfying its own top-level
/// conjuncts of the WHERE, what its disjunctions imply for it, and its equalities with other
/// reference tables' columns (their values, so found: TPC-H Q7's `s_nationkey =
/// n1.n_nationkey` with `n1.n_name = 'FRANCE' OR …`); `None` when it is no reference table's or
/// there is no such condition.
pub(crate) fn reference_values(
    select: &Select,
    scope: &BlockScope<'_>,
    ctes: &[String],
    column: &Expr,
    topology: &Topology,
    schema: &SchemaStatus,
) -> Option<String> {
    let block = Block {
        conditions: row_conditions(select),
        scope,
        ctes,
        topology,
        schema,
    };
    block.values(column, &mut Vec::new())
}

/// What `reference_values` reads.
struct Block<'b, 'q> {
    /// The block's `row_conditions`.
    conditions: Vec<&'b Expr>,
    scope: &'b BlockScope<'q>,
    ctes: &'b [String],
    topology: &'b Topology,
    schema: &'b SchemaStatus,
}

impl Block<'_, '_> {
    /// The sides of the equality `left = right` with the column of the reference at
    /// position `this` first, when one side is its column and the other another table's.
    fn facing<'e>(
        &self,
        left: &'e Expr,
        right: &'e Expr,
        this: usize,
    ) -> Option<(&'e Expr, &'e Expr)> {
        let owner = |e: &Expr| self.scope.owner(e, self.topology, self.schema);
        match (owner(left), owner(right)) {
            (Some(l), Some(r)) if l == this && r != this => Some((left, right)),
            (Some(l), Some(r)) if r == this && l != this => Some((right, left)),
            _ => None,
        }
    }

    /// `reference_values`, not through the references of `visited` (positions) again.
    fn values(&self, column: &Expr, visited: &mut Vec<usize>) -> Option<String> {
        let owner = |e: &Expr| self.scope.owner(e, self.topology, self.schema);
        let reference = owner(column).filter(|r| !visited.contains(r))?;
        let is_reference =
            |r: usize| (self.scope.table(r)).is_some_and(|t| self.topology.is_reference(t));
        if !is_reference(reference) {
            return None;
        }
        let TableFactor::Table { name, alias, .. } = self.scope.factor(reference) else {
            return None;
        };
        visited.push(reference);
        let own = |e: &Expr| owner(e) == Some(reference);
        let mut conditions = Vec::new();
        for &part in &self.conditions {
            if pushable(part, &own)
                || reference_membership(part, &own, self.ctes, self.topology, self.schema)
            {
                conditions.push(format!("({part})"));
            } else if let Some(implied) = implied_by_disjunction(part, &own, &|e| e.to_string()) {
                conditions.push(implied);
            } else if let Some((mine, theirs)) =
                equality(part).and_then(|(left, right)| self.facing(left, right, reference))
            {
                if let Some(values) = self.values(theirs, visited) {
                    conditions.push(format!("({mine} IN ({values}))"));
                }
            }
        }
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
}

/// Whether `condition` is `x [NOT] IN (SELECT …)` with `x` of the columns `own` accepts and a
/// subquery reading reference tables only, nothing outside itself, and only by row-local
/// expressions (`reference_only`): it keeps the same rows wherever it runs (TPC-H Q20's
/// `ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE 'forest%')`).
fn reference_membership(
    condition: &Expr,
    own: &dyn Fn(&Expr) -> bool,
    ctes: &[String],
    topology: &Topology,
    schema: &SchemaStatus,
) -> bool {
    match strip_nested(condition) {
        Expr::InSubquery { expr, subquery, .. } => {
            pushable(expr, own) && reference_only(subquery, ctes, topology, schema)
        }
        _ => false,
    }
}

/// Whether `query` is one plain block (`decorrelate::one_block`) over reference tables
/// without joins (none a CTE's name: the subquery runs where the statement's CTEs are not)
/// whose select item and every WHERE conjunct are row-local expressions of its
/// own tables' columns — every column certainly its own, none an enclosing block's —, or
/// memberships of the same kind.
fn reference_only(
    query: &Query,
    ctes: &[String],
    topology: &Topology,
    schema: &SchemaStatus,
) -> bool {
    let Some(select) = crate::decorrelate::one_block(query) else {
        return false;
    };
    let scope = BlockScope::of(select, ctes);
    let references = select.from.iter().all(|from| {
        from.joins.is_empty()
            && scope
                .position(&from.relation)
                .and_then(|i| scope.table(i))
                .is_some_and(|t| topology.is_reference(t))
    });
    if select.from.is_empty() || !references {
        return false;
    }
    let own = |e: &Expr| scope.owner(e, topology, schema).is_some();
    let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
        select.projection.as_slice()
    else {
        return false;
    };
    let conditions = select
        .selection
        .as_ref()
        .map_or_else(Vec::new, |s| chain(s, &BinaryOperator::And));
    pushable(item, &own)
        && conditions
            .iter()
            .all(|c| pushable(c, &own) || reference_membership(c, &own, ctes, topology, schema))
}
