//! One client connection: the handshake, then a loop reading commands and executing them.

use std::net::SocketAddr;
use std::sync::Arc;

use shardgate_backend::{BackendConn, BackendError, Flavor, Pool, PooledConn};
use shardgate_config::TransactionMode;
use shardgate_protocol::forward::ForwardError;
use shardgate_protocol::packets::{self, OkInfo};
use shardgate_protocol::response::Finish;
use shardgate_protocol::server_handshake::{
    accept, change_user, ChangeUser, Greeting, HandshakeError, Login,
};
use shardgate_protocol::stmt::ExecuteRequest;
use shardgate_protocol::tls::ClientStream;
use shardgate_protocol::{CapabilityFlags, Command, PacketConn, ProtocolError, StatusFlags};
use shardgate_ring::ShardId;
use shardgate_router::{
    plan_sql, reads_last_insert_id, set_last_insert_id, Plan, PlanCache, Route, RouteError,
    SessionVar, SqlMode, StatementKind, Syntax, TxnCommand,
};
use tokio::net::TcpStream;

use crate::errors::{unknown_command, ClientError};
use crate::fan_out::Combine;
use crate::prepared::Statements;
use crate::runtime::Runtime;
use crate::state::{expect_ok, SessionState};
use crate::Proxy;

/// Why a session ends early.
#[derive(Debug)]
pub(crate) enum End {
    /// The client went away or sent something unreadable; logged, connection closed.
    Client(ProtocolError),
    /// The answer broke after part of it reached the client: closing is the only honest signal.
    BrokenAnswer(String),
}

pub(crate) type Step = Result<(), End>;

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
    /// Sends the work on `conn` and forwards the answer to `client`.
    pub(crate) async fn run(
        &self,
        conn: &mut PooledConn,
        client: &mut PacketConn<ClientStream>,
    ) -> Result<Finish, ForwardError> {
        let execution = match self {
            Work::Command(command, arg) => return conn.forward(*command, arg, client).await,
            Work::Execute(execution) => execution,
        };
        let backend_error = |e: BackendError| ForwardError::Backend {
            error: ProtocolError::malformed(e.to_string()),
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
        conn.forward(Command::COM_STMT_EXECUTE, &body, client).await
    }
}

/// An open transaction: the shards it runs on, each with the connection pinned to it.
#[derive(Debug, Default)]
pub(crate) struct Txn {
    /// `BEGIN …` text to send on each shard the transaction opens on (explicit transactions).
    begin: Option<String>,
    /// The shards joined so far, in the order they joined (the order COMMIT goes in).
    joined: Vec<(ShardId, PooledConn)>,
    /// Whether anything but plain reads ran. In transaction_mode "single" a transaction that
    /// only read may move to another shard (its snapshot is released); one that wrote stays.
    pub(crate) wrote: bool,
}

impl Txn {
    pub(crate) fn conn(&mut self, shard: ShardId) -> Option<&mut PooledConn> {
        self.joined
            .iter_mut()
            .find(|(s, _)| *s == shard)
            .map(|(_, c)| c)
    }

    /// Takes the connection of `shard` out (to lend it to a task); `give_back` returns it.
    pub(crate) fn take(&mut self, shard: ShardId) -> Option<PooledConn> {
        let at = self.joined.iter().position(|(s, _)| *s == shard)?;
        Some(self.joined.remove(at).1)
    }

    pub(crate) fn give_back(&mut self, shard: ShardId, conn: PooledConn) {
        self.joined.push((shard, conn));
    }
}

/// Who the client is: what COM_CHANGE_USER re-checks against.
struct Identity {
    peer: String,
    /// The account the client logged in as (admin statements check it).
    user: String,
    /// The handshake's salt, which COM_CHANGE_USER scrambles with.
    scramble: [u8; 20],
}

pub(crate) struct Session {
    pub(crate) client: PacketConn<ClientStream>,
    pub(crate) proxy: Arc<Proxy>,
    identity: Identity,
    pub(crate) capabilities: CapabilityFlags,
    pub(crate) flavor: Flavor,
    pub(crate) state: SessionState,
    pub(crate) statements: Statements,
    /// The state right after login, which COM_RESET_CONNECTION returns to.
    initial_state: SessionState,
    pub(crate) txn: Option<Txn>,
    /// The id the session's last auto-increment INSERT generated (what LAST_INSERT_ID() says).
    pub(crate) last_insert_id: u64,
    /// User variables the statement being run assigns inside a query (`Plan::assigns`):
    /// read back from its connection afterwards.
    pub(crate) statement_assigns: Vec<String>,
    /// The statement being run may read `LAST_INSERT_ID()`: each connection it runs on gets
    /// the session's value first, and the single-connection paths read it back afterwards.
    pub(crate) statement_reads_last_insert_id: bool,
    /// The statement being run is an INSERT / REPLACE: its text (empty for a prepared one),
    /// which tells an id MariaDB generated from one the statement gave (see `reads_back`).
    pub(crate) statement_insert: Option<Vec<u8>>,
    /// The id the statement's OK reported may have been given, not generated: read
    /// LAST_INSERT_ID() back.
    pub(crate) statement_id_unsure: bool,
    /// That id.
    statement_reported_id: u64,
    /// An INSERT failed: MariaDB may have moved LAST_INSERT_ID() to an id it generated for a
    /// row before the failing one, which the error does not report. Until an id is known
    /// again, statements that read LAST_INSERT_ID() are refused rather than answered wrong.
    pub(crate) last_insert_id_unknown: bool,
    /// How the session's text is read: its `sql_mode` and the servers' version.
    pub(crate) syntax: Syntax,
    /// The last statement left no warning and no error: `SHOW WARNINGS` is empty, whichever
    /// backend connection answers it. (The warnings themselves stay on the connection that
    /// ran the statement.)
    pub(crate) diagnostics_clean: bool,
    /// The syntax at login (the servers' global `sql_mode`), which a reset returns to.
    initial_syntax: Syntax,
    /// `SET @@shardgate_consistency`: overrides the tables' consistency levels.
    pub(crate) consistency_override: Option<shardgate_config::Consistency>,
    /// Single-shard plans of the session's text statements, by template.
    plans: PlanCache,
    /// Per shard, the session's last write, for read-your-writes.
    pub(crate) last_write: std::collections::HashMap<ShardId, crate::reads::LastWrite>,
    /// The statement's answer ended in an error: a multi-statement text stops there.
    pub(crate) answered_error: bool,
}

