//! The process-wide registry: every `shardgate_*` metric, created once.

use std::sync::OnceLock;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for statement and pool-wait durations: 0.5 ms .. 10 s.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric of the proxy; fields are named after the metric without the `shardgate_` prefix.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Statements sent to backends, by `shard`, `role` (primary|replica) and `kind` (read|write|other).
    pub queries_total: IntCounterVec,
    /// Client statement latency, by `route` (single|multi|scatter).
    pub query_duration_seconds: HistogramVec,
    /// Latency of one statement on one backend, by `shard` and `role`.
    pub backend_query_duration_seconds: HistogramVec,
    /// Errors returned to clients, by `kind`.
    pub errors_total: IntCounterVec,
    /// Client connections open now.
    pub client_connections: IntGauge,
    /// Client sessions keeping backend connections pinned, by `reason`.
    pub pinned_sessions: IntGaugeVec,
    /// Logged-in client sessions, by the `command` they serve (`Sleep` between commands).
    pub client_sessions: IntGaugeVec,
    /// Pooled backend connections, by `shard`, `endpoint` and `state` (in_use|idle|waiting).
    pub pool_connections: IntGaugeVec,
    /// Time spent waiting for a pooled backend connection.
    pub pool_wait_seconds: Histogram,
    /// Checkouts that found a pool at its maximum size, by `shard` and `endpoint`.
    pub pool_exhausted_total: IntCounterVec,
    /// Replication lag reported by each replica, by `shard` and `endpoint`.
    pub replica_lag_seconds: GaugeVec,
    /// 1 when the last health check of an endpoint passed, by `shard`, `endpoint` and `role`.
    pub backend_up: IntGaugeVec,
    /// Gini coefficient (0..100) of a table's requests over its shards in the recent window, by `table`.
    pub hotspot_score: GaugeVec,
    /// Config reloads, by `result` (ok|error).
    pub config_reloads_total: IntCounterVec,
    /// Version of the topology serving now; starts at 1 and grows by one per successful reload.
    pub topology_version: IntGauge,
    /// Reads of the tables' columns from the shards, by `result` (ok|error).
    pub schema_refreshes_total: IntCounterVec,
    /// Scatter answers refused because the shards' columns differed from the schema cache.
    pub schema_stale_total: IntCounter,
    /// Scatters the merge could not answer exactly, answered from copies of their tables.
    pub merges_from_copies_total: IntCounter,
    /// Statements answered from copies that have derived tables the proxy can compute, by
    /// `result`: used (their rows copied) or declined (copies of every table instead).
    pub derived_rows_total: IntCounterVec,
    /// Client connections open now, by `state` (handshaking|idle|running|pinned).
    pub client_connections_by_state: IntGaugeVec,
    /// Client connections refused before the handshake, by `reason`
    /// (too_many_connections|host_blocked).
    pub connections_refused_total: IntCounterVec,
    /// Logins refused with 1045 (wrong or unknown credentials, TLS required), COM_CHANGE_USER included.
    pub login_failures_total: IntCounter,
    /// Generated ids handed out to INSERTs, by `sequence`.
    pub sequence_ids_total: IntCounterVec,
    /// Blocks of ids reserved from a sequence table, by `sequence`.
    pub sequence_blocks_total: IntCounterVec,
    /// Reads routed by a lookup index, by data `table` and `lookup` column.
    pub lookup_reads_total: IntCounterVec,
    /// Of those, reads whose values the lookup did not hold (answered by the default shard).
    pub lookup_misses_total: IntCounterVec,
    /// Of those, reads that would have scattered to every shard and touched fewer.
    pub lookup_scatters_avoided_total: IntCounterVec,
    /// Data shards the lookup-routed reads touched (divided by the reads: shards per read).
    pub lookup_shards_total: IntCounterVec,
    /// Online resharding: phase, rows copied, copy rate, verify mismatches.
    pub migration: crate::migration::MigrationMetrics,
    /// Resharding catch-up: source transactions not applied to the new owners yet, by `source`.
    pub catch_up_lag_events: IntGaugeVec,
    /// Resharding catch-up: while behind, seconds since the source wrote the last applied
    /// transaction, by `source`.
    pub catch_up_lag_seconds: IntGaugeVec,
}

/// The process-wide metrics, created on first use.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(format!("shardgate_{name}"), help)
}

