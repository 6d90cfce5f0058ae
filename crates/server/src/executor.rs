//! The executor: runs a planned statement against the session's state — dispatches on its
//! route (`Session::execute`), runs one shard's work on a connection (`run_work!`: timed,
//! diagnostics kept, values read back) and checks connections out for it. The session
//! (`session.rs`) keeps the client connection and the command loop; each route's own
//! execution is its file (`scatter.rs`, `fan_out.rs`, `join.rs`, `set_operation.rs`,
//! `materialize.rs`, `transaction.rs`, …).

use std::sync::Arc;

use shardgate_backend::{BackendConn, BackendError, LocalFiles, PooledConn};
use shardgate_protocol::forward::ForwardError;
use shardgate_protocol::response::Finish;
use shardgate_protocol::stmt::ExecuteRequest;
use shardgate_protocol::tls::ClientStream;
use shardgate_protocol::{Command, PacketConn};
use shardgate_ring::ShardId;
use shardgate_router::{Plan, Route, StatementKind};
use shardgate_wire::packets;

use crate::errors::ClientError;
use crate::fan_out::Combine;
use crate::returning::Returning;
use crate::runtime::Runtime;
use crate::session::{Session, Step};

/// Runs `work` on `conn`, timed by `meter`, and keeps what its answer leaves the session:
/// the conditions it raised, and the values read back after it (`reads_back`). Evaluates to
/// the answer's end. A macro, not an `async fn`: a future of its own would cost the
/// point-select path about a hundred instructions (`bench/profile`).
macro_rules! run_work {
    ($session:expr, $conn:expr, $meter:expr, $kind:expr, $work:expr) => {{
        let conn: &mut shardgate_backend::PooledConn = $conn;
        let result = {
            let _timed = $meter.time($kind);
            ($work)
                .run(conn, $session.local_files(), &mut $session.client)
                .await
        };
        if let Ok(finish) = &result {
            $session.keep_diagnostics(conn, finish).await;
        }
        match $session.reads_back(&result) {
            true => $session.after_statement(conn, result).await,
            false => result,
        }
    }};
}
pub(crate) use run_work;

/// What follows a statement run on a pooled primary connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterWrite {
    Nothing,
    /// Read the write's GTID (`@@last_gtid`): the session's reads of the shard wait for it.
    RememberPosition,
}

/// What to run on the backend connection a statement was routed to.
pub(crate) enum Work<'a> {
    /// A COM_QUERY (or COM_FIELD_LIST) with its argument, sent as-is.
    Command(Command, &'a [u8]),
    /// A prepared statement's execution: prepared on the connection first if needed.
    Execute(&'a Execution<'a>),
}

/// A COM_STMT_EXECUTE ready to send on any backend connection.
pub(crate) struct Execution<'a> {
    pub sql: Arc<[u8]>,
    pub request: ExecuteRequest<'a>,
    /// Parameter types: this request's or those remembered from an earlier execution.
    pub types: Option<Vec<u8>>,
    /// COM_STMT_SEND_LONG_DATA chunks to replay first, per parameter.
    pub long_data: Vec<(u16, Vec<u8>)>,
}

impl Work<'_> {
    /// Sends the work on `conn` and forwards the answer to `client`, which may send a file
    /// the statement asks for as `local_files` says.
    pub(crate) async fn run(
        &self,
        conn: &mut PooledConn,
        local_files: LocalFiles,
        client: &mut PacketConn<ClientStream>,
    ) -> Result<Finish, ForwardError> {
        let execution = match self {
            Work::Command(command, arg) => {
                return conn.forward(*command, arg, client, local_files).await
            }
            Work::Execute(execution) => execution,
        };
        // A protocol failure keeps its kind: a statement cut off at its time bound while it
        // was being prepared is answered 1969, as one cut off while it ran.
        let backend_error = |e: BackendError| ForwardError::Backend {
            error: e.into_protocol(),
            partial: false,
        };
        let id = match conn
            .statement_id(&execution.sql)
            .await
            .map_err(backend_error)?
        {
            Ok(id) => id,
            Err(server_error) => {
                // The statement no longer prepares here (e.g. a table changed): say why.
                let packet = packets::err(
                    server_error.code,
                    &server_error.state,
                    &server_error.message,
                );
                client
                    .write_packet(&packet)
                    .await
                    .map_err(ForwardError::Client)?;
                return Ok(Finish::Err(server_error));
            }
        };
        for (param, data) in &execution.long_data {
            let mut arg = Vec::with_capacity(6 + data.len());
            arg.extend_from_slice(&id.to_le_bytes());
            arg.extend_from_slice(&param.to_le_bytes());
            arg.extend_from_slice(data);
            conn.send_no_reply(Command::COM_STMT_SEND_LONG_DATA, &arg)
                .await
                .map_err(backend_error)?;
        }
        let body = execution.request.encode_for(id, execution.types.as_deref());
        conn.forward(Command::COM_STMT_EXECUTE, &body, client, local_files)
            .await
    }
}

