//! Issue #15's workflow past the copy, against real MariaDB: catch-up while clients write,
//! the cutover holding only the writes of moving keys and swapping to the three-shard target,
//! verify, clean-up and `done`; a proxy killed with SIGKILL during catch-up that resumes from
//! its saved position; and a cutover abandoned for an open transaction, then tried again. The config of `reshard_copy.rs` pauses before the cutover, so the
//! tests choose when it comes (RESUME).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use shardgate_config::Topology;

use crate::common::TestEnv;
use crate::reshard_copy::{
    config, connect_admin, fill, migration_rows, moving, owner, start, verify, wait_for_phase,
    write_target,
};

/// Keys 1..=300 exist (`fill`); each writer updates its own keys and inserts new ones, so the
/// final balance of every key is known: key → balance.
type Expected = BTreeMap<i64, i64>;

/// Writes until `stop` by `clients` clients, through the proxy at `opts`: updates of keys
/// `client * 40 + 1 ..= client * 40 + 40` and inserts of new keys from `10_000 * (client + 1)`;
/// each statement's effect recorded once it succeeded. Errors 1205 (a cutover that held a
/// write too long, documented as retryable) are counted and the statement retried.
fn writers(
    opts: mysql_async::OptsBuilder,
    clients: i64,
    stop: Arc<AtomicBool>,
    retried: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<Expected>> {
    (0..clients)
        .map(|client| {
            let (opts, stop, retried) = (opts.clone(), stop.clone(), retried.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(Opts::from(opts)).await.unwrap();
                let mut expected = Expected::new();
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let old = client * 40 + i % 40 + 1;
                    let new = 10_000 * (client + 1) + i;
                    let statements = [
                        (
                            format!("UPDATE accounts SET balance = {i} WHERE id = {old}"),
                            old,
                        ),
                        (
                            format!("INSERT INTO accounts (id, balance) VALUES ({new}, {i})"),
                            new,
                        ),
                    ];
                    for (sql, id) in statements {
                        loop {
                            match conn.query_drop(&sql).await {
                                Ok(()) => break,
                                Err(mysql_async::Error::Server(e)) if e.code == 1205 => {
                                    retried.fetch_add(1, Ordering::Relaxed);
                                }
                                Err(e) => panic!("{sql}: {e}"),
                            }
                        }
                        expected.insert(id, i);
                    }
                    i += 1;
                }
                expected
            })
        })
        .collect()
}

/// Every `accounts` row through the proxy: id → balance.
async fn balances(conn: &mut Conn) -> BTreeMap<i64, Option<f64>> {
    let rows: Vec<(i64, Option<f64>)> = conn
        .query("SELECT id, balance FROM accounts ORDER BY id")
        .await
        .unwrap();
    rows.into_iter().collect()
}

/// Checks that every row of both tables is on the shard `target` maps its key to.
async fn rows_where_the_target_places_them(env: &TestEnv, target: &Topology) {
    for shard in 0..3 {
        let name = &target.shards[shard].name;
        let mut conn = env.connect_primary(shard).await;
        for table in ["accounts", "events"] {
            let ids: Vec<i64> = conn
                .query(format!("SELECT id FROM {table}"))
                .await
                .unwrap_or_default();
            let misplaced: Vec<i64> = (ids.into_iter())
                .filter(|id| owner(target, table, *id) != *name)
                .collect();
            assert!(misplaced.is_empty(), "{table} on {name}: {misplaced:?}");
        }
    }
}

