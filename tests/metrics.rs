//! The metrics endpoint: known traffic through the proxy, then `/metrics` parsed with a
//! Prometheus text-format parser and checked by value and labels; `/healthz` and `/readyz`.
//!
//! The registry is process-wide, so the tests of this file run one at a time and compare
//! values before and after their own traffic.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{server_error, TestEnv};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mysql_async::prelude::Queryable;
use prometheus_parse::{Scrape, Value};
use tokio::net::TcpListener;

/// One test at a time: they share the process-wide registry.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Serves the metrics endpoint of `env`'s proxy on a free port.
async fn metrics_endpoint(env: &TestEnv) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(shardgate_server::serve_metrics(
        listener,
        env.proxy.clone(),
        std::future::pending(),
    ));
    addr
}

/// `GET path` over HTTP/1.1: status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    )
}

/// `/readyz` once it answers `status` (the health checks run every second); bounded.
async fn readyz_when(addr: SocketAddr, status: u16) -> (u16, String) {
    let mut answer = get(addr, "/readyz").await;
    for _ in 0..300 {
        if answer.0 == status {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = get(addr, "/readyz").await;
    }
    answer
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).expect("valid text format")
}

/// The counters of `shardgate_queries_total` once they stopped moving: a statement is counted
/// when its timer drops, just after its answer reached the client, so a scrape right after an
/// answer may come before its count.
async fn settled_queries(addr: SocketAddr) -> Scrape {
    let total = |s: &Scrape| -> f64 {
        (s.samples.iter())
            .filter(|x| x.metric == "shardgate_queries_total")
            .map(|x| match x.value {
                Value::Counter(v) | Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    let mut last = scrape(addr).await;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = scrape(addr).await;
        if total(&now) == total(&last) {
            return now;
        }
        last = now;
    }
}

/// The value of the sample `name` whose labels include `labels` (a histogram's count); None
/// when there is no such sample.
fn sample(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Value::Summary(_) => panic!("no summaries expected"),
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {labels:?} matches several samples"
    );
    matching.first().copied()
}

/// A counter's value; 0 before its first increment.
fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(scrape, name, labels).unwrap_or(0.0)
}

