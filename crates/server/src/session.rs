//! One client connection: the handshake, then a loop reading commands and executing them.

use std::net::SocketAddr;
use std::sync::Arc;

use shardgate_backend::{BackendConn, BackendError, Flavor, LocalFiles, Pool};
use shardgate_protocol::forward::ForwardError;
use shardgate_protocol::response::Finish;
use shardgate_protocol::server_handshake::{
    accept, change_user, ChangeUser, Greeting, HandshakeError, Login,
};
use shardgate_protocol::tls::ClientStream;
use shardgate_protocol::{CapabilityFlags, Command, PacketConn, ProtocolError, StatusFlags};
use shardgate_ring::ShardId;
use shardgate_router::{
    fails_before_rows, inserts_one_row, plan_sql, Plan, PlanCache, PreviousStatement, Route,
    RouteError, SelectKind, SessionVar, SqlMode, StatementKind, Syntax,
};
use shardgate_wire::packets::{self, OkInfo};
use tokio::net::TcpStream;

use crate::connections::{Activity, State};
use crate::diagnostics::Diagnostics;
use crate::errors::{unknown_command, ClientError};
use crate::executor::{AfterWrite, Work};
use crate::pass_through::AccountSession;
use crate::pins::Pins;
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

/// Who the client is: what COM_CHANGE_USER re-checks against.
struct Identity {
    /// The connection id the proxy gave the client.
    connection_id: u32,
    peer: SocketAddr,
    /// The account the client logged in as (admin statements check it).
    user: String,
    /// The handshake's salt, which COM_CHANGE_USER scrambles with.
    scramble: [u8; 20],
}

/// How many texts of its own a statement's steps may run, one inside the other (a
/// statement's subqueries first, then an INSERT's computed keys, then its generated ids).
const MAX_REWRITE_DEPTH: u8 = 4;

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
    /// The connections the session keeps: its transaction's and those holding state.
    pub(crate) pins: Pins,
    /// The id the session's last auto-increment INSERT generated (what LAST_INSERT_ID() says).
    pub(crate) last_insert_id: u64,
    /// User variables the statement being run assigns inside a query (`Plan::assigns`):
    /// read back from its connection afterwards.
    pub(crate) statement_assigns: Vec<String>,
    /// The statement being run may read `LAST_INSERT_ID()`: each connection it runs on gets
    /// the session's value first, and the single-connection paths read it back afterwards.
    pub(crate) statement_reads_last_insert_id: bool,
    /// The statement being run may read `CONNECTION_ID()`: each connection it runs on gets
    /// the session's id first (see `ids`).
    pub(crate) statement_reads_connection_id: bool,
    /// The session's entry in the proxy's registry (SHOW PROCESSLIST, KILL, wait_timeout).
    pub(crate) slot: crate::sessions::Registration,
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
    /// The conditions (warnings, errors) `SHOW WARNINGS` lists now (`diagnostics.rs`).
    pub(crate) diagnostics: Diagnostics,
    /// The statement being run had its conditions read (`keep_diagnostics`).
    pub(crate) diagnostics_read: bool,
    /// What `ROW_COUNT()` and `FOUND_ROWS()` say now (`previous_statement.rs`).
    pub(crate) previous: PreviousStatement,
    /// Whether the statement being run is a SELECT (which sets `FOUND_ROWS()`).
    pub(crate) statement_select: SelectKind,
    /// The syntax at login (the servers' global `sql_mode`), which a reset returns to.
    initial_syntax: Syntax,
    /// `SET @@shardgate_consistency`: overrides the tables' consistency levels.
    pub(crate) consistency_override: Option<shardgate_config::Consistency>,
    /// Single-shard plans of the session's text statements, by template.
    pub(crate) plans: PlanCache,
    /// Per shard, the session's last write, for read-your-writes.
    pub(crate) last_write: std::collections::HashMap<ShardId, crate::reads::LastWrite>,
    /// The statement's answer ended in an error: a multi-statement text stops there.
    pub(crate) answered_error: bool,
    /// What the connection is doing, for `shardgate_client_connections_by_state`.
    activity: Activity,
    /// The session's `max_statement_time`, which the proxy enforces too (`statement_time.rs`).
    pub(crate) statement_limit: crate::statement_time::SessionLimit,
    /// Why `FOUND_ROWS()` of the previous statement is not known (`previous_statement.rs`).
    pub(crate) found_rows_unknown: Option<crate::previous_statement::FoundRowsUnknown>,
    /// Texts the session is running in place of the client's (a statement run in steps
    /// plans its rewritten text again): bounded, so that steps that yield steps again end.
    rewrite_depth: u8,
    /// The topology the shard positions the session holds refer to (`shard_renumbering.rs`).
    pub(crate) topology: Arc<shardgate_config::Topology>,
    /// The runtime of the command being served (`None` between commands, so that an idle
    /// session does not keep a reloaded runtime's pools open).
    command_runtime: Option<Arc<Runtime>>,
    /// The servers' account the client logged in as, which its backend connections log in as
    /// (`pass_through.rs`); `None` for the proxy's own `[[users]]`.
    pub(crate) pass_through: Option<AccountSession>,
    /// `COMMIT RELEASE` / `ROLLBACK RELEASE` ran: the connection closes after its answer.
    pub(crate) released: bool,
}

