//! `COUNT(DISTINCT a, b, …)`, `SUM(DISTINCT x)` and `AVG(DISTINCT x)` over the raw values of
//! every shard (no shard can tell which of its values another shard also has).
//!
//! A group keeps one key per distinct value (tuples with a NULL are skipped, as MariaDB does),
//! compared under the column's collation (`'a'` and `'A'` are one value of a `_ci` column),
//! under the operator's [`MemoryLimit`]: past it the statement fails with 1038. SUM and AVG
//! of doubles add the distinct values in the order MariaDB's `Unique` tree walks them —
//! `memcmp` of each double's 8 little-endian bytes (checked against 10.11: `SUM(DISTINCT f)`
//! of -0.1, -0.2, 0.3, 1e-17 is -2.7755575615628914e-17) — so the sum rounds as one
//! server's does. Exact sums do not depend on the order.

use std::collections::HashSet;

use crate::aggregate::Sum;
use crate::column::ColumnMeta;
use crate::compare::value_key;
use crate::error::Result;
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::value::Value;

/// The distinct values of one group.
#[derive(Debug, Clone)]
pub(crate) struct DistinctValues {
    keys: HashSet<Vec<u8>>,
    /// The values themselves, kept only for SUM and AVG.
    values: Option<Vec<Value>>,
    budget: Budget,
}

impl DistinctValues {
    /// A set that keeps the values (`keep_values`, for SUM/AVG) or only their keys (COUNT).
    pub(crate) fn new(keep_values: bool, limit: MemoryLimit) -> DistinctValues {
        DistinctValues {
            keys: HashSet::new(),
            values: keep_values.then(Vec::new),
            budget: Budget::new("COUNT/SUM/AVG(DISTINCT)", limit),
        }
    }

    /// Adds the tuple `values` of `metas` columns unless it has a NULL or was seen.
    pub(crate) fn insert(&mut self, values: Vec<Value>, metas: &[&ColumnMeta]) -> Result<()> {
        if values.iter().any(Value::is_null) {
            return Ok(());
        }
        let mut key = Vec::new();
        for (v, m) in values.iter().zip(metas) {
            value_key(v, m.collation(), &mut key);
        }
        if self.keys.contains(&key) {
            return Ok(());
        }
        let held = 2 * key.len() as u64 + ENTRY_OVERHEAD;
        self.budget.charge(1, held)?;
        self.keys.insert(key);
        if let (Some(kept), Some(first)) = (&mut self.values, values.into_iter().next()) {
            kept.push(first);
        }
        Ok(())
    }

    /// How many distinct tuples.
    pub(crate) fn count(&self) -> u64 {
        self.keys.len() as u64
    }

    /// The sum of the distinct values, in MariaDB's order.
    pub(crate) fn sum(&self, exact: bool) -> Sum {
        let mut values: Vec<&Value> = self.values.iter().flatten().collect();
        if !exact {
            values.sort_by_key(|v| v.to_f64().unwrap_or(0.0).to_le_bytes());
        }
        let mut sum = Sum::Empty;
        for v in values {
            sum.add(v, exact);
        }
        sum
    }

    /// Approximate bytes held.
    pub(crate) fn size(&self) -> u64 {
        self.budget.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MergeError;
    use mysql_common::constants::ColumnType;

    #[test]
    fn counts_tuples_by_collation_and_skips_nulls() {
        let ci = ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45);
        let int = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG);
        let mut d = DistinctValues::new(false, MemoryLimit::UNLIMITED);
        for (s, i) in [("a", 1), ("A", 1), ("a ", 1), ("b", 1), ("a", 2)] {
            d.insert(vec![Value::bytes(s), Value::Int(i)], &[&ci, &int])
                .unwrap();
        }
        d.insert(vec![Value::Null, Value::Int(1)], &[&ci, &int])
            .unwrap();
        assert_eq!(d.count(), 3);
    }

    #[test]
    fn sums_distinct_doubles_in_mariadbs_order() {
        let dbl = ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE).with_decimals(31);
        let sum = |values: &[f64]| {
            let mut d = DistinctValues::new(true, MemoryLimit::UNLIMITED);
            for v in values {
                d.insert(vec![Value::double(*v)], &[&dbl]).unwrap();
            }
            match d.sum(false) {
                Sum::Double(s) => s,
                other => panic!("{other:?}"),
            }
        };
        // What MariaDB 10.11 answers for SUM(DISTINCT f) over these rows.
        assert_eq!(sum(&[0.3, 0.2, 0.1, 0.3]), 0.6000000000000001);
        assert_eq!(sum(&[-0.1, -0.2, 0.3, 1e-17]), -2.7755575615628914e-17);
    }

    #[test]
    fn stops_at_the_memory_limit() {
        let int = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG);
        let mut d = DistinctValues::new(false, MemoryLimit::rows(2));
        d.insert(vec![Value::Int(1)], &[&int]).unwrap();
        d.insert(vec![Value::Int(1)], &[&int]).unwrap();
        d.insert(vec![Value::Int(2)], &[&int]).unwrap();
        assert!(matches!(
            d.insert(vec![Value::Int(3)], &[&int]),
            Err(MergeError::MemoryLimit { .. })
        ));
    }
}
