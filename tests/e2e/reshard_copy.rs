//! Issue #15's copy phase, verify and the admin statements that drive them, against real
//! MariaDB: two shards with replicas, a `ring` table and a `range` table (composite primary
//! key) with NULLs, strings, doubles, floats, temporal and BIT values, copied to a three-shard
//! target (s2 joins the ring and takes `[100, 200)` of the ranges).

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};
use shardgate_config::Topology;
use shardgate_sandbox::Sandbox;

use crate::common::{rows, server_error, TestEnv};

/// An admin account; migrations stop before their cutover, so the copies can be looked at.
const ADMIN: &str = "[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n\
    [resharding]\npause_before_cutover = true\n";

/// The first `shards` of the sandbox (with their replicas), an admin account, `accounts` on a
/// ring and `events` by ranges.
pub(crate) fn config(sandbox: &Sandbox, listen: &str, shards: usize) -> String {
    let names = ["s0", "s1", "s2"];
    let text = crate::common::config_with_shards(sandbox, listen, &names[..shards], true);
    let ranges = match shards {
        2 => r#"[{ shard = "s0", end = 100 }, { shard = "s1", start = 100 }]"#,
        _ => {
            r#"[{ shard = "s0", end = 100 }, { shard = "s2", start = 100, end = 200 }, { shard = "s1", start = 200 }]"#
        }
    };
    text + ADMIN
        + &format!(
            "[[tables]]\nname = \"accounts\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n\
             [[tables]]\nname = \"events\"\nshard_key = \"id\"\nstrategy = \"range\"\nranges = {ranges}\n"
        )
}

const ACCOUNTS: &str = "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(64) NULL, \
    balance DOUBLE NULL, ratio FLOAT NULL, opened DATETIME(6) NULL, flags BIT(5) NULL, note TEXT NULL)";
const EVENTS: &str = "CREATE TABLE events (id BIGINT NOT NULL, seq INT NOT NULL, \
    payload VARBINARY(16) NULL, amount DECIMAL(12,3) NULL, PRIMARY KEY (id, seq))";

/// Creates both tables on the two serving shards only (the copy creates them on s2) and
/// writes `ids` through the proxy: one `accounts` row and two `events` rows each.
pub(crate) async fn fill(env: &TestEnv, ids: std::ops::RangeInclusive<i64>) {
    for shard in &env.sandbox.shards()[..2] {
        for sql in [ACCOUNTS, EVENTS] {
            (env.sandbox)
                .exec_in(&shard.primary, shardgate_sandbox::DATABASE, sql)
                .await
                .unwrap();
        }
    }
    let mut conn = env.connect().await;
    let accounts: Vec<String> = ids
        .clone()
        .map(|id| {
            let name = match id % 7 {
                0 => "NULL".to_owned(),
                _ => format!("'o''neil ü {id}'"),
            };
            format!(
                "({id}, {name}, {id} / 3.0e0 + 0.1e0, {id} / 7.0e0, '2024-02-29 12:34:56.{:06}' + INTERVAL {id} SECOND, b'{:05b}', IF({id} % 5 = 0, NULL, REPEAT('x', {id})))",
                id * 7 % 1_000_000,
                id % 32
            )
        })
        .collect();
    conn.query_drop(format!(
        "INSERT INTO accounts VALUES {}",
        accounts.join(", ")
    ))
    .await
    .unwrap();
    let events: Vec<String> = ids
        .flat_map(|id| {
            [1, 2]
                .map(|seq| format!("({id}, {seq}, X'00{id:04x}ff', IF({seq} = 2, NULL, {id}.125))"))
        })
        .collect();
    conn.query_drop(format!("INSERT INTO events VALUES {}", events.join(", ")))
        .await
        .unwrap();
}

pub(crate) async fn connect_admin(port: u16) -> Conn {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("ops"))
        .pass(Some("ops-secret"))
        .prefer_socket(false);
    crate::common::connect_when_up(&Opts::from(opts)).await
}

/// The target config's text, written beside the sandbox.
pub(crate) fn write_target(env: &TestEnv) -> (std::path::PathBuf, Topology) {
    let listen = format!("127.0.0.1:{}", env.port);
    let text = config(&env.sandbox, &listen, 3);
    let path = env.sandbox.dir().join("target.toml");
    std::fs::write(&path, &text).unwrap();
    (path, shardgate_config::parse(&text, "target.toml").unwrap())
}

