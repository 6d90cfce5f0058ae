//! A topology together with the backend pools and health monitor that serve it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shardgate_backend::replica_choice::{choose, Balance, Choice, ReadRequest};
use shardgate_backend::{
    GtidPosition, HealthHandle, HealthMonitor, HealthSettings, MonitorAccount, Pool,
};
use shardgate_config::{Consistency, Endpoint, Topology};
use shardgate_ring::ShardId;

/// One shard's endpoints: pools and health.
#[derive(Debug)]
struct ShardEndpoints {
    primary: Arc<Pool>,
    primary_health: Option<HealthHandle>,
    replicas: Vec<(Arc<Pool>, HealthHandle)>,
    /// Spreads reads over the replicas.
    next_read: AtomicU64,
}

/// One immutable topology and its pools; a query holds one `Arc<Runtime>` from start to end.
#[derive(Debug)]
pub struct Runtime {
    pub topology: Arc<Topology>,
    shards: Vec<ShardEndpoints>,
    /// Checks every endpoint while the runtime lives.
    _monitor: HealthMonitor,
    /// Collation ids of table columns, looked up once: (schema, table, column) → id.
    collations: std::sync::Mutex<std::collections::HashMap<(String, String, String), Option<u16>>>,
}

impl Runtime {
    pub fn new(topology: Arc<Topology>) -> Self {
        let backend = &topology.backend;
        let replication = &topology.replication;
        let monitor = HealthMonitor::for_shards(
            &topology.shards,
            MonitorAccount {
                user: backend.user.clone(),
                password: backend.password.clone(),
            },
            HealthSettings {
                interval: replication.health_check_interval,
                max_lag: replication.max_lag,
                connect_timeout: replication.health_check_timeout,
                query_timeout: replication.health_check_timeout,
                validation_query: backend.pool.validation_query.clone(),
                ..HealthSettings::default()
            },
        );
        let pool = |shard: &str, role: &str, endpoint: &Endpoint| {
            Pool::new(
                endpoint.clone(),
                format!("shard {shard} {role} {endpoint}"),
                backend.pool.clone(),
                &backend.user,
                &backend.password,
                &backend.database,
            )
        };
        let shards = topology
            .shards
            .iter()
            .map(|shard| ShardEndpoints {
                primary: pool(&shard.name, "primary", &shard.primary),
                primary_health: monitor.handle(&shard.name, &shard.primary).cloned(),
                replicas: shard
                    .replicas
                    .iter()
                    .filter_map(|r| {
                        let health = monitor.handle(&shard.name, r)?.clone();
                        Some((pool(&shard.name, "replica", r), health))
                    })
                    .collect(),
                next_read: AtomicU64::new(0),
            })
            .collect();
        Runtime {
            topology,
            shards,
            _monitor: monitor,
            collations: Default::default(),
        }
    }

    /// Waits until every endpoint has been checked once (at most `limit`), so the first reads
    /// know which replicas may serve them.
    pub async fn first_checks(&self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, self._monitor.first_round()).await;
    }

    /// The collation id of a table column (from information_schema on `shard`), cached.
    pub async fn column_collation(
        &self,
        shard: ShardId,
        flavor: shardgate_backend::Flavor,
        column: (String, String, String),
    ) -> Result<Option<u16>, shardgate_backend::BackendError> {
        if let Some(id) = self
            .collations
            .lock()
            .expect("collations lock")
            .get(&column)
        {
            return Ok(*id);
        }
        let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "''");
        let sql = format!(
            "SELECT co.ID FROM information_schema.COLUMNS c JOIN information_schema.COLLATIONS co \
             ON co.COLLATION_NAME = c.COLLATION_NAME WHERE c.TABLE_SCHEMA = '{}' AND c.TABLE_NAME = '{}' AND c.COLUMN_NAME = '{}'",
            quote(&column.0),
            quote(&column.1),
            quote(&column.2)
        );
        let mut conn = self.primary(shard).get(flavor).await?;
        let mut id = None;
        if let shardgate_backend::QueryHead::Columns(_) = conn.query_rows(sql.as_bytes()).await? {
            while let Ok(row) = conn.next_row().await? {
                id = shardgate_merge::text_cell(&row, 0)
                    .ok()
                    .flatten()
                    .and_then(|text| std::str::from_utf8(text).ok()?.parse().ok());
            }
        }
        self.collations
            .lock()
            .expect("collations lock")
            .insert(column, id);
        Ok(id)
    }

    pub fn primary(&self, shard: ShardId) -> &Arc<Pool> {
        &self.shards[shard].primary
    }

    pub fn replica(&self, shard: ShardId, index: usize) -> &Arc<Pool> {
        &self.shards[shard].replicas[index].0
    }

    pub fn has_replicas(&self, shard: ShardId) -> bool {
        !self.shards[shard].replicas.is_empty()
    }

    /// Where a read of `shard` at `consistency` goes, leaving out replicas in `excluded`
    /// (ones that just failed). While the primary is down, replicas whose SQL thread still
    /// applies what they have serve eventual reads (their IO thread cannot connect, so the
    /// lag is unknown): stale but available beats failing.
    pub fn choose_read(
        &self,
        shard: ShardId,
        consistency: Consistency,
        last_write: Option<&GtidPosition>,
        excluded: &[usize],
    ) -> Choice {
        let endpoints = &self.shards[shard];
        let primary_down = endpoints.primary_health.as_ref().is_some_and(|h| {
            let primary = h.snapshot();
            primary.checks > 0 && !primary.up
        });
        // The shared snapshots as they are; a copy only where this read must see otherwise.
        let snapshots: Vec<Arc<_>> = endpoints
            .replicas
            .iter()
            .enumerate()
            .map(|(i, (_, health))| {
                let snapshot = health.snapshot();
                let in_rotation = if excluded.contains(&i) {
                    false
                } else if primary_down && consistency == Consistency::Eventual {
                    snapshot.up && snapshot.sql_running == Some(true)
                } else {
                    return snapshot;
                };
                if snapshot.in_rotation == in_rotation {
                    return snapshot;
                }
                let mut changed = (*snapshot).clone();
                changed.in_rotation = in_rotation;
                Arc::new(changed)
            })
            .collect();
        let tick = endpoints.next_read.fetch_add(1, Ordering::Relaxed);
        choose(
            &snapshots,
            &ReadRequest {
                shard: &self.topology.shards[shard].name,
                consistency,
                last_write,
                fallback: self.topology.replication.fallback,
                balance: Balance::RoundRobin(tick),
            },
        )
    }
}
