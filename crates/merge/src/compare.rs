//! Ordering values and rows the way MariaDB's `ORDER BY` does.
//!
//! NULL sorts first ascending (last descending). Numbers compare by value across `INT`,
//! `DECIMAL`, `DOUBLE`, `YEAR` and `BIT` — exactly, so the order is total even where MariaDB
//! would round a `DECIMAL` to a `DOUBLE` first (within one column all values share a type,
//! and then the two agree). Strings compare by a [`Collation`]; `DATE` and `DATETIME` values
//! chronologically; `TIME` values by signed duration (`-01:00:00` < `00:00:00`). Values of
//! different families (never in one column) order NULL < numbers < dates < times < strings.
//!
//! [`value_key`] gives every value a byte key that is equal exactly when the values compare
//! equal, for hashing (`DISTINCT`, `GROUP BY` without an order).

use std::cmp::Ordering;

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::decimal::Decimal;
use crate::error::{MergeError, Result};
use crate::row::TextRow;
use crate::temporal::DateTime;
use crate::value::{bit_value, Value};
use shardgate_collation::Collation;

/// One `ORDER BY` term: a column of the row and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    /// Index of the column in the row.
    pub column: usize,
    /// `DESC`.
    pub descending: bool,
}

impl SortKey {
    /// `column ASC`.
    pub fn asc(column: usize) -> SortKey {
        SortKey {
            column,
            descending: false,
        }
    }

    /// `column DESC`.
    pub fn desc(column: usize) -> SortKey {
        SortKey {
            column,
            descending: true,
        }
    }
}

enum Num<'a> {
    Int(i128),
    Dbl(f64),
    Dec(&'a Decimal),
}

fn num(v: &Value) -> Option<Num<'_>> {
    Some(match v {
        Value::Int(i) => Num::Int(i128::from(*i)),
        Value::UInt(u) => Num::Int(i128::from(*u)),
        Value::Year(y) => Num::Int(i128::from(*y)),
        Value::Bit(b) => match bit_value(b) {
            Some(u) => Num::Int(i128::from(u)),
            None => return None,
        },
        Value::Decimal(d) => Num::Dec(d),
        Value::Double { value, .. } => Num::Dbl(*value),
        Value::Float { value, .. } => Num::Dbl(f64::from(*value)),
        _ => return None,
    })
}

/// Family rank, for values of different families.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Date(_) | Value::DateTime(_) => 2,
        Value::Time(_) => 3,
        Value::Bytes(_) => 4,
        // An over-long BIT value that is not a number sorts with the strings.
        Value::Bit(b) if bit_value(b).is_none() => 4,
        _ => 1,
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    // Values are finite; -0.0 == 0.0.
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Exact comparison of a decimal with a finite double.
fn cmp_dec_f64(d: &Decimal, f: f64) -> Ordering {
    match cmp_f64(d.to_f64(), f) {
        // Rounding to nearest is monotonic: a strict order of the rounded value is the order.
        Ordering::Equal => d.cmp(&Decimal::from_f64_exact(f)),
        o => o,
    }
}

fn cmp_num(a: Num<'_>, b: Num<'_>) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Dbl(x), Num::Dbl(y)) => cmp_f64(x, y),
        (Num::Dec(x), Num::Dec(y)) => x.cmp(y),
        (Num::Int(x), Num::Dec(y)) => Decimal::from(x).cmp(y),
        (Num::Dec(x), Num::Int(y)) => x.cmp(&Decimal::from(y)),
        (Num::Int(x), Num::Dbl(y)) => {
            if x.unsigned_abs() <= 1 << 53 {
                cmp_f64(x as f64, y)
            } else {
                cmp_dec_f64(&Decimal::from(x), y)
            }
        }
        (Num::Dbl(x), Num::Int(y)) => cmp_num(Num::Int(y), Num::Dbl(x)).reverse(),
        (Num::Dec(x), Num::Dbl(y)) => cmp_dec_f64(x, y),
        (Num::Dbl(x), Num::Dec(y)) => cmp_dec_f64(y, x).reverse(),
    }
}

