//! `LIMIT count OFFSET offset` over a merged stream.
//!
//! The planner sends `LIMIT offset + count` to every shard (each shard's first
//! `offset + count` rows are all that can reach the answer) and this operator skips `offset`
//! rows of the merged stream and passes `count`.

use bytes::Bytes;

use crate::error::Result;
use crate::pipeline::RowOperator;

/// Skips `offset` rows, then passes at most `count`.
#[derive(Debug, Clone)]
pub struct Limit {
    offset: u64,
    count: Option<u64>,
    skipped: u64,
    passed: u64,
}

impl Limit {
    /// `LIMIT count OFFSET offset`; `count` `None` passes everything after the offset.
    pub fn new(offset: u64, count: Option<u64>) -> Limit {
        Limit {
            offset,
            count,
            skipped: 0,
            passed: 0,
        }
    }

    /// Offers the next row: `Some` if it is part of the answer.
    pub fn offer<T>(&mut self, row: T) -> Option<T> {
        if self.is_done() {
            return None;
        }
        if self.skipped < self.offset {
            self.skipped += 1;
            return None;
        }
        self.passed += 1;
        Some(row)
    }

    /// `true` once `count` rows have passed: the rest of the input can be dropped.
    pub fn is_done(&self) -> bool {
        self.count.is_some_and(|c| self.passed >= c)
    }

    /// The `LIMIT` each shard should get: `offset + count` (`None`: no limit).
    pub fn shard_limit(offset: u64, count: Option<u64>) -> Option<u64> {
        count.map(|c| c.saturating_add(offset))
    }
}

impl RowOperator for Limit {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.offer(row));
        Ok(())
    }

    fn is_done(&self) -> bool {
        Limit::is_done(self)
    }

    /// MariaDB counts the skipped rows too: `LIMIT 5, 3` over 10 rows finds 8, over 6 rows 6.
    fn found_rows(&self) -> Option<u64> {
        Some(self.skipped + self.passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_then_passes_then_is_done() {
        let mut l = Limit::new(2, Some(3));
        let out: Vec<i32> = (0..10).filter_map(|i| l.offer(i)).collect();
        assert_eq!(out, [2, 3, 4]);
        assert!(l.is_done());
        let mut zero = Limit::new(0, Some(0));
        assert!(zero.is_done());
        assert_eq!(zero.offer(1), None);
        let mut all = Limit::new(1, None);
        assert_eq!((0..4).filter_map(|i| all.offer(i)).count(), 3);
        assert!(!all.is_done());
        assert_eq!(Limit::shard_limit(10, Some(5)), Some(15));
        assert_eq!(Limit::shard_limit(u64::MAX, Some(5)), Some(u64::MAX));
    }

    #[test]
    fn counts_found_rows_as_mariadb_does() {
        let found = |offset, count, rows: i32| {
            let mut l = Limit::new(offset, count);
            for i in 0..rows {
                if l.is_done() {
                    break;
                }
                l.offer(i);
            }
            RowOperator::found_rows(&l)
        };
        // Figures from MariaDB 10.11: `SELECT … LIMIT o, n; SELECT FOUND_ROWS()`.
        assert_eq!(found(5, Some(3), 10), Some(8));
        assert_eq!(found(20, Some(3), 10), Some(10));
        assert_eq!(found(8, Some(3), 10), Some(10));
        assert_eq!(found(0, Some(3), 10), Some(3));
        assert_eq!(found(5, Some(0), 10), Some(0));
    }
}
