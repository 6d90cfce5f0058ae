//! One endpoint's pool and health check, shared by every runtime whose topology keeps the
//! endpoint: a reload carries them over instead of reconnecting and forgetting health state.

use std::sync::Arc;
use std::time::Duration;

use shardgate_backend::{
    HealthHandle, HealthMonitor, HealthSettings, MonitorAccount, MonitorTarget, Pool,
};
use shardgate_config::Topology;

/// The pool and health check of one endpoint (a shard's primary or one of its replicas).
/// Dropped with the last runtime that uses it: the health check stops, and the pool closes its
/// idle connections once no query holds one of them.
#[derive(Debug)]
pub(crate) struct EndpointService {
    pub pool: Arc<Pool>,
    pub health: HealthHandle,
    /// Runs the check task; dropping it stops the task.
    _monitor: HealthMonitor,
}

impl EndpointService {
    /// Opens the pool of `target` and starts checking it, with `topology`'s settings and
    /// `tls`, its `[backend] tls` made ready.
    pub fn start(
        target: MonitorTarget,
        topology: &Topology,
        tls: &shardgate_backend::TlsSetup,
    ) -> Arc<Self> {
        let backend = &topology.backend;
        let replication = &topology.replication;
        let pool = Pool::new(
            target.endpoint.clone(),
            format!(
                "shard {} {} {}",
                target.shard,
                target.role.as_str(),
                target.endpoint
            ),
            backend.pool.clone(),
            &backend.user,
            &backend.password,
            &backend.database,
            tls.clone(),
        );
        let monitor = HealthMonitor::spawn(
            [target],
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
                tls: backend.tls.clone(),
                ..HealthSettings::default()
            },
        );
        let health = monitor.handles()[0].clone();
        Arc::new(EndpointService {
            pool,
            health,
            _monitor: monitor,
        })
    }

    /// Which shard, role and address this serves.
    pub fn target(&self) -> &MonitorTarget {
        self.health.target()
    }

    /// Waits until the endpoint has been checked at least once.
    pub async fn first_check(&self) {
        self.health.wait_for(|h| h.checks > 0).await;
    }
}

/// Whether the services of `old` fit `new` as they are: the pools' login and settings and the
/// health checks' settings are the same. If not, a reload starts every service afresh.
pub(crate) fn services_fit(old: &Topology, new: &Topology) -> bool {
    let (a, b) = (&old.backend, &new.backend);
    let checks = |t: &Topology| -> (Duration, Duration, Duration) {
        let r = &t.replication;
        (r.health_check_interval, r.health_check_timeout, r.max_lag)
    };
    a.user == b.user
        && a.password == b.password
        && a.database == b.database
        && a.pool == b.pool
        && a.tls == b.tls
        && checks(old) == checks(new)
}
