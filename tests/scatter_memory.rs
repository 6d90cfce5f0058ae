//! A scatter over a million rows streams: the proxy's memory stays bounded (its peak resident
//! set is printed), because rows pass through bounded channels instead of being collected.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use shardgate_sandbox::{Sandbox, SandboxSpec};

const ROWS_PER_SHARD: u64 = 500_000;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_row_scatter_streams_in_bounded_memory() {
    let sandbox = Sandbox::start(SandboxSpec::new(2, 0)).await.unwrap();
    for (i, shard) in sandbox.shards().iter().enumerate() {
        let start = i as u64 * ROWS_PER_SHARD;
        let sql = format!(
            "CREATE TABLE big (id BIGINT PRIMARY KEY, payload VARCHAR(100)); \
             INSERT INTO big SELECT seq, REPEAT('x', 80) FROM seq_{}_to_{}",
            start + 1,
            start + ROWS_PER_SHARD
        );
        sandbox.exec_in(&shard.primary, "app", &sql).await.unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = sandbox.config_toml(&format!("127.0.0.1:{port}"))
        + "\n[[tables]]\nname = \"big\"\nshard_key = \"id\"\n";
    let config_path = sandbox.dir().join("big.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("app"))
        .pass(Some("app"))
        .db_name(Some("app"))
        .prefer_socket(false);
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(c) = mysql_async::Conn::new(opts.clone()).await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut conn = conn.expect("the proxy accepts connections");
    let before = peak_rss_kib(proxy.id());
    // Stream every row (ordered across shards) without keeping them.
    let mut result = conn
        .query_iter("SELECT id, payload FROM big ORDER BY id")
        .await
        .unwrap();
    let mut count = 0u64;
    let mut last = 0u64;
    while let Some(row) = result.next().await.unwrap() {
        let id: u64 = row.get(0).unwrap();
        assert!(id > last, "ordered");
        last = id;
        count += 1;
    }
    drop(result);
    assert_eq!(count, 2 * ROWS_PER_SHARD);
    let after = peak_rss_kib(proxy.id());
    println!(
        "scatter of {count} rows (~{} MiB of row data): proxy peak RSS {} MiB before, {} MiB after",
        count * 90 / (1 << 20),
        before / 1024,
        after / 1024
    );
    assert!(
        after < 64 * 1024,
        "the proxy's peak RSS stays far below the data size: {after} KiB"
    );
    // COUNT(DISTINCT) holds one key per distinct value (issue #13): a thousand stay small; a
    // million distinct ids fit the default bound (1,000,000 rows, 256 MiB) or fail with 1038.
    let few: Option<u64> = conn
        .query_first("SELECT COUNT(DISTINCT id DIV 1000) FROM big")
        .await
        .unwrap();
    assert_eq!(few, Some(2 * ROWS_PER_SHARD / 1000 + 1));
    let small = peak_rss_kib(proxy.id());
    let all: mysql_async::Result<Option<u64>> =
        conn.query_first("SELECT COUNT(DISTINCT id) FROM big").await;
    let peak = peak_rss_kib(proxy.id());
    match all {
        Ok(n) => assert_eq!(n, Some(2 * ROWS_PER_SHARD)),
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1038, "{}", e.message),
        Err(e) => panic!("{e}"),
    }
    println!(
        "COUNT(DISTINCT) over {count} rows: proxy peak RSS {} MiB with 1,001 distinct values, {} MiB with {count}",
        small / 1024,
        peak / 1024
    );
    assert!(
        small < 64 * 1024,
        "a thousand distinct values hold little: {small} KiB"
    );
    drop(conn);
    let _ = proxy.kill();
    let _ = proxy.wait();
}