pub async fn run(stream: TcpStream, peer: SocketAddr, proxy: Arc<Proxy>) {
    let _ = stream.set_nodelay(true);
    let mut client = PacketConn::new(ClientStream::Plain(stream));
    let runtime = proxy.runtime();
    client.set_max_packet(runtime.topology.server.max_allowed_packet);
    let connection_id = proxy.connection_id();
    let greeting = Greeting::new(connection_id, &runtime.topology.server.server_version);
    let users = &runtime.topology.users;
    let peer_text = peer.to_string();
    let handshake = accept(
        &mut client,
        &greeting,
        runtime.tls.as_ref(),
        |user| {
            users
                .iter()
                .find(|u| u.name == user)
                .map(|u| u.password.clone())
        },
        &peer_text,
    );
    let limit = runtime.topology.server.handshake_timeout;
    let outcome = tokio::time::timeout(limit, handshake).await;
    let timed_out = ProtocolError::Timeout("handshake");
    let login = match outcome.unwrap_or(Err(timed_out.into())) {
        Ok(login) => login,
        Err(HandshakeError::AccessDenied(user)) => {
            tracing::info!(%peer, user, "access denied");
            return;
        }
        Err(e) => {
            tracing::info!(%peer, error = %e, "handshake failed");
            return;
        }
    };
    let identity = Identity {
        peer: peer_text.clone(),
        user: login.user.clone(),
        scramble: greeting.scramble,
    };
    let Some(mut session) = Session::start(client, proxy, &runtime, &login, identity).await else {
        return;
    };
    // Each statement loads the runtime afresh; holding this one for the whole connection would
    // keep a replaced topology's pools and health checks alive after a reload.
    drop(runtime);
    tracing::info!(%peer, user = login.user, connection_id, "client connected");
    let _open = crate::instruments::ClientConnection::open();
    let span = tracing::info_span!("client", connection_id);
    match tracing::Instrument::instrument(session.serve(), span).await {
        Ok(()) => tracing::info!(%peer, connection_id, "client disconnected"),
        Err(End::Client(e)) => {
            tracing::info!(%peer, connection_id, reason = %e, "client connection closed")
        }
        Err(End::BrokenAnswer(e)) => {
            tracing::warn!(%peer, connection_id, reason = %e, "closed client connection mid-answer")
        }
    }
    session.client.shutdown().await;
}

impl Session {
    /// Finishes the connection phase: checks the requested database, then sends the final OK.
    async fn start(
        client: PacketConn<ClientStream>,
        proxy: Arc<Proxy>,
        runtime: &Runtime,
        login: &Login,
        identity: Identity,
    ) -> Option<Self> {
        let default_db = &runtime.topology.backend.database;
        let database = login.database.clone().unwrap_or_else(|| default_db.clone());
        let state = SessionState::new(database, login.collation);
        let syntax = runtime
            .default_syntax(Flavor::of_client(login.capabilities))
            .await;
        let mut session = Session {
            client,
            proxy,
            identity,
            capabilities: login.capabilities,
            flavor: Flavor::of_client(login.capabilities),
            initial_state: state.clone(),
            state,
            statements: Statements::default(),
            txn: None,
            last_insert_id: 0,
            consistency_override: None,
            statement_assigns: Vec::new(),
            statement_reads_last_insert_id: false,
            statement_insert: None,
            statement_id_unsure: false,
            statement_reported_id: 0,
            last_insert_id_unknown: false,
            syntax,
            initial_syntax: syntax,
            diagnostics_clean: true,
            plans: PlanCache::default(),
            last_write: std::collections::HashMap::new(),
            answered_error: false,
        };
        if let Err(e) = session.check_database(runtime).await {
            let _ = session.client.write_packet(&e.encode()).await;
        }
        let ok = packets::ok(&OkInfo {
            status: session.status(),
            ..OkInfo::default()
        });
        session.client.write_packet(&ok).await.ok()?;
        Some(session)
    }

    /// Checks that the session's database exists (on the default shard), unless it is the
    /// configured one every backend connection starts in.
    async fn check_database(&self, runtime: &Runtime) -> Result<(), ClientError> {
        if self.state.database == runtime.topology.backend.database {
            return Ok(());
        }
        let pool = runtime.primary(runtime.topology.default_shard);
        let checked = async {
            let mut conn = pool.get(self.flavor).await?;
            self.state.sync(&mut conn).await
        };
        checked.await.map_err(|e| ClientError::from(&e))
    }

    /// COM_CHANGE_USER: re-authenticates, then starts over as a fresh session of that user
    /// (variables, database, prepared statements and any open transaction are dropped).
    async fn change_user(&mut self, arg: &[u8]) -> Step {
        let request = ChangeUser::parse(arg, self.capabilities).map_err(End::Client)?;
        let runtime = self.proxy.runtime();
        let users = &runtime.topology.users;
        let password_of = |user: &str| {
            users
                .iter()
                .find(|u| u.name == user)
                .map(|u| u.password.clone())
        };
        match change_user(
            &mut self.client,
            &self.identity.scramble,
            &request,
            password_of,
            &self.identity.peer,
        )
        .await
        {
            Ok(()) => {}
            Err(HandshakeError::Protocol(e)) => return Err(End::Client(e)),
            // MariaDB closes the connection after a failed change of user; so do we.
            Err(e) => return Err(End::Client(ProtocolError::Unsupported(e.to_string()))),
        }
        let database = request
            .database
            .unwrap_or_else(|| runtime.topology.backend.database.clone());
        let collation = request
            .collation
            .unwrap_or(shardgate_protocol::UTF8MB4_GENERAL_CI);
        self.txn = None;
        self.statements.clear();
        self.last_insert_id = 0;
        self.last_insert_id_unknown = false;
        self.consistency_override = None;
        self.syntax = self.initial_syntax;
        self.state = SessionState::new(database, collation);
        if let Err(e) = self.check_database(&runtime).await {
            self.state = self.initial_state.clone();
            return self.send_error(e).await;
        }
        self.initial_state = self.state.clone();
        tracing::info!(peer = %self.identity.peer, user = request.user, "changed user");
        self.identity.user.clone_from(&request.user);
        self.send_ok(0, 0).await
    }

