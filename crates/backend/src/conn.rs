//! One connection to a backend server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use shardgate_config::Endpoint;
use shardgate_protocol::client_handshake::{
    login_with_tls, BackendHello, BackendLogin, BACKEND_BASE_CAPABILITIES,
};
use shardgate_protocol::forward::{drain_response, drain_with, forward_response, ForwardError};
use shardgate_protocol::local_infile;
use shardgate_protocol::response::{Finish, ResponseScanner};
use shardgate_protocol::tls::{BackendStream, BackendTls};
use shardgate_protocol::{
    CapabilityFlags, Command, MariadbCapabilities, PacketConn, ProtocolError, StatusFlags,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::statements::StatementCache;
use crate::BackendError;
use shardgate_protocol::stmt::PrepareOk;

/// The capability flags that change how results are framed or what they say; a backend
/// connection must have the same ones as the client whose commands it serves, so its answers
/// can be forwarded as-is: EOF packets or not, found or changed rows, session state in OK
/// packets, MariaDB's extended column metadata, and whether a procedure may return result
/// sets (without CLIENT_MULTI_RESULTS MariaDB refuses that CALL with 1312).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flavor {
    capabilities: CapabilityFlags,
    mariadb: MariadbCapabilities,
}

impl Flavor {
    const MASK: CapabilityFlags = CapabilityFlags::from_bits_truncate(
        CapabilityFlags::CLIENT_DEPRECATE_EOF.bits()
            | CapabilityFlags::CLIENT_FOUND_ROWS.bits()
            | CapabilityFlags::CLIENT_SESSION_TRACK.bits()
            | CapabilityFlags::CLIENT_MULTI_RESULTS.bits()
            | CapabilityFlags::CLIENT_PS_MULTI_RESULTS.bits(),
    );
    const MARIADB_MASK: MariadbCapabilities = MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA;

    /// The flavor of a client that negotiated `caps` and MariaDB's extended `mariadb` ones.
    pub fn of_client(caps: CapabilityFlags, mariadb: MariadbCapabilities) -> Self {
        Flavor {
            capabilities: caps & Self::MASK,
            mariadb: mariadb & Self::MARIADB_MASK,
        }
    }

    /// The flavor of most clients (mysql_async, the MariaDB connectors): no EOF packets,
    /// several result sets, nothing else.
    pub fn common() -> Self {
        Flavor::of_client(
            CapabilityFlags::CLIENT_DEPRECATE_EOF
                | CapabilityFlags::CLIENT_MULTI_RESULTS
                | CapabilityFlags::CLIENT_PS_MULTI_RESULTS,
            MariadbCapabilities::empty(),
        )
    }

    pub fn deprecate_eof(self) -> bool {
        self.capabilities
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }

    /// OK packets carry session state changes (CLIENT_SESSION_TRACK).
    pub fn session_track(self) -> bool {
        self.capabilities
            .contains(CapabilityFlags::CLIENT_SESSION_TRACK)
    }

    /// Column definitions carry MariaDB's extended type information.
    pub fn extended_metadata(self) -> bool {
        self.mariadb
            .contains(MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA)
    }
}

/// Whether the client a forwarded command comes from may send files (CLIENT_LOCAL_FILES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalFiles {
    /// Its file is relayed to the server, packet by packet.
    Relay {
        /// The client's largest packet (the proxy's `max_allowed_packet`).
        max_packet: usize,
    },
    /// The server gets an empty file and the client MariaDB's error 4166 instead of its answer.
    Refuse,
}

/// Credentials every backend connection logs in with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    /// `SHA1(password)`, logged in with instead of `password` (a pass-through account).
    pub native_stage1: Option<[u8; 20]>,
    pub database: String,
}

