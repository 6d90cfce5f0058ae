//! Issue #13: `UPDATE` / `DELETE` with uncorrelated `IN` subqueries over a sharded table
//! placed otherwise run after their subqueries (their values written in as `IN (…)` lists):
//! the rows MariaDB's semantics pick are written, `NOT IN` keeps its NULL and empty-set
//! meaning, a subquery of two columns gets 1241, a correlated one keeps its refusal, and
//! inside a transaction a ROLLBACK undoes it.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{insert_users_with_orders, on_every_primary, server_error, TestEnv};

/// `tags` is placed by its string `tag`, so `users` / `orders` rows and their tags live apart.
const CONFIG: &str = "\n[[tables]]\nname = \"tags\"\nshard_key = \"tag\"\nshard_key_type = \"string\"\n\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

async fn setup() -> TestEnv {
    let env = TestEnv::start_with(2, 0, CONFIG).await;
    on_every_primary(
        &env.sandbox,
        "CREATE TABLE tags (tag VARCHAR(20) NOT NULL, user_id BIGINT NOT NULL, ref BIGINT NULL, PRIMARY KEY (tag, user_id))",
    )
    .await;
    let mut conn = env.connect().await;
    insert_users_with_orders(&mut conn, 20).await;
    for (tag, ids) in [
        ("gone", &[2i64, 5, 11][..]),
        ("a", &[1, 2, 3]),
        ("b", &[3, 4, 17]),
    ] {
        for id in ids {
            conn.query_drop(format!(
                "INSERT INTO tags (tag, user_id, ref) VALUES ('{tag}', {id}, {id})"
            ))
            .await
            .unwrap();
        }
    }
    env
}

