//! A topology together with the backend pools that serve it.

use std::sync::Arc;

use shardgate_backend::Pool;
use shardgate_config::Topology;
use shardgate_ring::ShardId;

/// One immutable topology and its pools; a query holds one `Arc<Runtime>` from start to end.
#[derive(Debug)]
pub struct Runtime {
    pub topology: Arc<Topology>,
    /// Pool of each shard's primary, indexed by `ShardId`.
    primaries: Vec<Arc<Pool>>,
}

impl Runtime {
    pub fn new(topology: Arc<Topology>) -> Self {
        let backend = &topology.backend;
        let primaries = topology
            .shards
            .iter()
            .map(|shard| {
                Pool::new(
                    shard.primary.clone(),
                    format!("shard {} primary {}", shard.name, shard.primary),
                    backend.pool.clone(),
                    &backend.user,
                    &backend.password,
                    &backend.database,
                )
            })
            .collect();
        Runtime {
            topology,
            primaries,
        }
    }

    pub fn primary(&self, shard: ShardId) -> &Arc<Pool> {
        &self.primaries[shard]
    }
}
