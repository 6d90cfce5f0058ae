//! Reads on replicas: read/write split, lag-aware rotation, consistency levels and
//! read-your-writes, fallback, and failures. The answering server is identified by
//! `@@server_id`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::{server_error, TestEnv};
use mysql_async::prelude::Queryable;

const FAST_CHECKS: &str = "\n[replication]\nhealth_check_interval_ms = 200\nhealth_check_timeout_ms = 500\nmax_lag_seconds = 2\n";

/// Server ids answering `n` runs of `sql` (which must return `@@server_id` first).
async fn answering(conn: &mut mysql_async::Conn, sql: &str, n: usize) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    for _ in 0..n {
        let id: Option<u32> = conn
            .query_first(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        ids.insert(id.unwrap());
    }
    ids
}

/// Waits until `$cond` holds (health checks run every 200 ms), failing after 15 s.
macro_rules! eventually {
    ($what:expr, $cond:expr) => {{
        let deadline = Instant::now() + Duration::from_secs(15);
        while !$cond {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for: {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

fn ids(instances: &[&shardgate_sandbox::Instance]) -> BTreeSet<u32> {
    instances.iter().map(|i| i.server_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_spread_over_healthy_replicas_and_writes_stay_on_the_primary() {
    let env = TestEnv::start_with(2, 2, FAST_CHECKS).await;
    let shard = &env.sandbox.shards()[env.topology.default_shard];
    let replicas = ids(&shard.replicas.iter().collect::<Vec<_>>());
    let primary = shard.primary.server_id;
    let mut conn = env.connect().await;
    conn.query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    eventually!(
        "both replicas in rotation",
        answering(&mut conn, "SELECT @@server_id", 20).await == replicas
    );
    // Locking reads and reads inside a transaction go to the primary.
    conn.query_drop("CREATE TABLE marks (id INT PRIMARY KEY)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO marks VALUES (1)")
        .await
        .unwrap();
    let locking = answering(
        &mut conn,
        "SELECT @@server_id FROM marks WHERE id = 1 FOR UPDATE",
        5,
    )
    .await;
    assert_eq!(locking, BTreeSet::from([primary]));
    conn.query_drop("BEGIN").await.unwrap();
    let in_txn = answering(&mut conn, "SELECT @@server_id", 5).await;
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(in_txn, BTreeSet::from([primary]));
    // A hint and the session setting choose the level per statement or per session.
    let strong = answering(
        &mut conn,
        "/*+ shardgate consistency=strong */ SELECT @@server_id",
        5,
    )
    .await;
    assert_eq!(strong, BTreeSet::from([primary]));
    conn.query_drop("SET @@shardgate_consistency = 'strong'")
        .await
        .unwrap();
    assert_eq!(
        answering(&mut conn, "SELECT @@server_id", 5).await,
        BTreeSet::from([primary])
    );
    conn.query_drop("SET @@shardgate_consistency = DEFAULT")
        .await
        .unwrap();
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_replicas_leave_rotation_and_come_back() {
    let env = TestEnv::start_with(2, 2, FAST_CHECKS).await;
    let shard = &env.sandbox.shards()[env.topology.default_shard];
    let (r1, r2) = (&shard.replicas[0], &shard.replicas[1]);
    let primary = shard.primary.server_id;
    let mut conn = env.connect().await;
    conn.query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    let both = ids(&[r1, r2]);
    eventually!(
        "both replicas serve",
        answering(&mut conn, "SELECT @@server_id", 20).await == both
    );
    // A stopped SQL thread (lag NULL) takes a replica out.
    env.sandbox.stop_replica_sql_thread(r1).await.unwrap();
    let only_r2 = BTreeSet::from([r2.server_id]);
    eventually!(
        "the stopped replica leaves rotation",
        answering(&mut conn, "SELECT @@server_id", 20).await == only_r2
    );
    env.sandbox.start_replica_sql_thread(r1).await.unwrap();
    eventually!(
        "it returns after START SLAVE",
        answering(&mut conn, "SELECT @@server_id", 20).await == both
    );
    // A replica delayed beyond max_lag_seconds is excluded once it falls behind.
    env.sandbox.set_master_delay(r2, 30).await.unwrap();
    conn.query_drop("CREATE TABLE ticks (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let only_r1 = BTreeSet::from([r1.server_id]);
    let mut tick = 0;
    eventually!("the delayed replica leaves rotation", {
        tick += 1;
        conn.query_drop(format!("INSERT INTO ticks VALUES ({tick})"))
            .await
            .unwrap();
        answering(&mut conn, "SELECT @@server_id", 20).await == only_r1
    });
    // No replica left: reads fall back to the primary.
    env.sandbox.stop_replica_sql_thread(r1).await.unwrap();
    let on_primary = BTreeSet::from([primary]);
    eventually!(
        "reads fall back to the primary",
        answering(&mut conn, "SELECT @@server_id", 10).await == on_primary
    );
    env.sandbox.start_replica_sql_thread(r1).await.unwrap();
    env.sandbox.set_master_delay(r2, 0).await.unwrap();
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_replica_fallback_error_no_replica_is_a_clear_error() {
    let config = FAST_CHECKS.to_owned() + "replica_fallback = \"error\"\n";
    let env = TestEnv::start_with(1, 1, &config).await;
    let replica = &env.sandbox.shards()[0].replicas[0];
    let mut conn = env.connect().await;
    conn.query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    let want = BTreeSet::from([replica.server_id]);
    eventually!(
        "the replica serves",
        answering(&mut conn, "SELECT @@server_id", 3).await == want
    );
    env.sandbox.stop_replica_sql_thread(replica).await.unwrap();
    let mut message = String::new();
    eventually!(
        "reads fail with the shard named",
        match conn.query_drop("SELECT @@server_id").await {
            Err(mysql_async::Error::Server(e)) => {
                message = e.message;
                true
            }
            _ => false,
        }
    );
    assert!(
        message.contains("s0") && message.contains("replica_fallback"),
        "{message}"
    );
    env.sandbox.start_replica_sql_thread(replica).await.unwrap();
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_sees_its_own_writes_on_lagging_replicas() {
    // The replicas apply nothing for 30 s, within the 60 s lag bound: they stay in rotation
    // however slowly the machine runs this test.
    let config = FAST_CHECKS.replace("max_lag_seconds = 2", "max_lag_seconds = 60");
    let env = TestEnv::start_with(2, 2, &config).await;
    let users = env.topology.table("users").unwrap();
    let id = 7i64;
    let shard_id = users
        .shard_for(&shardgate_ring::KeyValue::Int(i128::from(id)))
        .unwrap();
    let shard = &env.sandbox.shards()[shard_id];
    for r in &shard.replicas {
        env.sandbox.set_master_delay(r, 30).await.unwrap();
    }
    let replica_ids = ids(&shard.replicas.iter().collect::<Vec<_>>());
    let mut other = env.connect().await;
    other
        .query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    let on_the_shard = format!("SELECT @@server_id, COUNT(*) FROM users WHERE id = {id}");
    // Restarting replication (to set the delay) takes the replicas out of rotation for a check.
    eventually!("the delayed replicas are back in rotation", {
        let (server, _): (u32, u64) = other.query_first(&on_the_shard).await.unwrap().unwrap();
        replica_ids.contains(&server)
    });
    let mut writer = env.connect().await;
    writer
        .query_drop("SET @@shardgate_consistency = 'read_your_writes'")
        .await
        .unwrap();
    writer
        .query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({id}, 'mine')"
        ))
        .await
        .unwrap();
    let mine: Option<String> = writer
        .query_first(format!("SELECT email FROM users WHERE id = {id}"))
        .await
        .unwrap();
    assert_eq!(
        mine.as_deref(),
        Some("mine"),
        "the writing session sees its write at once"
    );
    // Another session at eventual reads a replica, which has not applied the write yet.
    let (server, seen): (u32, u64) = other.query_first(&on_the_shard).await.unwrap().unwrap();
    assert!(
        replica_ids.contains(&server),
        "eventual reads go to a replica"
    );
    assert_eq!(seen, 0, "the delayed replica has not applied the write yet");
    // Once the replicas catch up, the writer's reads go back to replicas.
    for r in &shard.replicas {
        env.sandbox.set_master_delay(r, 0).await.unwrap();
    }
    let sql = format!("SELECT @@server_id FROM users WHERE id = {id}");
    eventually!(
        "the writer reads from a replica again",
        answering(&mut writer, &sql, 5)
            .await
            .is_subset(&replica_ids)
    );
    drop((writer, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_load_costs_no_client_errors() {
    let env = TestEnv::start_with(1, 2, FAST_CHECKS).await;
    let victim = env.sandbox.shards()[0].replicas[0].clone();
    let mut setup = env.connect().await;
    setup
        .query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    let want = ids(&env.sandbox.shards()[0].replicas.iter().collect::<Vec<_>>());
    eventually!(
        "both replicas serve",
        answering(&mut setup, "SELECT @@server_id", 20).await == want
    );
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut conn = env.connect().await;
        conn.query_drop("SET @@shardgate_consistency = 'eventual'")
            .await
            .unwrap();
        clients.push(tokio::spawn(async move {
            let mut errors = 0;
            for _ in 0..1250 {
                if conn.query_drop("SELECT @@server_id").await.is_err() {
                    errors += 1;
                }
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    env.sandbox.kill(&victim).await.unwrap();
    let mut errors = 0;
    for client in clients {
        errors += client.await.unwrap();
    }
    assert_eq!(errors, 0, "5,000 reads across a replica kill");
    drop(setup);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_primary_fails_writes_fast_while_eventual_reads_continue() {
    let env = TestEnv::start_with(1, 2, FAST_CHECKS).await;
    let primary = env.sandbox.shards()[0].primary.clone();
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE notes (id INT PRIMARY KEY)")
        .await
        .unwrap();
    env.sandbox
        .wait_replicas_synced(Duration::from_secs(10))
        .await
        .unwrap();
    env.sandbox.kill(&primary).await.unwrap();
    let started = Instant::now();
    let (code, _, msg) = server_error(conn.query_drop("INSERT INTO notes VALUES (1)").await);
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
    assert!(
        msg.contains("shard s0") && msg.contains("primary"),
        "{code}: {msg}"
    );
    conn.query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    eventually!(
        "eventual reads are served by replicas",
        conn.query_drop("SELECT COUNT(*) FROM notes").await.is_ok()
    );
    for _ in 0..20 {
        conn.query_drop("SELECT COUNT(*) FROM notes").await.unwrap();
    }
    env.sandbox.restart(&primary).await.unwrap();
    eventually!(
        "writes work again",
        conn.query_drop("INSERT INTO notes VALUES (2)")
            .await
            .is_ok()
    );
    drop(conn);
    env.stop().await;
}
