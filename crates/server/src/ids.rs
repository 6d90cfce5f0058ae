//! The ids a statement may read from the backend connection it runs on, which through a pool
//! is not the one that ran the session's previous statements: `LAST_INSERT_ID()` and
//! `CONNECTION_ID()`. Each connection the statement runs on is given the session's values
//! first, so MariaDB evaluates the functions itself (their column names and types are the
//! server's own).

use shardgate_backend::{BackendConn, BackendError};
use shardgate_protocol::{Command, ProtocolError, ServerErr};
use shardgate_router::{set_connection_id, set_last_insert_id};

use crate::state::expect_ok;

/// What the statement being run needs on its connections.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StatementIds {
    /// The session's `LAST_INSERT_ID()`, when the statement may read it.
    pub(crate) last_insert_id: Option<u64>,
    /// The session's connection id, when the statement may read `CONNECTION_ID()`.
    pub(crate) connection_id: Option<u32>,
}

impl StatementIds {
    /// Whether the statement needs anything.
    pub(crate) fn wanted(&self) -> bool {
        self.last_insert_id.is_some() || self.connection_id.is_some()
    }

    /// Gives `conn` the session's values.
    pub(crate) async fn give(&self, conn: &mut BackendConn) -> Result<(), BackendError> {
        if let Some(id) = self.last_insert_id {
            expect_ok(conn, Command::COM_QUERY, set_last_insert_id(id).as_bytes()).await?;
        }
        if let Some(id) = self.connection_id {
            let sql = set_connection_id(id);
            expect_ok(conn, Command::COM_QUERY, sql.as_bytes())
                .await
                .map_err(|e| explain_missing_privilege(e, conn.endpoint()))?;
            // Another session must not see this id: reset before anyone reuses the connection.
            conn.vars_fingerprint = crate::state::DIRTY;
        }
        Ok(())
    }
}

/// `pseudo_thread_id` takes SUPER or BINLOG REPLAY: a backend account without either cannot
/// give a connection the session's id, and the client is told so instead of a wrong id.
fn explain_missing_privilege(e: BackendError, endpoint: &str) -> BackendError {
    match e.server_error() {
        Some(server) if server.code == 1227 => BackendError::Protocol {
            endpoint: endpoint.to_owned(),
            source: ProtocolError::Server(ServerErr {
                message: format!(
                    "CONNECTION_ID() through shardgate needs the backend account to hold SUPER or BINLOG REPLAY (to give the connection this session's id as pseudo_thread_id): {}",
                    server.message
                ),
                ..server.clone()
            }),
        },
        _ => e,
    }
}
