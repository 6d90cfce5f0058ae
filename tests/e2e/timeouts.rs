//! Time bounds that name the right party: `[server] query_timeout_ms` and MariaDB's
//! `max_statement_time` (per statement and per session) honoured by the proxy itself, against a
//! primary frozen with SIGSTOP (on one shard, on every primary: DDL and keyless writes, and in
//! prepared executions); a statement cut off inside a transaction; a pooled connection to
//! a frozen server found out at checkout; a client that stops reading a scatter
//! (`client_write_timeout_ms`).
//!
//! No assertion on how fast anything is: "it ended" bounds are generous (30 s), far above the
//! bounds configured here, and far below how long a frozen server holds a statement otherwise
//! (for ever).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{rows, server_error, ServeProcess, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use shardgate_protocol::client_handshake::{login, BackendLogin};
use shardgate_protocol::{CapabilityFlags, PacketConn};
use tokio::io::AsyncReadExt;

/// How long a statement may take to end before the test calls it hung.
const ENDED: Duration = Duration::from_secs(30);

/// The sandbox config with `server` keys added to `[server]` and `extra` appended.
async fn env_with(shards: usize, server: &str, extra: &str) -> TestEnv {
    let server = format!("[server]\n{server}\n");
    TestEnv::start_rendered(shards, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
            + extra
    })
    .await
}

/// Runs `sql` and returns the server error it ends with, failing the test if it does not end
/// within [`ENDED`].
async fn error_of(conn: &mut Conn, sql: &str) -> (u16, String, String) {
    let ran = tokio::time::timeout(ENDED, conn.query_drop(sql)).await;
    server_error(ran.unwrap_or_else(|_| panic!("{sql}: still running after {ENDED:?}")))
}

/// Thaws `shard`'s primary and waits until it answers directly again.
async fn thaw(env: &TestEnv, shard: usize) {
    env.sandbox
        .thaw(&env.sandbox.shards()[shard].primary)
        .await
        .unwrap();
    let mut direct = env.connect_primary(shard).await;
    direct.query_drop("SELECT 1").await.unwrap();
}

