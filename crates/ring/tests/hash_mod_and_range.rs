//! Hash-mod and range placement properties.

use proptest::prelude::*;
use shardgate_ring::{hash_key, KeyKind, KeyRange, KeyValue, RangeMap, RingError, Sharder};

/// Contiguous ranges from sorted distinct cut points, optionally unbounded at either end.
fn range_map() -> impl Strategy<Value = RangeMap> {
    (
        proptest::collection::btree_set(-1000i128..1000, 1..8),
        any::<bool>(),
        any::<bool>(),
        0usize..4,
    )
        .prop_map(|(cuts, open_below, open_above, first_shard)| {
            let cuts: Vec<i128> = cuts.into_iter().collect();
            let mut ranges = Vec::new();
            if open_below {
                ranges.push(KeyRange {
                    start: None,
                    end: Some(cuts[0]),
                    shard: first_shard,
                });
            }
            for pair in cuts.windows(2) {
                let shard = (first_shard + ranges.len()) % 4;
                ranges.push(KeyRange {
                    start: Some(pair[0]),
                    end: Some(pair[1]),
                    shard,
                });
            }
            if open_above || ranges.is_empty() {
                let shard = (first_shard + ranges.len()) % 4;
                ranges.push(KeyRange {
                    start: Some(*cuts.last().unwrap()),
                    end: None,
                    shard,
                });
            }
            RangeMap::new(ranges).unwrap()
        })
}

proptest! {
    #[test]
    fn hash_mod_is_hash_remainder(key in any::<i64>(), shards in 1usize..64) {
        let sharder = Sharder::HashMod { shards };
        let key = KeyValue::Int(key.into());
        let shard = sharder.shard_for(&key, KeyKind::Integer).unwrap();
        prop_assert!(shard < shards);
        prop_assert_eq!(shard as u64, hash_key(&key, KeyKind::Integer).unwrap() % shards as u64);
    }

    #[test]
    fn range_lookup_finds_the_containing_range(map in range_map(), value in -1500i128..1500) {
        match map.shard_for_value(value) {
            Ok(shard) => {
                let owner = map.ranges().iter().find(|r| r.contains(value)).unwrap();
                prop_assert_eq!(owner.shard, shard);
            }
            Err(err) => {
                prop_assert_eq!(err, RingError::NoRange(value));
                prop_assert!(map.ranges().iter().all(|r| !r.contains(value)));
            }
        }
    }

    #[test]
    fn overlapping_shards_cover_every_key_between(map in range_map(), a in -1500i128..1500, len in 0i128..300) {
        let (lo, hi) = (a, a + len);
        let shards = map.shards_overlapping(Some(lo), Some(hi));
        let mut seen: Vec<usize> = (lo..=hi).filter_map(|k| map.shard_for_value(k).ok()).collect();
        seen.sort_unstable();
        seen.dedup();
        // Exact: every listed shard owns some key in lo..=hi, and every owner is listed.
        prop_assert_eq!(shards, seen);
    }

    #[test]
    fn consecutive_ranges_with_a_gap_are_rejected(cut in -100i128..100, gap in 1i128..50) {
        let err = RangeMap::new(vec![
            KeyRange { start: None, end: Some(cut), shard: 0 },
            KeyRange { start: Some(cut + gap), end: None, shard: 1 },
        ]).unwrap_err();
        let is_gap = matches!(err, RingError::RangeGap { prev: 0, index: 1, .. });
        prop_assert!(is_gap);
    }
}