/// The migration's one value of `column` (the same on every flow).
async fn migration_value(admin: &mut Conn, id: &str, column: &str) -> Option<String> {
    let rows = migration_rows(admin, id).await;
    rows.first().and_then(|r| r[column].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_cuts_over_under_writes_and_ends_with_every_row_on_its_new_owner() {
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    let (target_path, target) = write_target(&env);
    let mut admin = connect_admin(env.port).await;
    let id = start(&mut admin, &target_path, None).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;

    // Clients write while the catch-up follows, through the cutover and after it.
    let stop = Arc::new(AtomicBool::new(false));
    let retried = Arc::new(AtomicU64::new(0));
    let writing = writers(env.opts(), 4, stop.clone(), retried.clone());
    while migration_value(&mut admin, &id, "applied_gtid")
        .await
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    // Past the swap, the clients write a little more to the new owners; then they stop and
    // the verify (the reverse catch-up keeping the sources current) compares quiet rows.
    while migration_value(&mut admin, &id, "cutover_pause_ms")
        .await
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut expected: BTreeMap<i64, i64> = BTreeMap::new();
    for writer in writing {
        expected.extend(writer.await.unwrap());
    }
    let done = wait_for_phase(&mut admin, &id, "done").await;
    let pause_ms = done[0]["cutover_pause_ms"].clone().unwrap();
    // Figures for the README, not bounds.
    eprintln!(
        "cutover pause {pause_ms} ms; {} statements retried after error 1205; {} writes",
        retried.load(Ordering::Relaxed),
        expected.len()
    );
    let metrics = &shardgate_metrics::metrics().migration;
    assert!(metrics.cutover_pause_seconds.get() > 0.0);

    // Every row where the target places it, the sources cleaned, the clients' writes kept.
    rows_where_the_target_places_them(&env, &target).await;
    let mut app = env.connect().await;
    let now = balances(&mut app).await;
    for (key, balance) in &expected {
        assert_eq!(now.get(key), Some(&Some(*balance as f64)), "key {key}");
    }
    assert_eq!(
        now.len(),
        300 + expected.keys().filter(|k| **k > 300).count(),
        "no row lost or doubled"
    );
    let moved = moving(&env.topology, &target, "accounts", 1..=300);
    assert!(!moved.is_empty());
    let mut s2 = env.connect_primary(2).await;
    let on_s2: Vec<i64> = s2.query("SELECT id FROM accounts").await.unwrap();
    assert!(moved.iter().all(|k| on_s2.contains(k)), "moved keys on s2");
    // After the clean-up there is nothing left to compare.
    let refused = admin
        .query_drop(format!("SHARDGATE RESHARD VERIFY {id}"))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    // A reload of the old file would move the keys back: refused, naming them.
    let refused = env.proxy.reload_from(&env.config_path).await.unwrap_err();
    assert!(refused.to_string().contains("accounts"), "{refused}");
    drop((admin, app, s2));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_during_catch_up_resumes_from_its_saved_position() {
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    let (target_path, target) = write_target(&env);
    let (config_path, port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("serve.log");
    let mut serving = crate::common::spawn_serve(&config_path, &log);
    let mut admin = connect_admin(port).await;
    let id = start(&mut admin, &target_path, None).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    let moved: Vec<i64> = moving(&env.topology, &target, "accounts", 1..=300)
        .into_iter()
        .collect();
    // Writes to moving keys (through the other proxy, same topology) before and after the
    // kill: the catch-up applies the first ones, saves its position, and the restarted one
    // the rest.
    let mut app = env.connect().await;
    for key in &moved[..10] {
        app.query_drop(format!("UPDATE accounts SET balance = -1 WHERE id = {key}"))
            .await
            .unwrap();
    }
    let before_kill = migration_value(&mut admin, &id, "applied_gtid").await;
    while migration_value(&mut admin, &id, "applied_gtid").await == before_kill {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serving.0.kill().unwrap(); // SIGKILL
    serving.0.wait().unwrap();
    drop(admin);
    for key in &moved[10..20] {
        app.query_drop(format!("DELETE FROM accounts WHERE id = {key}"))
            .await
            .unwrap();
    }
    let _restarted = crate::common::spawn_serve(&config_path, &log);
    let mut admin = connect_admin(port).await;
    // The restarted proxy follows from where it was: the new owner gets the deletes.
    let mut s2 = env.connect_primary(2).await;
    let deleted: Vec<String> = moved[10..20].iter().map(i64::to_string).collect();
    let left = format!(
        "SELECT COUNT(*) FROM accounts WHERE id IN ({})",
        deleted.join(", ")
    );
    while s2.query_first::<u64, _>(&left).await.unwrap() != Some(0) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("catch-up starts"), "{text}");
    assert_eq!(verify(&mut admin, &id).await, (0, Vec::new()));
    drop((admin, app, s2));
    env.stop().await;
}

/// A transaction writing a moving key, left open through the hold: the cutover waits for it
/// up to `[resharding] cutover_hold_ms`, is abandoned (the old topology keeps serving, the
/// reason shown in SHOW), and a later try, once the transaction committed, cuts over; the
/// transaction's write is on the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_abandoned_for_an_open_transaction_is_tried_again_and_keeps_its_write() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        config(sandbox, listen, 2).replace(
            "pause_before_cutover = true",
            "pause_before_cutover = true\ncutover_hold_ms = 300",
        )
    })
    .await;
    fill(&env, 1..=300).await;
    let (target_path, target) = write_target(&env);
    let mut admin = connect_admin(env.port).await;
    let id = start(&mut admin, &target_path, None).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    let key = *moving(&env.topology, &target, "accounts", 1..=300)
        .iter()
        .next()
        .unwrap();
    let mut open = env.connect().await;
    open.query_drop("BEGIN").await.unwrap();
    open.query_drop(format!(
        "UPDATE accounts SET balance = 4242 WHERE id = {key}"
    ))
    .await
    .unwrap();
    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let rows = crate::reshard_copy::migration_rows(&mut admin, &id).await;
        let why = rows[0]["last_error"].clone().unwrap_or_default();
        if why.contains("cutover abandoned") {
            assert!(why.contains("did not end"), "{why}");
            assert_eq!(rows[0]["phase"].as_deref(), Some("catching_up"), "{rows:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    open.query_drop("COMMIT").await.unwrap();
    wait_for_phase(&mut admin, &id, "done").await;
    let mut s2 = env.connect_primary(2).await;
    let balance: Option<f64> = s2
        .query_first(format!("SELECT balance FROM accounts WHERE id = {key}"))
        .await
        .unwrap()
        .flatten();
    assert_eq!(balance, Some(4242.0));
    let mut app = env.connect().await;
    assert_eq!(balances(&mut app).await.get(&key), Some(&Some(4242.0)));
    drop((admin, open, app, s2));
    env.stop().await;
}
