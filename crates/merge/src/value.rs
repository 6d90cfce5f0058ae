//! One decoded cell of a text-protocol row, and its text as MariaDB would send it.

use bytes::Bytes;

use crate::column::{ColumnMeta, ValueKind};
use crate::decimal::Decimal;
use crate::error::{MergeError, Result};
use crate::float_text::{format_double, format_float, parse_double, NOT_FIXED_DEC};
use crate::temporal::{Date, DateTime, Time};

/// A value of a result cell. Values carry what their text needs (a decimal's scale, a
/// double's fixed decimals, a datetime's fractional digits), so [`Value::write_text`] and
/// [`encode_text_row`](crate::encode_text_row) need no column metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// An exact decimal; prints with its scale.
    Decimal(Decimal),
    /// A `FLOAT`; `decimals` ≥ 31 means not fixed.
    Float {
        /// The value.
        value: f32,
        /// Fixed fractional digits, or [`NOT_FIXED_DEC`].
        decimals: u8,
    },
    /// A `DOUBLE`; `decimals` ≥ 31 means not fixed.
    Double {
        /// The value.
        value: f64,
        /// Fixed fractional digits, or [`NOT_FIXED_DEC`].
        decimals: u8,
    },
    /// A string or binary string, as sent (in the connection's result charset).
    Bytes(Bytes),
    /// A `DATE`.
    Date(Date),
    /// A `DATETIME` or `TIMESTAMP`.
    DateTime(DateTime),
    /// A `TIME`.
    Time(Time),
    /// A `YEAR`.
    Year(u16),
    /// A `BIT(n)`: its big-endian bytes as sent.
    Bit(Bytes),
}

impl Value {
    /// A `DOUBLE` without fixed decimals.
    pub fn double(value: f64) -> Value {
        Value::Double {
            value,
            decimals: NOT_FIXED_DEC,
        }
    }

    /// A string value.
    pub fn bytes(s: impl Into<Bytes>) -> Value {
        Value::Bytes(s.into())
    }

    /// `true` for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Decodes one cell (`None` = NULL) of a column. `column` only names the column in errors.
    pub fn decode(cell: Option<Bytes>, meta: &ColumnMeta, column: usize) -> Result<Value> {
        let Some(cell) = cell else {
            return Ok(Value::Null);
        };
        let kind = meta.kind();
        let bad = || MergeError::BadValue {
            column,
            column_type: meta.column_type,
            text: String::from_utf8_lossy(&cell[..cell.len().min(64)]).into_owned(),
        };
        let text = &cell[..];
        let v = match kind {
            ValueKind::Null => Value::Null,
            ValueKind::Bytes => Value::Bytes(cell.clone()),
            ValueKind::Bit => Value::Bit(cell.clone()),
            ValueKind::Int => Value::Int(parse_int(text).ok_or_else(bad)?),
            ValueKind::UInt => Value::UInt(parse_uint(text).ok_or_else(bad)?),
            ValueKind::Year => Value::Year(
                parse_uint(text)
                    .and_then(|v| u16::try_from(v).ok())
                    .ok_or_else(bad)?,
            ),
            ValueKind::Decimal => Value::Decimal(Decimal::parse(text).ok_or_else(bad)?),
            ValueKind::Double => Value::Double {
                value: parse_double(text).ok_or_else(bad)?,
                decimals: meta.decimals,
            },
            ValueKind::Float => Value::Float {
                value: parse_double(text)
                    .map(|v| v as f32)
                    .filter(|v| v.is_finite())
                    .ok_or_else(bad)?,
                decimals: meta.decimals,
            },
            ValueKind::Date => Value::Date(Date::parse(text).ok_or_else(bad)?),
            ValueKind::DateTime => Value::DateTime(DateTime::parse(text).ok_or_else(bad)?),
            ValueKind::Time => Value::Time(Time::parse(text).ok_or_else(bad)?),
        };
        Ok(v)
    }

