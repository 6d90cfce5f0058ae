//! Lookup indexes (issue #14 part 2): `users.email` has a unique lookup on the default shard.
//! Reads by email go to the shards the lookup names (a row put on a shard behind the proxy's
//! back is not in the lookup, so such a read does not find it: the proof the read did not
//! scatter); a duplicate email on another shard is refused with 1062; UPDATE and DELETE keep
//! every row reachable; `lookup verify` reports and repairs, `lookup backfill` indexes rows
//! that were there before.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{server_error, TestEnv};

/// The sandbox config with a unique lookup on `users.email`.
pub(crate) fn render(config: &str) -> String {
    config.replacen(
        "name = \"users\"\nshard_key = \"id\"\n",
        "name = \"users\"\nshard_key = \"id\"\nlookups = [{ column = \"email\", unique = true }]\n",
        1,
    )
}

/// A proxy over `shards` shards whose `users.email` has a unique lookup, its table created.
pub(crate) async fn start(shards: usize) -> TestEnv {
    let env = TestEnv::start_rendered(shards, 0, |sandbox, listen| {
        render(&sandbox.config_toml(listen))
    })
    .await;
    let runtime = env.proxy.runtime();
    shardgate_server::init_lookups(&runtime, "users")
        .await
        .expect("lookup init");
    env
}

/// Two ids on different shards.
fn ids_on_two_shards(env: &TestEnv) -> (i64, i64) {
    let first = 1;
    let other = (2..1000)
        .find(|id| env.shard_of("users", i128::from(*id)) != env.shard_of("users", 1))
        .expect("ids on another shard");
    (first, other)
}

