//! Issue #13: an INSERT whose shard key is `LAST_INSERT_ID()` (a child row of the row inserted
//! just before) routes by the session's value, which the proxy keeps: the rows land on that
//! key's shard, and the statement's other `LAST_INSERT_ID()` calls are MariaDB's, equal to it.

use mysql_async::prelude::Queryable;

use crate::common::{server_error, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_keyed_by_last_insert_id_land_on_its_shard() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let parent = (100..1000)
        .find(|k| env.shard_of("orders", *k) != env.shard_of("orders", 1))
        .expect("a key off shard 0's first") as i64;
    let _: Option<u64> = conn
        .query_first(format!("SELECT LAST_INSERT_ID({parent})"))
        .await
        .unwrap();
    conn.query_drop(
        "INSERT INTO orders (id, user_id, amount) VALUES (1, LAST_INSERT_ID(), LAST_INSERT_ID()), (2, LAST_INSERT_ID(), 2)",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    conn.query_drop("INSERT INTO orders SET id = 3, user_id = LAST_INSERT_ID(), amount = 3")
        .await
        .unwrap();
    let shard = env.shard_of("orders", parent.into());
    let mut there = env.connect_primary(shard).await;
    let rows: Vec<(i64, i64, String)> = there
        .query("SELECT id, user_id, CAST(amount AS CHAR) FROM orders ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        rows,
        [
            (1, parent, format!("{parent}.00")),
            (2, parent, "2.00".to_owned()),
            (3, parent, "3.00".to_owned())
        ]
    );
    // Prepared: the value is written in at each execution.
    let stmt = conn
        .prep("INSERT INTO orders (id, user_id, amount) VALUES (?, LAST_INSERT_ID(), 4)")
        .await
        .unwrap();
    conn.exec_drop(&stmt, (4,)).await.unwrap();
    let four: Option<i64> = there
        .query_first("SELECT user_id FROM orders WHERE id = 4")
        .await
        .unwrap();
    assert_eq!(four, Some(parent));
    // A statement that sets the value itself keeps its refusal.
    let (code, _, message) = server_error(
        conn.query_drop(
            "INSERT INTO orders (id, user_id, amount) VALUES (5, LAST_INSERT_ID(), LAST_INSERT_ID(9))",
        )
        .await,
    );
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("LAST_INSERT_ID()"), "{message}");
    drop((conn, there));
    env.stop().await;
}