/// A connection lent for one of the proxy's own queries (`Session::lend_conn`).
pub(crate) struct Lent {
    pub conn: PooledConn,
    /// It is one the session keeps: it goes back to the pins.
    pub(crate) pinned: bool,
}

impl Session {
    /// A connection to run the proxy's own query on `shard`: the one the session keeps there
    /// (the query then sees its temporary tables and transaction), or a pooled one.
    pub(crate) async fn lend_conn(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
    ) -> Result<Lent, BackendError> {
        match self.pins.take(shard) {
            Some(conn) => Ok(Lent { conn, pinned: true }),
            None => Ok(Lent {
                conn: self.checkout(runtime, shard).await?,
                pinned: false,
            }),
        }
    }

    /// Returns a connection `lend_conn` gave.
    pub(crate) fn give_back_lent(&mut self, shard: ShardId, lent: Lent) {
        if lent.pinned {
            self.pins.give_back(shard, lent.conn);
        }
    }

    /// Runs the proxy's own `sql` on `shard`, on the session's connection there (its own, or a
    /// pooled one), answering nothing.
    pub(crate) async fn run_own(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        sql: &[u8],
    ) -> Result<(), ClientError> {
        let mut lent = (self.lend_conn(runtime, shard).await).map_err(|e| ClientError::from(&e))?;
        let finished = lent.conn.execute(Command::COM_QUERY, sql).await;
        self.give_back_lent(shard, lent);
        match finished {
            Ok(Finish::Err(e)) => Err(ClientError::from(e)),
            Ok(_) => Ok(()),
            Err(e) => Err(ClientError::from(&e)),
        }
    }

