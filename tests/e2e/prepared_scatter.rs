//! Prepared statements whose executions reach several shards: parameters spanning shards
//! (IN lists, ranges, non-key conditions), merged results in the binary protocol, and writes.
//! Every answer is compared value for value (binary protocol on both sides) with one MariaDB
//! holding the same rows.

use crate::common::TestEnv;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};

const SHARDED: &str = r#"
[[tables]]
name = "items"
shard_key = "id"
"#;

const SCHEMA: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, k INT, c VARCHAR(40), \
    f FLOAT, d DOUBLE, price DECIMAL(10,2), at DATETIME(6), t TIME(3), dt DATE, u BIGINT UNSIGNED)";

fn row_sql(id: i64) -> String {
    let k = id % 7 - 3;
    let c = if id % 5 == 0 {
        "NULL".to_owned()
    } else {
        format!("'it''s {}'", 1000 - id)
    };
    format!(
        "({id}, {k}, {c}, {f}, {d}, {price}, '2024-0{m}-1{day} 1{h}:0{mi}:3{s}.{micro:06}', '-{h}:0{mi}:0{s}.5', '2023-0{m}-0{day}', {u})",
        f = id as f64 * 1.1,
        d = id as f64 / 3.0,
        price = format_args!("{}.{:02}", id * 3 - 100, id % 100),
        m = id % 3 + 1,
        day = id % 9 + 1,
        h = id % 10,
        mi = id % 6,
        s = id % 10,
        micro = id * 37,
        u = u64::MAX - id as u64,
    )
}

async fn exec_rows(conn: &mut Conn, sql: &str, params: Params) -> Vec<Vec<Value>> {
    let rows: Vec<mysql_async::Row> = conn
        .exec(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|r| r.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_over_several_shards_answer_like_one_server() {
    let env = TestEnv::start_with(2, 0, SHARDED).await;
    let mut proxy = env.connect().await;
    let mut direct = env.connect_primary(0).await;
    direct
        .query_drop("CREATE DATABASE reference_copy")
        .await
        .unwrap();
    direct.query_drop("USE reference_copy").await.unwrap();
    proxy.query_drop(SCHEMA).await.unwrap();
    direct.query_drop(SCHEMA).await.unwrap();
    let values: Vec<String> = (1..=300).map(row_sql).collect();
    let insert = format!(
        "INSERT INTO items (id, k, c, f, d, price, at, t, dt, u) VALUES {}",
        values.join(",")
    );
    proxy.query_drop(&insert).await.unwrap();
    direct.query_drop(&insert).await.unwrap();
    for shard in 0..2 {
        let mut conn = env.connect_primary(shard).await;
        let count: Option<u64> = conn
            .query_first("SELECT COUNT(*) FROM items")
            .await
            .unwrap();
        assert!(count.unwrap() > 100, "shard {shard} holds a fair share");
    }

    let cases: Vec<(&str, Params)> = vec![
        (
            "SELECT id, k, c, f, d, price, at, t, dt, u FROM items WHERE id BETWEEN ? AND ? ORDER BY id",
            (10, 60).into(),
        ),
        (
            "SELECT c FROM items WHERE id BETWEEN ? AND ? ORDER BY c",
            (100, 200).into(),
        ),
        (
            "SELECT DISTINCT k FROM items WHERE id BETWEEN ? AND ? ORDER BY k",
            (1, 300).into(),
        ),
        (
            "SELECT SUM(k), COUNT(*), COUNT(c), AVG(price), MIN(at), MAX(t), MIN(dt), MAX(u), MAX(d) FROM items WHERE id BETWEEN ? AND ?",
            (5, 250).into(),
        ),
        (
            "SELECT k, COUNT(*), SUM(price), MAX(f) FROM items WHERE k > ? GROUP BY k HAVING COUNT(*) > ? ORDER BY k DESC",
            (-2, 10).into(),
        ),
        (
            "SELECT id, k, c, f, d, price, at, t, dt, u FROM items WHERE id IN (?, ?, ?, ?) ORDER BY id",
            (3, 4, 150, 299).into(),
        ),
        (
            "SELECT id FROM items WHERE c = ? OR c = ? ORDER BY id",
            ("it's 900", "it's 901").into(),
        ),
        ("SELECT COUNT(*) FROM items", Params::Empty),
        (
            "SELECT id, at FROM items WHERE at > ? ORDER BY at DESC, id LIMIT ?, ?",
            (
                Value::Date(2024, 1, 15, 0, 0, 0, 0),
                Value::Int(3),
                Value::Int(7),
            )
                .into(),
        ),
        (
            "SELECT id, price FROM items WHERE price BETWEEN ? AND ? ORDER BY price, id",
            ("100.50", 300.0).into(),
        ),
    ];
    for (sql, params) in cases {
        let proxied = exec_rows(&mut proxy, sql, params.clone()).await;
        let expected = exec_rows(&mut direct, sql, params).await;
        assert!(!expected.is_empty(), "{sql}: the case selects rows");
        assert_eq!(proxied, expected, "{sql}");
    }

    // Writes whose parameters span shards: all of them land, affected rows summed.
    let update = "UPDATE items SET k = k + 100 WHERE id IN (?, ?, ?)";
    for conn in [&mut proxy, &mut direct] {
        conn.exec_drop(update, (1, 2, 200)).await.unwrap();
        assert_eq!(conn.affected_rows(), 3);
        conn.exec_drop(
            "INSERT INTO items (id, k, c) VALUES (?, ?, ?), (?, ?, ?)",
            (1001, 1, "a\\b'c", 1002, 2, "x"),
        )
        .await
        .unwrap();
        assert_eq!(conn.affected_rows(), 2);
        conn.exec_drop("DELETE FROM items WHERE k = ?", (101,))
            .await
            .unwrap();
    }
    let check = "SELECT id, k, c FROM items WHERE id IN (?, ?, ?, ?, ?) OR k > ? ORDER BY id";
    let params: Params = (1, 2, 200, 1001, 1002, 50).into();
    let proxied = exec_rows(&mut proxy, check, params.clone()).await;
    assert_eq!(proxied, exec_rows(&mut direct, check, params).await);
    assert_eq!(proxied.len(), 4, "one of the updated rows was deleted");
    env.stop().await;
}
