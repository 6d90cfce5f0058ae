//! State a session creates on a backend connection keeps that connection for the session
//! (temporary tables, named locks, LOCK TABLES, handlers), transactions are what the session's
//! statements say (savepoints, failed writes under autocommit = 0), and no connection reaches
//! another session with a transaction or state still open on it. The pools are kept small
//! (2 connections) so that any leak would be picked up by the other sessions.

use std::time::Duration;

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

const SMALL_POOL: &str = "\n[backend.pool]\nmax_size = 2\n";

/// Ids of `users` on shard `shard`.
fn ids_on(env: &TestEnv, shard: usize, n: usize) -> Vec<i64> {
    (1..)
        .filter(|id| env.shard_of("users", i128::from(*id)) == shard)
        .take(n)
        .collect()
}

fn insert(id: i64) -> String {
    format!("INSERT INTO users (id, email, name) VALUES ({id}, 'u{id}@x', 'U {id}')")
}

async fn one(conn: &mut Conn, sql: &str) -> Option<String> {
    let mut got = rows(conn, sql).await;
    assert_eq!(got.len(), 1, "{sql}: {got:?}");
    got.remove(0).remove(0)
}

/// Open InnoDB transactions of client connections on each shard's primary (read directly).
async fn open_transactions(env: &TestEnv) -> Vec<i64> {
    let mut counts = Vec::new();
    for shard in 0..env.sandbox.shards().len() {
        let mut direct = env.connect_primary(shard).await;
        let n: i64 = direct
            // Thread 0: InnoDB's own background work (statistics), no session's. A transaction
            // ROLLING BACK is ending: its connection is gone or busy with the ROLLBACK, so it
            // cannot reach another session (a loaded server may take seconds to finish it).
            .query_first(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
                 WHERE trx_mysql_thread_id <> 0 AND trx_state <> 'ROLLING BACK'",
            )
            .await
            .unwrap()
            .unwrap();
        counts.push(n);
    }
    counts
}

