//! What the merge needs to know about one result column: type, flags, charset, decimals, length.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::io::ParseBuf;
use mysql_common::packets::Column;

use crate::error::{MergeError, Result};
use shardgate_collation::Collation;
use shardgate_wire::column_definition::{self, ColumnAttributes, ColumnNames};

/// The type information of a result column, as a column-definition packet carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnMeta {
    /// The wire type (`MYSQL_TYPE_*`).
    pub column_type: ColumnType,
    /// `UNSIGNED_FLAG`, `BINARY_FLAG`, `NOT_NULL_FLAG`, …
    pub flags: ColumnFlags,
    /// The collation id (63 = binary). For strings MariaDB sends the default collation of
    /// `character_set_results`, not the column's own; see [`ColumnMeta::collation`].
    pub charset: u16,
    /// Fractional digits: the scale of a `DECIMAL`, the fixed decimals of a `DOUBLE`
    /// (31 = not fixed), the fractional-second digits of a temporal type.
    pub decimals: u8,
    /// The display length.
    pub length: u32,
}

/// How the cells of a column decode (see [`Value`](crate::Value)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `MYSQL_TYPE_NULL`: every cell is NULL.
    Null,
    /// A signed integer type.
    Int,
    /// An integer type with `UNSIGNED_FLAG`.
    UInt,
    /// `DECIMAL` / `NEWDECIMAL`.
    Decimal,
    /// `FLOAT`.
    Float,
    /// `DOUBLE`.
    Double,
    /// `DATE`.
    Date,
    /// `DATETIME` / `TIMESTAMP`.
    DateTime,
    /// `TIME`.
    Time,
    /// `YEAR`.
    Year,
    /// `BIT(n)`: big-endian bytes.
    Bit,
    /// Everything else: strings, blobs, `ENUM`, `SET`, `JSON`, geometry.
    Bytes,
}

impl ValueKind {
    /// `true` for kinds whose values compare as numbers.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ValueKind::Int
                | ValueKind::UInt
                | ValueKind::Decimal
                | ValueKind::Float
                | ValueKind::Double
                | ValueKind::Year
                | ValueKind::Bit
        )
    }

    /// `true` for integer kinds (`YEAR` and `BIT` included).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            ValueKind::Int | ValueKind::UInt | ValueKind::Year | ValueKind::Bit
        )
    }
}

impl ColumnMeta {
    /// A column of `column_type` with no flags, the binary charset and no decimals.
    pub fn new(column_type: ColumnType) -> ColumnMeta {
        ColumnMeta {
            column_type,
            flags: ColumnFlags::empty(),
            charset: 63,
            decimals: 0,
            length: 0,
        }
    }

    /// Parses a column-definition packet payload (protocol 4.1).
    pub fn from_definition(payload: &[u8]) -> Result<ColumnMeta> {
        let col: Column = ParseBuf(payload)
            .parse(())
            .map_err(|e| MergeError::ColumnDefinition(e.to_string()))?;
        Ok(ColumnMeta::from_column(&col))
    }

    /// The metadata of a parsed column definition.
    pub fn from_column(col: &Column) -> ColumnMeta {
        ColumnMeta {
            column_type: col.column_type(),
            flags: col.flags(),
            charset: col.character_set(),
            decimals: col.decimals(),
            length: col.column_length(),
        }
    }

    /// Returns `self` with `flags`.
    pub fn with_flags(mut self, flags: ColumnFlags) -> ColumnMeta {
        self.flags = flags;
        self
    }

    /// Returns `self` with collation id `charset`.
    pub fn with_charset(mut self, charset: u16) -> ColumnMeta {
        self.charset = charset;
        self
    }

    /// Returns `self` with `decimals`.
    pub fn with_decimals(mut self, decimals: u8) -> ColumnMeta {
        self.decimals = decimals;
        self
    }

    /// Returns `self` with display length `length`.
    pub fn with_length(mut self, length: u32) -> ColumnMeta {
        self.length = length;
        self
    }

