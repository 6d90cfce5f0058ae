//! An INSERT that leaves the shard key out (`router/src/omitted_key.rs`): its rows take the
//! key column's default, which places them — read afresh from the shards for the statement, so
//! a default changed behind the proxy's back (its schema cache still holding the old one) never
//! places a row where it will not be found. Before, every such INSERT was refused with 1235.

use crate::common::{on_every_primary, rows, TestEnv};
use mysql_async::prelude::Queryable;

/// The shard holding order `id`, read on each primary (bypassing the proxy).
async fn holder(env: &TestEnv, id: u64) -> Vec<usize> {
    let mut on = Vec::new();
    for shard in 0..env.sandbox.shards().len() {
        let mut direct = env.connect_primary(shard).await;
        let sql = format!("SELECT COUNT(*) FROM orders WHERE id = {id}");
        let found: u64 = direct.query_first(sql).await.unwrap().unwrap();
        if found > 0 {
            on.push(shard);
        }
    }
    on
}

/// The server error `sql` fails with.
async fn refusal(conn: &mut mysql_async::Conn, sql: &str) -> mysql_async::ServerError {
    match conn.query_drop(sql).await {
        Err(mysql_async::Error::Server(e)) => e,
        other => panic!("{sql}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_without_their_shard_key_are_placed_by_its_default() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    // No default, strict mode (MariaDB's default): the shard's own error, as one server.
    let e = refusal(
        &mut conn,
        "INSERT INTO orders (id, amount) VALUES (1, 1.00)",
    )
    .await;
    assert_eq!(
        (e.code, e.message.as_str()),
        (1364, "Field 'user_id' doesn't have a default value")
    );
    // Not strict: the implicit 0, with MariaDB's warning, on the shard owning 0.
    conn.query_drop("SET sql_mode = ''").await.unwrap();
    conn.query_drop("INSERT INTO orders (id, amount) VALUES (2, 2.00), (3, 3.00)")
        .await
        .unwrap();
    let warnings = rows(&mut conn, "SHOW WARNINGS").await;
    // One for the statement, as MariaDB warns about a column the list leaves out.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0][1].as_deref(), Some("1364"));
    assert_eq!(holder(&env, 2).await, [env.shard_of("orders", 0)]);
    let found = rows(
        &mut conn,
        "SELECT id FROM orders WHERE user_id = 0 ORDER BY id",
    )
    .await;
    assert_eq!(found, [[Some("2".to_owned())], [Some("3".to_owned())]]);
    conn.query_drop("SET sql_mode = DEFAULT").await.unwrap();

    // A default set through the proxy places rows by its value (INSERT … VALUES and … SET).
    let first = 41;
    let a = env.shard_of("orders", first);
    let second = (42..).find(|&k| env.shard_of("orders", k) != a).unwrap();
    let b = env.shard_of("orders", second);
    let alter = format!("ALTER TABLE orders ALTER user_id SET DEFAULT {first}");
    conn.query_drop(alter).await.unwrap();
    conn.query_drop("INSERT INTO orders (id, amount) VALUES (4, 4.00)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO orders SET id = 5")
        .await
        .unwrap();
    assert_eq!(holder(&env, 4).await, [a]);
    assert_eq!(holder(&env, 5).await, [a]);

    // Changed behind the proxy's back (its cache still says 41): read afresh, the row goes
    // where its key 42 is looked for — as text and as a prepared statement.
    let alter = format!("ALTER TABLE orders ALTER user_id SET DEFAULT {second}");
    on_every_primary(&env.sandbox, &alter).await;
    conn.query_drop("INSERT INTO orders (id, amount) VALUES (6, 6.00)")
        .await
        .unwrap();
    conn.exec_drop("INSERT INTO orders (id, amount) VALUES (?, ?)", (7, 7.0))
        .await
        .unwrap();
    // `DEFAULT` given for the key is its default too.
    conn.query_drop("INSERT INTO orders (id, user_id) VALUES (9, DEFAULT)")
        .await
        .unwrap();
    assert_eq!(holder(&env, 6).await, [b]);
    assert_eq!(holder(&env, 7).await, [b]);
    assert_eq!(holder(&env, 9).await, [b]);
    let found = rows(
        &mut conn,
        &format!("SELECT id FROM orders WHERE user_id = {second} ORDER BY id"),
    )
    .await;
    let ids: Vec<Vec<Option<String>>> = ["6", "7", "9"].map(|id| vec![Some(id.to_owned())]).into();
    assert_eq!(found, ids);

    // A default not known before the row is written is refused, naming why.
    on_every_primary(
        &env.sandbox,
        "ALTER TABLE orders MODIFY user_id BIGINT NULL DEFAULT NULL",
    )
    .await;
    let e = refusal(&mut conn, "INSERT INTO orders (id) VALUES (8)").await;
    assert_eq!(e.code, 1235, "{e:?}");
    assert!(
        e.message
            .contains("leaves the shard key `user_id` out, and its default is NULL"),
        "{e:?}"
    );
    assert!(holder(&env, 8).await.is_empty());
    drop(conn);
    env.stop().await;
}
