//! Finds where a server's answer to a command ends, looking only at packet headers and first bytes.
//!
//! Used to forward a backend's result to the client byte for byte: the scanner classifies each
//! physical packet (OK, ERR, column count, column definition, row, EOF) without decoding values.

use crate::{ProtocolError, ServerErr, StatusFlags, MAX_CHUNK};
use shardgate_wire::lenenc::read_lenenc_int;
use shardgate_wire::packets::{parse_err, parse_ok};

/// How an answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The last OK / EOF; `status` carries autocommit / in-transaction flags.
    Ok {
        status: StatusFlags,
        affected_rows: u64,
        last_insert_id: u64,
        warnings: u16,
        /// The rows of the result set it ends, when a [`ResponseScanner`] counted them; `None`
        /// for an OK that ends no result set (or an end nobody counted).
        rows: Option<u64>,
    },
    /// The server answered with an error.
    Err(ServerErr),
    /// LOAD DATA LOCAL: the server asks the client for a file. The request packet is left
    /// unread at the start of the connection's read buffer (see [`crate::local_infile`]).
    LocalInfile,
}

/// How a result set ends, if `payload` (a whole logical packet read in the rows state) is its
/// terminator: OK / EOF, or an error.
pub fn row_terminator(
    payload: &[u8],
    deprecate_eof: bool,
) -> Result<Option<Finish>, ProtocolError> {
    match payload.first() {
        Some(0xFF) => parse_err(payload)
            .map(|e| Some(Finish::Err(e)))
            .ok_or_else(|| ProtocolError::malformed("bad ERR packet")),
        Some(0xFE) if deprecate_eof && payload.len() < MAX_CHUNK => {
            let ok = parse_ok(payload).ok_or_else(|| ProtocolError::malformed("bad OK packet"))?;
            Ok(Some(Finish::Ok {
                status: ok.status,
                affected_rows: ok.affected_rows,
                last_insert_id: ok.last_insert_id,
                warnings: ok.warnings,
                rows: None,
            }))
        }
        Some(0xFE) if !deprecate_eof && payload.len() < 9 => {
            let b = payload
                .get(1..5)
                .ok_or_else(|| ProtocolError::malformed("bad EOF packet"))?;
            Ok(Some(Finish::Ok {
                status: StatusFlags::from_bits_retain(u16::from_le_bytes([b[2], b[3]])),
                affected_rows: 0,
                last_insert_id: 0,
                warnings: u16::from_le_bytes([b[0], b[1]]),
                rows: None,
            }))
        }
        _ => Ok(None),
    }
}

