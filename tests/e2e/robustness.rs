//! Bad input and bad days: malformed packets, unsupported commands, packet-size boundaries,
//! an exhausted pool, a dead backend, a broken config. Each gets a clear answer, never a hang.

use std::process::Command;
use std::time::Duration;

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads whatever the proxy sends until it closes the connection (or 5 s pass).
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (all, true),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (all, false),
        }
    }
}

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut p = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, seq];
    p.extend_from_slice(payload);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_close_only_their_connection() {
    let env = TestEnv::start(1, 0).await;
    let addr = format!("127.0.0.1:{}", env.port);

    // Garbage instead of a handshake response.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&packet(1, b"\x01\x02garbage")).await.unwrap();
    let (answer, closed) = read_until_closed(&mut s).await;
    assert!(
        closed,
        "the proxy closes a connection that sent a bad handshake"
    );
    assert!(
        answer.windows(1).any(|w| w == [0xFF]),
        "and says why with an error packet"
    );

    // A handshake response whose fields run past its end.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let mut truncated = vec![0x8d, 0xa6, 0x0f, 0x00, 0, 0, 0, 1, 45];
    truncated.extend_from_slice(&[0u8; 23]);
    truncated.extend_from_slice(b"app"); // user without its NUL terminator
    s.write_all(&packet(1, &truncated)).await.unwrap();
    assert!(read_until_closed(&mut s).await.1);

    // A header announcing 16 MiB that never arrives, then the peer goes away.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&[0xff, 0xff, 0xff, 1, 1, 2, 3]).await.unwrap();
    drop(s);

    // Wrong sequence ids after login.
    let mut conn = env.connect().await;
    let mut raw = TcpStream::connect(&addr).await.unwrap();
    raw.write_all(&packet(7, b"\x03SELECT 1")).await.unwrap();
    assert!(read_until_closed(&mut raw).await.1);

    // The proxy is still serving everyone else.
    assert_eq!(
        rows(&mut conn, "SELECT 1 + 1").await,
        vec![vec![Some("2".into())]]
    );
    let mut fresh = env.connect().await;
    assert_eq!(
        rows(&mut fresh, "SELECT 2 + 2").await,
        vec![vec![Some("4".into())]]
    );
    drop((conn, fresh));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_connection_really_resets() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;

    // COM_RESET_CONNECTION: session variables, user variables and the open transaction are gone.
    conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
        .await
        .unwrap();
    conn.query_drop("SET @marker = 42").await.unwrap();
    conn.query_drop("USE information_schema").await.unwrap();
    conn.query_drop("CREATE TABLE app.resettable (id INT PRIMARY KEY)")
        .await
        .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("INSERT INTO app.resettable VALUES (1)")
        .await
        .unwrap();
    assert!(
        conn.reset().await.unwrap(),
        "COM_RESET_CONNECTION is supported"
    );
    let state = rows(
        &mut conn,
        "SELECT @@sql_mode = 'ANSI_QUOTES', @marker, DATABASE()",
    )
    .await;
    // As on MariaDB, the current database survives the reset.
    assert_eq!(
        state,
        vec![vec![
            Some("0".into()),
            None,
            Some("information_schema".into())
        ]]
    );
    assert!(
        rows(&mut conn, "SELECT * FROM app.resettable")
            .await
            .is_empty(),
        "the transaction was rolled back"
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_of_exactly_16_mib_is_answered() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("SET SESSION max_statement_time = 0")
        .await
        .unwrap();
    // COM_QUERY payload = 1 command byte + SQL; make it exactly 0xFFFFFF bytes, which needs an
    // empty packet after it, the case that hung other proxies.
    let prefix = "SELECT LENGTH('";
    let suffix = "')";
    let fill = 0xFF_FFFF - 1 - prefix.len() - suffix.len();
    let sql = format!("{prefix}{}{suffix}", "a".repeat(fill));
    let result =
        tokio::time::timeout(Duration::from_secs(60), conn.query_first::<u64, _>(sql)).await;
    match result.expect("no hang") {
        Ok(len) => assert_eq!(len, Some(fill as u64)),
        // The backend may refuse it (max_allowed_packet); then it says so with its own error.
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1153, "{e:?}"),
        Err(e) => panic!("unexpected failure: {e}"),
    }
    let mut fresh = env.connect().await;
    assert_eq!(
        rows(&mut fresh, "SELECT 5").await,
        vec![vec![Some("5".into())]]
    );
    drop((conn, fresh));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_fails_with_a_clear_error_and_recovers() {
    let env = TestEnv::start_with(
        1,
        0,
        "\n[backend.pool]\nmax_size = 1\ncheckout_timeout_ms = 300\n",
    )
    .await;
    let mut holder = env.connect().await;
    // Connecting runs queries too (mysql_async reads settings), so connect before the pool is held.
    let mut waiter = env.connect().await;
    holder.query_drop("BEGIN").await.unwrap();
    holder.query_drop("SELECT 1").await.unwrap(); // the transaction now holds the only connection
    let (code, state, msg) = server_error(waiter.query_drop("SELECT 2").await);
    assert_eq!((code, state.as_str()), (1040, "08004"), "{msg}");
    assert!(
        msg.contains("shard s0") && msg.contains("max_size 1"),
        "{msg}"
    );
    holder.query_drop("COMMIT").await.unwrap();
    assert_eq!(
        rows(&mut waiter, "SELECT 2").await,
        vec![vec![Some("2".into())]]
    );
    drop((holder, waiter));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_primary_gets_an_error_naming_its_shard_then_recovers() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let users = env.topology.table("users").unwrap();
    let id = (1..100)
        .find(|id| {
            users
                .shard_for(&shardgate_ring::KeyValue::Int(*id))
                .unwrap()
                == 1
        })
        .unwrap();
    conn.query_drop(format!("INSERT INTO users (id, email) VALUES ({id}, 'x')"))
        .await
        .unwrap();
    let victim = env.sandbox.shards()[1].primary.clone();
    env.sandbox.kill(&victim).await.unwrap();
    let started = std::time::Instant::now();
    let (code, _, msg) = server_error(
        conn.query_drop(format!("SELECT * FROM users WHERE id = {id}"))
            .await,
    );
    assert!(matches!(code, 1429 | 1158), "{code}: {msg}");
    assert!(msg.contains("shard s1"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast, not after a hang"
    );
    // Other shards keep working.
    let other = (1..100)
        .find(|id| {
            users
                .shard_for(&shardgate_ring::KeyValue::Int(*id))
                .unwrap()
                == 0
        })
        .unwrap();
    conn.query_drop(format!(
        "INSERT INTO users (id, email) VALUES ({other}, 'y')"
    ))
    .await
    .unwrap();
    env.sandbox.restart(&victim).await.unwrap();
    let mut ok = false;
    for _ in 0..50 {
        if let Ok(r) = conn
            .query::<u64, _>(format!("SELECT id FROM users WHERE id = {id}"))
            .await
        {
            assert_eq!(r, vec![id as u64]);
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "the shard serves again after its primary restarts");
    drop(conn);
    env.stop().await;
}

#[test]
fn check_config_lists_every_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[users]]\nname = \"app\"\npassword = \"app\"\n[backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"app\"\n[[shards]]\nname = \"s0\"\nprimary = \"127.0.0.1:3306\"\n[[tables]]\nname = \"users\"\nshard_key = \"id\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .arg("check-config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 shard"), "{stdout}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[users]]\nname = \"app\"\n[backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"app\"\n[[shards]]\nname = \"s0\"\nprimary = \"nowhere\"\n[[shards]]\nname = \"s0\"\nprimary = \"127.0.0.1:3307\"\n[[tables]]\nname = \"users\"\nstrategy = \"consistent\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad.toml:1:",
        "password",
        "bad.toml:9:",
        "nowhere",
        "bad.toml:11:",
        "duplicate",
        "bad.toml:13:",
        "shard_key",
        "bad.toml:15:",
        "consistent",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_chained_statements_cannot_crash_the_proxy() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    for terms in [40_000usize, 150_000] {
        let sql = format!(
            "SELECT * FROM users WHERE id = 7{}",
            " AND id = 7".repeat(terms)
        );
        // Routed and run, or refused by MariaDB or by shardgate: any clear answer will do.
        let _ = conn.query_drop(sql).await;
        let sql = format!("SELECT 1{}", " + 1".repeat(terms));
        if let Err(e) = conn.query_drop(sql).await {
            assert!(matches!(e, mysql_async::Error::Server(_)), "{e}");
        }
    }
    assert_eq!(
        rows(&mut conn, "SELECT 6").await,
        vec![vec![Some("6".into())]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_reauthenticates_and_starts_a_fresh_session() {
    let env = TestEnv::start_with(
        1,
        0,
        "\n[[users]]\nname = \"other\"\npassword = \"other-pw\"\n",
    )
    .await;
    let mut conn = env.connect().await;
    conn.query_drop("SET @marker = 1").await.unwrap();
    conn.query_drop("CREATE TABLE app.cu (id INT PRIMARY KEY)")
        .await
        .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("INSERT INTO app.cu VALUES (1)")
        .await
        .unwrap();
    let to_other = mysql_async::ChangeUserOpts::default()
        .with_user(Some("other".into()))
        .with_pass(Some("other-pw".into()))
        .with_db_name(Some("information_schema".into()));
    conn.change_user(to_other).await.unwrap();
    let state = rows(&mut conn, "SELECT @marker, DATABASE()").await;
    assert_eq!(state, vec![vec![None, Some("information_schema".into())]]);
    assert!(
        rows(&mut conn, "SELECT * FROM app.cu").await.is_empty(),
        "the open transaction was rolled back"
    );

    let wrong = mysql_async::ChangeUserOpts::default()
        .with_user(Some("app".into()))
        .with_pass(Some("wrong".into()));
    let (code, state, msg) = server_error(conn.change_user(wrong).await);
    assert_eq!((code, state.as_str()), (1045, "28000"), "{msg}");
    let mut fresh = env.connect().await;
    assert_eq!(
        rows(&mut fresh, "SELECT 3").await,
        vec![vec![Some("3".into())]]
    );
    drop((conn, fresh));
    env.stop().await;
}
