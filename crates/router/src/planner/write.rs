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
        let sets_key = u.assignments.iter().any(|a| match &a.target {
            AssignmentTarget::ColumnName(n) => {
                base_name(n).is_some_and(|c| c == t.rule.shard_key)
                    && (n.0.len() == 1
                        || n.0
                            .iter()
                            .rev()
                            .nth(1)
                            .and_then(|p| p.as_ident())
                            .is_some_and(|q| {
                                q.value
                                    .eq_ignore_ascii_case(t.alias.as_deref().unwrap_or(&t.name))
                            }))
            }
            AssignmentTarget::Tuple(_) => true,
        });
        if sets_key {
            return Err(RouteError::ShardKeyUpdate {
                table: t.rule.name.clone(),
                key: t.rule.shard_key.clone(),
            });
        }
    }
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
