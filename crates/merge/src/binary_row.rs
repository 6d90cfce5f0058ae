//! Text-protocol rows re-encoded as binary-protocol rows, for prepared statements whose answer
//! the proxy merges: the shards answer and the operators work in text rows, the client asked
//! for binary ones.
//!
//! Every value converts exactly: integers, decimals and temporal values are exact in text;
//! FLOAT and DOUBLE texts are MariaDB's shortest forms, which parse back to the same value.

use bytes::Bytes;
use mysql_common::constants::ColumnType;
use shardgate_wire::lenenc::write_lenenc_str;

use crate::column::ColumnMeta;
use crate::error::{MergeError, Result};
use crate::row::TextRow;
use crate::temporal::{DateTime, Time};
use crate::value::Value;

/// Re-encodes the rows of one result set (its columns fixed at construction).
#[derive(Debug, Clone)]
pub struct BinaryRowEncoder {
    columns: Vec<ColumnMeta>,
}

impl BinaryRowEncoder {
    /// An encoder for rows of `columns`.
    pub fn new(columns: &[ColumnMeta]) -> BinaryRowEncoder {
        BinaryRowEncoder {
            columns: columns.to_vec(),
        }
    }

    /// Writes the binary-protocol payload of text row `text` into `out` (cleared first).
    pub fn encode(&self, text: &Bytes, out: &mut Vec<u8>) -> Result<()> {
        let n = self.columns.len();
        let row = TextRow::parse(text.clone(), n)?;
        out.clear();
        out.push(0x00);
        // The NULL bitmap of a binary row starts at bit 2.
        let bitmap_at = out.len();
        out.resize(bitmap_at + (n + 7 + 2) / 8, 0);
        for (i, meta) in self.columns.iter().enumerate() {
            match row.cell_bytes(i) {
                None => out[bitmap_at + (i + 2) / 8] |= 1 << ((i + 2) % 8),
                Some(cell) => encode_cell(cell, meta, i, out)?,
            }
        }
        Ok(())
    }
}

fn encode_cell(cell: Bytes, meta: &ColumnMeta, column: usize, out: &mut Vec<u8>) -> Result<()> {
    let bad = |cell: &[u8]| MergeError::BadValue {
        column,
        column_type: meta.column_type,
        text: String::from_utf8_lossy(&cell[..cell.len().min(64)]).into_owned(),
    };
    let text = || std::str::from_utf8(&cell).map_err(|_| bad(&cell));
    let int = |width: usize, out: &mut Vec<u8>| -> Result<()> {
        let bytes = if meta.is_unsigned() {
            text()?
                .parse::<u64>()
                .map_err(|_| bad(&cell))?
                .to_le_bytes()
        } else {
            text()?
                .parse::<i64>()
                .map_err(|_| bad(&cell))?
                .to_le_bytes()
        };
        out.extend_from_slice(&bytes[..width]);
        Ok(())
    };
    match meta.column_type {
        ColumnType::MYSQL_TYPE_TINY => int(1, out),
        ColumnType::MYSQL_TYPE_SHORT | ColumnType::MYSQL_TYPE_YEAR => int(2, out),
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG => int(4, out),
        ColumnType::MYSQL_TYPE_LONGLONG => int(8, out),
        ColumnType::MYSQL_TYPE_FLOAT => {
            let v: f32 = text()?.parse().map_err(|_| bad(&cell))?;
            out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
        ColumnType::MYSQL_TYPE_DOUBLE => {
            let v: f64 = text()?.parse().map_err(|_| bad(&cell))?;
            out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
        ColumnType::MYSQL_TYPE_DATE
        | ColumnType::MYSQL_TYPE_NEWDATE
        | ColumnType::MYSQL_TYPE_DATETIME
        | ColumnType::MYSQL_TYPE_DATETIME2
        | ColumnType::MYSQL_TYPE_TIMESTAMP
        | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            match Value::decode(Some(cell.clone()), meta, column)? {
                Value::Date(date) => write_datetime(&DateTime::from_date(date), out),
                Value::DateTime(dt) => write_datetime(&dt, out),
                _ => return Err(bad(&cell)),
            }
            Ok(())
        }
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
            match Value::decode(Some(cell.clone()), meta, column)? {
                Value::Time(time) => write_time(&time, out),
                _ => return Err(bad(&cell)),
            }
            Ok(())
        }
        // Decimals, strings, blobs, BIT, ENUM, SET, JSON, geometry: the same bytes, length-encoded.
        _ => {
            write_lenenc_str(out, &cell);
            Ok(())
        }
    }
}

/// MariaDB's binary DATE/DATETIME/TIMESTAMP: the shortest of 0, 4, 7 or 11 bytes that holds it.
fn write_datetime(v: &DateTime, out: &mut Vec<u8>) {
    let len: u8 = if v.micros != 0 {
        11
    } else if v.hour != 0 || v.minute != 0 || v.second != 0 {
        7
    } else if v.date.year != 0 || v.date.month != 0 || v.date.day != 0 {
        4
    } else {
        0
    };
    out.push(len);
    if len >= 4 {
        out.extend_from_slice(&v.date.year.to_le_bytes());
        out.extend_from_slice(&[v.date.month, v.date.day]);
    }
    if len >= 7 {
        out.extend_from_slice(&[v.hour, v.minute, v.second]);
    }
    if len == 11 {
        out.extend_from_slice(&v.micros.to_le_bytes());
    }
}

