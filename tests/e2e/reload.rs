//! Hot reload of the config file: a shard added while clients run, a broken file rejected while
//! the old topology keeps serving, and SIGHUP to the real binary closing a removed endpoint's
//! pool. Clients must not see one error caused by a reload.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use shardgate_sandbox::{Instance, Sandbox, SandboxSpec};

/// How long a test waits for something that should happen soon (a reload, a closed socket).
const PATIENCE: Duration = Duration::from_secs(60);
/// The watcher's poll interval in the in-process tests.
const POLL: Duration = Duration::from_millis(50);

const EVENTS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS events (id BIGINT PRIMARY KEY, task INT NOT NULL)";

/// A config over the first `shards` shards of `sandbox` (replicas included when `replicas`),
/// the proxy on `listen`, followed by `tail` (tables, settings).
fn render(sandbox: &Sandbox, listen: &str, shards: usize, replicas: bool, tail: &str) -> String {
    let names: Vec<&str> = sandbox.shards()[..shards]
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    crate::common::config_with_shards(sandbox, listen, &names, replicas) + tail
}

/// `events` placed by ranges of its id: [0, 1e6) on s0, [1e6, 2e6) on s1 and, with
/// `third_shard`, [2e6, …) on s2.
fn events_by_range(third_shard: bool) -> String {
    let ranges = if third_shard {
        r#"{ shard = "s0", end = 1000000 }, { shard = "s1", start = 1000000, end = 2000000 }, { shard = "s2", start = 2000000 }"#
    } else {
        r#"{ shard = "s0", end = 1000000 }, { shard = "s1", start = 1000000, end = 2000000 }"#
    };
    format!(
        "[[tables]]\nname = \"events\"\nshard_key = \"id\"\nstrategy = \"range\"\nranges = [{ranges}]\n"
    )
}

/// Replaces the file at `path` in one step, as editors and config management do.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A config directory laid out as Kubernetes mounts a ConfigMap: `shardgate.toml` →
/// `..data/shardgate.toml`, `..data` → `..<version>`; an update swaps the `..data` symlink.
struct ConfigMapDir {
    dir: PathBuf,
    versions: u32,
}

impl ConfigMapDir {
    fn new(dir: PathBuf, text: &str) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let mut cm = ConfigMapDir { dir, versions: 0 };
        cm.update(text);
        std::os::unix::fs::symlink("..data/shardgate.toml", cm.file()).unwrap();
        cm
    }

    fn file(&self) -> PathBuf {
        self.dir.join("shardgate.toml")
    }

    fn update(&mut self, text: &str) {
        self.versions += 1;
        let version = format!("..v{}", self.versions);
        std::fs::create_dir(self.dir.join(&version)).unwrap();
        std::fs::write(self.dir.join(&version).join("shardgate.toml"), text).unwrap();
        let tmp = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("..data")).unwrap();
    }
}

/// One more short wait for `what`, which should have happened within [`PATIENCE`] of `since`.
async fn pause(since: Instant, what: &str) {
    assert!(since.elapsed() < PATIENCE, "gave up waiting: {what}");
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// What the client tasks saw.
#[derive(Default)]
struct Tally {
    /// Statements that ran.
    ok: AtomicU64,
    /// Rows inserted on s2's range (possible only after the reload).
    third_shard_rows: AtomicU64,
    /// Failed statements and reads that did not find their row, each described.
    failures: std::sync::Mutex<Vec<String>>,
}

/// `tasks` clients, each inserting rows and reading each back by its key until `stop`; once
/// `third_shard` says so, each also writes keys on s2's range.
fn client_loop(
    env: &TestEnv,
    tasks: u32,
    table_sql: &'static str,
    third_shard: impl Fn() -> bool + Send + Sync + 'static,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let third_shard = Arc::new(third_shard);
    (0..tasks)
        .map(|task| {
            let opts = Opts::from(env.opts());
            let (stop, tally, third_shard) = (stop.clone(), tally.clone(), third_shard.clone());
            tokio::spawn(async move {
                let mut conn = Conn::new(opts).await.expect("connect through the proxy");
                let base = i64::from(task) * 100_000;
                let mut n = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let mut keys = vec![base + n, 1_000_000 + base + n];
                    let on_third = third_shard();
                    if on_third {
                        keys.push(2_000_000 + base + n);
                    }
                    for key in keys {
                        let insert =
                            format!("INSERT INTO {table_sql} (id, task) VALUES ({key}, {task})");
                        if let Err(e) = conn.query_drop(&insert).await {
                            tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("{insert}: {e}"));
                            continue;
                        }
                        let read = format!("SELECT task FROM {table_sql} WHERE id = ?");
                        match conn.exec_first::<u32, _, _>(&read, (key,)).await {
                            Ok(Some(t)) if t == task => {
                                tally.ok.fetch_add(2, Ordering::Relaxed);
                                if key >= 2_000_000 {
                                    tally.third_shard_rows.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            other => tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("{read} [{key}]: {other:?}")),
                        }
                    }
                }
                conn.disconnect().await.unwrap();
            })
        })
        .collect()
}

