//! Sandboxes start side by side and leave no server behind.

use std::time::Duration;

use shardgate_sandbox::{pid_alive, proc_state, Sandbox, SandboxSpec, DATABASE};

#[tokio::test]
async fn drop_leaves_no_server_running() {
    let sb = Sandbox::start(SandboxSpec::default()).await.expect("start");
    let pids = sb.pids();
    assert_eq!(pids.len(), 4);
    assert!(pids.iter().all(|p| pid_alive(*p)));
    let dir = sb.dir().to_path_buf();
    assert!(dir.exists());
    drop(sb);
    for pid in pids {
        assert!(
            !pid_alive(pid),
            "pid {pid} still there: {:?}",
            proc_state(pid)
        );
    }
}

#[tokio::test]
async fn drop_during_a_panic_kills_the_servers() {
    let pids = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = pids.clone();
    let joined = tokio::spawn(async move {
        let sb = Sandbox::start(SandboxSpec::new(1, 1)).await.expect("start");
        *seen.lock().unwrap() = sb.pids();
        panic!("test failure while the sandbox runs");
    })
    .await;
    assert!(joined.is_err());
    let pids = pids.lock().unwrap().clone();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| !pid_alive(*p)));
}

#[tokio::test]
async fn stop_is_graceful_idempotent_and_ends_frozen_servers() {
    let mut sb = Sandbox::start(SandboxSpec::new(1, 1)).await.expect("start");
    let pids = sb.pids();
    let primary = sb.shards()[0].primary.clone();
    sb.freeze(&primary).await.expect("freeze");
    assert_eq!(proc_state(sb.pid(&primary).unwrap()), Some('T'));
    sb.stop().await;
    assert!(pids.iter().all(|p| !pid_alive(*p)));
    assert!(sb.pids().is_empty());
    sb.stop().await;
    // A clean shutdown says so in the error log.
    let log = std::fs::read_to_string(&primary.error_log).unwrap_or_default();
    assert!(log.is_empty() || log.contains("Shutdown complete"), "{log}");
}

#[tokio::test]
async fn two_sandboxes_start_concurrently() {
    let (a, b) = tokio::join!(
        Sandbox::start(SandboxSpec::new(1, 1)),
        Sandbox::start(SandboxSpec::new(2, 0))
    );
    let (mut a, mut b) = (a.expect("start a"), b.expect("start b"));
    let mut ports: Vec<u16> = a.instances().chain(b.instances()).map(|i| i.port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    assert_ne!(a.dir(), b.dir());
    for sb in [&a, &b] {
        for shard in sb.shards() {
            sb.exec_in(&shard.primary, DATABASE, "CREATE TABLE t (id INT)")
                .await
                .expect("create");
        }
        sb.wait_replicas_synced(Duration::from_secs(30))
            .await
            .expect("synced");
    }
    let n = a
        .exec_in(
            &a.shards()[0].replicas[0],
            DATABASE,
            "SELECT COUNT(*) FROM t",
        )
        .await
        .expect("replica has t");
    assert_eq!(n, vec![vec![Some("0".to_string())]]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_kept_directory_can_be_reused() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("sb");
    for round in 0..2 {
        let spec = SandboxSpec {
            dir: Some(dir.clone()),
            ..SandboxSpec::new(1, 0)
        };
        let mut sb = Sandbox::start(spec).await.expect("start in a kept dir");
        let primary = &sb.shards()[0].primary;
        // Every run starts from the template: the table of the previous round is gone.
        sb.exec_in(primary, DATABASE, "CREATE TABLE t (id INT)")
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        sb.stop().await;
        assert!(dir.join("s0-primary").join("my.cnf").exists());
    }
}
