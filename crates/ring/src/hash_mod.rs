//! Hash-modulo placement: `xxh3(key) % shards`.

use crate::{RingError, ShardId};

/// The shard for a key hash under hash-mod placement over `shards` shards.
#[inline]
pub fn hash_mod(hash: u64, shards: usize) -> Result<ShardId, RingError> {
    if shards == 0 {
        return Err(RingError::NoShards);
    }
    Ok((hash % shards as u64) as ShardId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_shards_is_an_error() {
        assert_eq!(hash_mod(7, 0), Err(RingError::NoShards));
    }

    #[test]
    fn takes_the_remainder() {
        assert_eq!(hash_mod(7, 4), Ok(3));
        assert_eq!(hash_mod(u64::MAX, 1), Ok(0));
        assert_eq!(hash_mod(u64::MAX, 10), Ok(5));
    }
}
