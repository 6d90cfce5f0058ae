//! Issue #15's "Shown by": a split from 2 shards (with replicas) to 3 while 8 clients write
//! and read through the proxy, each knowing what its keys must hold
//! (`tests/common/live_load.rs`); afterwards every row is on the shard its key maps to and the
//! rows equal the expected ones. `items` is on a ring (s2 joins it) and `ledger` by key ranges
//! (s2 takes `[1000, 1500)` from s1).
//!
//! The tests print the clients' figures (statements, errors by code, the slowest statement:
//! the write pause as the clients saw it) and the rows per shard; `--nocapture` shows them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};
use shardgate_config::Topology;
use shardgate_sandbox::Sandbox;

use crate::common::live_load::{self, LiveLoad, LoadReport, LoadSpec, Model, TABLES};
use crate::common::TestEnv;

const ADMIN: &str = "[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

/// The first `shards` of the sandbox (with their replicas), an admin account, `items` on a
/// ring and `ledger` by ranges.
fn config(sandbox: &Sandbox, listen: &str, shards: usize, cutover: Cutover) -> String {
    let names = ["s0", "s1", "s2"];
    let text = crate::common::config_with_shards(sandbox, listen, &names[..shards], true);
    let ranges = match shards {
        2 => r#"[{ shard = "s0", end = 1000 }, { shard = "s1", start = 1000 }]"#,
        _ => {
            r#"[{ shard = "s0", end = 1000 }, { shard = "s2", start = 1000, end = 1500 }, { shard = "s1", start = 1500 }]"#
        }
    };
    let resharding = match cutover {
        Cutover::Automatic => "",
        Cutover::Paused => "[resharding]\npause_before_cutover = true\n",
    };
    text + ADMIN
        + resharding
        + &format!(
            "[[tables]]\nname = \"items\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n\
             [[tables]]\nname = \"ledger\"\nshard_key = \"id\"\nstrategy = \"range\"\nranges = {ranges}\n"
        )
}

/// Three shards with a replica each, the proxy serving the first two, both tables there, the
/// seeded rows (every even key) and the target file (all three shards).
/// Whether the workflow goes on to its cutover by itself, or waits before it (the tests of the
/// copy and of a cancel before the cutover).
#[derive(Clone, Copy)]
enum Cutover {
    Automatic,
    Paused,
}

struct Split {
    env: TestEnv,
    spec: LoadSpec,
    seeded: Model,
    target_path: PathBuf,
    target: Topology,
}

impl Split {
    async fn start(cutover: Cutover) -> Split {
        let env =
            TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2, cutover))
                .await;
        for shard in &env.sandbox.shards()[..2] {
            for table in TABLES {
                (env.sandbox)
                    .exec_in(
                        &shard.primary,
                        shardgate_sandbox::DATABASE,
                        &live_load::create_table(table),
                    )
                    .await
                    .unwrap();
            }
        }
        let spec = LoadSpec::default();
        let seeded = live_load::seed(&mut env.connect().await, &spec).await;
        // The clients' first reads of seeded rows may go to replicas.
        (env.sandbox)
            .wait_replicas_synced(Duration::from_secs(60))
            .await
            .unwrap();
        let listen = format!("127.0.0.1:{}", env.port);
        let text = config(&env.sandbox, &listen, 3, cutover);
        let target_path = env.sandbox.dir().join("target.toml");
        std::fs::write(&target_path, &text).unwrap();
        let target = shardgate_config::parse(&text, "target.toml").unwrap();
        Split {
            env,
            spec,
            seeded,
            target_path,
            target,
        }
    }

    /// The load on the proxy at `port`.
    async fn load(&self, port: u16) -> LiveLoad {
        let opts = Opts::from(self.env.opts().tcp_port(port));
        LiveLoad::start(opts, self.spec, &self.seeded).await
    }
}

/// Whether `check` fails (the checker panics, naming what it found).
async fn fails(check: impl std::future::Future<Output = live_load::Placed>) -> bool {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(check)
        .catch_unwind()
        .await
        .is_err()
}

/// Prints what the clients saw and what the checker found.
fn report(test: &str, load: &LoadReport, placed: &live_load::Placed) {
    eprintln!(
        "{test}: {}; {} keys left uncertain; rows: {placed}",
        load.figures,
        load.uncertain.len()
    );
}

async fn connect_admin(port: u16) -> Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("ops"))
        .pass(Some("ops-secret"))
        .prefer_socket(false);
    crate::common::connect_when_up(&Opts::from(opts)).await
}

async fn start(conn: &mut Conn, target: &Path, rows_per_second: u64) -> String {
    let sql = format!(
        "SHARDGATE RESHARD START '{}' ROWS_PER_SECOND {rows_per_second}",
        target.display()
    );
    let id: Option<String> = conn.query_first(sql).await.unwrap();
    id.unwrap()
}