    /// Status flags for answers the proxy writes itself.
    pub(crate) fn status(&self) -> StatusFlags {
        let mut status = StatusFlags::empty();
        if self.state.autocommit {
            status |= StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        }
        if self.txn.is_some() {
            status |= StatusFlags::SERVER_STATUS_IN_TRANS;
        }
        // A statement of a multi-statement text with more after it.
        if self.client.relay().more_results {
            status |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        }
        status
    }

    pub(crate) fn in_transaction(&self) -> bool {
        self.txn.is_some() || !self.state.autocommit
    }

    pub(crate) async fn send_ok(&mut self, affected_rows: u64, warnings: u16) -> Step {
        self.send_ok_with_id(affected_rows, 0, warnings).await
    }

    pub(crate) async fn send_ok_with_id(
        &mut self,
        affected_rows: u64,
        last_insert_id: u64,
        warnings: u16,
    ) -> Step {
        self.diagnostics_clean &= warnings == 0;
        let ok = packets::ok(&OkInfo {
            affected_rows,
            last_insert_id,
            status: self.status(),
            warnings,
            ..OkInfo::default()
        });
        self.client.write_packet(&ok).await.map_err(End::Client)
    }

    /// The account the client is logged in as.
    pub(crate) fn user(&self) -> &str {
        &self.identity.user
    }

    pub(crate) async fn send_error(&mut self, e: ClientError) -> Step {
        self.diagnostics_clean = false;
        self.answered_error = true;
        crate::instruments::count_error(e.code);
        tracing::info!(
            code = e.code,
            kind = crate::instruments::error_kind(e.code),
            message = %e.message,
            "statement failed"
        );
        self.client
            .write_packet(&e.encode())
            .await
            .map_err(End::Client)
    }

    async fn serve(&mut self) -> Step {
        loop {
            self.client.reset_seq();
            self.statement_assigns.clear();
            self.statement_reads_last_insert_id = false;
            self.statement_insert = None;
            let packet = match self.client.read_packet().await {
                Ok(p) => p,
                Err(ProtocolError::Closed) => return Ok(()),
                Err(e) => {
                    if let Some(answer) = crate::errors::refused_packet(&e) {
                        let drain = std::time::Duration::from_secs(10);
                        self.client.refuse_packet(&answer.encode(), drain).await;
                    }
                    return Err(End::Client(e));
                }
            };
            let Some((&command, arg)) = packet.split_first() else {
                return Err(End::Client(ProtocolError::malformed(
                    "empty command packet",
                )));
            };
            match command {
                c if c == Command::COM_QUIT as u8 => return Ok(()),
                c if c == Command::COM_PING as u8 => self.send_ok(0, 0).await?,
                c if c == Command::COM_QUERY as u8 => self.query(arg).await?,
                c if c == Command::COM_INIT_DB as u8 => {
                    let db = String::from_utf8_lossy(arg).into_owned();
                    self.use_database(db).await?
                }
                c if c == Command::COM_FIELD_LIST as u8 => {
                    let shard = self.proxy.runtime().topology.default_shard;
                    let work = Work::Command(Command::COM_FIELD_LIST, arg);
                    self.forward(shard, StatementKind::Read, work).await?
                }
                c if c == Command::COM_SET_OPTION as u8 => self.set_option(arg).await?,
                c if c == Command::COM_RESET_CONNECTION as u8 => {
                    // Dropping a pinned connection closes it, so MariaDB rolls its transaction back;
                    // pooled connections carrying this session's variables are reset before reuse.
                    self.txn = None;
                    // Like MariaDB: everything back to the login state but the current database.
                    let database = std::mem::take(&mut self.state.database);
                    self.state = self.initial_state.clone();
                    self.state.database = database;
                    self.statements.clear();
                    self.last_insert_id = 0;
                    self.last_insert_id_unknown = false;
                    self.consistency_override = None;
                    self.syntax = self.initial_syntax;
                    self.send_ok(0, 0).await?
                }
                c if c == Command::COM_CHANGE_USER as u8 => self.change_user(arg).await?,
                c if c == Command::COM_STMT_PREPARE as u8 => self.stmt_prepare(arg).await?,
                c if c == Command::COM_STMT_EXECUTE as u8 => self.stmt_execute(arg).await?,
                c if c == Command::COM_STMT_SEND_LONG_DATA as u8 => self.stmt_send_long_data(arg),
                c if c == Command::COM_STMT_RESET as u8 => self.stmt_reset(arg).await?,
                c if c == Command::COM_STMT_CLOSE as u8 => self.stmt_close(arg),
                c if c == Command::COM_STATISTICS as u8 => {
                    let text = b"shardgate: statistics are served on the metrics endpoint";
                    self.client.write_packet(text).await.map_err(End::Client)?
                }
                other => self.send_error(unknown_command(other)).await?,
            }
        }
    }

    async fn query(&mut self, arg: &[u8]) -> Step {
        // Only a text with a `;` may hold several statements (see `multi.rs`).
        if memchr::memchr(b';', arg).is_some() {
            return self.query_statements(arg).await;
        }
        self.statement(arg).await
    }

