//! A started sandbox replicates, guards its replicas and describes itself as a config.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use shardgate_sandbox::{Sandbox, SandboxSpec, DATABASE, SAMPLE_SCHEMA};

const SYNC: Duration = Duration::from_secs(30);

#[tokio::test]
async fn writes_on_a_primary_reach_its_replica() {
    let mut sb = Sandbox::start(SandboxSpec::default()).await.expect("start");
    assert_eq!(sb.shards().len(), 2);
    for (i, shard) in sb.shards().iter().enumerate() {
        assert_eq!(shard.name, format!("s{i}"));
        assert_eq!(shard.replicas.len(), 1);
        let r = &shard.replicas[0];
        let st = sb.replica_status(r).await.expect("status");
        assert_eq!(st["Slave_IO_Running"].as_deref(), Some("Yes"));
        assert_eq!(st["Slave_SQL_Running"].as_deref(), Some("Yes"));
        assert_eq!(
            st["Master_Port"].as_deref(),
            Some(shard.primary.port.to_string().as_str())
        );
        let ro = sb.scalar(r, "SELECT @@read_only").await.expect("read_only");
        assert_eq!(ro.as_deref(), Some("1"));
        let ro = sb
            .scalar(&shard.primary, "SELECT @@read_only")
            .await
            .expect("read_only");
        assert_eq!(ro.as_deref(), Some("0"));
    }

    let s1 = &sb.shards()[1];
    sb.exec_in(
        &s1.primary,
        DATABASE,
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
    )
    .await
    .expect("create");
    sb.exec_in(
        &s1.primary,
        DATABASE,
        "INSERT INTO t VALUES (1, 'one'), (2, NULL)",
    )
    .await
    .expect("insert");
    sb.wait_replicas_synced(SYNC).await.expect("synced");
    let rows = sb
        .exec_in(&s1.replicas[0], DATABASE, "SELECT id, v FROM t ORDER BY id")
        .await
        .expect("select on replica");
    assert_eq!(
        rows,
        vec![
            vec![Some("1".to_string()), Some("one".to_string())],
            vec![Some("2".to_string()), None],
        ]
    );
    // The other shard is independent: no table there.
    let s0 = &sb.shards()[0];
    let err = sb
        .exec_in(&s0.replicas[0], DATABASE, "SELECT * FROM t")
        .await
        .expect_err("no table t on s0");
    assert_eq!(err.server_code(), Some(1146));

    // Each shard replicates in its own GTID domain, each server has its own id.
    let domain = sb
        .scalar(&s1.primary, "SELECT @@gtid_domain_id")
        .await
        .unwrap();
    assert_eq!(domain, Some(s1.primary.gtid_domain_id.to_string()));
    let mut ids: Vec<u32> = sb.instances().map(|i| i.server_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    sb.stop().await;
}

#[tokio::test]
async fn backend_account_cannot_write_on_a_replica() {
    let mut sb = Sandbox::start(SandboxSpec::new(1, 1)).await.expect("start");
    let shard = &sb.shards()[0];
    sb.exec_in(
        &shard.primary,
        DATABASE,
        "CREATE TABLE t (id INT PRIMARY KEY)",
    )
    .await
    .expect("create");
    sb.wait_replicas_synced(SYNC).await.expect("synced");

    let mut primary = mysql_async::Conn::new(shard.primary.backend_opts())
        .await
        .expect("backend account connects to the primary over TCP");
    primary
        .query_drop("INSERT INTO t VALUES (1)")
        .await
        .expect("write on primary");
    primary.disconnect().await.unwrap();

    let mut replica = mysql_async::Conn::new(shard.replicas[0].backend_opts())
        .await
        .expect("backend account connects to the replica");
    let err = replica
        .query_drop("INSERT INTO t VALUES (2)")
        .await
        .expect_err("a write on a read-only replica fails");
    match err {
        mysql_async::Error::Server(e) => assert_eq!(e.code, 1290, "{e:?}"),
        other => panic!("unexpected error {other:?}"),
    }
    // The refused write left replication healthy: the primary's row arrives.
    sb.wait_replicas_synced(SYNC)
        .await
        .expect("replication still healthy");
    let n: Option<u64> = replica.query_first("SELECT COUNT(*) FROM t").await.unwrap();
    replica.disconnect().await.unwrap();
    assert_eq!(n, Some(1));
    sb.stop().await;
}

#[tokio::test]
async fn sample_schema_and_config_describe_the_topology() {
    let mut sb = Sandbox::start(SandboxSpec::new(2, 2)).await.expect("start");
    sb.create_sample_schema().await.expect("schema");
    sb.wait_replicas_synced(SYNC).await.expect("synced");
    for inst in sb.instances() {
        let tables = sb
            .exec_in(inst, DATABASE, "SHOW TABLES")
            .await
            .expect("show tables");
        let names: Vec<_> = tables.into_iter().map(|r| r[0].clone().unwrap()).collect();
        assert_eq!(names, vec!["orders", "users"], "on {}", inst.name);
    }
    assert_eq!(SAMPLE_SCHEMA.len(), 2);

    let text = sb.config_toml("127.0.0.1:6033");
    let cfg: toml::Table = text.parse().expect("valid TOML");
    let shards = cfg["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    for (shard, t) in sb.shards().iter().zip(shards) {
        assert_eq!(t["name"].as_str(), Some(shard.name.as_str()));
        assert_eq!(t["primary"].as_str(), Some(shard.primary.addr().as_str()));
        let replicas: Vec<&str> = t["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let expected: Vec<String> = shard.replicas.iter().map(|r| r.addr()).collect();
        assert_eq!(replicas, expected);
    }
    assert_eq!(cfg["server"]["listen"].as_str(), Some("127.0.0.1:6033"));
    assert_eq!(cfg["backend"]["user"].as_str(), Some("shardgate"));
    sb.stop().await;
}
