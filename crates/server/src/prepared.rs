//! Server-side prepared statements: COM_STMT_PREPARE / EXECUTE / SEND_LONG_DATA / RESET / CLOSE.
//!
//! The proxy keeps each client statement (text, plan, parameter types, long data) under its
//! own id; backend statements are prepared lazily on whichever connection an execution lands
//! on and cached there (bounded, see `StatementCache`). The route is decided at EXECUTE from
//! the bound parameters.

use std::collections::HashMap;
use std::sync::Arc;

use shardgate_backend::Prepared;
use shardgate_collation::Charset;
use shardgate_protocol::interpolate;
use shardgate_protocol::stmt::{ExecuteRequest, ParamValue, PrepareOk};
use shardgate_ring::ShardId;
use shardgate_router::{OwnedKey, Plan, Route, RouteError, StatementKind};

use crate::errors::ClientError;
use crate::executor::{Execution, Work};
use crate::runtime::Runtime;
use crate::session::{Session, Step};

/// MariaDB's default `max_prepared_stmt_count`, applied per client session.
pub(crate) const MAX_STATEMENTS_PER_SESSION: usize = 16_382;

/// A client's prepared statement.
#[derive(Debug)]
pub(crate) struct PreparedStatement {
    sql: Arc<[u8]>,
    header: PrepareOk,
    /// `None`: the statement can only be planned with its parameters' values (planned at each
    /// execution, with the values written in).
    plan: Option<Arc<Plan>>,
    /// The runtime version `plan` was made for; after a reload the next execution plans again.
    planned_for: u64,
    /// Parameter types from the last execution that sent them.
    types: Option<Vec<u8>>,
    long_data: Vec<(u16, Vec<u8>)>,
}

/// The client's prepared statements, by the ids the proxy gave them.
#[derive(Debug, Default)]
pub(crate) struct Statements {
    by_id: HashMap<u32, PreparedStatement>,
    next_id: u32,
    /// Those of SQL-level `PREPARE name FROM …`, by name.
    pub(crate) named: crate::sql_prepare::NamedStatements,
}

impl Statements {
    pub fn clear(&mut self) {
        self.by_id.clear();
        self.named.clear();
    }