    /// Runs one statement of a COM_QUERY text.
    pub(crate) async fn statement(&mut self, arg: &[u8]) -> Step {
        let runtime = self.proxy.runtime();
        let sql = String::from_utf8_lossy(arg);
        if let Some(statement) = crate::admin::parse(&sql) {
            return self.admin(&runtime, statement).await;
        }
        if let Some(diagnostics) = shardgate_router::diagnostics_statement(&sql) {
            return self.show_diagnostics(&runtime, diagnostics).await;
        }
        if let Some(statement) = shardgate_router::sql_prepared_statement(&sql, self.syntax) {
            return self.sql_prepared(&runtime, statement, arg).await;
        }
        let cached = self.plans.plan(&sql, &runtime.topology, self.syntax);
        let plan = match cached.map_or_else(|| plan_sql(&sql, &runtime.topology, self.syntax), Ok) {
            Ok(plan) => plan,
            Err(RouteError::Unparsed { table, message }) => {
                return self.unparsed(&runtime, arg, table, message).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot route");
                return self.send_error(ClientError::from(&e)).await;
            }
        };
        let rewrites =
            plan.rewritten.is_some() || matches!(plan.route, Route::Split(_) | Route::Scatter(_));
        if rewrites && std::str::from_utf8(arg).is_err() {
            return self.send_error(crate::errors::not_utf8_rewrite()).await;
        }
        if let Err(e) = self.begin_statement(&plan, arg, true) {
            return self.send_error(e).await;
        }
        let text = plan.rewritten.as_deref().map_or(arg, str::as_bytes);
        crate::instruments::record_load(&runtime, &plan);
        let started = std::time::Instant::now();
        let step = self.execute(&runtime, &plan, text, false).await;
        let elapsed = started.elapsed();
        runtime
            .instruments
            .route_duration(&plan.route)
            .observe(elapsed.as_secs_f64());
        if elapsed >= runtime.topology.server.slow_query {
            tracing::info!(
                duration_ms = elapsed.as_millis() as u64,
                route = crate::instruments::route_label(&plan.route),
                statement = %crate::slow_log::digest(&sql, crate::slow_log::MAX_TEXT),
                "slow query"
            );
        }
        step
    }

    /// A statement naming a sharded table that our parser cannot read. MariaDB's parser decides:
    /// a real syntax error comes back with MariaDB's own code and message (a statement is
    /// prepared, never executed, on the default shard); valid MariaDB SQL gets our clear error.
    pub(crate) async fn unparsed(
        &mut self,
        runtime: &Runtime,
        sql: &[u8],
        table: String,
        message: String,
    ) -> Step {
        let pool = runtime.primary(runtime.topology.default_shard);
        let verdict = async {
            let mut conn = pool.get(self.flavor).await?;
            self.state.sync(&mut conn).await?;
            // Preparing creates the user variables it assigns (typed, NULL): reset it later.
            conn.vars_fingerprint = crate::state::DIRTY;
            conn.prepare_check(sql).await
        };
        let error = match verdict.await {
            Ok(Some(syntax_error)) if syntax_error.code == 1064 => ClientError::from(syntax_error),
            Ok(_) => ClientError::from(&RouteError::Unparsed { table, message }),
            Err(e) => ClientError::from(&e),
        };
        self.send_error(error).await
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
        match &plan.route {
            Route::Shard(shard) => {
                if self.in_transaction() {
                    self.in_txn(
                        runtime,
                        *shard,
                        plan.kind,
                        Work::Command(Command::COM_QUERY, text),
                    )
                    .await
                } else {
                    let hint = crate::reads::consistency_hint(text);
                    let work = Work::Command(Command::COM_QUERY, text);
                    self.run_single(
                        runtime,
                        *shard,
                        plan.kind,
                        plan.table.as_deref(),
                        hint,
                        work,
                    )
                    .await
                }
            }
            // `?` in a text query: MariaDB reports the syntax error.
            Route::Deferred(_) => {
                let work = Work::Command(Command::COM_QUERY, text);
                self.forward(runtime.topology.default_shard, plan.kind, work)
                    .await
            }
            Route::AllShards => {
                let parts = (0..runtime.topology.shards.len())
                    .map(|s| (s, text))
                    .collect();
                self.fan_out(runtime, parts, false, Combine::Sum).await
            }
            Route::Scatter(plan) => self.scatter(runtime, plan, binary).await,
            Route::SetConsistency(level) => {
                self.consistency_override = *level;
                self.send_ok(0, 0).await
            }
            Route::Broadcast(shards) => {
                let parts = shards.iter().map(|s| (*s, text)).collect();
                self.fan_out(runtime, parts, true, Combine::Sum).await
            }
            Route::Copies(shards) => {
                let parts = shards.iter().map(|s| (*s, text)).collect();
                self.fan_out(runtime, parts, true, Combine::Copies).await
            }
            // Under sql_safe_updates, whether MariaDB accepts an UPDATE / DELETE depends on how
            // its WHERE clause can use a key: every shard gets the whole clause, as written.
            Route::Split(parts)
                if self.state.var_on("sql_safe_updates") && !starts_insert(text, self.syntax) =>
            {
                let parts = parts.iter().map(|(s, _)| (*s, text)).collect();
                self.fan_out(runtime, parts, true, Combine::Sum).await
            }
            Route::Split(parts) => {
                let parts = parts.iter().map(|(s, sql)| (*s, sql.as_bytes())).collect();
                self.fan_out(runtime, parts, true, Combine::Sum).await
            }
            Route::Use(db) => self.use_database(db.clone()).await,
            Route::Set { vars, autocommit } => self.set(runtime, vars, *autocommit, text).await,
            Route::Transaction(cmd) => self.transaction(runtime, cmd, text).await,
        }
    }

    /// Runs `work` on a pooled connection of `shard` and forwards its answer.
    pub(crate) async fn forward(
        &mut self,
        shard: ShardId,
        kind: StatementKind,
        work: Work<'_>,
    ) -> Step {
        let runtime = self.proxy.runtime();
        let mut conn = match self.checkout(&runtime, shard).await {
            Ok(conn) => conn,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let meter = runtime.instruments.primary(shard);
        let result = {
            let _timed = meter.time(kind);
            work.run(&mut conn, &mut self.client).await
        };
        let pool = conn.pool().clone();
        let result = match self.reads_back(&result) {
            true => self.after_statement(&mut conn, result).await,
            false => result,
        };
        drop(conn);
        self.forwarded(result, &pool).await
    }

    pub(crate) async fn checkout(
        &self,
        runtime: &Runtime,
        shard: ShardId,
    ) -> Result<PooledConn, BackendError> {
        let pool = runtime.primary(shard);
        let mut conn = (runtime.instruments)
            .checkout(pool, shard, None, self.flavor)
            .await?;
        self.state.sync(&mut conn).await?;
        if self.statement_reads_last_insert_id {
            self.before_statement(&mut conn).await?;
        }
        Ok(conn)
    }

    /// Gives `conn` what the statement being run needs besides the session's variables: the
    /// session's `LAST_INSERT_ID()`, when the statement may read it.
    pub(crate) async fn before_statement(
        &self,
        conn: &mut BackendConn,
    ) -> Result<(), BackendError> {
        if self.statement_reads_last_insert_id {
            let sql = set_last_insert_id(self.last_insert_id);
            expect_ok(conn, Command::COM_QUERY, sql.as_bytes()).await?;
        }
        Ok(())
    }

    /// `SHOW WARNINGS`, `SHOW ERRORS`: after a statement that left none, the empty answer
    /// (MariaDB's own, from `SHOW WARNINGS LIMIT 0` on any connection); otherwise refused, as
    /// the diagnostics stay on the connection that ran the statement.
    async fn show_diagnostics(
        &mut self,
        runtime: &Runtime,
        statement: shardgate_router::DiagnosticsStatement,
    ) -> Step {
        match (self.diagnostics_clean, statement.empty_answer()) {
            (true, Some(empty)) => {
                let shard = runtime.topology.default_shard;
                let work = Work::Command(Command::COM_QUERY, empty.as_bytes());
                // Answering it leaves the diagnostics as they were.
                self.forward(shard, StatementKind::Read, work).await?;
                self.diagnostics_clean = true;
                Ok(())
            }
            _ => {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    "SHOW WARNINGS / SHOW ERRORS after a statement that raised some, and SHOW COUNT(*) WARNINGS, are not supported by shardgate yet: the previous statement's diagnostics stay on the backend connection that ran it",
                );
                self.send_error(e).await
            }
        }
    }

