//! Range placement: contiguous integer ranges `[start, end)`, each owned by one shard.

use std::fmt;

use crate::{RingError, ShardId};

/// Keys `start <= k < end` belong to `shard`; `None` bounds are unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// Inclusive lower bound; `None` = unbounded below.
    pub start: Option<i128>,
    /// Exclusive upper bound; `None` = unbounded above.
    pub end: Option<i128>,
    pub shard: ShardId,
}

impl KeyRange {
    /// Whether `value` falls in this range.
    pub fn contains(&self, value: i128) -> bool {
        self.start.is_none_or(|s| s <= value) && self.end.is_none_or(|e| value < e)
    }
}

impl fmt::Display for KeyRange {
    /// `[0, 1000)`, `(-inf, 1000)`, `[1000, +inf)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.start {
            Some(start) => write!(f, "[{start}, ")?,
            None => f.write_str("(-inf, ")?,
        }
        match self.end {
            Some(end) => write!(f, "{end})"),
            None => f.write_str("+inf)"),
        }
    }
}

/// A validated list of ranges: ascending, without overlaps or gaps between consecutive
/// ranges. Keys below the first or above the last range (when those are bounded) have no
/// shard ([`RingError::NoRange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeMap {
    ranges: Vec<KeyRange>,
}

impl RangeMap {
    /// Validates `ranges` (listed by ascending start; each range's end must equal the
    /// next one's start). Errors name the offending ranges by index.
    pub fn new(ranges: Vec<KeyRange>) -> Result<RangeMap, RingError> {
        if ranges.is_empty() {
            return Err(RingError::NoRanges);
        }
        for (index, range) in ranges.iter().enumerate() {
            if let (Some(start), Some(end)) = (range.start, range.end) {
                if start >= end {
                    return Err(RingError::EmptyRange {
                        index,
                        range: range.to_string(),
                    });
                }
            }
        }
        for (prev, pair) in ranges.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            let index = prev + 1;
            let (prev_range, range) = (a.to_string(), b.to_string());
            // `None` as a start is below every integer.
            if b.start < a.start {
                return Err(RingError::RangeOrder {
                    prev,
                    prev_range,
                    index,
                    range,
                });
            }
            match (a.end, b.start) {
                (Some(end), Some(start)) if end < start => {
                    let gap = KeyRange {
                        start: Some(end),
                        end: Some(start),
                        shard: 0,
                    };
                    return Err(RingError::RangeGap {
                        prev,
                        prev_range,
                        index,
                        range,
                        gap: gap.to_string(),
                    });
                }
                (Some(end), Some(start)) if end == start => {}
                _ => {
                    return Err(RingError::RangeOverlap {
                        prev,
                        prev_range,
                        index,
                        range,
                    })
                }
            }
        }
        Ok(RangeMap { ranges })
    }

    /// Like [`RangeMap::new`], and also checks every range names one of `shards` shards.
    pub fn with_shard_count(ranges: Vec<KeyRange>, shards: usize) -> Result<RangeMap, RingError> {
        if let Some((index, range)) = ranges.iter().enumerate().find(|(_, r)| r.shard >= shards) {
            return Err(RingError::RangeShard {
                index,
                shard: range.shard,
                shards,
            });
        }
        RangeMap::new(ranges)
    }

    /// The ranges, ascending.
    pub fn ranges(&self) -> &[KeyRange] {
        &self.ranges
    }

    /// The shard owning `value`, or [`RingError::NoRange`] outside every range.
    #[inline]
    pub fn shard_for_value(&self, value: i128) -> Result<ShardId, RingError> {
        // Ranges are contiguous: the candidate is the last range starting at or below value.
        let after = self
            .ranges
            .partition_point(|r| r.start.is_none_or(|s| s <= value));
        match after.checked_sub(1).map(|i| &self.ranges[i]) {
            Some(range) if range.contains(value) => Ok(range.shard),
            _ => Err(RingError::NoRange(value)),
        }
    }

    /// The shards whose ranges overlap the keys `lo..=hi` (`None` = unbounded), sorted and
    /// unique; empty when `lo > hi` or no range overlaps.
    pub fn shards_overlapping(&self, lo: Option<i128>, hi: Option<i128>) -> Vec<ShardId> {
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo > hi {
                return Vec::new();
            }
        }
        let mut shards: Vec<ShardId> = self
            .ranges
            .iter()
            .filter(|r| {
                let below_end = match (lo, r.end) {
                    (Some(lo), Some(end)) => lo < end,
                    _ => true,
                };
                let above_start = match (hi, r.start) {
                    (Some(hi), Some(start)) => start <= hi,
                    _ => true,
                };
                below_end && above_start
            })
            .map(|r| r.shard)
            .collect();
        shards.sort_unstable();
        shards.dedup();
        shards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: Option<i128>, end: Option<i128>, shard: ShardId) -> KeyRange {
        KeyRange { start, end, shard }
    }

    fn three() -> RangeMap {
        RangeMap::new(vec![
            r(None, Some(0), 2),
            r(Some(0), Some(100), 0),
            r(Some(100), Some(200), 1),
        ])
        .unwrap()
    }

    #[test]
    fn looks_up_by_range() {
        let map = three();
        assert_eq!(map.shard_for_value(i128::MIN), Ok(2));
        assert_eq!(map.shard_for_value(-1), Ok(2));
        assert_eq!(map.shard_for_value(0), Ok(0));
        assert_eq!(map.shard_for_value(99), Ok(0));
        assert_eq!(map.shard_for_value(100), Ok(1));
        assert_eq!(map.shard_for_value(199), Ok(1));
        assert_eq!(map.shard_for_value(200), Err(RingError::NoRange(200)));
    }

    #[test]
    fn bounded_below_rejects_small_keys() {
        let map = RangeMap::new(vec![r(Some(10), None, 0)]).unwrap();
        assert_eq!(map.shard_for_value(9), Err(RingError::NoRange(9)));
        assert_eq!(map.shard_for_value(i128::MAX), Ok(0));
    }

    #[test]
    fn overlapping_shards() {
        let map = three();
        assert_eq!(map.shards_overlapping(None, None), vec![0, 1, 2]);
        assert_eq!(map.shards_overlapping(Some(0), Some(99)), vec![0]);
        assert_eq!(map.shards_overlapping(Some(99), Some(100)), vec![0, 1]);
        assert_eq!(map.shards_overlapping(Some(-5), Some(5)), vec![0, 2]);
        assert_eq!(map.shards_overlapping(Some(150), None), vec![1]);
        assert_eq!(map.shards_overlapping(None, Some(-1)), vec![2]);
        assert_eq!(
            map.shards_overlapping(Some(500), Some(600)),
            Vec::<ShardId>::new()
        );
        assert_eq!(
            map.shards_overlapping(Some(5), Some(4)),
            Vec::<ShardId>::new()
        );
    }

    #[test]
    fn rejects_no_ranges() {
        assert_eq!(RangeMap::new(vec![]), Err(RingError::NoRanges));
    }

    #[test]
    fn rejects_empty_range() {
        let err = RangeMap::new(vec![r(Some(5), Some(5), 0)]).unwrap_err();
        assert_eq!(err.range_index(), Some(0));
        assert_eq!(
            err.to_string(),
            "range 0 [5, 5) is empty: its start must be below its end"
        );
    }

    #[test]
    fn rejects_gap() {
        let err = RangeMap::new(vec![r(None, Some(10), 0), r(Some(20), None, 1)]).unwrap_err();
        assert_eq!(err.range_index(), Some(1));
        assert_eq!(
            err.to_string(),
            "gap between range 0 (-inf, 10) and range 1 [20, +inf): keys [10, 20) belong to no shard"
        );
    }

    #[test]
    fn rejects_overlap() {
        let err = RangeMap::new(vec![r(None, Some(20), 0), r(Some(10), None, 1)]).unwrap_err();
        assert_eq!(err.range_index(), Some(1));
        assert_eq!(
            err.to_string(),
            "ranges 0 (-inf, 20) and 1 [10, +inf) overlap"
        );
        // Unbounded above, then anything.
        let err = RangeMap::new(vec![r(Some(0), None, 0), r(Some(10), None, 1)]).unwrap_err();
        assert!(matches!(
            err,
            RingError::RangeOverlap {
                prev: 0,
                index: 1,
                ..
            }
        ));
        // Same start.
        let err = RangeMap::new(vec![r(Some(0), Some(5), 0), r(Some(0), Some(9), 1)]).unwrap_err();
        assert!(matches!(err, RingError::RangeOverlap { .. }));
    }

    #[test]
    fn rejects_wrong_order() {
        let err = RangeMap::new(vec![r(Some(10), None, 1), r(None, Some(10), 0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "range 1 (-inf, 10) starts before range 0 [10, +inf); list ranges in ascending order"
        );
    }

    #[test]
    fn rejects_unknown_shard() {
        let err = RangeMap::with_shard_count(vec![r(None, None, 3)], 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "range 0 names shard 3, but there are only 2 shards"
        );
    }
}
