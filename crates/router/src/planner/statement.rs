//! One parsed statement planned by its kind: the dispatch, transactions, `USE`, `SET`, and the statements without a table of their own.

use super::*;

/// Plans one parsed statement.
pub fn plan_statement(stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    if matches!(
        stmt,
        Statement::Query(_) | Statement::Update(_) | Statement::Delete(_)
    ) {
        crate::key_placement::columns_needed(stmt, topology)?;
    }
    match stmt {
        Statement::Query(q) => plan_query(q, stmt, topology),
        Statement::Insert(ins) => plan_insert(ins, stmt, topology).map(|mut plan| {
            plan.placed_by_key_default = crate::omitted_key::table_omitting_key(ins, topology);
            plan
        }),
        Statement::Update(u) => plan_update(u, stmt, topology),
        Statement::Delete(d) => plan_delete(d, stmt, topology),
        Statement::Set(set) => {
            // SET runs on the default shard: a value read from a sharded table would be read
            // from that shard's rows only.
            if let Some(table) = sharded_relations(stmt, topology).first() {
                return Err(RouteError::Unsupported {
                    construct: "a subquery in SET".into(),
                    table: topology
                        .table(table)
                        .map_or_else(|| table.clone(), |r| r.name.clone()),
                });
            }
            session::plan_set(set)
        }
        Statement::Use(u) => match u {
            Use::Database(name) | Use::Schema(name) | Use::Object(name) => Ok(Plan::new(
                StatementKind::Session,
                Route::Use(base_name_raw(name).unwrap_or_default()),
            )),
            other => Err(RouteError::NotSupported(format!(
                "`{other}` is not supported by shardgate"
            ))),
        },
        Statement::StartTransaction { .. } => Ok(txn(TxnCommand::Begin)),
        Statement::Commit { chain: true, .. } | Statement::Rollback { chain: true, .. } => {
            Err(RouteError::NotSupported(
                "COMMIT/ROLLBACK AND CHAIN is not supported by shardgate; end the transaction and BEGIN again".into(),
            ))
        }
        Statement::CreateTable(ct) if ct.temporary => {
            connection_state::plan_temporary_table(ct, stmt, topology)
        }
        Statement::UnlockTables => Ok(connection_state::plan_unlock_tables(topology)),
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            temporary,
            ..
        } => {
            let mut plan = match temporary {
                // Only temporary tables: the session's, on the default shard.
                true => Plan::new(StatementKind::Write, Route::Shard(topology.default_shard)),
                false => plan_ddl(stmt, topology)?,
            };
            let names = names.iter().filter_map(base_name).collect();
            plan.connection_state = Some(ConnectionState::DropsTables(names));
            Ok(plan)
        }
        Statement::Prepare { .. } | Statement::Execute { .. } | Statement::Deallocate { .. } => {
            Err(crate::sql_prepare::not_planned())
        }
        // Planned on their own (`administrative`); here only inside a multi-statement text.
        Statement::Kill { .. }
        | Statement::Grant(_)
        | Statement::Revoke(_)
        | Statement::CreateUser(_)
        | Statement::AlterUser(_)
        | Statement::CreateRole(_) => Err(RouteError::NotSupported(
            "KILL and account management through shardgate must be statements of their own, not part of a multi-statement text".into(),
        )),
        Statement::Commit { .. } => Ok(txn(TxnCommand::Commit)),
        Statement::Rollback {
            savepoint: None, ..
        } => Ok(txn(TxnCommand::Rollback)),
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => Ok(txn(TxnCommand::RollbackTo(name.value.clone()))),
        Statement::Savepoint { name } => Ok(txn(TxnCommand::Savepoint(name.value.clone()))),
        Statement::ReleaseSavepoint { name } => {
            Ok(txn(TxnCommand::Release(name.value.clone())))
        }
        Statement::CreateDatabase { .. } | Statement::CreateSchema { .. } => {
            Ok(Plan::new(StatementKind::Ddl, Route::AllShards))
        }
        Statement::Drop {
            object_type: ObjectType::Schema | ObjectType::Database,
            ..
        } => Ok(Plan::new(StatementKind::Ddl, Route::AllShards)),
        Statement::CreateTable(_)
        | Statement::AlterTable(_)
        | Statement::Drop { .. }
        | Statement::Truncate(_)
        | Statement::CreateIndex(_)
        | Statement::RenameTable(_)
        | Statement::CreateView(_)
        | Statement::AlterView { .. } => plan_ddl(stmt, topology),
        other => plan_other(other, topology),
    }
}

/// Statements that leave state on the backend connection beyond the session variables the
/// proxy tracks: a pooled connection would carry it to another client.
pub(super) fn connection_state(what: &str) -> RouteError {
    RouteError::NotSupported(format!(
        "{what} is not supported by shardgate: it would leave state on a pooled backend connection"
    ))
}

pub(super) fn txn(cmd: TxnCommand) -> Plan {
    Plan::new(StatementKind::Transaction, Route::Transaction(cmd))
}

pub(super) fn base_name_raw(name: &ObjectName) -> Option<String> {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|id| id.value.clone())
}

pub(super) fn plan_other(stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    let read = matches!(
        stmt,
        Statement::ShowVariable { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowCollation { .. }
            | Statement::ExplainTable { .. }
            | Statement::Explain { .. }
    );
    let sharded = sharded_relations(stmt, topology);
    if let Some(table) = sharded.first() {
        // SHOW COLUMNS / DESCRIBE / SHOW CREATE of a sharded table: every shard has the same one.
        if read && !matches!(stmt, Statement::Explain { .. }) {
            return Ok(Plan::new(
                StatementKind::Read,
                Route::Shard(topology.default_shard),
            ));
        }
        if let Statement::Explain { statement, .. } = stmt {
            let inner = plan_statement(statement, topology)?;
            return Ok(Plan::new(StatementKind::Read, inner.route));
        }
        let construct = stmt
            .to_string()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(RouteError::Unsupported {
            construct,
            table: topology
                .table(table)
                .map_or_else(|| table.clone(), |r| r.name.clone()),
        });
    }
    let kind = if read {
        StatementKind::Read
    } else {
        StatementKind::Write
    };
    Ok(Plan::new(kind, Route::Shard(topology.default_shard)))
}
