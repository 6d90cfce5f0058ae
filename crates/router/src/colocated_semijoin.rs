//! A copy narrowed by a co-located copy it is joined to: in TPC-H Q7's `FROM supplier,
//! lineitem, orders, customer, … WHERE o_orderkey = l_orderkey AND l_shipdate BETWEEN … AND …`,
//! `orders` and `lineitem` are sharded by their order keys on one sharder, so the orders a
//! shard holds join only that shard's line items; the copy of `orders` reads, on each shard,
//! only `o_orderkey IN (SELECT l_orderkey FROM lineitem WHERE l_shipdate BETWEEN …)` — the
//! keys of the line items the statement may read, found where they live.
//!
//! Taken for an equality of the two tables' shard keys (placed exactly, by one sharder, as a
//! co-located join's) that is a top-level conjunct of the block's WHERE, when the other table
//! has conditions of its own there (its copy's filter before this narrowing, so that two
//! copies never narrow each other in a loop): every row of the block's answer joins a row of
//! the other table that holds them. The server compares `x IN (SELECT y …)` as it compares
//! `x = y`.

use shardgate_config::Topology;
use shardgate_schema::SchemaStatus;
use sqlparser::ast::{Expr, Select};

use crate::block_scope::BlockScope;
use crate::colocated::placed_alike;
use crate::row_conditions::{equality, row_conditions};
use crate::shard_key::TableRef;

/// A copied table of the block: its position in the scope, how its SQL names it, and the
/// conditions of its copy's filter (each its own).
pub(crate) struct Filtered<'t> {
    pub position: usize,
    pub table: TableRef<'t>,
    pub quoted_name: String,
    pub conditions: Vec<String>,
}

/// The conditions narrowing the copy of `this` (one of `copied`) by the others: `key IN
/// (SELECT other_key FROM other WHERE …)`, the keys as `unqualified` renders them.
pub(crate) fn colocated_semijoins(
    select: &Select,
    scope: &BlockScope<'_>,
    this: &Filtered<'_>,
    copied: &[Filtered<'_>],
    unqualified: &dyn Fn(&Expr, &TableRef<'_>) -> String,
    topology: &Topology,
    schema: &SchemaStatus,
) -> Vec<String> {
    let is_key = |e: &Expr, table: &Filtered<'_>| {
        let last = match e {
            Expr::Identifier(id) => Some(id),
            Expr::CompoundIdentifier(parts) => parts.last(),
            _ => None,
        };
        table.table.keys_exact
            && last.is_some_and(|l| l.value.eq_ignore_ascii_case(&table.table.rule.shard_key))
            && scope.owner(e, topology, schema) == Some(table.position)
    };
    let mut found = Vec::new();
    for (left, right) in row_conditions(select).into_iter().filter_map(equality) {
        for other in copied {
            let alike = other.position != this.position
                && !other.conditions.is_empty()
                && placed_alike(&this.table, &other.table);
            if !alike {
                continue;
            }
            let pair = match () {
                _ if is_key(left, this) && is_key(right, other) => Some((left, right)),
                _ if is_key(right, this) && is_key(left, other) => Some((right, left)),
                _ => None,
            };
            if let Some((mine, theirs)) = pair {
                found.push(format!(
                    "({} IN (SELECT {} FROM {} WHERE {}))",
                    unqualified(mine, &this.table),
                    unqualified(theirs, &other.table),
                    other.quoted_name,
                    other.conditions.join(" AND ")
                ));
            }
        }
    }
    found
}
