//! Connections as MariaDB keeps them, through the proxy: the connection id a client sees is
//! the proxy's everywhere (handshake, `CONNECTION_ID()`, `SHOW PROCESSLIST`), `KILL` stops a
//! statement on every shard it runs on or closes a session, `wait_timeout` closes idle client
//! connections, and administrative statements run on every primary for admin users.

use std::time::Duration;

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

const ADMIN_AND_OTHER: &str =
    "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n\
                               \n[[users]]\nname = \"other\"\npassword = \"other-secret\"\n";

async fn connect_as(env: &TestEnv, user: &str, password: &str) -> Conn {
    let opts = env.opts().user(Some(user)).pass(Some(password));
    Conn::new(Opts::from(opts)).await.expect("connects")
}

/// `n` user ids owned by `shard`.
fn ids_on(env: &TestEnv, shard: usize, n: usize) -> Vec<i64> {
    (1..)
        .filter(|id| env.shard_of("users", i128::from(*id)) == shard)
        .take(n)
        .collect()
}

/// One user row on each of the two shards; their ids.
async fn one_user_per_shard(env: &TestEnv, conn: &mut Conn) -> [i64; 2] {
    let ids = [ids_on(env, 0, 1)[0], ids_on(env, 1, 1)[0]];
    for id in ids {
        conn.query_drop(format!(
            "INSERT INTO users (id, name) VALUES ({id}, 'u{id}')"
        ))
        .await
        .unwrap();
    }
    ids
}

/// `SHOW FULL PROCESSLIST` as seen by `conn`, each row as (Id, User, db, Command, Info).
async fn processes(conn: &mut Conn) -> Vec<(u64, String, Option<String>, String, Option<String>)> {
    rows(conn, "SHOW FULL PROCESSLIST")
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].as_deref().unwrap().parse().unwrap(),
                r[1].clone().unwrap(),
                r[3].clone(),
                r[4].clone().unwrap(),
                r[7].clone(),
            )
        })
        .collect()
}

