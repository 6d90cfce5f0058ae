//! Writes to a table with lookups that the proxy once refused (issue #14): an INSERT leaving
//! the lookup column to its default, and an UPDATE of the column whose WHERE clause does not
//! name its rows by shard key. `users.email` has a unique lookup (`lookups::start`); a read by
//! email goes only where the lookup says (a value missing from the lookup finds no row), so a
//! read that finds its row proves the lookup row was written.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{server_error, TestEnv};

async fn ids_by_email(conn: &mut Conn, email: &str) -> Vec<i64> {
    conn.exec("SELECT id FROM users WHERE email = ? ORDER BY id", (email,))
        .await
        .unwrap_or_else(|e| panic!("{email}: {e}"))
}

async fn verify(env: &TestEnv) -> shardgate_server::LookupReport {
    let runtime = env.proxy.runtime();
    shardgate_server::verify_lookups(&runtime, "users", false, 100)
        .await
        .expect("verify")
        .remove(0)
}

/// `n` ids on `n` different shards, then one more id on the first id's shard.
fn ids_on_shards(env: &TestEnv, n: usize) -> (Vec<i64>, i64) {
    let mut ids: Vec<i64> = Vec::new();
    for id in 1..1000 {
        let shard = env.shard_of("users", i128::from(id));
        if ids.len() < n
            && ids
                .iter()
                .all(|i| env.shard_of("users", i128::from(*i)) != shard)
        {
            ids.push(id);
        }
    }
    let first = env.shard_of("users", i128::from(ids[0]));
    let again = (1000..2000)
        .find(|id| env.shard_of("users", i128::from(*id)) == first)
        .expect("another id on the first shard");
    (ids, again)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_leaving_out_the_email_takes_its_default() {
    let env = crate::lookups::start(3).await;
    let mut conn = env.connect().await;
    let (ids, _) = ids_on_shards(&env, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    // Through the proxy: every shard, and the schema cache forgets the table.
    conn.query_drop("ALTER TABLE users MODIFY email VARCHAR(255) DEFAULT 'it''s@x'")
        .await
        .unwrap();
    conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({a}, 'A')"))
        .await
        .unwrap();
    assert_eq!(ids_by_email(&mut conn, "it's@x").await, [a]);
    // A unique default holds for one row: the second, on another shard, is MariaDB's 1062.
    let (code, state, message) = server_error(
        conn.query_drop(format!("INSERT INTO users SET id = {b}, name = 'B'"))
            .await,
    );
    assert_eq!((code, state.as_str()), (1062, "23000"), "{message}");
    // Prepared: each execution runs as text, its default written in.
    let (code, _, _) = server_error(
        conn.exec_drop("INSERT INTO users (id, name) VALUES (?, ?)", (c, "C"))
            .await,
    );
    assert_eq!(code, 1062);
    // A NULL default writes no lookup row; the row is simply not found by email.
    conn.query_drop("ALTER TABLE users MODIFY email VARCHAR(255) DEFAULT NULL")
        .await
        .unwrap();
    conn.exec_drop("INSERT INTO users (id, name) VALUES (?, ?)", (b, "B"))
        .await
        .unwrap();
    // A default computed for each row cannot be written first: refused, naming it.
    conn.query_drop("ALTER TABLE users MODIFY email VARCHAR(255) DEFAULT (uuid())")
        .await
        .unwrap();
    let (code, _, message) = server_error(
        conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({c}, 'C')"))
            .await,
    );
    assert_eq!(code, 1235, "{message}");
    assert!(
        message.contains("uuid()") && message.contains("email"),
        "{message}"
    );
    // The refused rows' lookup rows stay behind, stale; no row is missing.
    let report = verify(&env).await;
    assert_eq!((report.missing, report.stale), (0, 2), "{report:?}");
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_by_another_column_writes_the_lookup_rows_first() {
    let env = crate::lookups::start(3).await;
    let mut conn = env.connect().await;
    let (ids, a2) = ids_on_shards(&env, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'a@x', 'one'), ({b}, 'b@x', 'two'), ({c}, 'c@x', 'two')"
    ))
    .await
    .unwrap();

    conn.query_drop("UPDATE users SET email = 'new-a@x' WHERE name = 'one'")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    assert_eq!(ids_by_email(&mut conn, "new-a@x").await, [a]);
    // By the lookup column itself.
    conn.query_drop("UPDATE users SET email = 'b2@x' WHERE email = 'b@x'")
        .await
        .unwrap();
    assert_eq!(ids_by_email(&mut conn, "b2@x").await, [b]);
    // One unique value for two rows: 1062, and neither row changed.
    let (code, state, message) = server_error(
        conn.query_drop("UPDATE users SET email = 'dup@x' WHERE name = 'two'")
            .await,
    );
    assert_eq!((code, state.as_str()), (1062, "23000"), "{message}");
    assert!(message.contains("'dup@x'"), "{message}");
    assert_eq!(ids_by_email(&mut conn, "c@x").await, [c]);
    // A value another row holds.
    let (code, _, _) = server_error(
        conn.query_drop("UPDATE users SET email = 'c@x' WHERE name = 'one'")
            .await,
    );
    assert_eq!(code, 1062);
    // No row matches: nothing written, 0 rows.
    conn.query_drop("UPDATE users SET email = 'none@x' WHERE name = 'nobody'")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 0);
    // Prepared, the WHERE clause a parameter too.
    conn.exec_drop("UPDATE users SET email = ? WHERE name = ?", ("p@x", "one"))
        .await
        .unwrap();
    assert_eq!(ids_by_email(&mut conn, "p@x").await, [a]);
    // LAST_INSERT_ID(expr) in it sets the session's value, as on MariaDB.
    conn.query_drop(
        "UPDATE users SET email = 'l@x', name = IF(LAST_INSERT_ID(77), name, name) WHERE name = 'one'",
    )
    .await
    .unwrap();
    let id: Option<u64> = conn.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
    assert_eq!(id, Some(77));
    assert_eq!(ids_by_email(&mut conn, "l@x").await, [a]);
    // Inside the client's transaction (on one shard: `id IN` two ids of it, one row there).
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!(
        "UPDATE users SET email = 't@x' WHERE id IN ({a}, {a2})"
    ))
    .await
    .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(ids_by_email(&mut conn, "t@x").await, [a]);
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!(
        "UPDATE users SET email = 'r@x' WHERE id IN ({a}, {a2}) AND name = 'one'"
    ))
    .await
    .unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(ids_by_email(&mut conn, "t@x").await, [a]);
    assert!(ids_by_email(&mut conn, "r@x").await.is_empty());
    // Every row is reachable; the old values' rows are stale.
    let report = verify(&env).await;
    assert_eq!(report.missing, 0, "{report:?}");
    for (id, email) in [(a, "t@x"), (b, "b2@x"), (c, "c@x")] {
        assert_eq!(ids_by_email(&mut conn, email).await, [id], "{email}");
    }
    // The repair removes the stale rows, and takes no row's own.
    let runtime = env.proxy.runtime();
    shardgate_server::verify_lookups(&runtime, "users", true, 100)
        .await
        .expect("repair");
    let report = verify(&env).await;
    assert_eq!((report.missing, report.stale), (0, 0), "{report:?}");
    assert_eq!(ids_by_email(&mut conn, "t@x").await, [a]);
    // UPDATE IGNORE (which the parser would read as a table named IGNORE): routed by its key,
    // its lookup row written.
    conn.query_drop(format!(
        "UPDATE IGNORE users SET email = 'i@x' WHERE id = {b}"
    ))
    .await
    .unwrap();
    assert_eq!(ids_by_email(&mut conn, "i@x").await, [b]);
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_select_inserts_its_rows_with_their_lookup_rows() {
    // A small merge bound: the proxy holds the SELECT's rows itself.
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        crate::lookups::render(&sandbox.config_toml(listen)).replacen(
            "[server]\n",
            "[server]\nmerge_max_rows = 4\n",
            1,
        )
    })
    .await;
    shardgate_server::init_lookups(&env.proxy.runtime(), "users")
        .await
        .expect("lookup init");
    let mut conn = env.connect().await;
    let (ids, _) = ids_on_shards(&env, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'a@x', 'A'), ({b}, 'b@x', 'B'), ({c}, NULL, 'C')"
    ))
    .await
    .unwrap();
    // Rows from every shard, to other shards: each found by its new email.
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) SELECT id + 1000, CONCAT('copy-', email), name FROM users WHERE id IN ({a}, {b}, {c})"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 3);
    assert_eq!(ids_by_email(&mut conn, "copy-a@x").await, [a + 1000]);
    // A session's sql_select_limit limits what a SELECT returns to the client, not the rows
    // an INSERT … SELECT reads (the proxy's read of them must not be cut either).
    conn.query_drop("SET sql_select_limit = 0").await.unwrap();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) SELECT id + 6000, CONCAT('limited-', email), name FROM users WHERE id IN ({a}, {b}, {c})"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 3);
    conn.query_drop("SET sql_select_limit = DEFAULT")
        .await
        .unwrap();
    assert_eq!(ids_by_email(&mut conn, "limited-b@x").await, [b + 6000]);
    assert_eq!(ids_by_email(&mut conn, "copy-b@x").await, [b + 1000]);
    let names: Vec<(i64, Option<String>, String)> = conn
        .query(format!(
            "SELECT id, email, name FROM users WHERE id = {}",
            c + 1000
        ))
        .await
        .unwrap();
    assert_eq!(names, [(c + 1000, None, "C".to_owned())]);
    // A unique value already held: 1062, nothing inserted.
    let (code, _, message) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) SELECT id + 2000, email, name FROM users WHERE id = {a}"
        ))
        .await,
    );
    assert_eq!(code, 1062, "{message}");
    // No row: nothing to insert.
    conn.query_drop("INSERT INTO users (id, email) SELECT id, email FROM users WHERE id = -5")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 0);
    // Prepared, a parameter in its SELECT.
    conn.exec_drop(
        "INSERT INTO users (id, email, name) SELECT id + 3000, CONCAT('p-', email), name FROM users WHERE id = ?",
        (b,),
    )
    .await
    .unwrap();
    assert_eq!(ids_by_email(&mut conn, "p-b@x").await, [b + 3000]);
    // In a transaction the SELECT sees the transaction's own rows (ids kept on one shard, as
    // transaction_mode "single" asks).
    let shard = |id: i64| env.shard_of("users", i128::from(id));
    let x = (2000..3000)
        .find(|x| shard(*x) == shard(*x + 4000))
        .expect("an id whose copy is on its shard");
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({x}, 'tx@x', 'T')"
    ))
    .await
    .unwrap();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) SELECT id + 4000, CONCAT('copy-', email), name FROM users WHERE id = {x}"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(ids_by_email(&mut conn, "copy-tx@x").await, [x + 4000]);
    conn.query_drop(format!("DELETE FROM users WHERE id IN ({x}, {})", x + 4000))
        .await
        .unwrap();
    // The plan says so (`route --sql`, `SHOW SHARDGATE ROUTE FOR`).
    match shardgate_router::plan_sql(
        "INSERT INTO users (id, email) SELECT id, email FROM users WHERE id = 1",
        &env.topology,
        shardgate_router::Syntax::DEFAULT,
    ) {
        Err(shardgate_router::RouteError::InsertFromSelect(request)) => {
            let shown = request.to_string();
            assert!(
                shown.contains("by rows: first `SELECT id, email FROM users WHERE id = 1`"),
                "{shown}"
            );
        }
        other => panic!("{other:?}"),
    }
    // More rows than merge_max_rows: 1038. A merge across shards (ORDER BY … LIMIT) is the
    // proxy's, and its rows get their lookup rows too.
    let (code, _, message) = server_error(
        conn.query_drop("INSERT INTO users (id, name) SELECT id + 5000, name FROM users")
            .await,
    );
    assert_eq!(code, 1038, "{message}");
    conn.query_drop(
        "INSERT INTO users (id, name) SELECT id + 5000, name FROM users ORDER BY id LIMIT 2",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    let report = verify(&env).await;
    assert_eq!(report.missing, 0, "{report:?}");
    conn.disconnect().await.unwrap();
    env.stop().await;
}