    /// Appends the text MariaDB sends for this value (nothing for NULL, which is not text).
    pub fn write_text(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        match self {
            Value::Null => {}
            Value::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Value::UInt(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Decimal(d) => {
                let _ = write!(out, "{d}");
            }
            Value::Float { value, decimals } => {
                out.extend_from_slice(format_float(*value, *decimals).as_bytes())
            }
            Value::Double { value, decimals } => {
                out.extend_from_slice(format_double(*value, *decimals).as_bytes())
            }
            Value::Bytes(b) | Value::Bit(b) => out.extend_from_slice(b),
            Value::Date(d) => {
                let _ = write!(out, "{d}");
            }
            Value::DateTime(d) => {
                let _ = write!(out, "{d}");
            }
            Value::Time(t) => {
                let _ = write!(out, "{t}");
            }
            Value::Year(y) => {
                let _ = write!(out, "{y:04}");
            }
        }
    }

    /// The text of this value; `None` for NULL.
    pub fn to_text(&self) -> Option<Vec<u8>> {
        if self.is_null() {
            return None;
        }
        let mut out = Vec::new();
        self.write_text(&mut out);
        Some(out)
    }

    /// The integer value of integer-like values (`Int`, `UInt`, `Year`, `Bit`).
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Int(v) => Some(i128::from(*v)),
            Value::UInt(v) => Some(i128::from(*v)),
            Value::Year(v) => Some(i128::from(*v)),
            Value::Bit(b) => bit_value(b).map(i128::from),
            _ => None,
        }
    }

    /// The value as an exact decimal, for integer-like values and decimals.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Decimal(d) => Some(d.clone()),
            _ => self.as_i128().map(Decimal::from),
        }
    }

    /// The value as a double, the way MariaDB converts for arithmetic: numbers exactly or
    /// rounded, strings by their numeric prefix (`'12abc'` → 12, `'abc'` → 0), temporal values
    /// as `YYYYMMDDhhmmss.ffffff`. `None` for NULL.
    pub fn to_f64(&self) -> Option<f64> {
        Some(match self {
            Value::Null => return None,
            Value::Float { value, .. } => f64::from(*value),
            Value::Double { value, .. } => *value,
            Value::Decimal(d) => d.to_f64(),
            Value::Bytes(b) => string_prefix_f64(b),
            Value::Date(d) => d.to_number() as f64,
            Value::DateTime(d) => {
                let (w, us) = d.to_number();
                w as f64 + f64::from(us) / 1e6
            }
            Value::Time(t) => {
                let (w, us) = t.to_number();
                let frac = f64::from(us) / 1e6;
                if w < 0 || t.negative {
                    w as f64 - frac
                } else {
                    w as f64 + frac
                }
            }
            other => other.as_i128()? as f64,
        })
    }
}

/// The unsigned value of `BIT` bytes (up to 8 bytes).
pub(crate) fn bit_value(b: &[u8]) -> Option<u64> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    let b = &b[start..];
    if b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x)))
}