/// A result's rows by column name.
fn named(result: Vec<Row>) -> Vec<HashMap<String, Option<String>>> {
    (result.into_iter())
        .map(|row| {
            let names: Vec<String> = (row.columns_ref().iter())
                .map(|c| c.name_str().into_owned())
                .collect();
            (names.into_iter().enumerate())
                .map(|(i, name)| (name, row.get::<Option<String>, _>(i).flatten()))
                .collect()
        })
        .collect()
}

/// `SHOW SHARDGATE MIGRATIONS` rows (one per flow) of migration `id`.
async fn flows(conn: &mut Conn, id: &str) -> Vec<HashMap<String, Option<String>>> {
    let result: Vec<Row> = conn.query("SHOW SHARDGATE MIGRATIONS").await.unwrap();
    (named(result).into_iter())
        .filter(|row| row["id"].as_deref() == Some(id))
        .collect()
}

/// The workflow's phases in order; `cancelled` and `failed` end it otherwise.
const PHASES: [&str; 8] = [
    "planned",
    "copying",
    "copied",
    "catching_up",
    "cutover",
    "verifying",
    "cleaning_up",
    "done",
];

fn rank(phase: &str) -> usize {
    (PHASES.iter().position(|p| *p == phase))
        .unwrap_or_else(|| panic!("the migration ended {phase}"))
}

