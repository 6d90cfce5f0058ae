//! The fault helpers do what later tests rely on.

use std::time::Duration;

use shardgate_sandbox::{pid_alive, proc_state, Sandbox, SandboxError, SandboxSpec, DATABASE};

const SYNC: Duration = Duration::from_secs(30);

async fn one_pair() -> Sandbox {
    let sb = Sandbox::start(SandboxSpec::new(1, 1)).await.expect("start");
    let p = &sb.shards()[0].primary;
    sb.exec_in(p, DATABASE, "CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .expect("create");
    sb.wait_replicas_synced(SYNC).await.expect("synced");
    sb
}

async fn count(sb: &Sandbox, inst: &shardgate_sandbox::Instance) -> u64 {
    let v = sb
        .exec_in(inst, DATABASE, "SELECT COUNT(*) FROM t")
        .await
        .expect("count");
    v[0][0].as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn killed_servers_restart_and_replication_resumes() {
    let mut sb = one_pair().await;
    let shard = sb.shards()[0].clone();
    let (p, r) = (&shard.primary, &shard.replicas[0]);

    let pid = sb.pid(p).expect("primary runs");
    sb.kill(p).await.expect("kill primary");
    assert!(!pid_alive(pid));
    assert_eq!(sb.pid(p), None);
    let err = sb.exec(p, "SELECT 1").await.expect_err("dead primary");
    assert!(matches!(err, SandboxError::Sql { .. }), "{err}");

    sb.restart(p).await.expect("restart primary");
    assert_ne!(sb.pid(p), Some(pid));
    sb.exec_in(p, DATABASE, "INSERT INTO t VALUES (1)")
        .await
        .expect("write");
    sb.wait_replicas_synced(SYNC)
        .await
        .expect("replica reconnected");
    assert_eq!(count(&sb, r).await, 1);

    sb.kill(r).await.expect("kill replica");
    sb.exec_in(p, DATABASE, "INSERT INTO t VALUES (2)")
        .await
        .expect("write");
    sb.restart(r).await.expect("restart replica");
    sb.wait_replica_running(r, SYNC)
        .await
        .expect("replica threads run");
    sb.wait_replicas_synced(SYNC)
        .await
        .expect("replica caught up");
    assert_eq!(count(&sb, r).await, 2);
    sb.stop().await;
}

#[tokio::test]
async fn master_delay_holds_writes_back() {
    let mut sb = one_pair().await;
    let shard = sb.shards()[0].clone();
    let (p, r) = (&shard.primary, &shard.replicas[0]);

    sb.set_master_delay(r, 60).await.expect("delay");
    let st = sb.replica_status(r).await.unwrap();
    assert_eq!(st["SQL_Delay"].as_deref(), Some("60"));
    sb.exec_in(p, DATABASE, "INSERT INTO t VALUES (1)")
        .await
        .expect("write");
    let err = sb
        .wait_replicas_synced(Duration::from_secs(1))
        .await
        .expect_err("the write is held back");
    assert!(matches!(err, SandboxError::Timeout { .. }), "{err}");
    assert_eq!(count(&sb, r).await, 0);

    sb.set_master_delay(r, 0).await.expect("no delay");
    sb.wait_replicas_synced(SYNC).await.expect("synced");
    assert_eq!(count(&sb, r).await, 1);
    sb.stop().await;
}

#[tokio::test]
async fn stopped_sql_thread_applies_nothing() {
    let mut sb = one_pair().await;
    let shard = sb.shards()[0].clone();
    let (p, r) = (&shard.primary, &shard.replicas[0]);

    sb.stop_replica_sql_thread(r)
        .await
        .expect("stop sql thread");
    let st = sb.replica_status(r).await.unwrap();
    assert_eq!(st["Slave_SQL_Running"].as_deref(), Some("No"));
    assert_eq!(st["Slave_IO_Running"].as_deref(), Some("Yes"));
    assert_eq!(st["Seconds_Behind_Master"], None);
    sb.exec_in(p, DATABASE, "INSERT INTO t VALUES (1)")
        .await
        .expect("write");
    assert!(sb
        .wait_replicas_synced(Duration::from_millis(300))
        .await
        .is_err());
    assert_eq!(count(&sb, r).await, 0);

    sb.start_replica_sql_thread(r)
        .await
        .expect("start sql thread");
    sb.wait_replicas_synced(SYNC).await.expect("synced");
    assert_eq!(count(&sb, r).await, 1);

    let err = sb
        .stop_replica_sql_thread(p)
        .await
        .expect_err("not a replica");
    assert!(matches!(err, SandboxError::NotAReplica(_)));
    sb.stop().await;
}

#[tokio::test]
async fn frozen_server_hangs_until_thawed() {
    let mut sb = Sandbox::start(SandboxSpec::new(1, 0)).await.expect("start");
    let p = sb.shards()[0].primary.clone();
    sb.freeze(&p).await.expect("freeze");
    assert_eq!(proc_state(sb.pid(&p).unwrap()), Some('T'));
    let hung = tokio::time::timeout(Duration::from_millis(500), sb.exec(&p, "SELECT 1")).await;
    assert!(hung.is_err(), "a frozen server must not answer");
    sb.thaw(&p).await.expect("thaw");
    let v = sb.scalar(&p, "SELECT 1").await.expect("answers again");
    assert_eq!(v.as_deref(), Some("1"));
    sb.stop().await;
}