/// MariaDB's binary TIME: 0, 8 or 12 bytes (sign, days, hours, minutes, seconds, micros).
fn write_time(v: &Time, out: &mut Vec<u8>) {
    let len: u8 = if v.micros != 0 {
        12
    } else if v.hours != 0 || v.minutes != 0 || v.seconds != 0 {
        8
    } else {
        0
    };
    out.push(len);
    if len >= 8 {
        out.push(u8::from(v.negative));
        out.extend_from_slice(&(v.hours / 24).to_le_bytes());
        out.extend_from_slice(&[(v.hours % 24) as u8, v.minutes, v.seconds]);
    }
    if len == 12 {
        out.extend_from_slice(&v.micros.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mysql_common::constants::ColumnFlags;
    use mysql_common::io::ParseBuf;
    use mysql_common::packets::Column;
    use mysql_common::proto::Binary;
    use mysql_common::row::RowDeserializer;
    use mysql_common::value::Value as MyValue;

    use super::*;
    use crate::row::encode_text_row;

    fn meta(t: ColumnType) -> ColumnMeta {
        ColumnMeta::new(t)
    }

    /// Decodes a binary row with mysql_common, the reference implementation of the format.
    fn decode(payload: &[u8], columns: &[ColumnMeta]) -> Vec<MyValue> {
        let cols: Arc<[Column]> = columns
            .iter()
            .map(|m| {
                Column::new(m.column_type)
                    .with_flags(m.flags)
                    .with_decimals(m.decimals)
            })
            .collect();
        let row: RowDeserializer<mysql_common::value::ServerSide, Binary> =
            ParseBuf(payload).parse(cols).expect("binary row parses");
        mysql_common::row::Row::from(row).unwrap()
    }

    #[test]
    fn every_kind_converts_exactly() {
        let columns = [
            meta(ColumnType::MYSQL_TYPE_TINY),
            meta(ColumnType::MYSQL_TYPE_LONGLONG).with_flags(ColumnFlags::UNSIGNED_FLAG),
            meta(ColumnType::MYSQL_TYPE_LONG),
            meta(ColumnType::MYSQL_TYPE_DOUBLE),
            meta(ColumnType::MYSQL_TYPE_FLOAT),
            meta(ColumnType::MYSQL_TYPE_NEWDECIMAL),
            meta(ColumnType::MYSQL_TYPE_VAR_STRING),
            meta(ColumnType::MYSQL_TYPE_DATETIME).with_decimals(6),
            meta(ColumnType::MYSQL_TYPE_DATE),
            meta(ColumnType::MYSQL_TYPE_TIME).with_decimals(6),
            meta(ColumnType::MYSQL_TYPE_LONG),
        ];
        let text = encode_text_row(&[
            Value::bytes(&b"-128"[..]),
            Value::bytes(&b"18446744073709551615"[..]),
            Value::bytes(&b"-2147483648"[..]),
            Value::bytes(&b"0.1"[..]),
            Value::bytes(&b"1.2345678"[..]),
            Value::bytes(&b"-12.500"[..]),
            Value::bytes(&b"a\0b"[..]),
            Value::bytes(&b"2024-02-29 23:59:58.000001"[..]),
            Value::bytes(&b"2024-02-29"[..]),
            Value::bytes(&b"-838:59:59.000000"[..]),
            Value::Null,
        ]);
        let mut out = Vec::new();
        BinaryRowEncoder::new(&columns)
            .encode(&Bytes::from(text), &mut out)
            .unwrap();
        let values = decode(&out, &columns);
        assert_eq!(values[0], MyValue::Int(-128));
        assert_eq!(values[1], MyValue::UInt(u64::MAX));
        assert_eq!(values[2], MyValue::Int(i64::from(i32::MIN)));
        assert_eq!(values[3], MyValue::Double(0.1));
        assert_eq!(values[4], MyValue::Float(1.234_567_8));
        assert_eq!(values[5], MyValue::Bytes(b"-12.500".to_vec()));
        assert_eq!(values[6], MyValue::Bytes(b"a\0b".to_vec()));
        assert_eq!(values[7], MyValue::Date(2024, 2, 29, 23, 59, 58, 1));
        assert_eq!(values[8], MyValue::Date(2024, 2, 29, 0, 0, 0, 0));
        assert_eq!(values[9], MyValue::Time(true, 34, 22, 59, 59, 0));
        assert_eq!(values[10], MyValue::NULL);
    }

    #[test]
    fn zero_dates_and_times_take_no_bytes() {
        let columns = [
            meta(ColumnType::MYSQL_TYPE_DATETIME),
            meta(ColumnType::MYSQL_TYPE_TIME),
        ];
        let text = encode_text_row(&[
            Value::bytes(&b"0000-00-00 00:00:00"[..]),
            Value::bytes(&b"00:00:00"[..]),
        ]);
        let mut out = Vec::new();
        BinaryRowEncoder::new(&columns)
            .encode(&Bytes::from(text), &mut out)
            .unwrap();
        assert_eq!(out, [0x00, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn text_that_is_not_a_number_is_refused() {
        let columns = [meta(ColumnType::MYSQL_TYPE_LONG)];
        let text = encode_text_row(&[Value::bytes(&b"twelve"[..])]);
        let mut out = Vec::new();
        assert!(BinaryRowEncoder::new(&columns)
            .encode(&Bytes::from(text), &mut out)
            .is_err());
    }
}
