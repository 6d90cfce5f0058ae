//! Sharding functions: which shard owns a shard-key value.
//!
//! Three strategies share one entry point, [`Sharder::shard_for`]:
//! a consistent-hash [`HashRing`] with virtual nodes, [`hash_mod`](Sharder::HashMod)
//! (`xxh3(key) % shards`) and a [`RangeMap`] of integer ranges. Hash strategies hash the
//! key's canonical bytes (see [`key`]), so `42`, `'42'` and `' 042 '` land on the same shard
//! of an integer shard key.

mod error;
mod hash_mod;
pub mod key;
mod ownership;
mod range;
mod ring;

pub use error::RingError;
pub use hash_mod::hash_mod;
pub use key::{hash_key, parse_integer, IntText};
pub use ownership::{key_moves, KeyFlow, KeyMoves};
pub use range::{KeyRange, RangeMap};
pub use ring::{HashRing, DEFAULT_VIRTUAL_NODES};
pub use shardgate_collation::Collation;

/// Index of a shard in the config's shard list.
pub type ShardId = usize;

/// A shard-key value as it appears in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue<'a> {
    /// An integer literal.
    Int(i128),
    /// A string literal, as raw bytes.
    Str(&'a [u8]),
}

/// What a shard key's values hash as: an integer column's as numbers (a string value
/// converted first, and rejected if it is not one), a string column's folded by the
/// collation its placement follows (`shardgate_collation`'s `fold_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Integer,
    String(Collation),
}

/// A sharding function: maps a shard-key value to the shard that owns it.
#[derive(Debug)]
pub enum Sharder {
    /// Consistent hashing over a ring of virtual nodes.
    ConsistentHash(HashRing),
    /// `xxh3(key) % shards`.
    HashMod { shards: usize },
    /// Integer ranges, each owned by one shard.
    Range(RangeMap),
}

impl Sharder {
    /// The shard owning `key` of a shard key of `kind`. Range sharders always need an
    /// integer key.
    #[inline]
    pub fn shard_for(&self, key: &KeyValue<'_>, kind: KeyKind) -> Result<ShardId, RingError> {
        match self {
            Sharder::ConsistentHash(ring) => ring.shard_for_hash(hash_key(key, kind)?),
            Sharder::HashMod { shards } => hash_mod(hash_key(key, kind)?, *shards),
            Sharder::Range(map) => map.shard_for_value(key.to_integer()?),
        }
    }

    /// The strategy's name as written in the config: `consistent_hash`, `hash_mod` or `range`.
    pub fn strategy_name(&self) -> &'static str {
        match self {
            Sharder::ConsistentHash(_) => "consistent_hash",
            Sharder::HashMod { .. } => "hash_mod",
            Sharder::Range(_) => "range",
        }
    }

    /// The shards that may hold keys in `lo..=hi` (`None` = unbounded), sorted and unique.
    /// `None` when the strategy cannot prune by key range (hash strategies scatter).
    pub fn shards_for_key_range(&self, lo: Option<i128>, hi: Option<i128>) -> Option<Vec<ShardId>> {
        match self {
            Sharder::Range(map) => Some(map.shards_overlapping(lo, hi)),
            Sharder::ConsistentHash(_) | Sharder::HashMod { .. } => None,
        }
    }
}

impl KeyValue<'_> {
    /// The value as an integer, converting a string strictly (see [`parse_integer`]).
    #[inline]
    pub fn to_integer(&self) -> Result<i128, RingError> {
        match *self {
            KeyValue::Int(v) => Ok(v),
            KeyValue::Str(s) => parse_integer(s),
        }
    }
}