    /// `true` with `UNSIGNED_FLAG`.
    pub fn is_unsigned(&self) -> bool {
        self.flags.contains(ColumnFlags::UNSIGNED_FLAG)
    }

    /// How this column's cells decode.
    pub fn kind(&self) -> ValueKind {
        use ColumnType::*;
        match self.column_type {
            MYSQL_TYPE_NULL => ValueKind::Null,
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG => {
                if self.is_unsigned() {
                    ValueKind::UInt
                } else {
                    ValueKind::Int
                }
            }
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => ValueKind::Decimal,
            MYSQL_TYPE_FLOAT => ValueKind::Float,
            MYSQL_TYPE_DOUBLE => ValueKind::Double,
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => ValueKind::Date,
            MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2 => ValueKind::DateTime,
            MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => ValueKind::Time,
            MYSQL_TYPE_YEAR => ValueKind::Year,
            MYSQL_TYPE_BIT => ValueKind::Bit,
            _ => ValueKind::Bytes,
        }
    }

    /// Whether the column holds text of some collation, which its definition may not say:
    /// a string column not in the binary character set — or in it without `BINARY_FLAG`,
    /// which is how MariaDB describes every text column under binary results (`SET NAMES
    /// binary`: 63 for all, the flag only on binary values), sending the column's own bytes.
    pub fn holds_text(&self) -> bool {
        self.kind() == ValueKind::Bytes
            && (self.charset != 63 || !self.flags.contains(ColumnFlags::BINARY_FLAG))
    }

    /// The collation strings of this column compare by.
    ///
    /// Only the binary charset (63) and `BINARY_FLAG` are reliable: MariaDB reports the
    /// default collation of `character_set_results` for every other string column and flags
    /// `*_bin` columns with `BINARY_FLAG`. A planner that knows better (an explicit
    /// `COLLATE`, the schema) sets `charset` to the real collation id and clears the flag.
    pub fn collation(&self) -> Collation {
        if self.kind() != ValueKind::Bytes || self.charset == 63 {
            return Collation::Binary;
        }
        if self.flags.contains(ColumnFlags::BINARY_FLAG) {
            return match Collation::from_id(self.charset) {
                Collation::Binary => Collation::Binary,
                _ => Collation::PadBinary,
            };
        }
        Collation::from_id(self.charset)
    }

    /// Rewrites a column-definition payload with this metadata (type, flags, charset,
    /// decimals, length) and, if given, a new column name: how the executor describes a
    /// computed column (`AVG(x)` built from the shards' `SUM(x)` definition).
    pub fn rewrite_definition(&self, payload: &[u8], name: Option<&[u8]>) -> Result<Vec<u8>> {
        let col: Column = ParseBuf(payload)
            .parse(())
            .map_err(|e| MergeError::ColumnDefinition(e.to_string()))?;
        Ok(self.encode_definition(
            col.schema_ref(),
            col.table_ref(),
            col.org_table_ref(),
            name.unwrap_or(col.name_ref()),
            col.org_name_ref(),
        ))
    }

    /// A column-definition payload named `name` with this metadata and no schema or table
    /// (what MariaDB sends for an expression).
    pub fn definition(&self, name: &[u8]) -> Vec<u8> {
        self.encode_definition(b"", b"", b"", name, b"")
    }

