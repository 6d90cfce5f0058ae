//! `[server] transaction_mode`: what a transaction that reaches a second shard does.
//! "single" refuses the statement and keeps the transaction usable; "multi" opens the second
//! shard and commits the shards one after another.

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts};

/// Two user ids on different shards.
fn ids_on_two_shards(env: &TestEnv) -> (i64, i64) {
    let a = 1i64;
    let b = (2..1000)
        .find(|id| env.shard_of("users", *id) != env.shard_of("users", i128::from(a)))
        .expect("an id on the other shard") as i64;
    (a, b)
}

/// The first id from `from` on the shard that owns `like`.
fn id_beside(env: &TestEnv, like: i64, from: i64) -> i64 {
    let shard = env.shard_of("users", like.into());
    (from..)
        .find(|id| env.shard_of("users", i128::from(*id)) == shard)
        .expect("an id on that shard")
}

async fn count(conn: &mut Conn, ids: &[i64]) -> usize {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    rows(
        conn,
        &format!("SELECT id FROM users WHERE id IN ({})", list.join(",")),
    )
    .await
    .len()
}

fn insert(id: i64) -> String {
    format!("INSERT INTO users (id, email, name) VALUES ({id}, 'u{id}@x', 'U {id}')")
}

async fn multi_env() -> TestEnv {
    TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        )
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_mode_refuses_a_second_shard_and_keeps_the_transaction_usable() {
    let env = TestEnv::start(2, 0).await;
    let (a, b) = ids_on_two_shards(&env);
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(insert(a)).await.unwrap();
    let (code, state, msg) = server_error(conn.query_drop(insert(b)).await);
    assert_eq!((code, state.as_str()), (1235, "42000"), "{msg}");
    assert!(msg.contains("transaction_mode \"single\""), "{msg}");
    // The transaction goes on on its shard, and rolls back whole.
    conn.query_drop(insert(a + 2000)).await.unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    let mut other = env.connect().await;
    assert_eq!(count(&mut other, &[a, b, a + 2000]).await, 0);
    // And commits whole.
    conn.query_drop("START TRANSACTION").await.unwrap();
    conn.query_drop(insert(a)).await.unwrap();
    assert_eq!(server_error(conn.query_drop(insert(b)).await).0, 1235);
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&mut other, &[a, b]).await, 1);
    drop((conn, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_mode_spans_shards_and_commits_or_rolls_back_every_one() {
    let env = multi_env().await;
    let (a, b) = ids_on_two_shards(&env);
    let mut conn = env.connect().await;
    let mut other = env.connect().await;

    // Writes on both shards, reads of both (point and scatter) inside the transaction.
    let mut tx = conn.start_transaction(TxOpts::default()).await.unwrap();
    tx.query_drop(insert(a)).await.unwrap();
    tx.query_drop(insert(b)).await.unwrap();
    let seen: Option<u64> = tx
        .query_first(format!("SELECT COUNT(*) FROM users WHERE id IN ({a}, {b})"))
        .await
        .unwrap();
    assert_eq!(
        seen,
        Some(2),
        "the transaction sees its own rows on both shards"
    );
    let all: Option<u64> = tx.query_first("SELECT COUNT(*) FROM users").await.unwrap();
    assert_eq!(
        all,
        Some(2),
        "a scatter inside the transaction reads its connections"
    );
    assert_eq!(
        count(&mut other, &[a, b]).await,
        0,
        "nothing visible before COMMIT"
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        count(&mut other, &[a, b]).await,
        0,
        "ROLLBACK undid both shards"
    );

    let mut tx = conn.start_transaction(TxOpts::default()).await.unwrap();
    tx.query_drop(insert(a)).await.unwrap();
    tx.exec_drop("UPDATE users SET name = ? WHERE id = ?", ("prepared", b))
        .await
        .unwrap();
    tx.exec_drop(
        "INSERT INTO users (id, email, name) VALUES (?, 'p@x', 'P')",
        (b,),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        count(&mut other, &[a, b]).await,
        2,
        "COMMIT committed both shards"
    );

    // A statement over several shards that fails on one is undone on all, and the transaction
    // goes on (statement atomicity, as on one server).
    let (c, d) = (id_beside(&env, a, 4000), id_beside(&env, b, 4000));
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(insert(c)).await.unwrap();
    let split = format!(
        "INSERT INTO users (id, email, name) VALUES ({d}, 'd@x', 'D'), ({a}, 'dup@x', 'dup')"
    );
    let (code, _, msg) = server_error(conn.query_drop(&split).await);
    assert_eq!(code, 1062, "{msg}");
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&mut other, &[c]).await, 1);
    assert_eq!(
        count(&mut other, &[d]).await,
        0,
        "the failed statement left nothing"
    );

    // Savepoints span the shards: one the transaction reaches after the savepoint rolls back
    // to where it joined.
    conn.query_drop("BEGIN").await.unwrap();
    let (e, f) = (id_beside(&env, a, 6000), id_beside(&env, b, 6000));
    conn.query_drop(insert(e)).await.unwrap();
    conn.query_drop("SAVEPOINT s1").await.unwrap();
    conn.query_drop(insert(f)).await.unwrap();
    conn.query_drop("ROLLBACK TO SAVEPOINT s1").await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&mut other, &[e]).await, 1);
    assert_eq!(count(&mut other, &[f]).await, 0);
    drop((conn, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_transaction_leaves_nothing_on_any_shard() {
    let env = multi_env().await;
    let (a, b) = ids_on_two_shards(&env);
    let mut conn = env.connect().await;
    conn.query_drop("SET autocommit = 0").await.unwrap();
    conn.query_drop(insert(a)).await.unwrap();
    conn.query_drop(insert(b)).await.unwrap();
    drop(conn); // no COMMIT, no goodbye
    let mut other = env.connect().await;
    for _ in 0..50 {
        // The backend connections close with the session; MariaDB rolls their work back.
        if count(&mut other, &[a, b]).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(&mut other, &[a, b]).await, 0);
    // The rows' locks are gone too: the same ids can be written at once.
    other.query_drop(insert(a)).await.unwrap();
    other.query_drop(insert(b)).await.unwrap();
    assert_eq!(count(&mut other, &[a, b]).await, 2);
    drop(other);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_failing_on_one_shard_says_which_shards_committed() {
    let env = multi_env().await;
    let (a, b) = ids_on_two_shards(&env);
    let (first, second) = (
        env.shard_of("users", a.into()),
        env.shard_of("users", b.into()),
    );
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(insert(a)).await.unwrap();
    conn.query_drop(insert(b)).await.unwrap();
    // The second shard's primary dies before COMMIT.
    let victim = env.sandbox.shards()[second].primary.clone();
    env.sandbox.kill(&victim).await.unwrap();
    let (_, _, msg) = server_error(conn.query_drop("COMMIT").await);
    let names = &env.topology.shards;
    assert!(
        msg.contains(&format!("committed on [{}]", names[first].name)),
        "{msg}"
    );
    assert!(msg.contains(&names[second].name), "{msg}");
    let mut direct = env.connect_primary(first).await;
    let kept: Vec<i64> = direct
        .query(format!("SELECT id FROM users WHERE id = {a}"))
        .await
        .unwrap();
    assert_eq!(
        kept,
        vec![a],
        "the first shard committed (transaction_mode multi is not atomic)"
    );
    drop((conn, direct));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_across_shards_ends_at_the_multi_shard_lock_wait_timeout() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\nmulti_shard_lock_wait_timeout_seconds = 1\n",
            1,
        )
    })
    .await;
    let (a, b) = ids_on_two_shards(&env);
    let mut setup = env.connect().await;
    setup.query_drop(insert(a)).await.unwrap();
    setup.query_drop(insert(b)).await.unwrap();
    let timeout = |id: i64| format!("SELECT @@innodb_lock_wait_timeout FROM users WHERE id = {id}");
    let default: Option<u64> = setup.query_first(timeout(a)).await.unwrap();

    // One transaction on one shard keeps the servers' own setting.
    let mut one = env.connect().await;
    one.query_drop("BEGIN").await.unwrap();
    one.query_drop(format!("UPDATE users SET name = 'one' WHERE id = {a}"))
        .await
        .unwrap();
    let seen: Option<u64> = one.query_first(timeout(a)).await.unwrap();
    assert_eq!(seen, default);
    // Reaching a second shard shortens the wait on both.
    one.query_drop(format!("UPDATE users SET name = 'one' WHERE id = {b}"))
        .await
        .unwrap();
    for id in [a, b] {
        let seen: Option<u64> = one.query_first(timeout(id)).await.unwrap();
        assert_eq!(seen, Some(1), "shard of {id}");
    }
    one.query_drop("COMMIT").await.unwrap();
    // The connections were reset before serving anyone else.
    for id in [a, b] {
        let seen: Option<u64> = setup.query_first(timeout(id)).await.unwrap();
        assert_eq!(seen, default, "shard of {id} after the transaction");
    }

    // T1 locks a then b, T2 locks b then a: a deadlock no server sees, ended by the timeout.
    let mut t1 = env.connect().await;
    let mut t2 = env.connect().await;
    t1.query_drop("BEGIN").await.unwrap();
    t2.query_drop("BEGIN").await.unwrap();
    t1.query_drop(format!("UPDATE users SET name = 't1' WHERE id = {a}"))
        .await
        .unwrap();
    t2.query_drop(format!("UPDATE users SET name = 't2' WHERE id = {b}"))
        .await
        .unwrap();
    let (r1, r2) = tokio::join!(
        t1.query_drop(format!("UPDATE users SET name = 't1' WHERE id = {b}")),
        t2.query_drop(format!("UPDATE users SET name = 't2' WHERE id = {a}")),
    );
    let codes: Vec<u16> = [r1, r2]
        .into_iter()
        .filter_map(|r| match r {
            Err(mysql_async::Error::Server(e)) => Some(e.code),
            _ => None,
        })
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == 1205),
        "lock wait timeouts (1205) end the cycle: {codes:?}"
    );
    t1.query_drop("ROLLBACK").await.unwrap();
    t2.query_drop("ROLLBACK").await.unwrap();
    drop((setup, one, t1, t2));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_going_back_to_a_shard_the_transaction_reached_stay_in_it() {
    let env = multi_env().await;
    let (a, b) = ids_on_two_shards(&env);
    let (a2, b2) = (id_beside(&env, a, 100), id_beside(&env, b, 100));
    let mut conn = env.connect().await;
    let mut other = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    // Back and forth between the two shards, then a statement over both.
    for id in [a, b, a2, b2] {
        conn.query_drop(insert(id)).await.unwrap();
    }
    conn.query_drop(format!(
        "UPDATE users SET name = 'both' WHERE id IN ({a}, {b})"
    ))
    .await
    .unwrap();
    assert_eq!(
        count(&mut other, &[a, b, a2, b2]).await,
        0,
        "nothing committed yet"
    );
    conn.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(
        count(&mut other, &[a, b, a2, b2]).await,
        0,
        "ROLLBACK took back every write on both shards"
    );
    drop((conn, other));
    env.stop().await;
}