/// Where `topology` places key `id` of `table`, by shard name.
pub(crate) fn owner(topology: &Topology, table: &str, id: i64) -> String {
    let rule = topology.table(table).unwrap();
    let shard = rule
        .shard_for(&shardgate_ring::KeyValue::Int(i128::from(id)))
        .unwrap();
    topology.shards[shard].name.clone()
}

/// The ids of `table` whose owner changes to s2.
pub(crate) fn moving(
    serving: &Topology,
    target: &Topology,
    table: &str,
    ids: impl Iterator<Item = i64>,
) -> BTreeSet<i64> {
    ids.filter(|id| owner(target, table, *id) == "s2" && owner(serving, table, *id) != "s2")
        .collect()
}

/// `SHOW SHARDGATE MIGRATIONS` rows of migration `id`, by column name.
pub(crate) async fn migration_rows(
    conn: &mut Conn,
    id: &str,
) -> Vec<std::collections::HashMap<String, Option<String>>> {
    let result: Vec<Row> = conn.query("SHOW SHARDGATE MIGRATIONS").await.unwrap();
    result
        .into_iter()
        .map(|row| {
            let names: Vec<String> = row
                .columns_ref()
                .iter()
                .map(|c| c.name_str().into_owned())
                .collect();
            (names.into_iter().enumerate())
                .map(|(i, name)| (name, row.get::<Option<String>, _>(i).flatten()))
                .collect::<std::collections::HashMap<_, _>>()
        })
        .filter(|row| row["id"].as_deref() == Some(id))
        .collect()
}

