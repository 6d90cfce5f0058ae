//! One clock per statement on several shards (`server/src/statement_clock.rs`): MariaDB reads
//! `NOW()` once per statement, so every row of a scatter, every row a broadcast UPDATE writes
//! and every copy of a reference table get the same time. Before, each shard read its own,
//! microseconds apart.

use crate::common::{rows, TestEnv};
use mysql_async::prelude::Queryable;

const CONFIG: &str = "\n[[tables]]\nname = \"stamps\"\nreference = true\n";

fn count(answer: &[Vec<Option<String>>]) -> String {
    answer[0][0].clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shard_reads_the_statements_one_time() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        format!("{}{CONFIG}", sandbox.config_toml(listen))
    })
    .await;
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=60)
        .map(|id| format!("({id}, 'u{id}@x', 'U')"))
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    // A scatter, merged and not, and a set operation over shards.
    let answer = rows(
        &mut conn,
        "SELECT COUNT(*) FROM (SELECT DISTINCT NOW(6) FROM users) d",
    )
    .await;
    assert_eq!(count(&answer), "1");
    let answer = rows(
        &mut conn,
        "SELECT DISTINCT NOW(6), UNIX_TIMESTAMP(NOW(6)) FROM users",
    )
    .await;
    assert_eq!(answer.len(), 1, "{answer:?}");
    let answer = rows(
        &mut conn,
        "SELECT NOW(6) FROM users WHERE id < 30 UNION SELECT NOW(6) FROM users WHERE id >= 30",
    )
    .await;
    assert_eq!(answer.len(), 1, "{answer:?}");
    // A broadcast UPDATE writes one time on every shard.
    conn.query_drop("UPDATE users SET created_at = NOW(6) WHERE name = 'U'")
        .await
        .unwrap();
    let answer = rows(&mut conn, "SELECT COUNT(DISTINCT created_at) FROM users").await;
    assert_eq!(count(&answer), "1");
    // Every copy of a reference table holds the same time.
    for shard in 0..3 {
        let mut direct = env.connect_primary(shard).await;
        direct
            .query_drop("CREATE TABLE stamps (id INT PRIMARY KEY, at DATETIME(6))")
            .await
            .unwrap();
    }
    conn.query_drop("INSERT INTO stamps VALUES (1, NOW(6))")
        .await
        .unwrap();
    let mut copies = Vec::new();
    for shard in 0..3 {
        let mut direct = env.connect_primary(shard).await;
        copies.push(rows(&mut direct, "SELECT at FROM stamps").await);
    }
    assert!(copies.iter().all(|c| *c == copies[0]), "{copies:?}");
    // Rows the proxy reads from several shards for a write (INSERT … SELECT by rows).
    conn.query_drop("CREATE TABLE times (at DATETIME(6))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO times (at) SELECT NOW(6) FROM users")
        .await
        .unwrap();
    let answer = rows(&mut conn, "SELECT COUNT(*), COUNT(DISTINCT at) FROM times").await;
    assert_eq!(answer[0][0].as_deref(), Some("60"));
    assert_eq!(answer[0][1].as_deref(), Some("1"));
    // A session's own time stands.
    conn.query_drop("SET timestamp = 1700000000").await.unwrap();
    let answer = rows(&mut conn, "SELECT DISTINCT UNIX_TIMESTAMP() FROM users").await;
    assert_eq!(count(&answer), "1700000000");
    drop(conn);
    env.stop().await;
}
