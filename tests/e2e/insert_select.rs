//! Issue #13: `INSERT … SELECT` that no one shard answers (its SELECT reads other shards than
//! its rows go to) runs by rows: the SELECT first — merged in the proxy where it must be
//! (ORDER BY / LIMIT, aggregates, DISTINCT across shards) —, then `INSERT … VALUES` of its rows,
//! split by shard. The rows held are bounded by `merge_max_rows` (1038 beyond). `UPDATE` /
//! `DELETE` subqueries whose rows need a merge run the same way.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{rows, server_error, TestEnv};

/// At most 8 rows held by the proxy.
const BOUNDED: &str = "merge_max_rows = 8\n";

async fn setup() -> (TestEnv, Conn) {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        let server = format!("[server]\n{BOUNDED}");
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
    })
    .await;
    let mut conn = env.connect().await;
    for id in 1..=6i64 {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({id}, 'u{id}@x.test', 'n{}')",
            id % 3
        ))
        .await
        .unwrap();
    }
    (env, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_select_across_shards_runs_by_rows_merged_where_it_must_be() {
    let (env, mut conn) = setup().await;
    let shards: std::collections::BTreeSet<usize> =
        (1..=6).map(|id| env.shard_of("users", id)).collect();
    assert_eq!(shards.len(), 2, "users on both shards");
    // Each user's order goes to the shard of `user_id`, which no one shard's SELECT knows.
    conn.query_drop("INSERT INTO orders (id, user_id, amount) SELECT id, 7 - id, id FROM users")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 6);
    assert_eq!(
        rows(
            &mut conn,
            "SELECT id, user_id, amount FROM orders ORDER BY id"
        )
        .await,
        (1..=6)
            .map(|id| vec![
                Some(id.to_string()),
                Some((7 - id).to_string()),
                Some(format!("{id}.00"))
            ])
            .collect::<Vec<_>>()
    );
    // ORDER BY … LIMIT across shards: the top two of the whole, not of each shard.
    conn.query_drop(
        "INSERT INTO orders (id, user_id, amount) SELECT id + 100, id, 1 FROM users ORDER BY id DESC LIMIT 2",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            "SELECT id FROM orders WHERE id > 100 ORDER BY id"
        )
        .await,
        vec![vec![Some("105".into())], vec![Some("106".into())]]
    );
    // Aggregates and groups across shards.
    conn.query_drop("DELETE FROM orders").await.unwrap();
    conn.query_drop(
        "INSERT INTO orders (id, user_id, amount) SELECT MAX(id), MIN(id), SUM(id) FROM users GROUP BY name",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            "SELECT id, user_id, amount FROM orders ORDER BY user_id"
        )
        .await,
        vec![
            vec![Some("4".into()), Some("1".into()), Some("5.00".into())],
            vec![Some("5".into()), Some("2".into()), Some("7.00".into())],
            vec![Some("6".into()), Some("3".into()), Some("9.00".into())],
        ]
    );
    // DISTINCT across shards, into a reference-less sharded table by its key.
    conn.query_drop("DELETE FROM orders").await.unwrap();
    conn.query_drop(
        "INSERT INTO orders (id, user_id) SELECT DISTINCT LENGTH(name) * 10, LENGTH(name) FROM users",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT id, user_id FROM orders").await,
        vec![vec![Some("20".into()), Some("2".into())]]
    );
    // A DELETE whose IN subquery needs a merge (GROUP BY across shards).
    conn.query_drop(
        "DELETE FROM users WHERE id IN (SELECT MAX(u.id) FROM users u GROUP BY u.name)",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 3);
    assert_eq!(
        rows(&mut conn, "SELECT id FROM users ORDER BY id").await,
        vec![
            vec![Some("1".into())],
            vec![Some("2".into())],
            vec![Some("3".into())]
        ]
    );
    // More rows than the proxy may hold: 1038, nothing written.
    for id in 10..=19 {
        conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'x')"))
            .await
            .unwrap();
    }
    let (code, state, message) = server_error(
        conn.query_drop(
            "INSERT INTO orders (id, user_id) SELECT id + 1000, id FROM users ORDER BY id",
        )
        .await,
    );
    assert_eq!((code, state.as_str()), (1038, "HY001"), "{message}");
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM orders WHERE id > 1000").await,
        vec![vec![Some("0".into())]]
    );
    // Without a column list: the table's columns, read from the schema, then by rows.
    conn.query_drop("INSERT INTO orders SELECT id + 2000, id, 1, NULL FROM users WHERE id <= 3")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM orders WHERE id > 2000").await,
        vec![vec![Some("3".into())]]
    );
    // A value whose shown text has fewer digits than the value MariaDB would write (a
    // DECIMAL quotient, a DOUBLE with fixed decimals): refused, nothing written — it was
    // written rounded before.
    conn.query_drop("CREATE TABLE stats (id INT PRIMARY KEY, v DOUBLE, d DECIMAL(30, 12))")
        .await
        .unwrap();
    for sql in [
        "INSERT INTO stats (id, v) SELECT 1, STD(id) FROM users",
        "INSERT INTO stats (id, d) SELECT 1, AVG(id) FROM users",
        "INSERT INTO stats (id, d) SELECT id, SUM(id) / 7 FROM users WHERE id < 4 GROUP BY id",
        "UPDATE stats SET d = 1 WHERE d < (SELECT AVG(id) FROM users)",
    ] {
        let (code, _, message) = server_error(conn.query_drop(sql).await);
        assert_eq!(code, 1235, "{sql}: {message}");
        assert!(
            message.contains("more digits than its column shows"),
            "{message}"
        );
    }
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM stats").await,
        vec![vec![Some("0".into())]]
    );
    // Exact values still run by rows.
    conn.query_drop("INSERT INTO stats (id, v, d) SELECT 1, MAX(id) * 1e0, SUM(id) FROM users")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT v, d FROM stats").await,
        vec![vec![Some("19".into()), Some("151.000000000000".into())]]
    );
    env.stop().await;
}