/// Integer user ids owned by shard `shard`, `n` of them.
fn ids_on(env: &TestEnv, shard: usize, n: usize) -> Vec<i64> {
    (1..)
        .filter(|&id| env.shard_of("users", i128::from(id)) == shard)
        .take(n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_is_counted_by_shard_role_and_kind() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::start(2, 0).await;
    let addr = metrics_endpoint(&env).await;
    let (s0, s1) = (
        env.topology.shards[0].name.clone(),
        env.topology.shards[1].name.clone(),
    );
    let mut conn = env.connect().await;
    let before = settled_queries(addr).await;

    let on_s0 = ids_on(&env, 0, 3);
    let on_s1 = ids_on(&env, 1, 2);
    for id in on_s0.iter().chain(&on_s1) {
        conn.exec_drop(
            "INSERT INTO users (id, email) VALUES (?, ?)",
            (id, format!("u{id}@example.com")),
        )
        .await
        .expect("insert");
    }
    const READS: usize = 150;
    for i in 0..READS {
        let id = on_s0[i % on_s0.len()];
        let _: Option<String> = conn
            .query_first(format!("SELECT email FROM users WHERE id = {id}"))
            .await
            .expect("point select");
    }
    let count: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM users")
        .await
        .expect("scatter");
    assert_eq!(count, Some(5));
    let missing = conn.query_drop("SELECT * FROM no_such_table").await;
    assert_eq!(server_error(missing).0, 1146);
    let refused = conn
        .query_drop(
            "UPDATE users u JOIN orders o ON o.user_id = u.id SET o.user_id = 9 WHERE u.id = 1",
        )
        .await;
    assert_eq!(server_error(refused).0, 1235);

    let after = settled_queries(addr).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        counter(&after, name, labels) - counter(&before, name, labels)
    };
    let queries = "shardgate_queries_total";
    // Prepared INSERTs run as COM_STMT_EXECUTE on the shard of their key.
    assert_eq!(
        grew(
            queries,
            &[("shard", &s0), ("role", "primary"), ("kind", "write")]
        ),
        3.0
    );
    assert_eq!(
        grew(
            queries,
            &[("shard", &s1), ("role", "primary"), ("kind", "write")]
        ),
        2.0
    );
    // The point selects, plus one scatter part; the failing SELECT ran on the default shard.
    let default = env.topology.default_shard;
    let s0_reads = (READS + 1 + usize::from(default == 0)) as f64;
    let s1_reads = (1 + usize::from(default == 1)) as f64;
    assert_eq!(
        grew(
            queries,
            &[("shard", &s0), ("role", "primary"), ("kind", "read")]
        ),
        s0_reads
    );
    assert_eq!(
        grew(
            queries,
            &[("shard", &s1), ("role", "primary"), ("kind", "read")]
        ),
        s1_reads
    );
    let backend = "shardgate_backend_query_duration_seconds";
    assert_eq!(
        grew(backend, &[("shard", &s0), ("role", "primary")]),
        3.0 + s0_reads
    );

    let latency = "shardgate_query_duration_seconds";
    assert_eq!(grew(latency, &[("route", "scatter")]), 1.0);
    // Text statements only: the point selects and the failing SELECT.
    assert_eq!(grew(latency, &[("route", "single")]), (READS + 1) as f64);

    let errors = "shardgate_errors_total";
    assert_eq!(grew(errors, &[("kind", "statement")]), 1.0);
    assert_eq!(grew(errors, &[("kind", "unsupported")]), 1.0);

    assert!(counter(&after, "shardgate_client_connections", &[]) >= 1.0);
    // The test's own session: idle, or still finishing its last statement.
    let sessions = |command| counter(&after, "shardgate_client_sessions", &[("command", command)]);
    assert!(sessions("Sleep") + sessions("Query") >= 1.0);
    for shard in &env.topology.shards {
        let endpoint = shard.primary.to_string();
        let labels = [
            ("shard", shard.name.as_str()),
            ("endpoint", endpoint.as_str()),
            ("role", "primary"),
        ];
        assert_eq!(sample(&after, "shardgate_backend_up", &labels), Some(1.0));
        let idle = [
            ("shard", shard.name.as_str()),
            ("endpoint", endpoint.as_str()),
            ("state", "idle"),
        ];
        assert!(sample(&after, "shardgate_pool_connections", &idle).is_some_and(|n| n >= 1.0));
    }
    // Every read of `users` went to one shard: a hot spot.
    let users = sample(&after, "shardgate_hotspot_score", &[("table", "users")])
        .expect("a score for users");
    assert!(users > 70.0, "hot-spot score {users}");
    assert_eq!(sample(&after, "shardgate_topology_version", &[]), Some(1.0));
    assert!(sample(
        &after,
        "shardgate_config_reloads_total",
        &[("result", "error")]
    )
    .is_some());

    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(readyz_when(addr, 200).await, (200, "ready\n".to_owned()));
    assert_eq!(get(addr, "/nothing").await.0, 404);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_a_primary_dies() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::start(2, 0).await;
    let addr = metrics_endpoint(&env).await;
    // Not ready before the first health checks; ready once they passed.
    assert_eq!(readyz_when(addr, 200).await.0, 200);
    let shard = &env.topology.shards[1];
    let endpoint = shard.primary.to_string();
    env.sandbox
        .kill(&env.sandbox.shards()[1].primary)
        .await
        .expect("kill the primary");
    // The health check notices within a few intervals.
    let answer = readyz_when(addr, 503).await;
    assert_eq!(answer.0, 503, "{}", answer.1);
    assert!(answer.1.contains(&endpoint), "{}", answer.1);
    let after = scrape(addr).await;
    let labels = [
        ("shard", shard.name.as_str()),
        ("endpoint", endpoint.as_str()),
        ("role", "primary"),
    ];
    assert_eq!(sample(&after, "shardgate_backend_up", &labels), Some(0.0));
    assert_eq!(get(addr, "/healthz").await.0, 200, "alive while not ready");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_reads_and_lag_are_reported() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::start_with(1, 1, "\n[replication]\nconsistency = \"eventual\"\n").await;
    let addr = metrics_endpoint(&env).await;
    let shard = &env.topology.shards[0];
    let replica = shard.replicas[0].to_string();
    let mut conn = env.connect().await;
    let before = settled_queries(addr).await;
    for id in 1..=4 {
        conn.query_drop(format!("SELECT * FROM users WHERE id = {id}"))
            .await
            .expect("read");
    }
    let after = settled_queries(addr).await;
    let labels = [
        ("shard", shard.name.as_str()),
        ("role", "replica"),
        ("kind", "read"),
    ];
    let grew = counter(&after, "shardgate_queries_total", &labels)
        - counter(&before, "shardgate_queries_total", &labels);
    assert_eq!(grew, 4.0);
    let lag = [
        ("shard", shard.name.as_str()),
        ("endpoint", replica.as_str()),
    ];
    assert!(sample(&after, "shardgate_replica_lag_seconds", &lag).is_some_and(|s| s >= 0.0));
    let up = [
        ("shard", shard.name.as_str()),
        ("endpoint", replica.as_str()),
        ("role", "replica"),
    ];
    assert_eq!(sample(&after, "shardgate_backend_up", &up), Some(1.0));
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_is_counted() {
    let _serial = SERIAL.lock().await;
    let env = TestEnv::start_with(
        1,
        0,
        "\n[backend.pool]\nmax_size = 1\ncheckout_timeout_ms = 200\n",
    )
    .await;
    let addr = metrics_endpoint(&env).await;
    let shard = &env.topology.shards[0];
    let endpoint = shard.primary.to_string();
    let before = scrape(addr).await;
    // Both log in first (a client's start-up queries need the pool too).
    let mut holder = env.connect().await;
    let mut other = env.connect().await;
    // A transaction holds the only connection of the pool.
    holder.query_drop("BEGIN").await.expect("begin");
    holder
        .query_drop("SELECT * FROM users WHERE id = 1")
        .await
        .expect("read in the transaction");
    let waited = other.query_drop("SELECT * FROM users WHERE id = 2").await;
    assert_eq!(server_error(waited).0, 1040);
    let after = scrape(addr).await;
    let labels = [
        ("shard", shard.name.as_str()),
        ("endpoint", endpoint.as_str()),
    ];
    let grew = |name: &str, labels: &[(&str, &str)]| {
        counter(&after, name, labels) - counter(&before, name, labels)
    };
    assert_eq!(grew("shardgate_pool_exhausted_total", &labels), 1.0);
    assert_eq!(
        grew("shardgate_errors_total", &[("kind", "pool_exhausted")]),
        1.0
    );
    assert!(grew("shardgate_pool_wait_seconds", &[]) >= 2.0);
    let in_use = [
        ("shard", shard.name.as_str()),
        ("endpoint", endpoint.as_str()),
        ("state", "in_use"),
    ];
    assert_eq!(
        sample(&after, "shardgate_pool_connections", &in_use),
        Some(1.0)
    );
    holder.query_drop("ROLLBACK").await.expect("rollback");
    drop((holder, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_connections_are_counted_by_state_and_refusals_by_reason() {
    let _serial = SERIAL.lock().await;
    let server = "[server]\nmax_client_connections = 4\nmax_connect_errors = 2\n";
    let env = TestEnv::start_rendered(1, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", server, 1)
    })
    .await;
    let addr = metrics_endpoint(&env).await;
    let states = |scrape: &Scrape| -> Vec<f64> {
        ["handshaking", "idle", "running", "pinned"]
            .iter()
            .map(|state| {
                let labels = [("state", *state)];
                sample(scrape, "shardgate_client_connections_by_state", &labels).unwrap_or(0.0)
            })
            .collect()
    };
    let before = scrape(addr).await;
    let at_rest = states(&before);

    // One connection in each state: logged in and waiting; in a transaction (its connection
    // pinned); running a statement; connected but not logged in.
    let idle = env.connect().await;
    let mut pinned = env.connect().await;
    pinned.query_drop("BEGIN").await.unwrap();
    pinned
        .query_drop("SELECT * FROM users WHERE id = 1")
        .await
        .unwrap();
    let mut running = env.connect().await;
    let sleeping = tokio::spawn(async move {
        running.query_drop("SELECT SLEEP(3)").await.unwrap();
        running
    });
    let mut handshaking = tokio::net::TcpStream::connect(("127.0.0.1", env.port))
        .await
        .unwrap();
    let mut greeting = [0u8; 4];
    tokio::io::AsyncReadExt::read_exact(&mut handshaking, &mut greeting)
        .await
        .unwrap();
    let expected: Vec<f64> = at_rest.iter().map(|n| n + 1.0).collect();
    let mut now = states(&scrape(addr).await);
    for _ in 0..50 {
        if now == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = states(&scrape(addr).await);
    }
    assert_eq!(now, expected, "handshaking, idle, running, pinned");

    // The fifth is refused: max_client_connections = 4.
    let (code, ..) =
        server_error(mysql_async::Conn::new(mysql_async::Opts::from(env.opts())).await);
    assert_eq!(code, 1040);
    drop(handshaking);
    drop(idle);
    // The proxy sees the two closes asynchronously: wait until they are counted, or the next
    // login is refused for too many connections instead of failing its password.
    let mut now = states(&scrape(addr).await);
    for _ in 0..50 {
        if now[..2] == at_rest[..2] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = states(&scrape(addr).await);
    }
    assert_eq!(now[..2], at_rest[..2], "handshaking and idle closed");
    // Two failed logins block the address.
    let wrong = mysql_async::Opts::from(env.opts().pass(Some("wrong")));
    for _ in 0..2 {
        let (code, ..) = server_error(mysql_async::Conn::new(wrong.clone()).await);
        assert_eq!(code, 1045);
    }
    let (code, ..) = server_error(mysql_async::Conn::new(wrong.clone()).await);
    assert_eq!(code, 1129);

    let running = sleeping.await.unwrap();
    drop((pinned, running));
    let after = scrape(addr).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        counter(&after, name, labels) - counter(&before, name, labels)
    };
    assert_eq!(grew("shardgate_login_failures_total", &[]), 2.0);
    let refused = "shardgate_connections_refused_total";
    assert_eq!(grew(refused, &[("reason", "too_many_connections")]), 1.0);
    assert_eq!(grew(refused, &[("reason", "host_blocked")]), 1.0);
    // Every connection gone: every state back where it was.
    let mut now = states(&after);
    for _ in 0..50 {
        if now == at_rest {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = states(&scrape(addr).await);
    }
    assert_eq!(now, at_rest);
    env.stop().await;
}