/// Waits (up to 5 minutes) until migration `id` is in `phase` or past it, polling every 10 ms
/// through the admin connection (reopened if the proxy restarts); the phase it is in then.
async fn wait_for_phase(port: u16, admin: &mut Conn, id: &str, phase: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let rows = match admin.query::<Row, _>("SHOW SHARDGATE MIGRATIONS").await {
            Ok(rows) => named(rows),
            Err(mysql_async::Error::Server(e)) => panic!("SHOW SHARDGATE MIGRATIONS: {e}"),
            Err(_) => {
                *admin = connect_admin(port).await;
                continue;
            }
        };
        let now = (rows.iter())
            .find(|r| r["id"].as_deref() == Some(id))
            .and_then(|r| r["phase"].clone())
            .unwrap_or_default();
        assert!(
            now != "failed" && now != "cancelled",
            "migration {id} ended {now}: {rows:?}"
        );
        if !now.is_empty() && rank(&now) >= rank(phase) {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "migration {id} never reached {phase}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until migration `id` copied some rows.
async fn wait_for_rows_copied(admin: &mut Conn, id: &str) {
    loop {
        let copied: u64 = (flows(admin, id).await.iter())
            .map(|r| {
                r["rows_copied"]
                    .as_deref()
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        if copied > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_load_without_migration() {
    let split = Split::start(Cutover::Paused).await;
    let load = split.load(split.env.port).await;
    load.run_for(2400).await;
    let load = load.stop().await;
    load.assert_clean();
    assert!(load.figures.errors.is_empty(), "{}", load.figures);
    assert!(load.uncertain.is_empty());
    assert!(
        load.figures.reads > 0 && load.figures.writes > 0,
        "{}",
        load.figures
    );
    let placed = live_load::check(&split.env.sandbox, &split.env.topology, &load).await;
    report("live_load_without_migration", &load, &placed);

    // The checker sees a changed value, and a row on the wrong shard.
    let (&(table, id), _) = load.expected.iter().next().unwrap();
    let shard = split.env.shard_of(table, i128::from(id));
    let mut owner = split.env.connect_primary(shard).await;
    let change = format!("UPDATE {table} SET version = version + 1 WHERE id = {id}");
    owner.query_drop(change).await.unwrap();
    assert!(
        fails(live_load::check(
            &split.env.sandbox,
            &split.env.topology,
            &load
        ))
        .await
    );
    let undo = format!("UPDATE {table} SET version = version - 1 WHERE id = {id}");
    owner.query_drop(undo).await.unwrap();
    let mut other = split.env.connect_primary(1 - shard).await;
    let row: Vec<Row> = owner
        .query(format!("SELECT * FROM {table} WHERE id = {id}"))
        .await
        .unwrap();
    let values: Vec<mysql_async::Value> = row[0].clone().unwrap();
    let marks = vec!["?"; values.len()].join(", ");
    (other.exec_drop(format!("INSERT INTO {table} VALUES ({marks})"), values))
        .await
        .unwrap();
    let remove = format!("DELETE FROM {table} WHERE id = {id}");
    owner.query_drop(remove).await.unwrap();
    assert!(
        fails(live_load::check(
            &split.env.sandbox,
            &split.env.topology,
            &load
        ))
        .await
    );
    drop((owner, other));
    split.env.stop().await;
}

/// The load runs through the copy and the catch-up (the workflow paused before its cutover),
/// then stops; RESUME cuts over, verifies, cleans up: every row where the target places it and
/// as the clients wrote it. (With writes going on through the verify, see `split_under_load`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_with_writes_through_copy_and_catch_up() {
    let split = Split::start(Cutover::Paused).await;
    let port = split.env.port;
    let mut admin = connect_admin(port).await;
    let load = split.load(port).await;
    let id = start(&mut admin, &split.target_path, 200).await;
    wait_for_phase(port, &mut admin, &id, "catching_up").await;
    load.run_for(400).await;
    let load = load.stop().await;
    load.assert_clean();
    assert!(load.figures.errors.is_empty(), "{}", load.figures);
    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    wait_for_phase(port, &mut admin, &id, "done").await;
    let placed = live_load::check(&split.env.sandbox, &split.target, &load).await;
    report(
        "split_with_writes_through_copy_and_catch_up",
        &load,
        &placed,
    );
    drop(admin);
    split.env.stop().await;
}

/// The full workflow while the load runs throughout: START, a VERIFY during the catch-up with
/// 0 mismatches, every phase to `done` (whose own verify after the cutover found 0), the rows
/// where the target places them (the sources cleaned) and as the clients wrote them; clients
/// see no error but documented retryable ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_under_load() {
    let split = Split::start(Cutover::Paused).await;
    let port = split.env.port;
    let mut admin = connect_admin(port).await;
    let load = split.load(port).await;
    load.run_for(400).await;
    let id = start(&mut admin, &split.target_path, 500).await;
    let mut seen = Vec::new();
    for phase in &PHASES[1..] {
        let now = wait_for_phase(port, &mut admin, &id, phase).await;
        if seen.last() == Some(&now) {
            continue;
        }
        seen.push(now.clone());
        if now == "catching_up" {
            // VERIFY while the clients write: the sources read in a snapshot, the catch-up
            // held at its position, so the two sides are compared at one point.
            load.run_for(200).await;
            let lag: Vec<_> = (flows(&mut admin, &id).await.iter())
                .map(|f| {
                    (
                        f["flow"].clone(),
                        f["catch_up_lag_events"].clone(),
                        f["catch_up_lag_seconds"].clone(),
                    )
                })
                .collect();
            eprintln!("catch-up lag under load (flow, events, seconds): {lag:?}");
            let (mismatches, keys) = crate::reshard_copy::verify(&mut admin, &id).await;
            assert_eq!((mismatches, keys), (0, Vec::<String>::new()));
            admin
                .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
                .await
                .unwrap();
        }
    }
    let at_done = flows(&mut admin, &id).await;
    // Writes after the cutover, to the new owners.
    load.run_for(800).await;
    let load = load.stop().await;
    load.assert_clean();
    let placed = live_load::check(&split.env.sandbox, &split.target, &load).await;
    eprintln!("phases seen: {seen:?}; at done: {at_done:?}");
    report("split_under_load", &load, &placed);
    drop(admin);
    split.env.stop().await;
}

/// As `split_under_load`, on a `shardgate serve` process killed (SIGKILL) during the copy and
/// again during catch-up, restarted on the same config each time; the clients reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_under_load_survives_kill_9_during_copy_and_catch_up() {
    let split = Split::start(Cutover::Automatic).await;
    let (config, port) = split.env.second_proxy_config();
    let log = split.env.sandbox.dir().join("serve.log");
    let mut serving = crate::common::spawn_serve(&config, &log);
    let mut admin = connect_admin(port).await;
    let load = split.load(port).await;
    load.run_for(400).await;
    // 100 rows/s: several seconds of copy.
    let id = start(&mut admin, &split.target_path, 100).await;
    wait_for_rows_copied(&mut admin, &id).await;
    let mut killed_in = Vec::new();
    for phase in ["copying", "catching_up"] {
        killed_in.push(wait_for_phase(port, &mut admin, &id, phase).await);
        serving = kill_and_restart(serving, &config, &log);
        admin = connect_admin(port).await;
        load.run_for(200).await;
    }
    wait_for_phase(port, &mut admin, &id, "done").await;
    load.run_for(800).await;
    let load = load.stop().await;
    load.assert_clean();
    assert!(load.figures.reconnects > 0, "{}", load.figures);
    // `done` means the workflow's own verify found 0 mismatches (a VERIFY after clean-up is
    // refused: the sources no longer hold the moved rows); the checker compares the rest.
    let placed = live_load::check(&split.env.sandbox, &split.target, &load).await;
    eprintln!("killed in phases {killed_in:?}");
    report("split_under_load_survives_kill_9", &load, &placed);
    drop((admin, serving));
    split.env.stop().await;
}

/// SIGKILLs a `shardgate serve` process and starts it again on the same config.
fn kill_and_restart(
    mut serving: crate::common::ServeProcess,
    config: &Path,
    log: &Path,
) -> crate::common::ServeProcess {
    serving.0.kill().unwrap();
    serving.0.wait().unwrap();
    crate::common::spawn_serve(config, log)
}

/// What the workflow survives today: the proxy (a process of its own) killed during the copy
/// while the clients write through it; they reconnect to the restarted proxy and go on, the
/// copy resumes, and a cancel leaves every write on 2 shards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_under_load_during_the_copy_then_a_cancel_keeps_every_write() {
    let split = Split::start(Cutover::Paused).await;
    let (config, port) = split.env.second_proxy_config();
    let log = split.env.sandbox.dir().join("serve.log");
    let serving = crate::common::spawn_serve(&config, &log);
    let mut admin = connect_admin(port).await;
    let load = split.load(port).await;
    let id = start(&mut admin, &split.target_path, 100).await;
    wait_for_rows_copied(&mut admin, &id).await;
    load.run_for(200).await;
    let serving = kill_and_restart(serving, &config, &log);
    let mut admin = connect_admin(port).await;
    load.run_for(400).await;
    let now = wait_for_phase(port, &mut admin, &id, "copying").await;
    admin
        .query_drop(format!("SHARDGATE RESHARD CANCEL {id}"))
        .await
        .unwrap();
    load.run_for(200).await;
    let load = load.stop().await;
    load.assert_clean();
    assert!(load.figures.reconnects > 0, "{}", load.figures);
    let placed = live_load::check(&split.env.sandbox, &split.env.topology, &load).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("resuming the migration's copy from its cursors"),
        "{text}"
    );
    eprintln!("cancelled in phase {now}");
    report("a_proxy_killed_under_load_during_the_copy", &load, &placed);
    drop((admin, serving));
    split.env.stop().await;
}

/// A cancel during the copy, with the load running before and after it: the proxy goes on
/// serving 2 shards, every write is kept on its source, and s2 holds no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_under_load_returns_to_two_shards_with_every_write_kept() {
    let split = Split::start(Cutover::Paused).await;
    let port = split.env.port;
    let mut admin = connect_admin(port).await;
    let load = split.load(port).await;
    let id = start(&mut admin, &split.target_path, 100).await;
    wait_for_rows_copied(&mut admin, &id).await;
    load.run_for(400).await;
    admin
        .query_drop(format!("SHARDGATE RESHARD CANCEL {id}"))
        .await
        .unwrap();
    load.run_for(400).await;
    let load = load.stop().await;
    load.assert_clean();
    assert!(load.figures.errors.is_empty(), "{}", load.figures);
    let placed = live_load::check(&split.env.sandbox, &split.env.topology, &load).await;
    report("a_cancel_under_load", &load, &placed);
    drop(admin);
    split.env.stop().await;
}

