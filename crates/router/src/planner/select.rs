//! SELECT: routed by the shard keys of its tables, or by every sharded reference in it (`pushdown`); without one, the scatter.

use super::*;

/// Routes a statement by the shard keys of its sharded tables. One table constrained by
/// `selection` (the point statement) is routed here; joins, subqueries, derived tables, CTEs
/// and set operations by every sharded reference in them (`pushdown`).
pub(super) fn route_by_where(
    verb: &'static str,
    kind: StatementKind,
    stmt: &Statement,
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let mentioned = sharded_relations(stmt, topology);
    if mentioned.is_empty() {
        return Ok(Plan::new(kind, Route::Shard(topology.default_shard)));
    }
    let (tables, count) = from_tables(from, topology);
    let [table] = tables.as_slice() else {
        return crate::pushdown::plan(stmt, verb, kind, None, topology);
    };
    if count != 1 || mentioned.len() != 1 {
        return crate::pushdown::plan(stmt, verb, kind, None, topology);
    }
    let name = || table.rule.name.to_ascii_lowercase();
    let constraint =
        constraint_in_where(selection, table, true)?.ok_or_else(|| RouteError::NoShardKey {
            verb,
            table: table.rule.name.clone(),
            key: table.rule.shard_key.clone(),
        })?;
    // A name that is no sharded or reference table may be a CTE's: the walk tells them apart.
    let unsharded = || has_unsharded_relation(stmt, topology);
    let shards = match constraint {
        Constraint::Shards(shards) => shards,
        Constraint::Deferred(_) if unsharded().is_some() => {
            return crate::pushdown::plan(stmt, verb, kind, None, topology)
        }
        Constraint::Deferred(keys) => {
            let mut plan = Plan::new(
                kind,
                Route::Deferred(DeferredRoute {
                    verb,
                    keys: keys.into_iter().map(|k| (name(), k)).collect(),
                    fixed: None,
                    unsharded: None,
                }),
            );
            plan.table = Some(name().into());
            return Ok(plan);
        }
    };
    let shard = match shards.len() {
        // Contradictory conditions (`id = 1 AND id = 2`): no row matches; any shard answers that.
        0 => topology.default_shard,
        1 => *shards.first().expect("one shard"),
        _ => {
            return Err(RouteError::KeySpansShards {
                verb,
                table: table.rule.name.clone(),
                key: table.rule.shard_key.clone(),
                shards: shard_names(topology, &shards),
            })
        }
    };
    if shard != topology.default_shard && unsharded().is_some() {
        return crate::pushdown::plan(stmt, verb, kind, None, topology);
    }
    let mut plan = Plan::new(kind, Route::Shard(shard));
    plan.table = Some(name().into());
    Ok(plan)
}

pub(super) fn plan_query(
    q: &Query,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let kind = if matches!(
        q.body.as_ref(),
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_)
    ) {
        // `WITH … UPDATE …`
        StatementKind::Write
    } else if q.locks.is_empty() {
        StatementKind::Read
    } else {
        StatementKind::LockingRead
    };
    match q.body.as_ref() {
        SetExpr::Select(select) => {
            if select.from.is_empty() && sharded_relations(stmt, topology).is_empty() {
                let mut plan = Plan::new(kind, Route::Shard(topology.default_shard));
                plan.rewritten = hide_socket(stmt);
                return Ok(plan);
            }
            route_by_where(
                "SELECT",
                kind,
                stmt,
                &select.from,
                select.selection.as_ref(),
                topology,
            )
        }
        _ => route_by_where("SELECT", kind, stmt, &[], None, topology),
    }
}

/// `SELECT @@socket` must not hand a backend's Unix socket path to a client, which would then
/// connect to the backend directly (mysql_async does). Rewrites it to NULL under the same name.
pub(super) fn hide_socket(stmt: &Statement) -> Option<String> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let is_socket = |e: &Expr| match e {
        Expr::Identifier(id) => {
            let v = id.value.to_ascii_lowercase();
            v == "@@socket" || v == "@@global.socket" || v == "@@session.socket"
        }
        Expr::CompoundIdentifier(parts) => {
            parts
                .last()
                .is_some_and(|p| p.value.eq_ignore_ascii_case("socket"))
                && parts.first().is_some_and(|p| p.value.starts_with("@@"))
        }
        _ => false,
    };
    if !select.projection.iter().any(|item| matches!(item, SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } if is_socket(e))) {
        return None;
    }
    let mut rewritten = stmt.clone();
    if let Statement::Query(q) = &mut rewritten {
        if let SetExpr::Select(select) = q.body.as_mut() {
            for item in &mut select.projection {
                let replacement = match item {
                    SelectItem::UnnamedExpr(e) if is_socket(e) => {
                        Some((e.to_string(), Ident::with_quote('`', e.to_string())))
                    }
                    SelectItem::ExprWithAlias { expr, alias } if is_socket(expr) => {
                        Some((expr.to_string(), alias.clone()))
                    }
                    _ => None,
                };
                if let Some((_, alias)) = replacement {
                    *item = SelectItem::ExprWithAlias {
                        expr: Expr::value(sqlparser::ast::Value::Null),
                        alias,
                    };
                }
            }
        }
    }
    Some(rewritten.to_string())
}
