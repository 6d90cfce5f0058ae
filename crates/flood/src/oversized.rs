//! Clients sending packets larger than the proxy takes: before login (a 16 MiB handshake
//! response declared) and after (a 16 MiB command declared but never sent; a command over
//! `max_allowed_packet` sent whole).

use std::net::SocketAddr;
use std::time::Duration;

use shardgate_protocol::PacketConn;
use shardgate_wire::packets::parse_err;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Credentials;

/// The header of a physical packet of the largest length (16 MiB - 1: more chunks follow).
const DECLARED_16_MIB: [u8; 3] = [0xFF, 0xFF, 0xFF];

/// How a client oversteps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// Declares a 16 MiB handshake response and sends 1 KiB of it.
    HandshakeDeclared16MiB,
    /// Logs in, declares a 16 MiB COM_QUERY and sends 64 KiB of it.
    CommandDeclared16MiB,
    /// Logs in and sends a whole COM_QUERY 1 KiB over `max_allowed_packet`.
    CommandOverMaxAllowedPacket,
}

impl Oversize {
    pub const ALL: [Oversize; 3] = [
        Oversize::HandshakeDeclared16MiB,
        Oversize::CommandDeclared16MiB,
        Oversize::CommandOverMaxAllowedPacket,
    ];
}

/// What the proxy did with one oversized client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub oversize: Oversize,
    /// The error code and SQLSTATE of the ERR packet it answered, if any.
    pub error: Option<(u16, String)>,
    /// Whether it closed the connection afterwards (within the limit).
    pub closed: bool,
    /// Why the client could not even overstep (a failed login), if so.
    pub failure: Option<String>,
}

/// Runs `count` oversized clients at once (the kinds in turn); each waits up to `limit`.
pub async fn send(
    proxy: SocketAddr,
    credentials: &Credentials,
    count: usize,
    first_source: usize,
    max_allowed_packet: usize,
    limit: Duration,
) -> Vec<Refusal> {
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let oversize = Oversize::ALL[n % Oversize::ALL.len()];
            let credentials = credentials.clone();
            tokio::spawn(async move {
                let source = first_source + n;
                match overstep(proxy, source, &credentials, oversize, max_allowed_packet).await {
                    Ok(conn) => refusal(conn, oversize, limit).await,
                    Err(failure) => Refusal {
                        oversize,
                        error: None,
                        closed: false,
                        failure: Some(failure),
                    },
                }
            })
        })
        .collect();
    let mut refusals = Vec::with_capacity(count);
    for task in tasks {
        refusals.push(task.await.expect("an oversized client's task"));
    }
    refusals
}

/// Connects (and logs in, for a command) and sends the oversized packet.
async fn overstep(
    proxy: SocketAddr,
    source: usize,
    credentials: &Credentials,
    oversize: Oversize,
    max_allowed_packet: usize,
) -> Result<PacketConn<TcpStream>, String> {
    let mut conn = match oversize {
        Oversize::HandshakeDeclared16MiB => crate::source::connect(proxy, source)
            .await
            .map(PacketConn::new)
            .map_err(|e| format!("connect: {e}"))?,
        _ => crate::idle::logged_in(proxy, source, credentials).await?,
    };
    let packet = match oversize {
        Oversize::HandshakeDeclared16MiB => [&DECLARED_16_MIB[..], &[1], &[0; 1024]].concat(),
        Oversize::CommandDeclared16MiB => {
            [&DECLARED_16_MIB[..], &[0, 0x03], &[b'x'; 64 * 1024]].concat()
        }
        Oversize::CommandOverMaxAllowedPacket => {
            let body = max_allowed_packet + 1024;
            let mut packet = Vec::with_capacity(4 + body);
            packet.extend_from_slice(&(body as u32).to_le_bytes()[..3]);
            packet.push(0);
            packet.extend_from_slice(b"\x03SELECT '");
            packet.resize(4 + body - 1, b'x');
            packet.push(b'\'');
            packet
        }
    };
    // The proxy may close before it read everything (a handshake refused on its header).
    let _ = conn.stream_mut().write_all(&packet).await;
    Ok(conn)
}

/// Reads what the proxy answers until it closes the connection or `limit` passes.
async fn refusal(mut conn: PacketConn<TcpStream>, oversize: Oversize, limit: Duration) -> Refusal {
    // Nothing is left in the connection's read buffer after a login's final OK.
    let stream = conn.stream_mut();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    Refusal {
        oversize,
        error: first_error(&answer),
        closed,
        failure: None,
    }
}

/// The code and SQLSTATE of the first ERR packet in `bytes` (whole packets, a greeting first
/// for a client that did not log in).
fn first_error(mut bytes: &[u8]) -> Option<(u16, String)> {
    while let Some((len, _)) = shardgate_protocol::conn::frame_header(bytes) {
        let payload = bytes.get(4..4 + len)?;
        if let Some(err) = parse_err(payload) {
            return Some((err.code, String::from_utf8_lossy(&err.state).into_owned()));
        }
        bytes = &bytes[4 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_error_after_a_greeting() {
        let greeting = [&[3, 0, 0, 0][..], &[10, b'1', 0]].concat();
        let err = shardgate_wire::packets::err(1153, b"08S01", "Got a packet bigger than");
        let mut bytes = greeting.clone();
        bytes.extend_from_slice(&[err.len() as u8, 0, 0, 1]);
        bytes.extend_from_slice(&err);
        assert_eq!(first_error(&bytes), Some((1153, "08S01".into())));
        assert_eq!(first_error(&greeting), None);
        assert_eq!(first_error(&bytes[..bytes.len() - 1]), None, "a cut packet");
    }
}