    /// The text of the statement a COM_STMT_EXECUTE (its argument `arg`) runs.
    pub(crate) fn text_of(&self, arg: &[u8]) -> Option<&[u8]> {
        Some(&self.by_id.get(&statement_id(arg)?)?.sql)
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
        let runtime = self.runtime();
        let sql = self.state.read_text(arg);
        if self.statements.by_id.len() >= MAX_STATEMENTS_PER_SESSION {
            let e = ClientError::new(
                1461,
                b"42000",
                format!("Can't create more than max_prepared_stmt_count statements (current value: {MAX_STATEMENTS_PER_SESSION})"),
            );
            return self.send_error(e).await;
        }
        let mut planned = crate::schema_loader::plan_with_schema(&runtime, &sql, self.syntax).await;
        // MariaDB gets the client's bytes as sent (planning read a lossy UTF-8 copy), or the
        // text with the views over sharded tables it reads written as their definitions.
        let mut text: Arc<[u8]> = Arc::from(arg);
        if let Err(RouteError::ReadsViews(expanded)) = &planned {
            if sql.as_bytes() != arg {
                return self.send_error(self.not_read_as_sent()).await;
            }
            text = Arc::from(expanded.as_bytes());
            planned = crate::schema_loader::plan_with_schema(&runtime, expanded, self.syntax).await;
        }
        let plan = match planned {
            // Rows placed by a shard key's default: each execution reads it afresh.
            Ok(plan) if plan.placed_by_key_default.is_some() => None,
            Ok(plan) => Some(Arc::new(plan)),
            // Columns that could not be read (MariaDB's 1146 when the table does not exist).
            Err(e @ (RouteError::Unparsed { .. } | RouteError::SchemaNeeded { .. })) => {
                return self.refused(&runtime, arg, e).await
            }
            // A parameter where the planner needs a value (HAVING, LIMIT, …): each execution
            // plans the statement with its values.
            Err(_) if !interpolate::placeholders(arg, false).is_empty() => None,
            // Ids from the table's sequence, an INSERT … SELECT run by rows, a write after its
            // subqueries: each execution runs as text with its values written in.
            Err(
                RouteError::InsertNeedsIds(_)
                | RouteError::InsertFromSelect(_)
                | RouteError::CreateFromSelect(_)
                | RouteError::SubqueriesFirst(_)
                | RouteError::IntoVariables(_)
                | RouteError::AssigningSelect(_)
                | RouteError::LimitedWrite(_)
                | RouteError::MovingUpdate(_)
                | RouteError::KeyFromLastInsertId { .. },
            ) => None,
            Err(e @ (RouteError::NotSupported(_) | RouteError::KeyExpression { .. })) => {
                return self.refused(&runtime, arg, e).await
            }
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let shard = match plan.as_ref().map(|p| &p.route) {
            Some(Route::Shard(shard)) => *shard,
            Some(Route::Deferred(d)) => d.fixed.unwrap_or(runtime.topology.default_shard),
            _ => runtime.topology.default_shard,
        };
        // Prepare where the session would run it (its transaction's connection if any), for the
        // metadata; the statement stays cached on that connection.
        let sql = text;
        let prepared = match self.pins.conn(shard) {
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
        // A SET's values are written in at each execution, then it runs as the text SET.
        let takes_params = plan.as_ref().is_none_or(|plan| {
            plan.kind != StatementKind::Ddl
                && matches!(
                    plan.route,
                    Route::Shard(_)
                        | Route::Deferred(_)
                        | Route::Scatter(_)
                        | Route::Materialize(_)
                        | Route::Join(_)
                        | Route::AllShards
                        | Route::Split(_)
                        | Route::Broadcast(_)
                        | Route::Copies(_)
                        | Route::Set { .. }
                )
        });
        if header.params > 0 && !takes_params {
            let e = ClientError::new(
                1235,
                b"42000",
                "parameters are supported in prepared SELECT, INSERT, UPDATE, DELETE, REPLACE and SET statements; USE, transaction and DDL statements take none (send them as text)",
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
                planned_for: runtime.version,
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
        let runtime = self.runtime();
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
        if stmt.planned_for != runtime.version {
            // The new topology may route it elsewhere. One that no longer plans without its
            // values is planned with them, like at PREPARE.
            let sql = self.state.read_text(&stmt.sql);
            stmt.plan = crate::schema_loader::plan_with_schema(&runtime, &sql, self.syntax)
                .await
                .ok()
                .filter(|plan| plan.placed_by_key_default.is_none())
                .map(Arc::new);
            stmt.planned_for = runtime.version;
        }
        let plan = stmt.plan.clone();
        let params = stmt.header.params;
        let execution = Execution {
            sql: stmt.sql.clone(),
            types: stmt.types.clone(),
            request,
            long_data,
        };
        // Bounded by `[server] query_timeout_ms` and the statement's own `SET STATEMENT
        // max_statement_time = … FOR` prefix, else the session's `max_statement_time`.
        let limit = runtime.topology.server.query_timeout;
        match self.statement_deadline(limit, Some(&execution.sql)) {
            None => self.run_execution(&runtime, plan, params, &execution).await,
            Some(at) => {
                let run = self.run_execution(&runtime, plan, params, &execution);
                crate::statement_time::within(at, run).await
            }
        }
    }

    /// Runs an execution of a prepared statement planned as `plan` (`None`: planned with its
    /// values) with `params` parameters.
    async fn run_execution(
        &mut self,
        runtime: &Runtime,
        plan: Option<Arc<Plan>>,
        params: u16,
        execution: &Execution<'_>,
    ) -> Step {
        // A table's lookups take the statement's values: each execution runs as text.
        let Some(plan) = plan.filter(|p| p.lookup.is_none()) else {
            return Box::pin(self.execute_interpolated(runtime, execution)).await;
        };
        // Its values are parameters: an id it reports is read back (see `reads_back`).
        if let Err(e) = self.begin_statement(&plan, &execution.sql, false) {
            return self.send_error(e).await;
        }
        let shard = match &plan.route {
            Route::Shard(shard) => *shard,
            Route::Deferred(deferred) => {
                let charset = self.state.client_charset().charset;
                let param = |i: usize| param_key(execution, i, charset);
                match deferred.resolve(&runtime.topology, param) {
                    Ok(shard) => shard,
                    // Its values span shards (or need a closer look): plan them as literals.
                    Err(_) => return Box::pin(self.execute_interpolated(runtime, execution)).await,
                }
            }
            _ if params > 0 => {
                return Box::pin(self.execute_interpolated(runtime, execution)).await
            }
            // No parameters: the statement's text runs as planned, rows in the binary protocol.
            _ => {
                let text = plan
                    .rewritten
                    .clone()
                    .map_or_else(|| execution.sql.to_vec(), String::into_bytes);
                return self.execute(runtime, &plan, &text, true).await;
            }
        };
        // Ids it gives its table's auto_increment column are its parameters' values.
        if plan.gives_ids {
            let advanced = match self.interpolated(execution) {
                Ok(text) => self.advance_past_given_ids(runtime, &text).await,
                Err(e) => Err(e),
            };
            if let Err(e) = advanced {
                return self.send_error(e).await;
            }
        }
        self.execute_on_shard(runtime, &plan, shard, execution)
            .await
    }

    /// Runs an execution on one shard as a prepared statement there.
    async fn execute_on_shard(
        &mut self,
        runtime: &Runtime,
        plan: &Plan,
        shard: ShardId,
        execution: &Execution<'_>,
    ) -> Step {
        let work = Work::Execute(execution);
        self.on_shard(runtime, shard, plan, &execution.sql, work)
            .await
    }

    /// An execution whose route depends on more than one shard-key value (or a statement over
    /// several shards with parameters): its parameters are written into the text as literals
    /// and that text is planned; a single shard still runs the prepared statement itself.
    async fn execute_interpolated(&mut self, runtime: &Runtime, execution: &Execution<'_>) -> Step {
        let text = match self.interpolated(execution) {
            Ok(text) => text,
            Err(e) => return self.send_error(e).await,
        };
        let sql = self.state.read_text(&text);
        let sql = sql.as_ref();
        // Texts the proxy writes from it go in the client's character set (see `run_text`).
        let read_as_sent = sql.as_bytes() == text;
        let planned = crate::schema_loader::plan_with_schema(runtime, sql, self.syntax).await;
        let rewrites = match &planned {
            Ok(plan) => !matches!(plan.route, Route::Shard(_)) || plan.lookup.is_some(),
            Err(e) => e.runs_in_steps(),
        };
        if rewrites && !read_as_sent {
            return self.send_error(self.not_read_as_sent()).await;
        }
        if let Err(e) = &planned {
            self.begin_steps(e);
        }
        let plan = match planned {
            Ok(plan) => plan,
            Err(RouteError::InsertNeedsIds(ids)) => {
                return self.insert_with_ids(&ids, sql, &execution.sql, true).await
            }
            Err(RouteError::InsertFromSelect(request)) => {
                return Box::pin(self.insert_from_select(runtime, &request)).await
            }
            Err(RouteError::CreateFromSelect(request)) => {
                return Box::pin(self.create_from_select(runtime, &request)).await
            }
            // A SELECT's answer must come in binary rows, which the copies give.
            Err(RouteError::SubqueriesFirst(request)) if request.verb == "SELECT" => {
                match shardgate_router::materialized(sql, self.syntax, &runtime.topology) {
                    Some(m) => {
                        let kind = shardgate_router::StatementKind::Read;
                        return Box::pin(self.materialize(runtime, &m, &text, kind, true)).await;
                    }
                    None => {
                        let e = RouteError::SubqueriesFirst(request);
                        return self.send_error(ClientError::from(&e)).await;
                    }
                }
            }
            Err(RouteError::SubqueriesFirst(request)) => {
                return Box::pin(self.write_after_subqueries(runtime, &request)).await
            }
            Err(RouteError::IntoVariables(request)) => {
                return Box::pin(self.select_into_variables(runtime, &request)).await
            }
            Err(RouteError::AssigningSelect(request)) => {
                return Box::pin(self.assigning_select(runtime, &request, true)).await
            }
            Err(RouteError::LimitedWrite(request)) => {
                return Box::pin(self.write_limited(runtime, &request)).await
            }
            Err(RouteError::MovingUpdate(request)) => {
                return Box::pin(self.update_moving_rows(runtime, &request)).await
            }
            Err(e @ RouteError::KeyFromLastInsertId { .. }) => {
                return Box::pin(self.insert_by_last_insert_id(runtime, sql, &e)).await
            }
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        // Its values are parameters: an id it reports is read back (see `reads_back`).
        if let Err(e) = self.begin_statement(&plan, &execution.sql, false) {
            return self.send_error(e).await;
        }
        match plan.route {
            Route::Shard(shard) if plan.lookup.is_none() => {
                self.execute_on_shard(runtime, &plan, shard, execution)
                    .await
            }
            _ => {
                let text = plan.rewritten.as_deref().unwrap_or(sql);
                self.execute(runtime, &plan, text.as_bytes(), true).await
            }
        }
    }

    /// The execution's statement text with its parameters written in as literals.
    fn interpolated(&self, execution: &Execution<'_>) -> Result<Vec<u8>, ClientError> {
        let no_backslash_escapes =
            (self.syntax.sql_mode).contains(shardgate_router::SqlMode::NO_BACKSLASH_ESCAPES);
        // Items named by their text keep the name with its `?` (see `parameter_item_names`).
        let named = std::str::from_utf8(&execution.sql)
            .ok()
            .and_then(|sql| shardgate_router::parameter_item_names(sql, self.syntax));
        let sql: &[u8] = named.as_ref().map_or(&execution.sql[..], |s| s.as_bytes());
        let offsets = interpolate::placeholders(sql, no_backslash_escapes);
        let bad = |e: String| {
            ClientError::new(
                1210,
                b"HY000",
                format!("Incorrect arguments to mysqld_stmt_execute: {e}"),
            )
        };
        let types = execution.types.as_deref().unwrap_or_default();
        let client_charset = self.state.client_charset();
        let legacy_charset = (!client_charset.is_utf8()).then_some(client_charset.name.as_str());
        if offsets.len() != types.len() / 2 {
            return Err(ClientError::new(
                1105,
                b"HY000",
                format!(
                    "shardgate found {} parameter markers in this statement where MariaDB found {}; send it as a text query",
                    offsets.len(),
                    types.len() / 2
                ),
            ));
        }
        let literals = (0..offsets.len())
            .map(|i| {
                let value = param_value(execution, i).map_err(bad)?;
                let column_type = types[2 * i];
                Ok(interpolate::literal(
                    &value,
                    column_type,
                    no_backslash_escapes,
                    legacy_charset,
                ))
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        Ok(interpolate::interpolate(sql, &offsets, &literals))
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

/// Parameter `i` of an execution as a shard-key value (`None` for NULL): a string read as
/// the characters it is in the client's character set (`charset`).
fn param_key(
    execution: &Execution<'_>,
    i: usize,
    charset: Charset,
) -> Result<Option<OwnedKey>, String> {
    Ok(match param_value(execution, i)? {
        ParamValue::Null => None,
        ParamValue::Int(v) => Some(OwnedKey::Int(v)),
        ParamValue::Bytes(b) => match charset {
            Charset::Utf8 => Some(OwnedKey::Str(b)),
            _ if is_blob_param(execution, i) => Some(OwnedKey::Str(b)),
            _ => {
                let text = (charset.read(&b))
                    .ok_or("a string in a character set shardgate cannot read")?;
                Some(OwnedKey::Str(text.into_owned().into_bytes()))
            }
        },
        ParamValue::Other(text) => Some(OwnedKey::Str(text.into_bytes())),
    })
}

/// Whether parameter `i` is bound as a BLOB type, which MariaDB reads as a binary string.
fn is_blob_param(execution: &Execution<'_>, i: usize) -> bool {
    (execution.types.as_deref())
        .and_then(|types| types.get(2 * i))
        .is_some_and(|&t| interpolate::is_blob_type(t))
}

/// Parameter `i` of an execution, from its long data or its bound value.
fn param_value(execution: &Execution<'_>, i: usize) -> Result<ParamValue, String> {
    if let Some((_, data)) = execution
        .long_data
        .iter()
        .find(|(p, _)| usize::from(*p) == i)
    {
        return Ok(ParamValue::Bytes(data.clone()));
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
    execution
        .request
        .param(types, i, long)
        .map_err(|e| e.to_string())
}