/// A logged-in backend connection, with the session state it currently carries.
#[derive(Debug)]
pub struct BackendConn {
    conn: PacketConn<BackendStream>,
    endpoint: Arc<str>,
    pub flavor: Flavor,
    pub hello: BackendHello,
    pub created: Instant,
    pub last_used: Instant,
    /// The database the connection is in: `None` when not known (it must be set before use),
    /// `Some("")` for no database (after a `DROP DATABASE` of it, or [`BackendConn::leave_database`]).
    pub database: Option<String>,
    /// What the connection logged in with (for COM_CHANGE_USER).
    creds: Arc<Credentials>,
    /// Fingerprint of the session variables applied on this connection (0 = server defaults).
    pub vars_fingerprint: u64,
    /// Status flags of the last answer (autocommit, in transaction).
    pub status: StatusFlags,
    /// Set when the connection is in an unknown state and must not be reused.
    pub broken: bool,
    /// Server-side prepared statements on this connection.
    pub statements: StatementCache,
    /// Counts the times the pool lent this connection out and took it back (see [`Lease`]).
    pub(crate) leases: Arc<AtomicU64>,
    /// The statement's time bound passed while its answer was awaited: the server may still
    /// run it. Never pooled; its server thread is killed when it is let go (see `reap`).
    pub cut_off: bool,
    /// Where the answer of a cut-off command stands, when known: its rest can be read once the
    /// server stops the statement ([`BackendConn::recover`]).
    resume: Option<ResponseScanner>,
}

/// One checkout of a connection, as another task can check it later: whether the checkout
/// that took this snapshot still holds the connection. What runs on the connection's server
/// thread meanwhile is that checkout's work (KILL QUERY relies on it).
#[derive(Debug, Clone)]
pub struct Lease {
    leases: Arc<AtomicU64>,
    at: u64,
}

impl Lease {
    /// Whether the connection has not gone back to its pool since the snapshot was taken.
    pub fn held(&self) -> bool {
        self.leases.load(Ordering::SeqCst) == self.at
    }

    /// If this is a snapshot of `conn`, moves it to `conn`'s current checkout and says so.
    pub fn follow(&mut self, conn: &BackendConn) -> bool {
        if !Arc::ptr_eq(&self.leases, &conn.leases) {
            return false;
        }
        self.at = conn.leases.load(Ordering::SeqCst);
        true
    }
}

/// The start of a query's answer, read by [`BackendConn::query_rows`].
#[derive(Debug)]
pub enum QueryHead {
    /// A result set: its column definitions; rows follow from [`BackendConn::next_row`].
    Columns(Vec<bytes::BytesMut>),
    /// No result set (OK) or an error.
    Done(Finish),
}

/// A backend's answer to COM_STMT_PREPARE.
#[derive(Debug)]
pub enum Prepared {
    Ok {
        header: PrepareOk,
        /// Parameter and column definition packets (with their EOFs), as sent.
        metadata: Vec<bytes::BytesMut>,
    },
    Err(shardgate_protocol::ServerErr),
}

