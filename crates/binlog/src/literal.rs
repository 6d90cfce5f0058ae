//! A binlog value as a MariaDB literal that reads back bit for bit into its column.
//!
//! The applying session runs with `time_zone = '+00:00'` (TIMESTAMPs are written as UTC
//! times) and `sql_mode = 'NO_AUTO_VALUE_ON_ZERO'` (zero dates and a 0 id are stored as given).
//! Strings are written as hex, so no character set or `sql_mode` changes their bytes.

use std::fmt::Write;

use mysql_common::binlog::value::BinlogValue;
use mysql_common::value::Value;

use crate::table::ColumnKind;
use crate::BinlogError;

/// Appends the literal of `value`, a value of a column of `kind`, to `out`.
pub fn write_literal(
    value: &BinlogValue<'_>,
    kind: ColumnKind,
    out: &mut String,
) -> Result<(), BinlogError> {
    let value = match value {
        BinlogValue::Value(v) => v,
        // MySQL's binary JSON and partial JSON updates: MariaDB writes neither.
        BinlogValue::Jsonb(_) | BinlogValue::JsonDiff(_) => {
            return Err(BinlogError::UnsupportedValue("MySQL binary JSON"))
        }
    };
    let unexpected = || BinlogError::ValueMismatch(format!("{value:?} for a {kind:?} column"));
    match (value, kind) {
        (Value::NULL, _) => out.push_str("NULL"),
        (
            Value::Int(v),
            ColumnKind::Integer {
                unsigned: true,
                bytes,
            },
        ) => {
            let mask = match bytes {
                8 => u64::MAX,
                n => (1u64 << (8 * u32::from(n))) - 1,
            };
            write!(out, "{}", (*v as u64) & mask).expect("String writes");
        }
        (Value::Int(v), ColumnKind::Timestamp) => {
            write_utc(u64::try_from(*v).map_err(|_| unexpected())?, 0, out)
        }
        (Value::Int(v), _) => write!(out, "{v}").expect("String writes"),
        (Value::UInt(v), _) => write!(out, "{v}").expect("String writes"),
        // Through the double the float widens to exactly: the server's text → double → float
        // conversion gives the same bits back.
        (Value::Float(v), _) => write!(out, "{:e}", f64::from(*v)).expect("String writes"),
        (Value::Double(v), _) => write!(out, "{v:e}").expect("String writes"),
        (Value::Date(y, m, d, ..), ColumnKind::Date) => {
            write!(out, "'{y:04}-{m:02}-{d:02}'").expect("String writes")
        }
        (Value::Date(y, mo, d, h, mi, s, us), _) => {
            write!(out, "'{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'")
                .expect("String writes")
        }
        (Value::Time(negative, days, h, m, s, us), _) => {
            let sign = if *negative { "-" } else { "" };
            let hours = u64::from(*days) * 24 + u64::from(*h);
            write!(out, "'{sign}{hours:02}:{m:02}:{s:02}.{us:06}'").expect("String writes")
        }
        (Value::Bytes(b), ColumnKind::Decimal) => {
            let text = std::str::from_utf8(b).map_err(|_| unexpected())?;
            let numeric = !text.is_empty()
                && (text.bytes()).all(|c| c.is_ascii_digit() || c == b'-' || c == b'.');
            if !numeric {
                return Err(unexpected());
            }
            out.push_str(text);
        }
        (Value::Bytes(b), ColumnKind::Year) => match &b[..] {
            // The decoder adds 1900 to the stored byte; 0 is the year 0000.
            b"1900" => out.push('0'),
            _ => out.push_str(std::str::from_utf8(b).map_err(|_| unexpected())?),
        },
        (Value::Bytes(b), ColumnKind::Timestamp) => {
            let text = std::str::from_utf8(b).map_err(|_| unexpected())?;
            let (secs, micros) = text.split_once('.').unwrap_or((text, "0"));
            let secs = secs.parse().map_err(|_| unexpected())?;
            let micros = micros.parse().map_err(|_| unexpected())?;
            write_utc(secs, micros, out);
        }
        (Value::Bytes(b), ColumnKind::Bit) => {
            write!(out, "{}", be_number(b).ok_or_else(unexpected)?).expect("String writes")
        }
        (Value::Bytes(b), ColumnKind::Set) => {
            let mut le = b.clone();
            le.reverse();
            write!(out, "{}", be_number(&le).ok_or_else(unexpected)?).expect("String writes")
        }
        (Value::Bytes(b), _) => {
            out.push_str("X'");
            out.push_str(&hex::encode_upper(b));
            out.push('\'');
        }
    }
    Ok(())
}

