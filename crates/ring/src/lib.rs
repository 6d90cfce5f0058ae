//! Sharding functions: which shard owns a shard-key value.
//! (API skeleton: bodies are filled in by the ring work.)

pub type ShardId = usize;

/// A shard-key value as it appears in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyValue<'a> {
    Int(i128),
    Str(&'a [u8]),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RingError {
    #[error("shard key value {0:?} is not an integer")]
    NotAnInteger(String),
    #[error("no range covers shard key value {0}")]
    NoRange(i128),
}

#[derive(Debug)]
pub struct HashRing;
#[derive(Debug)]
pub struct RangeMap;

#[derive(Debug)]
pub enum Sharder {
    ConsistentHash(HashRing),
    HashMod { shards: usize },
    Range(RangeMap),
}

impl Sharder {
    pub fn shard_for(&self, _key: &KeyValue<'_>, _integer_key: bool) -> Result<ShardId, RingError> {
        todo!()
    }
}