impl BackendConn {
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        label: Arc<str>,
        creds: &Arc<Credentials>,
        flavor: Flavor,
        statement_capacity: usize,
        tls: Option<&BackendTls>,
    ) -> Result<Self, BackendError> {
        let connect_err = |source| BackendError::Connect {
            endpoint: label.to_string(),
            source,
        };
        let stream = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|e| connect_err(e.into()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| connect_err(e.into()))?;
        let mut conn = PacketConn::new(BackendStream::Plain(stream));
        let hello = login_with_tls(
            &mut conn,
            &BackendLogin {
                user: &creds.user,
                password: &creds.password,
                native_stage1: creds.native_stage1.as_ref(),
                database: Some(&creds.database),
                capabilities: BACKEND_BASE_CAPABILITIES | flavor.capabilities,
                mariadb_capabilities: flavor.mariadb,
            },
            tls,
            &endpoint.host,
        )
        .await
        .map_err(connect_err)?;
        // A connection framing answers otherwise than its client reads them must not serve it.
        let missing = flavor.capabilities - hello.capabilities;
        if !missing.is_empty() || !hello.mariadb_capabilities.contains(flavor.mariadb) {
            return Err(connect_err(ProtocolError::Unsupported(format!(
                "the server does not support what the client asked for: {:?} {:?}",
                missing,
                flavor.mariadb - hello.mariadb_capabilities
            ))));
        }
        let now = Instant::now();
        Ok(BackendConn {
            conn,
            endpoint: label,
            flavor,
            status: hello.status,
            hello,
            created: now,
            last_used: now,
            database: Some(creds.database.clone()),
            creds: creds.clone(),
            vars_fingerprint: 0,
            broken: false,
            statements: StatementCache::new(statement_capacity),
            leases: Arc::new(AtomicU64::new(0)),
            cut_off: false,
            resume: None,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's id of this connection (its thread id, what `KILL` on that server takes).
    pub fn thread_id(&self) -> u32 {
        self.hello.connection_id
    }

    /// A snapshot of the current checkout of this connection (see [`Lease`]).
    pub fn lease(&self) -> Lease {
        Lease {
            leases: self.leases.clone(),
            at: self.leases.load(Ordering::SeqCst),
        }
    }

    fn protocol_err(&mut self, source: ProtocolError) -> BackendError {
        self.broken = true;
        self.cut_off |= matches!(source, ProtocolError::Deadline);
        BackendError::Protocol {
            endpoint: self.endpoint.to_string(),
            source,
        }
    }

    async fn send_command(&mut self, command: Command, arg: &[u8]) -> Result<(), BackendError> {
        self.conn.reset_seq();
        let mut packet = Vec::with_capacity(1 + arg.len());
        packet.push(command as u8);
        packet.extend_from_slice(arg);
        match self.conn.write_packet(&packet).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.protocol_err(e)),
        }
    }

    fn finished(&mut self, finish: &Finish) {
        self.last_used = Instant::now();
        if let Finish::Ok { status, .. } = finish {
            self.status = *status;
            // MariaDB leaves a connection whose database was dropped in none.
            if status.contains(StatusFlags::SERVER_STATUS_DB_DROPPED) {
                self.database = Some(String::new());
            }
        }
    }

    /// Sends a command and forwards the whole answer to the client packet for packet; a
    /// LOAD DATA LOCAL request in it is answered as `local_files` says.
    pub async fn forward<C>(
        &mut self,
        command: Command,
        arg: &[u8],
        client: &mut PacketConn<C>,
        local_files: LocalFiles,
    ) -> Result<Finish, ForwardError>
    where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        if let Err(e) = self.send_command(command, arg).await {
            return Err(ForwardError::Backend {
                error: e.into_protocol(),
                partial: false,
            });
        }
        let deprecate_eof = self.flavor.deprecate_eof();
        let mut scanner = if command == Command::COM_FIELD_LIST {
            ResponseScanner::field_list(deprecate_eof)
        } else {
            ResponseScanner::new(deprecate_eof)
        };
        let mut result = forward_response(&mut self.conn, client, &mut scanner).await;
        let mut resumable = true;
        while let Ok(Finish::LocalInfile) = result {
            resumable = false;
            result = self.answer_local_infile(client, local_files).await;
        }
        match result {
            Ok(finish) => {
                self.finished(&finish);
                Ok(finish)
            }
            Err(e) => {
                self.broken = true;
                if let ForwardError::Backend {
                    error: ProtocolError::Deadline,
                    ..
                } = &e
                {
                    self.cut_off = true;
                    self.resume = resumable.then_some(scanner);
                }
                Err(e)
            }
        }
    }

    /// Answers the LOCAL INFILE request the server just sent, then forwards the rest of its
    /// answer. A client that may not send files gets MariaDB's error 4166 in place of the
    /// answer, whose end (after an empty file) is read here.
    async fn answer_local_infile<C>(
        &mut self,
        client: &mut PacketConn<C>,
        local_files: LocalFiles,
    ) -> Result<Finish, ForwardError>
    where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        let deprecate_eof = self.flavor.deprecate_eof();
        match local_files {
            LocalFiles::Relay { max_packet } => {
                local_infile::relay_file(&mut self.conn, client, max_packet).await?;
                let mut scanner = ResponseScanner::new(deprecate_eof);
                forward_response(&mut self.conn, client, &mut scanner)
                    .await
                    .map_err(|e| match e {
                        ForwardError::Backend { error, .. } => ForwardError::Backend {
                            error,
                            partial: true,
                        },
                        client_error => client_error,
                    })
            }
            LocalFiles::Refuse => {
                let backend = |error| ForwardError::Backend {
                    error,
                    partial: false,
                };
                let seq = local_infile::refuse_file(&mut self.conn)
                    .await
                    .map_err(backend)?;
                let answer = drain_response(&mut self.conn, deprecate_eof)
                    .await
                    .map_err(backend)?;
                self.finished(&answer);
                if answer == Finish::LocalInfile {
                    return Err(backend(ProtocolError::malformed(
                        "a second LOCAL INFILE request after an empty file",
                    )));
                }
                let (code, state, message) = local_infile::CAPABILITY_DISABLED;
                client.set_seq(seq);
                client
                    .write_packet(&shardgate_wire::packets::err(code, state, message))
                    .await
                    .map_err(ForwardError::Client)?;
                Ok(Finish::Err(shardgate_protocol::ServerErr {
                    code,
                    state: *state,
                    message: message.to_owned(),
                    raw_message: None,
                }))
            }
        }
    }

    /// Takes the connection to no database, where only COM_CHANGE_USER can take it (a
    /// session whose database was dropped): it starts over as a fresh session, without
    /// variables or prepared statements. A server error (the account changed) leaves it broken.
    pub async fn leave_database(&mut self) -> Result<(), BackendError> {
        let creds = self.creds.clone();
        let login = BackendLogin {
            user: &creds.user,
            password: &creds.password,
            native_stage1: creds.native_stage1.as_ref(),
            database: None,
            capabilities: self.hello.capabilities,
            mariadb_capabilities: self.hello.mariadb_capabilities,
        };
        let secure = self.conn.stream().is_tls();
        let changed = shardgate_protocol::client_handshake::change_user(
            &mut self.conn,
            &login,
            &mut self.hello,
            secure,
        )
        .await;
        if let Err(e) = changed {
            return Err(self.protocol_err(e));
        }
        self.statements.clear();
        self.vars_fingerprint = 0;
        self.database = Some(String::new());
        self.status = StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        self.last_used = Instant::now();
        Ok(())
    }

    /// Sends a command and reads its answer without forwarding it (control statements, fan-out DDL).
    pub async fn execute(&mut self, command: Command, arg: &[u8]) -> Result<Finish, BackendError> {
        self.send_command(command, arg).await?;
        let mut scanner = ResponseScanner::new(self.flavor.deprecate_eof());
        match drain_with(&mut self.conn, &mut scanner).await {
            Ok(finish) => {
                // A request for a file no client will send leaves the server mid-statement.
                self.broken |= finish == Finish::LocalInfile;
                self.finished(&finish);
                Ok(finish)
            }
            Err(e) => {
                let e = self.protocol_err(e);
                if self.cut_off {
                    self.resume = Some(scanner);
                }
                Err(e)
            }
        }
    }

    /// Sends a command answered by OK or ERR (a SET, COM_INIT_DB) and reads the answer,
    /// with the session state changes its OK packets report (empty without
    /// CLIENT_SESSION_TRACK), so a client can be told what the command changed.
    pub async fn execute_tracked(
        &mut self,
        command: Command,
        arg: &[u8],
    ) -> Result<(Finish, Vec<u8>), BackendError> {
        self.send_command(command, arg).await?;
        let mut session_state = Vec::new();
        loop {
            let packet = match self.conn.read_packet().await {
                Ok(p) => p,
                Err(e) => return Err(self.protocol_err(e)),
            };
            let finish = match packet.first() {
                Some(0x00) => {
                    let ok = shardgate_wire::packets::parse_ok(&packet);
                    let state = shardgate_wire::packets::ok_session_state(&packet);
                    let (Some(ok), Some(state)) = (ok, state) else {
                        return Err(self.protocol_err(ProtocolError::malformed("bad OK packet")));
                    };
                    if self.flavor.session_track() {
                        session_state.extend_from_slice(state);
                    }
                    if ok.status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) {
                        continue;
                    }
                    Finish::Ok {
                        status: ok.status,
                        affected_rows: ok.affected_rows,
                        last_insert_id: ok.last_insert_id,
                        warnings: ok.warnings,
                        rows: None,
                    }
                }
                Some(0xFF) => match shardgate_wire::packets::parse_err(&packet) {
                    Some(e) => Finish::Err(e),
                    None => {
                        return Err(self.protocol_err(ProtocolError::malformed("bad ERR packet")))
                    }
                },
                _ => {
                    return Err(self.protocol_err(ProtocolError::malformed(
                        "expected OK or ERR to a command without a result set",
                    )))
                }
            };
            self.finished(&finish);
            return Ok((finish, session_state));
        }
    }

    /// Sends a text query and reads its answer up to the first row.
    pub async fn query_rows(&mut self, sql: &[u8]) -> Result<QueryHead, BackendError> {
        self.send_command(Command::COM_QUERY, sql).await?;
        let head = match self.conn.read_packet().await {
            Ok(p) => p,
            Err(e) => return Err(self.protocol_err(e)),
        };
        match head.first() {
            Some(0x00) | Some(0xFF) => {
                let finish = shardgate_protocol::response::row_terminator(&head, true)
                    .ok()
                    .flatten()
                    .or_else(|| {
                        shardgate_wire::packets::parse_ok(&head).map(|ok| Finish::Ok {
                            status: ok.status,
                            affected_rows: ok.affected_rows,
                            last_insert_id: ok.last_insert_id,
                            warnings: ok.warnings,
                            rows: None,
                        })
                    });
                return match finish {
                    Some(finish) => {
                        self.finished(&finish);
                        Ok(QueryHead::Done(finish))
                    }
                    None => Err(self.protocol_err(ProtocolError::malformed("bad OK/ERR packet"))),
                };
            }
            Some(0xFB) => {
                return Err(self.protocol_err(ProtocolError::Unsupported("LOAD DATA LOCAL".into())))
            }
            _ => {}
        }
        let Some((count, _)) = shardgate_wire::lenenc::read_lenenc_int(&head) else {
            return Err(self.protocol_err(ProtocolError::malformed("bad column count")));
        };
        let mut columns = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(4096));
        for _ in 0..count {
            match self.conn.read_packet().await {
                Ok(p) => columns.push(p),
                Err(e) => return Err(self.protocol_err(e)),
            }
        }
        if !self.flavor.deprecate_eof() {
            if let Err(e) = self.conn.read_packet().await {
                return Err(self.protocol_err(e));
            }
        }
        Ok(QueryHead::Columns(columns))
    }

    /// The next row of the result set [`BackendConn::query_rows`] started, or how it ended.
    pub async fn next_row(&mut self) -> Result<Result<bytes::Bytes, Finish>, BackendError> {
        let packet = match self.conn.read_packet().await {
            Ok(p) => p,
            Err(e) => return Err(self.protocol_err(e)),
        };
        match shardgate_protocol::response::row_terminator(&packet, self.flavor.deprecate_eof()) {
            Ok(None) => Ok(Ok(packet.freeze())),
            Ok(Some(finish)) => {
                if matches!(&finish, Finish::Ok { status, .. } if status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS))
                {
                    return Err(
                        self.protocol_err(ProtocolError::Unsupported("several result sets".into()))
                    );
                }
                self.finished(&finish);
                Ok(Err(finish))
            }
            Err(e) => Err(self.protocol_err(e)),
        }
    }

    /// Whether the server closed this (idle) connection, e.g. because it restarted: a readable
    /// socket with no command outstanding means EOF or garbage, either way unusable.
    pub fn closed_by_peer(&self) -> bool {
        let mut probe = [0u8; 1];
        // Under TLS too, the socket itself: an idle connection has nothing to read, not even
        // TLS records, so anything there (an alert, EOF) ends it.
        let Some(tcp) = self.conn.stream().tcp() else {
            return true;
        };
        match tcp.try_read(&mut probe) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        }
    }

    /// Cleans a connection whose statement was cut off at its time bound, so that it can go on
    /// serving (the transaction it holds, say): the statement is killed from a connection of
    /// `pool` (`KILL QUERY` of this connection's thread), then the rest of its answer is read
    /// and dropped; all within `limit`. `false`: it cannot be cleaned (the server does not
    /// answer, or where its answer stood is unknown) and stays broken.
    pub async fn recover(&mut self, pool: &crate::Pool, limit: std::time::Duration) -> bool {
        let Some(mut scanner) = self.resume.take().filter(|_| self.cut_off) else {
            return false;
        };
        let thread = self.thread_id();
        let cleaned = async {
            let killed = pool.kill_query(thread).await;
            if !killed {
                return false;
            }
            match drain_with(&mut self.conn, &mut scanner).await {
                Ok(finish @ (Finish::Ok { .. } | Finish::Err(_))) => {
                    self.finished(&finish);
                    true
                }
                _ => false,
            }
        };
        let deadline = tokio::time::Instant::now() + limit;
        if shardgate_protocol::deadline::within(deadline, cleaned).await {
            self.cut_off = false;
            self.broken = false;
            return true;
        }
        false
    }

    /// Whether the backend reports an open transaction on this connection.
    pub fn in_transaction(&self) -> bool {
        self.status.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
    }
}