    /// Notes what the statement about to run (planned as `plan`, from `text`) needs around it
    /// (the `statement_*` fields). `keep_text`: an INSERT's text tells generated ids from given
    /// ones (a prepared statement's holds `?` instead of its values). An error when it would
    /// read a LAST_INSERT_ID() the session does not know.
    pub(crate) fn begin_statement(
        &mut self,
        plan: &Plan,
        text: &[u8],
        keep_text: bool,
    ) -> Result<(), ClientError> {
        self.statement_assigns.clone_from(&plan.assigns);
        self.statement_reads_last_insert_id = reads_last_insert_id(text);
        if self.statement_reads_last_insert_id && self.last_insert_id_unknown {
            return Err(crate::errors::last_insert_id_unknown());
        }
        self.statement_insert = starts_insert(text, self.syntax).then(|| match keep_text {
            true => text.to_vec(),
            false => Vec::new(),
        });
        // A statement with tables starts MariaDB's list of warnings afresh; one without adds
        // its own to the previous statement's.
        self.diagnostics_clean |= plan.uses_tables;
        Ok(())
    }

    /// Takes the id a statement's OK reported as the session's LAST_INSERT_ID(), unless the
    /// statement may have given it explicitly (see `reads_back`): then `true`, read it back.
    pub(crate) fn settle_reported_id(&mut self, reported: u64) -> bool {
        if reported == 0 {
            return false;
        }
        self.statement_reported_id = reported;
        match &self.statement_insert {
            Some(text) if text.is_empty() || mentions_number(text, reported) => true,
            _ => {
                self.last_insert_id = reported;
                self.last_insert_id_unknown = false;
                false
            }
        }
    }

    /// The session's LAST_INSERT_ID() after reading `read` back from the statement's
    /// connection: that value when the connection had the session's before the statement
    /// (`before_statement`); otherwise the reported id if the statement generated it
    /// (LAST_INSERT_ID() equals it), else unchanged (the id was given explicitly).
    pub(crate) fn adopt_read_id(&mut self, read: u64) {
        if self.statement_reads_last_insert_id
            || (self.statement_id_unsure && read == self.statement_reported_id)
        {
            self.last_insert_id = read;
            self.last_insert_id_unknown = false;
        }
    }

    /// Whether the statement that just ran left something on its connection to read back
    /// (see `after_statement`). An id its OK reports is the session's LAST_INSERT_ID() when
    /// MariaDB generated it; MariaDB reports an id an INSERT gave explicitly too, without
    /// changing LAST_INSERT_ID(): when the INSERT's text holds that number (or is a prepared
    /// statement's), the value is read back from the connection.
    pub(crate) fn reads_back(&mut self, result: &Result<Finish, ForwardError>) -> bool {
        self.statement_id_unsure = match result {
            Ok(Finish::Ok { last_insert_id, .. }) => self.settle_reported_id(*last_insert_id),
            Ok(Finish::Err(_)) if self.statement_insert.is_some() => {
                self.last_insert_id_unknown = true;
                false
            }
            _ => false,
        };
        !self.statement_assigns.is_empty()
            || self.statement_reads_last_insert_id
            || self.statement_id_unsure
    }

    /// After the statement ran on `conn`: reads back what it left there that the session
    /// keeps (user variables it assigned, `LAST_INSERT_ID()` it may have set). A connection
    /// that cannot answer is retired, and a forward that went well reports its failure.
    pub(crate) async fn after_statement(
        &mut self,
        conn: &mut BackendConn,
        result: Result<Finish, ForwardError>,
    ) -> Result<Finish, ForwardError> {
        let result = result?;
        let mut read = self.last_insert_id;
        crate::state::read_back_or_retire(
            &mut self.state,
            &mut read,
            &self.statement_assigns,
            self.statement_reads_last_insert_id || self.statement_id_unsure,
            conn,
        )
        .await;
        self.adopt_read_id(read);
        Ok(result)
    }

    /// Turns the outcome of a forward on a connection of `pool` into the session's next step.
    pub(crate) async fn forwarded(
        &mut self,
        result: Result<Finish, ForwardError>,
        pool: &Pool,
    ) -> Step {
        let error = match result {
            Ok(Finish::LocalInfile) => {
                return Err(End::BrokenAnswer(
                    "backend asked for LOAD DATA LOCAL".into(),
                ))
            }
            // LAST_INSERT_ID() was settled by `reads_back`.
            Ok(Finish::Ok { warnings, .. }) => {
                self.diagnostics_clean &= warnings == 0;
                return Ok(());
            }
            Ok(Finish::Err(e)) => {
                self.diagnostics_clean = false;
                self.answered_error = true;
                crate::instruments::count_error(e.code);
                // The backend's message may quote values: only at debug level.
                tracing::info!(
                    code = e.code,
                    kind = crate::instruments::error_kind(e.code),
                    endpoint = pool.label(),
                    "statement failed on the backend"
                );
                tracing::debug!(code = e.code, message = %e.message, "backend error");
                return Ok(());
            }
            Err(ForwardError::Client(e)) => return Err(End::Client(e)),
            Err(ForwardError::Backend { error, partial }) => {
                // Its siblings were opened before the same failure: don't hand them out.
                pool.discard_idle();
                if partial {
                    return Err(End::BrokenAnswer(format!("{}: {error}", pool.label())));
                }
                error
            }
        };
        let message = format!("lost the connection to {}: {error}", pool.label());
        self.send_error(ClientError::new(1158, b"08S01", message))
            .await
    }

