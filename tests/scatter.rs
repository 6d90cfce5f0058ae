//! Statements spanning shards: multi-row INSERTs split by shard (all or nothing).

mod common;

use common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use shardgate_ring::KeyValue;

fn shard_of(env: &TestEnv, id: i128) -> usize {
    env.topology
        .table("users")
        .unwrap()
        .shard_for(&KeyValue::Int(id))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_row_inserts_split_by_shard_all_or_nothing() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    // Values with quotes and backslashes must arrive exactly as written.
    let values: Vec<String> = (1..=100)
        .map(|id| format!(r"({id}, 'u{id}@x', 'it''s a \\ back\\slash {id}')"))
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 100);
    let mut per_shard = [0usize; 2];
    for (shard, count) in per_shard.iter_mut().enumerate() {
        let mut direct = env.connect_primary(shard).await;
        let got: Vec<(i64, String)> = direct.query("SELECT id, name FROM users").await.unwrap();
        for (id, name) in got {
            assert_eq!(shard_of(&env, i128::from(id)), shard, "user {id}");
            assert_eq!(name, format!(r"it's a \ back\slash {id}"));
            *count += 1;
        }
    }
    assert_eq!(per_shard.iter().sum::<usize>(), 100);
    assert!(per_shard.iter().all(|n| *n > 0), "{per_shard:?}");

    // One shard's part fails (duplicate key): no shard keeps any row of the statement.
    let a = (101..200).find(|id| shard_of(&env, *id) == 0).unwrap();
    let b = (101..200).find(|id| shard_of(&env, *id) == 1).unwrap();
    let dup = (1..=100).find(|id| shard_of(&env, *id) == 1).unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({a}, 'a'), ({b}, 'b'), ({dup}, 'dup')"
        ))
        .await,
    );
    assert_eq!(code, 1062, "{msg}");
    assert!(
        msg.contains("shard s1") && msg.contains("no shard kept"),
        "{msg}"
    );
    for id in [a, b] {
        assert!(
            rows(&mut conn, &format!("SELECT * FROM users WHERE id = {id}"))
                .await
                .is_empty(),
            "{id} rolled back"
        );
    }

    // Inside a transaction the rows could not be rolled back with it: refused.
    conn.query_drop("BEGIN").await.unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({a}, 'a'), ({b}, 'b')"
        ))
        .await,
    );
    assert_eq!(code, 1235, "{msg}");
    conn.query_drop("ROLLBACK").await.unwrap();
    drop(conn);
    env.stop().await;
}