/// A cancel after the cutover, before clean-up: back to 2 shards, the writes made on the new
/// owners after the cutover kept on the sources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_after_the_cutover_returns_to_two_shards_with_every_write_kept() {
    let split = Split::start(Cutover::Automatic).await;
    let port = split.env.port;
    let mut admin = connect_admin(port).await;
    let load = split.load(port).await;
    let id = start(&mut admin, &split.target_path, 500).await;
    // Cancelled as soon as the cutover is seen (polled every 10 ms): before clean-up.
    let now = wait_for_phase(port, &mut admin, &id, "cutover").await;
    assert!(
        now == "cutover" || now == "verifying",
        "the cancel comes before clean-up, not in {now}"
    );
    admin
        .query_drop(format!("SHARDGATE RESHARD CANCEL {id}"))
        .await
        .unwrap();
    // The moved rows' copies, deleted from s2 once the 2 shards serve again.
    let removed = admin.affected_rows();
    assert!(removed > 0, "{removed}");
    let after = flows(&mut admin, &id).await;
    assert!(
        after
            .iter()
            .all(|f| f["phase"].as_deref() == Some("cancelled")),
        "{after:?}"
    );
    load.run_for(400).await;
    let load = load.stop().await;
    load.assert_clean();
    // Every row on the shard the 2-shard topology gives it (none left on s2), as written.
    let placed = live_load::check(&split.env.sandbox, &split.env.topology, &load).await;
    eprintln!("cancelled in phase {now}: {removed} rows removed from s2");
    report("a_cancel_after_the_cutover", &load, &placed);
    drop(admin);
    split.env.stop().await;
}
