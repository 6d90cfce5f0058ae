//! Issue #13: `UPDATE` / `DELETE` with `LIMIT` (and `ORDER BY`) whose rows lie on several
//! shards read the rows first and then write exactly them: the rows MariaDB's order picks,
//! however the statement's text is laid out (a `-- comment` ending a line must not swallow the
//! clause the proxy adds after it: it once turned a limited UPDATE into one without WHERE),
//! and a clear refusal for a table without a primary key.

use mysql_async::prelude::Queryable;

use crate::common::{on_every_primary, server_error, TestEnv};

/// `events` has no primary key.
const CONFIG: &str = "\n[[tables]]\nname = \"events\"\nshard_key = \"id\"\n\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_writes_across_shards_change_exactly_the_rows_mariadb_would() {
    let env = TestEnv::start_with(2, 0, CONFIG).await;
    on_every_primary(
        &env.sandbox,
        "CREATE TABLE events (id BIGINT NOT NULL, at INT)",
    )
    .await;
    let mut conn = env.connect().await;
    for id in 1..=20i64 {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({id}, 'u{id}@x.test', 'n{id}')"
        ))
        .await
        .unwrap();
    }
    let shards: std::collections::BTreeSet<usize> =
        (1..=20).map(|id| env.shard_of("users", id)).collect();
    assert_eq!(shards.len(), 2, "the rows lie on both shards");
    let named =
        |name: &'static str| format!("SELECT id FROM users WHERE name = '{name}' ORDER BY id");

    conn.query_drop("UPDATE users SET name = 'top' ORDER BY id DESC LIMIT 3")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 3);
    let top: Vec<i64> = conn.query(named("top")).await.unwrap();
    assert_eq!(top, [18, 19, 20]);

    // Without ORDER BY: the primary key's order, as InnoDB's scan meets them.
    conn.query_drop("UPDATE users SET name = 'first' WHERE id > 4 LIMIT 2")
        .await
        .unwrap();
    let first: Vec<i64> = conn.query(named("first")).await.unwrap();
    assert_eq!(first, [5, 6]);

    // Comments ending a line, before each clause.
    conn.query_drop("UPDATE users SET name = 'c' -- WHERE 1=0\nWHERE id <=> 9 ORDER BY id LIMIT 2")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let c: Vec<i64> = conn.query(named("c")).await.unwrap();
    assert_eq!(c, [9]);
    conn.query_drop("DELETE FROM users # x\nWHERE id > 10 -- y\nORDER BY id -- z\nLIMIT 2 -- w")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    let left: Vec<i64> = conn
        .query("SELECT id FROM users ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        left,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 18, 19, 20]
    );

    // No row matches: nothing written.
    conn.query_drop("DELETE FROM users WHERE id > 1000 ORDER BY id LIMIT 5")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 0);

    // No primary key to name the rows by: refused, naming why.
    let (code, _, message) = server_error(conn.query_drop("DELETE FROM events LIMIT 1").await);
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("PRIMARY KEY"), "{message}");
    drop(conn);

    let mut admin = crate::reshard_copy::connect_admin(env.port).await;
    let route: Vec<(Option<String>, Option<String>, Option<String>)> = admin
        .query("SHOW SHARDGATE ROUTE FOR DELETE FROM users WHERE name = 'x' ORDER BY id LIMIT 2")
        .await
        .unwrap();
    let plan = route[0].0.clone().unwrap_or_default();
    assert!(
        plan.starts_with(
            "DELETE with LIMIT across shards: first `SELECT `id` FROM users WHERE name = 'x'"
        ),
        "{plan}"
    );
    drop(admin);
    env.stop().await;
}
