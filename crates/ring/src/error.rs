//! The one error type of the ring crate.

use crate::ShardId;

/// Why a key could not be placed, or why a sharding function could not be built.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RingError {
    /// A string given for an integer shard key is not a plain decimal integer.
    #[error("shard key value {0:?} is not an integer")]
    NotAnInteger(String),
    /// No range of a range-sharded table covers the value.
    #[error("no range covers shard key value {0}")]
    NoRange(i128),
    /// The sharding function has no shard to return.
    #[error("no shards to place the key on")]
    NoShards,
    /// A range table has no ranges.
    #[error("no ranges given")]
    NoRanges,
    /// A range whose start is not below its end.
    #[error("range {index} {range} is empty: its start must be below its end")]
    EmptyRange { index: usize, range: String },
    /// Ranges are not listed by ascending start.
    #[error("range {index} {range} starts before range {prev} {prev_range}; list ranges in ascending order")]
    RangeOrder {
        prev: usize,
        prev_range: String,
        index: usize,
        range: String,
    },
    /// Two consecutive ranges share keys.
    #[error("ranges {prev} {prev_range} and {index} {range} overlap")]
    RangeOverlap {
        prev: usize,
        prev_range: String,
        index: usize,
        range: String,
    },
    /// Keys between two consecutive ranges belong to no range.
    #[error("gap between range {prev} {prev_range} and range {index} {range}: keys {gap} belong to no shard")]
    RangeGap {
        prev: usize,
        prev_range: String,
        index: usize,
        range: String,
        gap: String,
    },
    /// A range names a shard the sharding function does not have.
    #[error("range {index} names shard {shard}, but there are only {shards} shards")]
    RangeShard {
        index: usize,
        shard: ShardId,
        shards: usize,
    },
}

impl RingError {
    /// For range-validation errors, the index of the offending range (the later one of a pair).
    pub fn range_index(&self) -> Option<usize> {
        match self {
            RingError::EmptyRange { index, .. }
            | RingError::RangeOrder { index, .. }
            | RingError::RangeOverlap { index, .. }
            | RingError::RangeGap { index, .. }
            | RingError::RangeShard { index, .. } => Some(*index),
            RingError::NotAnInteger(_)
            | RingError::NoRange(_)
            | RingError::NoShards
            | RingError::NoRanges => None,
        }
    }
}
