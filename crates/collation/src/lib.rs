//! MariaDB's string collations as weights, shared by the merge (which compares, sorts and
//! groups strings as a shard would) and the ring (which places string shard keys so that keys
//! a collation calls equal share a shard).

mod charset;
mod collation;
mod collation_data;
mod key_fold;
mod unicode_ci;

pub use charset::{Charset, Sequences, SingleByte};
pub use collation::{exact_collation, Collation, DEFAULT_SORT_LENGTH};
