//! The health and lag monitor against real MariaDB: healthy replicas, a stopped SQL thread,
//! a delayed replica, a killed one and a frozen one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use shardgate_backend::{
    EndpointHealth, GtidPosition, HealthHandle, HealthMonitor, HealthSettings, MonitorAccount,
    MonitorTarget, Role,
};
use shardgate_config::Endpoint;
use shardgate_sandbox::{Instance, Sandbox, SandboxSpec, BACKEND_PASSWORD, BACKEND_USER};

/// Generous: these machines are slow under load; no test waits this long when all is well.
const PATIENCE: Duration = Duration::from_secs(30);

fn settings() -> HealthSettings {
    HealthSettings {
        interval: Duration::from_millis(200),
        max_lag: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        query_timeout: Duration::from_secs(1),
        rise: 2,
        fall: 1,
        validation_query: "SELECT 1".into(),
        tls: Default::default(),
    }
}

fn target(inst: &Instance, role: Role) -> MonitorTarget {
    MonitorTarget {
        shard: inst.shard.clone(),
        role,
        endpoint: Endpoint {
            host: "127.0.0.1".into(),
            port: inst.port,
        },
    }
}

fn account() -> MonitorAccount {
    MonitorAccount {
        user: BACKEND_USER.into(),
        password: BACKEND_PASSWORD.into(),
    }
}

/// 1 shard × 2 replicas with a table `t` written once and replicated.
async fn start() -> Sandbox {
    let sb = Sandbox::start(SandboxSpec::new(1, 2))
        .await
        .expect("sandbox starts");
    let primary = sb.shards()[0].primary.clone();
    sb.exec_in(
        &primary,
        "app",
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT); INSERT INTO t (v) VALUES (1)",
    )
    .await
    .unwrap();
    sb.wait_replicas_synced(PATIENCE).await.unwrap();
    sb
}

/// Monitors the shard's primary and replicas (handles in that order).
fn monitor(sb: &Sandbox) -> HealthMonitor {
    let shard = &sb.shards()[0];
    let mut targets = vec![target(&shard.primary, Role::Primary)];
    targets.extend(shard.replicas.iter().map(|r| target(r, Role::Replica)));
    HealthMonitor::spawn(targets, account(), settings())
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {PATIENCE:?}"))
}

/// Waits until `h`'s snapshot satisfies `pred`, failing with the last snapshot.
async fn wait_until(
    h: &HealthHandle,
    what: &str,
    pred: impl FnMut(&EndpointHealth) -> bool,
) -> Arc<EndpointHealth> {
    match tokio::time::timeout(PATIENCE, h.wait_for(pred)).await {
        Ok(Some(s)) => s,
        Ok(None) => panic!("{what}: the monitor stopped"),
        Err(_) => panic!(
            "{what}: not within {PATIENCE:?}; last snapshot {:#?}",
            h.snapshot()
        ),
    }
}

async fn next_check(h: &HealthHandle) -> Arc<EndpointHealth> {
    within("next check", h.next_check())
        .await
        .expect("monitor running")
}

