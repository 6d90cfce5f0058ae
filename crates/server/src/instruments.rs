//! Metric handles of one runtime, looked up once so that a query touches no label map and
//! allocates nothing to be counted.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use prometheus::{Histogram, IntCounter};
use shardgate_backend::{BackendError, Flavor, Pool, PooledConn};
use shardgate_config::Topology;
use shardgate_metrics::metrics;
use shardgate_ring::ShardId;
use shardgate_router::{Route, StatementKind};

use crate::hotspots::Hotspots;

/// Counts and times the statements one shard's endpoints of one role run.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    read: IntCounter,
    write: IntCounter,
    other: IntCounter,
    duration: Histogram,
}

impl Meter {
    fn new(shard: &str, role: &str) -> Self {
        let m = metrics();
        let count = |kind: &str| m.queries_total.with_label_values(&[shard, role, kind]);
        Meter {
            read: count("read"),
            write: count("write"),
            other: count("other"),
            duration: m
                .backend_query_duration_seconds
                .with_label_values(&[shard, role]),
        }
    }

    /// Times a statement of `kind` from now until the returned guard is dropped.
    pub fn time(&self, kind: StatementKind) -> Timed<'_> {
        Timed {
            meter: self,
            kind,
            started: Instant::now(),
        }
    }
}

/// Counts one statement on its meter when dropped; held across the statement's `.await` (a
/// guard, not a wrapping future, so the statement's large future is not moved into another).
pub(crate) struct Timed<'a> {
    meter: &'a Meter,
    kind: StatementKind,
    started: Instant,
}

impl Drop for Timed<'_> {
    fn drop(&mut self) {
        let meter = self.meter;
        let counter = match self.kind {
            StatementKind::Read | StatementKind::LockingRead => &meter.read,
            StatementKind::Write => &meter.write,
            StatementKind::Ddl | StatementKind::Session | StatementKind::Transaction => {
                &meter.other
            }
        };
        counter.inc();
        meter.duration.observe(self.started.elapsed().as_secs_f64());
    }
}

/// The meters of one shard.
#[derive(Debug)]
struct ShardMeters {
    primary: Meter,
    /// Present when the shard has replicas.
    replica: Option<Meter>,
    primary_exhausted: IntCounter,
    replica_exhausted: Vec<IntCounter>,
}

/// Every per-query metric handle of one runtime.
#[derive(Debug)]
pub(crate) struct Instruments {
    shards: Vec<ShardMeters>,
    single: Histogram,
    multi: Histogram,
    scatter: Histogram,
    /// Requests per table and shard, for the hot-spot score.
    pub hotspots: Arc<Hotspots>,
}

impl Instruments {
    /// Handles for every shard and endpoint of `topology`.
    pub fn new(topology: &Topology) -> Self {
        let m = metrics();
        let exhausted = |shard: &str, endpoint: &shardgate_config::Endpoint| {
            m.pool_exhausted_total
                .with_label_values(&[shard, &endpoint.to_string()])
        };
        let shards = topology
            .shards
            .iter()
            .map(|shard| ShardMeters {
                primary: Meter::new(&shard.name, "primary"),
                replica: (!shard.replicas.is_empty()).then(|| Meter::new(&shard.name, "replica")),
                primary_exhausted: exhausted(&shard.name, &shard.primary),
                replica_exhausted: shard
                    .replicas
                    .iter()
                    .map(|r| exhausted(&shard.name, r))
                    .collect(),
            })
            .collect();
        let route = |name: &str| m.query_duration_seconds.with_label_values(&[name]);
        Instruments {
            shards,
            single: route("single"),
            multi: route("multi"),
            scatter: route("scatter"),
            hotspots: Hotspots::new(topology),
        }
    }

    pub fn primary(&self, shard: ShardId) -> &Meter {
        &self.shards[shard].primary
    }

    /// The replicas' meter of `shard` (its primary's if it has no replicas).
    pub fn replica(&self, shard: ShardId) -> &Meter {
        let meters = &self.shards[shard];
        meters.replica.as_ref().unwrap_or(&meters.primary)
    }

    /// The client-latency histogram of a plan's route.
    pub fn route_duration(&self, route: &Route) -> &Histogram {
        match route_label(route) {
            "scatter" => &self.scatter,
            "multi" => &self.multi,
            _ => &self.single,
        }
    }

