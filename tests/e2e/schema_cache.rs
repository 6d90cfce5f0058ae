//! The schema cache (issue #13, point 2): the proxy reads the tables' columns from the shards
//! and plans `SELECT *` ordered or grouped across shards with them; DDL through the proxy is
//! seen by the next statement; DDL behind its back gives a refusal or a right answer, never a
//! wrong one; `SHOW SHARDGATE SCHEMA` shows what it holds and which shards disagree.

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

const ADMIN_AND_THINGS: &str =
    "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n\
     \n[[tables]]\nname = \"things\"\nshard_key = \"id\"\n";

/// `users` rows over every shard: ids 1..=40, names descending as ids ascend.
async fn seed_users(conn: &mut Conn) {
    let values: Vec<String> = (1..=40)
        .map(|i| format!("({i}, 'u{i}@x', 'name{:02}', NULL)", 40 - i))
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name, created_at) VALUES {}",
        values.join(", ")
    ))
    .await
    .expect("seed users");
}

/// The column names of `sql`'s answer and its rows.
async fn answer(
    conn: &mut Conn,
    sql: &str,
) -> mysql_async::Result<(Vec<String>, Vec<Vec<Option<String>>>)> {
    let mut result = conn.query_iter(sql).await?;
    let names = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let rows: Vec<mysql_async::Row> = result.collect().await?;
    let rows = rows
        .into_iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(mysql_async::Value::NULL) | None => None,
                    Some(mysql_async::Value::Bytes(b)) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    Some(v) => Some(v.as_sql(true)),
                })
                .collect()
        })
        .collect();
    Ok((names, rows))
}

/// The `id` column (first) of each row.
fn ids(rows: &[Vec<Option<String>>], at: usize) -> Vec<String> {
    rows.iter()
        .map(|r| r[at].clone().unwrap_or_default())
        .collect()
}