fn as_datetime(v: &Value) -> Option<DateTime> {
    match v {
        Value::Date(d) => Some(DateTime::from_date(*d)),
        Value::DateTime(d) => Some(*d),
        _ => None,
    }
}

/// Compares two values in ascending `ORDER BY` order; strings by `collation`.
pub fn compare_values(a: &Value, b: &Value, collation: Collation) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Bytes(x) | Value::Bit(x), Value::Bytes(y) | Value::Bit(y)) if ra == 4 => {
            collation.compare(x, y)
        }
        (Value::Time(x), Value::Time(y)) => x.total_micros().cmp(&y.total_micros()),
        _ => {
            if let (Some(x), Some(y)) = (as_datetime(a), as_datetime(b)) {
                return x.chrono_cmp(&y);
            }
            match (num(a), num(b)) {
                (Some(x), Some(y)) => cmp_num(x, y),
                _ => Ordering::Equal,
            }
        }
    }
}

/// Appends a self-delimiting key of `v` to `out`: two values of one column get equal keys
/// exactly when [`compare_values`] finds them equal.
pub fn value_key(v: &Value, collation: Collation, out: &mut Vec<u8>) {
    match rank(v) {
        0 => out.push(0),
        1 => {
            out.push(1);
            let exact = match num(v) {
                Some(Num::Dbl(f)) => Some(f),
                Some(Num::Int(i)) => {
                    let f = i as f64;
                    (f as i128 == i && f.abs() < 1.7e38).then_some(f)
                }
                Some(Num::Dec(d)) => d.to_f64_exact(),
                None => None,
            };
            match exact {
                Some(f) => {
                    let f = if f == 0.0 { 0.0 } else { f };
                    out.push(b'D');
                    out.extend_from_slice(&f.to_bits().to_be_bytes());
                }
                None => {
                    let d = match v {
                        Value::Decimal(d) => d.normalized(),
                        other => Decimal::from(other.as_i128().unwrap_or(0)).normalized(),
                    };
                    push_var(out, b'X', d.to_string().as_bytes());
                }
            }
        }
        2 => {
            out.push(2);
            let d = as_datetime(v).unwrap_or(DateTime::from_date(Default::default()));
            out.extend_from_slice(&d.date.year.to_be_bytes());
            out.extend_from_slice(&[d.date.month, d.date.day, d.hour, d.minute, d.second]);
            out.extend_from_slice(&d.micros.to_be_bytes());
        }
        3 => {
            out.push(3);
            if let Value::Time(t) = v {
                out.extend_from_slice(&t.total_micros().to_be_bytes());
            }
        }
        _ => {
            let (Value::Bytes(b) | Value::Bit(b)) = v else {
                return;
            };
            let mut k = Vec::with_capacity(b.len());
            collation.key(b, &mut k);
            push_var(out, 4, &k);
        }
    }
}

