//! The keyset cursor: the primary key of the last row a copy has read, kept durably between
//! pages (as JSON) so that a restarted copy goes on after it.

use mysql_common::value::Value;
use serde::{Deserialize, Serialize};

/// One primary-key value, exactly as the binary protocol gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CursorValue {
    Null,
    Int(i64),
    UInt(u64),
    /// Hex of the bytes (strings, decimals, BIT).
    Bytes(String),
    /// The bits of the value: exact.
    Float(u32),
    Double(u64),
    Date(u16, u8, u8, u8, u8, u8, u32),
    Time(bool, u32, u8, u8, u8, u32),
}

/// The last primary key read, one value per key column, in key order; `None` before the
/// first page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor(pub Option<Vec<CursorValue>>);

impl From<&Value> for CursorValue {
    fn from(v: &Value) -> Self {
        match v {
            Value::NULL => CursorValue::Null,
            Value::Int(i) => CursorValue::Int(*i),
            Value::UInt(u) => CursorValue::UInt(*u),
            Value::Bytes(b) => CursorValue::Bytes(hex::encode(b)),
            Value::Float(f) => CursorValue::Float(f.to_bits()),
            Value::Double(d) => CursorValue::Double(d.to_bits()),
            Value::Date(y, mo, d, h, mi, s, us) => CursorValue::Date(*y, *mo, *d, *h, *mi, *s, *us),
            Value::Time(neg, d, h, mi, s, us) => CursorValue::Time(*neg, *d, *h, *mi, *s, *us),
        }
    }
}

impl From<&CursorValue> for Value {
    fn from(v: &CursorValue) -> Self {
        match v {
            CursorValue::Null => Value::NULL,
            CursorValue::Int(i) => Value::Int(*i),
            CursorValue::UInt(u) => Value::UInt(*u),
            CursorValue::Bytes(h) => Value::Bytes(hex::decode(h).unwrap_or_default()),
            CursorValue::Float(f) => Value::Float(f32::from_bits(*f)),
            CursorValue::Double(d) => Value::Double(f64::from_bits(*d)),
            CursorValue::Date(y, mo, d, h, mi, s, us) => Value::Date(*y, *mo, *d, *h, *mi, *s, *us),
            CursorValue::Time(neg, d, h, mi, s, us) => Value::Time(*neg, *d, *h, *mi, *s, *us),
        }
    }
}

impl Cursor {
    /// The cursor after a row whose key values are `key`.
    pub fn after(key: &[Value]) -> Cursor {
        Cursor(Some(key.iter().map(CursorValue::from).collect()))
    }

    /// The key values to bind after `WHERE (key) > (…)`, `None` before the first page.
    pub fn values(&self) -> Option<Vec<Value>> {
        self.0.as_ref().map(|k| k.iter().map(Value::from).collect())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }

    pub fn from_json(text: &str) -> Result<Cursor, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::NULL),
            any::<i64>().prop_map(Value::Int),
            any::<u64>().prop_map(Value::UInt),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
            any::<f32>().prop_map(Value::Float),
            any::<f64>().prop_map(Value::Double),
            (
                0u16..10000,
                1u8..13,
                1u8..29,
                0u8..24,
                0u8..60,
                0u8..60,
                0u32..1_000_000
            )
                .prop_map(|(y, mo, d, h, mi, s, us)| Value::Date(y, mo, d, h, mi, s, us)),
            (
                any::<bool>(),
                0u32..35,
                0u8..24,
                0u8..60,
                0u8..60,
                0u32..1_000_000
            )
                .prop_map(|(n, d, h, mi, s, us)| Value::Time(n, d, h, mi, s, us)),
        ]
    }

    proptest! {
        #[test]
        fn a_cursor_reads_back_bit_for_bit(key in proptest::collection::vec(value(), 1..4)) {
            let cursor = Cursor::after(&key);
            let back = Cursor::from_json(&cursor.to_json()).unwrap();
            let values = back.values().unwrap();
            prop_assert_eq!(values.len(), key.len());
            for (a, b) in values.iter().zip(&key) {
                // NaN != NaN: compare the bits of floats.
                match (a, b) {
                    (Value::Float(x), Value::Float(y)) => prop_assert_eq!(x.to_bits(), y.to_bits()),
                    (Value::Double(x), Value::Double(y)) => prop_assert_eq!(x.to_bits(), y.to_bits()),
                    _ => prop_assert_eq!(a, b),
                }
            }
        }
    }

    #[test]
    fn no_cursor_before_the_first_page() {
        let start = Cursor::default();
        assert_eq!(start.values(), None);
        assert_eq!(Cursor::from_json(&start.to_json()).unwrap(), start);
    }
}