fn parse_int(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn parse_uint(text: &[u8]) -> Option<u64> {
    if text.first() == Some(&b'+') {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// MariaDB's string-to-number conversion: leading spaces skipped, the longest numeric prefix
/// read, 0 when there is none.
pub(crate) fn string_prefix_f64(s: &[u8]) -> f64 {
    let s = match s.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(p) => &s[p..],
        None => return 0.0,
    };
    let mut end = 0;
    let n = s.len();
    if end < n && (s[end] == b'-' || s[end] == b'+') {
        end += 1;
    }
    let int_start = end;
    while end < n && s[end].is_ascii_digit() {
        end += 1;
    }
    let mut digits = end - int_start;
    if end < n && s[end] == b'.' {
        let frac_start = end + 1;
        let mut e = frac_start;
        while e < n && s[e].is_ascii_digit() {
            e += 1;
        }
        digits += e - frac_start;
        if digits > 0 {
            end = e;
        }
    }
    if digits == 0 {
        return 0.0;
    }
    if end < n && (s[end] == b'e' || s[end] == b'E') {
        let mut e = end + 1;
        if e < n && (s[e] == b'-' || s[e] == b'+') {
            e += 1;
        }
        let exp_start = e;
        while e < n && s[e].is_ascii_digit() {
            e += 1;
        }
        if e > exp_start {
            end = e;
        }
    }
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .map(|v| {
            if v.is_finite() {
                v
            } else {
                v.signum() * f64::MAX
            }
        })
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::{ColumnFlags, ColumnType};

    fn decode(text: &str, meta: ColumnMeta) -> Result<Value> {
        Value::decode(Some(Bytes::copy_from_slice(text.as_bytes())), &meta, 0)
    }

    fn m(t: ColumnType) -> ColumnMeta {
        ColumnMeta::new(t)
    }

    #[test]
    fn decodes_each_kind_and_prints_it_back() {
        let u = m(ColumnType::MYSQL_TYPE_LONGLONG).with_flags(ColumnFlags::UNSIGNED_FLAG);
        let cases: Vec<(&str, ColumnMeta)> = vec![
            ("-42", m(ColumnType::MYSQL_TYPE_LONG)),
            ("18446744073709551615", u),
            ("-0.749", m(ColumnType::MYSQL_TYPE_NEWDECIMAL)),
            ("1e20", m(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(31)),
            ("18.35", m(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(2)),
            (
                "123457000",
                m(ColumnType::MYSQL_TYPE_FLOAT).with_decimals(31),
            ),
            ("héllo", m(ColumnType::MYSQL_TYPE_VAR_STRING)),
            ("2024-02-29", m(ColumnType::MYSQL_TYPE_DATE)),
            (
                "2024-02-29 12:00:00.250",
                m(ColumnType::MYSQL_TYPE_DATETIME).with_decimals(3),
            ),
            ("-838:59:59", m(ColumnType::MYSQL_TYPE_TIME)),
            ("2001", m(ColumnType::MYSQL_TYPE_YEAR)),
            ("0000", m(ColumnType::MYSQL_TYPE_YEAR)),
        ];
        for (text, meta) in cases {
            let v = decode(text, meta).unwrap();
            assert_eq!(v.to_text().unwrap(), text.as_bytes(), "{v:?}");
        }
        assert_eq!(Value::decode(None, &u, 0).unwrap(), Value::Null);
        assert_eq!(
            decode("00042", m(ColumnType::MYSQL_TYPE_LONG)).unwrap(),
            Value::Int(42)
        );
    }

    #[test]
    fn bad_cells_are_errors_naming_the_column() {
        let int = m(ColumnType::MYSQL_TYPE_LONG);
        for (text, meta) in [
            ("12x", int),
            ("", int),
            ("99999999999999999999", int),
            ("-1", int.with_flags(ColumnFlags::UNSIGNED_FLAG)),
            ("1.2.3", m(ColumnType::MYSQL_TYPE_NEWDECIMAL)),
            ("inf", m(ColumnType::MYSQL_TYPE_DOUBLE)),
            ("1e39", m(ColumnType::MYSQL_TYPE_FLOAT)),
            ("2024-13", m(ColumnType::MYSQL_TYPE_DATE)),
            ("70000", m(ColumnType::MYSQL_TYPE_YEAR)),
        ] {
            let err =
                Value::decode(Some(Bytes::copy_from_slice(text.as_bytes())), &meta, 7).unwrap_err();
            assert!(
                matches!(err, MergeError::BadValue { column: 7, .. }),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn strings_convert_to_numbers_by_prefix() {
        for (s, v) in [
            ("12abc", 12.0),
            ("abc", 0.0),
            ("  -1.5e2x", -150.0),
            (".5", 0.5),
            ("1e", 1.0),
            ("-", 0.0),
            ("", 0.0),
        ] {
            assert_eq!(string_prefix_f64(s.as_bytes()), v, "{s}");
        }
    }

    #[test]
    fn bits_are_unsigned_big_endian() {
        assert_eq!(bit_value(&[0, 1, 0]), Some(256));
        assert_eq!(Value::Bit(Bytes::from_static(&[0xff])).as_i128(), Some(255));
    }
}
