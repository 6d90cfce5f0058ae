//! Lookup consistency under faults (issue #14): clients insert rows, change their emails and
//! delete them through two proxies (this process's and a `shardgate serve` child) while the
//! child is killed with SIGKILL several times and a shard primary restarts once. Afterwards
//! `lookup verify` finds no row missing from the lookup (stale lookup rows are allowed), after
//! `--repair` nothing at all, and every row is found by its email. A backfill run while
//! clients write leaves no row unreachable either.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Opts;

use crate::common::{connect_when_up, spawn_serve, TestEnv};

/// One client: inserts rows with ids of its own range, changes the email of one of its rows
/// or deletes one, in turn, until `stop`; any error (a killed proxy, a restarting shard)
/// costs the connection, which it opens again. Returns how many statements succeeded.
async fn churn(opts: Opts, client: u64, stop: Arc<AtomicBool>) -> u64 {
    let mut conn = connect_when_up(&opts).await;
    let mut done = 0;
    let mut step = 0u64;
    let base = 1_000_000 * (client + 1);
    while !stop.load(Ordering::Relaxed) {
        step += 1;
        let id = base + step / 3;
        let sql = match step % 3 {
            0 => format!(
                "INSERT INTO users (id, email, name) VALUES ({id}, 'c{client}-{step}@x', 'n')"
            ),
            // By id, or (every other time) by a range: a located UPDATE, its rows locked and
            // their lookup rows written first.
            1 if step % 2 == 0 => format!(
                "UPDATE users SET email = 'c{client}-{step}-u@x' WHERE id BETWEEN {id} AND {id}",
                id = base + step / 6
            ),
            1 => format!(
                "UPDATE users SET email = 'c{client}-{step}-u@x' WHERE id = {}",
                base + step / 6
            ),
            _ => format!("DELETE FROM users WHERE id = {}", base + step / 9),
        };
        match conn.query_drop(&sql).await {
            Ok(()) => done += 1,
            Err(mysql_async::Error::Server(e)) if e.code != 1927 && e.code != 2013 => {}
            Err(_) => {
                let _ = conn.disconnect().await;
                conn = connect_when_up(&opts).await;
            }
        }
    }
    let _ = conn.disconnect().await;
    done
}

/// Asserts that every row on every shard is found by its email through the proxy (a prepared
/// read routed by the lookup); returns how many rows there are.
async fn every_row_found_by_its_email(env: &TestEnv) -> usize {
    let mut conn = env.connect().await;
    let mut rows = 0;
    for shard in 0..env.topology.shards.len() {
        let mut direct = env.connect_primary(shard).await;
        let all: Vec<(i64, String)> = direct.query("SELECT id, email FROM users").await.unwrap();
        direct.disconnect().await.unwrap();
        for (id, email) in all {
            let found: Vec<i64> = conn
                .exec("SELECT id FROM users WHERE email = ?", (email.as_str(),))
                .await
                .unwrap();
            assert_eq!(found, [id], "{email}");
            rows += 1;
        }
    }
    conn.disconnect().await.unwrap();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lookups_stay_consistent_under_kill_9_and_a_primary_restart() {
    const CLIENTS: u64 = 6;
    let env = crate::lookups::start(3).await;
    let (second, port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("second.log");
    let mut child = spawn_serve(&second, &log);
    let second_opts = Opts::from(env.opts().tcp_port(port));
    connect_when_up(&second_opts)
        .await
        .disconnect()
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let opts = match client % 2 {
                0 => Opts::from(env.opts()),
                _ => second_opts.clone(),
            };
            tokio::spawn(churn(opts, client, stop.clone()))
        })
        .collect();
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        if round == 1 {
            let primary = &env.sandbox.shards()[1].primary;
            env.sandbox.restart(primary).await.unwrap();
        }
        child = spawn_serve(&second, &log);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let mut statements = 0;
    for client in futures_util::future::join_all(clients).await {
        statements += client.unwrap();
    }
    drop(child);
    assert!(statements > 100, "only {statements} statements ran");

    let verify = |repair| {
        let runtime = env.proxy.runtime();
        async move {
            shardgate_server::verify_lookups(&runtime, "users", repair, 500)
                .await
                .unwrap()
                .remove(0)
        }
    };
    let report = verify(false).await;
    eprintln!("{statements} statements; before repair: {report:?}");
    assert_eq!(
        report.missing, 0,
        "rows unreachable by their email: {report:?}"
    );
    verify(true).await;
    let report = verify(false).await;
    assert_eq!((report.missing, report.stale), (0, 0), "{report:?}");

    let rows = every_row_found_by_its_email(&env).await;
    assert!(rows > 10, "only {rows} rows left");
    env.stop().await;
}

/// `lookup backfill` indexes rows that were there before the lookup while clients insert,
/// change emails and delete through the proxy: afterwards no row is missing from the lookup
/// and every row, old and new, is found by its email.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backfill_while_traffic_runs_leaves_no_row_unreachable() {
    const CLIENTS: u64 = 3;
    let env = crate::lookups::start(3).await;
    let runtime = env.proxy.runtime();
    // Rows from before the lookup, written on their shards behind the proxy.
    for shard in 0..env.topology.shards.len() {
        let ids: Vec<String> = (1..=600)
            .filter(|id| env.shard_of("users", i128::from(*id)) == shard)
            .map(|id| format!("({id}, 'old{id}@x', 'o')"))
            .collect();
        let mut direct = env.connect_primary(shard).await;
        direct
            .query_drop(format!(
                "INSERT INTO users (id, email, name) VALUES {}",
                ids.join(", ")
            ))
            .await
            .unwrap();
        direct.disconnect().await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(churn(Opts::from(env.opts()), client, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Small pages: the backfill interleaves with the clients' writes.
    let filled = shardgate_server::backfill_lookups(&runtime, "users", 13)
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut statements = 0;
    for client in futures_util::future::join_all(clients).await {
        statements += client.unwrap();
    }
    assert!(filled[0].1 >= 600, "{filled:?}");
    assert!(statements > 30, "only {statements} statements ran");

    let report = shardgate_server::verify_lookups(&runtime, "users", false, 500)
        .await
        .unwrap()
        .remove(0);
    eprintln!("{statements} statements during the backfill; {report:?}");
    assert_eq!(
        report.missing, 0,
        "rows unreachable by their email: {report:?}"
    );
    let rows = every_row_found_by_its_email(&env).await;
    assert!(rows >= 600, "only {rows} rows");
    env.stop().await;
}