/// Waits until session `id` runs a statement calling SLEEP (as `SHOW PROCESSLIST` on `conn`
/// shows it: the previous statement may still show as running for a moment after its answer).
async fn wait_sleeping(conn: &mut Conn, id: u32) {
    for _ in 0..200 {
        let sleeping = processes(conn).await.iter().any(|p| {
            p.0 == u64::from(id)
                && p.3 == "Query"
                && p.4.as_deref().is_some_and(|info| info.contains("SLEEP"))
        });
        if sleeping {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {id} never showed its statement running");
}

/// Waits (at most 10 s) until session `id` is no longer in `SHOW PROCESSLIST` on `conn`.
async fn wait_gone(conn: &mut Conn, id: u32) {
    for _ in 0..100 {
        if !processes(conn).await.iter().any(|p| p.0 == u64::from(id)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("session {id} is still there");
}

/// Runs `sql` on `conn` in a task of its own; the connection comes back with the outcome.
fn spawn_query(
    mut conn: Conn,
    sql: impl Into<String>,
) -> tokio::task::JoinHandle<(Conn, mysql_async::Result<Vec<mysql_async::Row>>)> {
    let sql = sql.into();
    tokio::spawn(async move {
        let result = conn.query(sql).await;
        (conn, result)
    })
}

/// Waits until `SHOW PROCESSLIST` on `conn` lists exactly the sessions `ids`.
async fn wait_sessions(conn: &mut Conn, ids: &[u32]) {
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = processes(conn).await.iter().map(|p| p.0).collect();
        if listed == ids.iter().map(|id| u64::from(*id)).collect::<Vec<_>>() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sessions {listed:?}, expected {ids:?}");
}

/// Name, type, flags, length, decimals and character set of each column of `sql`'s answer.
async fn describe(
    conn: &mut Conn,
    sql: &str,
) -> Vec<(
    String,
    mysql_async::consts::ColumnType,
    mysql_async::consts::ColumnFlags,
    u32,
    u8,
    u16,
)> {
    let result = conn.query_iter(sql).await.unwrap();
    let columns = result
        .columns_ref()
        .iter()
        .map(|c| {
            (
                c.name_str().into_owned(),
                c.column_type(),
                c.flags(),
                c.column_length(),
                c.decimals(),
                c.character_set(),
            )
        })
        .collect();
    result.drop_result().await.unwrap();
    columns
}

/// Generously long for anything but a statement nobody stopped.
const ENDS_SOON: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_id_is_the_proxy_s_in_every_statement() {
    let pool = format!("{ADMIN_AND_OTHER}\n[backend.pool]\nmax_size = 1\n");
    let env = TestEnv::start_with(2, 0, &pool).await;
    let mut conn = env.connect().await;
    let id = conn.id();
    one_user_per_shard(&env, &mut conn).await;

    let text: u64 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text, u64::from(id), "text protocol");
    let prepared: u64 = conn
        .exec_first("SELECT CONNECTION_ID()", ())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prepared, u64::from(id), "prepared statement");
    let pseudo: u64 = conn
        .query_first("SELECT @@pseudo_thread_id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pseudo, u64::from(id), "@@pseudo_thread_id");
    // A scatter: every shard's rows carry the session's id.
    let scattered: Vec<(u64, i64)> = conn
        .query("SELECT CONNECTION_ID(), id FROM users ORDER BY id")
        .await
        .unwrap();
    assert_eq!(scattered.len(), 2);
    assert!(
        scattered.iter().all(|(c, _)| *c == u64::from(id)),
        "{scattered:?}"
    );
    // Inside a transaction, on its pinned connection.
    conn.query_drop("BEGIN").await.unwrap();
    let in_txn: u64 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_txn, u64::from(id), "in a transaction");
    conn.query_drop("COMMIT").await.unwrap();
    // SHOW PROCESSLIST shows the same id.
    assert!(processes(&mut conn)
        .await
        .iter()
        .any(|p| p.0 == u64::from(id)));

    // Another session on the same (only) backend connection has its own id, and the first
    // session's never stays behind on that connection.
    let mut other = env.connect().await;
    assert_ne!(other.id(), id);
    let theirs: u64 = other
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs, u64::from(other.id()));
    drop(other);
    // An admin, who may read the server's processlist.
    let mut third = connect_as(&env, "ops", "ops-secret").await;
    let left: Vec<(String, String)> = third
        .query("SHOW SESSION VARIABLES LIKE 'pseudo_thread%'")
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    let left: u64 = left[0].1.parse().unwrap();
    // The backend connection's own thread id (the statement finds itself).
    let thread: u64 = third
        .query_first(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%finds itself%'",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        left, thread,
        "another session's id stayed on the connection"
    );

    // A backend account that may not set pseudo_thread_id: a clear error, never a wrong id.
    let revoke = "REVOKE SUPER, BINLOG REPLAY ON *.* FROM shardgate@'127.0.0.1'";
    let default = &env.sandbox.shards()[env.topology.default_shard];
    env.sandbox.exec(&default.primary, revoke).await.unwrap();
    (env.proxy.runtime())
        .primary(env.topology.default_shard)
        .discard_idle();
    let refused = third.query_drop("SELECT CONNECTION_ID()").await;
    let (code, _, message) = server_error(refused);
    assert_eq!(code, 1227);
    assert!(
        message.starts_with("CONNECTION_ID() through shardgate needs the backend account to hold SUPER or BINLOG REPLAY"),
        "{message}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_processlist_lists_the_proxy_s_sessions_as_mariadb_shapes_them() {
    let env = TestEnv::start_with(2, 0, ADMIN_AND_OTHER).await;
    let mut idle = env.connect().await;
    idle.query_drop("USE mysql").await.unwrap();
    let sleeper = env.connect().await;
    let sleeper_id = sleeper.id();
    let running = spawn_query(sleeper, "SELECT SLEEP(5), 'secret@example.com'");
    let mut app = env.connect().await;
    wait_sleeping(&mut app, sleeper_id).await;

    let seen = processes(&mut app).await;
    let row = |id: u32| {
        seen.iter()
            .find(|p| p.0 == u64::from(id))
            .unwrap_or_else(|| panic!("session {id} not in {seen:?}"))
            .clone()
    };
    assert_eq!(
        row(idle.id()),
        (
            u64::from(idle.id()),
            "app".into(),
            Some("mysql".into()),
            "Sleep".into(),
            None
        )
    );
    // The running statement as a digest: no literal value.
    let (_, user, db, command, info) = row(sleeper_id);
    assert_eq!(
        (user.as_str(), db.as_deref(), command.as_str()),
        ("app", Some("app"), "Query")
    );
    assert_eq!(info.as_deref(), Some("SELECT SLEEP(?), ?"));
    let (.., command, info) = row(app.id());
    assert_eq!(
        (command.as_str(), info.as_deref()),
        ("Query", Some("SHOW FULL PROCESSLIST"))
    );
    // Every row is a proxy session of this user: none of the backend connections.
    assert_eq!(seen.len(), 3, "{seen:?}");

    // Another user without admin sees only its own sessions; an admin sees all.
    let mut other = connect_as(&env, "other", "other-secret").await;
    let theirs = processes(&mut other).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0].0, u64::from(other.id()));
    let mut admin = connect_as(&env, "ops", "ops-secret").await;
    assert_eq!(processes(&mut admin).await.len(), 5);

    // The columns and their types are MariaDB's own (compared with one server's answer).
    let mut direct = env.connect_primary(0).await;
    for sql in ["SHOW PROCESSLIST", "SHOW FULL PROCESSLIST"] {
        assert_eq!(
            describe(&mut app, sql).await,
            describe(&mut direct, sql).await,
            "{sql}"
        );
    }
    // The servers' own threads are every session's backend connections: admin users only.
    let servers = "SELECT COUNT(*) FROM information_schema.PROCESSLIST";
    let refused = app.query_drop(servers).await;
    assert_eq!(
        server_error(refused),
        (
            1227,
            "42000".into(),
            "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation"
                .into()
        )
    );
    let refused = app.exec_drop(servers, ()).await;
    assert_eq!(server_error(refused).0, 1227);
    let threads: u64 = admin.query_first(servers).await.unwrap().unwrap();
    assert!(threads >= 1);

    // In the binary protocol too.
    let prepared: Vec<mysql_async::Row> = app.exec("SHOW PROCESSLIST", ()).await.unwrap();
    assert_eq!(prepared.len(), 3);
    let ids: Vec<u64> = prepared.iter().map(|r| r.get(0).unwrap()).collect();
    assert!(ids.contains(&u64::from(app.id())), "{ids:?}");

    // And to the mariadb CLI, which asks for MariaDB's extended column metadata.
    let port = env.port.to_string();
    let cli = tokio::task::spawn_blocking(move || {
        std::process::Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", &port, "-u", "app", "-papp", "-N"])
            .args(["-e", "SHOW FULL PROCESSLIST"])
            .output()
    })
    .await
    .unwrap()
    .expect("the mariadb CLI runs");
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(String::from_utf8_lossy(&cli.stdout).contains("SHOW FULL PROCESSLIST"));

    let (_, outcome) = running.await.unwrap();
    outcome.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_query_stops_the_statement_on_every_shard_and_the_session_goes_on() {
    let env = TestEnv::start(2, 0).await;
    let mut killer = env.connect().await;
    let [on_s0, _] = one_user_per_shard(&env, &mut killer).await;

    let victim = env.connect().await;
    let victim_id = victim.id();
    // One shard: JDBC's Statement.cancel, KILL QUERY from another connection of the same user.
    let single = format!("SELECT SLEEP(60) FROM users WHERE id = {on_s0}");
    let task = spawn_query(victim, single.clone());
    wait_sleeping(&mut killer, victim_id).await;
    killer
        .query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    let (mut victim, outcome) = tokio::time::timeout(ENDS_SOON, task)
        .await
        .expect("the statement ends once killed")
        .unwrap();
    assert_eq!(server_error(outcome).0, 1317);
    let one: u64 = victim.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);

    // A scatter: the statement stops on both shards.
    let task = spawn_query(victim, "SELECT SLEEP(60), id FROM users");
    wait_sleeping(&mut killer, victim_id).await;
    killer
        .query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    let (mut victim, outcome) = tokio::time::timeout(ENDS_SOON, task)
        .await
        .expect("the scatter ends once killed")
        .unwrap();
    assert_eq!(server_error(outcome).0, 1317);
    // Neither shard still sleeps.
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        let sleeping = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60), id%'";
        let mut left = 1;
        for _ in 0..100 {
            left = direct.query_first(sleeping).await.unwrap().unwrap();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(left, 0, "shard {shard} still runs the killed scatter");
    }
    let count: u64 = victim
        .query_first("SELECT COUNT(*) FROM users")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, 2);

    // Inside a transaction: the statement stops, the transaction goes on, as on MariaDB.
    victim.query_drop("BEGIN").await.unwrap();
    victim
        .query_drop(format!(
            "UPDATE users SET name = 'changed' WHERE id = {on_s0}"
        ))
        .await
        .unwrap();
    let task = spawn_query(victim, single.clone());
    wait_sleeping(&mut killer, victim_id).await;
    killer
        .query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    let (mut victim, outcome) = tokio::time::timeout(ENDS_SOON, task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server_error(outcome).0, 1317);
    let name: String = victim
        .query_first(format!("SELECT name FROM users WHERE id = {on_s0}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name, "changed", "the transaction kept its write");
    victim.query_drop("ROLLBACK").await.unwrap();
    let name: String = victim
        .query_first(format!("SELECT name FROM users WHERE id = {on_s0}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(name, format!("u{on_s0}"));

    // KILL QUERY of an idle session changes nothing; of the session itself, interrupts the KILL.
    killer
        .query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    victim.query_drop("SELECT 1").await.unwrap();
    let own = killer.query_drop("KILL QUERY CONNECTION_ID()").await;
    assert_eq!(server_error(own).0, 1317);
    killer.query_drop("SELECT 1").await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_connection_closes_a_session_for_its_owner_or_an_admin() {
    let env = TestEnv::start_with(2, 0, ADMIN_AND_OTHER).await;
    let mut owner = env.connect().await;

    // An idle session: closed at once.
    let mut idle = env.connect().await;
    owner
        .query_drop(format!("KILL {}", idle.id()))
        .await
        .unwrap();
    assert!(idle.query_drop("SELECT 1").await.is_err());

    // A busy one: its statement stops, then the connection closes.
    let busy = env.connect().await;
    let busy_id = busy.id();
    let task = spawn_query(busy, "SELECT SLEEP(60)");
    wait_sleeping(&mut owner, busy_id).await;
    owner
        .query_drop(format!("KILL CONNECTION {busy_id}"))
        .await
        .unwrap();
    let (mut busy, outcome) = tokio::time::timeout(ENDS_SOON, task)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err());
    assert!(busy.query_drop("SELECT 1").await.is_err());
    let owner_id = owner.id();
    wait_sessions(&mut owner, &[owner_id]).await;

    // Another user's session: MariaDB's 1095, unless the killer is an admin; unknown: 1094.
    let mut other = connect_as(&env, "other", "other-secret").await;
    let refused = other.query_drop(format!("KILL {}", owner.id())).await;
    assert_eq!(
        server_error(refused),
        (
            1095,
            "HY000".into(),
            format!("You are not owner of thread {}", owner.id())
        )
    );
    let refused = other.query_drop(format!("KILL QUERY {}", owner.id())).await;
    assert_eq!(server_error(refused).0, 1095);
    let unknown = other.query_drop("KILL 999999").await;
    assert_eq!(
        server_error(unknown),
        (1094, "HY000".into(), "Unknown thread id: 999999".into())
    );
    let mut admin = connect_as(&env, "ops", "ops-secret").await;
    admin
        .query_drop(format!("KILL {}", other.id()))
        .await
        .unwrap();
    assert!(other.query_drop("SELECT 1").await.is_err());

    // Its own connection: MariaDB's 1927, and the connection is closed.
    let own = owner.query_drop(format!("KILL {}", owner.id())).await;
    assert_eq!(
        server_error(own),
        (1927, "70100".into(), "Connection was killed".into())
    );
    assert!(owner.query_drop("SELECT 1").await.is_err());
    env.stop().await;
}

/// MariaDB evaluates a KILL's expression (`KILL @id`, `KILL (SELECT …)`): the proxy has it
/// evaluated in the session's state and kills the session it names (it used to refuse: 1235).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_takes_an_expression_as_mariadb_does() {
    let env = TestEnv::start(2, 0).await;
    let mut killer = env.connect().await;
    let mut victim = env.connect().await;
    killer
        .query_drop(format!("SET @victim = {}", victim.id()))
        .await
        .unwrap();
    killer.query_drop("KILL (@victim + 0)").await.unwrap();
    assert!(victim.query_drop("SELECT 1").await.is_err());
    // The test of MariaDB's own suite (sp-bugs): an id of 0 names no thread.
    let unknown = killer
        .query_drop("KILL  (('x' IN ( SELECT 1)) MOD 44)")
        .await;
    assert_eq!(
        server_error(unknown),
        (1094, "HY000".into(), "Unknown thread id: 0".into())
    );
    // The server's own error for an expression it cannot evaluate.
    let bad = killer.query_drop("KILL no_such_column").await;
    assert_eq!(server_error(bad).0, 1054);
    killer.query_drop("SELECT 1").await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_closes_idle_client_connections() {
    let env = TestEnv::start_with(2, 0, ADMIN_AND_OTHER).await;
    let mut idle = env.connect().await;
    idle.query_drop("SET SESSION wait_timeout = 1")
        .await
        .unwrap();
    let read: u64 = idle
        .query_first("SELECT @@wait_timeout")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, 1);
    let mut active = env.connect().await;
    active.query_drop("SET @@wait_timeout = 1").await.unwrap();
    let mut patient = env.connect().await;

    // The idle session goes (within a second or two); the active one, which speaks more often
    // than once a second, stays.
    let idle_id = idle.id();
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        active.query_drop("SELECT 1").await.unwrap();
        gone = !processes(&mut active)
            .await
            .iter()
            .any(|p| p.0 == u64::from(idle_id));
        if gone {
            break;
        }
    }
    assert!(gone, "the idle session stayed");
    assert!(idle.query_drop("SELECT 1").await.is_err());
    active.query_drop("SELECT 1").await.unwrap();
    patient.query_drop("SELECT 1").await.unwrap();

    // A new global wait_timeout, set by an admin on every primary, applies to sessions that
    // start afterwards, as on MariaDB.
    let mut admin = connect_as(&env, "ops", "ops-secret").await;
    admin
        .query_drop("SET GLOBAL wait_timeout = 2")
        .await
        .unwrap();
    let mut fresh = env.connect().await;
    let read: u64 = fresh
        .query_first("SELECT @@wait_timeout")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, 2);
    let fresh_id = fresh.id();
    wait_gone(&mut patient, fresh_id).await;
    assert!(fresh.query_drop("SELECT 1").await.is_err());
    patient.query_drop("SELECT 1").await.unwrap();

    // A client that says it is interactive gets the servers' interactive_timeout instead, as
    // its session's wait_timeout.
    admin
        .query_drop("SET GLOBAL interactive_timeout = 3")
        .await
        .unwrap();
    let script = format!(
        "import time, pymysql\n\
         from pymysql.constants import CLIENT\n\
         c = pymysql.connect(host='127.0.0.1', port={}, user='app', password='app', database='app', client_flag=CLIENT.INTERACTIVE)\n\
         cur = c.cursor()\n\
         cur.execute('SELECT @@wait_timeout')\n\
         print(cur.fetchone()[0])\n\
         time.sleep(6)\n\
         try:\n    cur.execute('SELECT 1')\n    print('open')\n\
         except pymysql.err.OperationalError as e:\n    print('closed', e.args[0])\n",
        env.port
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
    })
    .await
    .unwrap()
    .expect("run python3");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "3\nclosed 2013\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrative_statements_run_on_every_primary_for_admins_only() {
    let env = TestEnv::start_with(2, 0, ADMIN_AND_OTHER).await;
    // GRANT through the proxy runs as its backend account, which then needs GRANT OPTION (the
    // sandbox's has every privilege but that one); connections opened before keep their old
    // privileges.
    for shard in env.sandbox.shards() {
        let grant = "GRANT ALL PRIVILEGES ON *.* TO shardgate@'127.0.0.1' WITH GRANT OPTION";
        env.sandbox.exec(&shard.primary, grant).await.unwrap();
    }
    env.reopen_primary_connections().await;
    let mut admin = connect_as(&env, "ops", "ops-secret").await;
    let mut directs = [env.connect_primary(0).await, env.connect_primary(1).await];
    let users_on =
        |user: &'static str| format!("SELECT COUNT(*) FROM mysql.user WHERE user = '{user}'");

    for sql in [
        "CREATE USER 'reporter'@'%' IDENTIFIED BY 'r1'",
        "GRANT SELECT ON app.* TO 'reporter'@'%'",
        "SET PASSWORD FOR 'reporter'@'%' = PASSWORD('r2')",
        "ALTER USER 'reporter'@'%' IDENTIFIED BY 'r3'",
        "CREATE ROLE auditor",
        "GRANT auditor TO 'reporter'@'%'",
        "FLUSH PRIVILEGES",
        "RENAME USER 'reporter'@'%' TO 'analyst'@'%'",
        "SET GLOBAL max_connections = 123",
        "SET @@global.net_read_timeout = 45",
    ] {
        admin
            .query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    // Its conditions are listed as MariaDB lists them (the default shard's).
    admin
        .query_drop("CREATE USER IF NOT EXISTS 'analyst'@'%'")
        .await
        .unwrap();
    let listed: Vec<(String, u32, String)> = admin.query("SHOW WARNINGS").await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].0.as_str(), listed[0].1),
        ("Note", 1973),
        "{listed:?}"
    );
    for direct in &mut directs {
        let n: u64 = direct
            .query_first(users_on("analyst"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
        let grants: Vec<String> = direct.query("SHOW GRANTS FOR 'analyst'@'%'").await.unwrap();
        assert!(
            grants.iter().any(|g| g.contains("SELECT ON `app`.*")),
            "{grants:?}"
        );
        assert!(grants.iter().any(|g| g.contains("`auditor`")), "{grants:?}");
        let settings: (u64, u64) = direct
            .query_first("SELECT @@GLOBAL.max_connections, @@GLOBAL.net_read_timeout")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(settings, (123, 45));
    }

    // MariaDB's own error on the default shard: nothing changed anywhere.
    let exists = admin.query_drop("CREATE USER 'analyst'@'%'").await;
    let (code, _, message) = server_error(exists);
    assert_eq!(code, 1396);
    assert!(
        message.starts_with("Operation CREATE USER failed"),
        "{message}"
    );
    // A later shard fails: the error says which shards applied the statement.
    directs[1]
        .query_drop("CREATE USER 'half'@'%'")
        .await
        .unwrap();
    let half = admin.query_drop("CREATE USER 'half'@'%'").await;
    let (code, _, message) = server_error(half);
    assert_eq!(code, 1396);
    assert!(
        message.contains("shard s1:") && message.contains("applied on [s0]"),
        "{message}"
    );
    for sql in ["DROP USER 'analyst'@'%', 'half'@'%'", "DROP ROLE auditor"] {
        admin.query_drop(sql).await.unwrap();
    }
    for direct in &mut directs {
        let n: u64 = direct
            .query_first(users_on("analyst"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);
    }

    // Anyone else: the error MariaDB gives an account without the privilege, every time.
    let mut app = env.connect().await;
    for (sql, privilege) in [
        ("CREATE USER 'x'@'%'", "CREATE USER"),
        ("DROP USER 'x'@'%'", "CREATE USER"),
        ("GRANT SELECT ON app.* TO 'x'@'%'", "GRANT OPTION"),
        ("REVOKE SELECT ON app.* FROM 'x'@'%'", "GRANT OPTION"),
        ("FLUSH PRIVILEGES", "RELOAD"),
        ("SET GLOBAL max_connections = 10", "SUPER"),
        ("SET @@global.max_connections = 10", "SUPER"),
    ] {
        let refused = app.query_drop(sql).await;
        assert_eq!(
            server_error(refused),
            (
                1227,
                "42000".into(),
                format!("Access denied; you need (at least one of) the {privilege} privilege(s) for this operation")
            ),
            "{sql}"
        );
    }
    // The proxy's own variables have no global value; the backend account's password and
    // roles are not the client's to change.
    let global = admin
        .query_drop("SET GLOBAL shardgate_consistency = 'strong'")
        .await;
    assert_eq!(server_error(global).0, 1228);
    let own_password = admin.query_drop("SET PASSWORD = PASSWORD('x')").await;
    assert_eq!(server_error(own_password).0, 1235);
    let settings: u64 = directs[0]
        .query_first("SELECT @@GLOBAL.max_connections")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settings, 123);

    // One SET of a global and a session value: the global one on every primary, the session
    // one kept by the session (it reaches both shards' connections); others get 1227.
    admin
        .query_drop("SET @@global.histogram_size = 7, @@local.histogram_size = 3")
        .await
        .unwrap();
    for direct in &mut directs {
        let global: u64 = direct
            .query_first("SELECT @@GLOBAL.histogram_size")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(global, 7);
    }
    let id = (1..).find(|id| env.shard_of("users", *id) == 1).unwrap();
    for sql in [
        "SELECT @@SESSION.histogram_size".to_owned(),
        format!("SELECT @@SESSION.histogram_size FROM users WHERE id = {id} UNION ALL SELECT 3"),
    ] {
        let session: Vec<u64> = admin.query(&sql).await.unwrap();
        assert!(session.iter().all(|v| *v == 3), "{sql}: {session:?}");
    }
    let mixed = app
        .query_drop("SET GLOBAL histogram_size = 1, SESSION histogram_size = 2")
        .await;
    assert_eq!(server_error(mixed).0, 1227);
    admin
        .query_drop("SET GLOBAL histogram_size = DEFAULT")
        .await
        .unwrap();
    env.stop().await;
}