    /// Reads the result of the proxy's own `sql` on `shard`, on the session's connection there
    /// (as `run_own`): its column definitions and rows, or the server's error.
    pub(crate) async fn read_own(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        sql: &[u8],
    ) -> Result<crate::state::Answer, ClientError> {
        let mut lent = (self.lend_conn(runtime, shard).await).map_err(|e| ClientError::from(&e))?;
        let answer = crate::state::result_rows(&mut lent.conn, sql).await;
        self.give_back_lent(shard, lent);
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(ClientError::from(e)),
            Err(e) => Err(ClientError::from(&e)),
        }
    }

    /// Runs a planned statement; a scatter answers in binary-protocol rows with `binary` (a
    /// prepared statement's execution).
    pub(crate) async fn execute(
        &mut self,
        runtime: &Runtime,
        plan: &Plan,
        text: &[u8],
        binary: bool,
    ) -> Step {
        if plan.gives_ids {
            if let Err(e) = Box::pin(self.advance_past_given_ids(runtime, text)).await {
                return self.send_error(e).await;
            }
        }
        if let Some(state) = plan
            .connection_state
            .as_ref()
            .filter(|s| self.concerns_kept_state(s))
        {
            return Box::pin(self.with_connection_state(runtime, plan, state, text)).await;
        }
        if let Some(lookup) = &plan.lookup {
            return Box::pin(self.execute_with_lookup(runtime, plan, lookup, text, binary)).await;
        }
        // Large, rarer routes (several shards, SET, transactions, administration) are awaited
        // boxed, so that every session does not hold their state machines (ARCHITECTURE.md).
        match &plan.route {
            Route::Shard(shard) => {
                let work = Work::Command(Command::COM_QUERY, text);
                self.on_shard(runtime, *shard, plan, text, work).await
            }
            // `?` in a text query: MariaDB reports the syntax error.
            Route::Deferred(_) => {
                let work = Work::Command(Command::COM_QUERY, text);
                let shard = runtime.topology.default_shard;
                self.forward(runtime, shard, plan.kind, work, AfterWrite::Nothing)
                    .await
            }
            Route::AllShards => {
                let parts = (0..runtime.topology.shards.len())
                    .map(|s| (s, text))
                    .collect();
                Box::pin(self.fan_out(runtime, parts, false, Combine::Sum, None)).await
            }
            Route::Scatter(scatter) => match Box::pin(self.scatter(runtime, scatter, binary, text))
                .await
            {
                Ok(step) => step,
                Err(inexact) => {
                    Box::pin(self.materialize_instead(runtime, plan, text, binary, inexact)).await
                }
            },
            Route::SetOperation(set) => match Box::pin(self.set_operation(runtime, set, binary))
                .await
            {
                Ok(step) => step,
                Err(inexact) => {
                    Box::pin(self.materialize_instead(runtime, plan, text, binary, inexact)).await
                }
            },
            Route::Materialize(m) => match self.planned_with_columns(runtime, m, text).await {
                Some(Route::Join(j)) => {
                    Box::pin(self.join(runtime, &j, text, plan.kind, binary)).await
                }
                Some(Route::Materialize(again)) => {
                    Box::pin(self.materialize(runtime, &again, text, plan.kind, binary)).await
                }
                _ => Box::pin(self.materialize(runtime, m, text, plan.kind, binary)).await,
            },
            Route::Join(j) => Box::pin(self.join(runtime, j, text, plan.kind, binary)).await,
            Route::SetConsistency(level) => {
                self.consistency_override = *level;
                self.send_ok(0, 0).await
            }
            Route::Broadcast(shards) => {
                let returning = match self.returning(runtime, plan, shards, text, binary) {
                    Ok(returning) => returning,
                    Err(e) => return self.send_error(e).await,
                };
                let parts = shards.iter().map(|s| (*s, text)).collect();
                let run = self.fan_out(runtime, parts, true, Combine::Sum, returning.as_ref());
                Box::pin(run).await
            }
            Route::Copies(shards) => {
                // Every copy returns the same rows: one copy's answer them.
                let returning = shardgate_router::returns_rows(text, self.syntax)
                    .then(|| Returning::one_copy(binary));
                let parts = shards.iter().map(|s| (*s, text)).collect();
                let run = self.fan_out(runtime, parts, true, Combine::Copies, returning.as_ref());
                Box::pin(run).await
            }
            // Under sql_safe_updates, whether MariaDB accepts an UPDATE / DELETE depends on how
            // its WHERE clause can use a key: every shard gets the whole clause, as written.
            Route::Split(parts) if self.state.var_on("sql_safe_updates") && !plan.traits.insert => {
                let shards: Vec<ShardId> = parts.iter().map(|(s, _)| *s).collect();
                let returning = match self.returning(runtime, plan, &shards, text, binary) {
                    Ok(returning) => returning,
                    Err(e) => return self.send_error(e).await,
                };
                let parts = parts.iter().map(|(s, _)| (*s, text)).collect();
                let run = self.fan_out(runtime, parts, true, Combine::Sum, returning.as_ref());
                Box::pin(run).await
            }
            Route::Split(parts) => {
                let shards: Vec<ShardId> = parts.iter().map(|(s, _)| *s).collect();
                let returning = match self.returning(runtime, plan, &shards, text, binary) {
                    Ok(returning) => returning,
                    Err(e) => return self.send_error(e).await,
                };
                let parts = parts.iter().map(|(s, sql)| (*s, sql.as_bytes())).collect();
                let run = self.fan_out(runtime, parts, true, Combine::Sum, returning.as_ref());
                Box::pin(run).await
            }
            Route::Use(db) => {
                // A name in another character set than UTF-8: its bytes as the client wrote them.
                let raw = (!text.is_ascii())
                    .then(|| crate::database_name::use_name(text))
                    .flatten();
                let name = raw.as_deref().unwrap_or(db.as_bytes());
                Box::pin(self.use_database(name)).await
            }
            Route::Set {
                vars,
                autocommit,
                globals,
            } => {
                let role = vars
                    .iter()
                    .any(|v| v.name == shardgate_router::ROLE_SETTING);
                if role && self.pass_through.is_none() {
                    let e = ClientError::new(
                        1235,
                        b"42000",
                        "SET ROLE through shardgate is not supported for [[users]] accounts: their backend connections run as shardgate's backend account, whose roles are not the client's (accounts logged in by pass_through_auth may)",
                    );
                    return self.send_error(e).await;
                }
                if *globals && !Box::pin(self.set_globals_elsewhere(runtime, text)).await? {
                    return Ok(());
                }
                Box::pin(self.set(runtime, vars, *autocommit, text)).await
            }
            Route::Transaction(cmd) => Box::pin(self.transaction(runtime, cmd, text)).await,
            Route::Kill(kill) => Box::pin(self.kill(runtime, kill.clone())).await,
            Route::ProcessList { full } => {
                Box::pin(self.process_list(runtime, *full, binary)).await
            }
            Route::EveryPrimary { privilege } => {
                Box::pin(self.on_every_primary(runtime, plan.kind, privilege, text)).await
            }
            Route::StoredProgram { elsewhere } => {
                Box::pin(self.stored_program(runtime, plan, text, elsewhere.as_deref())).await
            }
            Route::Explain(explained) => Box::pin(self.explain(runtime, explained, binary)).await,
            Route::Maintenance(kind) => {
                Box::pin(self.maintenance(runtime, *kind, text, binary)).await
            }
        }
    }

    /// Runs `work` (from statement `text`, planned as `plan`) on `shard`: on the connection the
    /// session keeps there, if any; otherwise a read on a replica its consistency allows, or
    /// the primary.
    pub(crate) async fn on_shard(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        plan: &Plan,
        text: &[u8],
        work: Work<'_>,
    ) -> Step {
        if self.runs_pinned(shard) {
            return self.on_pinned(runtime, shard, plan.kind, work).await;
        }
        let hint = crate::reads::consistency_hint(text);
        self.run_single(runtime, shard, plan.kind, plan.table.as_deref(), hint, work)
            .await
    }

    /// Runs `work` on the primary of `shard` (the connection the session keeps there, or a
    /// pooled one) and forwards its answer; with `AfterWrite::RememberPosition`, the write's
    /// GTID is kept for read-your-writes.
    pub(crate) async fn forward(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        kind: StatementKind,
        work: Work<'_>,
        after: AfterWrite,
    ) -> Step {
        if self.pins.has(shard) {
            return self.on_pinned(runtime, shard, kind, work).await;
        }
        let mut conn = match self.checkout(runtime, shard).await {
            Ok(conn) => conn,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let meter = runtime.instruments.primary(shard);
        let result = run_work!(self, &mut conn, meter, kind, &work);
        if after == AfterWrite::RememberPosition && result.is_ok() {
            self.remember_write(shard, &mut conn).await;
        }
        let pool = conn.pool().clone();
        drop(conn);
        self.forwarded(result, &pool).await
    }

    pub(crate) async fn checkout(
        &self,
        runtime: &Runtime,
        shard: ShardId,
    ) -> Result<PooledConn, BackendError> {
        let pool = runtime.primary_of(self.pass_through.as_ref(), shard);
        let mut conn = (runtime.instruments)
            .checkout(&pool, shard, None, self.flavor)
            .await?;
        self.slot.hold(&conn);
        self.state.sync(&mut conn).await?;
        let ids = self.statement_ids();
        if ids.wanted() {
            ids.give(&mut conn).await?;
        }
        Ok(conn)
    }

    /// Gives `conn` what the statement being run needs besides the session's variables: the
    /// session's `LAST_INSERT_ID()` and connection id, when the statement may read them.
    pub(crate) async fn before_statement(
        &self,
        conn: &mut BackendConn,
    ) -> Result<(), BackendError> {
        self.statement_ids().give(conn).await
    }

    /// The ids the statement being run may read (see `ids`).
    pub(crate) fn statement_ids(&self) -> crate::ids::StatementIds {
        crate::ids::StatementIds {
            last_insert_id: self
                .statement_reads_last_insert_id
                .then_some(self.last_insert_id),
            connection_id: self.statement_reads_connection_id.then_some(self.slot.id),
        }
    }
}

