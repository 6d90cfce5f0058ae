//! Hostile and careless clients: ones that never finish connecting, declare huge packets, send
//! parameter types no client library sends, or exceed `max_allowed_packet`; too many
//! connections (1040) and repeated wrong passwords (1129); accounts stored as
//! mysql_native_password hashes; the command line used in pipes; a log at trace level that
//! holds no password and no literal; and the memory every open connection's task holds.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{rows, server_error, ServeProcess, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use shardgate_protocol::client_handshake::{login, BackendLogin};
use shardgate_protocol::{CapabilityFlags, PacketConn};
use shardgate_wire::packets::parse_err;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// MariaDB's PASSWORD('password').
const PASSWORD_HASH: &str = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";

/// The sandbox config with `server` keys added to `[server]` and `extra` appended.
async fn env_with(server: &str, extra: &str) -> TestEnv {
    let server = format!("[server]\n{server}\n");
    TestEnv::start_rendered(1, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
            + extra
    })
    .await
}

/// Reads until the proxy closes the connection: `Some(bytes read)`, or `None` if it is still
/// open after `limit` (generous: these tests assert that it closes, not how fast).
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(all),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// A client logged in through the proxy with hand-made packets.
async fn raw_client(env: &TestEnv) -> PacketConn<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", env.port)).await.unwrap();
    let mut conn = PacketConn::new(stream);
    let credentials = BackendLogin {
        user: shardgate_sandbox::PROXY_USER,
        password: shardgate_sandbox::PROXY_PASSWORD,
        native_stage1: None,
        database: Some(shardgate_sandbox::DATABASE),
        capabilities: shardgate_protocol::COMMON_CAPABILITIES
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB,
        mariadb_capabilities: shardgate_protocol::MariadbCapabilities::empty(),
    };
    login(&mut conn, &credentials).await.expect("raw login");
    conn
}

