//! Errors of the protocol layer.

use std::io;

pub use shardgate_wire::ServerErr;

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("i/o error: {0}")]
    Io(io::Error),
    #[error("connection closed by peer")]
    Closed,
    #[error("malformed packet: {0}")]
    Malformed(String),
    /// A peer declared a packet larger than this connection accepts (`max_allowed_packet`
    /// toward clients); nothing of it was buffered.
    #[error("packet of {size} bytes exceeds the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("packets out of order: expected sequence id {expected}, got {got}")]
    OutOfSync { expected: u8, got: u8 },
    #[error("{0}")]
    Server(ServerErr),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The statement's time bound passed while the connection waited for its peer (see
    /// [`crate::deadline`]).
    #[error("the statement's time bound passed")]
    Deadline,
    /// The peer did not take what was written to it within the connection's write timeout
    /// (a client that stopped reading its result).
    #[error("client did not read its result within {waited_ms} ms (client_write_timeout_ms)")]
    NotReading { waited_ms: u128 },
}

impl From<io::Error> for ProtocolError {
    fn from(e: io::Error) -> Self {
        match crate::deadline::is_deadline(&e) {
            true => ProtocolError::Deadline,
            false => ProtocolError::Io(e),
        }
    }
}

impl ProtocolError {
    pub fn malformed(what: impl Into<String>) -> Self {
        ProtocolError::Malformed(what.into())
    }
}
