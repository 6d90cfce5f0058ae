//! Property tests of values: the order is total and agrees with equality keys, text round
//! trips, and malformed input never panics.

use std::cmp::Ordering;

use bytes::Bytes;
use proptest::prelude::*;
use shardgate_merge::{
    compare_values, decode_text_row, encode_text_row, format_double, format_float, value_key,
    Collation, ColumnFlags, ColumnMeta, ColumnType, Date, DateTime, Decimal, Time, Value,
};

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<i64>(), 0u32..6).prop_map(|(m, s)| Decimal::new(i128::from(m), s)),
        (-1000i64..1000, 0u32..4).prop_map(|(m, s)| Decimal::new(i128::from(m), s)),
        "-?[0-9]{30,60}\\.[0-9]{0,5}".prop_map(|s| Decimal::parse(s.as_bytes()).unwrap()),
    ]
}

fn string() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(
            prop::sample::select(vec![b'a', b'A', b' ', b'b', b'\t', b'_', b'z']),
            0..5
        ),
        "[aAéÉßs😀😁 ]{0,4}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..4),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let small_double = (-20i32..20).prop_map(|h| Value::double(f64::from(h) / 4.0));
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        (-3i64..3).prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        decimal().prop_map(Value::Decimal),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::double),
        small_double,
        (0u16..3000).prop_map(Value::Year),
        string().prop_map(|s| Value::Bytes(Bytes::from(s))),
        (0u16..3, 0u8..13, 0u8..32).prop_map(|(year, month, day)| Value::Date(Date {
            year: 2000 + year,
            month,
            day
        })),
        (0u16..3, 0u8..24, 0u32..2).prop_map(|(y, hour, micros)| Value::DateTime(DateTime {
            date: Date {
                year: 2000 + y,
                month: 1,
                day: 1
            },
            hour,
            minute: 0,
            second: 0,
            micros,
            decimals: 6,
        })),
        (any::<bool>(), 0u32..900, 0u8..60, 0u32..3).prop_map(
            |(negative, hours, seconds, micros)| Value::Time(Time {
                negative,
                hours,
                minutes: 0,
                seconds,
                micros,
                decimals: 6,
            })
        ),
    ]
}

fn collation() -> impl Strategy<Value = Collation> {
    prop::sample::select(vec![
        Collation::Binary,
        Collation::PadBinary,
        Collation::GeneralCi,
        Collation::Latin1SwedishCi,
    ])
}