    fn encode_definition(
        &self,
        schema: &[u8],
        table: &[u8],
        org_table: &[u8],
        name: &[u8],
        org_name: &[u8],
    ) -> Vec<u8> {
        column_definition::encode(
            &ColumnNames {
                schema,
                table,
                org_table,
                name,
                org_name,
            },
            &ColumnAttributes {
                charset: self.charset,
                length: self.length,
                column_type: self.column_type,
                flags: self.flags,
                decimals: self.decimals,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_under_binary_results_is_told_from_binary_values() {
        let meta = |column_type, charset, flags| ColumnMeta {
            column_type,
            flags,
            charset,
            decimals: 0,
            length: 80,
        };
        let varchar = ColumnType::MYSQL_TYPE_VAR_STRING;
        // `SET NAMES binary`: a utf8mb4 column says 63 without BINARY_FLAG, a VARBINARY with it.
        assert!(meta(varchar, 63, ColumnFlags::empty()).holds_text());
        assert!(!meta(varchar, 63, ColumnFlags::BINARY_FLAG).holds_text());
        assert!(meta(varchar, 45, ColumnFlags::empty()).holds_text());
        assert!(meta(varchar, 45, ColumnFlags::BINARY_FLAG).holds_text());
        let int = ColumnType::MYSQL_TYPE_LONG;
        assert!(!meta(int, 63, ColumnFlags::empty()).holds_text());
    }

    /// A definition as MariaDB sends it for `SELECT SUM(d) AS total FROM app.t`.
    fn wire_definition() -> Vec<u8> {
        let mut p = Vec::new();
        for s in ["def", "app", "t", "t", "total", ""] {
            p.push(s.len() as u8);
            p.extend_from_slice(s.as_bytes());
        }
        p.push(0x0c);
        p.extend_from_slice(&63u16.to_le_bytes());
        p.extend_from_slice(&34u32.to_le_bytes());
        p.push(ColumnType::MYSQL_TYPE_NEWDECIMAL as u8);
        p.extend_from_slice(
            &(ColumnFlags::BINARY_FLAG | ColumnFlags::NUM_FLAG)
                .bits()
                .to_le_bytes(),
        );
        p.push(3);
        p.extend_from_slice(&[0, 0]);
        p
    }

    #[test]
    fn parses_a_column_definition() {
        let payload = wire_definition();
        let meta = ColumnMeta::from_definition(&payload).unwrap();
        assert_eq!(meta.column_type, ColumnType::MYSQL_TYPE_NEWDECIMAL);
        assert_eq!(meta.decimals, 3);
        assert_eq!(meta.length, 34);
        assert_eq!(meta.kind(), ValueKind::Decimal);
        assert!(ColumnMeta::from_definition(&payload[..payload.len() - 5]).is_err());
        assert!(ColumnMeta::from_definition(b"").is_err());
    }

    #[test]
    fn rewrites_type_and_name_keeping_the_rest() {
        let payload = wire_definition();
        let same = ColumnMeta::from_definition(&payload).unwrap();
        assert_eq!(same.rewrite_definition(&payload, None).unwrap(), payload);
        let avg = ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE)
            .with_decimals(31)
            .with_length(23);
        let out = avg.rewrite_definition(&payload, Some(b"AVG(x)")).unwrap();
        let col: Column = ParseBuf(&out).parse(()).unwrap();
        assert_eq!(col.name_str(), "AVG(x)");
        assert_eq!(col.schema_str(), "app");
        assert_eq!(col.org_table_str(), "t");
        assert_eq!(ColumnMeta::from_column(&col), avg);
        let fresh: Column = ParseBuf(&avg.definition(b"n")).parse(()).unwrap();
        assert_eq!(ColumnMeta::from_column(&fresh), avg);
    }

    #[test]
    fn collation_comes_from_charset_and_binary_flag() {
        let s = ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45);
        assert_eq!(s.collation(), Collation::GeneralCi);
        assert_eq!(
            s.with_flags(ColumnFlags::BINARY_FLAG).collation(),
            Collation::PadBinary
        );
        assert_eq!(s.with_charset(63).collation(), Collation::Binary);
        assert_eq!(s.with_charset(8).collation(), Collation::Latin1SwedishCi);
        assert_eq!(
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG).collation(),
            Collation::Binary
        );
    }

    #[test]
    fn kinds() {
        let int = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG);
        assert_eq!(int.kind(), ValueKind::Int);
        assert_eq!(
            int.with_flags(ColumnFlags::UNSIGNED_FLAG).kind(),
            ValueKind::UInt
        );
        assert_eq!(
            ColumnMeta::new(ColumnType::MYSQL_TYPE_TIMESTAMP).kind(),
            ValueKind::DateTime
        );
        assert_eq!(
            ColumnMeta::new(ColumnType::MYSQL_TYPE_ENUM).kind(),
            ValueKind::Bytes
        );
    }
}
