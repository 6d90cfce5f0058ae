//! DDL: on every shard for sharded tables, on the default shard for the others; never both in one statement.

use super::*;

pub(super) fn plan_ddl(stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    // Views live on the default shard: one over sharded tables is read as its definition
    // (`views.rs`).
    if matches!(stmt, Statement::CreateView(_) | Statement::AlterView { .. }) {
        return Ok(Plan::new(
            StatementKind::Ddl,
            Route::Shard(topology.default_shard),
        ));
    }
    let mut names: Vec<&ObjectName> = Vec::new();
    match stmt {
        Statement::CreateTable(ct) => names.push(&ct.name),
        Statement::AlterTable(at) => names.push(&at.name),
        // `DROP INDEX i ON t` names the index; the table is what places it.
        Statement::Drop { table: Some(t), .. } => names.push(t),
        Statement::Drop { names: n, .. } => names.extend(n),
        Statement::CreateIndex(ci) => names.push(&ci.table_name),
        Statement::RenameTable(r) => {
            names.extend(r.iter().flat_map(|r| [&r.old_name, &r.new_name]))
        }
        _ => {}
    }
    // Sharded and reference tables both exist on every shard.
    let everywhere = |t: &String| topology.table(t).is_some() || topology.is_reference(t);
    let mut sharded: Vec<String> = names
        .iter()
        .filter_map(|n| base_name(n))
        .filter(everywhere)
        .collect();
    sharded.extend(sharded_relations(stmt, topology));
    let unsharded = names
        .iter()
        .filter_map(|n| base_name(n))
        .find(|t| !everywhere(t))
        .or_else(|| has_unsharded_relation(stmt, topology));
    match (sharded.first(), unsharded) {
        (None, _) => Ok(Plan::new(StatementKind::Ddl, Route::Shard(topology.default_shard))),
        (Some(_), None) => Ok(Plan::new(StatementKind::Ddl, Route::AllShards)),
        (Some(s), Some(u)) => Err(RouteError::NotSupported(format!(
            "DDL naming both sharded table `{s}` and unsharded table `{u}` is not supported by shardgate; run it per table"
        ))),
    }
}