impl BackendConn {
    /// Prepares `sql` and reads the whole answer (metadata kept for the client). The caller
    /// owns the statement on the server: cache it or close it.
    async fn prepare(&mut self, sql: &[u8]) -> Result<Prepared, BackendError> {
        self.send_command(Command::COM_STMT_PREPARE, sql).await?;
        let head = match self.conn.read_packet().await {
            Ok(p) => p,
            Err(e) => return Err(self.protocol_err(e)),
        };
        if let Some(e) = shardgate_wire::packets::parse_err(&head) {
            return Ok(Prepared::Err(e));
        }
        let header = match PrepareOk::parse(&head) {
            Ok(h) => h,
            Err(e) => return Err(self.protocol_err(e)),
        };
        let eof = usize::from(!self.flavor.deprecate_eof());
        let mut expected = 0;
        for block in [header.params, header.columns] {
            if block > 0 {
                expected += usize::from(block) + eof;
            }
        }
        let mut metadata = Vec::with_capacity(expected);
        for _ in 0..expected {
            match self.conn.read_packet().await {
                Ok(p) => metadata.push(p),
                Err(e) => return Err(self.protocol_err(e)),
            }
        }
        self.last_used = Instant::now();
        Ok(Prepared::Ok { header, metadata })
    }

    /// Prepares `sql` and keeps the statement in this connection's cache (closing the one it
    /// displaces on the server), so no prepared statement is ever left untracked.
    pub async fn prepare_cached(&mut self, sql: &[u8]) -> Result<Prepared, BackendError> {
        let prepared = self.prepare(sql).await?;
        if let Prepared::Ok { header, .. } = &prepared {
            let key = self.statement_key(sql);
            if let Some(displaced) = self.statements.insert(key.into(), header.statement_id) {
                self.close_statement(displaced).await?;
            }
        }
        Ok(prepared)
    }

