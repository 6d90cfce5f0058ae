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
        let types = if bound == 1 {
            if rest.len() < 2 * params {
                return Err(bad());
            }
            let (types, after) = rest.split_at(2 * params);
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
        let mut buf = ParseBuf(self.values);
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
            let column_type = ColumnType::try_from(types[2 * i]).map_err(|_| {
                ProtocolError::malformed(format!("unknown parameter type {}", types[2 * i]))
            })?;
            let flags = if types[2 * i + 1] & 0x80 != 0 {
                ColumnFlags::UNSIGNED_FLAG
            } else {
                ColumnFlags::empty()
            };
            let value: ValueDeserializer<BinValue> = buf
                .parse((column_type, flags))
                .map_err(|e| ProtocolError::malformed(format!("parameter {i}: {e}")))?;
            if i == index {
                return Ok(match value.0 {
                    Value::NULL => ParamValue::Null,
                    Value::Int(v) => ParamValue::Int(i128::from(v)),
                    Value::UInt(v) => ParamValue::Int(i128::from(v)),
                    Value::Bytes(b) => ParamValue::Bytes(b),
                    other => ParamValue::Other(other.as_sql(false)),
                });
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