fn histogram_opts(name: &str, help: &str) -> HistogramOpts {
    HistogramOpts::new(format!("shardgate_{name}"), help).buckets(DURATION_BUCKETS.to_vec())
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        // Names and labels are constants: a failure here is a programming error caught by any test.
        let register = |collector: Box<dyn prometheus::core::Collector>| {
            registry
                .register(collector)
                .expect("metric registered twice");
        };
        let queries_total = IntCounterVec::new(
            opts("queries_total", "Statements sent to backends."),
            &["shard", "role", "kind"],
        )
        .expect("valid metric");
        let query_duration_seconds = HistogramVec::new(
            histogram_opts(
                "query_duration_seconds",
                "Client statement latency by route.",
            ),
            &["route"],
        )
        .expect("valid metric");
        let backend_query_duration_seconds = HistogramVec::new(
            histogram_opts(
                "backend_query_duration_seconds",
                "Latency of statements on one backend.",
            ),
            &["shard", "role"],
        )
        .expect("valid metric");
        let errors_total = IntCounterVec::new(
            opts("errors_total", "Errors returned to clients, by kind."),
            &["kind"],
        )
        .expect("valid metric");
        let client_connections =
            IntGauge::with_opts(opts("client_connections", "Client connections open now."))
                .expect("valid metric");
        let pinned_sessions = IntGaugeVec::new(
            opts(
                "pinned_sessions",
                "Client sessions keeping backend connections pinned, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let client_sessions = IntGaugeVec::new(
            opts(
                "client_sessions",
                "Logged-in client sessions by the command they serve.",
            ),
            &["command"],
        )
        .expect("valid metric");
        let pool_connections = IntGaugeVec::new(
            opts("pool_connections", "Pooled backend connections by state."),
            &["shard", "endpoint", "state"],
        )
        .expect("valid metric");
        let pool_wait_seconds = Histogram::with_opts(histogram_opts(
            "pool_wait_seconds",
            "Time spent waiting for a pooled backend connection.",
        ))
        .expect("valid metric");
        let pool_exhausted_total = IntCounterVec::new(
            opts(
                "pool_exhausted_total",
                "Checkouts that found the pool at its maximum size.",
            ),
            &["shard", "endpoint"],
        )
        .expect("valid metric");
        let replica_lag_seconds = GaugeVec::new(
            opts("replica_lag_seconds", "Replication lag of each replica."),
            &["shard", "endpoint"],
        )
        .expect("valid metric");
        let backend_up = IntGaugeVec::new(
            opts(
                "backend_up",
                "1 when the endpoint's last health check passed.",
            ),
            &["shard", "endpoint", "role"],
        )
        .expect("valid metric");
        let hotspot_score = GaugeVec::new(
            opts(
                "hotspot_score",
                "Gini coefficient (0-100) of a table's requests over its shards.",
            ),
            &["table"],
        )
        .expect("valid metric");
        let config_reloads_total = IntCounterVec::new(
            opts("config_reloads_total", "Config reloads by result."),
            &["result"],
        )
        .expect("valid metric");
        let topology_version = IntGauge::with_opts(opts(
            "topology_version",
            "Version of the topology serving now.",
        ))
        .expect("valid metric");
        let client_connections_by_state = IntGaugeVec::new(
            opts(
                "client_connections_by_state",
                "Client connections open now, by state.",
            ),
            &["state"],
        )
        .expect("valid metric");
        let connections_refused_total = IntCounterVec::new(
            opts(
                "connections_refused_total",
                "Client connections refused before the handshake, by reason.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let login_failures_total =
            IntCounter::with_opts(opts("login_failures_total", "Logins refused with 1045."))
                .expect("valid metric");

        register(Box::new(queries_total.clone()));
        register(Box::new(query_duration_seconds.clone()));
        register(Box::new(backend_query_duration_seconds.clone()));
        register(Box::new(errors_total.clone()));
        register(Box::new(client_connections.clone()));
        register(Box::new(pinned_sessions.clone()));
        register(Box::new(client_sessions.clone()));
        register(Box::new(pool_connections.clone()));
        register(Box::new(pool_wait_seconds.clone()));
        register(Box::new(pool_exhausted_total.clone()));
        register(Box::new(replica_lag_seconds.clone()));
        register(Box::new(backend_up.clone()));
        register(Box::new(hotspot_score.clone()));
        register(Box::new(config_reloads_total.clone()));
        register(Box::new(topology_version.clone()));
        register(Box::new(client_connections_by_state.clone()));
        register(Box::new(connections_refused_total.clone()));
        register(Box::new(login_failures_total.clone()));
        let sequence_ids_total = IntCounterVec::new(
            opts(
                "sequence_ids_total",
                "Generated ids handed out to INSERTs, by sequence.",
            ),
            &["sequence"],
        )
        .expect("valid metric");
        let sequence_blocks_total = IntCounterVec::new(
            opts(
                "sequence_blocks_total",
                "Blocks of ids reserved from a sequence table, by sequence.",
            ),
            &["sequence"],
        )
        .expect("valid metric");
        let schema_refreshes_total = IntCounterVec::new(
            opts(
                "schema_refreshes_total",
                "Reads of the tables' columns from the shards, by result.",
            ),
            &["result"],
        )
        .expect("valid metric");
        let schema_stale_total = IntCounter::with_opts(opts(
            "schema_stale_total",
            "Scatter answers refused because the shards' columns differed from the schema cache.",
        ))
        .expect("valid metric");
        register(Box::new(schema_refreshes_total.clone()));
        register(Box::new(schema_stale_total.clone()));
        let merges_from_copies_total = IntCounter::with_opts(opts(
            "merges_from_copies_total",
            "Scatters the merge could not answer exactly, answered from copies of their tables.",
        ))
        .expect("valid metric");
        register(Box::new(merges_from_copies_total.clone()));
        let derived_rows_total = IntCounterVec::new(
            opts(
                "derived_rows_total",
                "Statements answered from copies that have derived tables the proxy can compute, by result: used (their rows copied) or declined (copies of every table instead).",
            ),
            &["result"],
        )
        .expect("valid metric");
        register(Box::new(derived_rows_total.clone()));
        register(Box::new(sequence_ids_total.clone()));
        register(Box::new(sequence_blocks_total.clone()));
        let lookup_counter = |name: &str, help: &str| {
            let counter =
                IntCounterVec::new(opts(name, help), &["table", "lookup"]).expect("valid metric");
            register(Box::new(counter.clone()));
            counter
        };
        let lookup_reads_total = lookup_counter(
            "lookup_reads_total",
            "Reads routed by a lookup index, by table and lookup column.",
        );
        let lookup_misses_total = lookup_counter(
            "lookup_misses_total",
            "Lookup-routed reads whose values the lookup did not hold.",
        );
        let lookup_scatters_avoided_total = lookup_counter(
            "lookup_scatters_avoided_total",
            "Lookup-routed reads that touched fewer shards than a scatter would have.",
        );
        let lookup_shards_total = lookup_counter(
            "lookup_shards_total",
            "Data shards the lookup-routed reads touched.",
        );
        let migration = crate::migration::MigrationMetrics::new(&register);
        let catch_up_gauge = |name: &str, help: &str| {
            let gauge = IntGaugeVec::new(opts(name, help), &["source"]).expect("valid metric");
            register(Box::new(gauge.clone()));
            gauge
        };
        let catch_up_lag_events = catch_up_gauge(
            "catch_up_lag_events",
            "Resharding catch-up: source transactions not yet applied to the new owners.",
        );
        let catch_up_lag_seconds = catch_up_gauge(
            "catch_up_lag_seconds",
            "Resharding catch-up: seconds since the source wrote the last applied transaction, while behind.",
        );
        // Both results exist from the start, so `rate()` and alerts see a 0 before the first reload.
        for result in ["ok", "error"] {
            config_reloads_total.with_label_values(&[result]);
            schema_refreshes_total.with_label_values(&[result]);
        }
        topology_version.set(1);
        // Every state and reason is shown from the start, 0 until it happens.
        for state in ["handshaking", "idle", "running", "pinned"] {
            client_connections_by_state.with_label_values(&[state]);
        }
        for reason in ["too_many_connections", "host_blocked"] {
            connections_refused_total.with_label_values(&[reason]);
        }

        Metrics {
            registry,
            queries_total,
            query_duration_seconds,
            backend_query_duration_seconds,
            errors_total,
            client_connections,
            pinned_sessions,
            client_sessions,
            pool_connections,
            pool_wait_seconds,
            pool_exhausted_total,
            replica_lag_seconds,
            backend_up,
            hotspot_score,
            config_reloads_total,
            topology_version,
            client_connections_by_state,
            connections_refused_total,
            login_failures_total,
            sequence_ids_total,
            sequence_blocks_total,
            lookup_reads_total,
            lookup_misses_total,
            lookup_scatters_avoided_total,
            lookup_shards_total,
            schema_refreshes_total,
            schema_stale_total,
            merges_from_copies_total,
            derived_rows_total,
            migration,
            catch_up_lag_events,
            catch_up_lag_seconds,
        }
    }

    /// Every metric in the Prometheus text exposition format.
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_with_its_prefix() {
        let m = metrics();
        m.queries_total
            .with_label_values(&["s0", "primary", "read"])
            .inc();
        let text = m.encode();
        for name in [
            "shardgate_queries_total",
            "shardgate_config_reloads_total",
            "shardgate_topology_version",
            "shardgate_client_connections",
            "shardgate_pool_wait_seconds",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing in\n{text}"
            );
        }
    }
}
