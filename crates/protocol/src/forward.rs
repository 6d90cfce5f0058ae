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

/// How a forwarded answer joins the client's exchange for the command it answers (the client
/// connection's [`PacketConn::relay`]). The default: it is the command's whole answer, sent
/// with the backend's sequence ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relay {
    /// The answer is one of several to one command (a statement of a multi-statement text):
    /// its packets take the client connection's next sequence ids, after the earlier answers'.
    pub renumber: bool,
    /// More answers follow it: its final OK / EOF carries `SERVER_MORE_RESULTS_EXISTS`.
    pub more_results: bool,
}

/// Forwards the backend's whole answer to the command just sent, without decoding rows.
///
/// Packets keep the backend's sequence ids, which match the client's because both exchanges
/// started at 0, unless the client connection's [`Relay`] says the answer follows others.
/// The client's write buffer is flushed at the end.
///
/// `scanner` keeps where the answer stands: after a backend error it tells how to read the rest
/// of it (see [`drain_with`]).
pub async fn forward_response<B, C>(
    backend: &mut PacketConn<B>,
    client: &mut PacketConn<C>,
    scanner: &mut ResponseScanner,
) -> Result<Finish, ForwardError>
where
    B: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let mut partial = false;
    let relay = client.relay();
    // Committed to the client connection only once the answer went through whole.
    let mut next_seq = client.seq();
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
            if relay != Relay::default() {
                let more = relay.more_results && matches!(finish, Some(Finish::Ok { .. }));
                relay_packets(&mut rbuf[..used], relay.renumber, &mut next_seq, more);
            }
            match (client.insert_id(), &finish) {
                (Some(id), Some(Finish::Ok { .. })) => {
                    crate::insert_id::copy_with_insert_id(client.write_buffer(), &rbuf[..used], id)
                }
                _ => client.write_buffer().extend_from_slice(&rbuf[..used]),
            }
            rbuf.advance(used);
        }
        if let Some(mut finish) = finish {
            if let (Some(id), Finish::Ok { last_insert_id, .. }) = (client.insert_id(), &mut finish)
            {
                *last_insert_id = id;
            }
            if relay.renumber {
                client.set_seq(next_seq);
            }
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

/// Rewrites whole physical packets in `bytes` as [`Relay`] asks: with `renumber`, each takes
/// sequence id `next_seq` (counted on); with `more_results`, the last one (the answer's final
/// OK / EOF) gets `SERVER_MORE_RESULTS_EXISTS`.
fn relay_packets(bytes: &mut [u8], renumber: bool, next_seq: &mut u8, more_results: bool) {
    let mut pos = 0;
    let mut last = None;
    while let Some((len, _)) = crate::conn::frame_header(&bytes[pos..]) {
        if renumber {
            bytes[pos + 3] = *next_seq;
            *next_seq = next_seq.wrapping_add(1);
        }
        last = Some(pos);
        pos += 4 + len;
    }
    if let (true, Some(at)) = (more_results, last) {
        crate::response::mark_more_results(&mut bytes[at + 4..]);
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
    drain_with(backend, &mut ResponseScanner::new(deprecate_eof)).await
}

/// Reads and discards the rest of an answer `scanner` read part of, returning how it ended.
pub async fn drain_with<B>(
    backend: &mut PacketConn<B>,
    scanner: &mut ResponseScanner,
) -> Result<Finish, ProtocolError>
where
    B: AsyncRead + AsyncWrite + Unpin,
{
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CapabilityFlags, StatusFlags};
    use shardgate_wire::column_definition::ColumnDef;
    use shardgate_wire::packets::{column_count, eof, ok, result_terminator, OkInfo};
    use shardgate_wire::text_row::text_row;
    use tokio::io::AsyncReadExt;

    /// Forwards `packets` (a backend's answer, sequence ids from 1) to a client connection
    /// whose next sequence id is `client_seq`, under `relay`; returns the bytes the client got
    /// as (sequence id, payload) and the client connection's next sequence id.
    async fn relayed(
        packets: &[Vec<u8>],
        deprecate_eof: bool,
        client_seq: u8,
        relay: Relay,
    ) -> (Vec<(u8, Vec<u8>)>, u8) {
        let (backend_side, mut server) = tokio::io::duplex(1 << 16);
        let (client_side, mut reader) = tokio::io::duplex(1 << 16);
        let mut sent = bytes::BytesMut::new();
        let mut seq = 1u8;
        for p in packets {
            seq = mysql_common::proto::codec::packet_to_chunks(seq, &mut &p[..], &mut sent);
        }
        tokio::io::AsyncWriteExt::write_all(&mut server, &sent)
            .await
            .unwrap();
        let mut backend = PacketConn::new(backend_side);
        let mut client = PacketConn::new(client_side);
        client.set_seq(client_seq);
        client.set_relay(relay);
        let mut scanner = ResponseScanner::new(deprecate_eof);
        forward_response(&mut backend, &mut client, &mut scanner)
            .await
            .unwrap();
        let next = client.seq();
        drop(client);
        let mut raw = Vec::new();
        reader.read_to_end(&mut raw).await.unwrap();
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((len, seq)) = crate::conn::frame_header(&raw[pos..]) {
            out.push((seq, raw[pos + 4..pos + 4 + len].to_vec()));
            pos += 4 + len;
        }
        (out, next)
    }

    fn status_of_eof(payload: &[u8]) -> StatusFlags {
        StatusFlags::from_bits_retain(u16::from_le_bytes([payload[3], payload[4]]))
    }

    #[tokio::test]
    async fn a_plain_answer_keeps_the_backends_sequence_ids_and_flags() {
        let status = StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        let answer = vec![
            column_count(1),
            ColumnDef::varchar("c").encode(),
            eof(status, 0),
            text_row([Some(&b"x"[..])]),
            eof(status, 0),
        ];
        let (got, _) = relayed(&answer, false, 1, Relay::default()).await;
        let seqs: Vec<u8> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(status_of_eof(&got[4].1), status);
    }

    #[tokio::test]
    async fn a_relayed_answer_follows_the_client_sequence_and_says_more_results_follow() {
        let status = StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        let answer = vec![
            column_count(1),
            ColumnDef::varchar("c").encode(),
            eof(status, 0),
            text_row([Some(&b"x"[..])]),
            eof(status, 0),
        ];
        let relay = Relay {
            renumber: true,
            more_results: true,
        };
        let (got, next) = relayed(&answer, false, 7, relay).await;
        let seqs: Vec<u8> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [7, 8, 9, 10, 11]);
        assert_eq!(next, 12);
        assert_eq!(
            status_of_eof(&got[4].1),
            status | StatusFlags::SERVER_MORE_RESULTS_EXISTS
        );
        // Only the final packet changes: the EOF after the column definitions is as sent.
        assert_eq!(status_of_eof(&got[2].1), status);
    }

    #[tokio::test]
    async fn a_relayed_ok_gets_the_flag_under_either_eof_mode() {
        let info = OkInfo {
            affected_rows: 300,
            last_insert_id: 70_000,
            status: StatusFlags::SERVER_STATUS_IN_TRANS,
            warnings: 2,
            ..OkInfo::default()
        };
        let relay = Relay {
            renumber: true,
            more_results: true,
        };
        let (got, next) = relayed(&[ok(&info)], true, 3, relay).await;
        assert_eq!((got[0].0, next), (3, 4));
        let parsed = shardgate_wire::packets::parse_ok(&got[0].1).unwrap();
        assert_eq!(
            parsed.status,
            info.status | StatusFlags::SERVER_MORE_RESULTS_EXISTS
        );
        assert_eq!(
            (parsed.affected_rows, parsed.last_insert_id, parsed.warnings),
            (300, 70_000, 2)
        );
        let caps = CapabilityFlags::CLIENT_DEPRECATE_EOF;
        let answer = vec![
            column_count(1),
            ColumnDef::varchar("c").encode(),
            text_row([Some(&b"x"[..])]),
            result_terminator(caps, StatusFlags::empty(), 0),
        ];
        let (got, _) = relayed(&answer, true, 1, relay).await;
        let end = shardgate_wire::packets::parse_ok(&got[3].1).unwrap();
        assert_eq!(end.status, StatusFlags::SERVER_MORE_RESULTS_EXISTS);
        // The last answer of a text: renumbered, no flag.
        let last = Relay {
            renumber: true,
            more_results: false,
        };
        let (got, _) = relayed(&[ok(&info)], true, 9, last).await;
        assert_eq!(got[0].0, 9);
        assert_eq!(
            shardgate_wire::packets::parse_ok(&got[0].1).unwrap().status,
            info.status
        );
    }

    #[tokio::test]
    async fn an_error_is_renumbered_and_left_as_it_is() {
        let error = shardgate_wire::packets::err(1146, b"42S02", "Table 'app.t' doesn't exist");
        let relay = Relay {
            renumber: true,
            more_results: true,
        };
        let (got, _) = relayed(std::slice::from_ref(&error), true, 4, relay).await;
        assert_eq!(got, [(4, error)]);
    }
}
