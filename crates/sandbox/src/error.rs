//! The one error type of the sandbox crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting, driving or stopping a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A MariaDB program is not installed (or not where we look).
    #[error("`{binary}` not found (looked in {searched}); install mariadb-server: scripts/install-deps.sh")]
    MissingBinary {
        /// Program name, e.g. `mariadbd`.
        binary: &'static str,
        /// Where it was looked for.
        searched: String,
    },
    /// The spec asks for something the sandbox cannot build.
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `mariadb-install-db` failed while building the cached template datadir.
    #[error("mariadb-install-db failed to build the template datadir {dir}:\n{output}")]
    Template {
        /// The directory it was building.
        dir: PathBuf,
        /// Its output.
        output: String,
    },
    /// A server exited or never became ready.
    #[error("server {instance} failed to start: {reason}\n--- last lines of {log} ---\n{tail}")]
    Start {
        /// Instance name, e.g. `s0-primary`.
        instance: String,
        /// Why we gave up.
        reason: String,
        /// The server's error log.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },
    /// Something did not happen in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What we were waiting for.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// A statement (or the connection for it) failed on an instance.
    #[error("SQL on {instance} failed: {source}")]
    Sql {
        /// Instance name.
        instance: String,
        /// The client error; see [`SandboxError::server_code`].
        #[source]
        source: mysql_async::Error,
    },
    /// Replication is not running where it should.
    #[error("replication on {instance} is not running: {detail}")]
    Replication {
        /// The replica's name.
        instance: String,
        /// What `SHOW SLAVE STATUS` said.
        detail: String,
    },
    /// A replica-only operation was asked of a primary.
    #[error("{0} is a primary, not a replica")]
    NotAReplica(String),
    /// The instance was not started by this sandbox.
    #[error("instance {0} does not belong to this sandbox")]
    UnknownInstance(String),
}

impl SandboxError {
    /// The MySQL error code when a server answered with an error (e.g. 1290 for a write on a
    /// read-only replica), `None` otherwise.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            SandboxError::Sql {
                source: mysql_async::Error::Server(e),
                ..
            } => Some(e.code),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }
}