async fn count(sandbox: &Sandbox, inst: &Instance, sql: &str) -> u64 {
    let value = sandbox.scalar(inst, sql).await.unwrap();
    value.and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn reloads(result: &str) -> u64 {
    shardgate_metrics::metrics()
        .config_reloads_total
        .with_label_values(&[result])
        .get()
}

/// `shards` servers, the proxy configured with the first 2, and the events table on every one.
async fn events_env(shards: usize) -> TestEnv {
    let env = TestEnv::start_rendered(shards, 0, |sandbox, listen| {
        render(sandbox, listen, 2, false, &events_by_range(false))
    })
    .await;
    for shard in env.sandbox.shards() {
        let sql = EVENTS_TABLE;
        env.sandbox
            .exec_in(&shard.primary, shardgate_sandbox::DATABASE, sql)
            .await
            .unwrap();
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shard_added_to_a_configmap_is_used_while_clients_run_without_errors() {
    let env = events_env(3).await;
    let first_text = std::fs::read_to_string(&env.config_path).unwrap();
    let mut configmap = ConfigMapDir::new(env.sandbox.dir().join("configmap"), &first_text);
    tokio::spawn(shardgate_server::watch_config(
        env.proxy.clone(),
        configmap.file(),
        POLL,
    ));
    let pools_before: Vec<_> = (0..2)
        .map(|s| env.proxy.runtime().primary(s).clone())
        .collect();

    // Before the reload nothing routes to s2: its range does not exist yet.
    let mut conn = env.connect().await;
    let (code, _, _) = server_error(
        conn.query_drop("INSERT INTO events (id, task) VALUES (2999999, 0)")
            .await,
    );
    assert_eq!(code, 1526, "a key outside every range");

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let proxy = env.proxy.clone();
    let tasks = client_loop(
        &env,
        4,
        "events",
        move || proxy.runtime().version >= 2,
        stop.clone(),
        tally.clone(),
    );
    let since = Instant::now();
    while tally.ok.load(Ordering::Relaxed) < 200 {
        pause(since, "clients running").await;
    }

    let listen = format!("127.0.0.1:{}", env.port);
    configmap.update(&render(
        &env.sandbox,
        &listen,
        3,
        false,
        &events_by_range(true),
    ));
    let since = Instant::now();
    while env.proxy.runtime().version != 2 {
        pause(since, "the new topology serves").await;
    }
    while tally.third_shard_rows.load(Ordering::Relaxed) < 100 {
        pause(since, "clients write to the new shard").await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }

    assert_eq!(*tally.failures.lock().unwrap(), Vec::<String>::new());
    assert_eq!(env.proxy.runtime().version, 2, "one change, one reload");
    let runtime = env.proxy.runtime();
    assert_eq!(runtime.topology.shards.len(), 3);
    for (s, before) in pools_before.iter().enumerate() {
        assert!(
            Arc::ptr_eq(before, runtime.primary(s)),
            "the pool of unchanged shard {s} was carried over"
        );
    }
    // Every row sits on the shard its range names, s2 included.
    let shards = env.sandbox.shards();
    let placed = [
        (0, "id < 1000000"),
        (1, "id >= 1000000 AND id < 2000000"),
        (2, "id >= 2000000"),
    ];
    let mut total = 0;
    for (s, range) in placed {
        let primary = &shards[s].primary;
        let all = count(&env.sandbox, primary, "SELECT COUNT(*) FROM app.events").await;
        let own = count(
            &env.sandbox,
            primary,
            &format!("SELECT COUNT(*) FROM app.events WHERE {range}"),
        )
        .await;
        assert_eq!(all, own, "shard {s} holds only its range");
        total += all;
    }
    assert!(total > 0);
    let on_s2 = count(
        &env.sandbox,
        &shards[2].primary,
        "SELECT COUNT(*) FROM app.events",
    )
    .await;
    assert_eq!(on_s2, tally.third_shard_rows.load(Ordering::Relaxed));
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broken_file_is_rejected_and_the_old_topology_keeps_serving() {
    let env = events_env(2).await;
    let good = std::fs::read_to_string(&env.config_path).unwrap();
    tokio::spawn(shardgate_server::watch_config(
        env.proxy.clone(),
        env.config_path.clone(),
        POLL,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let tasks = client_loop(&env, 4, "events", || false, stop.clone(), tally.clone());
    let since = Instant::now();
    while tally.ok.load(Ordering::Relaxed) < 200 {
        pause(since, "clients running").await;
    }

    // Two problems: an unknown strategy and an unknown key.
    let broken = good.replace(
        "strategy = \"range\"",
        "strategy = \"ranged\"\ncolour = \"blue\"",
    );
    assert_ne!(broken, good);
    let errors_before = reloads("error");
    write_atomically(&env.config_path, &broken);
    let since = Instant::now();
    while reloads("error") == errors_before {
        pause(since, "the watcher rejects the file").await;
    }
    assert_eq!(env.proxy.runtime().version, 1, "the old topology serves");
    // The same file through the SIGHUP entry point: every problem, with file, line and key.
    let problems: Vec<String> = match env.proxy.reload_from(&env.config_path).await {
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
        Ok(outcome) => panic!("a broken file was applied: {outcome:?}"),
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    let file = env.config_path.display().to_string();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("{file}:")) && p.contains(": tables[0].strategy: ")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("colour")),
        "{problems:?}"
    );

    // Valid TOML that drops a shard holding rows is refused too: they would not be found.
    let listen = format!("127.0.0.1:{}", env.port);
    let one_shard = render(&env.sandbox, &listen, 1, false, "");
    write_atomically(&env.config_path, &one_shard);
    let problems = env.proxy.reload_from(&env.config_path).await.unwrap_err();
    assert!(
        problems
            .to_string()
            .contains("`events`: it was sharded and would be unsharded, and the table has rows"),
        "{problems}"
    );
    assert_eq!(env.proxy.runtime().version, 1, "the old topology serves");

    // A good file again is picked up: the watcher outlives rejected files.
    let fixed = good.replace(
        "[[tables]]",
        "[replication]\nmax_lag_seconds = 7\n[[tables]]",
    );
    write_atomically(&env.config_path, &fixed);
    let since = Instant::now();
    while env.proxy.runtime().version != 2 {
        pause(since, "the fixed file is applied").await;
    }
    let before = tally.ok.load(Ordering::Relaxed);
    while tally.ok.load(Ordering::Relaxed) < before + 100 {
        pause(since, "clients keep running").await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*tally.failures.lock().unwrap(), Vec::<String>::new());
    assert!(reloads("error") >= errors_before + 3);
    env.stop().await;
}

/// A shard added to a consistent-hash ring gives it part of every ring table's keys: rows
/// already written would be looked for on the new shard and not found. Such a reload is
/// refused, naming the table and what would move, while the table has rows; once it is empty
/// (or for a table that never had any) the new placement is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_would_strand_rows_is_refused_until_the_table_is_empty() {
    let tables =
        "[[tables]]\nname = \"accounts\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n\
                  [[tables]]\nname = \"drafts\"\nshard_key = \"id\"\nstrategy = \"hash_mod\"\n";
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        render(sandbox, listen, 2, false, tables)
    })
    .await;
    for shard in env.sandbox.shards() {
        for table in ["accounts", "drafts"] {
            let sql = format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, v INT)");
            (env.sandbox)
                .exec_in(&shard.primary, shardgate_sandbox::DATABASE, &sql)
                .await
                .unwrap();
        }
    }
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=200).map(|id| format!("({id}, {id})")).collect();
    conn.query_drop(format!("INSERT INTO accounts VALUES {}", values.join(", ")))
        .await
        .unwrap();

    let listen = format!("127.0.0.1:{}", env.port);
    write_atomically(
        &env.config_path,
        &render(&env.sandbox, &listen, 3, false, tables),
    );
    let problems = env.proxy.reload_from(&env.config_path).await.unwrap_err();
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problem = &problems[0];
    assert!(
        problem.contains("tables.accounts: `accounts`: ")
            && problem.contains("ring arcs")
            && problem.contains("would change shard")
            && problem.contains("has rows (on s0, s1)"),
        "{problem}"
    );
    assert_eq!(env.proxy.runtime().version, 1, "the old topology serves");
    let found: Vec<i64> = conn
        .query("SELECT id FROM accounts WHERE id IN (1, 100, 200) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(found, [1, 100, 200]);

    // Emptied, the table may move (drafts, empty all along, moved nothing to check).
    conn.query_drop("DELETE FROM accounts").await.unwrap();
    let outcome = env.proxy.reload_from(&env.config_path).await.unwrap();
    assert_eq!(outcome.version, 2);
    conn.query_drop(format!("INSERT INTO accounts VALUES {}", values.join(", ")))
        .await
        .unwrap();
    let on_s2 = accounts_on(&env, 2).await;
    assert!(on_s2 > 0, "the new shard owns part of the ring");
    let all: Vec<i64> = conn.query("SELECT id FROM accounts").await.unwrap();
    assert_eq!(all.len(), 200);
    env.stop().await;
}

