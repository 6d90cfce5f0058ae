//! What reading the wire format finds wrong, and an error a peer sent.

/// A text-protocol row whose cell `column` cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed row at column {column}: {reason}")]
pub struct MalformedCell {
    pub reason: &'static str,
    pub column: usize,
}

/// An error packet a peer sent: its code, SQLSTATE and message, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerErr {
    pub code: u16,
    pub state: [u8; 5],
    /// The message as text (bytes that are not UTF-8 replaced).
    pub message: String,
    /// The message's bytes when they are not UTF-8 (a server words messages in the client's
    /// character set: `sjis`, `cp1251`): what a client relayed the error must get.
    pub raw_message: Option<Box<[u8]>>,
}

impl std::fmt::Display for ServerErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code,
            String::from_utf8_lossy(&self.state),
            self.message
        )
    }
}
