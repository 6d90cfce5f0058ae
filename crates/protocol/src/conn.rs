//! Packet framing over a byte stream: 4-byte headers, sequence ids, 16 MiB continuation chunks.

use std::future::Future;
use std::task::Poll;

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
    /// Largest logical packet `read_packet` accepts.
    max_packet: usize,
    /// How answers forwarded into this connection join the current command's exchange.
    relay: crate::forward::Relay,
    /// How long a flush may wait for the peer to take the bytes (`None`: as long as it takes).
    write_timeout: Option<std::time::Duration>,
    /// The last insert id forwarded OK packets report instead of the backend's (see
    /// [`crate::insert_id`]).
    insert_id: Option<u64>,
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
            max_packet: MAX_PACKET_SIZE,
            relay: crate::forward::Relay::default(),
            write_timeout: None,
            insert_id: None,
        }
    }

    /// Bounds how long a flush waits for the peer to read: past it, the flush fails with
    /// [`ProtocolError::NotReading`] (what was written is lost; close the connection).
    pub fn set_write_timeout(&mut self, limit: Option<std::time::Duration>) {
        self.write_timeout = limit;
    }

    /// The largest logical packet `read_packet` accepts (default [`MAX_PACKET_SIZE`]).
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Sets the largest logical packet `read_packet` accepts: a header declaring more is
    /// refused with [`ProtocolError::TooLarge`] before any of its bytes are read.
    pub fn set_max_packet(&mut self, max: usize) {
        self.max_packet = max;
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

    /// How answers forwarded into this connection join the current command's exchange.
    pub fn relay(&self) -> crate::forward::Relay {
        self.relay
    }

    pub fn set_relay(&mut self, relay: crate::forward::Relay) {
        self.relay = relay;
    }

    /// The last insert id forwarded OK packets report in place of the backend's, if any.
    pub fn insert_id(&self) -> Option<u64> {
        self.insert_id
    }

    /// Makes forwarded OK packets report `id` as their last insert id (until set to `None`).
    pub fn set_insert_id(&mut self, id: Option<u64>) {
        self.insert_id = id;
    }

    /// Reads more bytes into the read buffer; `Closed` on end of stream.
    pub async fn fill(&mut self) -> Result<usize, ProtocolError> {
        self.fill_toward(0).await
    }

    /// Reads more bytes, on the way to `target` buffered bytes. The buffer grows with what
    /// arrives (at most doubling what is already there), never by a length a peer declared:
    /// a header announcing 16 MiB reserves nothing until the bytes come.
    async fn fill_toward(&mut self, target: usize) -> Result<usize, ProtocolError> {
        let have = self.rbuf.len();
        if self.rbuf.capacity() - have < READ_CHUNK / 2 {
            let grow = target.saturating_sub(have).min(have).max(READ_CHUNK);
            self.rbuf.reserve(grow);
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
            let before = joined.as_ref().map_or(0, |j| j.len());
            let (len, seq) = loop {
                if let Some((len, seq)) = frame_header(&self.rbuf) {
                    if before + len > self.max_packet {
                        // Refused on its header: the answer (MariaDB's 1153) follows it.
                        self.seq = seq.wrapping_add(1);
                        return Err(ProtocolError::TooLarge {
                            size: before + len,
                            max: self.max_packet,
                        });
                    }
                    if self.rbuf.len() >= 4 + len {
                        break (len, seq);
                    }
                    self.fill_toward(4 + len).await?;
                } else {
                    self.fill().await?;
                }
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

    /// Answers a packet `read_packet` refused as too large with `answer` (an ERR packet)
    /// after reading and dropping the rest of it (holding none of it, for at most `within`),
    /// so that a client still sending it gets to read the answer, with the sequence id that
    /// follows its last chunk. The caller closes the connection afterwards.
    pub async fn refuse_packet(&mut self, answer: &[u8], within: std::time::Duration) {
        let _ = tokio::time::timeout(within, self.discard_packet()).await;
        let _ = self.write_packet(answer).await;
    }

    /// Reads and drops the packet whose header starts the read buffer, continuation chunks too.
    async fn discard_packet(&mut self) -> Result<(), ProtocolError> {
        loop {
            let len = loop {
                if let Some((len, seq)) = frame_header(&self.rbuf) {
                    self.seq = seq.wrapping_add(1);
                    break len;
                }
                self.fill().await?;
            };
            self.rbuf.advance(4);
            let mut left = len;
            while left > 0 {
                if self.rbuf.is_empty() {
                    self.fill().await?;
                }
                let n = left.min(self.rbuf.len());
                self.rbuf.advance(n);
                left -= n;
            }
            if len < MAX_CHUNK {
                return Ok(());
            }
        }
    }

    /// Queues the packets that open a result set the proxy writes itself: its column count,
    /// `definitions`, and the EOF (with `status`) a client without CLIENT_DEPRECATE_EOF
    /// (`capabilities`) reads after them.
    pub fn queue_result_head<D: AsRef<[u8]>>(
        &mut self,
        definitions: impl ExactSizeIterator<Item = D>,
        capabilities: crate::CapabilityFlags,
        status: crate::StatusFlags,
    ) {
        self.queue_packet(&shardgate_wire::packets::column_count(
            definitions.len() as u64
        ));
        for definition in definitions {
            self.queue_packet(definition.as_ref());
        }
        if !capabilities.contains(crate::CapabilityFlags::CLIENT_DEPRECATE_EOF) {
            self.queue_packet(&shardgate_wire::packets::eof(status, 0));
        }
    }

    /// Queues one logical packet, split into chunks, with the next sequence ids.
    pub fn queue_packet(&mut self, mut payload: &[u8]) {
        self.seq =
            mysql_common::proto::codec::packet_to_chunks(self.seq, &mut payload, &mut self.wbuf);
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), ProtocolError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.wbuf);
        match self.write_timeout {
            None => write.await?,
            Some(limit) => {
                tokio::pin!(write);
                // The timer starts only once the peer makes the write wait (a full socket
                // buffer): an answer the socket takes at once costs no timer.
                let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
                match first {
                    Poll::Ready(written) => written?,
                    Poll::Pending => match tokio::time::timeout(limit, write).await {
                        Ok(written) => written?,
                        Err(_) => {
                            return Err(ProtocolError::NotReading {
                                waited_ms: limit.as_millis(),
                            })
                        }
                    },
                }
            }
        }
        self.wbuf.clear();
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
    async fn a_peer_that_stops_reading_fails_the_flush_after_the_write_timeout() {
        let (_reader, b) = tokio::io::duplex(1024);
        let mut w = PacketConn::new(b);
        w.set_write_timeout(Some(std::time::Duration::from_millis(30)));
        // Fits the pipe: no wait, no error.
        w.write_packet(&[1u8; 100]).await.unwrap();
        assert!(matches!(
            w.write_packet(&[2u8; 4096]).await,
            Err(ProtocolError::NotReading { waited_ms: 30 })
        ));
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

    #[tokio::test]
    async fn a_declared_length_is_not_allocated_before_its_bytes_arrive() {
        let (mut raw, b) = tokio::io::duplex(1 << 20);
        // 16 MiB - 1 declared, 100 bytes sent, the writer stays open.
        raw.write_all(&[0xFF, 0xFF, 0xFF, 0]).await.unwrap();
        raw.write_all(&[7u8; 100]).await.unwrap();
        let mut r = PacketConn::new(b);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(100), r.read_packet()).await;
        assert!(waited.is_err(), "the packet is not complete");
        let capacity = r.read_buffer().capacity();
        assert!(
            capacity <= 4 * READ_CHUNK,
            "{capacity} bytes reserved for 104 received"
        );
        // As bytes come the buffer grows with them, and the packet arrives whole.
        let sent = tokio::spawn(async move {
            raw.write_all(&vec![7u8; MAX_CHUNK - 100]).await.unwrap();
            raw.write_all(&[0, 0, 0, 1]).await.unwrap();
            raw
        });
        let got = r.read_packet().await.unwrap();
        assert_eq!(got.len(), MAX_CHUNK);
        drop(sent.await.unwrap());
    }

    #[tokio::test]
    async fn a_packet_over_the_limit_is_refused_on_its_header() {
        let (mut raw, b) = tokio::io::duplex(1024);
        raw.write_all(&[0xD0, 0x07, 0, 0, 1, 2, 3]).await.unwrap(); // 2000 bytes declared
        let mut r = PacketConn::new(b);
        r.set_max_packet(1024);
        assert!(matches!(
            r.read_packet().await,
            Err(ProtocolError::TooLarge {
                size: 2000,
                max: 1024
            })
        ));
        assert_eq!(
            r.seq(),
            1,
            "an answer follows the refused packet's sequence id"
        );
        // At the limit exactly is fine.
        let (a, b) = tokio::io::duplex(4096);
        let mut w = PacketConn::new(a);
        w.write_packet(&[5u8; 1024]).await.unwrap();
        let mut r = PacketConn::new(b);
        r.set_max_packet(1024);
        assert_eq!(r.read_packet().await.unwrap().len(), 1024);
    }

    #[tokio::test]
    async fn continuation_chunks_count_toward_the_limit() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            let mut w = PacketConn::new(a);
            let _ = w.write_packet(&vec![1u8; MAX_CHUNK + 10]).await;
        });
        let mut r = PacketConn::new(b);
        r.set_max_packet(MAX_CHUNK + 5);
        assert!(matches!(
            r.read_packet().await,
            Err(ProtocolError::TooLarge { size, .. }) if size == MAX_CHUNK + 10
        ));
        drop(r);
        let _ = writer.await;
    }

    #[tokio::test]
    async fn a_refused_packet_is_answered_and_drained_without_being_held() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            let mut w = PacketConn::new(a);
            // 20 MiB in two chunks, then a small packet, then the answer is read.
            w.write_packet(&vec![3u8; 20 << 20]).await.unwrap();
            let answer = w.read_packet().await.unwrap();
            w.reset_seq();
            w.write_packet(b"after").await.unwrap();
            (w, answer)
        });
        let mut r = PacketConn::new(b);
        r.set_max_packet(1 << 20);
        assert!(matches!(
            r.read_packet().await,
            Err(ProtocolError::TooLarge { .. })
        ));
        r.refuse_packet(b"\xffno", std::time::Duration::from_secs(30))
            .await;
        assert!(r.read_buffer().capacity() < 1 << 20);
        r.reset_seq();
        assert_eq!(&r.read_packet().await.unwrap()[..], b"after");
        let (_w, answer) = writer.await.unwrap();
        assert_eq!(&answer[..], b"\xffno");
    }
}