/// The `shardgate serve` child; killed when dropped (also when the test panics).
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connections the proxy (its pool and its health check, both as the backend user) has open to
/// `inst`; `extra` narrows them down.
async fn proxy_connections(sandbox: &Sandbox, inst: &Instance, extra: &str) -> u64 {
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{}' {extra}",
        shardgate_sandbox::BACKEND_USER
    );
    count(sandbox, inst, &sql).await
}

async fn events_on(sandbox: &Sandbox, inst: &Instance, id: i64) -> bool {
    let sql = format!("SELECT COUNT(*) FROM app.events WHERE id = {id}");
    count(sandbox, inst, &sql).await == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_binary_and_a_removed_replica_loses_its_connections() {
    let mut sandbox = Sandbox::start(SandboxSpec::new(2, 1))
        .await
        .expect("sandbox starts");
    for shard in sandbox.shards() {
        let sql = EVENTS_TABLE;
        sandbox
            .exec_in(&shard.primary, shardgate_sandbox::DATABASE, sql)
            .await
            .unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    // Reads may use replicas; `events` is not sharded: it lives on s0.
    let eventual = "[replication]\nconsistency = \"eventual\"\n";
    let config = sandbox.dir().join("proxy.toml");
    write_atomically(&config, &render(&sandbox, &listen, 2, true, eventual));
    let log = std::fs::File::create(sandbox.dir().join("proxy.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--config-poll-interval-ms", "0"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start shardgate serve");
    let proxy = Proxy(child);
    let opts = Opts::from(
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some(shardgate_sandbox::PROXY_USER))
            .pass(Some(shardgate_sandbox::PROXY_PASSWORD))
            .db_name(Some(shardgate_sandbox::DATABASE))
            .prefer_socket(false),
    );
    let deadline = Instant::now() + PATIENCE;
    let mut conn = loop {
        match Conn::new(opts.clone()).await {
            Ok(conn) => break conn,
            Err(e) => {
                assert!(Instant::now() < deadline, "the proxy never answered: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let (s0, s1) = (&sandbox.shards()[0], &sandbox.shards()[1]);
    let replica = &s0.replicas[0];
    // Eventual reads of `events` make the pool of s0's replica open connections (in `app`;
    // the health check's connection has no database).
    let since = Instant::now();
    loop {
        conn.query_drop("SELECT COUNT(*) FROM events")
            .await
            .unwrap();
        if proxy_connections(&sandbox, replica, "AND DB = 'app'").await >= 1
            && proxy_connections(&sandbox, replica, "AND DB IS NULL").await >= 1
        {
            break;
        }
        pause(since, "the replica's pool and health check are connected").await;
    }

    // The new file drops s0's replica and moves `events` to s1; with polling off it waits
    // for SIGHUP.
    let events_on_s1 = "[[tables]]\nname = \"events\"\nshard_key = \"id\"\nstrategy = \"range\"\n\
                        ranges = [{ shard = \"s1\" }]\n";
    let mut second = render(
        &sandbox,
        &listen,
        2,
        true,
        &format!("{eventual}{events_on_s1}"),
    );
    second = second.replace(
        &format!("replicas = [\"{}\"]", replica.addr()),
        "replicas = []",
    );
    write_atomically(&config, &second);
    conn.query_drop("INSERT INTO events (id, task) VALUES (1, 0)")
        .await
        .unwrap();
    assert!(
        events_on(&sandbox, &s0.primary, 1).await,
        "no reload before SIGHUP"
    );
    // A prepared statement keeps working across the reload, planned again for the new topology.
    let insert_7 = conn
        .prep("INSERT INTO events (id, task) VALUES (7, 0)")
        .await
        .unwrap();
    conn.exec_drop(&insert_7, ()).await.unwrap();
    assert!(events_on(&sandbox, &s0.primary, 7).await);
    // The new file moves `events` off s0: a reload that would strand its rows is refused.
    conn.query_drop("DELETE FROM events").await.unwrap();

    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(proxy.0.id() as i32, libc::SIGHUP) }, 0);
    let since = Instant::now();
    // No write until the new file serves: a row written to s0 meanwhile would be stranded, and
    // the reload refused for it.
    let log = sandbox.dir().join("proxy.log");
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("config reloaded")
    {
        pause(since, "the reload is applied").await;
    }
    for id in 100.. {
        let insert = format!("INSERT INTO events (id, task) VALUES ({id}, 0)");
        conn.query_drop(insert).await.unwrap();
        if events_on(&sandbox, &s1.primary, id).await {
            break;
        }
        pause(since, "rows route to s1 after SIGHUP").await;
    }
    // Planned again: it goes to s1 now.
    conn.exec_drop(&insert_7, ()).await.unwrap();
    assert!(events_on(&sandbox, &s1.primary, 7).await);
    while proxy_connections(&sandbox, replica, "").await > 0 {
        pause(
            since,
            "the removed replica's pool and health check are closed",
        )
        .await;
    }
    // s1's replica stayed in the topology: its health check still runs.
    assert!(proxy_connections(&sandbox, &s1.replicas[0], "AND DB IS NULL").await >= 1);
    conn.disconnect().await.unwrap();
    drop(proxy);
    sandbox.stop().await;
}

/// The proxy's own database on the default shard (`[backend] own_database`'s default).
const OWN_DATABASE: &str = "_shardgate_app";

/// Rows of `accounts` on shard `shard`'s primary (read directly).
async fn accounts_on(env: &TestEnv, shard: usize) -> u64 {
    let sql = format!(
        "SELECT COUNT(*) FROM {}.accounts",
        shardgate_sandbox::DATABASE
    );
    count(&env.sandbox, &env.sandbox.shards()[shard].primary, &sql).await
}

/// A proxy started with a config file that would strand rows (a shard added to a ring while
/// the proxy was down) refuses to start, naming the table, as a reload would be refused; the
/// placement record its earlier run wrote says where the rows are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_config_that_would_strand_rows_is_refused_until_the_table_is_empty() {
    let tables =
        "[[tables]]\nname = \"accounts\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n";
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        render(sandbox, listen, 2, false, tables)
    })
    .await;
    let sql = "CREATE TABLE accounts (id BIGINT PRIMARY KEY, v INT)";
    crate::common::on_every_primary(&env.sandbox, sql).await;
    let (config, port) = env.second_proxy_config();
    let listen = format!("127.0.0.1:{port}");
    let log = env.sandbox.dir().join("restart.log");
    let opts: Opts = env.opts().tcp_port(port).into();
    // First run over two shards: it records the placements, and rows go in.
    let first = crate::common::spawn_serve(&config, &log);
    let mut conn = crate::common::connect_when_up(&opts).await;
    let values: Vec<String> = (1..=200).map(|id| format!("({id}, {id})")).collect();
    conn.query_drop(format!("INSERT INTO accounts VALUES {}", values.join(", ")))
        .await
        .unwrap();
    // The record is the proxy's own: applications do not see it among their tables.
    let listed: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
    assert!(
        !listed.iter().any(|t| t.starts_with("shardgate")),
        "{listed:?}"
    );
    drop(conn);
    drop(first);
    let default = &env.sandbox.shards()[0].primary;
    let record = format!("{OWN_DATABASE}.{}", shardgate_server::RECORD_TABLE);
    let recorded = count(
        &env.sandbox,
        default,
        &format!("SELECT COUNT(*) FROM {record}"),
    )
    .await;
    assert_eq!(recorded, 2, "the default shard's row and the table's");
    // An earlier shardgate kept the record in the applications' database: it is moved to the
    // proxy's own and read there (the refusal below comes from it).
    let old = format!(
        "{}.{}",
        shardgate_sandbox::DATABASE,
        shardgate_server::RECORD_TABLE
    );
    let sql = format!("RENAME TABLE {record} TO {old}; DROP DATABASE {OWN_DATABASE}");
    env.sandbox.exec(default, &sql).await.unwrap();

    // Stopped, the file gains a shard: the ring moves keys of a table with rows.
    write_atomically(&config, &render(&env.sandbox, &listen, 3, false, tables));
    let mut refused = crate::common::spawn_serve(&config, &log);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = refused.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "started with rows it would not find"
        );
        tokio::time::sleep(POLL).await;
    };
    assert!(!status.success());
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("tables.accounts: `accounts`: ")
            && said.contains("would change shard")
            && said.contains("has rows (on s0, s1)"),
        "{said}"
    );
    let sql = format!(
        "SELECT table_schema FROM information_schema.TABLES WHERE table_name = '{}'",
        shardgate_server::RECORD_TABLE
    );
    let moved = env.sandbox.exec(default, &sql).await.unwrap();
    assert_eq!(moved, [[Some(OWN_DATABASE.to_owned())]]);
    // The file as it was starts, and finds every row.
    write_atomically(&config, &render(&env.sandbox, &listen, 2, false, tables));
    let again = crate::common::spawn_serve(&config, &log);
    let mut conn = crate::common::connect_when_up(&opts).await;
    let found: Vec<i64> = conn
        .query("SELECT id FROM accounts WHERE id IN (1, 100, 200) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(found, [1, 100, 200]);
    // Emptied, the table may move: the three-shard file starts and is recorded.
    conn.query_drop("DELETE FROM accounts").await.unwrap();
    drop(conn);
    drop(again);
    write_atomically(&config, &render(&env.sandbox, &listen, 3, false, tables));
    let _grown = crate::common::spawn_serve(&config, &log);
    let mut conn = crate::common::connect_when_up(&opts).await;
    conn.query_drop(format!("INSERT INTO accounts VALUES {}", values.join(", ")))
        .await
        .unwrap();
    let on_s2 = accounts_on(&env, 2).await;
    assert!(on_s2 > 0, "the third shard owns part of the ring");
    drop(conn);
    env.stop().await;
}

