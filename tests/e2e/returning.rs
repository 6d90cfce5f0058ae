//! Writes with `RETURNING` on several shards (`server/src/returning.rs`): a split INSERT /
//! REPLACE answers its rows in the order of its VALUES (an ORM pairs returned ids with its
//! objects by it), in text and binary protocol, in autocommit and inside a transaction; an
//! `INSERT IGNORE` whose skipped row would leave the order unknown is refused and taken back;
//! a DELETE answers every shard's rows. Before, a split INSERT answered a bare OK: its rows
//! were lost.

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// `count` order ids whose users (`user_id = id`) alternate between two shards.
fn alternating(env: &TestEnv, count: usize) -> Vec<i64> {
    let first = env.shard_of("orders", 1);
    let mut on = (1..).filter(|id| env.shard_of("orders", i128::from(*id)) == first);
    let mut off = (1..).filter(|id| env.shard_of("orders", i128::from(*id)) != first);
    (0..count)
        .map(|i| match i % 2 {
            0 => on.next(),
            _ => off.next(),
        })
        .map(|id| 700_000 + id.expect("an id"))
        .collect()
}

fn values(ids: &[i64]) -> String {
    let rows: Vec<String> = (ids.iter())
        .map(|id| format!("({id}, {}, {id}.50)", id - 700_000))
        .collect();
    rows.join(", ")
}

async fn stored(conn: &mut Conn, ids: &[i64]) -> usize {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!("SELECT id FROM orders WHERE id IN ({})", list.join(", "));
    rows(conn, &sql).await.len()
}