    /// Checks a connection out of `pool` (the primary of `shard`, or its replica `replica`),
    /// timing the wait and counting a pool found exhausted.
    pub async fn checkout(
        &self,
        pool: &Arc<Pool>,
        shard: ShardId,
        replica: Option<usize>,
        flavor: Flavor,
    ) -> Result<PooledConn, BackendError> {
        let (result, waited) = pool.get_timed(flavor).await;
        metrics().pool_wait_seconds.observe(waited.as_secs_f64());
        if let Err(BackendError::PoolExhausted { .. }) = &result {
            let meters = &self.shards[shard];
            match replica {
                None => meters.primary_exhausted.inc(),
                Some(i) => meters.replica_exhausted[i].inc(),
            }
        }
        result
    }
}

/// The `route` label of a plan's route: `single`, `multi` (the same statement or its parts on
/// several shards, answered with one OK) or `scatter` (merged rows).
pub(crate) fn route_label(route: &Route) -> &'static str {
    match route {
        Route::Scatter(_) | Route::SetOperation(_) | Route::Materialize(_) | Route::Join(_) => {
            "scatter"
        }
        Route::AllShards | Route::Broadcast(_) | Route::Copies(_) | Route::Split(_) => "multi",
        _ => "single",
    }
}

/// Counts one open client connection in `shardgate_client_connections` while it lives.
pub(crate) struct ClientConnection(());

impl ClientConnection {
    pub fn open() -> Self {
        metrics().client_connections.inc();
        ClientConnection(())
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        metrics().client_connections.dec();
    }
}

/// The `shardgate_pinned_sessions` gauge of `reason`.
pub(crate) fn pinned_session(reason: crate::pins::PinReason) -> &'static prometheus::IntGauge {
    static GAUGES: OnceLock<Vec<prometheus::IntGauge>> = OnceLock::new();
    let gauges = GAUGES.get_or_init(|| {
        crate::pins::PinReason::ALL
            .iter()
            .map(|r| metrics().pinned_sessions.with_label_values(&[r.label()]))
            .collect()
    });
    let at = crate::pins::PinReason::ALL
        .iter()
        .position(|r| *r == reason)
        .expect("every reason is listed");
    &gauges[at]
}

/// Counts a planned statement's requests for the hot-spot score of its sharded table: one on
/// its shard, or one on every shard a scatter reaches.
pub(crate) fn record_load(runtime: &crate::runtime::Runtime, plan: &shardgate_router::Plan) {
    let Some(table) = plan.table.as_deref() else {
        return;
    };
    let hotspots = &runtime.instruments.hotspots;
    match &plan.route {
        Route::Shard(shard) => hotspots.record(table, *shard),
        Route::Scatter(scatter) => {
            for &shard in &scatter.shards {
                hotspots.record(table, shard);
            }
        }
        _ => {}
    }
}

/// The `kind` label of `shardgate_errors_total` for an error code sent to a client.
pub(crate) fn error_kind(code: u16) -> &'static str {
    match code {
        1235 => "unsupported",
        1227 | 1045 => "access_denied",
        1429 => "backend_unavailable",
        1040 => "pool_exhausted",
        1158 => "backend_connection_lost",
        1969 => "timeout",
        1038 => "merge_limit",
        1064 => "syntax",
        // Anything else is the backend's own answer to the statement (duplicate key, unknown
        // table, …) or one of the proxy's rarer refusals.
        _ => "statement",
    }
}

/// Every `kind` [`error_kind`] returns.
const ERROR_KINDS: [&str; 9] = [
    "unsupported",
    "access_denied",
    "backend_unavailable",
    "pool_exhausted",
    "backend_connection_lost",
    "timeout",
    "merge_limit",
    "syntax",
    "statement",
];

/// Counts an error sent to a client in `shardgate_errors_total`.
pub(crate) fn count_error(code: u16) {
    static COUNTERS: OnceLock<Vec<IntCounter>> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        ERROR_KINDS
            .iter()
            .map(|kind| metrics().errors_total.with_label_values(&[kind]))
            .collect()
    });
    let kind = error_kind(code);
    if let Some(i) = ERROR_KINDS.iter().position(|k| *k == kind) {
        counters[i].inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_is_listed() {
        for code in [
            1235, 1227, 1045, 1429, 1040, 1158, 1969, 1038, 1064, 1062, 1146,
        ] {
            assert!(ERROR_KINDS.contains(&error_kind(code)), "{code}");
        }
    }
}
