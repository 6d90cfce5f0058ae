//! Issue #15 with more than one proxy process: only the proxy driving a migration switches
//! at its cutover, so a START is refused while another proxy serves the topology, a cutover
//! waits while one does (one that started after the START), and a proxy restarted after the
//! cutover with the old config file serves the target the migration record holds.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{spawn_serve, TestEnv};
use crate::reshard_copy::{
    config, connect_admin, fill, migration_rows, start, wait_for_phase, write_target,
};

/// A three-shard sandbox whose proxy serves two, `accounts` and `events` filled with 300 keys.
async fn two_of_three() -> TestEnv {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| config(sandbox, listen, 2)).await;
    fill(&env, 1..=300).await;
    env
}

async fn count(conn: &mut Conn, table: &str) -> u64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    conn.query_first(sql).await.unwrap().unwrap()
}

/// Waits until the proxy listening on `port` wrote its heartbeat (every 5 s, once a START
/// created the table).
async fn wait_for_heartbeat(env: &TestEnv, port: u16) {
    let mut s0 = env.connect_primary(0).await;
    let sql = format!(
        "SELECT COUNT(*) FROM _shardgate_app.{} WHERE listen = '127.0.0.1:{port}'",
        shardgate_server::PROXIES_TABLE
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match s0.query_first::<u64, _>(&sql).await {
            Ok(Some(1)) => return,
            Ok(_) | Err(mysql_async::Error::Server(_)) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(
            Instant::now() < deadline,
            "no heartbeat from 127.0.0.1:{port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_is_refused_while_another_proxy_serves_the_topology() {
    let env = two_of_three().await;
    let (target_path, _) = write_target(&env);
    let (other_config, other_port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("serve.log");
    let other = spawn_serve(&other_config, &log);
    drop(connect_admin(other_port).await);
    // No heartbeat table yet (proxies write none before a resharding is started): START
    // creates it, in the proxy's own database, and waits for the others' next beat.
    let mut s0 = env.connect_primary(0).await;
    let where_heartbeats = format!(
        "SELECT table_schema FROM information_schema.TABLES WHERE table_name = '{}'",
        shardgate_server::PROXIES_TABLE
    );
    let found: Vec<String> = s0.query(&where_heartbeats).await.unwrap();
    assert!(found.is_empty(), "{found:?}");
    let mut admin = connect_admin(env.port).await;
    let sql = format!("SHARDGATE RESHARD START '{}'", target_path.display());
    let refused = match admin.query_drop(&sql).await {
        Err(mysql_async::Error::Server(e)) => e,
        Ok(()) => panic!("START accepted while 127.0.0.1:{other_port} serves"),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(refused.code, 1105, "{refused:?}");
    assert!(
        refused.message.contains(&format!("127.0.0.1:{other_port}"))
            && refused
                .message
                .contains("other proxies serve this topology"),
        "{refused:?}"
    );
    let none: Vec<mysql_async::Row> = admin.query("SHOW SHARDGATE MIGRATIONS").await.unwrap();
    assert!(none.is_empty(), "no migration was recorded");
    // Out of the applications' database: their SHOW TABLES lists none of the proxy's records.
    let found: Vec<String> = s0.query(&where_heartbeats).await.unwrap();
    assert_eq!(found, ["_shardgate_app"]);
    let tables: Vec<String> = admin.query("SHOW TABLES FROM app").await.unwrap();
    assert!(
        !tables.iter().any(|t| t.starts_with("shardgate")),
        "{tables:?}"
    );
    drop((admin, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_waits_while_another_proxy_serves_and_goes_on_once_it_stopped() {
    let env = two_of_three().await;
    let (target_path, _) = write_target(&env);
    let mut admin = connect_admin(env.port).await;
    let id = start(&mut admin, &target_path, None).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    // Another proxy starts serving the old topology after the START.
    let (other_config, other_port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("serve.log");
    let mut other = spawn_serve(&other_config, &log);
    wait_for_heartbeat(&env, other_port).await;
    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let rows = migration_rows(&mut admin, &id).await;
        let why = rows[0]["last_error"].clone().unwrap_or_default();
        if why.contains("other proxies serve this topology") {
            break rows;
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        (rows.iter()).all(|r| r["phase"].as_deref() == Some("catching_up")),
        "{rows:?}"
    );
    // Once its heartbeat is old (15 s), the next try cuts over and the workflow ends.
    other.0.kill().unwrap();
    other.0.wait().unwrap();
    wait_for_phase(&mut admin, &id, "done").await;
    let mut app = env.connect().await;
    assert_eq!(count(&mut app, "accounts").await, 300);
    assert_eq!(count(&mut app, "events").await, 600);
    drop((admin, app));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_restarted_after_the_cutover_with_the_old_config_serves_the_target() {
    let env = two_of_three().await;
    let (target_path, target) = write_target(&env);
    let (old_config, port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("serve.log");
    let mut serving = spawn_serve(&old_config, &log);
    let mut admin = connect_admin(port).await;
    let id = start(&mut admin, &target_path, None).await;
    wait_for_phase(&mut admin, &id, "catching_up").await;
    admin
        .query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
        .await
        .unwrap();
    wait_for_phase(&mut admin, &id, "done").await;
    // The sources no longer hold the moved rows: only the target finds them all.
    let mut s2 = env.connect_primary(2).await;
    let on_s2 = count(&mut s2, "accounts").await;
    assert!(on_s2 > 0, "the split moved rows to s2");
    serving.0.kill().unwrap(); // SIGKILL
    serving.0.wait().unwrap();
    drop(admin);
    // Restarted on the file it started with, which places keys as before the migration.
    let _restarted = spawn_serve(&old_config, &log);
    let mut app = connect_admin(port).await;
    assert_eq!(count(&mut app, "accounts").await, 300);
    assert_eq!(count(&mut app, "events").await, 600);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("serving its target topology from the migration record"),
        "{text}"
    );
    // The proxy routes a moved key to its new owner.
    let moved: u64 = s2
        .query_first("SELECT MIN(id) FROM accounts")
        .await
        .unwrap()
        .unwrap();
    let route: Vec<mysql_async::Row> = app
        .query(format!(
            "SHOW SHARDGATE ROUTE FOR SELECT * FROM accounts WHERE id = {moved}"
        ))
        .await
        .unwrap();
    let text = format!("{route:?}");
    assert!(text.contains("s2"), "{text}");
    assert_eq!(target.shards.len(), 3);
    drop((app, s2));
    env.stop().await;
}