fn column(answer: &[Vec<Option<String>>], i: usize) -> Vec<String> {
    (answer.iter())
        .map(|row| row[i].clone().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_insert_returns_its_rows_in_the_order_of_its_values() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let ids = alternating(&env, 5);
    let sql = format!(
        "INSERT INTO orders (id, user_id, amount) VALUES {} RETURNING id, amount * 2 AS twice",
        values(&ids)
    );
    let answer = rows(&mut conn, &sql).await;
    let expected: Vec<String> = ids.iter().map(i64::to_string).collect();
    assert_eq!(column(&answer, 0), expected);
    assert_eq!(
        answer[1][1].as_deref(),
        Some(format!("{}.00", 2 * ids[1] + 1).as_str())
    );
    assert_eq!(stored(&mut conn, &ids).await, 5);

    // REPLACE and ON DUPLICATE KEY UPDATE: one row for each VALUES row, replaced or updated.
    let more = alternating(&env, 8)[5..].to_vec();
    let replaced = [ids[0], more[0], ids[1], more[1]];
    let sql = format!(
        "REPLACE INTO orders (id, user_id, amount) VALUES {} RETURNING id",
        values(&replaced)
    );
    let answer = rows(&mut conn, &sql).await;
    let expected: Vec<String> = replaced.iter().map(i64::to_string).collect();
    assert_eq!(column(&answer, 0), expected);
    let sql = format!(
        "INSERT INTO orders (id, user_id, amount) VALUES {} ON DUPLICATE KEY UPDATE amount = 1 RETURNING id, amount",
        values(&[more[2], ids[2], ids[3]])
    );
    let answer = rows(&mut conn, &sql).await;
    assert_eq!(column(&answer, 1)[1..], ["1.00", "1.00"]);

    // A statement failing on one shard (a duplicate key) keeps no row anywhere.
    let fresh = alternating(&env, 12)[8..].to_vec();
    let sql = format!(
        "INSERT INTO orders (id, user_id, amount) VALUES {}, {} RETURNING id",
        values(&fresh),
        values(&ids[..1])
    );
    let (code, _, msg) = server_error(conn.query_drop(sql).await);
    assert_eq!(code, 1062, "{msg}");
    assert_eq!(stored(&mut conn, &fresh).await, 0);

    // INSERT IGNORE skipping a duplicate: which row is missing cannot be told. Refused, and
    // the rows the other shard wrote are taken back.
    let sql = format!(
        "INSERT IGNORE INTO orders (id, user_id, amount) VALUES {}, {} RETURNING id",
        values(&fresh),
        values(&ids[..1])
    );
    let (code, state, msg) = server_error(conn.query_drop(sql).await);
    assert_eq!((code, state.as_str()), (1235, "42000"), "{msg}");
    assert!(msg.contains("INSERT IGNORE"), "{msg}");
    assert_eq!(stored(&mut conn, &fresh).await, 0);
    // Without a skipped row it answers every row.
    let sql = format!(
        "INSERT IGNORE INTO orders (id, user_id, amount) VALUES {} RETURNING id",
        values(&fresh)
    );
    assert_eq!(rows(&mut conn, &sql).await.len(), fresh.len());

    // A prepared statement: binary rows, typed.
    let last = alternating(&env, 16)[12..].to_vec();
    let stmt = "INSERT INTO orders (id, user_id, amount) VALUES (?, ?, 1), (?, ?, 2), (?, ?, 3) RETURNING id, amount";
    let params: Vec<mysql_async::Value> = (last[..3].iter())
        .flat_map(|id| [(*id).into(), (id - 700_000).into()])
        .collect();
    let answer: Vec<(i64, String)> = conn.exec(stmt, params).await.unwrap();
    assert_eq!(
        answer,
        [
            (last[0], "1.00".to_owned()),
            (last[1], "2.00".to_owned()),
            (last[2], "3.00".to_owned())
        ]
    );

    // A DELETE on every shard answers every shard's rows; with ORDER BY (an order across
    // shards) it is refused.
    let all: Vec<i64> = [ids.clone(), more.clone(), fresh.clone(), last[..3].to_vec()].concat();
    let (code, _, msg) = server_error(
        conn.query_drop("DELETE FROM orders WHERE id > 700000 ORDER BY id RETURNING id")
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    let answer = rows(
        &mut conn,
        "DELETE FROM orders WHERE id > 700000 RETURNING id",
    )
    .await;
    let mut deleted = column(&answer, 0);
    deleted.sort();
    let mut expected: Vec<String> = all.iter().map(i64::to_string).collect();
    expected.sort();
    expected.dedup();
    assert_eq!(deleted, expected);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_multi_shard_transaction_returned_rows_stand_or_fall_with_it() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        )
    })
    .await;
    let mut conn = env.connect().await;
    let ids = alternating(&env, 4);
    conn.query_drop("BEGIN").await.unwrap();
    let sql = format!(
        "INSERT INTO orders (id, user_id, amount) VALUES {} RETURNING id",
        values(&ids[..2])
    );
    let expected: Vec<String> = ids[..2].iter().map(i64::to_string).collect();
    assert_eq!(column(&rows(&mut conn, &sql).await, 0), expected);
    // Refused inside the transaction: this statement is taken back, the transaction goes on.
    let sql = format!(
        "INSERT IGNORE INTO orders (id, user_id, amount) VALUES {}, {} RETURNING id",
        values(&ids[2..]),
        values(&ids[..1])
    );
    assert_eq!(server_error(conn.query_drop(sql).await).0, 1235);
    assert_eq!(stored(&mut conn, &ids).await, 2);
    conn.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(stored(&mut conn, &ids).await, 0);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_every_copy_of_a_reference_table_returns_one_copys_rows() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        format!(
            "{}\n[[tables]]\nname = \"kinds\"\nreference = true\n",
            sandbox.config_toml(listen)
        )
    })
    .await;
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        direct
            .query_drop("CREATE TABLE kinds (id INT PRIMARY KEY, name VARCHAR(20))")
            .await
            .unwrap();
    }
    let mut conn = env.connect().await;
    // Django's `create()` on MariaDB 10.5+: refused before (the rows were lost behind an OK).
    let answer = rows(
        &mut conn,
        "INSERT INTO kinds VALUES (2, 'b'), (1, 'a') RETURNING id, UPPER(name)",
    )
    .await;
    assert_eq!(
        answer,
        [
            [Some("2".to_owned()), Some("B".to_owned())],
            [Some("1".to_owned()), Some("A".to_owned())]
        ]
    );
    let answer = rows(&mut conn, "DELETE FROM kinds WHERE id = 1 RETURNING name").await;
    assert_eq!(answer, [[Some("a".to_owned())]]);
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        assert_eq!(rows(&mut direct, "SELECT id FROM kinds").await.len(), 1);
    }
    // Copies that no longer agree: the write is undone on every one.
    let mut direct = env.connect_primary(1).await;
    direct
        .query_drop("UPDATE kinds SET name = 'other' WHERE id = 2")
        .await
        .unwrap();
    conn.query_drop("UPDATE kinds SET id = 3 WHERE id = 2")
        .await
        .unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop("DELETE FROM kinds WHERE id = 3 RETURNING name")
            .await,
    );
    assert_eq!(code, 1105, "{msg}");
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        assert_eq!(rows(&mut direct, "SELECT id FROM kinds").await.len(), 1);
    }
    drop((conn, direct));
    env.stop().await;
}