    /// A statement inside a transaction: runs on the transaction's connection to `shard`,
    /// which joins the transaction first if it is new to it.
    pub(crate) async fn in_txn(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        kind: StatementKind,
        work: Work<'_>,
    ) -> Step {
        if let Err(e) = self.join_txn(runtime, shard).await {
            return self.send_error(e).await;
        }
        let txn = self.txn.as_mut().expect("joined above");
        txn.wrote |= kind != StatementKind::Read;
        if self.statement_reads_last_insert_id {
            let sql = set_last_insert_id(self.last_insert_id);
            let conn = txn.conn(shard).expect("joined above");
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, sql.as_bytes()).await {
                return self.send_error(ClientError::from(&e)).await;
            }
        }
        let txn = self.txn.as_mut().expect("joined above");
        let conn = txn.conn(shard).expect("joined above");
        let meter = runtime.instruments.primary(shard);
        let result = {
            let _timed = meter.time(kind);
            work.run(conn, &mut self.client).await
        };
        let mut assigned = Vec::new();
        if self.reads_back(&result) {
            let txn = self.txn.as_mut().expect("joined above");
            let conn = txn.conn(shard).expect("joined above");
            let mut read = self.last_insert_id;
            assigned = crate::state::read_back_or_retire(
                &mut self.state,
                &mut read,
                &self.statement_assigns,
                self.statement_reads_last_insert_id || self.statement_id_unsure,
                conn,
            )
            .await;
            self.adopt_read_id(read);
        }
        let txn = self.txn.as_mut().expect("joined above");
        // The transaction's other shards take the same values (a reset would end it there).
        let fingerprint = self.state.fingerprint();
        for (other, other_conn) in txn.joined.iter_mut() {
            if *other == shard || assigned.is_empty() {
                continue;
            }
            for (_, sql) in &assigned {
                if expect_ok(other_conn, Command::COM_QUERY, sql)
                    .await
                    .is_err()
                {
                    other_conn.broken = true;
                }
            }
            if other_conn.vars_fingerprint != crate::state::DIRTY {
                other_conn.vars_fingerprint = fingerprint;
            }
        }
        let conn = txn.conn(shard).expect("joined above");
        let pool = conn.pool().clone();
        if conn.broken {
            // The transaction is gone with its connection (MariaDB rolls it back); closing the
            // client after the error is the one signal no client can miss.
            self.txn = None;
            self.forwarded(result, &pool).await?;
            return Err(End::BrokenAnswer(format!(
                "{}: transaction connection lost",
                pool.label()
            )));
        }
        if !conn.in_transaction() {
            // Committed implicitly (DDL) or never started: this shard is no longer part of it.
            let txn = self.txn.as_mut().expect("joined above");
            drop(txn.take(shard));
            if txn.joined.is_empty() {
                self.txn = None;
            }
        }
        self.forwarded(result, &pool).await
    }

    /// Makes sure the open transaction (started here if none is) runs on `shard`: opens it there
    /// when the shard is new to it, as `[server] transaction_mode` allows.
    pub(crate) async fn join_txn(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
    ) -> Result<(), ClientError> {
        let txn = self.txn.get_or_insert_with(Txn::default);
        if let Some(conn) = txn.conn(shard) {
            // A USE since the transaction reached this shard.
            if conn.database != self.state.database {
                expect_ok(conn, Command::COM_INIT_DB, self.state.database.as_bytes())
                    .await
                    .map_err(|e| ClientError::from(&e))?;
                conn.database.clone_from(&self.state.database);
            }
            return Ok(());
        }
        if runtime.topology.server.transaction_mode == TransactionMode::Single {
            if let Some(&(joined, _)) = txn.joined.first() {
                if txn.wrote {
                    return Err(ClientError::new(
                        1235,
                        b"42000",
                        format!(
                            "this transaction runs on shard {}; the statement needs shard {} (transaction_mode \"single\"): commit or roll back first",
                            runtime.topology.shards[joined].name, runtime.topology.shards[shard].name
                        ),
                    ));
                }
                let mut conn = txn.take(joined).expect("joined");
                // Ending a read-only transaction loses nothing; a failure just retires the connection.
                if expect_ok(&mut conn, Command::COM_QUERY, b"ROLLBACK")
                    .await
                    .is_err()
                {
                    conn.broken = true;
                }
            }
        }
        let mut conn = self
            .checkout(runtime, shard)
            .await
            .map_err(|e| ClientError::from(&e))?;
        let txn = self.txn.as_mut().expect("created above");
        if let Some(begin) = &txn.begin {
            expect_ok(&mut conn, Command::COM_QUERY, begin.as_bytes())
                .await
                .map_err(|e| ClientError::from(&e))?;
        }
        txn.give_back(shard, conn);
        // Two transactions locking rows on two shards in opposite orders wait on each other with
        // no server seeing a deadlock: a short lock wait on every shard of such a transaction
        // ends it (unless the session chose its own).
        let timeout = runtime.topology.server.multi_shard_lock_wait_timeout;
        if let (Some(seconds), true, false) = (
            timeout,
            txn.joined.len() >= 2,
            self.state.var_text("innodb_lock_wait_timeout").is_some(),
        ) {
            let set = format!("SET SESSION innodb_lock_wait_timeout = {seconds}");
            for (_, conn) in txn.joined.iter_mut() {
                if conn.vars_fingerprint != crate::state::DIRTY {
                    expect_ok(conn, Command::COM_QUERY, set.as_bytes())
                        .await
                        .map_err(|e| ClientError::from(&e))?;
                    // Reset before anyone else uses the connection.
                    conn.vars_fingerprint = crate::state::DIRTY;
                }
            }
        }
        Ok(())
    }

    /// Sends COMMIT or ROLLBACK (`text`) to every shard of a transaction that spans several,
    /// one after another (transaction_mode "multi": not atomic), and answers the client.
    async fn end_joined(
        &mut self,
        runtime: &Runtime,
        joined: Vec<(ShardId, PooledConn)>,
        commit: bool,
        text: &[u8],
    ) -> Step {
        let name = |shard: ShardId| runtime.topology.shards[shard].name.as_str();
        let mut ended = Vec::new();
        let mut rolled_back = Vec::new();
        let mut failure: Option<(ShardId, ClientError)> = None;
        for (shard, mut conn) in joined {
            if commit && failure.is_some() {
                // A shard failed to commit: the ones after it roll back instead.
                if expect_ok(&mut conn, Command::COM_QUERY, b"ROLLBACK")
                    .await
                    .is_ok()
                {
                    rolled_back.push(name(shard));
                }
                continue;
            }
            match expect_ok(&mut conn, Command::COM_QUERY, text).await {
                Ok(()) => {
                    if commit && runtime.has_replicas(shard) {
                        self.remember_write(shard, &mut conn).await;
                    }
                    ended.push(name(shard));
                }
                Err(e) => {
                    failure.get_or_insert((shard, ClientError::from(&e)));
                }
            }
        }
        let Some((shard, mut e)) = failure else {
            return self.send_ok(0, 0).await;
        };
        e.message = format!("shard {}: {}", name(shard), e.message);
        if commit {
            e.message.push_str(&format!(
                "; transaction_mode \"multi\" commits shard by shard: committed on [{}], rolled back on [{}]",
                ended.join(", "),
                rolled_back.join(", ")
            ));
        }
        self.send_error(e).await
    }

    /// The shards the open transaction runs on.
    pub(crate) fn txn_shards(&self) -> Vec<ShardId> {
        self.txn
            .as_ref()
            .map(|t| t.joined.iter().map(|(s, _)| *s).collect())
            .unwrap_or_default()
    }

    async fn use_database(&mut self, db: String) -> Step {
        let runtime = self.proxy.runtime();
        let mut next = self.state.clone();
        next.database = db;
        let checked = async {
            let mut conn = runtime
                .primary(runtime.topology.default_shard)
                .get(self.flavor)
                .await?;
            next.sync(&mut conn).await
        };
        match checked.await {
            Ok(()) => {
                self.state = next;
                self.send_ok(0, 0).await
            }
            Err(e) => self.send_error(ClientError::from(&e)).await,
        }
    }

    /// Validates a SET by running it on a backend connection, then keeps it for every connection
    /// the session uses later.
    async fn set(
        &mut self,
        runtime: &Runtime,
        vars: &[SessionVar],
        autocommit: Option<bool>,
        text: &[u8],
    ) -> Step {
        let user_vars: Vec<&str> = vars
            .iter()
            .filter(|v| v.name.starts_with('@') && !v.name.starts_with("@@"))
            .map(|v| v.name.as_str())
            .collect();
        let sets_sql_mode = vars.iter().any(|v| v.name == "sql_mode");
        // System variables set to a computed value are kept by the value they got.
        let computed: Vec<String> = vars
            .iter()
            .filter(|v| v.computed && !v.name.starts_with('@'))
            .map(|v| format!("@@SESSION.{}", v.name))
            .collect();
        let user_vars: Vec<&str> = user_vars
            .into_iter()
            .chain(computed.iter().map(String::as_str))
            .collect();
        // Evaluated on the default shard, where the tables a subquery in it may read live: on
        // the transaction's connection there, or on a pooled one.
        let default = runtime.topology.default_shard;
        let pinned = self.txn.as_mut().and_then(|t| t.conn(default));
        let result = match pinned {
            Some(conn) => set_and_read(conn, text, &user_vars, sets_sql_mode)
                .await
                .map(|v| (None, v)),
            None => match self.checkout(runtime, runtime.topology.default_shard).await {
                Ok(mut conn) => set_and_read(&mut conn, text, &user_vars, sets_sql_mode)
                    .await
                    .map(|v| (Some(conn), v)),
                Err(e) => Err(e),
            },
        };
        match result {
            Ok((conn, outcome)) => {
                let SetOutcome {
                    values,
                    sql_mode,
                    warnings,
                } = outcome;
                if let Some(mode) = sql_mode {
                    self.syntax.sql_mode = mode;
                }
                // User variables are replayed with the value they got here, never re-evaluated
                // (`SET @n = @n + 1`, `UUID()`). One assignment in a text that is not UTF-8 (a
                // latin1 client) is replayed as sent, not from the planner's lossy UTF-8 copy.
                let raw = std::str::from_utf8(text).is_err() && vars.len() == 1;
                self.state.apply(vars.iter().map(|v| {
                    let read_as = format!("@@SESSION.{}", v.name);
                    let sql = match values
                        .iter()
                        .find(|(name, _)| *name == v.name || (v.computed && *name == read_as))
                    {
                        Some((_, sql)) => sql.clone(),
                        None if raw => text.to_vec(),
                        None => v.sql.clone().into_bytes(),
                    };
                    (v.name.clone(), sql)
                }));
                if let Some(mut conn) = conn {
                    conn.vars_fingerprint = self.state.fingerprint();
                }
                // The transaction's other connections take the values it got (a reset would
                // end their transaction).
                let applied: Vec<Vec<u8>> = vars
                    .iter()
                    .filter_map(|v| self.state.var_text(&v.name).map(<[u8]>::to_vec))
                    .collect();
                if let Some(txn) = self.txn.as_mut() {
                    for (shard, conn) in txn.joined.iter_mut() {
                        for sql in applied.iter().filter(|_| *shard != default) {
                            if let Err(e) = expect_ok(conn, Command::COM_QUERY, sql).await {
                                conn.broken = true;
                                return self.send_error(ClientError::from(&e)).await;
                            }
                        }
                        // A connection the proxy changed itself stays marked for a reset.
                        if conn.vars_fingerprint != crate::state::DIRTY {
                            conn.vars_fingerprint = self.state.fingerprint();
                        }
                    }
                }
                if let Some(on) = autocommit {
                    // Turning autocommit on (from off) commits the open transaction, explicit
                    // or not: the SET did so on each of its connections.
                    let commits = on && !self.state.autocommit;
                    self.state.autocommit = on;
                    if commits
                        || (on
                            && self.txn.as_ref().is_some_and(|t| t.begin.is_none())
                            && !self.pinned_in_trans())
                    {
                        self.txn = None;
                    }
                }
                self.send_ok(0, warnings).await
            }
            Err(e) => self.send_error(ClientError::from(&e)).await,
        }
    }

    /// The transaction's connection to `shard`, if it has joined.
    pub(crate) fn pinned_conn(&mut self, shard: ShardId) -> Option<&mut PooledConn> {
        self.txn.as_mut()?.conn(shard)
    }

    fn pinned_in_trans(&self) -> bool {
        self.txn
            .as_ref()
            .is_some_and(|t| t.joined.iter().any(|(_, c)| c.in_transaction()))
    }

    async fn transaction(&mut self, runtime: &Runtime, cmd: &TxnCommand, text: &[u8]) -> Step {
        let joined = self.txn_shards();
        match (cmd, joined.as_slice()) {
            (TxnCommand::Savepoint, [_, _, ..]) => {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    "savepoints are supported while a transaction runs on one shard; this one spans several (transaction_mode \"multi\")",
                );
                self.send_error(e).await
            }
            // BEGIN inside a transaction commits it and starts another: on one shard, on the
            // same connection; savepoints belong to the open transaction.
            (TxnCommand::Begin | TxnCommand::Savepoint, [shard]) => {
                self.in_txn(
                    runtime,
                    *shard,
                    StatementKind::Transaction,
                    Work::Command(Command::COM_QUERY, text),
                )
                .await
            }
            (TxnCommand::Begin, []) => {
                self.txn = Some(Txn {
                    begin: Some(String::from_utf8_lossy(text).into_owned()),
                    ..Txn::default()
                });
                self.send_ok(0, 0).await
            }
            (TxnCommand::Begin, [_, _, ..]) => {
                let joined = self.txn.take().map(|t| t.joined).unwrap_or_default();
                let begin = String::from_utf8_lossy(text).into_owned();
                self.end_joined(runtime, joined, true, b"COMMIT").await?;
                self.txn = Some(Txn {
                    begin: Some(begin),
                    ..Txn::default()
                });
                Ok(())
            }
            (TxnCommand::Commit | TxnCommand::Rollback, [_]) => {
                let (shard, mut conn) = self
                    .txn
                    .take()
                    .and_then(|mut t| t.joined.pop())
                    .expect("joined");
                let meter = runtime.instruments.primary(shard);
                let result = {
                    let _timed = meter.time(StatementKind::Transaction);
                    conn.forward(Command::COM_QUERY, text, &mut self.client)
                        .await
                };
                if matches!(cmd, TxnCommand::Commit)
                    && result.is_ok()
                    && runtime.has_replicas(shard)
                {
                    self.remember_write(shard, &mut conn).await;
                }
                let pool = conn.pool().clone();
                drop(conn);
                self.forwarded(result, &pool).await
            }
            (TxnCommand::Commit | TxnCommand::Rollback, [_, _, ..]) => {
                let joined = self.txn.take().map(|t| t.joined).unwrap_or_default();
                let commit = matches!(cmd, TxnCommand::Commit);
                self.end_joined(runtime, joined, commit, text).await
            }
            (TxnCommand::Commit | TxnCommand::Rollback, []) => {
                self.txn = None;
                self.send_ok(0, 0).await
            }
            (TxnCommand::Savepoint, []) if self.txn.is_some() => {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    "shardgate opens a transaction on its first statement's shard: run a statement before SAVEPOINT",
                );
                self.send_error(e).await
            }
            (TxnCommand::Savepoint, []) => {
                self.forward(
                    runtime.topology.default_shard,
                    StatementKind::Transaction,
                    Work::Command(Command::COM_QUERY, text),
                )
                .await
            }
        }
    }
}

