//! A set operation's branch cell in the type of the whole's column: MariaDB widens each
//! column over its branches (`INT ∪ DECIMAL(5,2)` → `DECIMAL`, `INT ∪ DOUBLE` → `DOUBLE`,
//! `DATE ∪ DATETIME` → `DATETIME`, anything ∪ a string → a string) and sends every row in
//! the widened type's text: `1` as `1.00` in a `DECIMAL(…,2)`, a FLOAT's `1.1` as
//! `1.100000023841858` in a `DOUBLE`, `2020-01-02` as `2020-01-02 00:00:00`. Conversions
//! the proxy cannot make exactly (a `TIME` in a `DATETIME`, which takes the current date; a
//! `BIT` in a number) are refused, never approximated.

use bytes::Bytes;

use crate::column::{ColumnMeta, ValueKind};
use crate::decimal::Decimal;
use crate::error::{MergeError, Result};
use crate::float_text::{format_double, parse_double};
use crate::row::{RowWriter, TextRow};

/// How the cells of one branch column become cells of the whole's column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// The text is the same in both types.
    Same,
    /// A number at this scale (`1` → `1.00`).
    DecimalScale(u32),
    /// A number as a `DOUBLE` with these decimals; `from_float`: the cell is a `FLOAT`'s.
    Double { decimals: u8, from_float: bool },
    /// A date or datetime as a datetime with this many fractional digits.
    DateTime(u8),
    /// A time with this many fractional digits.
    Time(u8),
}

/// The conversions of one branch's columns to the whole's.
#[derive(Debug, Clone)]
pub struct Widening {
    conversions: Vec<Conversion>,
}

fn conversion(from: &ColumnMeta, to: &ColumnMeta, column: usize) -> Result<Conversion> {
    use ValueKind as K;
    let (f, t) = (from.kind(), to.kind());
    let refused = || {
        MergeError::Unsupported(format!(
            "column {} of a set operation across shards: a {:?} value in a {:?} column of the result",
            column + 1,
            from.column_type,
            to.column_type
        ))
    };
    Ok(match (f, t) {
        (K::Null, _) | (_, K::Bytes) => Conversion::Same,
        (K::Int | K::UInt | K::Year, K::Int | K::UInt) => Conversion::Same,
        (K::Decimal, K::Decimal) if from.decimals == to.decimals => Conversion::Same,
        (K::Int | K::UInt | K::Year | K::Decimal, K::Decimal) if from.decimals <= to.decimals => {
            Conversion::DecimalScale(u32::from(to.decimals))
        }
        (K::Double, K::Double) if from.decimals == to.decimals => Conversion::Same,
        (K::Float, K::Float) if from.decimals == to.decimals => Conversion::Same,
        (K::Int | K::UInt | K::Year | K::Decimal | K::Double, K::Double) => Conversion::Double {
            decimals: to.decimals,
            from_float: false,
        },
        (K::Float, K::Double) => Conversion::Double {
            decimals: to.decimals,
            from_float: true,
        },
        (K::Date, K::Date) | (K::Year, K::Year) | (K::Bit, K::Bit) => Conversion::Same,
        (K::Date | K::DateTime, K::DateTime) => {
            if f == K::DateTime && from.decimals == to.decimals {
                Conversion::Same
            } else if f == K::Date || from.decimals < to.decimals {
                Conversion::DateTime(to.decimals)
            } else {
                return Err(refused());
            }
        }
        (K::Time, K::Time) if from.decimals == to.decimals => Conversion::Same,
        (K::Time, K::Time) if from.decimals < to.decimals => Conversion::Time(to.decimals),
        _ => return Err(refused()),
    })
}

/// `decimals` fractional-second digits of a temporal text that has `text`'s (`.` included).
fn pad_fraction(text: &[u8], after: usize, decimals: u8, out: &mut Vec<u8>) {
    out.extend_from_slice(text);
    let have = text.len().saturating_sub(after + 1);
    let have = if text.len() > after { have } else { 0 };
    if decimals == 0 {
        return;
    }
    if text.len() <= after {
        out.push(b'.');
    }
    out.resize(out.len() + usize::from(decimals).saturating_sub(have), b'0');
}

impl Conversion {
    fn apply(self, cell: &[u8], column: usize, from: &ColumnMeta) -> Result<Option<Bytes>> {
        let bad = || MergeError::BadValue {
            column,
            column_type: from.column_type,
            text: String::from_utf8_lossy(&cell[..cell.len().min(64)]).into_owned(),
        };
        Ok(Some(match self {
            Conversion::Same => return Ok(None),
            Conversion::DecimalScale(scale) => {
                let d = Decimal::parse(cell).ok_or_else(bad)?;
                Bytes::from(d.rescale(scale).to_string())
            }
            Conversion::Double {
                decimals,
                from_float,
            } => {
                let v = parse_double(cell).ok_or_else(bad)?;
                let v = if from_float { f64::from(v as f32) } else { v };
                Bytes::from(format_double(v, decimals))
            }
            Conversion::DateTime(decimals) => {
                let mut out = Vec::with_capacity(26);
                if cell.len() == 10 {
                    out.extend_from_slice(cell);
                    out.extend_from_slice(b" 00:00:00");
                    let text = std::mem::take(&mut out);
                    pad_fraction(&text, 19, decimals, &mut out);
                } else {
                    pad_fraction(cell, 19, decimals, &mut out);
                }
                Bytes::from(out)
            }
            Conversion::Time(decimals) => {
                let after = cell.iter().position(|&b| b == b'.').unwrap_or(cell.len());
                let mut out = Vec::with_capacity(cell.len() + 7);
                pad_fraction(cell, after, decimals, &mut out);
                Bytes::from(out)
            }
        }))
    }
}