/// A key of table `users` that lives on `shard`.
fn key_on(env: &TestEnv, shard: usize) -> i64 {
    (1..)
        .find(|id| env.shard_of("users", *id) == shard)
        .unwrap() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_on_a_frozen_primary_ends_at_query_timeout_with_1969_naming_the_shard() {
    // Connecting may take longer than the bound: statements that need a new connection to the
    // frozen server end at the bound too (else at connect_timeout_ms, with 1429).
    let pool = "\n[backend.pool]\nmax_size = 4\nconnect_timeout_ms = 5000\n";
    let env = env_with(2, "query_timeout_ms = 2000", pool).await;
    let (on_s0, on_s1) = (key_on(&env, 0), key_on(&env, 1));
    let mut conn = env.connect().await;
    for id in [on_s0, on_s1] {
        let insert = format!("INSERT INTO users (id, name) VALUES ({id}, 'n{id}')");
        conn.query_drop(&insert).await.unwrap();
    }
    let on_s1_read = format!("SELECT name FROM users WHERE id = {on_s1}");
    let on_s0_read = format!("SELECT name FROM users WHERE id = {on_s0}");
    // A transaction that wrote on s1 before it froze.
    let mut txn = env.connect().await;
    txn.query_drop("BEGIN").await.unwrap();
    let written = format!("UPDATE users SET name = 'changed' WHERE id = {on_s1}");
    txn.query_drop(&written).await.unwrap();

    let s1 = env.sandbox.shards()[1].primary.clone();
    env.sandbox.freeze(&s1).await.unwrap();
    let frozen = async {
        let mut stuck = env.connect().await;
        let single = error_of(&mut stuck, &on_s1_read).await;
        let prepared = tokio::time::timeout(
            ENDED,
            stuck.exec_drop("SELECT name FROM users WHERE id = ?", (on_s1,)),
        )
        .await;
        let prepared = server_error(prepared.expect("a prepared statement ended"));
        let scatter = error_of(&mut stuck, "SELECT COUNT(*) FROM users").await;
        let fan_out = error_of(&mut stuck, "UPDATE users SET name = name").await;
        let multi = error_of(&mut stuck, &format!("SELECT 1; {on_s1_read}")).await;
        let in_txn = error_of(&mut txn, &on_s1_read).await;
        // The session goes on, the transaction gone: its write is rolled back (seen below).
        let after = rows(&mut txn, &on_s0_read).await;
        ([single, prepared, scatter, fan_out, multi, in_txn], after)
    };
    let meanwhile = async {
        // The other shard serves throughout.
        let mut other = env.connect().await;
        let mut served = 0;
        for _ in 0..10 {
            assert_eq!(rows(&mut other, &on_s0_read).await.len(), 1);
            served += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    };
    let ((answers, after), served) = tokio::join!(frozen, meanwhile);
    thaw(&env, 1).await;
    assert_eq!(served, 10);
    for (code, state, message) in &answers {
        assert_eq!((*code, state.as_str()), (1969, "70100"), "{message}");
        assert!(
            message.contains("Query execution was interrupted (max_statement_time exceeded)"),
            "{message}"
        );
        assert!(message.contains("shard s1 primary"), "{message}");
    }
    let fan_out = &answers[3].2;
    assert!(
        fan_out.ends_with("no shard kept any of its rows"),
        "{fan_out}"
    );
    let in_txn = &answers[5].2;
    assert!(
        in_txn.contains("the transaction was rolled back"),
        "{in_txn}"
    );
    assert_eq!(after, vec![vec![Some(format!("n{on_s0}"))]]);

    // After SIGCONT: no broken connection was pooled. Many more statements than the pool holds,
    // from several clients at once, all succeed, and the pool ends with none in use.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(env.connect().await);
    }
    let reads = clients.iter_mut().map(|c| {
        let sql = on_s1_read.clone();
        async move {
            for _ in 0..10 {
                let got: Vec<String> = c.query(&sql).await.unwrap();
                assert_eq!(
                    got,
                    [format!("n{on_s1}")],
                    "the transaction's write was rolled back"
                );
            }
        }
    });
    futures_util::future::join_all(reads).await;
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM users").await[0][0].as_deref(),
        Some("2")
    );
    let stats = env.proxy.runtime().primary(1).stats();
    assert_eq!(stats.in_use, 0, "{stats:?}");
    assert!(stats.idle <= 4, "{stats:?}");
    drop((conn, clients, txn));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_on_a_frozen_replica_ends_at_query_timeout_naming_the_replica() {
    let server = "[server]\nquery_timeout_ms = 2000\n";
    let pool = "\n[backend.pool]\nconnect_timeout_ms = 5000\n";
    let env = TestEnv::start_rendered(1, 1, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", server, 1)
            + pool
    })
    .await;
    let replica = env.sandbox.shards()[0].replicas[0].clone();
    let mut conn = env.connect().await;
    conn.query_drop("SET @@shardgate_consistency = 'eventual'")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + ENDED;
    loop {
        let id: Vec<u32> = conn.query("SELECT @@server_id").await.unwrap();
        if id == [replica.server_id] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.sandbox.freeze(&replica).await.unwrap();
    // Routed to the replica at once (its health checks have not failed yet), and not retried
    // on the primary once the bound passed.
    let (code, state, message) = error_of(&mut conn, "SELECT @@server_id").await;
    env.sandbox.thaw(&replica).await.unwrap();
    assert_eq!((code, state.as_str()), (1969, "70100"), "{message}");
    assert!(message.contains("shard s0 replica"), "{message}");
    let answered: Vec<u32> = conn.query("SELECT @@server_id").await.unwrap();
    assert_eq!(answered.len(), 1);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_statement_time_per_statement_and_per_session_is_honoured_even_by_a_frozen_server() {
    let env = env_with(1, "", "").await;
    let id = key_on(&env, 0);
    let mut conn = env.connect().await;
    conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'x')"))
        .await
        .unwrap();

    // A live server answers itself: through the proxy as straight from MariaDB.
    let per_statement = "SET STATEMENT max_statement_time=0.2 FOR SELECT SLEEP(5) FROM users";
    let mut direct = env.connect_primary(0).await;
    let expected = error_of(&mut direct, per_statement).await;
    assert_eq!(
        (expected.0, expected.1.as_str()),
        (1969, "70100"),
        "{expected:?}"
    );
    let proxied = error_of(&mut conn, per_statement).await;
    assert_eq!(
        (proxied.0, &proxied.1),
        (expected.0, &expected.1),
        "{proxied:?}"
    );
    let mut session = env.connect().await;
    for c in [&mut direct, &mut session] {
        c.query_drop("SET SESSION max_statement_time = 0.2")
            .await
            .unwrap();
    }
    let expected = error_of(&mut direct, "SELECT SLEEP(5) FROM users").await;
    let proxied = error_of(&mut session, "SELECT SLEEP(5) FROM users").await;
    assert_eq!(
        (expected.0, expected.1.as_str()),
        (1969, "70100"),
        "{expected:?}"
    );
    assert_eq!(
        (proxied.0, &proxied.1),
        (expected.0, &expected.1),
        "{proxied:?}"
    );
    drop(direct);

    // A frozen server cannot: the proxy enforces both.
    let read = format!("SELECT name FROM users WHERE id = {id}");
    let primary = env.sandbox.shards()[0].primary.clone();
    env.sandbox.freeze(&primary).await.unwrap();
    let in_session = error_of(&mut session, &read).await;
    let prefixed = format!("SET STATEMENT max_statement_time=0.2 FOR {read}");
    let in_statement = error_of(&mut conn, &prefixed).await;
    thaw(&env, 0).await;
    for (code, state, message) in [&in_session, &in_statement] {
        assert_eq!((*code, state.as_str()), (1969, "70100"), "{message}");
        assert!(message.contains("shard s0 primary"), "{message}");
    }
    // Both sessions go on.
    session
        .query_drop("SET SESSION max_statement_time = 0")
        .await
        .unwrap();
    for c in [&mut conn, &mut session] {
        assert_eq!(rows(c, &read).await, vec![vec![Some("x".into())]]);
    }
    drop((conn, session));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_cut_off_inside_a_transaction_is_rolled_back_and_the_transaction_goes_on() {
    let env = env_with(1, "query_timeout_ms = 2000", "").await;
    let id = key_on(&env, 0);
    // MariaDB itself, for the same statements: the interrupted statement is undone, the
    // transaction keeps what came before it.
    let mut direct = env.connect_primary(0).await;
    let mut conn = env.connect().await;
    for (c, direct) in [(&mut direct, true), (&mut conn, false)] {
        if direct {
            c.query_drop("SET SESSION max_statement_time = 2")
                .await
                .unwrap();
        }
        c.query_drop("BEGIN").await.unwrap();
        c.query_drop(format!(
            "INSERT INTO users (id, name) VALUES ({id}, 'kept')"
        ))
        .await
        .unwrap();
        let slow = format!("UPDATE users SET name = 'undone' WHERE id = {id} AND SLEEP(10) = 0");
        let (code, state, message) = error_of(c, &slow).await;
        assert_eq!(
            (code, state.as_str()),
            (1969, "70100"),
            "direct {direct}: {message}"
        );
        let in_txn: Vec<String> = c
            .query(format!("SELECT name FROM users WHERE id = {id}"))
            .await
            .unwrap();
        assert_eq!(in_txn, ["kept"], "direct {direct}");
        let flag: Vec<u8> = c.query("SELECT @@in_transaction").await.unwrap();
        assert_eq!(flag, [1], "direct {direct}");
        c.query_drop("ROLLBACK").await.unwrap();
        let after: Vec<i64> = c.query("SELECT COUNT(*) FROM users").await.unwrap();
        assert_eq!(after, [0], "direct {direct}");
    }
    drop((direct, conn));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_over_several_shards_cut_off_inside_a_transaction_is_undone_and_the_transaction_goes_on(
) {
    let env = env_with(
        2,
        "query_timeout_ms = 2000\ntransaction_mode = \"multi\"",
        "",
    )
    .await;
    let (on_s0, on_s1) = (key_on(&env, 0), key_on(&env, 1));
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    let insert =
        format!("INSERT INTO users (id, name) VALUES ({on_s0}, 'kept'), ({on_s1}, 'kept')");
    conn.query_drop(&insert).await.unwrap();
    // Runs on both shards; each sleeps past the bound.
    let slow = "UPDATE users SET name = 'undone' WHERE SLEEP(10) = 0";
    let (code, state, message) = error_of(&mut conn, slow).await;
    assert_eq!((code, state.as_str()), (1969, "70100"), "{message}");
    let names: Vec<String> = conn
        .query("SELECT name FROM users ORDER BY id")
        .await
        .unwrap();
    assert_eq!(names, ["kept", "kept"]);
    let flag: Vec<u8> = conn.query("SELECT @@in_transaction").await.unwrap();
    assert_eq!(flag, [1]);
    conn.query_drop("COMMIT").await.unwrap();
    let count: Vec<i64> = conn.query("SELECT COUNT(*) FROM users").await.unwrap();
    assert_eq!(count, [2]);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pooled_connection_to_a_frozen_server_is_found_out_at_checkout() {
    // No statement bound: only the pool's own check stands between a client and a hang.
    let pool = "\n[backend.pool]\nvalidation_interval_ms = 100\nconnect_timeout_ms = 1000\n";
    let env = env_with(1, "", pool).await;
    let mut conn = env.connect().await;
    assert_eq!(rows(&mut conn, "SELECT 1").await.len(), 1);
    let primary = env.sandbox.shards()[0].primary.clone();
    env.sandbox.freeze(&primary).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, _, message) = error_of(&mut conn, "SELECT 1").await;
    thaw(&env, 0).await;
    // The pooled connection did not answer its validation; a new one could not log in.
    assert_eq!(code, 1429, "{message}");
    assert!(message.contains("shard s0 primary"), "{message}");
    assert_eq!(rows(&mut conn, "SELECT 1").await.len(), 1);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_a_scatter_is_disconnected_and_the_log_names_it() {
    let mut sandbox = shardgate_sandbox::Sandbox::start(shardgate_sandbox::SandboxSpec::new(2, 0))
        .await
        .expect("sandbox starts");
    sandbox.create_sample_schema().await.unwrap();
    // ~10 MB per shard: far more than socket buffers hold.
    for shard in 0..2 {
        let primary = sandbox.shards()[shard].primary.clone();
        let fill = "INSERT INTO users (id, name) SELECT seq, REPEAT('x', 250) FROM seq_1_to_40000";
        sandbox.exec_in(&primary, "app", fill).await.unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The shards answer at once: only the client can hold the scatter up.
    let config = sandbox.config_toml(&format!("127.0.0.1:{port}")).replacen(
        "[server]\n",
        "[server]\nclient_write_timeout_ms = 500\nscatter_timeout_ms = 10000\n",
        1,
    );
    let config_path = sandbox.dir().join("slow-client.toml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = sandbox.dir().join("slow-client.log");
    let child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start shardgate serve");
    let serve = ServeProcess(child);

    // A client with a small receive buffer that sends a scatter and never reads.
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = tokio::time::Instant::now() + ENDED;
    let stream = loop {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        match socket.connect(address).await {
            Ok(stream) => break stream,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the proxy does not listen: {e}"),
        }
    };
    let client_address = stream.local_addr().unwrap().to_string();
    let mut client = PacketConn::new(stream);
    let credentials = BackendLogin {
        user: shardgate_sandbox::PROXY_USER,
        password: shardgate_sandbox::PROXY_PASSWORD,
        native_stage1: None,
        database: Some(shardgate_sandbox::DATABASE),
        capabilities: shardgate_protocol::COMMON_CAPABILITIES
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB,
        mariadb_capabilities: shardgate_protocol::MariadbCapabilities::empty(),
    };
    login(&mut client, &credentials).await.expect("raw login");
    client.reset_seq();
    client
        .write_packet(b"\x03SELECT id, name FROM users")
        .await
        .unwrap();
    // Not reading for a while, then reading on: the proxy has closed the connection.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stream = client.stream_mut();
    let mut sink = vec![0u8; 1 << 16];
    let closed = tokio::time::timeout(ENDED, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the client was not disconnected");

    // Others are served, by connections no half-read answer was left on.
    let opts = Opts::from(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some(shardgate_sandbox::PROXY_USER))
            .pass(Some(shardgate_sandbox::PROXY_PASSWORD))
            .db_name(Some(shardgate_sandbox::DATABASE))
            .prefer_socket(false),
    );
    let mut conn = Conn::new(opts).await.unwrap();
    for _ in 0..20 {
        let count: Vec<i64> = conn.query("SELECT COUNT(*) FROM users").await.unwrap();
        assert_eq!(count, [80_000]);
    }
    drop(conn);
    drop(serve);
    let mut log = String::new();
    std::fs::File::open(&log_path)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("client did not read its result within 500 ms"))
        .unwrap_or_else(|| panic!("no line names the slow client:\n{log}"));
    assert!(line.contains(&client_address), "{line}");
    assert!(
        !log.contains("did not answer"),
        "a shard was blamed:\n{log}"
    );
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_and_keyless_writes_on_every_primary_end_at_query_timeout_with_one_frozen() {
    let pool = "\n[backend.pool]\nmax_size = 4\nconnect_timeout_ms = 5000\n";
    let env = env_with(2, "query_timeout_ms = 2000", pool).await;
    let (on_s0, on_s1) = (key_on(&env, 0), key_on(&env, 1));
    let mut conn = env.connect().await;
    let insert = format!("INSERT INTO users (id, name) VALUES ({on_s0}, 'a'), ({on_s1}, 'b')");
    conn.query_drop(&insert).await.unwrap();

    let s1 = env.sandbox.shards()[1].primary.clone();
    env.sandbox.freeze(&s1).await.unwrap();
    let ddl = error_of(&mut conn, "ALTER TABLE users ADD COLUMN note INT").await;
    let delete = error_of(&mut conn, "DELETE FROM users WHERE name <> ''").await;
    let update = error_of(&mut conn, "UPDATE users SET name = 'z' WHERE name <> ''").await;
    // Meanwhile s0 serves, and already has the DDL (MariaDB commits DDL by itself: it
    // cannot be undone there).
    let mut s0 = env.connect_primary(0).await;
    let columns: Vec<String> = s0
        .query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'users' AND column_name = 'note'")
        .await
        .unwrap();
    let on_s0_read = format!("SELECT name FROM users WHERE id = {on_s0}");
    let s0_name = rows(&mut conn, &on_s0_read).await;
    thaw(&env, 1).await;

    for (code, state, message) in [&ddl, &delete, &update] {
        assert_eq!((*code, state.as_str()), (1969, "70100"), "{message}");
        assert!(
            message.contains("Query execution was interrupted (max_statement_time exceeded)"),
            "{message}"
        );
        assert!(message.contains("shard s1 primary"), "{message}");
    }
    assert_eq!(
        columns,
        ["note"],
        "the DDL completed on the shard that runs"
    );
    // The writes were undone on the shard that answered.
    for (_, _, message) in [&delete, &update] {
        assert!(
            message.ends_with("no shard kept any of its rows"),
            "{message}"
        );
    }
    assert_eq!(s0_name, vec![vec![Some("a".to_owned())]]);

    // After SIGCONT: no broken connection was pooled; both shards serve from every client.
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(env.connect().await);
    }
    let reads = clients.iter_mut().map(|c| async move {
        for _ in 0..10 {
            let got: Vec<i64> = c.query("SELECT COUNT(*) FROM users").await.unwrap();
            assert_eq!(got, [2]);
        }
    });
    futures_util::future::join_all(reads).await;
    for shard in 0..2 {
        let stats = env.proxy.runtime().primary(shard).stats();
        assert_eq!(stats.in_use, 0, "shard {shard}: {stats:?}");
    }
    drop((conn, clients, s0));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_executions_honour_set_statement_and_session_max_statement_time() {
    let env = env_with(1, "", "").await;
    let id = key_on(&env, 0);
    let mut conn = env.connect().await;
    conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'x')"))
        .await
        .unwrap();
    let prefixed = conn
        .prep("SET STATEMENT max_statement_time=0.2 FOR SELECT name FROM users WHERE id = ?")
        .await
        .unwrap();
    let mut session = env.connect().await;
    session
        .query_drop("SET SESSION max_statement_time = 0.2")
        .await
        .unwrap();
    let plain = session
        .prep("SELECT name FROM users WHERE id = ?")
        .await
        .unwrap();
    // Answered while the server runs.
    let got: Vec<String> = conn.exec(&prefixed, (id,)).await.unwrap();
    assert_eq!(got, ["x"]);

    let primary = env.sandbox.shards()[0].primary.clone();
    env.sandbox.freeze(&primary).await.unwrap();
    let bounded = |c: &str, ran: Result<mysql_async::Result<Vec<String>>, _>| {
        server_error(ran.unwrap_or_else(|_| panic!("{c}: still running after {ENDED:?}")))
    };
    let by_prefix = bounded(
        "SET STATEMENT prefix",
        tokio::time::timeout(ENDED, conn.exec(&prefixed, (id,))).await,
    );
    let by_session = bounded(
        "session max_statement_time",
        tokio::time::timeout(ENDED, session.exec(&plain, (id,))).await,
    );
    thaw(&env, 0).await;
    for (code, state, message) in [&by_prefix, &by_session] {
        assert_eq!((*code, state.as_str()), (1969, "70100"), "{message}");
        assert!(message.contains("shard s0 primary"), "{message}");
    }
    // Both statements run again once the server does.
    let got: Vec<String> = conn.exec(&prefixed, (id,)).await.unwrap();
    assert_eq!(got, ["x"]);
    let got: Vec<String> = session.exec(&plain, (id,)).await.unwrap();
    assert_eq!(got, ["x"]);
    drop((conn, session));
    env.stop().await;
}
