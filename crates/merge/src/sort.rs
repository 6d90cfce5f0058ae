//! Sorting unordered rows (`ORDER BY` over aggregated or hashed output) under a memory bound.
//!
//! Rows are held until the input ends, then come out in order; equal rows keep their
//! arrival order. With a `top` (an `ORDER BY … LIMIT n` after it), only the first `top`
//! rows are kept, so memory stays bounded by `top` rather than the input.

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::compare::{RowOrder, SortKey};
use crate::error::Result;
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::pipeline::RowOperator;
use crate::value::Value;

struct Held {
    keys: Vec<Value>,
    seq: u64,
    row: Bytes,
}

impl Held {
    fn size(&self) -> u64 {
        self.row.len() as u64 + ENTRY_OVERHEAD
    }
}

/// A buffered, stable sort.
pub struct Sort {
    order: RowOrder,
    rows: Vec<Held>,
    seq: u64,
    top: Option<usize>,
    budget: Budget,
}

impl std::fmt::Debug for Sort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sort({} rows held)", self.rows.len())
    }
}

impl Sort {
    /// Sorts rows with `columns` by `keys`, holding at most `limit`.
    pub fn new(keys: &[SortKey], columns: &[ColumnMeta], limit: MemoryLimit) -> Result<Sort> {
        Ok(Sort {
            order: RowOrder::new(keys, columns)?,
            rows: Vec::new(),
            seq: 0,
            top: None,
            budget: Budget::new("sort", limit),
        })
    }

    /// Sorts strings by their first `sort_length` bytes, the session's `max_sort_length`
    /// (the order the shards sorted by).
    pub fn with_sort_length(mut self, sort_length: usize) -> Self {
        self.order.set_sort_length(sort_length);
        self
    }

    /// Keeps only the first `n` rows of the sorted output.
    pub fn with_top(mut self, n: usize) -> Sort {
        self.top = Some(n);
        self
    }

    /// Holds one more row. Fails with
    /// [`MergeError::MemoryLimit`](crate::MergeError::MemoryLimit) past the bound.
    pub fn push_row(&mut self, row: Bytes) -> Result<()> {
        if self.top == Some(0) {
            return Ok(());
        }
        let (_, keys) = self.order.extract(row.clone())?;
        let held = Held {
            keys,
            seq: self.seq,
            row,
        };
        self.seq += 1;
        self.budget.charge(1, held.size())?;
        self.rows.push(held);
        if let Some(top) = self.top {
            if self.rows.len() >= 2 * top.max(512) {
                self.sort_and_trim(top);
            }
        }
        Ok(())
    }

    fn sort_and_trim(&mut self, keep: usize) {
        let order = &self.order;
        self.rows
            .sort_by(|a, b| order.compare(&a.keys, &b.keys).then(a.seq.cmp(&b.seq)));
        for dropped in self.rows.drain(keep.min(self.rows.len())..) {
            self.budget.release(1, dropped.size());
        }
    }

    /// Ends the input: every held row, in order.
    pub fn finish_rows(&mut self) -> Vec<Bytes> {
        let keep = self.top.unwrap_or(usize::MAX);
        self.sort_and_trim(keep);
        let rows = std::mem::take(&mut self.rows);
        for r in &rows {
            self.budget.release(1, r.size());
        }
        rows.into_iter().map(|h| h.row).collect()
    }
}

impl RowOperator for Sort {
    fn push(&mut self, row: Bytes, _out: &mut Vec<Bytes>) -> Result<()> {
        self.push_row(row)
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.finish_rows());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MergeError;
    use crate::row::encode_text_row;
    use mysql_common::constants::ColumnType;
    use shardgate_wire::text_row::text_cell;

    fn metas() -> Vec<ColumnMeta> {
        vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        ]
    }

    fn row(k: &str, tag: i64) -> Bytes {
        let k = if k == "NULL" {
            Value::Null
        } else {
            Value::Decimal(crate::Decimal::parse(k.as_bytes()).unwrap())
        };
        Bytes::from(encode_text_row(&[k, Value::Int(tag)]))
    }

    fn tags(rows: &[Bytes]) -> Vec<i64> {
        rows.iter()
            .map(|r| {
                std::str::from_utf8(text_cell(r, 1).unwrap().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn sorts_stably_nulls_first() {
        let mut s = Sort::new(&[SortKey::asc(0)], &metas(), MemoryLimit::UNLIMITED).unwrap();
        for (i, k) in ["2.5", "NULL", "-1", "2.50", "10"].iter().enumerate() {
            s.push_row(row(k, i as i64)).unwrap();
        }
        assert_eq!(tags(&s.finish_rows()), [1, 2, 0, 3, 4]);
    }

    #[test]
    fn top_keeps_memory_bounded() {
        let mut s = Sort::new(&[SortKey::desc(1)], &metas(), MemoryLimit::rows(1100))
            .unwrap()
            .with_top(3);
        for i in 0..10_000 {
            s.push_row(row("0", i)).unwrap();
        }
        assert_eq!(tags(&s.finish_rows()), [9999, 9998, 9997]);
    }

    #[test]
    fn trips_the_memory_limit() {
        let mut s = Sort::new(&[SortKey::asc(0)], &metas(), MemoryLimit::rows(2)).unwrap();
        s.push_row(row("1", 0)).unwrap();
        s.push_row(row("1", 1)).unwrap();
        let err = s.push_row(row("1", 2)).unwrap_err();
        assert!(matches!(
            err,
            MergeError::MemoryLimit {
                operator: "sort",
                limit: 2,
                ..
            }
        ));
    }
}
