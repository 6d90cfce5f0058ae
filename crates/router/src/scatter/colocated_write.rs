//! A multi-table UPDATE / DELETE without a shard key whose tables are co-located (joined on
//! shard keys placed alike, or reference tables read alongside): every shard holds each of its
//! joined rows whole, so each runs the statement for its own rows, all or nothing
//! ([`Route::Broadcast`] to every shard). The tables it writes must be sharded: a reference
//! table's copies, each written by its own shard's joined rows, would no longer agree.

use super::*;

/// The plan of a co-located multi-table write (`verb`) over `from`, whose written tables are
/// named by `written` (alias or table name, lower-cased; `None`: a column not qualified by
/// one); `why` when it is not one.
pub(super) fn plan(
    verb: &'static str,
    stmt: &Statement,
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    written: &[Option<String>],
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    if has_subquery(stmt) {
        return Err(why);
    }
    let tables = match crate::colocated::colocated_tables(from, selection, topology, None) {
        Ok(Some(tables)) if !tables.is_empty() => tables,
        Ok(_) => return Err(why),
        // Why its rows may live on different shards, said of this statement.
        Err(RouteError::NotSupported(message)) => {
            return Err(RouteError::NotSupported(message.replacen(
                "cannot run SELECT",
                &format!("cannot run {verb}"),
                1,
            )))
        }
        Err(e) => return Err(e),
    };
    // Every table the statement names is sharded (and co-located) or a reference table:
    // the written ones must be among the sharded.
    let sharded = |name: &str| {
        tables
            .iter()
            .any(|t| t.alias.as_deref().unwrap_or(&t.name) == name || t.name == name)
    };
    let references_read = factors(from).any(|(name, _)| topology.is_reference(&name));
    for target in written {
        match target {
            Some(name) if sharded(name) => {}
            // Unqualified: a sharded table's, unless a reference table could own it.
            None if !references_read => {}
            _ => {
                return Err(refuse(
                    verb,
                    &tables[0],
                    "a multi-table write that changes a reference table's rows by a join with sharded rows is not supported: each copy would be changed by its own shard's rows",
                ))
            }
        }
    }
    let mut plan = Plan::new(
        StatementKind::Write,
        Route::Broadcast((0..topology.shards.len()).collect()),
    );
    plan.table = Some(tables[0].rule.name.to_ascii_lowercase().into());
    Ok(plan)
}

/// The base tables of `from` (lower-cased name and alias), in order.
pub(super) fn factors(
    from: &[TableWithJoins],
) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    from.iter()
        .flat_map(|twj| std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)))
        .filter_map(|relation| match relation {
            TableFactor::Table { name, alias, .. } => Some((
                base_name(name)?,
                alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
            )),
            _ => None,
        })
}

/// Whether `stmt` holds a subquery anywhere.
fn has_subquery(stmt: &Statement) -> bool {
    visit_expressions(stmt, |e| match e {
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}
