//! Text-protocol row payloads: each cell a length-encoded string, or `0xFB` for NULL.
//!
//! Rows travel through the operators as raw payloads ([`Bytes`]); a [`TextRow`] indexes
//! the cells of one payload once so an operator reads only the columns it needs, and a
//! [`RowWriter`] builds the rows an operator computes, copying untouched cells verbatim.

use bytes::Bytes;
use shardgate_wire::text_row::{read_cell, write_cell, NULL_CELL};

use crate::column::ColumnMeta;
use crate::error::{MergeError, Result};
use crate::value::Value;

/// Decodes every cell of a row payload; the payload must hold exactly `columns.len()` cells.
pub fn decode_text_row(payload: &Bytes, columns: &[ColumnMeta]) -> Result<Vec<Value>> {
    let row = TextRow::parse(payload.clone(), columns.len())?;
    (0..columns.len())
        .map(|i| Value::decode(row.cell_bytes(i), &columns[i], i))
        .collect()
}

/// Encodes values as a row payload, each as the text MariaDB would send.
pub fn encode_text_row(values: &[Value]) -> Vec<u8> {
    let mut w = RowWriter::with_capacity(values.len() * 8);
    for v in values {
        w.push_value(v);
    }
    w.into_vec()
}

/// A row payload with its cells located, for reading columns in any order without
/// decoding the others.
#[derive(Debug, Clone)]
pub struct TextRow {
    payload: Bytes,
    /// `(start, end)` of each cell; `start == u32::MAX` for NULL.
    cells: Vec<(u32, u32)>,
}

impl TextRow {
    /// Locates the cells of `payload`, which must hold exactly `columns` cells.
    pub fn parse(payload: Bytes, columns: usize) -> Result<TextRow> {
        if payload.len() >= u32::MAX as usize {
            return Err(MergeError::MalformedRow {
                reason: "row larger than 4 GiB",
                column: 0,
            });
        }
        let mut cells = Vec::with_capacity(columns);
        let mut pos = 0;
        for c in 0..columns {
            let cell = read_cell(&payload, &mut pos, c)?;
            cells.push(cell.map_or((u32::MAX, 0), |(s, e)| (s as u32, e as u32)));
        }
        if pos != payload.len() {
            return Err(MergeError::MalformedRow {
                reason: "more cells than columns",
                column: columns,
            });
        }
        Ok(TextRow { payload, cells })
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// `true` for a row without cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The text of cell `i` (`None` = NULL). Panics if `i` is out of range.
    pub fn cell(&self, i: usize) -> Option<&[u8]> {
        let (s, e) = self.cells[i];
        (s != u32::MAX).then(|| &self.payload[s as usize..e as usize])
    }

    /// The text of cell `i` as a zero-copy slice of the payload (`None` = NULL).
    pub fn cell_bytes(&self, i: usize) -> Option<Bytes> {
        let (s, e) = self.cells[i];
        (s != u32::MAX).then(|| self.payload.slice(s as usize..e as usize))
    }

    /// Decodes cell `i` as a value of column `meta`.
    pub fn value(&self, i: usize, meta: &ColumnMeta) -> Result<Value> {
        Value::decode(self.cell_bytes(i), meta, i)
    }

    /// The raw payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Gives the raw payload back.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }
}

/// Builds a row payload cell by cell.
#[derive(Debug, Default)]
pub struct RowWriter {
    buf: Vec<u8>,
}

impl RowWriter {
    /// An empty row.
    pub fn new() -> RowWriter {
        RowWriter::default()
    }

    /// An empty row with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> RowWriter {
        RowWriter {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// Appends a raw cell (`None` = NULL), copied verbatim.
    pub fn push_cell(&mut self, cell: Option<&[u8]>) {
        write_cell(&mut self.buf, cell);
    }

    /// Appends a value as MariaDB's text.
    pub fn push_value(&mut self, v: &Value) {
        if v.is_null() {
            self.buf.push(NULL_CELL);
            return;
        }
        // Write the text after a 1-byte length guess and fix the header up when longer.
        let at = self.buf.len();
        self.buf.push(0);
        v.write_text(&mut self.buf);
        let len = self.buf.len() - at - 1;
        if len < 0xFB {
            self.buf[at] = len as u8;
        } else {
            let text = self.buf.split_off(at + 1);
            self.buf.truncate(at);
            write_cell(&mut self.buf, Some(&text));
        }
    }

    /// The payload as a vector.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// The payload.
    pub fn finish(self) -> Bytes {
        Bytes::from(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;
    use shardgate_wire::text_row::text_cell;

    #[test]
    fn round_trips_cells_of_every_length_class() {
        let long = |n: usize| Value::Bytes(Bytes::from(vec![b'x'; n]));
        let values = vec![
            Value::Int(1),
            Value::Null,
            long(250),
            long(251),
            long(65_535),
            long(65_536),
            long(16_777_216),
            Value::bytes(""),
        ];
        let payload = Bytes::from(encode_text_row(&values));
        let metas = vec![ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING); values.len()];
        let decoded = decode_text_row(&payload, &metas).unwrap();
        assert_eq!(decoded[0], Value::bytes("1"));
        assert_eq!(&decoded[1..], &values[1..]);
        assert_eq!(text_cell(&payload, 3).unwrap().unwrap().len(), 251);
        assert_eq!(text_cell(&payload, 1).unwrap(), None);
        assert!(text_cell(&payload, 8).is_err());
    }

    #[test]
    fn malformed_rows_are_errors_not_panics() {
        let metas = vec![ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING); 2];
        for bad in [
            &b""[..],
            b"\x01a",
            b"\x05ab\x01c",
            b"\xFC\x01",
            b"\xFD\x01\x00",
            b"\xFE\x01\x00\x00\x00",
            b"\xFF\x01\x01",
            b"\x01a\x01b\x01c",
            b"\xFE\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
        ] {
            assert!(
                decode_text_row(&Bytes::copy_from_slice(bad), &metas).is_err(),
                "{bad:?}"
            );
        }
        let row = TextRow::parse(Bytes::from_static(b"\x01a\xFB"), 2).unwrap();
        assert_eq!(row.cell(0), Some(&b"a"[..]));
        assert_eq!(row.cell(1), None);
    }

    #[test]
    fn writer_fixes_long_headers() {
        let mut w = RowWriter::new();
        w.push_value(&Value::Bytes(Bytes::from(vec![b'y'; 300])));
        w.push_cell(Some(b"z"));
        let p = w.finish();
        assert_eq!(&p[..3], &[0xFC, 0x2C, 0x01]);
        assert_eq!(text_cell(&p, 1).unwrap(), Some(&b"z"[..]));
    }
}
