//! A hash join and a `COUNT(DISTINCT)` over 1,000,000 rows under a small merge bound: both stop
//! with error 1038 instead of growing the proxy (issue #13's memory bounds), a join under the
//! bound answers, and the proxy's peak resident set (VmHWM) is printed.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use shardgate_sandbox::{Sandbox, SandboxSpec};

const ROWS_PER_SHARD: u64 = 500_000;
/// `[server] merge_max_rows` for this proxy: far below the tables' rows.
const BOUND_ROWS: u64 = 100_000;

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn error_code<T: std::fmt::Debug>(result: mysql_async::Result<T>) -> u16 {
    match result {
        Err(mysql_async::Error::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_row_hash_join_and_count_distinct_stop_at_the_bound() {
    let sandbox = Sandbox::start(SandboxSpec::new(2, 0)).await.unwrap();
    // 1,000,000 rows per table, generated on the shards' primaries (not through the proxy).
    for (i, shard) in sandbox.shards().iter().enumerate() {
        let start = i as u64 * ROWS_PER_SHARD;
        let sql = format!(
            "CREATE TABLE big_a (id BIGINT PRIMARY KEY, grp BIGINT, payload VARCHAR(100)); \
             CREATE TABLE big_b (id BIGINT PRIMARY KEY, grp BIGINT, payload VARCHAR(100)); \
             INSERT INTO big_a SELECT seq, seq % 1000, REPEAT('a', 80) FROM seq_{0}_to_{1}; \
             INSERT INTO big_b SELECT seq, seq, REPEAT('b', 80) FROM seq_{0}_to_{1}",
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
    let config = sandbox
        .config_toml(&format!("127.0.0.1:{port}"))
        .replacen(
            "[server]\n",
            &format!("[server]\nmerge_max_rows = {BOUND_ROWS}\n"),
            1,
        )
        + "\n[[tables]]\nname = \"big_a\"\nshard_key = \"id\"\n\n[[tables]]\nname = \"big_b\"\nshard_key = \"id\"\n";
    let config_path = sandbox.dir().join("join_memory.toml");
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
    let start = peak_rss_kib(proxy.id());
    // The plan is a hash join (grp is no shard key), building on big_b's 1,000,000 rows.
    let plan: Vec<(String, Option<String>, Option<String>)> = conn
        .query("EXPLAIN SELECT a.id, b.id FROM big_a a JOIN big_b b ON b.grp = a.grp")
        .await
        .unwrap();
    assert!(
        plan.iter().any(|(p, _, _)| p.contains("HashJoin inner")),
        "{plan:?}"
    );
    let join = conn
        .query_drop("SELECT a.id, b.id FROM big_a a JOIN big_b b ON b.grp = a.grp")
        .await;
    assert_eq!(
        error_code(join),
        1038,
        "the build side passed merge_max_rows"
    );
    let after_join = peak_rss_kib(proxy.id());
    let distinct = conn
        .query_drop("SELECT COUNT(DISTINCT id) FROM big_a")
        .await;
    assert_eq!(
        error_code(distinct),
        1038,
        "the distinct values passed merge_max_rows"
    );
    let after_distinct = peak_rss_kib(proxy.id());
    // Under the bound the same join answers: 999 groups of big_b's ids below 1000 hold one
    // row each, joined with the 1,000 big_a rows of each group (999,000 rows streamed).
    let mut result = conn
        .query_iter(
            "SELECT a.id, b.id FROM big_a a JOIN big_b b ON b.grp = a.grp WHERE b.id < 1000",
        )
        .await
        .unwrap();
    let mut joined = 0u64;
    while let Some(row) = result.next().await.unwrap() {
        let (a, b): (u64, u64) = mysql_async::from_row(row);
        assert_eq!(a % 1000, b);
        joined += 1;
    }
    drop(result);
    assert_eq!(joined, 999 * 1000);
    let after_answer = peak_rss_kib(proxy.id());
    println!(
        "proxy peak RSS (VmHWM) with merge_max_rows = {BOUND_ROWS}: {} MiB at start, {} MiB after a hash join over 1,000,000 rows stopped with 1038, {} MiB after COUNT(DISTINCT) over 1,000,000 rows stopped with 1038, {} MiB after a hash join streaming {joined} rows",
        start / 1024,
        after_join / 1024,
        after_distinct / 1024,
        after_answer / 1024
    );
    assert!(
        after_answer < 256 * 1024,
        "the proxy stays bounded: {after_answer} KiB"
    );
    drop(conn);
    let _ = proxy.kill();
    let _ = proxy.wait();
}
