//! The tables a statement names, sorted by placement: sharded ones (anywhere, subqueries too) and unsharded ones.

use super::*;

/// Sharded tables a statement mentions anywhere (including subqueries), lower-cased, in order.
pub(crate) fn sharded_relations(stmt: &Statement, topology: &Topology) -> Vec<String> {
    let mut found = Vec::new();
    let _ = sqlparser::ast::visit_relations(stmt, |name| {
        if let Some(table) = base_name(name).filter(|t| topology.table(t).is_some()) {
            found.push(table);
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

pub(super) fn has_unsharded_relation(stmt: &Statement, topology: &Topology) -> Option<String> {
    let mut found = None;
    let _ = sqlparser::ast::visit_relations(stmt, |name| match base_name(name) {
        // `dual` is no table, and reference tables are on every shard.
        Some(t) if t != "dual" && topology.table(&t).is_none() && !topology.is_reference(&t) => {
            found = Some(t);
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    found
}

/// The sharded tables in a FROM list (with joins), as `TableRef`s, and the number of tables in it.
pub(super) fn from_tables<'t>(
    from: &[TableWithJoins],
    topology: &'t Topology,
) -> (Vec<TableRef<'t>>, usize) {
    let mut refs = Vec::new();
    let mut count = 0;
    let factors = from.iter().flat_map(|twj| {
        std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation))
    });
    for factor in factors {
        count += 1;
        if let TableFactor::Table { name, alias, .. } = factor {
            if let Some(rule) = base_name(name).and_then(|t| topology.table(&t)) {
                refs.push(TableRef::new(
                    rule,
                    base_name(name).unwrap_or_default(),
                    alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
                    topology,
                ));
            }
        }
    }
    (refs, count)
}
