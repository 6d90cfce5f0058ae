//! Consistent-hash ring with virtual nodes.
//!
//! Each shard owns `virtual_nodes` points on a 64-bit ring; the point of virtual node `i` of
//! shard `name` is `xxh3_64("{name}#{i}")`, so it depends only on the shard's name: adding
//! or removing a shard never moves another shard's points, and only the keys between the
//! changed shard's points and their predecessors move. A key belongs to the first point at
//! or after its hash, wrapping around after the last point.

use std::fmt::Write as _;

use xxhash_rust::xxh3::xxh3_64;

use crate::{RingError, ShardId};

/// Virtual nodes per shard when the config does not say. With 4 shards each shard's share
/// of keys deviates by about `1/sqrt(1024)` ≈ 3% from 25%.
pub const DEFAULT_VIRTUAL_NODES: u32 = 1024;

/// Most bits of the hash used to index into the bucket table.
const MAX_BUCKET_BITS: u32 = 20;

/// A consistent-hash ring over shards, built once per topology and read-only after.
///
/// Layout for fast lookups: the sorted points and their owners sit in two parallel vectors,
/// and a bucket table indexed by the top bits of the hash narrows the search to the one or
/// two points of that bucket, so a lookup touches about three cache lines.
pub struct HashRing {
    /// Ring points, ascending, unique.
    points: Vec<u64>,
    /// `owners[i]` owns `points[i]`.
    owners: Vec<u32>,
    /// `buckets[b]` is the index of the first point whose top bits are `>= b`;
    /// it has one extra entry equal to `points.len()`.
    buckets: Vec<u32>,
    /// `64 - bucket bits`.
    shift: u32,
    shards: usize,
    virtual_nodes: u32,
}

impl HashRing {
    /// Builds the ring for shards named `shard_names` (a `ShardId` is an index into it),
    /// with `virtual_nodes` points per shard (0 is treated as 1).
    ///
    /// Two points that hash equal (vanishingly rare) are resolved deterministically: the
    /// point goes to the shard with the smaller name, then the smaller index.
    pub fn new(shard_names: &[&str], virtual_nodes: u32) -> HashRing {
        let virtual_nodes = virtual_nodes.max(1);
        let total = shard_names.len() * virtual_nodes as usize;
        assert!(
            u32::try_from(total).is_ok(),
            "a ring holds at most u32::MAX points"
        );
        let mut entries: Vec<(u64, &str, ShardId)> = Vec::with_capacity(total);
        let mut label = String::new();
        for (id, name) in shard_names.iter().enumerate() {
            for vnode in 0..virtual_nodes {
                label.clear();
                let _ = write!(label, "{name}#{vnode}");
                entries.push((xxh3_64(label.as_bytes()), name, id));
            }
        }
        entries.sort_unstable();
        entries.dedup_by_key(|entry| entry.0);

        let points: Vec<u64> = entries.iter().map(|entry| entry.0).collect();
        let owners: Vec<u32> = entries.iter().map(|entry| entry.2 as u32).collect();
        let bits = usize::BITS - points.len().max(2).saturating_sub(1).leading_zeros();
        let bits = bits.clamp(1, MAX_BUCKET_BITS);
        let shift = 64 - bits;
        let buckets = (0..=(1u64 << bits))
            .map(|bucket| {
                if bucket == 1 << bits {
                    points.len() as u32
                } else {
                    points.partition_point(|&p| p >> shift < bucket) as u32
                }
            })
            .collect();
        HashRing {
            points,
            owners,
            buckets,
            shift,
            shards: shard_names.len(),
            virtual_nodes,
        }
    }

    /// The shard owning a key whose hash is `hash`: the owner of the first point `>= hash`,
    /// wrapping around to the first point.
    #[inline]
    pub fn shard_for_hash(&self, hash: u64) -> Result<ShardId, RingError> {
        if self.points.is_empty() {
            return Err(RingError::NoShards);
        }
        let bucket = (hash >> self.shift) as usize;
        let lo = self.buckets[bucket] as usize;
        let hi = self.buckets[bucket + 1] as usize;
        // Every point in later buckets is > hash, so if none in this bucket is >= hash the
        // answer is the first point after it (`hi`), or the ring wraps.
        let mut index = lo + self.points[lo..hi].partition_point(|&p| p < hash);
        if index == self.points.len() {
            index = 0;
        }
        Ok(self.owners[index] as ShardId)
    }

    /// Number of shards on the ring.
    pub fn shard_count(&self) -> usize {
        self.shards
    }

    /// Virtual nodes per shard.
    pub fn virtual_nodes(&self) -> u32 {
        self.virtual_nodes
    }

    /// The ring's points and their owners, ascending.
    pub fn points(&self) -> impl Iterator<Item = (u64, ShardId)> + '_ {
        self.points
            .iter()
            .zip(&self.owners)
            .map(|(&point, &owner)| (point, owner as ShardId))
    }
}

impl std::fmt::Debug for HashRing {
    // The points are thousands of numbers: show the shape, not the content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashRing")
            .field("shards", &self.shards)
            .field("virtual_nodes", &self.virtual_nodes)
            .field("points", &self.points.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference answer: first point >= hash by a plain binary search, or wrap.
    fn reference(ring: &HashRing, hash: u64) -> ShardId {
        let index = ring.points.partition_point(|&p| p < hash);
        ring.owners[index % ring.points.len()] as ShardId
    }

    #[test]
    fn empty_ring_has_no_shards() {
        let ring = HashRing::new(&[], 16);
        assert_eq!(ring.shard_for_hash(5), Err(RingError::NoShards));
    }

    #[test]
    fn single_shard_owns_everything() {
        let ring = HashRing::new(&["only"], 1);
        for hash in [0, 1, u64::MAX / 2, u64::MAX] {
            assert_eq!(ring.shard_for_hash(hash), Ok(0));
        }
    }

    #[test]
    fn zero_virtual_nodes_means_one() {
        let ring = HashRing::new(&["a", "b"], 0);
        assert_eq!(ring.virtual_nodes(), 1);
        assert_eq!(ring.points().count(), 2);
    }

    #[test]
    fn bucket_lookup_matches_binary_search() {
        let ring = HashRing::new(&["s0", "s1", "s2"], 100);
        let mut probes = vec![0, u64::MAX, 1];
        for (point, _) in ring.points() {
            probes.extend([point.wrapping_sub(1), point, point.wrapping_add(1)]);
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probes.push(x);
        }
        for hash in probes {
            assert_eq!(
                ring.shard_for_hash(hash),
                Ok(reference(&ring, hash)),
                "{hash}"
            );
        }
    }

    #[test]
    fn points_are_sorted_and_unique() {
        let ring = HashRing::new(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
        assert_eq!(ring.points().count(), 4 * DEFAULT_VIRTUAL_NODES as usize);
        assert!(ring.points.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn equal_points_go_to_the_smaller_name() {
        // The same name twice yields identical points: the lower index wins every tie.
        let ring = HashRing::new(&["b", "a", "b"], 8);
        assert_eq!(ring.points().count(), 16);
        assert!(ring.points().all(|(_, owner)| owner != 2));
    }
}
