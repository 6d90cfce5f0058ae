//! The foundation end to end: a 2-shard sandbox (primary + 1 replica each) behind the proxy,
//! driven by real clients (mysql_async, the `mariadb` CLI, PyMySQL).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;

fn shardgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shardgate"))
}

/// Shard names `shardgate route` prints for `ids`, in order.
fn route_cli(env: &TestEnv, table: &str, ids: &[u64]) -> Vec<String> {
    let mut cmd = shardgate();
    cmd.arg("route")
        .arg("--config")
        .arg(&env.config_path)
        .arg("--table")
        .arg(table)
        .arg("--key");
    cmd.args(ids.iter().map(ToString::to_string));
    let out = cmd.output().expect("run shardgate route");
    assert!(
        out.status.success(),
        "shardgate route failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_users_land_on_the_shards_route_names_and_read_back() {
    let env = TestEnv::start(2, 1).await;
    let mut conn = env.connect().await;
    let ids: Vec<u64> = (1..=1000).collect();
    for id in &ids {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name, created_at) VALUES ({id}, 'u{id}@example.com', 'User {id}', NOW())"
        ))
        .await
        .unwrap();
        assert_eq!(conn.affected_rows(), 1);
    }

    // Where did each row go? Ask every primary directly.
    let mut placed: HashMap<u64, Vec<String>> = HashMap::new();
    for shard in env.sandbox.shards() {
        for row in env
            .sandbox
            .exec_in(&shard.primary, "app", "SELECT id FROM users")
            .await
            .unwrap()
        {
            let id: u64 = row[0].as_deref().unwrap().parse().unwrap();
            placed.entry(id).or_default().push(shard.name.clone());
        }
    }
    let routed = route_cli(&env, "users", &ids);
    assert_eq!(routed.len(), ids.len());
    let mut per_shard: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, shard) in ids.iter().zip(&routed) {
        assert_eq!(
            placed.get(id),
            Some(&vec![shard.clone()]),
            "user {id} must be on exactly {shard}"
        );
        *per_shard.entry(shard).or_default() += 1;
    }
    assert_eq!(per_shard.len(), 2, "both shards hold users: {per_shard:?}");
    for (shard, n) in &per_shard {
        assert!(
            (400..=600).contains(n),
            "shard {shard} holds {n} of 1000 users: {per_shard:?}"
        );
    }

    // Replication carried every row to the replicas.
    env.sandbox
        .wait_replicas_synced(Duration::from_secs(30))
        .await
        .unwrap();
    for shard in env.sandbox.shards() {
        let primary = env
            .sandbox
            .exec_in(&shard.primary, "app", "SELECT COUNT(*) FROM users")
            .await
            .unwrap();
        let replica = env
            .sandbox
            .exec_in(&shard.replicas[0], "app", "SELECT COUNT(*) FROM users")
            .await
            .unwrap();
        assert_eq!(primary, replica, "replica of {} is in sync", shard.name);
    }

    // Read back through the proxy, by id, as integer and as string literal.
    for id in &ids {
        let literal = if id % 2 == 0 {
            id.to_string()
        } else {
            format!("'{id}'")
        };
        let got = rows(
            &mut conn,
            &format!("SELECT email, name FROM users WHERE id = {literal}"),
        )
        .await;
        assert_eq!(
            got,
            vec![vec![
                Some(format!("u{id}@example.com")),
                Some(format!("User {id}"))
            ]]
        );
    }

    // A user's orders live on the user's shard, so keyed reads of both agree.
    for id in [3u64, 250, 999] {
        conn.query_drop(format!(
            "INSERT INTO orders (id, user_id, amount) VALUES ({id}, {id}, 12.50)"
        ))
        .await
        .unwrap();
        let got = rows(
            &mut conn,
            &format!("SELECT u.email, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = {id}"),
        )
        .await;
        assert_eq!(
            got,
            vec![vec![
                Some(format!("u{id}@example.com")),
                Some("12.50".into())
            ]]
        );
    }
    assert_eq!(
        route_cli(&env, "orders", &[3, 250, 999]),
        route_cli(&env, "users", &[3, 250, 999])
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_the_client_with_code_and_sqlstate() {
    let env = TestEnv::start(2, 1).await;
    let mut conn = env.connect().await;

    let (code, state, msg) = server_error(conn.query_drop("SELECT * FROM no_such_table").await);
    assert_eq!((code, state.as_str()), (1146, "42S02"), "{msg}");
    assert!(msg.contains("no_such_table"), "{msg}");

    let (code, state, msg) = server_error(conn.query_drop("SELEC 1").await);
    assert_eq!((code, state.as_str()), (1064, "42000"), "{msg}");
    assert!(msg.contains("SELEC 1"), "the backend's own message: {msg}");

    // A syntax error in a statement on a sharded table is MariaDB's verdict too.
    let (code, _, msg) = server_error(conn.query_drop("SELECT * FROM users WHERE id = = 1").await);
    assert_eq!(code, 1064, "{msg}");

    conn.query_drop("INSERT INTO users (id, email) VALUES (7, 'seven@example.com')")
        .await
        .unwrap();
    let (code, state, msg) = server_error(
        conn.query_drop("INSERT INTO users (id, email) VALUES (7, 'again')")
            .await,
    );
    assert_eq!((code, state.as_str()), (1062, "23000"), "{msg}");

    // Unroutable: names the table and the shard key.
    let (code, state, msg) = server_error(
        conn.query_drop(
            "UPDATE users u JOIN orders o ON o.user_id = u.id SET o.user_id = 9 WHERE u.id = 1",
        )
        .await,
    );
    assert_eq!((code, state.as_str()), (1235, "42000"));
    assert!(
        msg.contains("`orders`") && msg.contains("`user_id`"),
        "{msg}"
    );
    // Rows that leave the shard key out take its default (`omitted_key.rs`): without one, in
    // strict mode, MariaDB's own error, as one server answers.
    let (code, state, msg) = server_error(
        conn.query_drop("INSERT INTO orders (id, amount) SELECT id, 1 FROM users")
            .await,
    );
    assert_eq!(
        (code, state.as_str(), msg.as_str()),
        (
            1364,
            "HY000",
            "Field 'user_id' doesn't have a default value"
        )
    );
    let (code, _, msg) = server_error(
        conn.query_drop("INSERT INTO users (email) VALUES ('x')")
            .await,
    );
    assert_eq!(
        (code, msg.as_str()),
        (1364, "Field 'id' doesn't have a default value")
    );
    // A row cannot be placed by a key that is not an integer.
    let (code, state, msg) = server_error(
        conn.query_drop("INSERT INTO users (id, email) VALUES ('abc', 'x')")
            .await,
    );
    assert_eq!((code, state.as_str()), (1366, "22007"), "{msg}");

    // The connection is still good after every error.
    assert_eq!(
        rows(&mut conn, "SELECT email FROM users WHERE id = 7").await,
        vec![vec![Some("seven@example.com".into())]]
    );

    // Wrong password, unknown user, unknown database.
    for (user, pass) in [("app", "wrong"), ("nobody", "app")] {
        let opts = env.opts().user(Some(user)).pass(Some(pass));
        let (code, state, msg) = server_error(mysql_async::Conn::new(opts).await);
        assert_eq!((code, state.as_str()), (1045, "28000"), "{msg}");
        assert!(msg.contains(user), "{msg}");
    }
    let (code, _, msg) =
        server_error(mysql_async::Conn::new(env.opts().db_name(Some("no_such_db"))).await);
    assert_eq!(code, 1049, "{msg}");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_forwarded_faithfully() {
    let env = TestEnv::start(2, 1).await;
    let mut proxied = env.connect().await;
    proxied
        .query_drop("INSERT INTO users (id, email, name, created_at) VALUES (11, 'e11', NULL, '2024-05-06 07:08:09')")
        .await
        .unwrap();
    let shard = env
        .topology
        .table("users")
        .unwrap()
        .shard_for(&shardgate_ring::KeyValue::Int(11))
        .unwrap();
    let mut direct = env.connect_primary(shard).await;

    // Column definitions and values, byte for byte the same as the backend's.
    let sql =
        "SELECT id, email, name, created_at, id * 1.5 AS f, NULL AS n FROM users WHERE id = 11";
    let mut a = proxied.query_iter(sql).await.unwrap();
    let proxied_cols = a.columns().unwrap();
    let proxied_rows: Vec<mysql_async::Row> = a.collect().await.unwrap();
    let mut b = direct.query_iter(sql).await.unwrap();
    let direct_cols = b.columns().unwrap();
    let direct_rows: Vec<mysql_async::Row> = b.collect().await.unwrap();
    assert_eq!(proxied_cols.len(), 6);
    for (p, d) in proxied_cols.iter().zip(direct_cols.iter()) {
        assert_eq!(p.name_str(), d.name_str());
        assert_eq!(p.org_name_str(), d.org_name_str());
        assert_eq!(p.table_str(), d.table_str());
        assert_eq!(p.org_table_str(), d.org_table_str());
        assert_eq!(p.schema_str(), d.schema_str());
        assert_eq!(p.column_type(), d.column_type());
        assert_eq!(p.flags(), d.flags());
        assert_eq!(p.decimals(), d.decimals());
        assert_eq!(p.column_length(), d.column_length());
        assert_eq!(p.character_set(), d.character_set());
    }
    let unwrap =
        |rows: Vec<mysql_async::Row>| rows.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>();
    assert_eq!(unwrap(proxied_rows), unwrap(direct_rows));

    // Affected rows, warnings, last insert id.
    proxied
        .query_drop("UPDATE users SET name = 'n' WHERE id = 11")
        .await
        .unwrap();
    assert_eq!(proxied.affected_rows(), 1);
    proxied
        .query_drop("UPDATE users SET name = 'n' WHERE id = 11")
        .await
        .unwrap();
    assert_eq!(
        proxied.affected_rows(),
        0,
        "unchanged row: CLIENT_FOUND_ROWS not set by mysql_async"
    );
    let _: Vec<mysql_async::Row> = proxied
        .query("SELECT CAST('12abc' AS UNSIGNED)")
        .await
        .unwrap();
    assert_eq!(proxied.get_warnings(), 1);
    proxied
        .query_drop("CREATE TABLE counters (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    proxied
        .query_drop("INSERT INTO counters (v) VALUES (1), (2), (3)")
        .await
        .unwrap();
    assert_eq!(proxied.affected_rows(), 3);
    assert_eq!(proxied.last_insert_id(), Some(1));
    proxied
        .query_drop("INSERT INTO counters (v) VALUES (4)")
        .await
        .unwrap();
    assert_eq!(proxied.last_insert_id(), Some(4));
    // Unsharded tables live on the default shard only.
    let default = env.topology.default_shard;
    let other = 1 - default;
    let mut on_default = env.connect_primary(default).await;
    assert_eq!(
        rows(&mut on_default, "SELECT COUNT(*) FROM counters").await,
        vec![vec![Some("4".into())]]
    );
    let mut on_other = env.connect_primary(other).await;
    let (code, _, _) = server_error(on_other.query_drop("SELECT COUNT(*) FROM counters").await);
    assert_eq!(code, 1146);

    // DDL on a sharded table reaches every shard.
    proxied
        .query_drop("ALTER TABLE orders ADD COLUMN note VARCHAR(20)")
        .await
        .unwrap();
    for shard in 0..2 {
        let mut c = env.connect_primary(shard).await;
        let cols = rows(&mut c, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'orders' AND column_name = 'note'").await;
        assert_eq!(
            cols,
            vec![vec![Some("1".into())]],
            "shard {shard} has the new column"
        );
    }
    // A multi-statement text whose statements share a shard: every result set arrives.
    let mut results = proxied.query_iter("SELECT 1; SELECT 2").await.unwrap();
    let first: Vec<u8> = results.collect().await.unwrap();
    let second: Vec<u8> = results.collect().await.unwrap();
    assert_eq!((first, second), (vec![1], vec![2]));
    drop(results);
    // `@@socket` never points a client at a backend: mysql_async's default asks for it.
    let opts = env.opts().prefer_socket(true);
    let mut preferring_socket = mysql_async::Conn::new(opts).await.unwrap();
    let socket: Option<Option<String>> = preferring_socket
        .query_first("SELECT @@socket")
        .await
        .unwrap();
    assert_eq!(socket, Some(None));
    drop((proxied, direct, on_default, on_other, preferring_socket));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_and_transactions_follow_the_session() {
    let env = TestEnv::start(2, 1).await;
    let users = env.topology.table("users").unwrap();
    // Two ids on different shards.
    let shard_of = |id: i128| users.shard_for(&shardgate_ring::KeyValue::Int(id)).unwrap();
    let a = 1i128;
    let b = (2..100).find(|id| shard_of(*id) != shard_of(a)).unwrap();
    let mut conn = env.connect().await;
    for id in [a, b] {
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({id}, 'e{id}')"
        ))
        .await
        .unwrap();
    }

    // A session variable applies on every shard this session touches, and only to this session.
    conn.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES'")
        .await
        .unwrap();
    for id in [a, b] {
        let mode = rows(
            &mut conn,
            &format!("SELECT @@sql_mode FROM users WHERE id = {id}"),
        )
        .await;
        assert_eq!(
            mode,
            vec![vec![Some("ANSI_QUOTES".into())]],
            "shard of {id}"
        );
    }
    let mut other = env.connect().await;
    for id in [a, b] {
        let mode = rows(
            &mut other,
            &format!("SELECT @@sql_mode FROM users WHERE id = {id}"),
        )
        .await;
        assert_ne!(
            mode,
            vec![vec![Some("ANSI_QUOTES".into())]],
            "another session keeps the default"
        );
    }
    let (code, _, _) = server_error(
        conn.query_drop("SET SESSION sql_mode = 'NO_SUCH_MODE'")
            .await,
    );
    assert_eq!(code, 1231, "a bad value is the backend's error");
    conn.query_drop("USE information_schema").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT DATABASE()").await,
        vec![vec![Some("information_schema".into())]]
    );
    conn.query_drop("USE app").await.unwrap();

    // Rollback discards, commit keeps.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("INSERT INTO users (id, email) VALUES (500, 'rolled back')")
        .await
        .unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    assert!(rows(&mut conn, "SELECT * FROM users WHERE id = 500")
        .await
        .is_empty());
    conn.query_drop("START TRANSACTION").await.unwrap();
    conn.query_drop("INSERT INTO users (id, email) VALUES (501, 'committed')")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT email FROM users WHERE id = 501")
            .await
            .len(),
        1
    );

    // A transaction stays on its shard: a write elsewhere is refused, and ROLLBACK still works.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!("UPDATE users SET name = 'x' WHERE id = {a}"))
        .await
        .unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop(format!("UPDATE users SET name = 'x' WHERE id = {b}"))
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    conn.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(
        rows(&mut conn, &format!("SELECT name FROM users WHERE id = {a}")).await,
        vec![vec![None]]
    );

    // A client that disconnects mid-transaction leaves nothing behind.
    let mut leaving = env.connect().await;
    leaving.query_drop("BEGIN").await.unwrap();
    leaving
        .query_drop("INSERT INTO users (id, email) VALUES (502, 'never committed')")
        .await
        .unwrap();
    drop(leaving);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shard = shard_of(502);
    let mut direct = env.connect_primary(shard).await;
    assert!(rows(&mut direct, "SELECT * FROM users WHERE id = 502")
        .await
        .is_empty());
    drop((conn, other, direct));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mariadb_cli_works_through_the_proxy() {
    let env = TestEnv::start(2, 1).await;
    let port = env.port.to_string();
    let cli = |sql: &str| {
        Command::new("mariadb")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &port,
                "-u",
                "app",
                "-papp",
                "app",
                "--batch",
                "-e",
                sql,
            ])
            .output()
            .expect("run the mariadb client")
    };
    let out = cli("INSERT INTO users (id, email, name) VALUES (42, 'cli@example.com', 'Cli'); SELECT id, email, name FROM users WHERE id = 42; SELECT @@version_comment LIMIT 1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("id\temail\tname\n42\tcli@example.com\tCli\n"),
        "{stdout}"
    );

    let out =
        cli("UPDATE users u JOIN orders o ON o.user_id = u.id SET o.user_id = 9 WHERE u.id = 1");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR 1235 (42000)") && stderr.contains("`orders`"),
        "{stderr}"
    );

    let out = cli("SELECT * FROM missing_table");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR 1146 (42S02)"), "{stderr}");

    let out = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            "app",
            "-pbad",
            "-e",
            "SELECT 1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR 1045 (28000)"), "{stderr}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_works_through_the_proxy() {
    let env = TestEnv::start(2, 1).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/pymysql_smoke.py"
    );
    let port = env.port;
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .output()
    })
    .await
    .unwrap()
    .expect("run python3");
    assert!(
        out.status.success(),
        "pymysql smoke failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    env.stop().await;
}