/// Runs a SET on `conn`, then reads back the values it gave user variables `user_vars` and,
/// when it may have changed it, the session's `sql_mode` (which decides how text is read).
async fn set_and_read(
    conn: &mut BackendConn,
    text: &[u8],
    user_vars: &[&str],
    sql_mode: bool,
) -> Result<SetOutcome, BackendError> {
    let warnings = crate::state::run_ok(conn, Command::COM_QUERY, text).await?;
    let values = crate::state::read_back(conn, false, user_vars).await?.vars;
    let mode = match sql_mode {
        true => Some(SqlMode::parse(
            &crate::state::query_text(conn, b"SELECT @@SESSION.sql_mode LIMIT 1").await?,
        )),
        false => None,
    };
    Ok(SetOutcome {
        values,
        sql_mode: mode,
        warnings,
    })
}

/// What a SET did on the connection it was evaluated on.
struct SetOutcome {
    /// The variables it assigned, as statements that set their values again.
    values: Vec<(String, Vec<u8>)>,
    /// The session's sql_mode afterwards, when the SET may have changed it.
    sql_mode: Option<SqlMode>,
    warnings: u16,
}

/// Whether the statement text begins (after spaces and comments) with INSERT or REPLACE, or
/// is a `SET STATEMENT … FOR` one.
pub(crate) fn starts_insert(text: &[u8], syntax: Syntax) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_ascii_start();
        if let Some(comment) = rest.strip_prefix(b"/*") {
            match memchr::memmem::find(comment, b"*/") {
                Some(end) => rest = &comment[end + 2..],
                None => return false,
            }
        } else {
            break;
        }
    }
    let word = |w: &[u8]| {
        rest.get(..w.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(w))
    };
    if word(b"set") {
        let sql = String::from_utf8_lossy(text);
        return shardgate_router::set_statement_body(&sql, syntax)
            .is_some_and(|body| starts_insert(body.as_bytes(), syntax));
    }
    word(b"insert") || word(b"replace")
}

/// Whether `text` holds `number` as a decimal token of its own (not inside a longer one).
fn mentions_number(text: &[u8], number: u64) -> bool {
    let digits = number.to_string();
    memchr::memmem::find_iter(text, digits.as_bytes()).any(|at| {
        let before = at.checked_sub(1).map(|i| text[i]);
        let after = text.get(at + digits.len()).copied();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
    })
}
