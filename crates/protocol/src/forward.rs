//! Copies a backend's answer to the client as it arrives, packet for packet.

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::response::{Finish, ResponseScanner};
use crate::{PacketConn, ProtocolError};

/// Client write buffer size that triggers a flush while rows are still arriving.
const FLUSH_AT: usize = 64 * 1024;

/// Which side of a forward failed: a broken client leaves the backend connection unusable
/// mid-answer just as a broken backend does, but only the latter is worth reporting to the client.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("client: {0}")]
    Client(ProtocolError),
    /// `partial`: some of the answer already reached the client, so it cannot be told cleanly.
    #[error("backend: {error}")]
    Backend { error: ProtocolError, partial: bool },
}

/// Forwards the backend's whole answer to the command just sent, without decoding rows.
///
/// Packets keep the backend's sequence ids, which match the client's because both exchanges
/// started at 0. The client's write buffer is flushed at the end.
pub async fn forward_response<B, C>(
    backend: &mut PacketConn<B>,
    client: &mut PacketConn<C>,
    mut scanner: ResponseScanner,
) -> Result<Finish, ForwardError>
where
    B: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let mut partial = false;
    loop {
        let rbuf = backend.read_buffer();
        let (used, finish) = match scanner.scan(rbuf) {
            Ok(scanned) => scanned,
            Err(error) => {
                client.write_buffer().clear();
                return Err(ForwardError::Backend { error, partial });
            }
        };
        if used > 0 {
            client.write_buffer().extend_from_slice(&rbuf[..used]);
            rbuf.advance(used);
        }
        if let Some(finish) = finish {
            client.flush().await.map_err(ForwardError::Client)?;
            return Ok(finish);
        }
        if client.write_buffer().len() >= FLUSH_AT {
            partial = true;
            client.flush().await.map_err(ForwardError::Client)?;
        }
        if let Err(error) = backend.fill().await {
            // Unsent bytes of a broken answer must not reach the client.
            client.write_buffer().clear();
            return Err(ForwardError::Backend { error, partial });
        }
    }
}

/// Reads and discards the backend's answer (e.g. after the client went away), returning how it ended.
pub async fn drain_response<B>(
    backend: &mut PacketConn<B>,
    deprecate_eof: bool,
) -> Result<Finish, ProtocolError>
where
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut scanner = ResponseScanner::new(deprecate_eof);
    loop {
        let rbuf = backend.read_buffer();
        let (used, finish) = scanner.scan(rbuf)?;
        rbuf.advance(used);
        if let Some(finish) = finish {
            return Ok(finish);
        }
        backend.fill().await?;
    }
}