async fn ids(conn: &mut Conn, sql: &str) -> Vec<i64> {
    conn.query(sql).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_with_in_subqueries_of_another_placement_change_the_rows_mariadb_would() {
    let env = setup().await;
    let mut conn = env.connect().await;

    // IN over one shard of tags (`tag = 'gone'`): the orders of users 2, 5 and 11, on both
    // shards of orders.
    conn.query_drop(
        "DELETE FROM orders WHERE user_id IN (SELECT t.user_id FROM tags t WHERE t.tag = 'gone')",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 6);
    let left = ids(
        &mut conn,
        "SELECT DISTINCT user_id FROM orders ORDER BY user_id",
    )
    .await;
    assert_eq!(left.len(), 17);
    assert!(!left.iter().any(|id| [2, 5, 11].contains(id)), "{left:?}");

    // IN over every shard of tags, duplicates in the subquery's answer.
    conn.query_drop(
        "UPDATE users SET name = 'tagged' WHERE id IN (SELECT t.user_id FROM tags t WHERE t.tag IN ('a', 'b'))",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 5);
    let tagged = ids(
        &mut conn,
        "SELECT id FROM users WHERE name = 'tagged' ORDER BY id",
    )
    .await;
    assert_eq!(tagged, [1, 2, 3, 4, 17]);

    // An empty answer: IN picks no row, NOT IN every row (whatever the operand).
    conn.query_drop(
        "DELETE FROM orders WHERE user_id IN (SELECT t.user_id FROM tags t WHERE t.tag = 'none')",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 0);
    conn.query_drop("UPDATE users SET email = NULL WHERE id NOT IN (SELECT t.user_id FROM tags t WHERE t.tag = 'none')")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 20);

    // NOT IN with a NULL in the answer matches no row (UNKNOWN), as in MariaDB.
    conn.query_drop("UPDATE tags SET ref = NULL WHERE tag = 'b' AND user_id = 17")
        .await
        .unwrap();
    conn.query_drop("UPDATE users SET name = 'none' WHERE id NOT IN (SELECT t.ref FROM tags t)")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 0);
    // Without the NULL: every user without a tag (1, 2, 3, 4, 5, 11 and 17 have one).
    conn.query_drop(
        "UPDATE users SET name = 'untagged' WHERE id NOT IN (SELECT t.user_id FROM tags t)",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 13);

    // EXPLAIN of a write run after its subqueries is refused, never run.
    let explained = conn
        .query_drop("EXPLAIN UPDATE users SET name = 'explained' WHERE id IN (SELECT t.user_id FROM tags t)")
        .await;
    assert!(
        matches!(&explained, Err(mysql_async::Error::Server(e)) if e.code == 1235),
        "{explained:?}"
    );
    let explained = ids(&mut conn, "SELECT id FROM users WHERE name = 'explained'").await;
    assert!(explained.is_empty(), "{explained:?}");

    // Inside a transaction (writing one shard, as transaction_mode "single" allows): the
    // subquery reads in it, and a ROLLBACK undoes the write.
    conn.query_drop("INSERT INTO tags (tag, user_id) VALUES ('gone', 20)")
        .await
        .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(
        "DELETE FROM orders WHERE user_id IN (SELECT t.user_id FROM tags t WHERE t.tag = 'gone') AND user_id = 20",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    conn.query_drop("ROLLBACK").await.unwrap();
    let of_20 = ids(
        &mut conn,
        "SELECT id FROM orders WHERE user_id = 20 ORDER BY id",
    )
    .await;
    assert_eq!(of_20, [200, 201]);

    // What keeps its error.
    let two_columns = conn
        .query_drop("DELETE FROM orders WHERE user_id IN (SELECT t.user_id, t.ref FROM tags t)")
        .await;
    assert_eq!(server_error(two_columns).0, 1241);
    let correlated = conn
        .query_drop("UPDATE users u SET name = 'x' WHERE u.id IN (SELECT t.user_id FROM tags t WHERE t.ref = u.id)")
        .await;
    assert_eq!(server_error(correlated).0, 1235);
    drop(conn);

    let mut admin = crate::reshard_copy::connect_admin(env.port).await;
    let route: Vec<(Option<String>, Option<String>, Option<String>)> = admin
        .query("SHOW SHARDGATE ROUTE FOR DELETE FROM orders WHERE user_id IN (SELECT t.user_id FROM tags t)")
        .await
        .unwrap();
    let plan = route[0].0.clone().unwrap_or_default();
    assert!(
        plan.starts_with("DELETE after its subqueries: first `SELECT t.user_id FROM tags t`"),
        "{plan}"
    );
    drop(admin);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_with_exists_and_scalar_subqueries_of_another_placement() {
    let env = setup().await;
    let mut conn = env.connect().await;
    // A scalar subquery over every shard of tags, merged (MAX): users 3 and 4 get 17.
    conn.query_drop(
        "UPDATE users SET name = (SELECT MAX(t.ref) FROM tags t) WHERE id IN (SELECT t.user_id FROM tags t WHERE t.tag = 'b') AND id < 10",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    assert_eq!(
        ids(
            &mut conn,
            "SELECT id FROM users WHERE name = '17' ORDER BY id"
        )
        .await,
        [3, 4]
    );
    // No row: NULL, as MariaDB gives it.
    conn.query_drop(
        "UPDATE users SET name = (SELECT t.ref FROM tags t WHERE t.tag = 'none') WHERE id = 3",
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&mut conn, "SELECT id FROM users WHERE name IS NULL").await,
        [3]
    );
    // More than one row: MariaDB's 1242, nothing written; two columns: 1241.
    let (code, state, _) = server_error(
        conn.query_drop("UPDATE users SET name = (SELECT t.ref FROM tags t) WHERE id = 4")
            .await,
    );
    assert_eq!((code, state.as_str()), (1242, "21000"));
    let (code, ..) = server_error(
        conn.query_drop(
            "UPDATE users SET name = (SELECT t.ref, t.tag FROM tags t WHERE t.tag = 'a' AND t.user_id = 1) WHERE id = 4",
        )
        .await,
    );
    assert_eq!(code, 1241);
    assert_eq!(
        ids(&mut conn, "SELECT id FROM users WHERE name = '17'").await,
        [4]
    );
    // EXISTS / NOT EXISTS, any columns: true deletes the rows the rest of WHERE picks, false none.
    conn.query_drop(
        "DELETE FROM orders WHERE EXISTS (SELECT * FROM tags t WHERE t.tag = 'gone') AND user_id = 1",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    conn.query_drop(
        "DELETE FROM orders WHERE NOT EXISTS (SELECT t.tag, t.ref FROM tags t WHERE t.ref > 0) AND user_id = 2",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 0);
    conn.query_drop(
        "DELETE FROM orders WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.tag = 'none')",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 38);
    // Correlated with the written row: refused as before.
    let (code, ..) = server_error(
        conn.query_drop(
            "UPDATE users u SET name = 'z' WHERE EXISTS (SELECT 1 FROM tags t WHERE t.user_id = u.id)",
        )
        .await,
    );
    assert_eq!(code, 1235);
    env.stop().await;
}

/// `INSERT … VALUES` with a subquery over a table placed otherwise: the proxy runs the
/// subquery first and writes its answer in, so every row gets the answer over every shard —
/// before, a multi-row INSERT split by shard sent the subquery along with each part, and each
/// shard answered it from its own rows. A subquery reading the table written keeps a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_with_subqueries_of_another_placement_take_their_answer_over_every_shard() {
    let env = setup().await;
    let mut conn = env.connect().await;
    // Ids on both shards, each row gets MAX over every shard's tags (17) and the count (9).
    let (a, b) = (
        101i64,
        (102..200)
            .find(|id| env.shard_of("users", i128::from(*id)) != env.shard_of("users", 101))
            .unwrap(),
    );
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'x{a}@x.test', (SELECT MAX(t.ref) FROM tags t)), ({b}, CONCAT('c', (SELECT COUNT(*) FROM tags t), '@x.test'), 'y')"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    let got: Vec<(i64, String, String)> = conn
        .query(format!(
            "SELECT id, email, name FROM users WHERE id IN ({a}, {b}) ORDER BY id"
        ))
        .await
        .unwrap();
    let mut expected = vec![
        (a, format!("x{a}@x.test"), "17".to_string()),
        (b, "c9@x.test".to_string(), "y".to_string()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    // More than one row: MariaDB's 1242, nothing written.
    let (code, ..) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({}, 'z@x.test', (SELECT t.ref FROM tags t)), ({}, 'w@x.test', 'w')",
            a + 1000,
            b + 1000
        ))
        .await,
    );
    assert_eq!(code, 1242);
    assert!(ids(
        &mut conn,
        &format!(
            "SELECT id FROM users WHERE id IN ({}, {})",
            a + 1000,
            b + 1000
        )
    )
    .await
    .is_empty());
    // Reading the table it writes: refused, nothing written.
    let (code, state, msg) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({}, 'v@x.test', 'v'), ({}, 'u@x.test', (SELECT COUNT(*) FROM users))",
            a + 2000,
            b + 2000
        ))
        .await,
    );
    assert_eq!((code, state.as_str()), (1235, "42000"), "{msg}");
    assert!(msg.contains("subquery reading `users`"), "{msg}");
    drop(conn);
    env.stop().await;
}