    /// The backend statement id for `sql` on this connection, preparing it if needed.
    pub async fn statement_id(
        &mut self,
        sql: &[u8],
    ) -> Result<Result<u32, shardgate_protocol::ServerErr>, BackendError> {
        if let Some(id) = self.statements.get(&self.statement_key(sql)) {
            return Ok(Ok(id));
        }
        match self.prepare_cached(sql).await? {
            Prepared::Err(e) => Ok(Err(e)),
            Prepared::Ok { header, .. } => Ok(Ok(header.statement_id)),
        }
    }

    /// The cache key of `sql` prepared in this connection's current database.
    fn statement_key(&self, sql: &[u8]) -> Vec<u8> {
        let database = self.database.as_deref().unwrap_or_default();
        let mut key = Vec::with_capacity(database.len() + 1 + sql.len());
        key.extend_from_slice(database.as_bytes());
        key.push(0);
        key.extend_from_slice(sql);
        key
    }

    /// COM_STMT_CLOSE (no answer).
    pub async fn close_statement(&mut self, id: u32) -> Result<(), BackendError> {
        self.send_command(Command::COM_STMT_CLOSE, &id.to_le_bytes())
            .await
    }

    /// Sends a command that has no answer (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE).
    pub async fn send_no_reply(
        &mut self,
        command: Command,
        arg: &[u8],
    ) -> Result<(), BackendError> {
        self.send_command(command, arg).await
    }

