//! Server-side prepared statements: COM_STMT_PREPARE / EXECUTE / SEND_LONG_DATA / RESET / CLOSE.
//!
//! The proxy keeps each client statement (text, plan, parameter types, long data) under its
//! own id; backend statements are prepared lazily on whichever connection an execution lands
//! on and cached there (bounded, see `StatementCache`). The route is decided at EXECUTE from
//! the bound parameters.

use std::collections::HashMap;
use std::sync::Arc;

use shardgate_backend::Prepared;
use shardgate_protocol::stmt::{ExecuteRequest, ParamValue, PrepareOk};
use shardgate_router::{plan_sql, OwnedKey, Plan, Route, RouteError};

use crate::errors::ClientError;
use crate::session::{Execution, Session, Step, Work};

/// MariaDB's default `max_prepared_stmt_count`, applied per client session.
const MAX_STATEMENTS_PER_SESSION: usize = 16_382;

/// A client's prepared statement.
#[derive(Debug)]
pub(crate) struct PreparedStatement {
    sql: Arc<[u8]>,
    header: PrepareOk,
    plan: Plan,
    /// Parameter types from the last execution that sent them.
    types: Option<Vec<u8>>,
    long_data: Vec<(u16, Vec<u8>)>,
}

/// The client's prepared statements, by the ids the proxy gave them.
#[derive(Debug, Default)]
pub(crate) struct Statements {
    by_id: HashMap<u32, PreparedStatement>,
    next_id: u32,
}

impl Statements {
    pub fn clear(&mut self) {
        self.by_id.clear();
    }
}

fn statement_id(arg: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(arg.get(..4)?.try_into().ok()?))
}

fn unknown_statement(id: u32, command: &str) -> ClientError {
    ClientError::new(
        1243,
        b"HY000",
        format!("Unknown prepared statement handler ({id}) given to {command}"),
    )
}

impl Session {
    pub(crate) async fn stmt_prepare(&mut self, arg: &[u8]) -> Step {
        let runtime = self.proxy.runtime();
        let sql = String::from_utf8_lossy(arg);
        if self.statements.by_id.len() >= MAX_STATEMENTS_PER_SESSION {
            let e = ClientError::new(
                1461,
                b"42000",
                format!("Can't create more than max_prepared_stmt_count statements (current value: {MAX_STATEMENTS_PER_SESSION})"),
            );
            return self.send_error(e).await;
        }
        let plan = match plan_sql(&sql, &runtime.topology) {
            Ok(plan) => plan,
            Err(RouteError::Unparsed { table, message }) => {
                return self.unparsed(&runtime, arg, table, message).await
            }
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        if matches!(plan.route, Route::Scatter(_)) {
            // Its merged rows would have to be re-encoded in the binary protocol.
            let e = ClientError::new(
                1235,
                b"42000",
                "a prepared SELECT over several shards is not supported yet: send it as a text query, or add the shard key to its WHERE clause",
            );
            return self.send_error(e).await;
        }
        let shard = match &plan.route {
            Route::Shard(shard) => *shard,
            Route::Deferred(d) => d.fixed.unwrap_or(runtime.topology.default_shard),
            _ => runtime.topology.default_shard,
        };
        // Prepare where the session would run it (its transaction's connection if any), for the
        // metadata; the statement stays cached on that connection.
        // MariaDB gets the client's bytes as sent (planning read a lossy UTF-8 copy).
        let sql: Arc<[u8]> = Arc::from(arg);
        let prepared = match self.pinned_conn(shard) {
            Some(conn) => conn.prepare_cached(&sql).await,
            None => match self.checkout(&runtime, shard).await {
                Ok(mut conn) => conn.prepare_cached(&sql).await,
                Err(e) => Err(e),
            },
        };
        let (header, metadata) = match prepared {
            Ok(Prepared::Ok { header, metadata }) => (header, metadata),
            Ok(Prepared::Err(e)) => return self.send_error(ClientError::from(e)).await,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        if header.params > 0 && !matches!(plan.route, Route::Shard(_) | Route::Deferred(_)) {
            let e = ClientError::new(
                1235,
                b"42000",
                "parameters are supported in prepared statements that run on one shard; SET, USE, transaction, DDL and several-shard statements take none (send them as text)",
            );
            return self.send_error(e).await;
        }
        self.statements.next_id = self.statements.next_id.wrapping_add(1).max(1);
        let id = self.statements.next_id;
        let answer = PrepareOk {
            statement_id: id,
            ..header
        };
        self.client.queue_packet(&answer.encode());
        for packet in &metadata {
            self.client.queue_packet(packet);
        }
        self.statements.by_id.insert(
            id,
            PreparedStatement {
                sql,
                header,
                plan,
                types: None,
                long_data: Vec::new(),
            },
        );
        self.client
            .flush()
            .await
            .map_err(crate::session::End::Client)
    }

    pub(crate) async fn stmt_execute(&mut self, arg: &[u8]) -> Step {
        let runtime = self.proxy.runtime();
        let id = statement_id(arg).unwrap_or_default();
        let Some(stmt) = self.statements.by_id.get_mut(&id) else {
            return self
                .send_error(unknown_statement(id, "mysqld_stmt_execute"))
                .await;
        };
        let request = match ExecuteRequest::parse(arg, usize::from(stmt.header.params)) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .send_error(ClientError::new(
                        1210,
                        b"HY000",
                        format!("Incorrect arguments to mysqld_stmt_execute: {e}"),
                    ))
                    .await
            }
        };
        if let Some(types) = request.types {
            stmt.types = Some(types.to_vec());
        }
        let long_data = std::mem::take(&mut stmt.long_data);
        let plan = stmt.plan.clone();
        self.statement_leaves_state = plan.leaves_state;
        let execution = Execution {
            sql: stmt.sql.clone(),
            types: stmt.types.clone(),
            request,
            long_data,
        };
        let shard = match &plan.route {
            Route::Shard(shard) => *shard,
            Route::Deferred(deferred) => {
                let param = |i: usize| param_key(&execution, i);
                match deferred.resolve(&runtime.topology, param) {
                    Ok(shard) => shard,
                    Err(e) => return self.send_error(ClientError::from(&e)).await,
                }
            }
            // Statements the proxy runs itself have no parameters: run their text.
            _ => {
                let text = plan
                    .rewritten
                    .clone()
                    .map_or_else(|| execution.sql.to_vec(), String::into_bytes);
                return self.execute(&runtime, &plan, &text).await;
            }
        };
        let work = Work::Execute(&execution);
        if self.in_transaction() {
            self.in_txn(&runtime, shard, plan.kind, work).await
        } else {
            let hint = crate::reads::consistency_hint(&String::from_utf8_lossy(&execution.sql));
            self.run_single(
                &runtime,
                shard,
                plan.kind,
                plan.table.as_deref(),
                hint,
                work,
            )
            .await
        }
    }

