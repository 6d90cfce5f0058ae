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
/// columns, e.g. the output of a merge sort on them). Holds one row's key — or, for long
/// strings the sort tells apart only by a prefix (MariaDB's DISTINCT compares them whole),
/// the keys of the distinct rows seen since the sort last told one apart.
#[derive(Debug)]
pub struct SortedDistinct {
    order: RowOrder,
    run: Vec<Vec<Value>>,
    /// What the keys of a run beyond its first hold, and the bytes charged for them.
    budget: Budget,
    run_bytes: u64,
}

impl SortedDistinct {
    /// Distinct on `columns` of rows with `metas`, holding at most `limit` of a run.
    pub fn new(
        columns: &[usize],
        metas: &[ColumnMeta],
        limit: MemoryLimit,
    ) -> Result<SortedDistinct> {
        Ok(SortedDistinct {
            order: order_of(columns, metas)?,
            run: Vec::new(),
            budget: Budget::new("sorted distinct", limit),
            run_bytes: 0,
        })
    }

    /// Offers the next row: `Some` unless it repeats one before it.
    pub fn offer(&mut self, row: Bytes) -> Result<Option<Bytes>> {
        let (row, keys) = self.order.extract(row)?;
        let tied = (self.run.first()).is_some_and(|first| self.order.compare(first, &keys).is_eq());
        if !tied {
            let extra = self.run.len().saturating_sub(1) as u64;
            self.budget
                .release(extra, std::mem::take(&mut self.run_bytes));
            self.run.clear();
        } else if self
            .run
            .iter()
            .any(|seen| self.order.same_group(seen, &keys))
        {
            return Ok(None);
        } else {
            let mut held = Vec::new();
            self.order.key_bytes(&keys, &mut held);
            let bytes = held.len() as u64 + ENTRY_OVERHEAD;
            self.budget.charge(1, bytes)?;
            self.run_bytes += bytes;
        }
        self.run.push(keys);
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
        let mut d = SortedDistinct::new(&[0], &metas(), MemoryLimit::UNLIMITED).unwrap();
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

    /// Strings equal in their first 1,024 bytes sort as ties but are distinct (MariaDB compares
    /// them whole): interleaved, each passes once; a run beyond the bound fails.
    #[test]
    fn sorted_distinct_compares_long_strings_whole() {
        let long = |end: &str| Some(format!("{}{end}", "a".repeat(1100)));
        let (x, y, z) = (long("x"), long("y"), long("z"));
        let input = [
            row(x.as_deref(), 0),
            row(y.as_deref(), 1),
            row(x.as_deref(), 2),
            row(y.as_deref(), 3),
            row(Some("b"), 4),
            row(Some("B"), 5),
        ];
        let mut d = SortedDistinct::new(&[0], &metas(), MemoryLimit::UNLIMITED).unwrap();
        let hidden: Vec<Bytes> = input
            .iter()
            .cloned()
            .filter_map(|r| d.offer(r).unwrap())
            .collect();
        assert_eq!(
            hidden,
            [input[0].clone(), input[1].clone(), input[4].clone()]
        );
        let mut bounded = SortedDistinct::new(&[0], &metas(), MemoryLimit::rows(1)).unwrap();
        for r in [row(x.as_deref(), 0), row(y.as_deref(), 1)] {
            bounded.offer(r).unwrap();
        }
        assert!(matches!(
            bounded.offer(row(z.as_deref(), 2)),
            Err(MergeError::MemoryLimit { .. })
        ));
        // HashDistinct keys whole values too.
        let mut h = HashDistinct::new(&[0], &metas(), MemoryLimit::UNLIMITED).unwrap();
        let passed = input
            .into_iter()
            .filter_map(|r| h.offer(r).unwrap())
            .count();
        assert_eq!(passed, 3);
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
