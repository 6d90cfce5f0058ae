//! UPDATE and DELETE: routed by the shard keys in their WHERE, broadcast without one.

use super::*;

pub(super) fn plan_update(
    u: &Update,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    if let TableFactor::Table { name, .. } = &u.table.relation {
        if u.table.joins.is_empty() {
            if let Some(plan) = reference_write(name, stmt, topology)? {
                return Ok(plan);
            }
        }
    }

    let (tables, _) = from_tables(std::slice::from_ref(&u.table), topology);
    for t in &tables {
        let sets_key =
            (u.assignments.iter()).any(|a| crate::moving_update::assigns_key(&a.target, t));
        if sets_key {
            // A single-table UPDATE sent alone moves its rows (`moving_update.rs`, from the
            // text's planning, which routes it with `plan_update_rows`).
            let how = match crate::moving_update::single_table(u) {
                true => "with UPDATE here: its rows would have to move shards, which the proxy does for an UPDATE sent as a statement of its own",
                false => "in a multi-table UPDATE: its rows would have to move shards; change it with an UPDATE of that table alone",
            };
            return Err(RouteError::ShardKeyUpdate {
                table: t.rule.name.clone(),
                key: t.rule.shard_key.clone(),
                how,
            });
        }
    }
    plan_update_rows(u, stmt, topology)
}

/// The route of UPDATE `u`'s rows, whatever it assigns.
pub(super) fn plan_update_rows(
    u: &Update,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    route_by_where(
        "UPDATE",
        StatementKind::Write,
        stmt,
        std::slice::from_ref(&u.table),
        u.selection.as_ref(),
        topology,
    )
}

pub(super) fn plan_delete(
    d: &Delete,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
    if let [only] = from.as_slice() {
        if let TableFactor::Table { name, .. } = &only.relation {
            if only.joins.is_empty() && d.using.is_none() {
                if let Some(plan) = reference_write(name, stmt, topology)? {
                    return Ok(plan);
                }
            }
        }
    }

    let from = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    let mut all: Vec<TableWithJoins> = from.clone();
    if let Some(using) = &d.using {
        all.extend(using.iter().cloned());
    }
    route_by_where(
        "DELETE",
        StatementKind::Write,
        stmt,
        &all,
        d.selection.as_ref(),
        topology,
    )
}