    /// COM_STMT_SEND_LONG_DATA: kept until the next execution (no answer).
    pub(crate) fn stmt_send_long_data(&mut self, arg: &[u8]) {
        let (Some(id), Some(param)) = (statement_id(arg), arg.get(4..6)) else {
            return;
        };
        let param = u16::from_le_bytes([param[0], param[1]]);
        if let Some(stmt) = self.statements.by_id.get_mut(&id) {
            let data = &arg[6..];
            match stmt.long_data.iter_mut().find(|(p, _)| *p == param) {
                Some((_, chunks)) => chunks.extend_from_slice(data),
                None => stmt.long_data.push((param, data.to_vec())),
            }
        }
    }

    pub(crate) async fn stmt_reset(&mut self, arg: &[u8]) -> Step {
        let id = statement_id(arg).unwrap_or_default();
        match self.statements.by_id.get_mut(&id) {
            Some(stmt) => {
                stmt.long_data.clear();
                self.send_ok(0, 0).await
            }
            None => {
                self.send_error(unknown_statement(id, "mysqld_stmt_reset"))
                    .await
            }
        }
    }

    /// COM_STMT_CLOSE (no answer). Backend statements stay cached on their connections.
    pub(crate) fn stmt_close(&mut self, arg: &[u8]) {
        if let Some(id) = statement_id(arg) {
            self.statements.by_id.remove(&id);
        }
    }
}

/// Parameter `i` of an execution as a shard-key value (`None` for NULL).
fn param_key(execution: &Execution<'_>, i: usize) -> Result<Option<OwnedKey>, String> {
    if let Some((_, data)) = execution
        .long_data
        .iter()
        .find(|(p, _)| usize::from(*p) == i)
    {
        return Ok(Some(OwnedKey::Str(data.clone())));
    }
    let types = execution
        .types
        .as_deref()
        .ok_or("the first execution of a statement must send its parameter types")?;
    let long = |p: usize| {
        execution
            .long_data
            .iter()
            .any(|(q, _)| usize::from(*q) == p)
    };
    match execution
        .request
        .param(types, i, long)
        .map_err(|e| e.to_string())?
    {
        ParamValue::Null => Ok(None),
        ParamValue::Int(v) => Ok(Some(OwnedKey::Int(v))),
        ParamValue::Bytes(b) => Ok(Some(OwnedKey::Str(b))),
        ParamValue::Other(text) => Ok(Some(OwnedKey::Str(text.into_bytes()))),
    }
}
