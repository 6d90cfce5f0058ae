//! What the metrics endpoint asks of the proxy: gauges read from pools and health checks at
//! scrape time, and readiness.

use shardgate_backend::Role;
use shardgate_metrics::{metrics, Probe};

use crate::Proxy;

impl Probe for Proxy {
    fn refresh(&self) {
        let runtime = self.runtime();
        let m = metrics();
        // Endpoints and tables a reload removed disappear instead of keeping their last value.
        m.pool_connections.reset();
        m.backend_up.reset();
        m.replica_lag_seconds.reset();
        m.hotspot_score.reset();
        m.client_sessions.reset();
        for (command, n) in self.sessions.by_command() {
            m.client_sessions
                .with_label_values(&[command])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for service in runtime.services() {
            let target = service.target();
            let (shard, role) = (target.shard.as_str(), target.role.as_str());
            let endpoint = target.endpoint.to_string();
            let stats = service.pool.stats();
            for (state, n) in [
                ("in_use", stats.in_use),
                ("idle", stats.idle),
                ("waiting", stats.waiting),
            ] {
                m.pool_connections
                    .with_label_values(&[shard, &endpoint, state])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            let health = service.health.snapshot();
            m.backend_up
                .with_label_values(&[shard, &endpoint, role])
                .set(i64::from(health.up));
            if let (Role::Replica, Some(lag)) = (target.role, health.lag) {
                m.replica_lag_seconds
                    .with_label_values(&[shard, &endpoint])
                    .set(lag.as_secs_f64());
            }
        }
        for table in runtime.instruments.hotspots.scores() {
            m.hotspot_score
                .with_label_values(&[&table.table])
                .set(table.score);
        }
    }

    fn ready(&self) -> Result<(), String> {
        let runtime = self.runtime();
        let down: Vec<String> = runtime
            .services()
            .filter(|s| s.target().role == Role::Primary)
            .filter_map(|s| {
                let health = s.health.snapshot();
                match (health.checks, health.up) {
                    (0, _) => Some(format!("{} not checked yet", s.target())),
                    (_, false) => Some(format!(
                        "{} down ({})",
                        s.target(),
                        health
                            .last_error
                            .as_deref()
                            .unwrap_or("failed its health check")
                    )),
                    _ => None,
                }
            })
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(down.join("; "))
        }
    }
}