/// Sets `SERVER_MORE_RESULTS_EXISTS` in the status flags of `payload`, an answer's final OK
/// (header 0x00, or 0xFE under CLIENT_DEPRECATE_EOF) or EOF packet: another answer to the same
/// command follows it. Anything else is left as it is.
pub fn mark_more_results(payload: &mut [u8]) {
    let more = StatusFlags::SERVER_MORE_RESULTS_EXISTS.bits().to_le_bytes();
    let at = match payload.first() {
        // EOF: header, warnings, status.
        Some(0xFE) if payload.len() == 5 => 3,
        Some(0x00 | 0xFE) => {
            let Some((_, a)) = payload.get(1..).and_then(read_lenenc_int) else {
                return;
            };
            let Some((_, b)) = payload.get(1 + a..).and_then(read_lenenc_int) else {
                return;
            };
            1 + a + b
        }
        _ => return,
    };
    if let Some(status) = payload.get_mut(at..at + 2) {
        status[0] |= more[0];
        status[1] |= more[1];
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the first packet of a result: OK, ERR, LOCAL INFILE or a column count.
    Start,
    Columns(u64),
    ColumnsEof,
    Rows,
}

/// Incremental scanner over the physical packets of one command's answer (text protocol).
#[derive(Debug)]
pub struct ResponseScanner {
    deprecate_eof: bool,
    state: State,
    /// The previous physical packet was a full chunk: this one continues it.
    continuation: bool,
    /// Result sets seen (a column count opened one).
    pub result_sets: usize,
    /// Rows of the result set being read.
    rows: u64,
}

impl ResponseScanner {
    pub fn new(deprecate_eof: bool) -> Self {
        ResponseScanner {
            deprecate_eof,
            state: State::Start,
            continuation: false,
            result_sets: 0,
            rows: 0,
        }
    }

    /// For COM_FIELD_LIST, whose answer is column definitions up to an EOF, with no column count.
    pub fn field_list(deprecate_eof: bool) -> Self {
        ResponseScanner {
            state: State::Rows,
            ..ResponseScanner::new(deprecate_eof)
        }
    }

    /// Scans the complete physical packets at the start of `buf`. Returns how many bytes
    /// belong to the answer so far and, when the answer ended within them, how it ended. A
    /// LOCAL INFILE request is not counted: whoever answers it reads it.
    pub fn scan(&mut self, buf: &[u8]) -> Result<(usize, Option<Finish>), ProtocolError> {
        let mut pos = 0;
        while let Some((len, _seq)) = crate::conn::frame_header(&buf[pos..]) {
            let start = pos;
            let end = pos + 4 + len;
            if end > buf.len() {
                break;
            }
            let payload = &buf[pos + 4..end];
            pos = end;
            let continues = self.continuation;
            self.continuation = len == MAX_CHUNK;
            if continues {
                continue;
            }
            match self.packet(payload, len)? {
                Some(Finish::LocalInfile) => return Ok((start, Some(Finish::LocalInfile))),
                Some(finish) => return Ok((pos, Some(finish))),
                None => {}
            }
        }
        Ok((pos, None))
    }

    fn packet(&mut self, payload: &[u8], len: usize) -> Result<Option<Finish>, ProtocolError> {
        let first = payload.first().copied();
        match self.state {
            State::Start => match first {
                Some(0x00) => self.ok(payload),
                Some(0xFF) => Self::err(payload),
                Some(0xFB) => Ok(Some(Finish::LocalInfile)),
                _ => {
                    let (n, _) = read_lenenc_int(payload)
                        .filter(|(n, _)| *n > 0)
                        .ok_or_else(|| ProtocolError::malformed("bad column count"))?;
                    self.result_sets += 1;
                    self.rows = 0;
                    self.state = State::Columns(n);
                    Ok(None)
                }
            },
            State::Columns(n) => {
                if first == Some(0xFF) {
                    return Self::err(payload);
                }
                self.state = match (n - 1, self.deprecate_eof) {
                    (0, true) => State::Rows,
                    (0, false) => State::ColumnsEof,
                    (left, _) => State::Columns(left),
                };
                Ok(None)
            }
            State::ColumnsEof => match first {
                Some(0xFE) => {
                    self.state = State::Rows;
                    Ok(None)
                }
                Some(0xFF) => Self::err(payload),
                _ => Err(ProtocolError::malformed(
                    "expected EOF after column definitions",
                )),
            },
            State::Rows => match first {
                Some(0xFF) => Self::err(payload),
                Some(0xFE) if len < MAX_CHUNK && (self.deprecate_eof || len < 9) => {
                    if self.deprecate_eof {
                        self.ok(payload)
                    } else {
                        self.eof(payload)
                    }
                }
                _ => {
                    self.rows += 1;
                    Ok(None)
                }
            },
        }
    }

    fn ok(&mut self, payload: &[u8]) -> Result<Option<Finish>, ProtocolError> {
        let ok = parse_ok(payload).ok_or_else(|| ProtocolError::malformed("bad OK packet"))?;
        let rows = (self.state == State::Rows).then_some(self.rows);
        Ok(self.end_of_result(Finish::Ok {
            status: ok.status,
            affected_rows: ok.affected_rows,
            last_insert_id: ok.last_insert_id,
            warnings: ok.warnings,
            rows,
        }))
    }

    fn eof(&mut self, payload: &[u8]) -> Result<Option<Finish>, ProtocolError> {
        let b = payload
            .get(1..5)
            .ok_or_else(|| ProtocolError::malformed("bad EOF packet"))?;
        Ok(self.end_of_result(Finish::Ok {
            status: StatusFlags::from_bits_retain(u16::from_le_bytes([b[2], b[3]])),
            affected_rows: 0,
            last_insert_id: 0,
            warnings: u16::from_le_bytes([b[0], b[1]]),
            rows: Some(self.rows),
        }))
    }

    fn end_of_result(&mut self, finish: Finish) -> Option<Finish> {
        self.state = State::Start;
        match &finish {
            Finish::Ok { status, .. }
                if status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) =>
            {
                None
            }
            _ => Some(finish),
        }
    }

    fn err(payload: &[u8]) -> Result<Option<Finish>, ProtocolError> {
        parse_err(payload)
            .map(|e| Some(Finish::Err(e)))
            .ok_or_else(|| ProtocolError::malformed("bad ERR packet"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CapabilityFlags;
    use shardgate_wire::column_definition::ColumnDef;
    use shardgate_wire::packets::{column_count, eof, err, ok, result_terminator, OkInfo};
    use shardgate_wire::text_row::text_row;

    fn frames(packets: &[Vec<u8>]) -> Vec<u8> {
        let mut out = bytes::BytesMut::new();
        let mut seq = 1u8;
        for p in packets {
            seq = mysql_common::proto::codec::packet_to_chunks(seq, &mut &p[..], &mut out);
        }
        out.to_vec()
    }

    fn result_set(deprecate_eof: bool, status: StatusFlags, rows: &[&[u8]]) -> Vec<Vec<u8>> {
        let caps = if deprecate_eof {
            CapabilityFlags::CLIENT_DEPRECATE_EOF
        } else {
            CapabilityFlags::empty()
        };
        let mut p = vec![column_count(1), ColumnDef::varchar("c").encode()];
        if !deprecate_eof {
            p.push(eof(status, 0));
        }
        for r in rows {
            p.push(text_row([Some(*r)]));
        }
        p.push(result_terminator(caps, status, 0));
        p
    }

    fn scan_all(deprecate_eof: bool, bytes: &[u8]) -> (usize, Option<Finish>) {
        ResponseScanner::new(deprecate_eof).scan(bytes).unwrap()
    }

    #[test]
    fn result_set_ends_at_its_terminator_in_both_eof_modes() {
        for deprecate_eof in [true, false] {
            let bytes = frames(&result_set(
                deprecate_eof,
                StatusFlags::SERVER_STATUS_AUTOCOMMIT,
                &[b"a", &[0xFE, 1, 2], b""],
            ));
            let (used, finish) = scan_all(deprecate_eof, &bytes);
            assert_eq!(used, bytes.len());
            assert!(matches!(finish, Some(Finish::Ok { .. })), "{finish:?}");
        }
    }

    #[test]
    fn more_results_keep_the_answer_open() {
        let mut packets = result_set(true, StatusFlags::SERVER_MORE_RESULTS_EXISTS, &[b"x"]);
        packets.push(ok(&OkInfo {
            affected_rows: 2,
            ..OkInfo::default()
        }));
        let bytes = frames(&packets);
        let mut s = ResponseScanner::new(true);
        let (used, finish) = s.scan(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert!(matches!(
            finish,
            Some(Finish::Ok {
                affected_rows: 2,
                ..
            })
        ));
        assert_eq!(s.result_sets, 1);
    }

    #[test]
    fn incomplete_input_asks_for_more_and_resumes() {
        let bytes = frames(&result_set(
            false,
            StatusFlags::empty(),
            &[b"row1", b"row2"],
        ));
        let mut s = ResponseScanner::new(false);
        let (used, finish) = s.scan(&bytes[..bytes.len() - 3]).unwrap();
        assert!(finish.is_none());
        let (rest, finish) = s.scan(&bytes[used..]).unwrap();
        assert_eq!(used + rest, bytes.len());
        assert!(finish.is_some());
    }

    #[test]
    fn error_mid_result_ends_it() {
        let mut packets = result_set(true, StatusFlags::empty(), &[b"x"]);
        packets.pop();
        packets.push(err(1317, b"70100", "Query execution was interrupted"));
        let (_, finish) = scan_all(true, &frames(&packets));
        assert!(matches!(finish, Some(Finish::Err(e)) if e.code == 1317));
    }

    #[test]
    fn a_row_of_16_mib_starting_with_0xfe_is_not_a_terminator() {
        let mut big = vec![0xFE];
        big.extend_from_slice(&(MAX_CHUNK as u64 + 10).to_le_bytes());
        big.resize(9 + MAX_CHUNK + 10, b'z');
        let mut packets = vec![column_count(1), ColumnDef::varchar("c").encode(), big];
        packets.push(result_terminator(
            CapabilityFlags::CLIENT_DEPRECATE_EOF,
            StatusFlags::empty(),
            0,
        ));
        let bytes = frames(&packets);
        let (used, finish) = scan_all(true, &bytes);
        assert_eq!(used, bytes.len());
        assert!(finish.is_some());
    }

    #[test]
    fn garbage_column_count_is_malformed_not_a_panic() {
        let bytes = frames(&[vec![0xFC, 0x01]]);
        assert!(ResponseScanner::new(true).scan(&bytes).is_err());
    }
}
