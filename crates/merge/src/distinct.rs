//! `SELECT DISTINCT` over a merged stream: streaming on sorted input, hashed otherwise.
//!
//! Rows are duplicates when every distinct column compares equal under its collation
//! (`'a'` and `'A '` are one value in a `general_ci` column); the first row of each
//! distinct value passes, unchanged. Hidden columns the planner added (not part of the
//! select list) are left out of `columns` so they do not split duplicates.

use std::collections::HashSet;

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::compare::{RowOrder, SortKey};
use crate::error::Result;
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::pipeline::RowOperator;
use crate::value::Value;

fn order_of(columns: &[usize], metas: &[ColumnMeta]) -> Result<RowOrder> {
    let keys: Vec<SortKey> = columns.iter().map(|&c| SortKey::asc(c)).collect();
    RowOrder::new(&keys, metas)
}

/// De-duplication of input in which equal rows are adjacent (sorted by the distinct
/// columns, e.g. the output of a merge sort on them). Holds one row's key.
#[derive(Debug)]
pub struct SortedDistinct {
    order: RowOrder,
    last: Option<Vec<Value>>,
}

impl SortedDistinct {
    /// Distinct on `columns` of rows with `metas`.
    pub fn new(columns: &[usize], metas: &[ColumnMeta]) -> Result<SortedDistinct> {
        Ok(SortedDistinct {
            order: order_of(columns, metas)?,
            last: None,
        })
    }

    /// Offers the next row: `Some` unless it repeats the previous one.
    pub fn offer(&mut self, row: Bytes) -> Result<Option<Bytes>> {
        let (row, keys) = self.order.extract(row)?;
        if let Some(last) = &self.last {
            if self.order.compare(last, &keys).is_eq() {
                return Ok(None);
            }
        }
        self.last = Some(keys);
        Ok(Some(row.into_payload()))
    }
}

impl RowOperator for SortedDistinct {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.offer(row)?);
        Ok(())
    }
}

/// De-duplication of unordered input: remembers the key of every distinct row seen, under
/// a memory bound (each key counts as a row).
#[derive(Debug)]
pub struct HashDistinct {
    order: RowOrder,
    seen: HashSet<Vec<u8>>,
    budget: Budget,
}

impl HashDistinct {
    /// Distinct on `columns` of rows with `metas`, holding at most `limit`.
    pub fn new(
        columns: &[usize],
        metas: &[ColumnMeta],
        limit: MemoryLimit,
    ) -> Result<HashDistinct> {
        Ok(HashDistinct {
            order: order_of(columns, metas)?,
            seen: HashSet::new(),
            budget: Budget::new("hash distinct", limit),
        })
    }

    /// Offers the next row: `Some` the first time its value is seen. Fails with
    /// [`MergeError::MemoryLimit`](crate::MergeError::MemoryLimit) when too many are held.
    pub fn offer(&mut self, row: Bytes) -> Result<Option<Bytes>> {
        let (row, keys) = self.order.extract(row)?;
        let mut key = Vec::new();
        self.order.key_bytes(&keys, &mut key);
        if self.seen.contains(&key) {
            return Ok(None);
        }
        self.budget.charge(1, key.len() as u64 + ENTRY_OVERHEAD)?;
        self.seen.insert(key);
        Ok(Some(row.into_payload()))
    }
}

impl RowOperator for HashDistinct {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.offer(row)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MergeError;
    use crate::row::encode_text_row;
    use mysql_common::constants::ColumnType;

    fn metas() -> Vec<ColumnMeta> {
        vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        ]
    }

    fn row(s: Option<&str>, hidden: i64) -> Bytes {
        let s = s.map_or(Value::Null, |s| Value::bytes(s.to_owned()));
        Bytes::from(encode_text_row(&[s, Value::Int(hidden)]))
    }

    #[test]
    fn sorted_distinct_folds_collation_equal_neighbours() {
        let mut d = SortedDistinct::new(&[0], &metas()).unwrap();
        let input = [
            row(None, 0),
            row(None, 1),
            row(Some("a"), 2),
            row(Some("A "), 3),
            row(Some("b"), 4),
            row(Some("a"), 5),
        ];
        let out: Vec<_> = input
            .into_iter()
            .filter_map(|r| d.offer(r).unwrap())
            .collect();
        assert_eq!(
            out,
            [
                row(None, 0),
                row(Some("a"), 2),
                row(Some("b"), 4),
                row(Some("a"), 5)
            ]
        );
    }

    #[test]
    fn hash_distinct_remembers_everything_within_its_bound() {
        let mut d = HashDistinct::new(&[0], &metas(), MemoryLimit::rows(3)).unwrap();
        let input = [
            row(Some("b"), 0),
            row(Some("a"), 1),
            row(Some("B"), 2),
            row(None, 3),
            row(Some("a  "), 4),
        ];
        let out: Vec<_> = input
            .into_iter()
            .filter_map(|r| d.offer(r).unwrap())
            .collect();
        assert_eq!(out, [row(Some("b"), 0), row(Some("a"), 1), row(None, 3)]);
        let err = d.offer(row(Some("c"), 5)).unwrap_err();
        assert!(matches!(
            err,
            MergeError::MemoryLimit {
                operator: "hash distinct",
                limit: 3,
                ..
            }
        ));
    }
}
