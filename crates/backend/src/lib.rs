//! Backend side: connections to MariaDB speaking shardgate's own protocol codec, the
//! per-endpoint pools that hand them to sessions, the health and lag monitor, and replica choice.

mod conn;
pub mod health;
mod pool;
mod reap;
pub mod replica_choice;
mod statements;

pub use conn::{BackendConn, Credentials, Flavor, Lease, LocalFiles, Prepared, QueryHead};
pub use health::{
    EndpointHealth, Gtid, GtidParseError, GtidPosition, HealthHandle, HealthMonitor,
    HealthSettings, MonitorAccount, MonitorTarget, Role,
};
pub use pool::{Pool, PoolStats, PooledConn};
pub use replica_choice::{
    choose, Balance, Choice, Consistency, NoReplica, PrimaryReason, ReadRequest, ReplicaFallback,
};
pub use statements::StatementCache;

use shardgate_protocol::tls::{BackendTls, Verify};
use shardgate_protocol::{ProtocolError, ServerErr};

/// `[backend] tls` made ready: the connector (`None`: plain connections), or why it could not
/// be built, which every connection then fails with.
pub type TlsSetup = Result<Option<BackendTls>, String>;

/// Builds the connector `[backend] tls` asks for, reading its CA file.
pub fn tls_setup(tls: &shardgate_config::BackendTls) -> TlsSetup {
    use shardgate_config::BackendTls as Mode;
    let (verify, required) = match tls {
        Mode::Disabled => return Ok(None),
        Mode::Preferred => (Verify::Nothing, false),
        Mode::Required => (Verify::Nothing, true),
        Mode::VerifyCa(_) => (Verify::Ca, true),
        Mode::VerifyIdentity(_) => (Verify::Identity, true),
    };
    BackendTls::new(verify, tls.ca_file(), required).map(Some)
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: ProtocolError,
    },
    #[error("cannot connect to {endpoint}: no answer within {timeout_ms} ms")]
    ConnectTimeout { endpoint: String, timeout_ms: u128 },
    #[error("connection pool for {endpoint} exhausted: no connection free within {waited_ms} ms (max_size {max_size})")]
    PoolExhausted {
        endpoint: String,
        waited_ms: u128,
        max_size: usize,
    },
    #[error("backend {endpoint}: {source}")]
    Protocol {
        endpoint: String,
        #[source]
        source: ProtocolError,
    },
}

impl BackendError {
    /// The failure as a protocol error of the answer being forwarded: a protocol failure
    /// keeps its kind (a statement cut off at its time bound stays `Deadline`), anything else
    /// is a malformed answer naming it.
    pub fn into_protocol(self) -> ProtocolError {
        match self {
            BackendError::Protocol { source, .. } => source,
            other => ProtocolError::malformed(other.to_string()),
        }
    }

    /// The backend's own error, when the failure is an error packet it sent.
    pub fn server_error(&self) -> Option<&ServerErr> {
        match self {
            BackendError::Connect { source, .. } | BackendError::Protocol { source, .. } => {
                match source {
                    ProtocolError::Server(e) => Some(e),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}
