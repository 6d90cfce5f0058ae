//! Statements pushed down whole: subqueries, derived tables, CTEs and set operations whose
//! sharded references are all pinned to one shard run there unchanged (text and prepared),
//! `SHOW SHARDGATE ROUTE FOR` says which condition pins each reference, correlated subqueries
//! follow a scatter's rows, and a reference nothing pins is refused with 1235 naming it.
//! (The differential test compares many more such statements with one MariaDB.)

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

const ADMIN: &str = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

/// `n` user ids the ring places on `shard`.
fn ids_on(env: &TestEnv, shard: usize, n: usize) -> Vec<i64> {
    (1..)
        .filter(|id| env.shard_of("users", i128::from(*id)) == shard)
        .take(n)
        .collect()
}

/// Users `ids` with `orders_each` orders each (order ids from `first_order`).
async fn load(conn: &mut Conn, ids: &[i64], orders_each: i64, first_order: i64) {
    for (n, id) in ids.iter().enumerate() {
        conn.query_drop(format!(
            "INSERT INTO users (id, name) VALUES ({id}, 'u{id}')"
        ))
        .await
        .unwrap();
        for k in 0..orders_each {
            let order = first_order + (n as i64) * 100 + k;
            conn.query_drop(format!(
                "INSERT INTO orders (id, user_id, amount) VALUES ({order}, {id}, {k}.50)"
            ))
            .await
            .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_statements_run_whole_on_their_shard() {
    let env = TestEnv::start_with(3, 0, ADMIN).await;
    let mut conn = env.connect().await;
    let (a, b) = (ids_on(&env, 1, 2), ids_on(&env, 2, 1));
    // a[0] has 3 orders, a[1] none; b[0] (another shard) 2.
    load(&mut conn, &a[..1], 3, 1).await;
    load(&mut conn, &a[1..], 0, 101).await;
    load(&mut conn, &b, 2, 201).await;
    let (x, idle, y) = (a[0], a[1], b[0]);

    for (sql, want) in [
        (
            format!("SELECT (SELECT COUNT(*) FROM orders WHERE user_id = {x}), (SELECT name FROM users WHERE id = {x})"),
            vec![vec!["3".to_owned(), format!("u{x}")]],
        ),
        (
            format!("SELECT u.id FROM users u WHERE u.id IN ({x}, {idle}) AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)"),
            vec![vec![idle.to_string()]],
        ),
        (
            format!("WITH t AS (SELECT user_id, SUM(amount) AS s FROM orders WHERE user_id = {x} GROUP BY user_id) SELECT t.s FROM t"),
            vec![vec!["4.50".to_owned()]],
        ),
        (
            format!("SELECT COUNT(*) FROM (SELECT id FROM users WHERE id = {x} UNION ALL SELECT user_id FROM orders WHERE user_id = {x}) t"),
            vec![vec!["4".to_owned()]],
        ),
        (
            format!("SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) FROM orders WHERE user_id = {y} ORDER BY id"),
            vec![vec!["201".to_owned(), "2".to_owned()], vec!["202".to_owned(), "1".to_owned()]],
        ),
    ] {
        let got: Vec<Vec<String>> = rows(&mut conn, &sql)
            .await
            .into_iter()
            .map(|r| r.into_iter().map(|v| v.unwrap_or_default()).collect())
            .collect();
        assert_eq!(got, want, "{sql}");
    }

    // INSERT … SELECT writes its rows on the shard of the key they carry.
    conn.query_drop(format!(
        "INSERT INTO orders (id, user_id, amount) SELECT id + 1000, user_id, amount FROM orders WHERE user_id = {x}"
    ))
    .await
    .unwrap();
    let mut direct = env.connect_primary(1).await;
    let copied = rows(
        &mut direct,
        &format!("SELECT COUNT(*) FROM orders WHERE user_id = {x} AND id > 1000"),
    )
    .await;
    assert_eq!(copied, vec![vec![Some("3".to_owned())]]);

    // Prepared: routed by the parameters at each execution.
    let stmt = conn
        .prep("SELECT (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) FROM users u WHERE u.id = ? AND EXISTS (SELECT 1 FROM users v WHERE v.id = ?)")
        .await
        .unwrap();
    for (id, want) in [(x, 6), (y, 2)] {
        let got: Option<i64> = conn.exec_first(&stmt, (id, id)).await.unwrap();
        assert_eq!(got, Some(want), "user {id}");
    }

    // Correlated on co-located keys: every shard answers for its own users.
    let with_orders = rows(
        &mut conn,
        "SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) ORDER BY u.id",
    )
    .await;
    let mut want = [x, y];
    want.sort_unstable();
    let want: Vec<Vec<Option<String>>> = want.iter().map(|i| vec![Some(i.to_string())]).collect();
    assert_eq!(with_orders, want);

    // The plan says why; what nothing pins is refused, naming where it is.
    let opts = env.opts().user(Some("ops")).pass(Some("ops-secret"));
    let mut admin = Conn::new(Opts::from(opts)).await.unwrap();
    let route = rows(
        &mut admin,
        &format!("SHOW SHARDGATE ROUTE FOR SELECT * FROM users u WHERE u.id = {x} AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)"),
    )
    .await;
    let plan = route[0][0].clone().unwrap_or_default();
    assert!(
        plan.contains("pushed down whole: `users` u by u.id = ")
            && plan.contains("`orders` o in a subquery by o.user_id = u.id"),
        "{plan}"
    );
    // Answered from copies of `users` (tests/e2e/materialize.rs); locking, it is refused.
    let answered = rows(
        &mut conn,
        &format!("SELECT id FROM users WHERE id = {x} AND id IN (SELECT id FROM users)"),
    )
    .await;
    assert_eq!(answered, [[Some(x.to_string())]]);
    let sql = format!(
        "SELECT * FROM users WHERE id = {x} AND name IN (SELECT name FROM users) FOR UPDATE"
    );
    let (code, _, message) = server_error(conn.query_drop(&sql).await);
    assert_eq!(code, 1235, "{sql}: {message}");
    // Rows read on one shard for another: the SELECT first, then INSERT … VALUES (by rows).
    conn.query_drop(format!(
        "INSERT INTO orders (id, user_id) SELECT 9000, {y} FROM users WHERE id = {x}"
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            &format!("SELECT id FROM orders WHERE user_id = {y} AND id = 9000")
        )
        .await,
        [[Some("9000".to_owned())]]
    );
    // Branches on two shards: each runs on its own, the rows combined in the proxy.
    assert_eq!(
        rows(
            &mut conn,
            &format!("SELECT id FROM users WHERE id = {x} UNION SELECT id FROM users WHERE id = {y} ORDER BY 1")
        )
        .await
        .len(),
        2
    );
    let (_, _, message) = server_error(
        conn.query_drop(format!(
            "SELECT * FROM users WHERE id = {x} AND name IN (SELECT name FROM users) FOR UPDATE"
        ))
        .await,
    );
    assert!(
        message.contains("`users` in a subquery is not pinned"),
        "{message}"
    );
    drop((conn, direct, admin));
    env.stop().await;
}