/// 1235 for rows returned by a write to `shards` that the proxy cannot answer.
fn returning_refused(runtime: &Runtime, shards: &[ShardId]) -> ClientError {
    let names: Vec<&str> = (shards.iter())
        .map(|s| runtime.topology.shards[*s].name.as_str())
        .collect();
    ClientError::new(
        1235,
        b"42000",
        format!(
            "RETURNING in this write to several shards ({}) is not supported by shardgate: write the rows of one shard per statement",
            names.join(", ")
        ),
    )
}

impl Session {
    /// How the rows a write on `shards` returns (`RETURNING`) are answered: a split INSERT's
    /// in the order of its VALUES, a DELETE's one shard after the other; `None` when it
    /// returns none.
    fn returning(
        &self,
        runtime: &Runtime,
        plan: &Plan,
        shards: &[ShardId],
        text: &[u8],
        binary: bool,
    ) -> Result<Option<Returning>, ClientError> {
        if !shardgate_router::returns_rows(text, self.syntax) {
            return Ok(None);
        }
        if !plan.traits.insert {
            return Ok(Some(Returning::concatenated(binary)));
        }
        let ordered = std::str::from_utf8(text)
            .ok()
            .and_then(|sql| {
                shardgate_router::insert_row_shards(sql, self.syntax, &runtime.topology)
            })
            .and_then(|rows| Returning::new(&rows, shards, binary));
        match ordered {
            Some(returning) => Ok(Some(returning)),
            None => Err(returning_refused(runtime, shards)),
        }
    }
}