impl Widening {
    /// The conversions from a branch with columns `from` to the whole's `to`; an error names
    /// the first column the proxy cannot convert exactly, or a different column count.
    pub fn new(from: &[ColumnMeta], to: &[ColumnMeta]) -> Result<Widening> {
        if from.len() != to.len() {
            return Err(MergeError::Unsupported(format!(
                "a set operation whose branch has {} columns where the result has {}",
                from.len(),
                to.len()
            )));
        }
        let conversions = from
            .iter()
            .zip(to)
            .enumerate()
            .map(|(i, (f, t))| conversion(f, t, i))
            .collect::<Result<Vec<_>>>()?;
        Ok(Widening { conversions })
    }

    /// Whether every cell passes unchanged.
    pub fn is_identity(&self) -> bool {
        self.conversions.iter().all(|c| *c == Conversion::Same)
    }

    /// `row` (a branch's text row) in the whole's types; `from`: the branch's columns.
    pub fn apply(&self, row: Bytes, from: &[ColumnMeta]) -> Result<Bytes> {
        if self.is_identity() {
            return Ok(row);
        }
        let parsed = TextRow::parse(row, self.conversions.len())?;
        let mut out = RowWriter::with_capacity(parsed.payload().len() + 16);
        for (i, conversion) in self.conversions.iter().enumerate() {
            match parsed.cell(i) {
                None => out.push_cell(None),
                Some(cell) => match conversion.apply(cell, i, &from[i])? {
                    Some(converted) => out.push_cell(Some(&converted)),
                    None => out.push_cell(Some(cell)),
                },
            }
        }
        Ok(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::ColumnMeta;
    use crate::row::RowWriter;
    use mysql_common::constants::ColumnType;

    fn row(cells: &[Option<&str>]) -> Bytes {
        let mut w = RowWriter::new();
        for c in cells {
            w.push_cell(c.map(str::as_bytes));
        }
        w.finish()
    }

    fn widen(from: ColumnMeta, to: ColumnMeta, cell: &str) -> String {
        let w = Widening::new(&[from], &[to]).expect("convertible");
        let out = w.apply(row(&[Some(cell)]), &[from]).expect("converted");
        let parsed = TextRow::parse(out, 1).expect("row");
        String::from_utf8(parsed.cell(0).expect("not null").to_vec()).expect("utf-8")
    }

    const INT: ColumnType = ColumnType::MYSQL_TYPE_LONG;
    const DEC: ColumnType = ColumnType::MYSQL_TYPE_NEWDECIMAL;
    const DBL: ColumnType = ColumnType::MYSQL_TYPE_DOUBLE;

    #[test]
    fn numbers_take_the_wider_types_text() {
        let int = ColumnMeta::new(INT);
        let dec2 = ColumnMeta::new(DEC).with_decimals(2);
        let dec0 = ColumnMeta::new(DEC).with_decimals(0);
        let dbl = ColumnMeta::new(DBL).with_decimals(31);
        let float = ColumnMeta::new(ColumnType::MYSQL_TYPE_FLOAT).with_decimals(31);
        assert_eq!(widen(int, dec2, "-7"), "-7.00");
        assert_eq!(widen(dec0, dec2, "12"), "12.00");
        assert_eq!(
            widen(ColumnMeta::new(DEC).with_decimals(1), dec2, "1.5"),
            "1.50"
        );
        assert_eq!(widen(int, dbl, "42"), "42");
        assert_eq!(widen(dec2, dbl, "1.50"), "1.5");
        assert_eq!(widen(float, dbl, "1.1"), "1.100000023841858");
        let bigint = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG);
        assert_eq!(widen(bigint, dbl, "1000000000000000"), "1e15");
    }

    #[test]
    fn temporals_gain_time_and_fraction() {
        let date = ColumnMeta::new(ColumnType::MYSQL_TYPE_DATE);
        let dt0 = ColumnMeta::new(ColumnType::MYSQL_TYPE_DATETIME);
        let dt3 = ColumnMeta::new(ColumnType::MYSQL_TYPE_DATETIME).with_decimals(3);
        assert_eq!(widen(date, dt0, "2020-01-02"), "2020-01-02 00:00:00");
        assert_eq!(widen(date, dt3, "2020-01-02"), "2020-01-02 00:00:00.000");
        assert_eq!(
            widen(dt0, dt3, "2020-01-02 03:04:05"),
            "2020-01-02 03:04:05.000"
        );
        let t0 = ColumnMeta::new(ColumnType::MYSQL_TYPE_TIME);
        let t2 = ColumnMeta::new(ColumnType::MYSQL_TYPE_TIME).with_decimals(2);
        assert_eq!(widen(t0, t2, "-838:00:00"), "-838:00:00.00");
    }

    #[test]
    fn strings_and_nulls_pass_and_inexact_conversions_are_refused() {
        let s = ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING);
        assert_eq!(widen(ColumnMeta::new(DBL), s, "1.5"), "1.5");
        let w = Widening::new(
            &[ColumnMeta::new(INT)],
            &[ColumnMeta::new(DEC).with_decimals(1)],
        )
        .expect("convertible");
        let out = w.apply(row(&[None]), &[ColumnMeta::new(INT)]).expect("row");
        assert_eq!(TextRow::parse(out, 1).expect("row").cell(0), None);
        let time = ColumnMeta::new(ColumnType::MYSQL_TYPE_TIME);
        let dt = ColumnMeta::new(ColumnType::MYSQL_TYPE_DATETIME);
        assert!(Widening::new(&[time], &[dt]).is_err());
        assert!(Widening::new(&[ColumnMeta::new(INT)], &[]).is_err());
    }
}
