//! Packet framing over a byte stream: 4-byte headers, sequence ids, 16 MiB continuation chunks.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{ProtocolError, MAX_CHUNK, MAX_PACKET_SIZE};

const READ_CHUNK: usize = 16 * 1024;

/// One side of a MySQL connection: buffered reads and writes of packets.
///
/// Logical packets are read whole (continuation chunks joined); for forwarding, the raw
/// read buffer is exposed so complete physical packets can be copied without decoding.
#[derive(Debug)]
pub struct PacketConn<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Sequence id of the next packet read or written.
    seq: u8,
}

/// Length and sequence id of the physical packet at the start of `buf`, if its header is there.
#[inline]
pub fn frame_header(buf: &[u8]) -> Option<(usize, u8)> {
    if buf.len() < 4 {
        return None;
    }
    let len = usize::from(buf[0]) | usize::from(buf[1]) << 8 | usize::from(buf[2]) << 16;
    Some((len, buf[3]))
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketConn<S> {
    pub fn new(stream: S) -> Self {
        PacketConn {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            seq: 0,
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    pub fn seq(&self) -> u8 {
        self.seq
    }

    /// Starts a new command exchange (sequence id 0).
    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    pub fn set_seq(&mut self, seq: u8) {
        self.seq = seq;
    }

    /// Reads more bytes into the read buffer; `Closed` on end of stream.
    pub async fn fill(&mut self) -> Result<usize, ProtocolError> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
            self.rbuf.reserve(READ_CHUNK);
        }
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(ProtocolError::Closed);
        }
        Ok(n)
    }

    /// Bytes read but not consumed yet.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    /// Bytes queued for writing.
    pub fn write_buffer(&mut self) -> &mut BytesMut {
        &mut self.wbuf
    }

    /// Reads one logical packet and returns its payload, checking sequence ids.
    pub async fn read_packet(&mut self) -> Result<BytesMut, ProtocolError> {
        let mut joined: Option<BytesMut> = None;
        loop {
            let (len, seq) = loop {
                if let Some((len, seq)) = frame_header(&self.rbuf) {
                    if self.rbuf.len() >= 4 + len {
                        break (len, seq);
                    }
                    self.rbuf.reserve(4 + len - self.rbuf.len());
                }
                self.fill().await?;
            };
            if seq != self.seq {
                return Err(ProtocolError::OutOfSync {
                    expected: self.seq,
                    got: seq,
                });
            }
            self.seq = self.seq.wrapping_add(1);
            self.rbuf.advance(4);
            let chunk = self.rbuf.split_to(len);
            let total = joined.as_ref().map_or(0, |j| j.len()) + len;
            if total > MAX_PACKET_SIZE {
                return Err(ProtocolError::TooLarge(total));
            }
            let done = len < MAX_CHUNK;
            match (&mut joined, done) {
                (None, true) => return Ok(chunk),
                (None, false) => joined = Some(chunk),
                (Some(j), _) => j.extend_from_slice(&chunk),
            }
            if done {
                return Ok(joined.take().unwrap_or_default());
            }
        }
    }

    /// Queues one logical packet, split into chunks, with the next sequence ids.
    pub fn queue_packet(&mut self, mut payload: &[u8]) {
        self.seq =
            mysql_common::proto::codec::packet_to_chunks(self.seq, &mut payload, &mut self.wbuf);
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Queues one packet and flushes.
    pub async fn write_packet(&mut self, payload: &[u8]) -> Result<(), ProtocolError> {
        self.queue_packet(payload);
        self.flush().await
    }

    /// Shuts the write side down (best effort).
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_packets_of_every_boundary_size() {
        for size in [
            0usize,
            1,
            250,
            MAX_CHUNK - 1,
            MAX_CHUNK,
            MAX_CHUNK + 1,
            2 * MAX_CHUNK,
        ] {
            let (a, b) = tokio::io::duplex(1 << 20);
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let sent = payload.clone();
            let writer = tokio::spawn(async move {
                let mut w = PacketConn::new(a);
                w.write_packet(&sent).await.unwrap();
                w.write_packet(b"next").await.unwrap();
                w
            });
            let mut r = PacketConn::new(b);
            let got = r.read_packet().await.unwrap();
            assert_eq!(got.len(), payload.len(), "size {size}");
            assert!(got[..] == payload[..], "size {size}");
            let next = r.read_packet().await.unwrap();
            assert_eq!(&next[..], b"next", "packet after one of size {size}");
            writer.await.unwrap();
        }
    }

    #[tokio::test]
    async fn rejects_out_of_order_sequence_ids() {
        let (a, b) = tokio::io::duplex(1024);
        let mut w = PacketConn::new(a);
        w.set_seq(5);
        w.write_packet(b"x").await.unwrap();
        let mut r = PacketConn::new(b);
        assert!(matches!(
            r.read_packet().await,
            Err(ProtocolError::OutOfSync {
                expected: 0,
                got: 5
            })
        ));
    }

    #[tokio::test]
    async fn closed_stream_mid_packet_is_an_error_not_a_hang() {
        let (a, b) = tokio::io::duplex(1024);
        let mut raw = a;
        raw.write_all(&[10, 0, 0, 0, 1, 2]).await.unwrap();
        drop(raw);
        let mut r = PacketConn::new(b);
        assert!(matches!(r.read_packet().await, Err(ProtocolError::Closed)));
    }
}