fn push_var(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[derive(Debug, Clone)]
struct OrderKey {
    column: usize,
    descending: bool,
    collation: Collation,
    meta: ColumnMeta,
}

/// A row order (a list of [`SortKey`]s over columns with known metadata): extracts the key
/// values of row payloads and compares them.
#[derive(Debug, Clone)]
pub struct RowOrder {
    keys: Vec<OrderKey>,
    width: usize,
    /// `max_sort_length`: the bytes of a string's sort key [`Self::compare`] reads.
    sort_length: usize,
}

impl RowOrder {
    /// The order `keys` over rows of `columns`; each key's collation is its column's.
    pub fn new(keys: &[SortKey], columns: &[ColumnMeta]) -> Result<RowOrder> {
        let keys = keys
            .iter()
            .map(|k| {
                let meta = *columns.get(k.column).ok_or(MergeError::NoSuchColumn {
                    column: k.column,
                    columns: columns.len(),
                })?;
                Ok(OrderKey {
                    column: k.column,
                    descending: k.descending,
                    collation: meta.collation(),
                    meta,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RowOrder {
            keys,
            width: columns.len(),
            sort_length: shardgate_collation::DEFAULT_SORT_LENGTH,
        })
    }

    /// Sorts strings by their first `sort_length` bytes, the session's `max_sort_length`.
    pub fn set_sort_length(&mut self, sort_length: usize) {
        self.sort_length = sort_length;
    }

    /// Number of columns of the rows this order reads.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `true` without keys (every row compares equal).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parses a row payload and decodes its key values.
    pub fn extract(&self, payload: Bytes) -> Result<(TextRow, Vec<Value>)> {
        let row = TextRow::parse(payload, self.width)?;
        let vals = self.extract_row(&row)?;
        Ok((row, vals))
    }

    /// Decodes the key values of a parsed row.
    pub fn extract_row(&self, row: &TextRow) -> Result<Vec<Value>> {
        self.keys
            .iter()
            .map(|k| row.value(k.column, &k.meta))
            .collect()
    }

    /// Compares the key values of two rows.
    pub fn compare(&self, a: &[Value], b: &[Value]) -> Ordering {
        for ((k, x), y) in self.keys.iter().zip(a).zip(b) {
            let o = compare_sort_values(x, y, k.collation, self.sort_length);
            if o != Ordering::Equal {
                return if k.descending { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }

    /// The first key on which two rows' key values differ (`None`: they are equal).
    pub fn first_difference(&self, a: &[Value], b: &[Value]) -> Option<usize> {
        (self.keys.iter().zip(a).zip(b)).position(|((k, x), y)| {
            compare_sort_values(x, y, k.collation, self.sort_length).is_ne()
        })
    }

    /// Whether two rows' key values are equal as GROUP BY and DISTINCT compare them: whole
    /// values. (MariaDB sorts long strings by a prefix of their sort keys, [`Self::compare`],
    /// but groups them whole: strings equal in their first 1,024 bytes are two groups.)
    pub fn same_group(&self, a: &[Value], b: &[Value]) -> bool {
        (self.keys.iter().zip(a).zip(b))
            .all(|((k, x), y)| compare_values(x, y, k.collation).is_eq())
    }

    /// Appends the hash key of a row's key values, equal exactly when [`Self::same_group`]
    /// (see [`value_key`]).
    pub fn key_bytes(&self, vals: &[Value], out: &mut Vec<u8>) {
        for (k, v) in self.keys.iter().zip(vals) {
            value_key(v, k.collation, out);
        }
    }
}

/// [`compare_values`] as MariaDB's sort compares: strings by the first `sort_length`
/// (`max_sort_length`) bytes of their sort keys ([`Collation::compare_sort_prefixes`]).
fn compare_sort_values(a: &Value, b: &Value, collation: Collation, sort_length: usize) -> Ordering {
    match (a, b) {
        (Value::Bytes(x) | Value::Bit(x), Value::Bytes(y) | Value::Bit(y))
            if rank(a) == 4 && rank(b) == 4 =>
        {
            collation.compare_sort_prefixes(x, y, sort_length)
        }
        _ => compare_values(a, b, collation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temporal::Time;
    use Ordering::*;

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::parse(s.as_bytes()).unwrap())
    }

    fn key(v: &Value, c: Collation) -> Vec<u8> {
        let mut k = Vec::new();
        value_key(v, c, &mut k);
        k
    }

    #[test]
    fn null_sorts_first() {
        let c = Collation::Binary;
        assert_eq!(compare_values(&Value::Null, &Value::Int(i64::MIN), c), Less);
        assert_eq!(compare_values(&Value::bytes(""), &Value::Null, c), Greater);
        assert_eq!(compare_values(&Value::Null, &Value::Null, c), Equal);
    }

    #[test]
    fn numbers_compare_across_types() {
        let c = Collation::Binary;
        assert_eq!(compare_values(&Value::Int(1), &dec("1.000"), c), Equal);
        assert_eq!(
            compare_values(&Value::UInt(u64::MAX), &Value::Int(-1), c),
            Greater
        );
        assert_eq!(
            compare_values(&dec("0.1"), &Value::double(0.1), c),
            Less,
            "0.1 < the double nearest 0.1"
        );
        assert_eq!(compare_values(&dec("0.5"), &Value::double(0.5), c), Equal);
        assert_eq!(
            compare_values(
                &Value::Int(9007199254740993),
                &Value::double(9007199254740992.0),
                c
            ),
            Greater
        );
        assert_eq!(
            compare_values(&Value::double(-0.0), &Value::Int(0), c),
            Equal
        );
        assert_eq!(key(&Value::double(-0.0), c), key(&Value::Int(0), c));
        assert_eq!(key(&dec("2.50"), c), key(&Value::double(2.5), c));
        assert_eq!(key(&dec("0.10"), c), key(&dec("0.1"), c));
        assert_ne!(key(&dec("0.1"), c), key(&Value::double(0.1), c));
        assert_eq!(
            key(&Value::Int(i64::MAX), c),
            key(&dec("9223372036854775807.0"), c)
        );
    }

    #[test]
    fn strings_follow_the_collation() {
        let (a, b) = (Value::bytes("abc"), Value::bytes("ABC "));
        assert_eq!(compare_values(&a, &b, Collation::GeneralCi), Equal);
        assert_eq!(key(&a, Collation::GeneralCi), key(&b, Collation::GeneralCi));
        assert_eq!(compare_values(&a, &b, Collation::Binary), Greater);
        assert_ne!(key(&a, Collation::Binary), key(&b, Collation::Binary));
    }

    #[test]
    fn temporal_values_sort_chronologically() {
        let c = Collation::Binary;
        let t = |s: &str| Value::Time(Time::parse(s.as_bytes()).unwrap());
        assert_eq!(compare_values(&t("-838:59:59"), &t("-00:00:01"), c), Less);
        assert_eq!(compare_values(&t("-00:00:01"), &t("00:00:00"), c), Less);
        assert_eq!(compare_values(&t("100:00:00"), &t("23:59:59"), c), Greater);
        assert_eq!(compare_values(&t("01:00:00.0"), &t("01:00:00"), c), Equal);
        let d = Value::Date(crate::temporal::Date::parse(b"2024-01-02").unwrap());
        let dt = |s: &str| Value::DateTime(DateTime::parse(s.as_bytes()).unwrap());
        assert_eq!(compare_values(&d, &dt("2024-01-02 00:00:00"), c), Equal);
        assert_eq!(
            compare_values(&d, &dt("2024-01-01 23:59:59.999999"), c),
            Greater
        );
        assert_eq!(key(&d, c), key(&dt("2024-01-02 00:00:00.000"), c));
    }

    #[test]
    fn row_order_reads_only_key_columns() {
        use crate::row::encode_text_row;
        use mysql_common::constants::ColumnType;
        let cols = [
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
        ];
        let order = RowOrder::new(&[SortKey::desc(1), SortKey::asc(0)], &cols).unwrap();
        let row = |i: i64, s: &str| {
            Bytes::from(encode_text_row(&[
                Value::Int(i),
                Value::bytes(s.to_owned()),
            ]))
        };
        let (_, a) = order.extract(row(1, "b")).unwrap();
        let (_, b) = order.extract(row(2, "B")).unwrap();
        let (_, c) = order.extract(row(0, "a")).unwrap();
        assert_eq!(order.compare(&a, &b), Less);
        assert_eq!(order.compare(&a, &c), Less, "b before a descending");
        assert!(RowOrder::new(&[SortKey::asc(2)], &cols).is_err());
        assert!(order.extract(Bytes::from_static(b"\x011")).is_err());
    }
}