fn healthy(s: &EndpointHealth) -> bool {
    s.up && s.in_rotation && s.last_error.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_replicas_are_in_rotation_and_cover_the_primary() {
    let mut sb = start().await;
    let shard = sb.shards()[0].clone();
    let primary_pos: GtidPosition = sb
        .scalar(&shard.primary, "SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!(!primary_pos.is_empty());
    let mon = monitor(&sb);
    within("first round", mon.first_round()).await;
    let snaps = within("next round", mon.next_round()).await;
    assert_eq!(snaps.len(), 3);

    let primary = &snaps[0];
    assert!(healthy(primary), "{primary:#?}");
    assert_eq!(primary.target.role, Role::Primary);
    assert_eq!(primary.read_only, Some(false));
    assert_eq!(primary.lag, None);
    assert_eq!(primary.io_running, None);
    assert!(primary.gtid_position.as_ref().unwrap().covers(&primary_pos));

    for r in &snaps[1..] {
        assert!(healthy(r), "{r:#?}");
        assert_eq!(r.target.role, Role::Replica);
        assert_eq!(r.io_running, Some(true));
        assert_eq!(r.sql_running, Some(true));
        assert!(r.lag.unwrap() <= Duration::from_secs(1), "{r:#?}");
        let pos = r.gtid_position.as_ref().expect("replica GTID position");
        assert!(pos.covers(&primary_pos), "{pos} should cover {primary_pos}");
        assert!(r.checks >= 2 && r.last_check.is_some());
    }
    // A control connection the server closes is replaced within the same check: no blip.
    let h = mon.handles()[1].clone();
    let replica = shard.replicas[0].clone();
    let ids = sb
        .exec(
            &replica,
            &format!("SELECT id FROM information_schema.processlist WHERE user = '{BACKEND_USER}'"),
        )
        .await
        .unwrap();
    assert!(
        !ids.is_empty(),
        "the monitor keeps its control connection open"
    );
    for row in ids {
        let id = row[0].clone().unwrap();
        // It may be closing already if a check broke on it; that is fine.
        let _ = sb.exec(&replica, &format!("KILL CONNECTION {id}")).await;
    }
    let s = next_check(&h).await;
    assert!(healthy(&s) && s.bad_streak == 0, "{s:#?}");

    assert_eq!(mon.replicas("s0").count(), 2);
    assert_eq!(
        mon.handle("s0", &snaps[1].target.endpoint)
            .unwrap()
            .target()
            .role,
        Role::Replica
    );
    mon.shutdown().await;

    // A server that does not replicate is not a usable replica.
    let mon = HealthMonitor::spawn(
        [target(&shard.primary, Role::Replica)],
        account(),
        settings(),
    );
    let s = within("first round", mon.first_round()).await.remove(0);
    assert!(s.up && !s.in_rotation, "{s:#?}");
    assert!(
        s.last_error.as_deref().unwrap().contains("not replicating"),
        "{s:#?}"
    );
    mon.shutdown().await;
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_sql_thread_leaves_rotation_and_returns_after_rise_checks() {
    let mut sb = start().await;
    let replica = sb.shards()[0].replicas[0].clone();
    let mon = monitor(&sb);
    let h = mon.handles()[1].clone();
    wait_until(&h, "replica in rotation", healthy).await;

    sb.stop_replica_sql_thread(&replica).await.unwrap();
    // The first check that starts after the fault takes it out (fall = 1).
    let s = next_check(&h).await;
    assert!(s.up && !s.in_rotation, "{s:#?}");
    assert_eq!(s.sql_running, Some(false));
    assert_eq!(s.lag, None, "Seconds_Behind_Master is NULL");
    assert!(
        s.last_error.as_deref().unwrap().contains("SQL thread"),
        "{s:#?}"
    );
    // It stays out while the thread is stopped.
    let s = next_check(&h).await;
    assert!(!s.in_rotation && s.bad_streak >= 2, "{s:#?}");

    sb.start_replica_sql_thread(&replica).await.unwrap();
    let s = wait_until(&h, "replica back in rotation", |s| s.in_rotation).await;
    assert!(s.good_streak >= 2, "came back before rise checks: {s:#?}");
    assert_eq!(s.sql_running, Some(true));
    mon.shutdown().await;
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_replica_leaves_rotation_once_lag_exceeds_max() {
    let sb = start().await;
    let shard = sb.shards()[0].clone();
    let replica = shard.replicas[0].clone();
    let mon = monitor(&sb);
    let h = mon.handles()[1].clone();
    wait_until(&h, "replica in rotation", healthy).await;

    sb.set_master_delay(&replica, 60).await.unwrap();
    let sb = Arc::new(sb);
    // Keep writing so the delayed replica has events to hold back.
    let writer = {
        let sb = sb.clone();
        let primary = shard.primary.clone();
        tokio::spawn(async move {
            loop {
                sb.exec_in(&primary, "app", "INSERT INTO t (v) VALUES (2)")
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Changing MASTER_DELAY restarts replication, which briefly reports lag NULL (also out
    // of rotation): wait for the state this test is about, out of rotation for its lag.
    let s = wait_until(&h, "delayed replica out of rotation for its lag", |s| {
        !s.in_rotation && s.lag.is_some_and(|l| l > Duration::from_secs(2))
    })
    .await;
    writer.abort();
    let _ = writer.await;
    assert!(s.up, "{s:#?}");
    assert!(s.lag.unwrap() > Duration::from_secs(2), "{s:#?}");
    assert!(
        s.last_error.as_deref().unwrap().contains("exceeds max 2 s"),
        "{s:#?}"
    );
    let other = mon.handles()[2].snapshot();
    assert!(
        other.lag.is_some_and(|l| l <= Duration::from_secs(2)),
        "{other:#?}"
    );

    sb.set_master_delay(&replica, 0).await.unwrap();
    let s = wait_until(&h, "replica back in rotation", |s| s.in_rotation).await;
    assert!(s.lag.unwrap() <= Duration::from_secs(2), "{s:#?}");
    mon.shutdown().await;
    let mut sb = Arc::try_unwrap(sb).expect("writer gone");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replica_goes_down_and_returns_after_restart() {
    let mut sb = start().await;
    let replica = sb.shards()[0].replicas[1].clone();
    let mon = monitor(&sb);
    let h = mon.handles()[2].clone();
    wait_until(&h, "replica in rotation", healthy).await;

    sb.kill(&replica).await.unwrap();
    let s = next_check(&h).await;
    assert!(!s.up && !s.in_rotation, "{s:#?}");
    assert_eq!(s.io_running, None);
    // The control connection broke; the checks after it fail to reconnect.
    let s = next_check(&h).await;
    assert!(!s.up, "{s:#?}");
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .starts_with("cannot connect"),
        "{s:#?}"
    );

    sb.restart(&replica).await.unwrap();
    let s = wait_until(&h, "restarted replica back in rotation", healthy).await;
    assert!(s.good_streak >= 2, "{s:#?}");
    // The other replica and the primary never noticed.
    assert!(healthy(&mon.handles()[0].snapshot()));
    mon.shutdown().await;
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_replica_is_marked_down_without_hanging_the_monitor() {
    let mut sb = start().await;
    let replica = sb.shards()[0].replicas[0].clone();
    let mon = monitor(&sb);
    let h = mon.handles()[1].clone();
    wait_until(&h, "replica in rotation", healthy).await;

    sb.freeze(&replica).await.unwrap();
    // Each check is bounded (connect + statements under timeouts): checks keep finishing.
    let s = next_check(&h).await;
    assert!(!s.up && !s.in_rotation, "{s:#?}");
    assert!(
        s.last_error
            .as_deref()
            .unwrap()
            .contains("no answer within"),
        "{s:#?}"
    );
    for _ in 0..2 {
        let s = next_check(&h).await;
        assert!(!s.up, "{s:#?}");
        assert!(
            s.check_duration < Duration::from_secs(5),
            "a check took {:?}",
            s.check_duration
        );
    }
    // The frozen replica holds nobody else up.
    let other = next_check(&mon.handles()[2]).await;
    assert!(healthy(&other), "{other:#?}");

    sb.thaw(&replica).await.unwrap();
    wait_until(&h, "thawed replica back in rotation", healthy).await;

    // Shutting down while a server hangs finishes promptly.
    sb.freeze(&replica).await.unwrap();
    next_check(&h).await;
    tokio::time::timeout(Duration::from_secs(5), mon.shutdown())
        .await
        .expect("shutdown does not wait for a hung server");
    assert!(h.next_check().await.is_none(), "the task is gone");
    sb.thaw(&replica).await.unwrap();
    sb.stop().await;
}
