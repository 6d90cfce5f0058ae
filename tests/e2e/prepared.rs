//! Server-side prepared statements through the proxy (mysql_async's `exec` uses the binary
//! protocol): routed per execution by their parameters, cached per backend connection, bounded.

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_route_by_their_parameters() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let insert = conn
        .prep("INSERT INTO users (id, email, name) VALUES (?, ?, ?)")
        .await
        .unwrap();
    for id in 1..=200i64 {
        conn.exec_drop(
            &insert,
            (id, format!("p{id}@example.com"), format!("P {id}")),
        )
        .await
        .unwrap();
        assert_eq!(conn.affected_rows(), 1);
    }
    // Every row went to the shard its id maps to.
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        let ids: Vec<i64> = direct.query("SELECT id FROM users").await.unwrap();
        assert!(!ids.is_empty(), "shard {shard} got rows");
        for id in ids {
            assert_eq!(env.shard_of("users", i128::from(id)), shard, "user {id}");
        }
    }
    // Reads by parameter, as integer and as string, from one statement.
    let select = conn
        .prep("SELECT email, name FROM users WHERE id = ?")
        .await
        .unwrap();
    for id in 1..=200i64 {
        let got: Option<(String, String)> = conn.exec_first(&select, (id,)).await.unwrap();
        assert_eq!(got, Some((format!("p{id}@example.com"), format!("P {id}"))));
        let as_text: Option<(String, String)> =
            conn.exec_first(&select, (id.to_string(),)).await.unwrap();
        assert_eq!(as_text, got);
    }
    // IN lists of parameters on one shard route there; spanning shards, they are scattered.
    let a = 1i64;
    let same = (2..200)
        .find(|id| env.shard_of("users", *id) == env.shard_of("users", i128::from(a)))
        .unwrap() as i64;
    let other = (2..200)
        .find(|id| env.shard_of("users", *id) != env.shard_of("users", i128::from(a)))
        .unwrap() as i64;
    let pair = conn
        .prep("SELECT COUNT(*) FROM users WHERE id IN (?, ?)")
        .await
        .unwrap();
    let n: Option<u64> = conn.exec_first(&pair, (a, same)).await.unwrap();
    assert_eq!(n, Some(2));
    let n: Option<u64> = conn.exec_first(&pair, (a, other)).await.unwrap();
    assert_eq!(n, Some(2));
    // `id = NULL` holds for no row, as on one server.
    let none: Option<(String, String)> = conn.exec_first(&select, (None::<i64>,)).await.unwrap();
    assert_eq!(none, None);
    // UPDATE and DELETE by parameter.
    let update = conn
        .prep("UPDATE users SET name = ? WHERE id = ?")
        .await
        .unwrap();
    conn.exec_drop(&update, ("renamed", 7)).await.unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let delete = conn.prep("DELETE FROM users WHERE id = ?").await.unwrap();
    conn.exec_drop(&delete, (8,)).await.unwrap();
    assert_eq!(conn.affected_rows(), 1);
    assert_eq!(
        rows(&mut conn, "SELECT name FROM users WHERE id = 7").await,
        vec![vec![Some("renamed".into())]]
    );
    assert!(rows(&mut conn, "SELECT * FROM users WHERE id = 8")
        .await
        .is_empty());
    // Statements without a shard key, on unsharded tables, and errors.
    let plain = conn.prep("SELECT ? + 1").await.unwrap();
    let two: Option<i64> = conn.exec_first(&plain, (1,)).await.unwrap();
    assert_eq!(two, Some(2));
    let by_name = conn
        .prep("SELECT id FROM users WHERE name = ? OR name = ? ORDER BY id")
        .await
        .unwrap();
    let ids: Vec<i64> = conn.exec(&by_name, ("P 3", "P 150")).await.unwrap();
    assert_eq!(ids, vec![3, 150]);
    // What cannot run even with values is refused at execution, naming the construct.
    let locking = conn
        .prep("SELECT u.id FROM users u JOIN orders o ON o.id = u.id WHERE u.name = ? FOR UPDATE")
        .await;
    if let Ok(locking) = locking {
        let (code, _, msg) = server_error(conn.exec_drop(&locking, ("P 3",)).await);
        assert_eq!(code, 1235, "{msg}");
    }
    let (code, state, _) =
        server_error(conn.prep("SELECT * FROM no_such_table WHERE id = ?").await);
    assert_eq!((code, state.as_str()), (1146, "42S02"));
    let (code, _, _) = server_error(conn.exec_drop(&insert, (1, "dup", "dup")).await);
    assert_eq!(code, 1062);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_inside_transactions() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let insert = conn
        .prep("INSERT INTO users (id, email) VALUES (?, ?)")
        .await
        .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.exec_drop(&insert, (10, "in txn")).await.unwrap();
    let select = conn
        .prep("SELECT email FROM users WHERE id = ?")
        .await
        .unwrap();
    let seen: Option<String> = conn.exec_first(&select, (10,)).await.unwrap();
    assert_eq!(
        seen.as_deref(),
        Some("in txn"),
        "the transaction sees its own write"
    );
    conn.query_drop("ROLLBACK").await.unwrap();
    let gone: Option<String> = conn.exec_first(&select, (10,)).await.unwrap();
    assert_eq!(gone, None);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_statements_stay_bounded_per_connection() {
    let env = TestEnv::start_with(
        1,
        0,
        "\n[backend.pool]\nmax_size = 2\nmax_prepared_statements = 4\n",
    )
    .await;
    let mut conn = env.connect().await;
    for i in 0..60 {
        let stmt = conn.prep(format!("SELECT ? + {i}")).await.unwrap();
        let v: Option<i64> = conn.exec_first(&stmt, (1,)).await.unwrap();
        assert_eq!(v, Some(1 + i));
        conn.close(stmt).await.unwrap();
    }
    let mut direct = env.connect_primary(0).await;
    let count: Option<(String, u64)> = direct
        .query_first("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")
        .await
        .unwrap();
    let (_, count) = count.unwrap();
    assert!(
        count <= 2 * 4,
        "at most max_size × max_prepared_statements on the server, got {count}"
    );
    drop((conn, direct));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_parameters_arrive_intact() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE docs (id INT PRIMARY KEY, body LONGBLOB)")
        .await
        .unwrap();
    let insert = conn
        .prep("INSERT INTO docs (id, body) VALUES (?, ?)")
        .await
        .unwrap();
    // Big enough that mysql_async sends it with COM_STMT_SEND_LONG_DATA.
    let body: Vec<u8> = (0..9 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    conn.exec_drop(&insert, (1, body.clone())).await.unwrap();
    let select = conn
        .prep("SELECT body FROM docs WHERE id = ?")
        .await
        .unwrap();
    let got: Option<Vec<u8>> = conn.exec_first(&select, (1,)).await.unwrap();
    assert!(got.as_deref() == Some(&body[..]), "the body round-trips");
    // With a string shard key sent as long data too.
    let by_email = conn
        .prep("INSERT INTO users (id, email, name) VALUES (?, ?, ?)")
        .await
        .unwrap();
    let name = "n".repeat(100);
    conn.exec_drop(&by_email, (77, "long@example.com", name.clone()))
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT name FROM users WHERE id = 77").await,
        vec![vec![Some(name)]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_insert_id_follows_the_session_across_pooled_connections() {
    let env = TestEnv::start_with(1, 0, "\n[backend.pool]\nmax_size = 4\n").await;
    let mut a = env.connect().await;
    let mut b = env.connect().await;
    a.query_drop("CREATE TABLE seq (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut a, "SELECT LAST_INSERT_ID()").await,
        vec![vec![Some("0".into())]]
    );
    a.query_drop("INSERT INTO seq (v) VALUES (1), (2)")
        .await
        .unwrap();
    b.query_drop("INSERT INTO seq (v) VALUES (3)")
        .await
        .unwrap();
    for _ in 0..5 {
        // Whichever pooled connection answers, each session sees its own last id.
        assert_eq!(
            rows(&mut a, "SELECT LAST_INSERT_ID()").await,
            vec![vec![Some("1".into())]]
        );
        assert_eq!(
            rows(&mut b, "SELECT LAST_INSERT_ID()").await,
            vec![vec![Some("3".into())]]
        );
    }
    a.query_drop("UPDATE seq SET v = 9 WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut a, "SELECT v FROM seq WHERE id = LAST_INSERT_ID()").await,
        vec![vec![Some("1".into())]],
        "an UPDATE leaves LAST_INSERT_ID() alone"
    );
    drop((a, b));
    env.stop().await;
}
