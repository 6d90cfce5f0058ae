//! Session state the proxy keeps for a client and applies to each backend connection it uses.

use std::hash::{Hash, Hasher};

use mysql_common::collations::{Collation, CollationId};
use shardgate_backend::{BackendConn, BackendError};
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, ProtocolError, UTF8MB4_GENERAL_CI};
use shardgate_router::SessionVar;

/// The database and session variables of one client session.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub database: String,
    pub autocommit: bool,
    vars: Vec<SessionVar>,
    /// Identifies `vars`; 0 means "server defaults", which fresh backend connections have.
    fingerprint: u64,
}

impl SessionState {
    /// A fresh session; a client collation other than the backends' default becomes `SET NAMES`.
    pub fn new(database: String, collation: u8) -> Self {
        let mut state = SessionState {
            database,
            autocommit: true,
            vars: Vec::new(),
            fingerprint: 0,
        };
        if collation != UTF8MB4_GENERAL_CI {
            let c = Collation::resolve(CollationId::from(u16::from(collation)));
            if c.id() != CollationId::UNKNOWN_COLLATION_ID {
                state.apply(&[SessionVar {
                    name: "names".into(),
                    sql: format!("SET NAMES {} COLLATE {}", c.charset(), c.collation()),
                }]);
            }
        }
        state
    }

    /// Records assignments; a later one to the same name replaces (and moves after) the earlier.
    pub fn apply(&mut self, vars: &[SessionVar]) {
        for var in vars {
            self.vars.retain(|v| v.name != var.name);
            self.vars.push(var.clone());
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.vars.hash(&mut h);
        self.fingerprint = h.finish().max(1);
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Brings `conn` to this session's database and variables (resetting it first if it carries
    /// another session's variables).
    pub async fn sync(&self, conn: &mut BackendConn) -> Result<(), BackendError> {
        if conn.vars_fingerprint != self.fingerprint {
            if conn.vars_fingerprint != 0 {
                expect_ok(conn, Command::COM_RESET_CONNECTION, b"").await?;
                // The reset also closed the connection's prepared statements.
                conn.statements.clear();
                conn.vars_fingerprint = 0;
                conn.database.clear();
            }
            if !self.vars.is_empty() {
                let sql: Vec<&str> = self.vars.iter().map(|v| v.sql.as_str()).collect();
                expect_ok(conn, Command::COM_QUERY, sql.join(";").as_bytes()).await?;
            }
            conn.vars_fingerprint = self.fingerprint;
        }
        if conn.database != self.database {
            expect_ok(conn, Command::COM_INIT_DB, self.database.as_bytes()).await?;
            conn.database.clone_from(&self.database);
        }
        Ok(())
    }
}

/// Runs a control command; a server error comes back as `Err` (the connection stays usable).
pub async fn expect_ok(
    conn: &mut BackendConn,
    command: Command,
    arg: &[u8],
) -> Result<(), BackendError> {
    match conn.execute(command, arg).await? {
        Finish::Ok { .. } => Ok(()),
        Finish::Err(e) => Err(BackendError::Protocol {
            endpoint: conn.endpoint().to_owned(),
            source: ProtocolError::Server(e),
        }),
        Finish::LocalInfile => {
            conn.broken = true;
            Err(BackendError::Protocol {
                endpoint: conn.endpoint().to_owned(),
                source: ProtocolError::Unsupported("LOAD DATA LOCAL".into()),
            })
        }
    }
}