/// Ids 40 down to 1: the order of `ORDER BY name` over [`seed_users`].
fn by_name() -> Vec<String> {
    (1..=40).rev().map(|i| i.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_through_the_proxy_is_planned_with_at_once() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    seed_users(&mut conn).await;

    let (names, got) = answer(&mut conn, "SELECT * FROM users ORDER BY name, id")
        .await
        .expect("SELECT * ORDER BY name");
    assert_eq!(names, ["id", "email", "name", "created_at"]);
    assert_eq!(ids(&got, 0), by_name());

    conn.query_drop("ALTER TABLE users ADD COLUMN nick VARCHAR(20) NOT NULL DEFAULT 'n', ADD COLUMN score INT NULL")
        .await
        .expect("ALTER through the proxy");
    // At once: the new columns are in `*`, and the sort column is found after them.
    let (names, got) = answer(
        &mut conn,
        "SELECT * FROM users ORDER BY score DESC, name, id",
    )
    .await
    .expect("after the ALTER");
    assert_eq!(
        names,
        ["id", "email", "name", "created_at", "nick", "score"]
    );
    assert_eq!(ids(&got, 0), by_name());
    assert!(got.iter().all(|r| r[4].as_deref() == Some("n")));

    // INSERT without a column list: the key found by position, one row per shard.
    conn.query_drop("INSERT INTO users VALUES (101, 'a@x', 'zz1', NULL, 'p1', 7), (102, NULL, 'zz2', NULL, 'p2', 8), (103, NULL, 'zz3', NULL, 'p3', 9)")
        .await
        .expect("INSERT by position");
    for (id, nick) in [(101, "p1"), (102, "p2"), (103, "p3")] {
        let mut direct = env.connect_primary(env.shard_of("users", id)).await;
        let found = rows(
            &mut direct,
            &format!("SELECT nick FROM users WHERE id = {id}"),
        )
        .await;
        assert_eq!(
            found,
            [[Some(nick.to_owned())]],
            "row {id} on its key's shard"
        );
    }
    let (_, got) = answer(
        &mut conn,
        "SELECT * FROM users ORDER BY score DESC, id LIMIT 3",
    )
    .await
    .expect("ordered by the new column");
    assert_eq!(ids(&got, 0), ["103", "102", "101"]);

    // GROUP BY and DISTINCT over `*` see the new columns too.
    let (names, got) = answer(
        &mut conn,
        "SELECT *, COUNT(*) AS n FROM users GROUP BY id ORDER BY score DESC, id LIMIT 2",
    )
    .await
    .expect("SELECT * GROUP BY");
    assert_eq!(
        names,
        ["id", "email", "name", "created_at", "nick", "score", "n"]
    );
    assert_eq!(got[0][0].as_deref(), Some("103"));
    assert_eq!(got[0][6].as_deref(), Some("1"));
    let refreshes = shardgate_metrics::metrics()
        .schema_refreshes_total
        .with_label_values(&["ok"])
        .get();
    assert!(refreshes >= 1, "schema reads are counted");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_behind_the_proxys_back_is_refused_or_answered_rightly() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    seed_users(&mut conn).await;
    let sql = "SELECT * FROM users ORDER BY name, id";
    let (_, got) = answer(&mut conn, sql).await.expect("the cache is read");
    assert_eq!(ids(&got, 0), by_name());

    // Behind the proxy's back: a new column on every shard, then the columns reordered.
    let changes = [
        "ALTER TABLE users ADD COLUMN extra INT NOT NULL DEFAULT 7",
        "ALTER TABLE users MODIFY name VARCHAR(255) FIRST",
    ];
    let stale_before = shardgate_metrics::metrics().schema_stale_total.get();
    for change in changes {
        for shard in 0..env.sandbox.shards().len() {
            env.connect_primary(shard)
                .await
                .query_drop(change)
                .await
                .expect(change);
        }
        let expected_names: &[&str] = if change.contains("FIRST") {
            &["name", "id", "email", "created_at", "extra"]
        } else {
            &["id", "email", "name", "created_at", "extra"]
        };
        let id_at = expected_names.iter().position(|n| *n == "id").unwrap();
        let mut answered = false;
        for attempt in 0..2 {
            match answer(&mut conn, sql).await {
                Ok((names, got)) => {
                    assert_eq!(names, expected_names, "{change}: attempt {attempt}");
                    assert_eq!(ids(&got, id_at), by_name(), "{change}: attempt {attempt}");
                    answered = true;
                    break;
                }
                Err(e) => {
                    let (code, _, message) = server_error::<()>(Err(e));
                    assert_eq!(code, 1235, "{message}");
                    assert!(message.contains("changed on the shards"), "{message}");
                }
            }
        }
        assert!(
            answered,
            "{change}: the statement is answered once the cache is read again"
        );
    }
    assert!(shardgate_metrics::metrics().schema_stale_total.get() > stale_before);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_shardgate_schema_names_the_columns_and_the_shards_that_disagree() {
    let env = TestEnv::start_with(2, 0, ADMIN_AND_THINGS).await;
    // `things` differs between the shards, created behind the proxy's back.
    env.connect_primary(0)
        .await
        .query_drop("CREATE TABLE things (id INT PRIMARY KEY, a INT)")
        .await
        .unwrap();
    env.connect_primary(1)
        .await
        .query_drop("CREATE TABLE things (id INT PRIMARY KEY, b INT)")
        .await
        .unwrap();
    let mut conn = env.connect().await;
    let (code, _, message) = server_error(conn.query_drop("SELECT * FROM things ORDER BY a").await);
    assert_eq!(code, 1235, "{message}");
    assert!(
        message.contains("columns (id, a) on shard s0, (id, b) on shard s1"),
        "{message}"
    );
    answer(&mut conn, "SELECT * FROM users ORDER BY name")
        .await
        .expect("users are read");
    // Listing the columns needs no schema: still answered.
    let (_, got) = answer(&mut conn, "SELECT id FROM things ORDER BY id")
        .await
        .expect("a listed column");
    assert!(got.is_empty());

    let opts = env.opts().user(Some("ops")).pass(Some("ops-secret"));
    let mut admin = Conn::new(Opts::from(opts)).await.expect("admin connects");
    let (names, got) = answer(&mut admin, "SHOW SHARDGATE SCHEMA")
        .await
        .expect("SHOW SHARDGATE SCHEMA");
    assert_eq!(
        names,
        [
            "table",
            "position",
            "column",
            "type",
            "collation",
            "agreed",
            "generation"
        ]
    );
    let users: Vec<(String, String, Option<String>)> = got
        .iter()
        .filter(|r| r[0].as_deref() == Some("users"))
        .map(|r| (r[2].clone().unwrap(), r[3].clone().unwrap(), r[4].clone()))
        .collect();
    assert_eq!(
        users,
        [
            ("id".to_owned(), "bigint(20)".to_owned(), None),
            (
                "email".to_owned(),
                "varchar(255)".to_owned(),
                Some("utf8mb4_general_ci".to_owned())
            ),
            (
                "name".to_owned(),
                "varchar(255)".to_owned(),
                Some("utf8mb4_general_ci".to_owned())
            ),
            ("created_at".to_owned(), "datetime".to_owned(), None),
        ]
    );
    let things: Vec<String> = got
        .iter()
        .filter(|r| r[0].as_deref() == Some("things"))
        .map(|r| r[5].clone().unwrap())
        .collect();
    assert!(
        !things.is_empty() && things.iter().all(|a| a.contains("on shard s1")),
        "{things:?}"
    );
    env.stop().await;
}

/// The cache said a table's shards disagree (one lacked it); the shards since agree: the
/// statement that needs its columns reads them again before refusing, and is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disagreement_the_shards_have_since_resolved_is_read_again() {
    let env = TestEnv::start_with(2, 0, ADMIN_AND_THINGS).await;
    let create = "CREATE TABLE things (id INT PRIMARY KEY, a INT)";
    env.connect_primary(0)
        .await
        .query_drop(create)
        .await
        .unwrap();
    let mut conn = env.connect().await;
    let (code, _, message) = server_error(conn.query_drop("SELECT * FROM things ORDER BY a").await);
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("missing on shard s1"), "{message}");
    // Created on the other shard behind the proxy's back, as on the first.
    env.connect_primary(1)
        .await
        .query_drop(create)
        .await
        .unwrap();
    let (names, rows) = answer(&mut conn, "SELECT * FROM things ORDER BY a")
        .await
        .expect("answered once the shards agree");
    assert_eq!(names, ["id", "a"]);
    assert!(rows.is_empty());
    env.stop().await;
}
