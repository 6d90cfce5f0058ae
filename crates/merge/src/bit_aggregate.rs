//! `BIT_AND`, `BIT_OR` and `BIT_XOR`: the operations are associative and commutative, so the
//! shards' partials (or raw values cast to integers) combine exactly, in any order.
//!
//! MariaDB 10.11 answers `BIGINT(21) UNSIGNED NOT NULL`; over no row `BIT_AND` is all ones
//! (18446744073709551615) and `BIT_OR` / `BIT_XOR` are 0.

use mysql_common::constants::{ColumnFlags, ColumnType};

use crate::column::ColumnMeta;
use crate::error::{MergeError, Result};
use crate::value::Value;

/// Which bitwise aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BitOp {
    /// `BIT_AND`
    And,
    /// `BIT_OR`
    Or,
    /// `BIT_XOR`
    Xor,
}

impl BitOp {
    /// The result over no row.
    pub(crate) fn identity(self) -> u64 {
        match self {
            BitOp::And => u64::MAX,
            BitOp::Or | BitOp::Xor => 0,
        }
    }

    /// `acc` combined with `bits`.
    pub(crate) fn fold(self, acc: u64, bits: u64) -> u64 {
        match self {
            BitOp::And => acc & bits,
            BitOp::Or => acc | bits,
            BitOp::Xor => acc ^ bits,
        }
    }
}

/// The column of a `BIT_*` result.
pub fn bit_meta() -> ColumnMeta {
    ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG)
        .with_flags(
            ColumnFlags::NOT_NULL_FLAG | ColumnFlags::UNSIGNED_FLAG | ColumnFlags::BINARY_FLAG,
        )
        .with_length(21)
}

/// The 64 bits of an integer cell (a partial, or a value the shard cast to `SIGNED`): a
/// negative value is its two's complement, as in MariaDB. `None` for NULL.
pub(crate) fn bits_of(v: &Value, column: usize, meta: &ColumnMeta) -> Result<Option<u64>> {
    if v.is_null() {
        return Ok(None);
    }
    match v.as_i128() {
        Some(i) if i < 0 => Ok(Some(i as i64 as u64)),
        Some(i) => u64::try_from(i)
            .map(Some)
            .map_err(|_| MergeError::BadValue {
                column,
                column_type: meta.column_type,
                text: format!("{i} is not 64 bits"),
            }),
        None => Err(MergeError::BadValue {
            column,
            column_type: meta.column_type,
            text: format!("{v:?} is not an integer"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn negative_values_are_twos_complement() {
        let m = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG);
        assert_eq!(bits_of(&Value::Int(-1), 0, &m).unwrap(), Some(u64::MAX));
        assert_eq!(
            bits_of(&Value::UInt(u64::MAX), 0, &m).unwrap(),
            Some(u64::MAX)
        );
        assert_eq!(bits_of(&Value::Null, 0, &m).unwrap(), None);
        assert!(bits_of(&Value::bytes("x"), 0, &m).is_err());
        let meta = bit_meta();
        assert!(meta.is_unsigned());
        assert_eq!(meta.length, 21);
    }

    proptest! {
        /// Folding shard partials equals folding every value, however the values are split.
        #[test]
        fn partials_combine_exactly(values in proptest::collection::vec(any::<u64>(), 0..40), cut in 0usize..40) {
            for op in [BitOp::And, BitOp::Or, BitOp::Xor] {
                let all = values.iter().fold(op.identity(), |a, &b| op.fold(a, b));
                let cut = cut.min(values.len());
                let left = values[..cut].iter().fold(op.identity(), |a, &b| op.fold(a, b));
                let right = values[cut..].iter().fold(op.identity(), |a, &b| op.fold(a, b));
                prop_assert_eq!(op.fold(left, right), all);
            }
        }
    }
}