async fn ids_by_email(conn: &mut Conn, sql: &str) -> Vec<i64> {
    conn.query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn metric(name: &str) -> u64 {
    let m = shardgate_metrics::metrics();
    let counter = match name {
        "reads" => &m.lookup_reads_total,
        "misses" => &m.lookup_misses_total,
        "avoided" => &m.lookup_scatters_avoided_total,
        _ => &m.lookup_shards_total,
    };
    counter.with_label_values(&["users", "email"]).get()
}

async fn verify(env: &TestEnv, repair: bool) -> shardgate_server::LookupReport {
    let runtime = env.proxy.runtime();
    let mut reports = shardgate_server::verify_lookups(&runtime, "users", repair, 7)
        .await
        .expect("verify");
    reports.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_by_email_go_where_the_lookup_says() {
    let env = start(3).await;
    let mut conn = env.connect().await;
    let (a, b) = ids_on_two_shards(&env);
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'a@x', 'A'), ({b}, 'b@x', 'B')"
    ))
    .await
    .unwrap();
    // A row written behind the proxy's back: a scatter finds it, the lookup does not know it.
    let hidden_shard = env.shard_of("users", 3);
    let mut direct = env.connect_primary(hidden_shard).await;
    direct
        .query_drop("INSERT INTO users (id, email, name) VALUES (3, 'hidden@x', 'H')")
        .await
        .unwrap();
    direct.disconnect().await.unwrap();

    let reads = metric("reads");
    let misses = metric("misses");
    assert_eq!(
        ids_by_email(&mut conn, "SELECT id FROM users WHERE email = 'a@x'").await,
        [a]
    );
    assert_eq!(
        ids_by_email(
            &mut conn,
            "SELECT id FROM users WHERE email IN ('a@x', 'b@x', 'nobody@x') ORDER BY id"
        )
        .await,
        [a, b]
    );
    // A session's sql_select_limit limits the statement's rows, not the lookup's keys.
    conn.query_drop("SET sql_select_limit = 1").await.unwrap();
    assert_eq!(
        ids_by_email(
            &mut conn,
            "SELECT id FROM users WHERE email IN ('a@x', 'b@x') ORDER BY id LIMIT 5"
        )
        .await,
        [a, b]
    );
    conn.query_drop("SET sql_select_limit = DEFAULT")
        .await
        .unwrap();
    // Not in the lookup: the default shard answers, with no row (and the right columns).
    let none: Vec<(i64, String)> = conn
        .query("SELECT id, name FROM users WHERE email = 'hidden@x'")
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    let count: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM users WHERE email = 'nobody@x'")
        .await
        .unwrap();
    assert_eq!(count, Some(0));
    // Prepared, with the email a parameter.
    let stmt = conn
        .prep("SELECT id, name FROM users WHERE email = ?")
        .await
        .unwrap();
    let found: Vec<(i64, String)> = conn.exec(&stmt, ("b@x",)).await.unwrap();
    assert_eq!(found, [(b, "B".to_owned())]);
    let hidden: Vec<(i64, String)> = conn.exec(&stmt, ("hidden@x",)).await.unwrap();
    assert!(hidden.is_empty());
    let both: Vec<i64> = conn
        .exec(
            "SELECT id FROM users WHERE email IN (?, ?) ORDER BY id",
            ("a@x", "b@x"),
        )
        .await
        .unwrap();
    assert_eq!(both, [a, b]);
    // Other tests run beside this one: the counters only grow by at least this one's reads.
    assert!(metric("reads") >= reads + 7);
    assert!(metric("misses") >= misses + 3);
    assert!(metric("avoided") >= 1);
    // Inside a transaction a read scatters (its snapshot is the answer): the hidden row too.
    conn.query_drop("BEGIN").await.unwrap();
    assert_eq!(
        ids_by_email(&mut conn, "SELECT id FROM users WHERE email = 'hidden@x'").await,
        [3]
    );
    conn.query_drop("COMMIT").await.unwrap();
    // The plan names the lookup.
    let plan = shardgate_router::plan_sql(
        "SELECT * FROM users WHERE email = 'a@x'",
        &env.topology,
        shardgate_router::Syntax::DEFAULT,
    )
    .unwrap();
    let shown = plan.display(&env.topology).to_string();
    assert!(shown.contains("by lookup users_email_lookup"), "{shown}");
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_email_is_refused_on_another_shard() {
    let env = start(3).await;
    let mut conn = env.connect().await;
    let (a, b) = ids_on_two_shards(&env);
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'a@x', 'A')"
    ))
    .await
    .unwrap();
    let (code, state, message) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({b}, 'a@x', 'B')"
        ))
        .await,
    );
    assert_eq!((code, state.as_str()), (1062, "23000"), "{message}");
    assert!(
        message.contains("'a@x'") && message.contains("email"),
        "{message}"
    );
    // Prepared too, and two rows of one statement.
    let (code, _, _) = server_error(
        conn.exec_drop(
            "INSERT INTO users (id, email, name) VALUES (?, ?, ?)",
            (b, "a@x", "B"),
        )
        .await,
    );
    assert_eq!(code, 1062);
    let (code, _, _) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({b}, 'c@x', 'B'), (5000, 'c@x', 'C')"
        ))
        .await,
    );
    assert_eq!(code, 1062);
    // An UPDATE to a taken email.
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({b}, 'b@x', 'B')"
    ))
    .await
    .unwrap();
    let (code, _, _) = server_error(
        conn.query_drop(format!("UPDATE users SET email = 'a@x' WHERE id = {b}"))
            .await,
    );
    assert_eq!(code, 1062);
    // Setting a row's own email again is no duplicate.
    conn.query_drop(format!("UPDATE users SET email = 'a@x' WHERE id = {a}"))
        .await
        .unwrap();
    // Once the row is gone (its lookup row stale), the email is free for another row.
    conn.query_drop(format!("DELETE FROM users WHERE id = {a}"))
        .await
        .unwrap();
    conn.query_drop(format!("UPDATE users SET email = 'a@x' WHERE id = {b}"))
        .await
        .unwrap();
    assert_eq!(
        ids_by_email(&mut conn, "SELECT id FROM users WHERE email = 'a@x'").await,
        [b]
    );
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_deletes_verify_repair_and_backfill() {
    let env = start(3).await;
    let mut conn = env.connect().await;
    for id in 1..=20 {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({id}, 'u{id}@x', 'n')"
        ))
        .await
        .unwrap();
    }
    // In a transaction too: the new email's lookup row is written first.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE users SET email = 'new1@x' WHERE id = 1")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    conn.query_drop("UPDATE users SET email = 'new2@x' WHERE id = 2")
        .await
        .unwrap();
    conn.query_drop("DELETE FROM users WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        ids_by_email(&mut conn, "SELECT id FROM users WHERE email = 'new1@x'").await,
        [1]
    );
    assert!(
        ids_by_email(&mut conn, "SELECT id FROM users WHERE email = 'u1@x'")
            .await
            .is_empty()
    );
    assert!(
        ids_by_email(&mut conn, "SELECT id FROM users WHERE email = 'u3@x'")
            .await
            .is_empty()
    );
    // Old emails stay behind as stale lookup rows: never a row missing.
    let report = verify(&env, false).await;
    assert_eq!((report.missing, report.stale), (0, 3), "{report:?}");
    let report = verify(&env, true).await;
    assert_eq!(report.removed, 3, "{report:?}");
    let report = verify(&env, false).await;
    assert_eq!((report.missing, report.stale), (0, 0), "{report:?}");

    // Rows from before the lookup (written behind the proxy): missing until backfilled.
    for id in 100..130 {
        let mut direct = env.connect_primary(env.shard_of("users", id)).await;
        direct
            .query_drop(format!(
                "INSERT INTO users (id, email, name) VALUES ({id}, 'old{id}@x', 'o')"
            ))
            .await
            .unwrap();
        direct.disconnect().await.unwrap();
    }
    let report = verify(&env, false).await;
    assert_eq!((report.missing, report.stale), (30, 0), "{report:?}");
    let runtime = env.proxy.runtime();
    let filled = shardgate_server::backfill_lookups(&runtime, "users", 7)
        .await
        .unwrap();
    // 19 rows through the proxy (one deleted) and 30 behind it.
    assert_eq!(filled[0].1, 49, "{filled:?}");
    // Again: nothing changes.
    shardgate_server::backfill_lookups(&runtime, "users", 1000)
        .await
        .unwrap();
    let report = verify(&env, false).await;
    assert_eq!((report.missing, report.stale), (0, 0), "{report:?}");
    for id in 100..130 {
        assert_eq!(
            ids_by_email(
                &mut conn,
                &format!("SELECT id FROM users WHERE email = 'old{id}@x'")
            )
            .await,
            [id as i64]
        );
    }
    conn.disconnect().await.unwrap();
    env.stop().await;
}
