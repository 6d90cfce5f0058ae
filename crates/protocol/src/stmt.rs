//! Prepared-statement packets: the COM_STMT_PREPARE answer's header, and COM_STMT_EXECUTE
//! requests parsed far enough to read bound values and rewritten for another statement id.

use mysql_common::io::ParseBuf;
use mysql_common::value::{BinValue, Value, ValueDeserializer};

use crate::{ColumnFlags, ColumnType, ProtocolError};

/// The first packet of a successful COM_STMT_PREPARE answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepareOk {
    pub statement_id: u32,
    pub columns: u16,
    pub params: u16,
    pub warnings: u16,
}

impl PrepareOk {
    pub fn parse(payload: &[u8]) -> Result<Self, ProtocolError> {
        if payload.len() < 12 || payload[0] != 0 {
            return Err(ProtocolError::malformed("COM_STMT_PREPARE OK packet"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([payload[i], payload[i + 1]]);
        Ok(PrepareOk {
            statement_id: u32::from_le_bytes([payload[1], payload[2], payload[3], payload[4]]),
            columns: u16_at(5),
            params: u16_at(7),
            warnings: u16_at(10),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(12);
        p.push(0);
        p.extend_from_slice(&self.statement_id.to_le_bytes());
        p.extend_from_slice(&self.columns.to_le_bytes());
        p.extend_from_slice(&self.params.to_le_bytes());
        p.push(0);
        p.extend_from_slice(&self.warnings.to_le_bytes());
        p
    }
}

/// A COM_STMT_EXECUTE request (the payload after the command byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteRequest<'a> {
    pub statement_id: u32,
    /// Cursor flags; the proxy always executes without a cursor.
    pub flags: u8,
    pub null_bitmap: &'a [u8],
    /// Parameter types (2 bytes each: type, 0x80 if unsigned) when the client sent them.
    pub types: Option<&'a [u8]>,
    pub values: &'a [u8],
}

/// The value of one bound parameter, as far as routing needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Null,
    Int(i128),
    Bytes(Vec<u8>),
    /// A float, date or other value that cannot be a shard key as-is.
    Other(String),
}

impl<'a> ExecuteRequest<'a> {
    /// Parses a request for a statement with `params` parameters.
    pub fn parse(body: &'a [u8], params: usize) -> Result<Self, ProtocolError> {
        let bad = || ProtocolError::malformed("COM_STMT_EXECUTE");
        if body.len() < 9 {
            return Err(bad());
        }
        let statement_id = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
        let flags = body[4];
        let mut rest = &body[9..];
        if params == 0 {
            return Ok(ExecuteRequest {
                statement_id,
                flags,
                null_bitmap: &[],
                types: None,
                values: &[],
            });
        }
        let bitmap_len = params.div_ceil(8);
        if rest.len() < bitmap_len + 1 {
            return Err(bad());
        }
        let null_bitmap = &rest[..bitmap_len];
        let bound = rest[bitmap_len];
        rest = &rest[bitmap_len + 1..];
        // Like MariaDB, any non-zero "new params bound" flag means types follow.
        let types = if bound != 0 {
            if rest.len() < 2 * params {
                return Err(bad());
            }
            let (types, after) = rest.split_at(2 * params);
            check_types(types)?;
            rest = after;
            Some(types)
        } else {
            None
        };
        Ok(ExecuteRequest {
            statement_id,
            flags,
            null_bitmap,
            types,
            values: rest,
        })
    }

    fn is_null(&self, index: usize) -> bool {
        self.null_bitmap
            .get(index / 8)
            .is_some_and(|b| b & (1 << (index % 8)) != 0)
    }

    /// The value bound to parameter `index`, decoded with `types` (this request's or the
    /// ones remembered from an earlier execution). Parameters for which `sent_as_long_data`
    /// holds have no bytes among the values (COM_STMT_SEND_LONG_DATA carried them).
    pub fn param(
        &self,
        types: &[u8],
        index: usize,
        sent_as_long_data: impl Fn(usize) -> bool,
    ) -> Result<ParamValue, ProtocolError> {
        let params = types.len() / 2;
        if index >= params {
            return Err(ProtocolError::malformed("parameter index out of range"));
        }
        let mut values = self.values;
        for i in 0..=index {
            if sent_as_long_data(i) {
                if i == index {
                    return Err(ProtocolError::malformed("parameter sent as long data"));
                }
                continue;
            }
            if self.is_null(i) {
                if i == index {
                    return Ok(ParamValue::Null);
                }
                continue;
            }
            let (code, unsigned) = (types[2 * i], types[2 * i + 1] & 0x80 != 0);
            // Type and length are checked here: mysql_common only ever sees a known type and
            // exactly the bytes of one value.
            let len = value_len(code, values)
                .map_err(|why| ProtocolError::malformed(format!("parameter {i}: {why}")))?;
            let (value, after) = values.split_at(len);
            values = after;
            if i == index {
                return Ok(decode(code, unsigned, value));
            }
        }
        unreachable!("the loop returns at index")
    }

    /// The body of this request for `statement_id` (command byte not included), without cursor
    /// flags, always carrying `types` (a backend connection may not have seen the execution
    /// that sent them).
    pub fn encode_for(&self, statement_id: u32, types: Option<&[u8]>) -> Vec<u8> {
        let mut p = Vec::with_capacity(16 + self.values.len());
        p.extend_from_slice(&statement_id.to_le_bytes());
        p.push(0);
        p.extend_from_slice(&1u32.to_le_bytes());
        if let Some(types) = types.or(self.types) {
            p.extend_from_slice(self.null_bitmap);
            p.push(1);
            p.extend_from_slice(types);
            p.extend_from_slice(self.values);
        } else if !self.null_bitmap.is_empty() {
            p.extend_from_slice(self.null_bitmap);
            p.push(0);
            p.extend_from_slice(self.values);
        }
        p
    }
}

/// Whether a client may bind a parameter of type `code`: the types client libraries send
/// (DECIMAL … BIT, JSON … GEOMETRY). The server-internal TIMESTAMP2/DATETIME2/TIME2 (0x11–0x13)
/// and codes no protocol defines are refused.
pub fn is_param_type(code: u8) -> bool {
    matches!(code, 0x00..=0x10 | 0xF5..=0xFF)
}

/// Checks the 2-byte parameter types a client sent.
pub fn check_types(types: &[u8]) -> Result<(), ProtocolError> {
    let pairs = types.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(ProtocolError::malformed(
            "COM_STMT_EXECUTE: odd parameter types",
        ));
    }
    for (i, pair) in pairs.enumerate() {
        if !is_param_type(pair[0]) {
            return Err(ProtocolError::malformed(format!(
                "COM_STMT_EXECUTE: parameter {i} has type 0x{:02x}, which a client cannot bind",
                pair[0]
            )));
        }
    }
    Ok(())
}

/// The length of the value of type `code` at the start of `values`, checked against what is there.
fn value_len(code: u8, values: &[u8]) -> Result<usize, String> {
    let need = |n: usize| {
        if values.len() >= n {
            Ok(n)
        } else {
            Err(format!("{n} bytes needed, {} left", values.len()))
        }
    };
    match code {
        0x06 => Ok(0),                 // NULL
        0x01 => need(1),               // TINY
        0x02 | 0x0D => need(2),        // SHORT, YEAR
        0x03 | 0x04 | 0x09 => need(4), // LONG, FLOAT, INT24
        0x05 | 0x08 => need(8),        // DOUBLE, LONGLONG
        0x07 | 0x0A | 0x0B | 0x0C | 0x0E => {
            // TIMESTAMP, DATE, TIME, DATETIME, NEWDATE: a length byte, then that many bytes.
            let len = *values.first().ok_or("a date or time length byte needed")?;
            need(1 + usize::from(len))
        }
        c if is_param_type(c) => {
            // Strings, decimals, BIT, JSON, blobs, ENUM, SET, GEOMETRY: length-encoded.
            let (len, used) = shardgate_wire::lenenc::read_lenenc_int(values)
                .ok_or("a length-encoded string length needed")?;
            let len = usize::try_from(len).map_err(|_| "string length out of range")?;
            need(used.checked_add(len).ok_or("string length out of range")?)
        }
        other => Err(format!("type 0x{other:02x} cannot be bound by a client")),
    }
}

/// Decodes one value whose type `value_len` accepted and whose bytes it measured.
fn decode(code: u8, unsigned: bool, bytes: &[u8]) -> ParamValue {
    if code == 0x0B {
        return ParamValue::Other(time_literal(bytes));
    }
    let column_type = match ColumnType::try_from(code) {
        Ok(t) => t,
        Err(_) => return ParamValue::Bytes(bytes.to_vec()),
    };
    let flags = if unsigned {
        ColumnFlags::UNSIGNED_FLAG
    } else {
        ColumnFlags::empty()
    };
    let parsed: Result<ValueDeserializer<BinValue>, _> =
        ParseBuf(bytes).parse((column_type, flags));
    match parsed.map(|v| v.0) {
        Ok(Value::NULL) => ParamValue::Null,
        Ok(Value::Int(v)) => ParamValue::Int(i128::from(v)),
        Ok(Value::UInt(v)) => ParamValue::Int(i128::from(v)),
        Ok(Value::Bytes(b)) => ParamValue::Bytes(b),
        Ok(other) => ParamValue::Other(other.as_sql(false)),
        // value_len measured these bytes for this type; kept as bytes should that ever differ.
        Err(_) => ParamValue::Bytes(bytes.to_vec()),
    }
}

/// A binary TIME value (length byte, sign, days, h, m, s, µs) as a quoted literal, hours
/// over 838 clamped to 838:59:59 as MariaDB does.
fn time_literal(bytes: &[u8]) -> String {
    let body = &bytes[1..];
    let at = |i: usize| u64::from(body.get(i).copied().unwrap_or(0));
    let (mut hours, mut minutes, mut seconds, mut micros) = (0u64, 0, 0, 0u64);
    let negative = body.len() >= 8 && body[0] == 1;
    if body.len() >= 8 {
        let days = u64::from(u32::from_le_bytes([body[1], body[2], body[3], body[4]]));
        hours = days * 24 + at(5);
        (minutes, seconds) = (at(6), at(7));
    }
    if body.len() >= 12 {
        micros = u64::from(u32::from_le_bytes([body[8], body[9], body[10], body[11]]));
    }
    if hours > 838 {
        (hours, minutes, seconds, micros) = (838, 59, 59, 0);
    }
    let sign = if negative { "-" } else { "" };
    if micros == 0 {
        format!("'{sign}{hours:03}:{minutes:02}:{seconds:02}'")
    } else {
        format!("'{sign}{hours:03}:{minutes:02}:{seconds:02}.{micros:06}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(types: &[u8], nulls: u8, values: &[u8]) -> Vec<u8> {
        let mut b = vec![7, 0, 0, 0, 0, 1, 0, 0, 0, nulls, 1];
        b.extend_from_slice(types);
        b.extend_from_slice(values);
        b
    }

    #[test]
    fn reads_each_parameter_by_type() {
        // (LONGLONG 42, VAR_STRING "ab", NULL, TINY unsigned 200)
        let types = [8, 0, 253, 0, 6, 0, 1, 0x80];
        let mut values = 42i64.to_le_bytes().to_vec();
        values.extend_from_slice(&[2, b'a', b'b', 200]);
        let body = request(&types, 0b0100, &values);
        let req = ExecuteRequest::parse(&body, 4).unwrap();
        assert_eq!(req.statement_id, 7);
        let types = req.types.unwrap();
        assert_eq!(req.param(types, 0, |_| false).unwrap(), ParamValue::Int(42));
        assert_eq!(
            req.param(types, 1, |_| false).unwrap(),
            ParamValue::Bytes(b"ab".to_vec())
        );
        assert_eq!(req.param(types, 2, |_| false).unwrap(), ParamValue::Null);
        assert_eq!(
            req.param(types, 3, |_| false).unwrap(),
            ParamValue::Int(200)
        );
    }

    #[test]
    fn rewrites_the_statement_id_and_keeps_types() {
        let types = [8, 0];
        let body = request(&types, 0, &5i64.to_le_bytes());
        let req = ExecuteRequest::parse(&body, 1).unwrap();
        let out = req.encode_for(99, None);
        let again = ExecuteRequest::parse(&out, 1).unwrap();
        assert_eq!(again.statement_id, 99);
        assert_eq!(again.types, Some(&types[..]));
        assert_eq!(
            again.param(&types, 0, |_| false).unwrap(),
            ParamValue::Int(5)
        );

        // A later execution without types gets the remembered ones.
        let mut later = vec![7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        later.extend_from_slice(&6i64.to_le_bytes());
        let req = ExecuteRequest::parse(&later, 1).unwrap();
        assert_eq!(req.types, None);
        let out = req.encode_for(99, Some(&types));
        let again = ExecuteRequest::parse(&out, 1).unwrap();
        assert_eq!(
            again.param(&types, 0, |_| false).unwrap(),
            ParamValue::Int(6)
        );
    }

    #[test]
    fn truncated_requests_are_errors_not_panics() {
        let types = [8, 0, 253, 0];
        let full = request(&types, 0, &[1, 2, 3]);
        for cut in 0..full.len() {
            if let Ok(req) = ExecuteRequest::parse(&full[..cut], 2) {
                let _ = req.param(&types, 1, |_| false);
            }
        }
        assert!(ExecuteRequest::parse(&[1, 2], 1).is_err());
    }
}

#[cfg(test)]
mod hardening_tests {
    use super::*;

    fn request(types: &[u8], nulls: u8, values: &[u8]) -> Vec<u8> {
        let mut b = vec![7, 0, 0, 0, 0, 1, 0, 0, 0, nulls, 1];
        b.extend_from_slice(types);
        b.extend_from_slice(values);
        b
    }

    /// Every type code a client may put in a COM_STMT_EXECUTE, signed and unsigned, with
    /// values of every length up to 16 bytes: an answer or an error, never a panic.
    #[test]
    fn every_type_code_and_value_length_is_an_answer_not_a_panic() {
        let lengths = [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16];
        for code in 0..=255u8 {
            for flags in [0u8, 0x80] {
                let types = [code, flags];
                for &len in &lengths {
                    for fill in [0u8, 4, 7, 11, 0xFC, 0xFE, 0xFF] {
                        let values = vec![fill; len];
                        let body = request(&types, 0, &values);
                        let outcome = std::panic::catch_unwind(|| {
                            ExecuteRequest::parse(&body, 1)
                                .map(|req| req.param(&types, 0, |_| false).map(drop))
                        });
                        assert!(
                            outcome.is_ok(),
                            "type 0x{code:02x} flags 0x{flags:02x}, {len} bytes of 0x{fill:02x} panicked"
                        );
                    }
                }
                // Types remembered from an earlier execution (none in this request).
                let mut later = vec![7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
                later.extend_from_slice(&[1, 2, 3]);
                let outcome = std::panic::catch_unwind(|| {
                    ExecuteRequest::parse(&later, 1)
                        .map(|req| req.param(&types, 0, |_| false).map(drop))
                });
                assert!(outcome.is_ok(), "remembered type 0x{code:02x} panicked");
            }
        }
    }

    #[test]
    fn types_a_client_must_not_send_are_refused_when_parsed() {
        for code in [0x11u8, 0x12, 0x13, 0x14, 0x15, 0x80, 0xF1, 0xF2, 0xF4] {
            let body = request(&[code, 0], 0, &[1, 2, 3, 4, 5, 6, 7, 8]);
            match ExecuteRequest::parse(&body, 1) {
                Err(ProtocolError::Malformed(why)) => {
                    assert!(why.contains("type"), "type 0x{code:02x}: {why}")
                }
                other => {
                    panic!("type 0x{code:02x}: expected a malformed-packet error, got {other:?}")
                }
            }
        }
        // Every type a client library binds is accepted.
        for code in (0u8..=0x10).chain(0xF5..=0xFF) {
            let body = request(&[code, 0], 1, &[]);
            assert!(ExecuteRequest::parse(&body, 1).is_ok(), "type 0x{code:02x}");
        }
    }

    #[test]
    fn truncated_values_of_every_type_are_errors() {
        let cases: [(&[u8], Vec<u8>); 8] = [
            (&[1, 0], vec![5]),
            (&[2, 0], 300i16.to_le_bytes().to_vec()),
            (&[3, 0], 70000i32.to_le_bytes().to_vec()),
            (&[8, 0], 1i64.to_le_bytes().to_vec()),
            (&[5, 0], 1.5f64.to_le_bytes().to_vec()),
            (&[12, 0], vec![7, 0xE8, 0x07, 1, 2, 3, 4, 5]),
            (&[11, 0], vec![8, 0, 1, 0, 0, 0, 2, 3, 4]),
            (&[253, 0], vec![0xFC, 3, 0, b'a', b'b', b'c']),
        ];
        for (types, values) in cases {
            let body = request(types, 0, &values);
            let req = ExecuteRequest::parse(&body, 1).unwrap();
            assert!(req.param(types, 0, |_| false).is_ok(), "{types:?} whole");
            for cut in 0..values.len() {
                let body = request(types, 0, &values[..cut]);
                let req = ExecuteRequest::parse(&body, 1).unwrap();
                assert!(
                    matches!(
                        req.param(types, 0, |_| false),
                        Err(ProtocolError::Malformed(_))
                    ),
                    "{types:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn a_string_length_past_the_packet_is_an_error() {
        // A lenenc length of 2^64-1 and of 2^24.
        for prefix in [
            vec![0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            vec![0xFD, 0, 0, 1],
            vec![0xFB],
            vec![0xFF],
        ] {
            let body = request(&[253, 0], 0, &prefix);
            let req = ExecuteRequest::parse(&body, 1).unwrap();
            assert!(req.param(&[253, 0], 0, |_| false).is_err(), "{prefix:?}");
        }
    }

    #[test]
    fn times_are_written_as_mariadb_reads_them_even_out_of_range() {
        let time = |days: u32, h: u8, micros: Option<u32>| {
            let mut v = vec![if micros.is_some() { 12 } else { 8 }, 0];
            v.extend_from_slice(&days.to_le_bytes());
            v.extend_from_slice(&[h, 5, 6]);
            if let Some(us) = micros {
                v.extend_from_slice(&us.to_le_bytes());
            }
            let body = request(&[11, 0], 0, &v);
            let req = ExecuteRequest::parse(&body, 1).unwrap();
            req.param(&[11, 0], 0, |_| false).unwrap()
        };
        let other = |s: &str| ParamValue::Other(s.to_owned());
        assert_eq!(time(1, 2, None), other("'026:05:06'"));
        assert_eq!(time(0, 2, Some(7)), other("'002:05:06.000007'"));
        assert_eq!(time(u32::MAX, 255, Some(u32::MAX)), other("'838:59:59'"));
    }
}