/// Waits until no primary has an open transaction (the servers notice a closed connection
/// asynchronously, and a loaded machine may take a while); `how` names the case. Looked at
/// every 150 ms: InnoDB refreshes `INNODB_TRX` only when it was not read for 100 ms, so
/// faster polling would read the same stale rows forever.
async fn no_open_transactions(env: &TestEnv, how: &str) {
    for _ in 0..140 {
        if open_transactions(env).await.iter().all(|n| *n == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // What holds them, for the diagnosis: the transactions and their connections' threads.
    let mut held = Vec::new();
    for shard in 0..env.sandbox.shards().len() {
        let mut direct = env.connect_primary(shard).await;
        let rows: Vec<(u64, String, String, Option<String>, String, String)> = direct
            .query(
                "SELECT t.trx_mysql_thread_id, t.trx_state, CAST(t.trx_started AS CHAR), \
                 t.trx_query, COALESCE(p.COMMAND, '?'), COALESCE(p.USER, '?') \
                 FROM information_schema.INNODB_TRX t \
                 LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id",
            )
            .await
            .unwrap();
        held.push((shard, rows));
    }
    panic!(
        "{how}: transactions left open on the primaries: {:?}; held by {held:?}",
        open_transactions(env).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_table_lives_across_statements_while_50_sessions_share_2_connections() {
    let env = TestEnv::start_with(2, 1, SMALL_POOL).await;
    let mut owner = env.connect().await;
    owner
        .query_drop("CREATE TEMPORARY TABLE scratch (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    let ids = ids_on(&env, 0, 50);
    for round in 0..10i64 {
        owner
            .query_drop(format!("INSERT INTO scratch VALUES ({round}, 'r{round}')"))
            .await
            .unwrap();
        // 50 sessions at once on the same two pooled connections per endpoint: none sees
        // the table, and none disturbs it.
        let others = ids.iter().map(|&id| {
            let env = &env;
            async move {
                let mut other = env.connect().await;
                other.query_drop(insert(id + 1000 * round)).await.unwrap();
                let (code, _, msg) = server_error(other.query_drop("SELECT * FROM scratch").await);
                assert_eq!(code, 1146, "{msg}");
                other.disconnect().await.unwrap();
            }
        });
        futures_util::future::join_all(others).await;
        // A read of it would go to a replica without pinning: it stays on the primary.
        let count = one(&mut owner, "SELECT COUNT(*) FROM scratch").await;
        assert_eq!(count.as_deref(), Some((round + 1).to_string().as_str()));
    }
    // A USE reaches the pinned connection too.
    owner.query_drop("USE mysql").await.unwrap();
    assert_eq!(
        one(&mut owner, "SELECT DATABASE()").await.as_deref(),
        Some("mysql")
    );
    let count = one(&mut owner, "SELECT COUNT(*) FROM app.scratch").await;
    assert_eq!(count.as_deref(), Some("10"));
    owner.query_drop("USE app").await.unwrap();
    owner
        .query_drop("UPDATE scratch SET v = CONCAT(v, '!') WHERE id < 5")
        .await
        .unwrap();
    let marked = one(&mut owner, "SELECT COUNT(*) FROM scratch WHERE v LIKE '%!'").await;
    assert_eq!(marked.as_deref(), Some("5"));
    owner
        .query_drop("DROP TEMPORARY TABLE scratch")
        .await
        .unwrap();
    let (code, _, _) = server_error(owner.query_drop("SELECT * FROM scratch").await);
    assert_eq!(code, 1146);
    // A temporary table named like a sharded table would hide it on one shard only.
    let (code, _, msg) = server_error(
        owner
            .query_drop("CREATE TEMPORARY TABLE users (id INT)")
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_lock_held_by_one_session_blocks_another() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let mut holder = env.connect().await;
    let mut waiter = env.connect().await;
    let got = one(&mut holder, "SELECT GET_LOCK('nightly-job', 5)").await;
    assert_eq!(got.as_deref(), Some("1"));
    // The holder goes on working on every shard; the lock stays where it was taken.
    for id in ids_on(&env, 1, 5).into_iter().chain(ids_on(&env, 0, 5)) {
        holder.query_drop(insert(id)).await.unwrap();
        let mut other = env.connect().await;
        other
            .query_drop(format!("SELECT * FROM users WHERE id = {id}"))
            .await
            .unwrap();
        other.disconnect().await.unwrap();
        let free = one(&mut waiter, "SELECT GET_LOCK('nightly-job', 0)").await;
        assert_eq!(free.as_deref(), Some("0"), "the lock is held elsewhere");
    }
    let used = one(
        &mut waiter,
        "SELECT IS_USED_LOCK('nightly-job') IS NOT NULL",
    )
    .await;
    assert_eq!(used.as_deref(), Some("1"));
    let released = one(&mut holder, "SELECT RELEASE_LOCK('nightly-job')").await;
    assert_eq!(released.as_deref(), Some("1"));
    let got = one(&mut waiter, "SELECT GET_LOCK('nightly-job', 5)").await;
    assert_eq!(got.as_deref(), Some("1"), "released: the waiter takes it");
    // A session that ends holding a lock releases it.
    drop(waiter);
    let mut third = env.connect().await;
    let got = one(&mut third, "SELECT GET_LOCK('nightly-job', 5)").await;
    assert_eq!(got.as_deref(), Some("1"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_blocks_with_savepoints_and_failed_writes_under_autocommit_off() {
    let env = TestEnv::start_with(1, 0, SMALL_POOL).await;
    let mut conn = env.connect().await;
    // Django's atomic(): autocommit off, a savepoint before anything else.
    conn.query_drop("SET autocommit = 0").await.unwrap();
    conn.query_drop("SAVEPOINT s1").await.unwrap();
    conn.query_drop(insert(1)).await.unwrap();
    conn.query_drop("SAVEPOINT s2").await.unwrap();
    // A failed write: MariaDB leaves no in-transaction flag on its answer.
    let (code, _, _) = server_error(conn.query_drop(insert(1)).await);
    assert_eq!(code, 1062);
    // Other sessions take the pool's connections meanwhile.
    for id in 100..110 {
        let mut other = env.connect().await;
        other.query_drop(insert(id)).await.unwrap();
        assert_eq!(
            rows(&mut other, "SELECT id FROM users WHERE id = 1")
                .await
                .len(),
            0
        );
        other.disconnect().await.unwrap();
    }
    conn.query_drop("ROLLBACK TO SAVEPOINT s2").await.unwrap();
    conn.query_drop(insert(2)).await.unwrap();
    conn.query_drop("RELEASE SAVEPOINT s1").await.unwrap();
    let (code, _, _) = server_error(conn.query_drop("ROLLBACK TO SAVEPOINT s2").await);
    assert_eq!(code, 1305, "released with s1");
    conn.query_drop("COMMIT").await.unwrap();
    let mut check = env.connect().await;
    let got = rows(
        &mut check,
        "SELECT id FROM users WHERE id IN (1, 2) ORDER BY id",
    )
    .await;
    assert_eq!(got, [[Some("1".into())], [Some("2".into())]]);

    // A failed write first, then a write, then ROLLBACK: the whole transaction goes.
    let (code, _, _) = server_error(conn.query_drop(insert(1)).await);
    assert_eq!(code, 1062);
    for id in 200..205 {
        let mut other = env.connect().await;
        other.query_drop(insert(id)).await.unwrap();
        other.disconnect().await.unwrap();
    }
    conn.query_drop(insert(3)).await.unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    assert!(rows(&mut check, "SELECT id FROM users WHERE id = 3")
        .await
        .is_empty());
    // A savepoint the transaction never set.
    let (code, _, msg) = server_error(conn.query_drop("ROLLBACK TO SAVEPOINT nowhere").await);
    assert_eq!(code, 1305, "{msg}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn savepoints_span_the_shards_a_transaction_reaches() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        ) + SMALL_POOL
    })
    .await;
    let (a, b) = (ids_on(&env, 0, 2), ids_on(&env, 1, 2));
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("SAVEPOINT before_anything").await.unwrap();
    conn.query_drop(insert(a[0])).await.unwrap();
    conn.query_drop("SAVEPOINT after_a").await.unwrap();
    // Shard 1 joins after both savepoints.
    conn.query_drop(insert(b[0])).await.unwrap();
    conn.query_drop(insert(a[1])).await.unwrap();
    conn.query_drop("ROLLBACK TO SAVEPOINT after_a")
        .await
        .unwrap();
    conn.query_drop(insert(b[1])).await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    let mut check = env.connect().await;
    let got: Vec<i64> = check
        .query("SELECT id FROM users ORDER BY id")
        .await
        .unwrap();
    let mut want = vec![a[0], b[1]];
    want.sort();
    assert_eq!(got, want);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_tables_holds_every_shard_until_unlock_tables() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let (a, b) = (ids_on(&env, 0, 1)[0], ids_on(&env, 1, 1)[0]);
    let mut locker = env.connect().await;
    locker.query_drop("LOCK TABLES users WRITE").await.unwrap();
    // As mariadb-dump's output restores: one INSERT of rows on both shards.
    locker
        .query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({a}, 'a@x', 'A'), ({b}, 'b@x', 'B')"
        ))
        .await
        .unwrap();
    let mut other = env.connect().await;
    other
        .query_drop("SET SESSION lock_wait_timeout = 1")
        .await
        .unwrap();
    for sql in [
        format!("SELECT * FROM users WHERE id = {a}"),
        format!("SELECT * FROM users WHERE id = {b}"),
    ] {
        let (code, _, msg) = server_error(other.query_drop(&sql).await);
        assert_eq!(code, 1205, "{sql} waits for the lock: {msg}");
    }
    let count = one(&mut locker, "SELECT COUNT(*) FROM users").await;
    assert_eq!(count.as_deref(), Some("2"));
    locker.query_drop("UNLOCK TABLES").await.unwrap();
    let count = one(&mut other, "SELECT COUNT(*) FROM users").await;
    assert_eq!(count.as_deref(), Some("2"));
    // An unsharded table is locked on the default shard only.
    locker
        .query_drop("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)")
        .await
        .unwrap();
    locker
        .query_drop("LOCK TABLES notes WRITE, users READ")
        .await
        .unwrap();
    locker
        .query_drop("INSERT INTO notes VALUES (1, 'x')")
        .await
        .unwrap();
    let (code, _, _) = server_error(other.query_drop("SELECT * FROM notes").await);
    assert_eq!(code, 1205);
    let count = one(
        &mut other,
        &format!("SELECT COUNT(*) FROM users WHERE id = {b}"),
    )
    .await;
    assert_eq!(count.as_deref(), Some("1"), "a READ lock lets others read");
    locker.query_drop("UNLOCK TABLES").await.unwrap();
    assert_eq!(rows(&mut other, "SELECT * FROM notes").await.len(), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_reads_an_unsharded_table_across_statements() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE queue (id INT PRIMARY KEY, job VARCHAR(20))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO queue VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .await
        .unwrap();
    conn.query_drop("HANDLER queue OPEN AS q").await.unwrap();
    let mut seen = Vec::new();
    for step in ["FIRST", "NEXT", "NEXT"] {
        let got = rows(&mut conn, &format!("HANDLER q READ `PRIMARY` {step}")).await;
        seen.push(got[0][1].clone().unwrap());
        let mut other = env.connect().await;
        other.query_drop("SELECT * FROM queue").await.unwrap();
        other.disconnect().await.unwrap();
    }
    assert_eq!(seen, ["a", "b", "c"]);
    conn.query_drop("HANDLER q CLOSE").await.unwrap();
    let (code, _, msg) = server_error(conn.query_drop("HANDLER users OPEN").await);
    assert_eq!(code, 1235, "{msg}");
    env.stop().await;
}

/// Statements the default shard's primary holds prepared (`Prepared_stmt_count`, read directly).
async fn prepared_on_server(env: &TestEnv) -> i64 {
    let mut direct = env.connect_primary(env.topology.default_shard).await;
    let row: (String, i64) = direct
        .query_first("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'")
        .await
        .unwrap()
        .unwrap();
    row.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_prepared_statement_on_an_unsharded_table_is_the_servers_while_it_lives() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let mut owner = env.connect().await;
    owner
        .query_drop("CREATE TABLE notes (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    owner
        .query_drop("INSERT INTO notes VALUES (1, 10), (2, 20)")
        .await
        .unwrap();
    owner
        .query_drop("PREPARE s FROM 'SELECT v FROM notes WHERE id = ?'")
        .await
        .unwrap();
    assert_eq!(prepared_on_server(&env).await, 1, "prepared by the server");
    // 50 sessions at once on the same two pooled connections: the statement stays on the
    // connection the owner keeps.
    let others = (0..50).map(|i| {
        let env = &env;
        async move {
            let mut other = env.connect().await;
            let got = one(
                &mut other,
                &format!("SELECT v FROM notes WHERE id = {}", 1 + i % 2),
            )
            .await;
            assert!(got.is_some());
            let (code, _, _) = server_error(other.query_drop("EXECUTE s USING 1").await);
            assert_eq!(code, 1243, "another session has no statement s");
            other.disconnect().await.unwrap();
        }
    });
    futures_util::future::join_all(others).await;
    assert_eq!(
        one(&mut owner, "EXECUTE s USING 2").await.as_deref(),
        Some("20")
    );
    // A stored procedure may EXECUTE it, as on MariaDB.
    owner
        .query_drop("CREATE PROCEDURE run_s() EXECUTE s USING 1")
        .await
        .unwrap();
    assert_eq!(one(&mut owner, "CALL run_s()").await.as_deref(), Some("10"));
    // Parsed at PREPARE, under that time's sql_mode, as MariaDB does.
    owner.query_drop("SET sql_mode = ''").await.unwrap();
    owner
        .query_drop("PREPARE c FROM 'SELECT ''2'' || ''3'''")
        .await
        .unwrap();
    owner
        .query_drop("SET sql_mode = 'PIPES_AS_CONCAT'")
        .await
        .unwrap();
    assert_eq!(one(&mut owner, "EXECUTE c").await.as_deref(), Some("1"));
    owner.query_drop("SET sql_mode = DEFAULT").await.unwrap();
    assert_eq!(prepared_on_server(&env).await, 2);
    // The same name for a statement on a sharded table: the proxy keeps that one, the server's
    // goes.
    owner
        .query_drop("PREPARE c FROM 'SELECT COUNT(*) FROM users WHERE name = ?'")
        .await
        .unwrap();
    assert_eq!(prepared_on_server(&env).await, 1);
    assert_eq!(
        one(&mut owner, "EXECUTE c USING 'x'").await.as_deref(),
        Some("0")
    );
    owner.query_drop("DEALLOCATE PREPARE s").await.unwrap();
    assert_eq!(
        prepared_on_server(&env).await,
        0,
        "deallocated on the server"
    );
    let (code, _, _) = server_error(owner.query_drop("EXECUTE s USING 1").await);
    assert_eq!(code, 1243);
    // A session that ends with a statement prepared leaves none behind.
    owner.query_drop("PREPARE t FROM 'SELECT 1'").await.unwrap();
    assert_eq!(prepared_on_server(&env).await, 1);
    owner.query_drop("DROP PROCEDURE run_s").await.unwrap();
    owner.disconnect().await.unwrap();
    for _ in 0..400 {
        if prepared_on_server(&env).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(prepared_on_server(&env).await, 0, "closed with its session");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_reaches_another_session_with_a_transaction_open() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let ids = ids_on(&env, 0, 10);
    // Each way a session can leave with a transaction open.
    let ends: [(&str, &[&str]); 5] = [
        ("disconnect in BEGIN", &["BEGIN"]),
        (
            "disconnect after SAVEPOINT only",
            &["SET autocommit = 0", "SAVEPOINT s"],
        ),
        ("disconnect after a failed write", &["SET autocommit = 0"]),
        (
            "disconnect holding LOCK TABLES",
            &["SET autocommit = 0", "LOCK TABLES users WRITE"],
        ),
        (
            "disconnect with a temporary table",
            &["CREATE TEMPORARY TABLE t1 (id INT)", "BEGIN"],
        ),
    ];
    for (i, (how, statements)) in ends.iter().enumerate() {
        let mut conn = env.connect().await;
        for sql in *statements {
            conn.query_drop(*sql).await.unwrap();
        }
        conn.query_drop(insert(ids[i])).await.unwrap();
        if how.contains("failed write") {
            let (code, _, _) = server_error(conn.query_drop(insert(ids[i])).await);
            assert_eq!(code, 1062);
        }
        conn.disconnect().await.unwrap(); // no COMMIT
        no_open_transactions(&env, how).await;
        let mut check = env.connect().await;
        check.query_drop("SET autocommit = 0").await.unwrap();
        let seen = rows(
            &mut check,
            &format!("SELECT id FROM users WHERE id = {}", ids[i]),
        )
        .await;
        assert!(seen.is_empty(), "{how}: the uncommitted row is gone");
        check.query_drop("COMMIT").await.unwrap();
    }
    // COM_RESET_CONNECTION ends the transaction too.
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("SAVEPOINT s").await.unwrap();
    conn.query_drop(insert(ids[9])).await.unwrap();
    conn.reset().await.unwrap();
    no_open_transactions(&env, "COM_RESET_CONNECTION").await;
    assert!(rows(
        &mut conn,
        &format!("SELECT id FROM users WHERE id = {}", ids[9])
    )
    .await
    .is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_warnings_lists_the_previous_statements_conditions() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let mut direct = env.connect_primary(0).await;
    let mut conn = env.connect().await;
    let id = ids_on(&env, 0, 1)[0];
    conn.query_drop(insert(id)).await.unwrap();
    direct
        .query_drop("CREATE TABLE IF NOT EXISTS warn_probe (x INT)")
        .await
        .unwrap();
    let steps = [
        format!("SELECT CAST('x' AS SIGNED), 1/0 FROM users WHERE id = {id}"),
        "SHOW WARNINGS".to_owned(),
        "SHOW WARNINGS LIMIT 1, 1".to_owned(),
        "SHOW COUNT(*) WARNINGS".to_owned(),
        // Without tables and without conditions: the list stays.
        "SELECT 1".to_owned(),
        "SHOW WARNINGS".to_owned(),
        "SHOW ERRORS".to_owned(),
    ];
    let mut through = Vec::new();
    let mut straight = Vec::new();
    for sql in &steps {
        through.push(rows(&mut conn, sql).await);
        // Other sessions use the pool's connections in between.
        let mut other = env.connect().await;
        other.query_drop("SELECT 1/0").await.unwrap();
        other.disconnect().await.unwrap();
        straight.push(rows(&mut direct, sql).await);
    }
    assert_eq!(through, straight);
    assert_eq!(through[1].len(), 2, "{through:?}");
    // An error, then its listing.
    let _ = conn.query_drop("SELECT * FROM no_such_table").await;
    let _ = direct.query_drop("SELECT * FROM no_such_table").await;
    for sql in ["SHOW WARNINGS", "SHOW ERRORS", "SHOW COUNT(*) ERRORS"] {
        assert_eq!(
            rows(&mut conn, sql).await,
            rows(&mut direct, sql).await,
            "{sql}"
        );
    }
    // Over several shards: the conditions each shard raised (a scatter, then a split INSERT).
    let other_id = ids_on(&env, 1, 1)[0];
    conn.query_drop(insert(other_id)).await.unwrap();
    conn.query_drop("SELECT id, 1/0 FROM users").await.unwrap();
    let listed = rows(&mut conn, "SHOW WARNINGS").await;
    assert_eq!(listed.len(), 2, "one per row: {listed:?}");
    assert!(
        listed.iter().all(|r| r[1].as_deref() == Some("1365")),
        "{listed:?}"
    );
    conn.query_drop(format!(
        "INSERT IGNORE INTO users (id, email, name) VALUES ({id}, 'a', 'a'), ({other_id}, 'b', 'b')"
    ))
    .await
    .unwrap();
    let listed = rows(&mut conn, "SHOW WARNINGS").await;
    assert_eq!(listed.len(), 2, "a duplicate on each shard: {listed:?}");
    assert!(
        listed.iter().all(|r| r[1].as_deref() == Some("1062")),
        "{listed:?}"
    );
    // An error the proxy itself answers is listed too.
    let (code, _, msg) = server_error(
        conn.query_drop("CREATE TEMPORARY TABLE users (id INT)")
            .await,
    );
    assert_eq!(code, 1235);
    let listed = rows(&mut conn, "SHOW ERRORS").await;
    assert_eq!(
        listed,
        [[Some("Error".to_owned()), Some("1235".to_owned()), Some(msg)]]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_flags_on_the_proxys_own_answers_are_mariadbs() {
    let env = TestEnv::start(2, 0).await;
    let script = format!(
        r#"
import pymysql
c = pymysql.connect(host="127.0.0.1", port={port}, user="app", password="app", database="app", autocommit=True)
cur = c.cursor()
assert not c.server_status & 512, c.server_status
cur.execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
assert c.server_status & 512, ("NO_BACKSLASH_ESCAPES", c.server_status)
# PyMySQL escapes by that flag: a quote and a backslash come back as sent.
text = "it's a \\ path"
cur.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, %s)", (7, "e@x", text))
cur.execute("SELECT name FROM users WHERE id = 7")
assert cur.fetchone()[0] == text
cur.execute("BEGIN")
assert c.server_status & 1, ("IN_TRANS after BEGIN", c.server_status)
cur.execute("COMMIT")
assert not c.server_status & 1, ("no IN_TRANS after COMMIT", c.server_status)
cur.execute("START TRANSACTION READ ONLY")
assert c.server_status & 0x2000, ("IN_TRANS_READONLY", c.server_status)
cur.execute("ROLLBACK")
cur.execute("SET SESSION sql_mode = DEFAULT")
assert not c.server_status & 512, c.server_status
print("ok")
"#,
        port = env.port
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    env.stop().await;
}

/// Count and checksum of each sample table, read through the proxy.
async fn checksums(conn: &mut Conn) -> Vec<Vec<Option<String>>> {
    let mut all = rows(
        conn,
        "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', id, email, name, created_at))) FROM users",
    )
    .await;
    all.extend(
        rows(
            conn,
            "SELECT COUNT(*), SUM(CRC32(CONCAT_WS('|', id, user_id, amount, created_at))) FROM orders",
        )
        .await,
    );
    all
}

/// Runs a client tool against the proxy, feeding it `input`; its standard output.
async fn tool(env: &TestEnv, program: &str, args: &[&str], input: Option<Vec<u8>>) -> Vec<u8> {
    let port = env.port.to_string();
    let mut command = std::process::Command::new(program);
    command
        .args(["-h", "127.0.0.1", "-P", &port, "-u", "app", "-papp"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command
            .spawn()
            .expect("the MariaDB client tools are installed");
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(&input).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_through_the_proxy_restores_through_the_proxy() {
    let env = TestEnv::start_with(2, 1, SMALL_POOL).await;
    let mut conn = env.connect().await;
    for chunk in (1..=600i64).collect::<Vec<_>>().chunks(100) {
        let users: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, 'u{id}@x', 'it''s \\\\ {id}', '2024-01-01 00:00:00' + INTERVAL {id} MINUTE)"))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name, created_at) VALUES {}",
            users.join(", ")
        ))
        .await
        .unwrap();
        let orders: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, {}, {id}.25, NOW())", id % 97 + 1))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO orders (id, user_id, amount, created_at) VALUES {}",
            orders.join(", ")
        ))
        .await
        .unwrap();
    }
    let before = checksums(&mut conn).await;
    assert_eq!(before[0][0].as_deref(), Some("600"));
    for options in [&[][..], &["--single-transaction"][..]] {
        let mut args = options.to_vec();
        args.push("app");
        let dump = tool(&env, "mariadb-dump", &args, None).await;
        let text = String::from_utf8_lossy(&dump);
        assert!(text.contains("INSERT INTO `users` VALUES"), "{options:?}");
        // Restored through the proxy: tables dropped and created on every shard, rows split
        // by key (INSERT without a column list, under LOCK TABLES).
        tool(&env, "mariadb", &["app"], Some(dump)).await;
        assert_eq!(checksums(&mut conn).await, before, "{options:?}");
        // Every row is back on its own shard.
        for shard in 0..2 {
            let mut direct = env.connect_primary(shard).await;
            let ids: Vec<i64> = direct.query("SELECT id FROM users").await.unwrap();
            assert!(ids
                .iter()
                .all(|id| env.shard_of("users", i128::from(*id)) == shard));
        }
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_count_found_rows_and_warning_counts_are_the_sessions_own() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let mut direct = env.connect_primary(0).await;
    let mut conn = env.connect().await;
    let ids = ids_on(&env, 0, 4);
    // The proxy's session and the direct one write rows of their own.
    let steps = |a: i64, b: i64| {
        [
            format!("INSERT INTO users (id, email) VALUES ({a}, 'a{a}'), ({b}, 'b{b}')"),
            "SELECT ROW_COUNT()".to_owned(),
            "SELECT ROW_COUNT()".to_owned(),
            format!("SELECT id > 0 FROM users WHERE id IN ({a}, {b})"),
            "SELECT FOUND_ROWS(), ROW_COUNT() AS rc".to_owned(),
            format!("SELECT SQL_CALC_FOUND_ROWS id > 0 FROM users WHERE id IN ({a}, {b}) LIMIT 1"),
            "SELECT FOUND_ROWS()".to_owned(),
            // A write's own SELECTs set FOUND_ROWS() as MariaDB's optimizer runs them (a
            // COUNT(*) subquery 1, a join its rows): read back from the shard that ran it.
            format!("SELECT id > 0 FROM users WHERE id IN ({a}, {b})"),
            format!("INSERT INTO orders (id, user_id, amount) VALUES ({a}, {a}, (SELECT COUNT(*) FROM users WHERE id = {a}))"),
            "SELECT FOUND_ROWS()".to_owned(),
            format!("SELECT id > 0 FROM users WHERE id IN ({a}, {b})"),
            format!("UPDATE users u JOIN orders o ON o.user_id = u.id SET u.name = 'j' WHERE u.id = {a}"),
            "SELECT FOUND_ROWS()".to_owned(),
            format!("UPDATE users SET name = 'x' WHERE id = {a}"),
            "SET @changed = ROW_COUNT()".to_owned(),
            "SELECT @changed".to_owned(),
            format!("SELECT CAST('x' AS SIGNED), 1/0 FROM users WHERE id = {a}"),
            "SELECT @@warning_count, @@error_count".to_owned(),
            "SELECT @@session.warning_count".to_owned(),
            "SELECT @@in_transaction".to_owned(),
        ]
    };
    for (through_sql, direct_sql) in steps(ids[0], ids[1]).iter().zip(steps(ids[2], ids[3])) {
        let through = rows(&mut conn, through_sql).await;
        // Other sessions use the pool's connections in between.
        let mut other = env.connect().await;
        other.query_drop("SELECT 1/0, ROW_COUNT()").await.unwrap();
        other.disconnect().await.unwrap();
        let straight = rows(&mut direct, &direct_sql).await;
        assert_eq!(through, straight, "{through_sql}");
    }
    // Column names and types are MariaDB's.
    let result = conn
        .query_iter("SELECT ROW_COUNT(), @@error_count")
        .await
        .unwrap();
    let names: Vec<String> = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    drop(result);
    assert_eq!(names, ["ROW_COUNT()", "@@error_count"]);
    // A write the proxy runs in steps (its subquery over a scatter first): MariaDB's count is
    // its optimizer's, so FOUND_ROWS() is refused until a SELECT sets it again.
    conn.query_drop(
        "UPDATE users SET name = 's' WHERE id IN (SELECT user_id FROM orders WHERE amount < 0)",
    )
    .await
    .unwrap();
    let (code, _, message) = server_error(conn.query_drop("SELECT FOUND_ROWS()").await);
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("in steps"), "{message}");
    conn.query_drop(format!("SELECT id FROM users WHERE id = {}", ids[0]))
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT FOUND_ROWS()").await,
        [[Some("1".into())]]
    );
    let _ = conn.query_drop("SELECT * FROM no_such_table").await;
    conn.query_drop("BEGIN").await.unwrap();
    assert_eq!(
        rows(
            &mut conn,
            "SELECT ROW_COUNT(), @@error_count, @@in_transaction"
        )
        .await,
        [[Some("0".into()), Some("1".into()), Some("1".into())]],
        "as on MariaDB: BEGIN changed no row, and raised nothing, so the error stays listed"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variables_set_by_any_assignment_form_are_kept_on_every_shard() {
    let env = TestEnv::start_with(2, 0, SMALL_POOL).await;
    let mut conn = env.connect().await;
    let (a, b) = (ids_on(&env, 0, 1)[0], ids_on(&env, 1, 1)[0]);
    conn.query_drop(insert(a)).await.unwrap();
    conn.query_drop(insert(b)).await.unwrap();
    // (In one SET, MariaDB evaluates every value before it assigns any.)
    conn.query_drop("SET @a := 2, @b := @a + 1").await.unwrap();
    conn.query_drop("SET @b := @a + 1").await.unwrap();
    conn.query_drop("SET @c = @d := 5").await.unwrap();
    conn.query_drop("SET @s = _latin1 0x41").await.unwrap();
    for id in [a, b] {
        let got = rows(
            &mut conn,
            &format!("SELECT @a, @b, @c, @d, @s FROM users WHERE id = {id}"),
        )
        .await;
        let want: Vec<Option<String>> = ["2", "3", "5", "5", "A"]
            .iter()
            .map(|v| Some((*v).to_owned()))
            .collect();
        assert_eq!(got, [want], "on the shard of {id}");
    }
    // MariaDB's own error for a bad value.
    let (code, _, _) = server_error(conn.query_drop("SET @e := no_such_column").await);
    assert_eq!(code, 1054);
    env.stop().await;
}