pub async fn run(stream: TcpStream, peer: SocketAddr, proxy: Arc<Proxy>) {
    let activity = Activity::handshaking();
    let _ = stream.set_nodelay(true);
    let mut client = PacketConn::new(ClientStream::Plain(stream));
    let runtime = proxy.runtime();
    client.set_max_packet(runtime.topology.server.max_allowed_packet);
    client.set_write_timeout(Some(runtime.topology.server.client_write_timeout));
    let connection_id = proxy.connection_id();
    let greeting = Greeting::new(connection_id, &runtime.topology.server.server_version)
        .offering(runtime.mariadb_capabilities().await);
    let scramble = greeting.scramble;
    let handshake = {
        let (runtime, proxy) = (runtime.clone(), proxy.clone());
        async move {
            let accounts = crate::login_limits::ClientAccounts {
                runtime: &runtime,
                proxy: &proxy,
                peer,
            };
            let tls = runtime.tls.as_ref();
            let peer_text = peer.to_string();
            let handshake = accept(&mut client, &greeting, tls, &accounts, &peer_text);
            let limit = runtime.topology.server.handshake_timeout;
            let outcome = tokio::time::timeout(limit, handshake).await;
            (client, outcome)
        }
    };
    let Some((client, outcome)) = crate::handshakes::run(handshake).await else {
        return;
    };
    let timed_out = ProtocolError::Timeout("handshake");
    let login = match outcome.unwrap_or(Err(timed_out.into())) {
        Ok(login) => login,
        // Counted and logged as it was refused (`ClientAccounts::denied`).
        Err(HandshakeError::AccessDenied { .. }) => return,
        Err(e) => {
            if let Some(suppressed) = proxy.failure_log.admit() {
                tracing::info!(%peer, error = %e, suppressed, "handshake failed");
            }
            return;
        }
    };
    proxy.login_failures.succeeded(peer.ip());
    let identity = Identity {
        connection_id,
        peer,
        user: login.user.clone(),
        scramble,
    };
    let Some(mut session) =
        Session::start(client, proxy, &runtime, &login, identity, activity).await
    else {
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
    if session.pass_through.is_some() {
        session.proxy.runtime().pass_through.forget(connection_id);
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
        mut activity: Activity,
    ) -> Option<Self> {
        activity.set(State::Idle);
        let identity_connection_id = identity.connection_id;
        let database = match (&login.database, &login.pass_through) {
            (Some(named), _) => named.clone(),
            // One of the servers' accounts, without a database: in none, as on MariaDB (it
            // may have no privilege on the configured one).
            (None, Some(_)) => String::new(),
            (None, None) => runtime.topology.backend.database.clone(),
        };
        let mut state = SessionState::new(database, login.collation);
        let flavor = Flavor::of_client(login.capabilities, login.mariadb_capabilities);
        let syntax = runtime.default_syntax(flavor).await;
        let slot = crate::sessions::login(
            &proxy,
            runtime,
            login,
            &identity.peer.to_string(),
            identity.connection_id,
            &mut state,
        )
        .await;
        let mut session = Session {
            client,
            proxy,
            identity,
            capabilities: login.capabilities,
            flavor,
            initial_state: state.clone(),
            state,
            statements: Statements::default(),
            pins: Pins::default(),
            last_insert_id: 0,
            consistency_override: None,
            statement_assigns: Vec::new(),
            statement_reads_last_insert_id: false,
            statement_reads_connection_id: false,
            slot,
            statement_insert: None,
            statement_id_unsure: false,
            statement_reported_id: 0,
            last_insert_id_unknown: false,
            syntax,
            initial_syntax: syntax,
            diagnostics: Diagnostics::default(),
            diagnostics_read: false,
            // A fresh MariaDB connection answers FOUND_ROWS() with 1.
            previous: PreviousStatement {
                found_rows: 1,
                ..PreviousStatement::default()
            },
            statement_select: SelectKind::No,
            plans: PlanCache::default(),
            last_write: std::collections::HashMap::new(),
            answered_error: false,
            activity,
            statement_limit: Default::default(),
            found_rows_unknown: None,
            rewrite_depth: 0,
            topology: runtime.topology.clone(),
            command_runtime: None,
            pass_through: (login.pass_through.clone()).map(|account| AccountSession {
                connection_id: identity_connection_id,
                account,
            }),
            released: false,
        };
        if login
            .capabilities
            .contains(CapabilityFlags::CLIENT_IGNORE_SPACE)
        {
            // MariaDB adds IGNORE_SPACE to the sql_mode of such a client at login (and a reset
            // or change of user drops it again): so does the session.
            let sql = b"SET SESSION sql_mode = CONCAT(@@GLOBAL.sql_mode, ',IGNORE_SPACE')";
            session.state.apply([("sql_mode".to_owned(), sql.to_vec())]);
            session.syntax.sql_mode = session.syntax.sql_mode | SqlMode::IGNORE_SPACE;
        }
        if session.pass_through.is_some() {
            // The servers decide whether the account may log in from the proxy's address.
            if let Err(e) = session
                .checkout(runtime, runtime.topology.default_shard)
                .await
            {
                runtime.pass_through.forget(identity_connection_id);
                let refused = ClientError::from(&e);
                session.client.write_packet(&refused.encode()).await.ok()?;
                return None;
            }
        }
        let checked = (session.open_database(runtime, login.database.is_some())).await;
        let session_state = checked.unwrap_or_else(|e| {
            session.client.queue_packet(&e.encode());
            Vec::new()
        });
        let ok = packets::ok(&OkInfo {
            status: session.status(),
            session_state,
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
        let pool = runtime.primary_of(self.pass_through.as_ref(), runtime.topology.default_shard);
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
        let runtime = self.runtime();
        let secure = self.client.stream().is_tls();
        let accounts = crate::login_limits::ClientAccounts {
            runtime: &runtime,
            proxy: &self.proxy,
            peer: self.identity.peer,
        };
        let pass_through = match change_user(
            &mut self.client,
            &self.identity.scramble,
            &request,
            &accounts,
            secure,
            &self.identity.peer.to_string(),
        )
        .await
        {
            Ok(pass_through) => pass_through,
            Err(HandshakeError::Protocol(e)) => return Err(End::Client(e)),
            // MariaDB closes the connection after a failed change of user; so do we.
            Err(e) => return Err(End::Client(ProtocolError::Unsupported(e.to_string()))),
        };
        let named = request.database.is_some();
        let database = match (request.database, &pass_through) {
            (Some(named), _) => named,
            (None, Some(_)) => String::new(),
            (None, None) => runtime.topology.backend.database.clone(),
        };
        let collation = request
            .collation
            .unwrap_or(shardgate_protocol::UTF8MB4_GENERAL_CI);
        self.pins = Pins::default();
        self.statements.clear();
        self.last_insert_id = 0;
        self.last_insert_id_unknown = false;
        self.consistency_override = None;
        self.syntax = self.initial_syntax;
        self.statement_limit = Default::default();
        self.state = SessionState::new(database, collation);
        // A new login: new connections, with the account's privileges of this moment.
        runtime.pass_through.forget(self.identity.connection_id);
        let pass_through = pass_through.map(|account| AccountSession {
            connection_id: self.identity.connection_id,
            account,
        });
        let previous_account = std::mem::replace(&mut self.pass_through, pass_through);
        let opened = match self.pass_through.is_some() {
            // The servers decide whether the account may log in from the proxy's address.
            true => (self
                .checkout(&runtime, runtime.topology.default_shard)
                .await)
                .map(drop)
                .map_err(|e| ClientError::from(&e)),
            false => Ok(()),
        };
        let opened = match opened {
            Ok(()) => self.open_database(&runtime, named).await,
            Err(e) => Err(e),
        };
        let session_state = match opened {
            Ok(session_state) => session_state,
            Err(e) => {
                self.state = self.initial_state.clone();
                self.pass_through = previous_account;
                return self.send_error(e).await;
            }
        };
        self.initial_state = self.state.clone();
        tracing::info!(peer = %self.identity.peer, user = request.user, "changed user");
        self.identity.user.clone_from(&request.user);
        self.slot.changed_user(&request.user, &self.state.database);
        self.send_ok_tracked(0, session_state).await
    }

    /// Checks the database a client logs in to (or changes user into). A client that tracks
    /// session state and `named` one is told about it as MariaDB tells it: a change of schema.
    async fn open_database(&self, runtime: &Runtime, named: bool) -> Result<Vec<u8>, ClientError> {
        match (self.flavor.session_track(), named) {
            (true, true) => (self
                .enter_database(runtime, self.state.database.as_bytes())
                .await)
                .map(|(_, session_state)| session_state)
                .map_err(|e| ClientError::from(&e)),
            _ => self.check_database(runtime).await.map(|()| Vec::new()),
        }
    }

    /// Status flags for answers the proxy writes itself: those MariaDB would send.
    pub(crate) fn status(&self) -> StatusFlags {
        let mut status = StatusFlags::empty();
        if self.state.autocommit {
            status |= StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        }
        if let Some(txn) = self.pins.txn() {
            status |= StatusFlags::SERVER_STATUS_IN_TRANS;
            if txn.read_only() {
                status |= StatusFlags::SERVER_STATUS_IN_TRANS_READONLY;
            }
        }
        if self.syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES) {
            status |= StatusFlags::SERVER_STATUS_NO_BACKSLASH_ESCAPES;
        }
        // A statement of a multi-statement text with more after it.
        if self.client.relay().more_results {
            status |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        }
        status
    }

    /// How a file a statement asks for (LOAD DATA LOCAL INFILE) is answered: relayed from
    /// a client that offered CLIENT_LOCAL_FILES, refused (MariaDB's 4166) for others.
    pub(crate) fn local_files(&self) -> LocalFiles {
        match self
            .capabilities
            .contains(CapabilityFlags::CLIENT_LOCAL_FILES)
        {
            true => LocalFiles::Relay {
                max_packet: self.client.max_packet(),
            },
            false => LocalFiles::Refuse,
        }
    }

    /// Whether statements run inside a transaction: one was begun, or `autocommit` is off.
    pub(crate) fn in_transaction(&self) -> bool {
        self.pins.txn().is_some() || !self.state.autocommit
    }

    /// `Err` (1235) for `what`, a statement MariaDB runs after committing the open transaction,
    /// when the session is in one: across shards that commit is one the client did not ask for.
    pub(crate) fn outside_transaction(&self, what: &str) -> Result<(), ClientError> {
        match self.in_transaction() {
            true => Err(crate::errors::implicit_commit_refused(what)),
            false => Ok(()),
        }
    }

    /// Whether a statement on `shard` runs on a connection the session keeps (its transaction's,
    /// or one holding state), rather than on a pooled one or a replica.
    pub(crate) fn runs_pinned(&self, shard: ShardId) -> bool {
        self.in_transaction() || self.pins.has(shard)
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
        self.write_ok(OkInfo {
            affected_rows,
            last_insert_id,
            warnings,
            ..OkInfo::default()
        })
        .await
    }

    /// An OK that reports session state changes (CLIENT_SESSION_TRACK): the answer to a
    /// statement the proxy ran on a backend in its own way (SET, USE), with what the backend
    /// reported it changed.
    pub(crate) async fn send_ok_tracked(&mut self, warnings: u16, session_state: Vec<u8>) -> Step {
        self.write_ok(OkInfo {
            warnings,
            session_state,
            ..OkInfo::default()
        })
        .await
    }

    /// Writes `ok` with the session's status flags (and those `ok` carries).
    pub(crate) async fn write_ok(&mut self, ok: OkInfo) -> Step {
        self.previous.row_count = i64::try_from(ok.affected_rows).unwrap_or(i64::MAX);
        if ok.warnings > 0 && !self.diagnostics_read {
            self.diagnostics = Diagnostics::unknown(u64::from(ok.warnings));
        }
        let ok = packets::ok(&OkInfo {
            status: self.status() | ok.status,
            ..ok
        });
        self.client.write_packet(&ok).await.map_err(End::Client)
    }

    /// The account the client is logged in as.
    pub(crate) fn user(&self) -> &str {
        &self.identity.user
    }

    pub(crate) async fn send_error(&mut self, e: ClientError) -> Step {
        self.diagnostics = Diagnostics::error(&e);
        self.note_error(e.code);
        self.answered_error = true;
        crate::instruments::count_error(e.code);
        // The message may quote values (a duplicate key, the text near a syntax error): only
        // at debug level, and with its literals replaced.
        tracing::info!(
            code = e.code,
            kind = crate::instruments::error_kind(e.code),
            "statement failed"
        );
        tracing::debug!(code = e.code, message = %crate::slow_log::digest_message(&e.message), "error sent");
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
            self.statement_reads_connection_id = false;
            self.statement_insert = None;
            self.diagnostics_read = false;
            self.statement_select = SelectKind::No;
            self.activity.set(match self.pins.is_empty() {
                true => State::Idle,
                false => State::Pinned,
            });
            let packet = match self.slot.next_command(&mut self.client).await {
                Err(interrupt) => return self.slot.close(interrupt),
                Ok(Ok(p)) => p,
                Ok(Err(ProtocolError::Closed)) => return Ok(()),
                Ok(Err(e)) => {
                    if let Some(answer) = crate::errors::refused_packet(&e) {
                        let drain = std::time::Duration::from_secs(10);
                        self.client.refuse_packet(&answer.encode(), drain).await;
                    }
                    return Err(End::Client(e));
                }
            };
            self.activity.set(State::Running);
            let Some((&command, arg)) = packet.split_first() else {
                return Err(End::Client(ProtocolError::malformed(
                    "empty command packet",
                )));
            };
            let text = crate::sessions::command_text(command, arg, &self.statements);
            self.slot.begin(command, text);
            // One runtime for the whole command: its plans and the shard positions the
            // session holds agree (a reload renumbers them in between commands).
            let mut runtime = self.proxy.runtime();
            // Checked after the load: a command that saw no hold runs on a runtime a cutover
            // waits to see released (`reshard_cutover.rs`). One atomic load otherwise.
            let mut refused = None;
            if self.proxy.cutover.holding() {
                drop(runtime);
                let text = crate::sessions::command_text(command, arg, &self.statements)
                    .map(|text| self.state.read_text(text));
                let transaction = self.pins.txn().and_then(|t| t.began.as_ref());
                let text = text.as_deref();
                refused = Box::pin(self.proxy.cutover.pass(text, self.syntax, transaction))
                    .await
                    .err();
                runtime = self.proxy.runtime();
            }
            if !Arc::ptr_eq(&runtime.topology, &self.topology) {
                self.follow_topology(&runtime.topology)?;
            }
            self.command_runtime = Some(runtime);
            if let Some(e) = refused {
                self.send_error(e).await?;
                self.slot.end();
                self.command_runtime = None;
                continue;
            }
            // Rarely used, large paths are awaited boxed: every connection's task holds the
            // largest path awaited inline, idle or not (ARCHITECTURE.md).
            match command {
                c if c == Command::COM_QUIT as u8 => return Ok(()),
                c if c == Command::COM_PING as u8 => self.send_ok(0, 0).await?,
                c if c == Command::COM_QUERY as u8 => self.query(arg).await?,
                c if c == Command::COM_INIT_DB as u8 => Box::pin(self.use_database(arg)).await?,
                c if c == Command::COM_FIELD_LIST as u8 => {
                    let runtime = self.runtime();
                    let shard = runtime.topology.default_shard;
                    let work = Work::Command(Command::COM_FIELD_LIST, arg);
                    self.forward(
                        &runtime,
                        shard,
                        StatementKind::Read,
                        work,
                        AfterWrite::Nothing,
                    )
                    .await?
                }
                c if c == Command::COM_SET_OPTION as u8 => self.set_option(arg).await?,
                c if c == Command::COM_RESET_CONNECTION as u8 => {
                    // Dropping the pinned connections closes them, so MariaDB rolls their
                    // transaction back and drops their state; pooled connections carrying this
                    // session's variables are reset before reuse.
                    self.pins = Pins::default();
                    // Like MariaDB: everything back to the login state but the current database.
                    let database = std::mem::take(&mut self.state.database);
                    self.state = self.initial_state.clone();
                    self.state.database = database;
                    self.statements.clear();
                    self.last_insert_id = 0;
                    self.last_insert_id_unknown = false;
                    self.consistency_override = None;
                    self.syntax = self.initial_syntax;
                    self.statement_limit = Default::default();
                    self.slot.reset_wait_timeout();
                    self.send_ok(0, 0).await?
                }
                c if c == Command::COM_CHANGE_USER as u8 => Box::pin(self.change_user(arg)).await?,
                c if c == Command::COM_STMT_PREPARE as u8 => {
                    Box::pin(self.stmt_prepare(arg)).await?
                }
                c if c == Command::COM_STMT_EXECUTE as u8 => self.stmt_execute(arg).await?,
                c if c == Command::COM_STMT_SEND_LONG_DATA as u8 => self.stmt_send_long_data(arg),
                c if c == Command::COM_STMT_RESET as u8 => self.stmt_reset(arg).await?,
                c if c == Command::COM_STMT_CLOSE as u8 => self.stmt_close(arg),
                c if c == Command::COM_STATISTICS as u8 => {
                    let text = b"shardgate: statistics are served on the metrics endpoint";
                    self.client.write_packet(text).await.map_err(End::Client)?
                }
                c if c == Command::COM_PROCESS_KILL as u8 => {
                    Box::pin(self.process_kill(arg)).await?
                }
                other => self.send_error(unknown_command(other)).await?,
            }
            self.slot.end();
            self.command_runtime = None;
            if self.released {
                return Ok(());
            }
        }
    }

    /// The runtime of the command being served (see `command_runtime`).
    pub(crate) fn runtime(&self) -> Arc<Runtime> {
        match &self.command_runtime {
            Some(runtime) => runtime.clone(),
            None => self.proxy.runtime(),
        }
    }

    async fn query(&mut self, arg: &[u8]) -> Step {
        // Only a text with a `;` may hold several statements (see `multi.rs`).
        if memchr::memchr(b';', arg).is_some() {
            return Box::pin(self.query_statements(arg)).await;
        }
        self.statement(arg).await
    }

    /// Runs one statement of a COM_QUERY text, within its time bound.
    pub(crate) async fn statement(&mut self, arg: &[u8]) -> Step {
        let runtime = self.runtime();
        let limit = runtime.topology.server.query_timeout;
        match self.statement_deadline(limit, Some(arg)) {
            None => self.unbounded_statement(runtime, arg).await,
            Some(at) => {
                crate::statement_time::within(at, self.unbounded_statement(runtime, arg)).await
            }
        }
    }

    async fn unbounded_statement(&mut self, runtime: Arc<Runtime>, arg: &[u8]) -> Step {
        let sql = self.state.read_text(arg);
        // The proxy's own statements all start with `SHOW` or `SHARDGATE` (SQL-level
        // PREPARE's words are looked for as cheaply below): others, nearly all, skip looking
        // for them.
        let head = arg.trim_ascii_start();
        let may_be_show = head.first().is_none_or(|b| !b.is_ascii())
            || head
                .get(..4)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"show"))
            || head
                .get(..9)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"shardgate"));
        if may_be_show {
            if let Some(statement) = crate::admin::parse(&sql) {
                return Box::pin(self.admin(&runtime, statement)).await;
            }
            if let Some(diagnostics) = shardgate_router::diagnostics_statement(&sql) {
                return Box::pin(self.show_diagnostics(&runtime, diagnostics, &sql)).await;
            }
        }
        // SQL-level PREPARE and the previous statement's values written in run texts made
        // from the statement's: from its bytes read as UTF-8 when they are (as a server in
        // another character set reads them again), which keeps them as sent.
        let read_as_sent = || sql.as_bytes() == arg;
        let as_sent = || std::str::from_utf8(arg).ok();
        if let Some(statement) = shardgate_router::sql_prepared_statement(&sql, self.syntax) {
            let statement = match read_as_sent() {
                true => Some(statement),
                false => as_sent()
                    .and_then(|sql| shardgate_router::sql_prepared_statement(sql, self.syntax)),
            };
            let Some(statement) = statement else {
                return self.send_error(self.not_read_as_sent()).await;
            };
            return Box::pin(self.sql_prepared(&runtime, statement, arg)).await;
        }
        let cached = self.plans.plan(&sql, &runtime.topology, self.syntax);
        // ROW_COUNT(), FOUND_ROWS(), @@warning_count, …: the session's values, written in. A
        // cached plan says whether its template may read them.
        let may_read_previous = cached
            .as_ref()
            .is_none_or(|plan| plan.traits.reads_previous_statement);
        if may_read_previous && shardgate_router::mentions_previous_statement(arg) {
            if let Some(e) = self.found_rows_refused(arg) {
                return self.send_error(e).await;
            }
            let values = self.previous_values();
            if let Some(text) =
                shardgate_router::with_previous_statement(&sql, self.syntax, &values)
            {
                let text = match read_as_sent() {
                    true => Some(text),
                    false => as_sent().and_then(|sql| {
                        shardgate_router::with_previous_statement(sql, self.syntax, &values)
                    }),
                };
                let Some(text) = text else {
                    return self.send_error(self.not_read_as_sent()).await;
                };
                return self.run_text(&runtime, text.as_bytes(), &text, None).await;
            }
        }
        self.run_text(&runtime, arg, &sql, cached).await
    }

    /// Plans (unless `cached` is its plan already) and runs one statement's text: `arg` as the
    /// client sent it, `sql` read as UTF-8.
    pub(crate) async fn run_text(
        &mut self,
        runtime: &Runtime,
        arg: &[u8],
        sql: &str,
        cached: Option<Plan>,
    ) -> Step {
        let cached = cached.or_else(|| self.plans.plan(sql, &runtime.topology, self.syntax));
        let plan = match cached.map_or_else(|| plan_sql(sql, &runtime.topology, self.syntax), Ok) {
            Err(
                RouteError::SchemaNeeded { tables } | RouteError::SchemaDisagrees { tables, .. },
            ) => crate::schema_loader::plan_after_loading(runtime, sql, self.syntax, &tables).await,
            Err(RouteError::ViewsNeeded) => {
                crate::schema_loader::plan_after_loading_views(runtime, sql, self.syntax).await
            }
            planned => planned,
        };
        // Checked in place: the common plan is not moved through another future.
        let plan = match &plan {
            Ok(Plan {
                placed_by_key_default: Some(_),
                ..
            }) => {
                crate::schema_loader::with_fresh_key_default(runtime, sql, self.syntax, plan).await
            }
            _ => plan,
        };
        // Text the proxy writes (a statement run in steps, a rewrite) goes to connections in
        // the client's character set: only text the planner read as the client's bytes can.
        let read_as_sent = || sql.as_bytes() == arg;
        if plan.as_ref().is_err_and(RouteError::runs_in_steps) && !read_as_sent() {
            return Box::pin(self.run_in_ascii(runtime, sql)).await;
        }
        if let Err(e) = &plan {
            self.begin_steps(e);
        }
        let plan = match plan {
            Ok(plan) => plan,
            Err(
                e @ (RouteError::Unparsed { .. }
                | RouteError::NotSupported(_)
                | RouteError::KeyExpression { .. }
                | RouteError::SchemaNeeded { .. }),
            ) => {
                return Box::pin(self.refused(runtime, arg, e)).await;
            }
            Err(RouteError::ReadsViews(text)) => {
                return Box::pin(self.run_rewritten(runtime, text.as_bytes())).await;
            }
            Err(RouteError::InsertWithoutColumns { table }) => {
                return Box::pin(self.insert_by_position(runtime, sql, &table)).await;
            }
            Err(RouteError::InsertFromSelect(request)) => {
                return Box::pin(self.insert_from_select(runtime, &request)).await;
            }
            Err(RouteError::CreateFromSelect(request)) => {
                return Box::pin(self.create_from_select(runtime, &request)).await;
            }
            Err(RouteError::SubqueriesFirst(request)) => {
                return Box::pin(self.write_after_subqueries(runtime, &request)).await;
            }
            Err(RouteError::IntoVariables(request)) => {
                return Box::pin(self.select_into_variables(runtime, &request)).await;
            }
            Err(RouteError::AssigningSelect(request)) => {
                return Box::pin(self.assigning_select(runtime, &request, false)).await;
            }
            Err(RouteError::LimitedWrite(request)) => {
                return Box::pin(self.write_limited(runtime, &request)).await;
            }
            Err(RouteError::MovingUpdate(request)) => {
                return Box::pin(self.update_moving_rows(runtime, &request)).await;
            }
            Err(e @ RouteError::KeyFromLastInsertId { .. }) => {
                return Box::pin(self.insert_by_last_insert_id(runtime, sql, &e)).await;
            }
            Err(RouteError::InsertNeedsIds(ids)) => {
                return Box::pin(self.insert_with_ids(&ids, sql, arg, false)).await;
            }
            Err(RouteError::SqlPreparedUnderSetStatement { inner }) => {
                let prepared = self.sql_prepared_under_set_statement(runtime, sql, inner);
                return Box::pin(prepared).await;
            }
            Err(e) => {
                tracing::debug!(error = %crate::slow_log::digest_message(&e.to_string()), "cannot route");
                return self.send_error(ClientError::from(&e)).await;
            }
        };
        let rewrites = plan.rewritten.is_some()
            || matches!(
                plan.route,
                Route::Split(_)
                    | Route::Scatter(_)
                    | Route::SetOperation(_)
                    | Route::Materialize(_)
                    | Route::Join(_)
            );
        if rewrites && !read_as_sent() {
            return Box::pin(self.run_in_ascii(runtime, sql)).await;
        }
        if let Err(e) = self.begin_statement(&plan, arg, true) {
            return self.send_error(e).await;
        }
        let text = plan.rewritten.as_deref().map_or(arg, str::as_bytes);
        crate::instruments::record_load(runtime, &plan);
        let started = std::time::Instant::now();
        let step = self.execute(runtime, &plan, text, false).await;
        crate::schema_loader::after_statement(runtime, &plan, sql, self.syntax);
        let elapsed = started.elapsed();
        runtime
            .instruments
            .route_duration(&plan.route)
            .observe(elapsed.as_secs_f64());
        if elapsed >= runtime.topology.server.slow_query {
            tracing::info!(
                duration_ms = elapsed.as_millis() as u64,
                route = crate::instruments::route_label(&plan.route),
                statement = %crate::slow_log::digest(sql, crate::slow_log::MAX_TEXT),
                "slow query"
            );
        }
        step
    }

    /// A statement the proxy rewrites or runs in steps whose text it did not read as the
    /// client's bytes (see `run_text`): run as its text with its literals written in ASCII
    /// (`router/src/legacy_literals.rs`), or refused.
    async fn run_in_ascii(&mut self, runtime: &Runtime, sql: &str) -> Step {
        let ascii = (self.state.client_charset().literal_set())
            .and_then(|set| shardgate_router::ascii_literals(sql, self.syntax, set));
        match ascii {
            Some(text) => self.run_rewritten(runtime, text.as_bytes()).await,
            None => self.send_error(self.not_read_as_sent()).await,
        }
    }

    /// The refusal of a statement the proxy would rewrite or run in steps whose text it did
    /// not read as the client's bytes (see `run_text`).
    pub(crate) fn not_read_as_sent(&self) -> ClientError {
        crate::errors::not_utf8_rewrite(self.state.client_charset())
    }

    /// Text the proxy wrote in place of the client's (values read first written in), planned
    /// and run as any text statement.
    pub(crate) async fn run_rewritten(&mut self, runtime: &Runtime, text: &[u8]) -> Step {
        let Ok(sql) = std::str::from_utf8(text) else {
            return self.send_error(self.not_read_as_sent()).await;
        };
        if self.rewrite_depth >= MAX_REWRITE_DEPTH {
            return self.send_error(crate::errors::rewritten_too_often()).await;
        }
        self.rewrite_depth += 1;
        let step = Box::pin(self.run_text(runtime, text, sql, None)).await;
        self.rewrite_depth -= 1;
        step
    }

    /// An INSERT whose shard key is `LAST_INSERT_ID()`: planned again with the session's value
    /// written in there (`router/src/last_insert_id_key.rs`), or `refusal`.
    pub(crate) async fn insert_by_last_insert_id(
        &mut self,
        runtime: &Runtime,
        sql: &str,
        refusal: &RouteError,
    ) -> Step {
        if self.last_insert_id_unknown {
            return self
                .send_error(crate::errors::last_insert_id_unknown())
                .await;
        }
        let written = shardgate_router::with_last_insert_id_keys(
            sql,
            self.syntax,
            &runtime.topology,
            self.last_insert_id,
        );
        match written {
            Some(text) => Box::pin(self.run_rewritten(runtime, text.as_bytes())).await,
            None => self.send_error(ClientError::from(refusal)).await,
        }
    }

    /// The names of the table columns `heads` describe (as `SELECT *` lists them); `None` when
    /// one does not read as a column definition.
    fn column_names(&self, heads: Vec<bytes::BytesMut>) -> Option<Vec<String>> {
        let plain = match self.flavor.extended_metadata() {
            true => crate::extended_metadata::split(&heads).ok()?.0,
            false => heads,
        };
        (plain.iter())
            .map(|head| {
                let column: mysql_common::packets::Column =
                    mysql_common::io::ParseBuf(head).parse(()).ok()?;
                Some(match column.org_name_ref() {
                    [] => column.name_str().into_owned(),
                    _ => column.org_name_str().into_owned(),
                })
            })
            .collect()
    }

    /// `INSERT INTO t VALUES …` on a sharded table, or `INSERT INTO t SELECT …` across shards,
    /// without a column list: planned again with the table's columns, as the server lists them
    /// now for the session (its TEMPORARY tables too), written in.
    async fn insert_by_position(&mut self, runtime: &Runtime, sql: &str, table: &str) -> Step {
        let shard = runtime.topology.default_shard;
        let query = shardgate_router::columns_query(table);
        let heads = match self.read_own(runtime, shard, query.as_bytes()).await {
            Ok((heads, _)) => heads,
            // No such table, say: MariaDB's own error for the INSERT.
            Err(e) => return self.send_error(e).await,
        };
        let columns = self.column_names(heads);
        let rewritten = columns
            .filter(|c| !c.is_empty())
            .and_then(|c| shardgate_router::with_column_list(sql, self.syntax, &c));
        let Some(rewritten) = rewritten else {
            let e = RouteError::InsertWithoutColumns {
                table: table.to_owned(),
            };
            return self.send_error(ClientError::from(&e)).await;
        };
        let planned =
            crate::schema_loader::plan_knowing_views(runtime, &rewritten, self.syntax).await;
        let plan = match planned {
            Ok(plan) => plan,
            Err(RouteError::InsertNeedsIds(ids)) => {
                return self
                    .insert_with_ids(&ids, &rewritten, sql.as_bytes(), false)
                    .await
            }
            // Run in steps (subqueries or keys computed first, …) or refused: as the text
            // with its columns, as if the client had written them.
            Err(_) => {
                let text = rewritten.as_bytes();
                return Box::pin(self.run_text(runtime, text, &rewritten, None)).await;
            }
        };
        if let Err(e) = self.begin_statement(&plan, rewritten.as_bytes(), true) {
            return self.send_error(e).await;
        }
        let text = plan.rewritten.as_deref().unwrap_or(&rewritten);
        self.execute(runtime, &plan, text.as_bytes(), false).await
    }

    /// A statement the proxy refuses: one naming a sharded table that our parser cannot read,
    /// or one it does not run (`RouteError::NotSupported`). MariaDB's parser decides: a real
    /// syntax error comes back with MariaDB's own code and message (a statement is prepared,
    /// never executed, on the default shard), as a server would answer it; valid MariaDB SQL
    /// gets our clear error.
    pub(crate) async fn refused(
        &mut self,
        runtime: &Runtime,
        sql: &[u8],
        refusal: RouteError,
    ) -> Step {
        // A table the schema cache cannot read may not exist: MariaDB's 1146 says so.
        let missing_table =
            |code| code == 1146 && matches!(refusal, RouteError::SchemaNeeded { .. });
        let error = match self.prepared_on_default_shard(runtime, sql).await {
            Ok(Some(e)) if e.code == 1064 || missing_table(e.code) => ClientError::from(e),
            Ok(_) => ClientError::from(&refusal),
            Err(e) => ClientError::from(&e),
        };
        self.send_error(error).await
    }

    /// MariaDB's error when it prepares `sql` (never runs it) on the default shard, in the
    /// session's settings; `None` when it takes it.
    pub(crate) async fn prepared_on_default_shard(
        &self,
        runtime: &Runtime,
        sql: &[u8],
    ) -> Result<Option<shardgate_protocol::ServerErr>, BackendError> {
        Ok(self.described_on_default_shard(runtime, sql).await?.err())
    }

    /// The column definitions MariaDB gives `sql`'s result when it prepares it (never runs it)
    /// on the default shard, in the session's settings, or its error.
    pub(crate) async fn described_on_default_shard(
        &self,
        runtime: &Runtime,
        sql: &[u8],
    ) -> Result<Result<Vec<bytes::BytesMut>, shardgate_protocol::ServerErr>, BackendError> {
        let pool = runtime.primary_of(self.pass_through.as_ref(), runtime.topology.default_shard);
        let mut conn = pool.get(self.flavor).await?;
        self.state.sync(&mut conn).await?;
        // Preparing creates the user variables it assigns (typed, NULL): reset it later.
        conn.vars_fingerprint = crate::state::DIRTY;
        conn.describe(sql).await
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
        if plan.lists_server_threads && !self.is_admin(&self.runtime()) {
            return Err(crate::errors::server_threads_refused());
        }
        self.statement_assigns.clone_from(&plan.assigns);
        let traits = plan.traits;
        self.statement_select = traits.select;
        if traits.select == SelectKind::InWrite {
            // Until the one connection that runs it tells (`read_found_rows`).
            self.found_rows_unknown = Some(crate::previous_statement::FoundRowsUnknown::InWrite);
        }
        self.statement_reads_last_insert_id = traits.reads_last_insert_id;
        // A client that set pseudo_thread_id itself (a binlog replay) reads its own value.
        self.statement_reads_connection_id =
            traits.reads_connection_id && self.state.var_text("pseudo_thread_id").is_none();
        if self.statement_reads_last_insert_id
            && self.last_insert_id_unknown
            && shardgate_router::reads_last_insert_id_value(text, self.syntax)
        {
            return Err(crate::errors::last_insert_id_unknown());
        }
        self.statement_insert = traits.insert.then(|| match keep_text {
            true => text.to_vec(),
            false => Vec::new(),
        });
        // A statement with tables starts MariaDB's list of warnings afresh; one without adds
        // its own to the previous statement's.
        if plan.uses_tables {
            self.diagnostics.clear();
        }
        Ok(())
    }

    /// A statement the session runs in steps over its tables (`RouteError::steps`) starts
    /// MariaDB's list of warnings afresh, as `begin_statement` does for a planned one: its
    /// steps report only the conditions they raise.
    pub(crate) fn begin_steps(&mut self, route: &RouteError) {
        if route.step_request().is_some() {
            self.diagnostics.clear();
        }
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
            Ok(Finish::Err(e)) if self.statement_insert.is_some() => {
                // An INSERT that failed before writing a row (a one-row INSERT writes none
                // before failing) left the id as it was.
                self.last_insert_id_unknown |= !fails_before_rows(e.code)
                    && !self.statement_insert.as_deref().is_some_and(|t| {
                        std::str::from_utf8(t).is_ok_and(|t| inserts_one_row(t, self.syntax))
                    });
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
        self.read_back(conn).await;
        Ok(result)
    }

    /// Reads back what the statement left on `conn` (see `after_statement`); returns the
    /// statements that give other connections the user variables it assigned.
    pub(crate) async fn read_back(&mut self, conn: &mut BackendConn) -> Vec<(String, Vec<u8>)> {
        let mut read = self.last_insert_id;
        let assigned = crate::state::read_back_or_retire(
            &mut self.state,
            &mut read,
            &self.statement_assigns,
            self.statement_reads_last_insert_id || self.statement_id_unsure,
            conn,
        )
        .await;
        self.adopt_read_id(read);
        assigned
    }

    /// Turns the outcome of a forward on a connection of `pool` into the session's next step.
    pub(crate) async fn forwarded(
        &mut self,
        result: Result<Finish, ForwardError>,
        pool: &Pool,
    ) -> Step {
        if let Ok(finish) = &result {
            self.note_finish(finish);
        }
        let error = match result {
            Ok(Finish::LocalInfile) => {
                return Err(End::BrokenAnswer(
                    "backend asked for LOAD DATA LOCAL".into(),
                ))
            }
            // LAST_INSERT_ID() was settled by `reads_back`.
            Ok(Finish::Ok { warnings, .. }) => {
                if warnings > 0 && !self.diagnostics_read {
                    self.diagnostics = Diagnostics::unknown(u64::from(warnings));
                }
                return Ok(());
            }
            Ok(Finish::Err(e)) => {
                if !self.diagnostics_read {
                    self.diagnostics = Diagnostics::unknown(1);
                }
                self.answered_error = true;
                crate::instruments::count_error(e.code);
                // The backend's message may quote values: only at debug level.
                tracing::info!(
                    code = e.code,
                    kind = crate::instruments::error_kind(e.code),
                    endpoint = pool.label(),
                    "statement failed on the backend"
                );
                tracing::debug!(code = e.code, message = %crate::slow_log::digest_message(&e.message), "backend error");
                return Ok(());
            }
            Err(ForwardError::Client(e)) => return Err(End::Client(e)),
            Err(ForwardError::Backend {
                error: ProtocolError::Deadline,
                partial: false,
            }) => {
                // Cut off at its time bound: its connection is killed, its siblings are fine.
                let e = crate::errors::statement_timeout(pool.label());
                return self.send_error(e).await;
            }
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

    /// Enters database `db` on a connection of the default shard with the session's
    /// variables: the backend checks it and reports the change as MariaDB reports it to the
    /// client (the session state changes, for a client that tracks them).
    /// `name` is in the client's character set: a name that is not ASCII is kept as the
    /// UTF-8 name the server entered (`database_name.rs`).
    async fn enter_database(
        &self,
        runtime: &Runtime,
        name: &[u8],
    ) -> Result<(String, Vec<u8>), BackendError> {
        let mut conn = runtime
            .primary_of(self.pass_through.as_ref(), runtime.topology.default_shard)
            .get(self.flavor)
            .await?;
        self.state.sync_variables(&mut conn).await?;
        let (_, session_state) =
            crate::state::run_ok_tracked(&mut conn, Command::COM_INIT_DB, name).await?;
        let db = match std::str::from_utf8(name) {
            Ok(ascii) if ascii.is_ascii() => ascii.to_owned(),
            _ => crate::database_name::current_utf8(&mut conn).await?,
        };
        conn.database = Some(db.clone());
        Ok((db, session_state))
    }

    pub(crate) async fn use_database(&mut self, name: &[u8]) -> Step {
        let runtime = self.runtime();
        match self.enter_database(&runtime, name).await {
            Ok((db, session_state)) => {
                self.state.database = db;
                self.slot.set_database(&self.state.database);
                self.send_ok_tracked(0, session_state).await
            }
            Err(e) => self.send_error(ClientError::from(&e)).await,
        }
    }

    /// Validates a SET by running it on a backend connection, then keeps it for every connection
    /// the session uses later.
    pub(crate) async fn set(
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
        // `LAST_INSERT_ID()` is the proxy's own (`Session::last_insert_id`): set from the
        // value the SET gave it, never replayed on other connections.
        let reads_last_insert_id = vars.iter().any(sets_last_insert_id);
        // System variables set to a computed value (and wait_timeout) are kept by the value
        // they got.
        let computed: Vec<String> = vars
            .iter()
            .filter(|v| crate::sessions::kept_by_value(v) && !v.name.starts_with('@'))
            .map(|v| format!("@@SESSION.{}", v.name))
            .collect();
        let user_vars: Vec<&str> = user_vars
            .into_iter()
            .chain(computed.iter().map(String::as_str))
            .collect();
        // Evaluated on the default shard, where the tables a subquery in it may read live: on
        // the transaction's connection there, or on a pooled one.
        let default = runtime.topology.default_shard;
        let pinned = self.pins.conn(default);
        let result = match pinned {
            Some(conn) => set_and_read(conn, text, &user_vars, sets_sql_mode, reads_last_insert_id)
                .await
                .map(|v| (None, v)),
            None => match self.checkout(runtime, runtime.topology.default_shard).await {
                Ok(mut conn) => set_and_read(
                    &mut conn,
                    text,
                    &user_vars,
                    sets_sql_mode,
                    reads_last_insert_id,
                )
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
                    last_insert_id,
                    warnings,
                    diagnostics,
                    session_state,
                } = outcome;
                if let Some(id) = last_insert_id {
                    self.last_insert_id = id;
                    self.last_insert_id_unknown = false;
                }
                if let Some(d) = diagnostics {
                    self.diagnostics = d;
                    self.diagnostics_read = true;
                }
                if let Some(mode) = sql_mode {
                    self.syntax.sql_mode = mode;
                }
                // User variables are replayed with the value they got here, never re-evaluated
                // (`SET @n = @n + 1`, `UUID()`). One assignment in a text that is not UTF-8 (a
                // latin1 client) is replayed as sent, not from the planner's lossy UTF-8 copy.
                let raw = std::str::from_utf8(text).is_err() && vars.len() == 1;
                let kept = vars.iter().filter(|v| !sets_last_insert_id(v));
                self.state.apply(kept.map(|v| {
                    let read_as = format!("@@SESSION.{}", v.name);
                    let sql = match values.iter().find(|(name, _)| {
                        *name == v.name || (crate::sessions::kept_by_value(v) && *name == read_as)
                    }) {
                        Some((_, sql)) => sql.clone(),
                        None if raw => text.to_vec(),
                        None => v.sql.clone().into_bytes(),
                    };
                    (v.name.clone(), sql)
                }));
                self.slot.follow_wait_timeout(vars, &self.state);
                self.statement_limit.follow(vars, &self.state);
                if let Some(mut conn) = conn {
                    conn.vars_fingerprint = self.state.fingerprint();
                    // The optimizer trace is kept on the connection that ran the traced
                    // statement: while tracing, the session keeps one (`Pins::optimizer_trace`).
                    if self.traces_optimizer() && !self.pins.has(default) {
                        self.pins.pin(default, conn);
                    }
                }
                self.pins.optimizer_trace = self.traces_optimizer();
                self.pins.release_unneeded(default);
                // The transaction's other connections take the values it got (a reset would
                // end their transaction).
                let applied: Vec<Vec<u8>> = vars
                    .iter()
                    .filter_map(|v| self.state.var_text(&v.name).map(<[u8]>::to_vec))
                    .collect();
                let fingerprint = self.state.fingerprint();
                let mut failure = None;
                for (shard, conn) in self.pins.conns_mut() {
                    for sql in applied.iter().filter(|_| shard != default) {
                        if let Err(e) = expect_ok(conn, Command::COM_QUERY, sql).await {
                            conn.broken = true;
                            failure.get_or_insert(ClientError::from(&e));
                        }
                    }
                    // A connection the proxy changed itself stays marked for a reset.
                    if conn.vars_fingerprint != crate::state::DIRTY {
                        conn.vars_fingerprint = fingerprint;
                    }
                }
                if let Some(e) = failure {
                    return self.send_error(e).await;
                }
                if let Some(on) = autocommit {
                    // Turning autocommit on (from off) commits the open transaction, explicit
                    // or not: the SET did so on each of its connections.
                    if on && !self.state.autocommit {
                        self.pins.end_txn();
                        self.pins.release_unneeded(default);
                    }
                    self.state.autocommit = on;
                }
                self.send_ok_tracked(warnings, session_state).await
            }
            Err(e) => self.send_error(ClientError::from(&e)).await,
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
    last_insert_id: bool,
) -> Result<SetOutcome, BackendError> {
    let (warnings, session_state) =
        crate::state::run_ok_tracked(conn, Command::COM_QUERY, text).await?;
    let diagnostics = match warnings {
        0 => None,
        n => Some(crate::diagnostics::read(conn, n).await?),
    };
    let values = crate::state::read_back(conn, false, user_vars).await?.vars;
    let mode = match sql_mode {
        true => Some(SqlMode::parse(
            &crate::state::query_text(conn, b"SELECT @@SESSION.sql_mode LIMIT 1").await?,
        )),
        false => None,
    };
    let last_insert_id = match last_insert_id {
        true => {
            let text =
                crate::state::query_text(conn, b"SELECT @@SESSION.last_insert_id LIMIT 1").await?;
            Some(text.parse().unwrap_or_default())
        }
        false => None,
    };
    Ok(SetOutcome {
        values,
        sql_mode: mode,
        last_insert_id,
        warnings,
        diagnostics,
        session_state,
    })
}

/// Whether `var` is `last_insert_id` (or its synonym `identity`).
fn sets_last_insert_id(var: &SessionVar) -> bool {
    matches!(var.name.as_str(), "last_insert_id" | "identity")
}

/// What a SET did on the connection it was evaluated on.
struct SetOutcome {
    /// The variables it assigned, as statements that set their values again.
    values: Vec<(String, Vec<u8>)>,
    /// The session's sql_mode afterwards, when the SET may have changed it.
    sql_mode: Option<SqlMode>,
    /// `LAST_INSERT_ID()` afterwards, when the SET assigned it.
    last_insert_id: Option<u64>,
    warnings: u16,
    /// The warnings it raised.
    diagnostics: Option<Diagnostics>,
    /// The session state changes the SET's OK reported (CLIENT_SESSION_TRACK).
    session_state: Vec<u8>,
}

/// Whether `text` holds `number` as a decimal token of its own (not inside a longer one).
fn mentions_number(text: &[u8], number: u64) -> bool {
    // A negative id given explicitly comes back as its two's complement (`-1`: 2^64 - 1).
    let digits = match i64::try_from(number) {
        Ok(_) => number.to_string(),
        Err(_) => number.wrapping_neg().to_string(),
    };
    memchr::memmem::find_iter(text, digits.as_bytes()).any(|at| {
        let before = at.checked_sub(1).map(|i| text[i]);
        let after = text.get(at + digits.len()).copied();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
    })
}