async fn command(conn: &mut PacketConn<TcpStream>, payload: &[u8]) -> Vec<u8> {
    conn.reset_seq();
    conn.write_packet(payload).await.unwrap();
    conn.read_packet().await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_and_oversized_handshakes_are_closed() {
    let env = env_with("handshake_timeout_ms = 500", "").await;
    let addr = ("127.0.0.1", env.port);

    // Reads the greeting, then says nothing: closed after the handshake timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut greeting = [0u8; 4];
    silent.read_exact(&mut greeting).await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(30))
            .await
            .is_some(),
        "a client that never answers the greeting is disconnected"
    );

    // Declares a 16 MiB handshake response: closed on its header, nothing of it buffered.
    for _ in 0..20 {
        let mut huge = TcpStream::connect(addr).await.unwrap();
        huge.write_all(&[0xFF, 0xFF, 0xFF, 1]).await.unwrap();
        huge.write_all(&[0u8; 1024]).await.unwrap();
        assert!(
            closed_within(&mut huge, Duration::from_secs(30))
                .await
                .is_some(),
            "a client declaring a 16 MiB handshake packet is disconnected"
        );
    }

    // Everyone else is served.
    let mut conn = env.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT 1").await,
        vec![vec![Some("1".into())]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_over_max_allowed_packet_gets_1153_and_the_connection_closes() {
    let env = env_with("max_allowed_packet = 1048576", "").await;
    let big = format!("SELECT '{}'", "x".repeat(2 << 20));

    // mysql_async: its own limit set high so that it sends the packet.
    let opts = Opts::from(env.opts().max_allowed_packet(Some(64 << 20)));
    let mut conn = Conn::new(opts).await.unwrap();
    let (code, state, message) = server_error(conn.query_drop(&big).await);
    assert_eq!(
        (code, state.as_str()),
        (1153, "08S01"),
        "mysql_async sees MariaDB's error: {message}"
    );
    assert!(message.contains("max_allowed_packet"), "{message}");
    assert!(
        conn.query_drop("SELECT 1").await.is_err(),
        "the connection is closed"
    );
    drop(conn);

    // Raw: the ERR packet, then the end of the stream.
    let mut raw = raw_client(&env).await;
    let mut packet = vec![0x03];
    packet.extend_from_slice(big.as_bytes());
    let answer = command(&mut raw, &packet).await;
    let err = parse_err(&answer).expect("an ERR packet");
    assert_eq!((err.code, &err.state), (1153, b"08S01"));
    assert!(closed_within(raw.stream_mut(), Duration::from_secs(30))
        .await
        .is_some());

    // At the limit is fine.
    let mut conn = env.connect().await;
    let fits = format!("SELECT LENGTH('{}')", "y".repeat(1000 * 1000));
    let got: Option<u64> = conn.query_first(&fits).await.unwrap();
    assert_eq!(got, Some(1_000_000));
    drop(conn);
    env.stop().await;
}

/// Prepares `sql` on a raw connection; its statement id.
async fn prepare(raw: &mut PacketConn<TcpStream>, sql: &str) -> [u8; 4] {
    let mut prepare = vec![0x16];
    prepare.extend_from_slice(sql.as_bytes());
    let ok = command(raw, &prepare).await;
    assert_eq!(ok[0], 0, "prepared: {ok:?}");
    // Parameter and column definitions, each list ended by an EOF (no CLIENT_DEPRECATE_EOF).
    let columns = u16::from_le_bytes([ok[5], ok[6]]);
    let params = u16::from_le_bytes([ok[7], ok[8]]);
    for _ in 0..(params + columns + u16::from(params > 0) + u16::from(columns > 0)) {
        raw.read_packet().await.unwrap();
    }
    [ok[1], ok[2], ok[3], ok[4]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_types_no_client_sends_get_an_error_not_a_dropped_connection() {
    let env = TestEnv::start(2, 0).await;
    let mut raw = raw_client(&env).await;
    // The proxy reads the shard key's value to route this one.
    let by_key = prepare(&mut raw, "SELECT id FROM users WHERE id = ?").await;
    let anywhere = prepare(&mut raw, "SELECT ?").await;
    for id in [by_key, anywhere] {
        for code in [0x11u8, 0x12, 0x13, 0x14, 0x80, 0xF2] {
            let mut execute = vec![0x17];
            execute.extend_from_slice(&id);
            execute.extend_from_slice(&[0, 1, 0, 0, 0, 0, 1, code, 0]);
            execute.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
            let answer = command(&mut raw, &execute).await;
            let err = parse_err(&answer).unwrap_or_else(|| panic!("type 0x{code:02x}: {answer:?}"));
            assert_eq!(err.code, 1210, "type 0x{code:02x}: {}", err.message);
            assert!(
                err.message.contains("mysqld_stmt_execute"),
                "{}",
                err.message
            );
        }
    }
    // The connection still works.
    let answer = command(&mut raw, b"\x03SELECT 1").await;
    assert_eq!(answer, [1], "a result set of one column");
    drop(raw);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_stored_as_a_native_hash_logs_in_with_its_password() {
    let extra = format!("\n[[users]]\nname = \"hashed\"\npassword = \"{PASSWORD_HASH}\"\n");
    let env = env_with("", &extra).await;
    let as_hashed = |password: &str| {
        Opts::from(
            env.opts()
                .user(Some("hashed"))
                .pass(Some(password.to_owned())),
        )
    };
    let mut conn = Conn::new(as_hashed("password")).await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT CURRENT_USER() IS NOT NULL").await,
        vec![vec![Some("1".into())]]
    );
    drop(conn);
    let (code, state, message) = server_error(Conn::new(as_hashed("passwore")).await);
    assert_eq!((code, state.as_str()), (1045, "28000"), "{message}");
    // The hash itself is not the password.
    let (code, ..) = server_error(Conn::new(as_hashed(PASSWORD_HASH)).await);
    assert_eq!(code, 1045);
    env.stop().await;
}

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("shardgate.toml");
    let text = "[[users]]\nname = \"app\"\npassword = \"app\"\n\
                [backend]\nuser = \"u\"\npassword = \"\"\ndatabase = \"app\"\n\
                [[shards]]\nname = \"s0\"\nprimary = \"127.0.0.1:3310\"\n\
                [[shards]]\nname = \"s1\"\nprimary = \"127.0.0.1:3320\"\n\
                [[tables]]\nname = \"users\"\nshard_key = \"id\"\n";
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn route_takes_negative_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut args = vec!["route".into(), "--config".into(), config.into_os_string()];
    args.extend(["--table", "users", "--key", "-1", "-42", "7"].map(Into::into));
    let stdout = crate::common::shardgate_cli(args);
    let shards: Vec<&str> = stdout.lines().collect();
    assert_eq!(shards.len(), 3, "{stdout}");
    assert!(shards.iter().all(|s| *s == "s0" || *s == "s1"), "{stdout}");
}

#[test]
fn route_into_a_reader_that_stops_early_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // Far more output than a pipe holds, so that writes go on after the reader is gone.
    let keys: Vec<String> = (0..100_000).map(|k| k.to_string()).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .arg("route")
        .arg("--config")
        .arg(&config)
        .args(["--table", "users", "--key"])
        .args(&keys)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('s'), "{first}");
    // The reader is dropped here, like `head -1` exiting.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.code().is_none(),
        "exit 0 (or a signal): {:?} {stderr}",
        out.status
    );
}

