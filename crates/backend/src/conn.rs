//! One connection to a backend server.

use std::sync::Arc;
use std::time::Instant;

use shardgate_config::Endpoint;
use shardgate_protocol::client_handshake::{
    login, BackendHello, BackendLogin, BACKEND_BASE_CAPABILITIES,
};
use shardgate_protocol::forward::{drain_response, forward_response, ForwardError};
use shardgate_protocol::response::{Finish, ResponseScanner};
use shardgate_protocol::{CapabilityFlags, Command, PacketConn, ProtocolError, StatusFlags};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::BackendError;

/// The capability flags that change how results are framed; a backend connection must have
/// the same ones as the client whose commands it serves, so its answers can be forwarded as-is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flavor(CapabilityFlags);

impl Flavor {
    const MASK: CapabilityFlags = CapabilityFlags::from_bits_truncate(
        CapabilityFlags::CLIENT_DEPRECATE_EOF.bits() | CapabilityFlags::CLIENT_FOUND_ROWS.bits(),
    );

    pub fn of_client(caps: CapabilityFlags) -> Self {
        Flavor(caps & Self::MASK)
    }

    pub fn deprecate_eof(self) -> bool {
        self.0.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }
}

/// Credentials every backend connection logs in with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub database: String,
}

/// A logged-in backend connection, with the session state it currently carries.
#[derive(Debug)]
pub struct BackendConn {
    conn: PacketConn<TcpStream>,
    endpoint: Arc<str>,
    pub flavor: Flavor,
    pub hello: BackendHello,
    pub created: Instant,
    pub last_used: Instant,
    /// Current database (`USE`/COM_INIT_DB applied on this connection).
    pub database: String,
    /// Fingerprint of the session variables applied on this connection (0 = server defaults).
    pub vars_fingerprint: u64,
    /// Status flags of the last answer (autocommit, in transaction).
    pub status: StatusFlags,
    /// Set when the connection is in an unknown state and must not be reused.
    pub broken: bool,
}

impl BackendConn {
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        label: Arc<str>,
        creds: &Credentials,
        flavor: Flavor,
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
        let mut conn = PacketConn::new(stream);
        let hello = login(
            &mut conn,
            &BackendLogin {
                user: &creds.user,
                password: &creds.password,
                database: Some(&creds.database),
                capabilities: BACKEND_BASE_CAPABILITIES | flavor.0,
            },
        )
        .await
        .map_err(connect_err)?;
        let now = Instant::now();
        Ok(BackendConn {
            conn,
            endpoint: label,
            flavor,
            status: hello.status,
            hello,
            created: now,
            last_used: now,
            database: creds.database.clone(),
            vars_fingerprint: 0,
            broken: false,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn protocol_err(&mut self, source: ProtocolError) -> BackendError {
        self.broken = true;
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
        }
    }

    /// Sends a command and forwards the whole answer to the client packet for packet.
    pub async fn forward<C>(
        &mut self,
        command: Command,
        arg: &[u8],
        client: &mut PacketConn<C>,
    ) -> Result<Finish, ForwardError>
    where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        if let Err(e) = self.send_command(command, arg).await {
            return Err(ForwardError::Backend {
                error: match e {
                    BackendError::Protocol { source, .. } => source,
                    other => ProtocolError::malformed(other.to_string()),
                },
                partial: false,
            });
        }
        let deprecate_eof = self.flavor.deprecate_eof();
        let scanner = if command == Command::COM_FIELD_LIST {
            ResponseScanner::field_list(deprecate_eof)
        } else {
            ResponseScanner::new(deprecate_eof)
        };
        match forward_response(&mut self.conn, client, scanner).await {
            Ok(finish) => {
                self.finished(&finish);
                Ok(finish)
            }
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }

    /// Sends a command and reads its answer without forwarding it (control statements, fan-out DDL).
    pub async fn execute(&mut self, command: Command, arg: &[u8]) -> Result<Finish, BackendError> {
        self.send_command(command, arg).await?;
        match drain_response(&mut self.conn, self.flavor.deprecate_eof()).await {
            Ok(finish) => {
                self.finished(&finish);
                Ok(finish)
            }
            Err(e) => Err(self.protocol_err(e)),
        }
    }

    /// Runs a statement, expecting OK; a server error comes back as `Err`.
    pub async fn execute_ok(&mut self, sql: &str) -> Result<(), BackendError> {
        match self.execute(Command::COM_QUERY, sql.as_bytes()).await? {
            Finish::Ok { .. } => Ok(()),
            Finish::Err(e) => Err(BackendError::Protocol {
                endpoint: self.endpoint.to_string(),
                source: ProtocolError::Server(e),
            }),
            Finish::LocalInfile => {
                Err(self.protocol_err(ProtocolError::Unsupported("LOAD DATA LOCAL".into())))
            }
        }
    }

    /// Pings; used to validate a connection that sat idle.
    pub async fn ping(&mut self) -> bool {
        matches!(
            self.execute(Command::COM_PING, &[]).await,
            Ok(Finish::Ok { .. })
        )
    }

    /// Whether the server closed this (idle) connection, e.g. because it restarted: a readable
    /// socket with no command outstanding means EOF or garbage, either way unusable.
    pub fn closed_by_peer(&self) -> bool {
        let mut probe = [0u8; 1];
        match self.conn.stream().try_read(&mut probe) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        }
    }

    /// Whether the backend reports an open transaction on this connection.
    pub fn in_transaction(&self) -> bool {
        self.status.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
    }
}

impl BackendConn {
    /// Asks the server to prepare `sql` without executing it: `Some(error)` if it refuses
    /// (a syntax error, say), `None` if it accepts (the statement is closed again at once).
    pub async fn prepare_check(
        &mut self,
        sql: &[u8],
    ) -> Result<Option<shardgate_protocol::ServerErr>, BackendError> {
        self.send_command(Command::COM_STMT_PREPARE, sql).await?;
        let head = match self.conn.read_packet().await {
            Ok(p) => p,
            Err(e) => return Err(self.protocol_err(e)),
        };
        if let Some(e) = shardgate_protocol::packets::parse_err(&head) {
            return Ok(Some(e));
        }
        if head.len() < 9 || head[0] != 0 {
            return Err(self.protocol_err(ProtocolError::malformed("COM_STMT_PREPARE answer")));
        }
        let statement_id = [head[1], head[2], head[3], head[4]];
        let columns = u16::from_le_bytes([head[5], head[6]]);
        let params = u16::from_le_bytes([head[7], head[8]]);
        let eof = u16::from(!self.flavor.deprecate_eof());
        let mut remaining = 0;
        for block in [params, columns] {
            if block > 0 {
                remaining += block + eof;
            }
        }
        for _ in 0..remaining {
            if let Err(e) = self.conn.read_packet().await {
                return Err(self.protocol_err(e));
            }
        }
        // COM_STMT_CLOSE has no answer.
        self.send_command(Command::COM_STMT_CLOSE, &statement_id)
            .await?;
        self.last_used = Instant::now();
        Ok(None)
    }
}
