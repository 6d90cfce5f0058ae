//! `LOAD DATA LOCAL INFILE` through the proxy: the server's request for a file goes to the
//! client, and the client's file streams to the server as it arrives, packet by packet.
//!
//! The request is a packet `0xFB` + file name in place of a result; the client answers with
//! the file's bytes in packets of its choosing and an empty packet at the end, then the server
//! answers the statement (OK or ERR). Sequence ids run on across the exchange, and since the
//! proxy's two exchanges started together, bytes are copied with their headers unchanged.

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::conn::frame_header;
use crate::forward::ForwardError;
use crate::{PacketConn, ProtocolError, MAX_CHUNK};

/// The error MariaDB answers a client that did not offer CLIENT_LOCAL_FILES (or refuses
/// local files) when a statement asks for one: ER_LOAD_INFILE_CAPABILITY_DISABLED.
pub const CAPABILITY_DISABLED: (u16, &[u8; 5], &str) = (
    4166,
    b"HY000",
    "The used command is not allowed because the MariaDB server or client has disabled the local infile capability",
);

/// The LOCAL INFILE request at the start of `server`'s read buffer (left there by
/// [`crate::response::ResponseScanner`]): its whole frame.
fn take_request<S>(server: &mut PacketConn<S>) -> Result<bytes::BytesMut, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let rbuf = server.read_buffer();
    match frame_header(rbuf) {
        Some((len, _)) if rbuf.len() >= 4 + len && rbuf.get(4) == Some(&0xFB) => {
            Ok(rbuf.split_to(4 + len))
        }
        _ => Err(ProtocolError::malformed("expected a LOCAL INFILE request")),
    }
}

/// Passes the server's request for a file on to `client`, then copies the client's file
/// packets to `server` as they arrive, up to and including the empty packet that ends the
/// file. No more than a read's worth of the file is held at a time; a logical packet larger
/// than `max_packet` (the client's `max_allowed_packet`) stops the relay. Afterwards the
/// server's answer to the statement follows on `server`.
pub async fn relay_file<S, C>(
    server: &mut PacketConn<S>,
    client: &mut PacketConn<C>,
    max_packet: usize,
) -> Result<(), ForwardError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let backend = |error| ForwardError::Backend {
        error,
        partial: true,
    };
    let request = take_request(server).map_err(|error| ForwardError::Backend {
        error,
        partial: false,
    })?;
    client.write_buffer().extend_from_slice(&request);
    client.flush().await.map_err(ForwardError::Client)?;
    let mut copy = FileCopy::default();
    loop {
        let done = copy
            .advance(client.read_buffer(), server.write_buffer(), max_packet)
            .map_err(ForwardError::Client)?;
        // What arrived goes on before waiting for more: the file is never held whole.
        server.flush().await.map_err(backend)?;
        if done {
            return Ok(());
        }
        client.fill().await.map_err(ForwardError::Client)?;
    }
}

/// Answers the server's request for a file with an empty file (a client that did not offer
/// CLIENT_LOCAL_FILES); the server's answer to the statement follows on `server`. Returns
/// the request's sequence id: the client's next packet, the error it gets instead, takes it.
pub async fn refuse_file<S>(server: &mut PacketConn<S>) -> Result<u8, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = take_request(server)?;
    let seq = request[3];
    server.set_seq(seq.wrapping_add(1));
    server.write_packet(&[]).await?;
    Ok(seq)
}

/// Where the copy of a file's packets stands between two reads.
#[derive(Debug, Default)]
struct FileCopy {
    /// Payload bytes of the current physical packet still to copy.
    left: usize,
    /// The packet being copied is a full chunk: the next one continues its logical packet.
    continued: bool,
    /// Size of the logical packet so far.
    logical: usize,
}

impl FileCopy {
    /// Moves what `from` holds of the file to `to`, stopping after the empty packet that ends
    /// it; `true` once that packet is copied.
    fn advance(
        &mut self,
        from: &mut bytes::BytesMut,
        to: &mut bytes::BytesMut,
        max_packet: usize,
    ) -> Result<bool, ProtocolError> {
        loop {
            if self.left > 0 {
                let n = self.left.min(from.len());
                if n == 0 {
                    return Ok(false);
                }
                to.extend_from_slice(&from[..n]);
                from.advance(n);
                self.left -= n;
                continue;
            }
            let Some((len, _)) = frame_header(from) else {
                return Ok(false);
            };
            let ends_file = len == 0 && !self.continued;
            self.logical = if self.continued {
                self.logical + len
            } else {
                len
            };
            if self.logical > max_packet {
                return Err(ProtocolError::TooLarge {
                    size: self.logical,
                    max: max_packet,
                });
            }
            self.continued = len == MAX_CHUNK;
            to.extend_from_slice(&from[..4]);
            from.advance(4);
            self.left = len;
            if ends_file {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(seq);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn copies_packets_up_to_the_empty_one_in_any_pieces() {
        let mut file = frame(2, b"1\tone\n");
        file.extend(frame(3, b"2\ttwo\n"));
        file.extend(frame(4, b""));
        let after = b"next command";
        let mut wire = file.clone();
        wire.extend_from_slice(after);
        for piece in [1, 3, 5, 100] {
            let mut copy = FileCopy::default();
            let (mut from, mut to) = (BytesMut::new(), BytesMut::new());
            let mut done = false;
            for chunk in wire.chunks(piece) {
                from.extend_from_slice(chunk);
                done = copy.advance(&mut from, &mut to, 1024).unwrap();
                if done {
                    break;
                }
            }
            assert!(done, "piece {piece}");
            assert_eq!(&to[..], &file[..], "piece {piece}");
            assert!(after.starts_with(&from), "piece {piece}");
        }
    }

    #[test]
    fn an_empty_chunk_after_a_full_one_continues_a_packet() {
        let mut copy = FileCopy::default();
        let mut from = BytesMut::new();
        from.extend_from_slice(&frame(2, &vec![b'x'; MAX_CHUNK]));
        from.extend_from_slice(&frame(3, b""));
        let mut to = BytesMut::new();
        assert!(!copy.advance(&mut from, &mut to, 32 << 20).unwrap());
        from.extend_from_slice(&frame(4, b""));
        assert!(copy.advance(&mut from, &mut to, 32 << 20).unwrap());
        assert_eq!(to.len(), 3 * 4 + MAX_CHUNK);
    }

    #[test]
    fn a_packet_over_max_allowed_packet_stops_the_copy() {
        let mut copy = FileCopy::default();
        let mut from = BytesMut::from(&frame(2, &[b'y'; 100])[..]);
        let mut to = BytesMut::new();
        assert!(matches!(
            copy.advance(&mut from, &mut to, 99),
            Err(ProtocolError::TooLarge { size: 100, max: 99 })
        ));
    }
}