/// `SELECT … FOR UPDATE` without a shard key: every shard's statement locks the rows it reads,
/// inside the transaction on each shard ("multi"), or as its own statement outside one; in
/// "single" it is refused inside a transaction, which stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locking_read_across_shards_locks_rows_on_every_shard_until_commit() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        )
    })
    .await;
    let (a, b) = ids_on_two_shards(&env);
    let mut setup = env.connect().await;
    setup.query_drop(insert(a)).await.unwrap();
    setup.query_drop(insert(b)).await.unwrap();
    let scan =
        format!("SELECT id, name FROM users WHERE id IN ({a}, {b}) OR name LIKE 'U %' ORDER BY id");
    let expected: Vec<(i64, String)> = setup.query(&scan).await.unwrap();
    assert_eq!(expected.len(), 2);

    // Outside a transaction: the rows, each shard's statement its own transaction.
    let locking: Vec<(i64, String)> = setup.query(format!("{scan} FOR UPDATE")).await.unwrap();
    assert_eq!(locking, expected);
    let shared: Vec<(i64, String)> = setup
        .query(format!("{scan} LOCK IN SHARE MODE"))
        .await
        .unwrap();
    assert_eq!(shared, expected);

    // Inside one: the rows of both shards stay locked until COMMIT.
    let mut holder = env.connect().await;
    holder.query_drop("BEGIN").await.unwrap();
    let held: Vec<(i64, String)> = holder.query(format!("{scan} FOR UPDATE")).await.unwrap();
    assert_eq!(held, expected);
    let mut writer = env.connect().await;
    writer
        .query_drop("SET SESSION innodb_lock_wait_timeout = 1")
        .await
        .unwrap();
    for id in [a, b] {
        let (code, _, msg) = server_error(
            writer
                .query_drop(format!("UPDATE users SET name = 'w' WHERE id = {id}"))
                .await,
        );
        assert_eq!(
            code,
            1205,
            "the row of shard {} is locked: {msg}",
            env.shard_of("users", id.into())
        );
    }
    holder.query_drop("COMMIT").await.unwrap();
    for id in [a, b] {
        writer
            .query_drop(format!("UPDATE users SET name = 'w' WHERE id = {id}"))
            .await
            .unwrap();
    }
    drop((setup, holder, writer));
    env.stop().await;

    // transaction_mode "single": refused inside a transaction, which goes on.
    let env = TestEnv::start(2, 0).await;
    let (a, b) = ids_on_two_shards(&env);
    let mut conn = env.connect().await;
    conn.query_drop(insert(a)).await.unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    let (code, state, msg) = server_error(
        conn.query_drop(format!(
            "SELECT id FROM users WHERE id IN ({a}, {b}) FOR UPDATE"
        ))
        .await,
    );
    assert_eq!((code, state.as_str()), (1235, "42000"), "{msg}");
    assert!(msg.contains("transaction_mode \"single\""), "{msg}");
    conn.query_drop(insert(b)).await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&mut conn, &[a, b]).await, 2);
    drop(conn);
    env.stop().await;
}