/// `shards` in the order given (by name), `s0` the default shard, `accounts` on a ring.
fn shards_in_order(sandbox: &Sandbox, listen: &str, names: &[&str]) -> String {
    crate::common::config_with_shards(sandbox, listen, names, false)
        + "[[tables]]\nname = \"accounts\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n"
}

/// `v` of the accounts `ids`, in id order.
async fn values_of(conn: &mut Conn, ids: &[i64]) -> Vec<i64> {
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    conn.query(format!(
        "SELECT v FROM accounts WHERE id IN ({}) ORDER BY id",
        ids.join(", ")
    ))
    .await
    .unwrap()
}

/// Shards are named, not numbered: once a shard holds no row of the tables whose keys would
/// leave it, a reload may remove it (and reorder the others) while sessions hold connections
/// and transactions; each session renumbers what it holds by name before its next command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_shard_leaves_by_reload_while_sessions_keep_their_transactions() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        shards_in_order(sandbox, listen, &["s0", "s1", "s2"])
    })
    .await;
    let sql = "CREATE TABLE accounts (id BIGINT PRIMARY KEY, v INT)";
    crate::common::on_every_primary(&env.sandbox, sql).await;
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=200).map(|id| format!("({id}, {id})")).collect();
    conn.query_drop(format!("INSERT INTO accounts VALUES {}", values.join(", ")))
        .await
        .unwrap();
    let on = |shard: usize| -> Vec<i64> {
        (1..=200)
            .filter(|id| env.shard_of("accounts", i128::from(*id)) == shard)
            .collect()
    };
    let (on_s0, on_s2) = (on(0), on(2));
    assert!(!on_s0.is_empty() && !on_s2.is_empty());
    // A transaction on s0, and one that read on s2.
    let mut writer = env.connect().await;
    writer.query_drop("BEGIN").await.unwrap();
    writer
        .query_drop(format!(
            "UPDATE accounts SET v = -1 WHERE id = {}",
            on_s0[0]
        ))
        .await
        .unwrap();
    let mut reader = env.connect().await;
    reader.query_drop("BEGIN").await.unwrap();
    let _: Vec<i64> = reader
        .query(format!("SELECT v FROM accounts WHERE id = {}", on_s2[0]))
        .await
        .unwrap();

    // s2 holds rows: its keys cannot leave it.
    let listen = format!("127.0.0.1:{}", env.port);
    write_atomically(
        &env.config_path,
        &shards_in_order(&env.sandbox, &listen, &["s1", "s0"]),
    );
    let problems = env.proxy.reload_from(&env.config_path).await.unwrap_err();
    assert!(
        problems.to_string().contains("has rows (on s2)"),
        "{problems}"
    );
    // Emptied (its rows taken out, to be written again through the new placement), it may.
    let s2 = &env.sandbox.shards()[2].primary;
    (env.sandbox)
        .exec_in(s2, shardgate_sandbox::DATABASE, "DELETE FROM accounts")
        .await
        .unwrap();
    let outcome = env.proxy.reload_from(&env.config_path).await.unwrap();
    assert_eq!(outcome.version, 2);
    let moved: Vec<String> = on_s2.iter().map(|id| format!("({id}, {id})")).collect();
    conn.query_drop(format!("INSERT INTO accounts VALUES {}", moved.join(", ")))
        .await
        .unwrap();

    // The writer's transaction goes on where it was: s0, now the second shard.
    writer
        .query_drop(format!(
            "UPDATE accounts SET v = -2 WHERE id = {}",
            on_s0[1]
        ))
        .await
        .unwrap();
    let updated = &on_s0[..2];
    assert_eq!(values_of(&mut writer, updated).await, [-1, -2]);
    assert_eq!(
        values_of(&mut conn, updated).await,
        updated,
        "not committed yet"
    );
    writer.query_drop("COMMIT").await.unwrap();
    assert_eq!(values_of(&mut conn, updated).await, [-1, -2]);
    // The reader's transaction ran on the removed shard: it is gone, and so is its client.
    assert!(reader.query_drop("SELECT 1").await.is_err());
    // Every row is found.
    let count: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM accounts")
        .await
        .unwrap();
    assert_eq!(count, Some(200));
    drop((conn, writer, reader));
    env.stop().await;
}
