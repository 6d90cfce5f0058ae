//! UPDATE and DELETE without a shard key: broadcast to the shards that may hold their rows ([`Route::Broadcast`]).

use super::*;

pub(super) fn plan_update(
    sql: &str,
    syntax: Syntax,
    u: &Update,
    stmt: &Statement,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    if u.from.is_some() {
        return Err(why);
    }
    let from = std::slice::from_ref(&u.table);
    if single_table(from, topology).is_none() {
        // `UPDATE orders o JOIN users u ON u.id = o.user_id SET o.… WHERE u.…`
        let written: Vec<Option<String>> = (u.assignments.iter())
            .map(|a| match &a.target {
                sqlparser::ast::AssignmentTarget::ColumnName(column) => {
                    let parts = &column.0;
                    let table = parts.len().checked_sub(2).and_then(|i| parts[i].as_ident());
                    table.map(|t| t.value.to_ascii_lowercase())
                }
                sqlparser::ast::AssignmentTarget::Tuple(_) => None,
            })
            .collect();
        return colocated_write::plan(
            "UPDATE",
            stmt,
            from,
            u.selection.as_ref(),
            &written,
            topology,
            why,
        );
    }
    broadcast(
        "UPDATE",
        sql,
        syntax,
        stmt,
        std::slice::from_ref(&u.table),
        u.selection.as_ref(),
        u.limit.as_ref().map(|limit| (&u.order_by[..], limit)),
        u.returning.as_ref().map(|_| &u.order_by[..]),
        topology,
        why,
    )
}

pub(super) fn plan_delete(
    sql: &str,
    syntax: Syntax,
    d: &Delete,
    stmt: &Statement,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    let from = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    // `DELETE o FROM orders o JOIN users u …` and `DELETE FROM o USING orders o JOIN users u …`
    let multi = match &d.using {
        Some(using) => Some((
            using.as_slice(),
            colocated_write::factors(from)
                .map(|(n, a)| Some(a.unwrap_or(n)))
                .collect(),
        )),
        None if !d.tables.is_empty() => {
            Some((from.as_slice(), d.tables.iter().map(base_name).collect()))
        }
        None => None,
    };
    if let Some((joined, written)) = multi {
        let written: Vec<Option<String>> = written;
        return colocated_write::plan(
            "DELETE",
            stmt,
            joined,
            d.selection.as_ref(),
            &written,
            topology,
            why,
        );
    }
    broadcast(
        "DELETE",
        sql,
        syntax,
        stmt,
        from,
        d.selection.as_ref(),
        d.limit.as_ref().map(|limit| (&d.order_by[..], limit)),
        d.returning.as_ref().map(|_| &d.order_by[..]),
        topology,
        why,
    )
}

/// A single-table UPDATE / DELETE on every shard that may hold its rows: the same text, or
/// each shard's own when an IN list or OR of shard keys can be cut down per shard.
#[allow(clippy::too_many_arguments)]
pub(super) fn broadcast(
    verb: &'static str,
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    limit: Option<(&[OrderByExpr], &Expr)>,
    // When it returns rows (`RETURNING`): its ORDER BY.
    returning: Option<&[OrderByExpr]>,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    let Some(table) = single_table(from, topology) else {
        return Err(why);
    };
    let pinned_by = subqueries_follow(stmt, 1, verb, &table, topology)?;
    let keyed = [Keyed {
        table: &table,
        only_table: true,
        written: None,
    }];
    let shards = target_shards(selection, &keyed, topology);
    let table_name = Some(table.rule.name.to_ascii_lowercase());
    let route = match shards.as_slice() {
        [] => Route::Shard(topology.default_shard),
        [shard] => Route::Shard(*shard),
        // Each shard's rows come in its order: the whole's is known only without one asked.
        _ if returning.is_some_and(|order_by| !order_by.is_empty() || limit.is_some()) => {
            return Err(refuse(
                verb,
                &table,
                "RETURNING with ORDER BY or LIMIT is not supported on several shards",
            ))
        }
        // No shard can apply the LIMIT alone: the rows are read first (`limited_write.rs`).
        _ if let Some((order_by, limit)) = limit => {
            let clauses = crate::limited_write::Clauses {
                verb,
                purpose: "with LIMIT across shards",
                from: &from[0],
                selection,
                order_by,
                limit: Some(limit),
            };
            let write = crate::limited_write::plan(sql, syntax, &clauses, topology)?;
            return Err(RouteError::LimitedWrite(Box::new(write)));
        }
        _ => match crate::reduce::per_shard(sql, syntax, &keyed, &shards) {
            Some(texts) => Route::Split(shards.into_iter().zip(texts).collect()),
            None => Route::Broadcast(shards),
        },
    };
    let mut plan = Plan::new(StatementKind::Write, route);
    plan.table = table_name.map(Into::into);
    plan.pinned_by = pinned_by;
    Ok(plan)
}
