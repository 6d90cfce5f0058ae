//! The memory bound of operators that must hold rows (sort, hash aggregate, hash distinct).

use crate::error::{LimitUnit, MergeError, Result};

/// How much an operator may hold at once; `None` is unbounded. Bytes are approximate: row
/// payloads, keys and a fixed overhead per entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryLimit {
    /// Most rows (sort), groups (hash aggregate) or keys (hash distinct) held.
    pub max_rows: Option<u64>,
    /// Most bytes held.
    pub max_bytes: Option<u64>,
}

impl MemoryLimit {
    /// No bound.
    pub const UNLIMITED: MemoryLimit = MemoryLimit {
        max_rows: None,
        max_bytes: None,
    };

    /// At most `rows` entries.
    pub fn rows(rows: u64) -> MemoryLimit {
        MemoryLimit {
            max_rows: Some(rows),
            max_bytes: None,
        }
    }

    /// At most `bytes` bytes.
    pub fn bytes(bytes: u64) -> MemoryLimit {
        MemoryLimit {
            max_rows: None,
            max_bytes: Some(bytes),
        }
    }
}

/// Approximate bookkeeping cost of one held entry beyond its payload.
pub(crate) const ENTRY_OVERHEAD: u64 = 64;

/// What one operator holds, checked against its limit.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    operator: &'static str,
    limit: MemoryLimit,
    rows: u64,
    bytes: u64,
}

impl Budget {
    pub(crate) fn new(operator: &'static str, limit: MemoryLimit) -> Budget {
        Budget {
            operator,
            limit,
            rows: 0,
            bytes: 0,
        }
    }

    /// Accounts for `rows` more entries of `bytes`; fails once a limit is exceeded.
    pub(crate) fn charge(&mut self, rows: u64, bytes: u64) -> Result<()> {
        self.rows += rows;
        self.bytes += bytes;
        if let Some(max) = self.limit.max_rows {
            if self.rows > max {
                return Err(self.exceeded(max, LimitUnit::Rows));
            }
        }
        if let Some(max) = self.limit.max_bytes {
            if self.bytes > max {
                return Err(self.exceeded(max, LimitUnit::Bytes));
            }
        }
        Ok(())
    }

    /// Gives back what `charge` took.
    pub(crate) fn release(&mut self, rows: u64, bytes: u64) {
        self.rows = self.rows.saturating_sub(rows);
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn exceeded(&self, limit: u64, unit: LimitUnit) -> MergeError {
        MergeError::MemoryLimit {
            operator: self.operator,
            limit,
            unit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_past_the_limit_with_a_typed_error() {
        let mut b = Budget::new("sort", MemoryLimit::rows(2));
        b.charge(1, 10).unwrap();
        b.charge(1, 10).unwrap();
        let err = b.charge(1, 10).unwrap_err();
        assert_eq!(
            err,
            MergeError::MemoryLimit {
                operator: "sort",
                limit: 2,
                unit: LimitUnit::Rows
            }
        );
        assert_eq!(err.mysql_code().0, 1038);
        let mut b = Budget::new("hash distinct", MemoryLimit::bytes(100));
        b.charge(1, 60).unwrap();
        b.release(1, 60);
        b.charge(1, 100).unwrap();
        assert!(matches!(
            b.charge(1, 1),
            Err(MergeError::MemoryLimit {
                unit: LimitUnit::Bytes,
                ..
            })
        ));
        Budget::new("x", MemoryLimit::UNLIMITED)
            .charge(u64::MAX / 2, u64::MAX / 2)
            .unwrap();
    }
}