    /// The column definitions of `sql`'s result, as the server describes them when it prepares
    /// it (never executed; the statement is closed again at once): `Err` with its refusal.
    pub async fn describe(
        &mut self,
        sql: &[u8],
    ) -> Result<Result<Vec<bytes::BytesMut>, shardgate_protocol::ServerErr>, BackendError> {
        match self.prepare(sql).await? {
            Prepared::Err(e) => Ok(Err(e)),
            Prepared::Ok { header, metadata } => {
                self.close_statement(header.statement_id).await?;
                let eof = usize::from(!self.flavor.deprecate_eof());
                let params = match header.params {
                    0 => 0,
                    n => usize::from(n) + eof,
                };
                let columns = usize::from(header.columns);
                Ok(Ok(metadata
                    .into_iter()
                    .skip(params)
                    .take(columns)
                    .collect()))
            }
        }
    }

    /// Asks the server to prepare `sql` without executing it: `Some(error)` if it refuses
    /// (a syntax error, say), `None` if it accepts (the statement is closed again at once).
    pub async fn prepare_check(
        &mut self,
        sql: &[u8],
    ) -> Result<Option<shardgate_protocol::ServerErr>, BackendError> {
        match self.prepare(sql).await? {
            Prepared::Err(e) => Ok(Some(e)),
            Prepared::Ok { header, .. } => {
                self.close_statement(header.statement_id).await?;
                Ok(None)
            }
        }
    }
}