/// The first packet the proxy sends on a fresh connection (the greeting, or an ERR in its
/// place): its sequence id and payload.
async fn first_packet(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await.unwrap();
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.unwrap();
    (header[3], payload)
}

/// A connection to the proxy from another loopback address than 127.0.0.1.
async fn connect_from(source: &str, env: &TestEnv) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let proxy = format!("127.0.0.1:{}", env.port).parse().unwrap();
    socket.connect(proxy).await.unwrap()
}

/// Retries `Conn::new` until it succeeds (the proxy frees a slot once it has seen a client go).
async fn connect_eventually(opts: Opts) -> Conn {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match Conn::new(opts.clone()).await {
            Ok(conn) => return conn,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no connection within 30 s: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_client_connections_get_1040_before_the_handshake() {
    let env = env_with("max_client_connections = 3", "").await;
    let addr = ("127.0.0.1", env.port);
    // Two clients logged in and one still in its handshake take the three slots.
    let mut first = env.connect().await;
    let second = env.connect().await;
    let mut handshaking = TcpStream::connect(addr).await.unwrap();
    let (_, greeting) = first_packet(&mut handshaking).await;
    assert_eq!(greeting[0], 10, "a greeting");

    // The fourth gets MariaDB's ERR in place of the greeting: sequence 0, no SQLSTATE (the
    // client's capabilities are not known yet), then the end of the stream.
    let mut refused = TcpStream::connect(addr).await.unwrap();
    let (seq, packet) = first_packet(&mut refused).await;
    assert_eq!(
        (seq, packet.as_slice()),
        (0, &b"\xff\x10\x04Too many connections"[..])
    );
    assert!(closed_within(&mut refused, Duration::from_secs(30))
        .await
        .is_some());
    // Client libraries report MariaDB's own error.
    let (code, _, message) = server_error(Conn::new(Opts::from(env.opts())).await);
    assert_eq!((code, message.as_str()), (1040, "Too many connections"));

    // Those connected are served as before; a slot given back is taken again.
    assert_eq!(
        rows(&mut first, "SELECT 1").await,
        vec![vec![Some("1".into())]]
    );
    drop(second);
    let mut third = connect_eventually(Opts::from(env.opts())).await;
    assert_eq!(
        rows(&mut third, "SELECT 2").await,
        vec![vec![Some("2".into())]]
    );
    drop(handshaking);
    drop((first, third));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_block_the_client_address_for_host_block_ms() {
    let env = env_with("max_connect_errors = 3\nhost_block_ms = 3000", "").await;
    let with = |password: &str| Opts::from(env.opts().pass(Some(password.to_owned())));
    let fail = |times: usize| {
        let with = &with;
        async move {
            for _ in 0..times {
                let (code, ..) = server_error(Conn::new(with("wrong")).await);
                assert_eq!(code, 1045);
            }
        }
    };
    // A login that succeeds starts the count over, as on MariaDB.
    fail(2).await;
    drop(Conn::new(with("app")).await.unwrap());
    fail(2).await;
    drop(Conn::new(with("app")).await.unwrap());

    // The third failure in a row blocks the address: even the right password is refused,
    // with MariaDB's 1129 in place of the greeting.
    fail(3).await;
    let (code, _, message) = server_error(Conn::new(with("app")).await);
    assert_eq!(code, 1129, "{message}");
    assert!(
        message.starts_with(
            "Host '127.0.0.1' is blocked because of many connection errors; it is unblocked in "
        ),
        "{message}"
    );
    let mut raw = TcpStream::connect(("127.0.0.1", env.port)).await.unwrap();
    let (seq, packet) = first_packet(&mut raw).await;
    assert_eq!((seq, &packet[..3]), (0, &b"\xff\x69\x04"[..]));

    // Another address is not blocked.
    let mut other = connect_from("127.0.0.2", &env).await;
    let (_, greeting) = first_packet(&mut other).await;
    assert_eq!(greeting[0], 10, "a greeting for 127.0.0.2");
    drop(other);

    // After host_block_ms the address is let in again.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let mut conn = Conn::new(with("app")).await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT 1").await,
        vec![vec![Some("1".into())]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_and_no_literal_reaches_the_log_at_trace_level() {
    // Every secret is a string found nowhere else: the test searches the whole log for each.
    const CLIENT_PASSWORD: &str = "Client-pw-Secret-0001";
    const WRONG_PASSWORD: &str = "Wrong-guess-Secret-0002";
    const BACKEND_PASSWORD: &str = "Backend-pw-Secret-0003";
    const EMAIL: &str = "email-Secret-0004@example.com";
    const NAME: &str = "Name-Secret-0005";
    const LOOKUP: &str = "Lookup-Secret-0006";
    const NEAR_SYNTAX_ERROR: &str = "Syntax-Secret-0007";
    const PARAMETER: &str = "Param-Secret-0008";
    const NUMBER: &str = "987654321";
    let mut sandbox = shardgate_sandbox::Sandbox::start(shardgate_sandbox::SandboxSpec::new(1, 0))
        .await
        .expect("sandbox starts");
    sandbox.create_sample_schema().await.unwrap();
    let primary = sandbox.shards()[0].primary.clone();
    let backend_account = format!(
        "CREATE USER 'gate'@'127.0.0.1' IDENTIFIED BY '{BACKEND_PASSWORD}'; \
         GRANT ALL ON *.* TO 'gate'@'127.0.0.1'"
    );
    for sql in backend_account.split("; ") {
        sandbox.exec(&primary, sql).await.unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = sandbox
        .config_toml(&format!("127.0.0.1:{port}"))
        // Statements over 1 ms are slow ones: their digests are logged.
        .replacen("[server]\n", "[server]\nslow_query_ms = 1\n", 1)
        .replacen(
            "user = \"shardgate\"\npassword = \"shardgate\"",
            &format!("user = \"gate\"\npassword = \"{BACKEND_PASSWORD}\""),
            1,
        )
        + &format!("\n[[users]]\nname = \"keeper\"\npassword = \"{CLIENT_PASSWORD}\"\n");
    let config_path = sandbox.dir().join("secrets.toml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = sandbox.dir().join("trace.log");
    let child = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start shardgate serve");
    let serve = ServeProcess(child);
    let opts = |password: &str| {
        Opts::from(
            mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .user(Some("keeper"))
                .pass(Some(password.to_owned()))
                .db_name(Some(shardgate_sandbox::DATABASE))
                .prefer_socket(false),
        )
    };
    let mut conn = connect_eventually(opts(CLIENT_PASSWORD)).await;

    // 30 wrong passwords: refused, and logged at a bounded rate.
    for _ in 0..30 {
        let (code, ..) = server_error(Conn::new(opts(WRONG_PASSWORD)).await);
        assert_eq!(code, 1045);
    }
    // Statements whose literals are secrets, some of them failing with an error that quotes
    // them (a duplicate key, a syntax error).
    let insert =
        format!("INSERT INTO users (id, email, name) VALUES ({NUMBER}, '{EMAIL}', '{NAME}')");
    conn.query_drop(&insert).await.unwrap();
    let again = insert.replacen(NUMBER, "5", 1);
    let (code, _, message) = server_error(conn.query_drop(&again).await);
    assert_eq!(code, 1062);
    assert!(
        message.contains(EMAIL),
        "the client sees the value: {message}"
    );
    let lookup = format!("SELECT name FROM users WHERE email = '{LOOKUP}' OR id = {NUMBER}");
    assert_eq!(rows(&mut conn, &lookup).await.len(), 1);
    // Slower than `slow_query_ms` whatever the machine: logged, digested.
    let slow = format!("SELECT SLEEP(0.01), name FROM users WHERE email = '{EMAIL}'");
    assert_eq!(rows(&mut conn, &slow).await.len(), 1);
    let broken = format!("SELECT name FROM users WHERE id = 1 ORDERR BY '{NEAR_SYNTAX_ERROR}'");
    let (code, _, message) = server_error(conn.query_drop(&broken).await);
    assert_eq!(code, 1064);
    assert!(message.contains(NEAR_SYNTAX_ERROR), "{message}");
    let found: Vec<String> = conn
        .exec("SELECT name FROM users WHERE email = ?", (EMAIL,))
        .await
        .unwrap();
    assert_eq!(found, [NAME]);
    let _: Vec<String> = conn
        .exec("SELECT name FROM users WHERE name = ?", (PARAMETER,))
        .await
        .unwrap();
    drop(conn);
    drop(serve);

    let log = std::fs::read_to_string(&log_path).unwrap();
    for secret in [
        CLIENT_PASSWORD,
        WRONG_PASSWORD,
        BACKEND_PASSWORD,
        EMAIL,
        NAME,
        LOOKUP,
        NEAR_SYNTAX_ERROR,
        PARAMETER,
        NUMBER,
    ] {
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "{secret} in the log:\n{}",
            leaks.join("\n")
        );
    }
    // What the log does say: errors by code, their messages and statements digested.
    assert!(log.contains("DEBUG"), "a debug-level log");
    assert!(log.contains("Duplicate entry ?"), "{log}");
    assert!(
        log.contains("SELECT SLEEP(?), name FROM users WHERE email = ?"),
        "{log}"
    );
    let denied = log.lines().filter(|l| l.contains("access denied")).count();
    assert!(
        (1..=20).contains(&denied),
        "30 failed logins, {denied} lines: at most 20 per 10 s"
    );
    sandbox.stop().await;
}

/// Every open connection holds its task's state machine, whatever it does: an idle session as
/// much as a busy one. The bound is what a debug build (the tests') needs once the rarely used,
/// large paths (scatter, writes on several shards, DDL, SET, transactions, KILL, admin and SHOW
/// statements, multi-statement texts, sequences, COM_CHANGE_USER, COM_STMT_PREPARE) are boxed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_task_stays_small() {
    const MAX_BYTES: usize = 16 * 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let text =
        "[server]\nlisten = \"127.0.0.1:0\"\n[[users]]\nname = \"app\"\npassword = \"app\"\n\
                [backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"app\"\n\
                [[shards]]\nname = \"s0\"\nprimary = \"127.0.0.1:9\"\n";
    let topology = shardgate_config::parse(text, "t.toml").expect("a valid config");
    let proxy = shardgate_server::Proxy::new(topology);
    let bytes = shardgate_server::connection_task_bytes(stream, proxy);
    eprintln!("a connection's task: {bytes} bytes");
    assert!(
        bytes <= MAX_BYTES,
        "a connection's task holds {bytes} bytes, over {MAX_BYTES}: box the large, rarely used paths"
    );
}