/// A big-endian number of at most 8 bytes.
fn be_number(bytes: &[u8]) -> Option<u64> {
    (bytes.len() <= 8).then(|| (bytes.iter()).fold(0u64, |n, b| (n << 8) | u64::from(*b)))
}

/// A TIMESTAMP as its UTC time; the epoch itself is MariaDB's zero timestamp.
fn write_utc(secs: u64, micros: u32, out: &mut String) {
    if secs == 0 && micros == 0 {
        out.push_str("'0000-00-00 00:00:00'");
        return;
    }
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    write!(
        out,
        "'{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}'",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
    .expect("String writes");
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lit(value: Value, kind: ColumnKind) -> String {
        let mut out = String::new();
        write_literal(&BinlogValue::Value(value), kind, &mut out).unwrap();
        out
    }

    const INT: ColumnKind = ColumnKind::Integer {
        unsigned: false,
        bytes: 4,
    };

    #[test]
    fn unsigned_integers_are_read_back_from_their_signed_decoding() {
        let unsigned = |bytes| ColumnKind::Integer {
            unsigned: true,
            bytes,
        };
        assert_eq!(lit(Value::Int(-1), unsigned(1)), "255");
        assert_eq!(lit(Value::Int(-1), unsigned(3)), "16777215");
        assert_eq!(lit(Value::Int(-1), unsigned(8)), "18446744073709551615");
        assert_eq!(lit(Value::Int(-5), INT), "-5");
        assert_eq!(lit(Value::UInt(7), unsigned(8)), "7");
    }

    #[test]
    fn temporal_values() {
        let dt = Value::Date(2024, 2, 29, 23, 59, 58, 123_456);
        assert_eq!(
            lit(dt, ColumnKind::DateTime),
            "'2024-02-29 23:59:58.123456'"
        );
        let d = Value::Date(2024, 2, 29, 0, 0, 0, 0);
        assert_eq!(lit(d, ColumnKind::Date), "'2024-02-29'");
        let t = Value::Time(true, 34, 22, 59, 59, 5);
        assert_eq!(lit(t, ColumnKind::Time), "'-838:59:59.000005'");
        let ts = |s: &str| lit(Value::Bytes(s.into()), ColumnKind::Timestamp);
        assert_eq!(ts("1709251198.000120"), "'2024-02-29 23:59:58.000120'");
        assert_eq!(ts("0"), "'0000-00-00 00:00:00'");
        assert_eq!(ts("2147483647"), "'2038-01-19 03:14:07.000000'");
        assert_eq!(lit(Value::Bytes("1900".into()), ColumnKind::Year), "0");
        assert_eq!(lit(Value::Bytes("2155".into()), ColumnKind::Year), "2155");
    }

    #[test]
    fn bits_sets_enums_decimals_and_strings() {
        assert_eq!(lit(Value::Bytes(vec![1, 2]), ColumnKind::Bit), "258");
        assert_eq!(lit(Value::Bytes(vec![5, 1]), ColumnKind::Set), "261");
        assert_eq!(lit(Value::Int(3), ColumnKind::Enum), "3");
        assert_eq!(
            lit(Value::Bytes("-12.50".into()), ColumnKind::Decimal),
            "-12.50"
        );
        assert_eq!(
            lit(Value::Bytes(b"a'\\\0".to_vec()), ColumnKind::Bytes),
            "X'61275C00'"
        );
        assert_eq!(lit(Value::Bytes(Vec::new()), ColumnKind::Bytes), "X''");
        assert_eq!(lit(Value::NULL, INT), "NULL");
        let mut out = String::new();
        let odd = BinlogValue::Value(Value::Bytes("1;DROP".into()));
        assert!(write_literal(&odd, ColumnKind::Decimal, &mut out).is_err());
    }

    proptest! {
        #[test]
        fn doubles_read_back_exactly(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            prop_assume!(v.is_finite());
            let text = lit(Value::Double(v), ColumnKind::Double);
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), v.to_bits());
        }

        #[test]
        fn floats_read_back_exactly(bits in any::<u32>()) {
            let v = f32::from_bits(bits);
            prop_assume!(v.is_finite());
            let text = lit(Value::Float(v), ColumnKind::Float);
            // The server reads a double, then narrows it to the column's float.
            prop_assert_eq!((text.parse::<f64>().unwrap() as f32).to_bits(), v.to_bits());
        }

        #[test]
        fn utc_dates_agree_with_day_counting(days in 0i64..2_932_896) {
            let (y, m, d) = civil_from_days(days);
            let (y0, m0, d0) = civil_from_days(days - 1);
            let next_day = (y, m, d) > (y0, m0, d0);
            prop_assert!(next_day && (1..=12).contains(&m) && (1..=31).contains(&d));
        }
    }
}