/// transaction_mode "multi": a located UPDATE over every shard inside the client's
/// transaction locks and changes the rows in it; a rollback leaves only stale lookup rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_by_another_column_inside_a_multi_shard_transaction() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        crate::lookups::render(&sandbox.config_toml(listen)).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        )
    })
    .await;
    shardgate_server::init_lookups(&env.proxy.runtime(), "users")
        .await
        .expect("lookup init");
    let mut conn = env.connect().await;
    let (ids, _) = ids_on_shards(&env, 3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'a@x', 'one'), ({b}, 'b@x', 'two'), ({c}, 'c@x', 'three')"
    ))
    .await
    .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE users SET email = 'one@x' WHERE name = 'one'")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    // The transaction sees its change; a second one over every shard.
    let seen: Vec<i64> = conn
        .query("SELECT id FROM users WHERE email = 'one@x'")
        .await
        .unwrap();
    assert_eq!(seen, [a]);
    let (code, _, message) = server_error(
        conn.query_drop("UPDATE users SET email = 'many@x' WHERE name <> 'one'")
            .await,
    );
    assert_eq!(code, 1062, "{message}");
    conn.query_drop("UPDATE users SET email = 'three@x' WHERE name = 'three'")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(ids_by_email(&mut conn, "one@x").await, [a]);
    assert_eq!(ids_by_email(&mut conn, "three@x").await, [c]);
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE users SET email = 'gone@x' WHERE name = 'two'")
        .await
        .unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(ids_by_email(&mut conn, "b@x").await, [b]);
    assert!(ids_by_email(&mut conn, "gone@x").await.is_empty());
    let report = verify(&env).await;
    assert_eq!(report.missing, 0, "{report:?}");
    conn.disconnect().await.unwrap();
    env.stop().await;
}

