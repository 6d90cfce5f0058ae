//! The shardgate TOML schema, validated into an immutable [`Topology`].
mod topology;
pub use topology::*;