/// Waits (up to 5 minutes) until migration `id` is in `phase`; its rows then.
pub(crate) async fn wait_for_phase(
    conn: &mut Conn,
    id: &str,
    phase: &str,
) -> Vec<std::collections::HashMap<String, Option<String>>> {
    for _ in 0..3000 {
        let rows = migration_rows(conn, id).await;
        if rows.iter().all(|r| r["phase"].as_deref() == Some(phase)) && !rows.is_empty() {
            return rows;
        }
        let failed = rows
            .iter()
            .find(|r| r["phase"].as_deref() == Some("failed"));
        assert!(failed.is_none(), "{failed:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "migration {id} never reached {phase}: {:?}",
        migration_rows(conn, id).await
    );
}

/// Rows copied so far by migration `id`, over its flows.
async fn rows_copied(conn: &mut Conn, id: &str) -> u64 {
    (migration_rows(conn, id).await.iter())
        .map(|r| {
            r["rows_copied"]
                .as_deref()
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap()
        })
        .sum()
}

/// Every row of `table` on a primary whose key is in `ids` (all its rows with `None`), in
/// key order, as text.
pub(crate) async fn rows_on(
    conn: &mut Conn,
    table: &str,
    ids: Option<&BTreeSet<i64>>,
) -> Vec<Vec<Option<String>>> {
    let order = if table == "events" { "id, seq" } else { "id" };
    let all = rows(conn, &format!("SELECT * FROM {table} ORDER BY {order}")).await;
    (all.into_iter())
        .filter(|r| {
            ids.is_none_or(|ids| ids.contains(&r[0].as_deref().unwrap().parse::<i64>().unwrap()))
        })
        .collect()
}

/// Checks s2 holds the moving rows of `ids` of both tables as the sources hold them (and, if
/// `only`, no other row).
async fn assert_copied(
    env: &TestEnv,
    target: &Topology,
    ids: std::ops::RangeInclusive<i64>,
    only: bool,
) {
    let mut new_owner = env.connect_primary(2).await;
    for table in ["accounts", "events"] {
        let moving = moving(&env.topology, target, table, ids.clone());
        assert!(!moving.is_empty(), "{table}: some keys move");
        let mut expected = Vec::new();
        for shard in 0..2 {
            let mut source = env.connect_primary(shard).await;
            expected.extend(rows_on(&mut source, table, Some(&moving)).await);
        }
        expected.sort_by_key(|r| (r[0].clone().unwrap().parse::<i64>().unwrap(), r[1].clone()));
        let copied = rows_on(&mut new_owner, table, (!only).then_some(&moving)).await;
        assert_eq!(
            copied.len(),
            expected.len(),
            "{table}: the moving rows, only they"
        );
        assert_eq!(copied, expected, "{table}: exact values");
    }
}

/// `SHARDGATE RESHARD VERIFY`: the mismatches of each flow, and its keys.
pub(crate) async fn verify(conn: &mut Conn, id: &str) -> (u64, Vec<String>) {
    let result: Vec<Row> = conn
        .query(format!("SHARDGATE RESHARD VERIFY {id}"))
        .await
        .unwrap();
    let mut mismatches = 0;
    let mut keys = Vec::new();
    for row in result {
        mismatches += row.get::<String, _>(7).unwrap().parse::<u64>().unwrap();
        let listed = row
            .get::<Option<String>, _>(8)
            .flatten()
            .unwrap_or_default();
        keys.extend(
            listed
                .split("; ")
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
        );
    }
    (mismatches, keys)
}

pub(crate) async fn start(
    conn: &mut Conn,
    target: &std::path::Path,
    rows_per_second: Option<u64>,
) -> String {
    let rate = rows_per_second.map_or(String::new(), |n| format!(" ROWS_PER_SECOND {n}"));
    let sql = format!("SHARDGATE RESHARD START '{}'{rate}", target.display());
    let id: Option<String> = conn.query_first(sql).await.unwrap();
    id.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_puts_every_moving_row_on_its_new_owner_and_verify_finds_what_differs() {
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    let (target_path, target) = write_target(&env);
    let mut admin = connect_admin(env.port).await;

    // Only admin users drive migrations.
    let mut app = env.connect().await;
    let (code, _, message) = server_error(app.query_drop("SHOW SHARDGATE MIGRATIONS").await);
    assert_eq!(code, 1227, "{message}");

    let started = std::time::Instant::now();
    let id = start(&mut admin, &target_path, None).await;
    let done = wait_for_phase(&mut admin, &id, "catching_up").await;
    // A figure for the README, not a bound.
    let copied = rows_copied(&mut admin, &id).await;
    eprintln!(
        "copied {copied} rows in {:?} at the default rate",
        started.elapsed()
    );
    assert_eq!(
        done.len(),
        3,
        "accounts s0 → s2, s1 → s2; events s1 → s2: {done:?}"
    );
    for flow in &done {
        assert_eq!(flow["percent"].as_deref(), Some("100.0"), "{flow:?}");
        assert!(
            flow["snapshot_gtid"]
                .as_deref()
                .is_some_and(|g| g.contains('-')),
            "{flow:?}"
        );
    }
    assert_copied(&env, &target, 1..=300, true).await;
    let counted = shardgate_metrics::metrics()
        .migration
        .rows_copied_total
        .get();
    assert!(counted >= copied, "{counted} rows counted, {copied} copied");

    // A second migration waits for this one.
    let (code, _, message) = server_error(
        admin
            .query_drop(format!(
                "SHARDGATE RESHARD START '{}'",
                target_path.display()
            ))
            .await,
    );
    assert_eq!(code, 1105, "{message}");
    assert!(
        message.contains(&format!("migration {id} is catching_up")),
        "{message}"
    );

    assert_eq!(verify(&mut admin, &id).await, (0, Vec::new()));
    // Behind the proxy's back: one copied row changed, one removed, on the new owner.
    let accounts = moving(&env.topology, &target, "accounts", 1..=300);
    let mut ids = accounts.iter();
    let (changed, removed) = (*ids.next().unwrap(), *ids.next().unwrap());
    let mut new_owner = env.connect_primary(2).await;
    new_owner
        .query_drop(format!(
            "UPDATE accounts SET balance = balance + 1e-9 WHERE id = {changed}"
        ))
        .await
        .unwrap();
    new_owner
        .query_drop("DELETE FROM events WHERE id = 150 AND seq = 2")
        .await
        .unwrap();
    new_owner
        .query_drop(format!("DELETE FROM accounts WHERE id = {removed}"))
        .await
        .unwrap();
    let (mismatches, keys) = verify(&mut admin, &id).await;
    assert_eq!(mismatches, 3, "{keys:?}");
    assert!(keys.contains(&format!("different ({changed})")), "{keys:?}");
    assert!(keys.contains(&format!("missing ({removed})")), "{keys:?}");
    assert!(keys.contains(&"missing (150, 2)".to_owned()), "{keys:?}");

    // Bad statements get clear errors.
    let (code, _, message) = server_error(admin.query_drop("SHARDGATE RESHARD VERIFY 999").await);
    assert_eq!((code, message.as_str()), (1210, "no migration 999"));
    let (code, _, message) = server_error(admin.query_drop("SHARDGATE RESHARD PAUSE").await);
    assert_eq!(code, 1064, "{message}");
    let (code, _, message) = server_error(admin.query_drop("SHARDGATE RESHARD PAUSE 999").await);
    assert_eq!((code, message.as_str()), (1210, "no migration 999"));
    drop((admin, app, new_owner));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_copy_stops_and_a_cancel_removes_the_copied_rows() {
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    let (target_path, _) = write_target(&env);
    let mut admin = connect_admin(env.port).await;
    let id = start(&mut admin, &target_path, Some(20)).await;
    while rows_copied(&mut admin, &id).await == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admin
        .query_drop(format!("SHARDGATE RESHARD PAUSE {id}"))
        .await
        .unwrap();
    // The page under way when the pause came may still land.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused_at = rows_copied(&mut admin, &id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rows_copied(&mut admin, &id).await,
        paused_at,
        "a paused copy copies nothing"
    );
    let flows = migration_rows(&mut admin, &id).await;
    assert!(
        flows.iter().all(|f| f["paused"].as_deref() == Some("yes")),
        "{flows:?}"
    );

    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    while rows_copied(&mut admin, &id).await == paused_at {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    admin
        .query_drop(format!("SHARDGATE RESHARD CANCEL {id}"))
        .await
        .unwrap();
    assert!(admin.affected_rows() > 0, "the copied rows were removed");
    let mut new_owner = env.connect_primary(2).await;
    for table in ["accounts", "events"] {
        // A flow the copy had not reached yet did not create its table there.
        let count: mysql_async::Result<Option<u64>> = new_owner
            .query_first(format!("SELECT COUNT(*) FROM {table}"))
            .await;
        match count {
            Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1146, "{e}"),
            other => assert_eq!(other.unwrap(), Some(0), "{table}"),
        }
    }
    let flows = migration_rows(&mut admin, &id).await;
    assert!(
        flows
            .iter()
            .all(|f| f["phase"].as_deref() == Some("cancelled")),
        "{flows:?}"
    );
    // The sources keep every row.
    let mut app = env.connect().await;
    let count: Option<u64> = app
        .query_first("SELECT COUNT(*) FROM accounts")
        .await
        .unwrap();
    assert_eq!(count, Some(300));
    drop((admin, app, new_owner));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_mid_copy_resumes_from_the_cursor_and_ends_identical() {
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    let (target_path, target) = write_target(&env);
    let to_copy = moving(&env.topology, &target, "accounts", 1..=300).len() as u64
        + 2 * moving(&env.topology, &target, "events", 1..=300).len() as u64;
    // A `shardgate serve` process of its own, which the test can kill.
    let (config, port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("serve.log");
    let mut serving = crate::common::spawn_serve(&config, &log);
    let mut admin = connect_admin(port).await;
    // 100 rows/s: pages of 10 rows, a few seconds of copy.
    let id = start(&mut admin, &target_path, Some(100)).await;
    while rows_copied(&mut admin, &id).await < 30 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serving.0.kill().unwrap(); // SIGKILL
    serving.0.wait().unwrap();
    drop(admin);
    let mut admin = connect_admin(env.port).await;
    let copied_before = rows_copied(&mut admin, &id).await;
    assert!(
        copied_before < to_copy,
        "killed mid-copy: {copied_before} of {to_copy}"
    );

    let _restarted = crate::common::spawn_serve(&config, &log);
    let mut admin = connect_admin(port).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("resuming the migration's copy from its cursors"),
        "{text}"
    );
    // From the cursor: at most the page under way at the kill is copied again.
    let copied = rows_copied(&mut admin, &id).await;
    assert!(
        copied >= to_copy && copied <= to_copy + 10,
        "{copied} rows copied for {to_copy}"
    );
    assert_copied(&env, &target, 1..=300, true).await;
    assert_eq!(verify(&mut admin, &id).await, (0, Vec::new()));
    // The CLI says the same (and `verify` exits 0: nothing differs).
    let proxy = format!("127.0.0.1:{port}");
    let cli = |action: &str, id: Option<&str>| {
        let mut args = vec!["reshard", action, "--proxy", &proxy, "--user", "ops"];
        args.extend(["--password", "ops-secret"]);
        args.extend(id);
        crate::common::shardgate_cli(args)
    };
    let status = cli("status", None);
    assert!(
        status.contains(&format!(
            "migration {id} catching_up (paused): `accounts` s0 → s2: "
        )),
        "{status}"
    );
    assert!(status.contains("(100.0%)"), "{status}");
    let verified = cli("verify", Some(&id));
    assert!(
        verified.contains(
            "`events` s1 → s2: 200 rows on the source, 200 on the new owner, 0 mismatching"
        ),
        "{verified}"
    );
    drop(admin);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_finishes_while_clients_write() {
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    let (target_path, target) = write_target(&env);
    let mut admin = connect_admin(env.port).await;
    let id = start(&mut admin, &target_path, Some(200)).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // 4 clients: inserts of new keys, updates of keys 1..=40.
    let writers: Vec<_> = (0..4i64)
        .map(|client| {
            let (opts, stop) = (env.opts(), stop.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(Opts::from(opts)).await.unwrap();
                let mut i = 0i64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let new = 1000 + client * 10_000 + i;
                    conn.query_drop(format!(
                        "INSERT INTO accounts (id, name) VALUES ({new}, 'new')"
                    ))
                    .await
                    .unwrap();
                    let old = client * 10 + i % 10 + 1;
                    conn.query_drop(format!(
                        "UPDATE accounts SET balance = balance + 1 WHERE id = {old}"
                    ))
                    .await
                    .unwrap();
                    conn.query_drop(format!(
                        "UPDATE events SET amount = {i} WHERE id = {old} AND seq = 1"
                    ))
                    .await
                    .unwrap();
                    i += 1;
                }
                i
            })
        })
        .collect();
    wait_for_phase(&mut admin, &id, "catching_up").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        assert!(
            writer.await.unwrap() > 0,
            "the client wrote during the copy"
        );
    }
    // Rows nobody wrote during the copy are on their new owner as on their source.
    assert_copied(&env, &target, 41..=300, false).await;
    drop(admin);
    env.stop().await;
}

/// Not a test: the copy's and verify's rates, for the README. 20,000 `accounts` rows and
/// 20,000 `events` rows on two shards (about a third of each move), copied unthrottled to a
/// third. Run with
/// `cargo test --test e2e reshard_copy::copy_rate -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn copy_rate() {
    const IDS: i64 = 20_000;
    let env = TestEnv::start_rendered(3, 1, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=1).await;
    let mut conn = env.connect().await;
    conn.query_drop("DELETE FROM accounts").await.unwrap();
    conn.query_drop("DELETE FROM events").await.unwrap();
    for chunk in (1..=IDS).collect::<Vec<_>>().chunks(1000) {
        let accounts: Vec<String> = (chunk.iter())
            .map(|id| format!("({id}, 'name {id}', {id} / 3.0e0, {id} / 7.0e0, NOW(6), b'101', REPEAT('x', 100))"))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO accounts VALUES {}",
            accounts.join(", ")
        ))
        .await
        .unwrap();
        let events: Vec<String> = (chunk.iter())
            .map(|seq| format!("({}, {seq}, X'00ff', 1.5)", seq % 300))
            .collect();
        conn.query_drop(format!("INSERT INTO events VALUES {}", events.join(", ")))
            .await
            .unwrap();
    }
    let (target_path, _) = write_target(&env);
    let mut admin = connect_admin(env.port).await;
    let started = std::time::Instant::now();
    let id = start(&mut admin, &target_path, Some(1_000_000)).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    let elapsed = started.elapsed();
    let copied = rows_copied(&mut admin, &id).await;
    eprintln!(
        "copy: {copied} rows in {elapsed:?}: {:.0} rows/s",
        copied as f64 / elapsed.as_secs_f64()
    );
    let started = std::time::Instant::now();
    assert_eq!(verify(&mut admin, &id).await, (0, Vec::new()));
    let elapsed = started.elapsed();
    eprintln!(
        "verify: {copied} rows in {elapsed:?}: {:.0} rows/s",
        copied as f64 / elapsed.as_secs_f64()
    );
    drop((admin, conn));
    env.stop().await;
}