/// An UPDATE's text for a row id and a round.
type UpdateText = fn(i64, i64) -> String;

/// Figures for the README, not a check: UPDATEs of the email naming the row by id against
/// naming it by another column (`name`, indexed, or an expression of it, scanned), on 3
/// shards. `cargo test --test e2e lookup_writes::update_rates -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn update_rates() {
    const ROWS: i64 = 30;
    const ROUNDS: i64 = 300;
    let env = crate::lookups::start(3).await;
    let mut conn = env.connect().await;
    conn.query_drop("ALTER TABLE users ADD KEY by_name (name)")
        .await
        .unwrap();
    for id in 1..=ROWS {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name, created_at) VALUES ({id}, 'u{id}@x', 'n{id}', NOW())"
        ))
        .await
        .unwrap();
    }
    let forms: [(&str, UpdateText); 3] = [
        ("by id", |id, round| {
            format!("UPDATE users SET email = 'r{round}-{id}@x' WHERE id = {id}")
        }),
        ("by name (indexed)", |id, round| {
            format!("UPDATE users SET email = 's{round}-{id}@x' WHERE name = 'n{id}'")
        }),
        ("by an expression of name (a full scan)", |id, round| {
            format!("UPDATE users SET email = 't{round}-{id}@x' WHERE CONCAT(name, '') = 'n{id}'")
        }),
    ];
    // The second pass is reported: the first warms the pools and the schema cache.
    for (pass, (label, sql)) in forms.iter().chain(forms.iter()).enumerate() {
        let started = std::time::Instant::now();
        for round in 0..ROUNDS {
            let id = 1 + round % ROWS;
            conn.query_drop(sql(id, round)).await.unwrap();
        }
        let elapsed = started.elapsed();
        if pass < forms.len() {
            continue;
        }
        println!(
            "UPDATE of the email {label}: {ROUNDS} in {elapsed:.2?}, {:.0}/s",
            ROUNDS as f64 / elapsed.as_secs_f64()
        );
    }
    conn.disconnect().await.unwrap();
    env.stop().await;
}