/// A subquery the proxy runs first that raises warnings: MariaDB's write would fail on them
/// (a strict `sql_mode` makes warnings raised while the write runs errors: 1292 for a string
/// compared with each row's number) or succeed reporting them (those raised while it is
/// prepared: a constant converted once), and the write the proxy sends could do neither —
/// before, the SELECT's warnings were lost and the write succeeded where MariaDB's fails.
/// Refused now, nothing written; a subquery without warnings still runs first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_subquery_raises_warnings_is_refused_not_answered_without_them() {
    let env = setup().await;
    let mut conn = env.connect().await;
    // Tags on every shard, so that shard 0's own answer compares rows too.
    for n in 0..12 {
        conn.query_drop(format!(
            "INSERT INTO tags (tag, user_id, ref) VALUES ('c{n}', 1, {n})"
        ))
        .await
        .unwrap();
    }
    let mut direct = env.connect_primary(0).await;
    let insert = |id: i64, condition: &str| {
        format!(
            "INSERT INTO users (id, email, name) VALUES ({id}, 'w{id}@x.test', (SELECT COUNT(*) FROM tags t WHERE {condition}))"
        )
    };
    let update =
        "UPDATE users SET name = 'w' WHERE id IN (SELECT t.user_id FROM tags t WHERE t.tag = 5)";
    // MariaDB fails these (strict mode, a warning per row compared) …
    for sql in [insert(300, "t.tag = 5"), update.to_string()] {
        let (code, ..) = server_error(direct.query_drop(&sql).await);
        assert_eq!(code, 1292, "{sql}");
        let (code, state, msg) = server_error(conn.query_drop(&sql).await);
        assert_eq!((code, state.as_str()), (1235, "42000"), "{sql}: {msg}");
        assert!(msg.contains("raised warnings"), "{msg}");
    }
    // … and writes this one with a warning (the constant converted once).
    direct
        .query_drop(insert(301, "t.ref = 'k11'"))
        .await
        .unwrap();
    assert_eq!(direct.get_warnings(), 1);
    let (code, _, msg) = server_error(conn.query_drop(insert(302, "t.ref = 'k11'")).await);
    assert_eq!(code, 1235, "{msg}");
    assert!(
        ids(&mut conn, "SELECT id FROM users WHERE id IN (300, 302)")
            .await
            .is_empty()
    );
    // Without warnings the subquery runs first and the row is written.
    conn.query_drop(insert(303, "t.ref = 3")).await.unwrap();
    assert_eq!(
        ids(
            &mut conn,
            "SELECT CAST(name AS SIGNED) FROM users WHERE id = 303"
        )
        .await,
        [3]
    );
    drop((conn, direct));
    env.stop().await;
}