fn key(v: &Value, c: Collation) -> Vec<u8> {
    let mut k = Vec::new();
    value_key(v, c, &mut k);
    k
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compare_is_a_total_order_consistent_with_equality(a in value(), b in value(), c in value(), coll in collation()) {
        let ab = compare_values(&a, &b, coll);
        prop_assert_eq!(ab, compare_values(&b, &a, coll).reverse(), "antisymmetry");
        prop_assert_eq!(compare_values(&a, &a, coll), Ordering::Equal, "reflexivity");
        let bc = compare_values(&b, &c, coll);
        if ab != Ordering::Greater && bc != Ordering::Greater {
            prop_assert_ne!(compare_values(&a, &c, coll), Ordering::Greater, "transitivity");
        }
        if ab == Ordering::Equal {
            prop_assert_eq!(compare_values(&a, &c, coll), bc, "equal values compare alike");
        }
        prop_assert_eq!(ab == Ordering::Equal, key(&a, coll) == key(&b, coll), "keys equal exactly when values are");
    }

    #[test]
    fn text_rows_round_trip(values in prop::collection::vec(value(), 0..6)) {
        let payload = Bytes::from(encode_text_row(&values));
        let metas: Vec<ColumnMeta> = values.iter().map(meta_of).collect();
        let back = decode_text_row(&payload, &metas).unwrap();
        for (v, b) in values.iter().zip(&back) {
            prop_assert_eq!(compare_values(v, b, Collation::Binary), Ordering::Equal, "{:?} came back as {:?}", v, b);
            prop_assert_eq!(v.to_text(), b.to_text());
        }
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics(payload in prop::collection::vec(any::<u8>(), 0..40), n in 0usize..5) {
        let metas = [
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_TIME),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_DATETIME),
        ];
        let _ = decode_text_row(&Bytes::from(payload.clone()), &metas[..n]);
        let _ = ColumnMeta::from_definition(&payload);
        let _ = shardgate_wire::text_row::text_cell(&payload, n);
    }

    #[test]
    fn shortest_doubles_read_back_exactly(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        let t = format_double(f, 31);
        let back: f64 = t.parse().unwrap();
        prop_assert_eq!(back, if f == 0.0 { 0.0 } else { f });
        prop_assert!(!t.contains('+') && !t.contains("inf"));
    }

    #[test]
    fn floats_print_six_digits_that_read_back_close(bits in any::<u32>()) {
        let f = f32::from_bits(bits);
        prop_assume!(f.is_finite() && f != 0.0);
        let back: f64 = format_float(f, 31).parse().unwrap();
        prop_assert!(((back - f64::from(f)) / f64::from(f)).abs() <= 5e-6);
    }

    #[test]
    fn decimal_arithmetic_matches_i128(a in -(1i64 << 60)..(1i64 << 60), b in -(1i64 << 60)..(1i64 << 60), sa in 0u32..5, sb in 0u32..5, d in 1i64..1000) {
        let (x, y) = (Decimal::new(i128::from(a), sa), Decimal::new(i128::from(b), sb));
        let s = sa.max(sb);
        let want = i128::from(a) * 10i128.pow(s - sa) + i128::from(b) * 10i128.pow(s - sb);
        prop_assert_eq!(x.add(&y), Decimal::new(want, s));
        prop_assert_eq!(x.mul(&y), Decimal::new(i128::from(a) * i128::from(b), sa + sb));
        prop_assert_eq!(Decimal::parse(x.to_string().as_bytes()).unwrap().to_string(), x.to_string());
        // Division rounds half away from zero.
        let q = x.div_round(&Decimal::from(d), sa).unwrap();
        let (n, dd) = (i128::from(a), i128::from(d));
        let (mut r, rem) = (n / dd, n % dd);
        if 2 * rem.abs() >= dd {
            r += n.signum();
        }
        prop_assert_eq!(q, Decimal::new(r, sa));
        prop_assert_eq!(x.cmp(&y), (i128::from(a) * 10i128.pow(s - sa)).cmp(&(i128::from(b) * 10i128.pow(s - sb))));
    }
}

/// A column that decodes back to the value's own kind.
fn meta_of(v: &Value) -> ColumnMeta {
    let t = |t| ColumnMeta::new(t);
    match v {
        Value::Null | Value::Int(_) => t(ColumnType::MYSQL_TYPE_LONGLONG),
        Value::UInt(_) => t(ColumnType::MYSQL_TYPE_LONGLONG).with_flags(ColumnFlags::UNSIGNED_FLAG),
        Value::Decimal(_) => t(ColumnType::MYSQL_TYPE_NEWDECIMAL),
        Value::Double { decimals, .. } => t(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(*decimals),
        Value::Float { decimals, .. } => t(ColumnType::MYSQL_TYPE_FLOAT).with_decimals(*decimals),
        Value::Bytes(_) => t(ColumnType::MYSQL_TYPE_BLOB),
        Value::Bit(_) => t(ColumnType::MYSQL_TYPE_BIT),
        Value::Date(_) => t(ColumnType::MYSQL_TYPE_DATE),
        Value::DateTime(_) => t(ColumnType::MYSQL_TYPE_DATETIME).with_decimals(6),
        Value::Time(_) => t(ColumnType::MYSQL_TYPE_TIME).with_decimals(6),
        Value::Year(_) => t(ColumnType::MYSQL_TYPE_YEAR),
    }
}