/// Without a column list, the columns an INSERT writes are the table's visible ones, as the
/// server lists them for the session: into a TEMPORARY table (which `information_schema` does
/// not list) and a table with an INVISIBLE column, from a SELECT across shards; and a sharded
/// table's INSERT … VALUES by position past an INVISIBLE column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_without_a_column_list_write_the_visible_columns() {
    let (env, mut conn) = setup().await;
    conn.query_drop("CREATE TEMPORARY TABLE picked (id BIGINT, name VARCHAR(255))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO picked SELECT id, name FROM users WHERE name <> 'n0'")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*), MIN(id), MAX(id) FROM picked").await,
        vec![vec![Some("4".into()), Some("1".into()), Some("5".into())]]
    );
    conn.query_drop(
        "CREATE TABLE kept (id BIGINT, hidden INT INVISIBLE DEFAULT 7, name VARCHAR(255))",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO kept SELECT id, name FROM users ORDER BY id LIMIT 3")
        .await
        .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            "SELECT GROUP_CONCAT(id ORDER BY id), SUM(hidden) FROM kept"
        )
        .await,
        vec![vec![Some("1,2,3".into()), Some("21".into())]]
    );
    // Statements MariaDB runs after an implicit commit are refused inside a transaction, which
    // goes on.
    conn.query_drop("BEGIN").await.unwrap();
    for sql in [
        "CREATE TABLE made AS SELECT id FROM users",
        "CHECKSUM TABLE users",
    ] {
        let (code, _, message) = server_error(conn.query_drop(sql).await);
        assert_eq!(code, 1235, "{sql}: {message}");
        assert!(
            message.contains("COMMIT or ROLLBACK first"),
            "{sql}: {message}"
        );
    }
    conn.query_drop("ROLLBACK").await.unwrap();
    // A table that does not exist: MariaDB's own error.
    let (code, _, message) = server_error(
        conn.query_drop("INSERT INTO nowhere SELECT id FROM users")
            .await,
    );
    assert_eq!(code, 1146, "{message}");
    conn.query_drop("ALTER TABLE users ADD COLUMN secret INT INVISIBLE DEFAULT 3")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO users VALUES (40, 'u40@x.test', 'n40', NULL)")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT name, secret FROM users WHERE id = 40").await,
        vec![vec![Some("n40".into()), Some("3".into())]]
    );
    drop(conn);
    env.stop().await;
}
