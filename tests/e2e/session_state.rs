//! Session state follows the client session across the pooled backend connections of every
//! shard, and never leaks into another session: time zone, character set, sql_mode, user
//! variables, the current database, autocommit, and COM_RESET_CONNECTION.

use std::process::Command;
use std::time::Duration;

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use shardgate_ring::KeyValue;

fn shard_of(env: &TestEnv, id: i64) -> usize {
    env.topology
        .table("users")
        .unwrap()
        .shard_for(&KeyValue::Int(i128::from(id)))
        .unwrap()
}

/// `n` user ids owned by `shard`.
fn ids_on(env: &TestEnv, shard: usize, n: usize) -> Vec<i64> {
    (1..)
        .filter(|id| shard_of(env, *id) == shard)
        .take(n)
        .collect()
}

/// One user id per shard, indexed by shard.
fn one_id_per_shard(env: &TestEnv) -> [i64; 2] {
    [ids_on(env, 0, 1)[0], ids_on(env, 1, 1)[0]]
}

/// The single row of a text query, as strings.
async fn one_row(conn: &mut Conn, sql: &str) -> Vec<Option<String>> {
    let mut got = rows(conn, sql).await;
    assert_eq!(got.len(), 1, "{sql}: {got:?}");
    got.remove(0)
}

fn strings(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

/// The raw values of the single row of a text query (bytes exactly as sent).
async fn raw_row(conn: &mut Conn, sql: &[u8]) -> (Vec<Value>, Vec<u16>) {
    let mut result = conn.query_iter(sql).await.unwrap();
    let charsets = result
        .columns()
        .unwrap()
        .iter()
        .map(|c| c.character_set())
        .collect();
    let rows: Vec<Row> = result.collect().await.unwrap();
    drop(result);
    assert_eq!(rows.len(), 1);
    (rows.into_iter().next().unwrap().unwrap(), charsets)
}

const LATIN1_SWEDISH_CI: u16 = 8;

/// Runs a Python script (PyMySQL clients) off the async workers.
async fn python(script: String) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new("python3").arg("-c").arg(script).output())
        .await
        .unwrap()
        .expect("run python3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_zone_and_character_set_follow_the_session_on_both_shards() {
    let env = TestEnv::start(2, 0).await;
    let ids = one_id_per_shard(&env);
    let mut directs = [env.connect_primary(0).await, env.connect_primary(1).await];

    let mut setup = env.connect().await;
    setup
        .query_drop("ALTER TABLE users ADD COLUMN seen_at TIMESTAMP NULL DEFAULT NULL")
        .await
        .unwrap();
    setup.query_drop("SET time_zone = '+00:00'").await.unwrap();
    for id in ids {
        setup
            .query_drop(format!(
                "INSERT INTO users (id, email, seen_at) VALUES ({id}, 'e{id}', '2024-01-01 00:00:00')"
            ))
            .await
            .unwrap();
    }
    drop(setup);

    // --- time_zone ---
    let mut zoned = env.connect().await;
    zoned.query_drop("SET time_zone = '+05:30'").await.unwrap();
    let mut plain = env.connect().await;
    let query = |id: i64| {
        format!(
            "SELECT @@time_zone, TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()), \
             DATE_FORMAT(CONVERT_TZ('2024-01-01 00:00:00', '+00:00', @@time_zone), '%Y-%m-%d %H:%i'), \
             FROM_UNIXTIME(0), seen_at, UNIX_TIMESTAMP(seen_at) FROM users WHERE id = {id}"
        )
    };
    let in_zone = strings(&[
        "+05:30",
        "330",
        "2024-01-01 05:30",
        "1970-01-01 05:30:00",
        "2024-01-01 05:30:00",
        "1704067200",
    ]);
    // What a session with the server's default zone sees, asked directly.
    let mut by_default = Vec::new();
    for (shard, id) in ids.iter().enumerate() {
        let got = one_row(&mut directs[shard], &query(*id)).await;
        assert_ne!(got[0].as_deref(), Some("+05:30"));
        by_default.push(got);
    }
    for round in 0..4 {
        for (shard, id) in ids.iter().enumerate() {
            assert_eq!(
                one_row(&mut zoned, &query(*id)).await,
                in_zone,
                "round {round}, shard {shard}"
            );
            assert_eq!(
                one_row(&mut plain, &query(*id)).await,
                by_default[shard],
                "round {round}, shard {shard}: another session keeps the default zone"
            );
        }
    }
    // Both sessions at once, many times, through the same pools.
    let zoned_task = async {
        for _ in 0..25 {
            for id in ids {
                assert_eq!(one_row(&mut zoned, &query(id)).await, in_zone);
            }
        }
    };
    let plain_task = async {
        for _ in 0..25 {
            for (shard, id) in ids.iter().enumerate() {
                assert_eq!(one_row(&mut plain, &query(*id)).await, by_default[shard]);
            }
        }
    };
    tokio::join!(zoned_task, plain_task);
    // The binary protocol answers in the session's zone too.
    for id in ids {
        let got: Option<(String, Value)> = zoned
            .exec_first("SELECT @@time_zone, seen_at FROM users WHERE id = ?", (id,))
            .await
            .unwrap();
        assert_eq!(
            got,
            Some(("+05:30".into(), Value::Date(2024, 1, 1, 5, 30, 0, 0)))
        );
    }
    // Writes are interpreted in the session's zone on both shards: a literal by text, a
    // parameter by the binary protocol, and NOW() into a DATETIME.
    zoned
        .query_drop(format!(
            "UPDATE users SET seen_at = '2024-06-01 12:00:00', created_at = NOW() WHERE id = {}",
            ids[0]
        ))
        .await
        .unwrap();
    zoned
        .exec_drop(
            "UPDATE users SET seen_at = ?, created_at = NOW() WHERE id = ?",
            (Value::Date(2024, 6, 1, 12, 0, 0, 0), ids[1]),
        )
        .await
        .unwrap();
    for (shard, id) in ids.iter().enumerate() {
        directs[shard]
            .query_drop("SET time_zone = '+00:00'")
            .await
            .unwrap();
        let got = one_row(
            &mut directs[shard],
            &format!(
                "SELECT seen_at, ABS(TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), created_at) - 330) <= 1 FROM users WHERE id = {id}"
            ),
        )
        .await;
        assert_eq!(got, strings(&["2024-06-01 06:30:00", "1"]), "shard {shard}");
    }
    drop((zoned, plain));

    // --- SET NAMES latin1 ---
    let mut latin = env.connect().await;
    latin.query_drop("SET NAMES latin1").await.unwrap();
    let cafe_latin1 = b"caf\xE9".to_vec();
    let cafe_utf8 = "café".as_bytes().to_vec();
    for (shard, id) in ids.iter().enumerate() {
        let mut sql = b"UPDATE users SET name = '".to_vec();
        sql.extend_from_slice(&cafe_latin1);
        sql.extend_from_slice(format!("' WHERE id = {id}").as_bytes());
        latin.query_drop(&sql[..]).await.unwrap();
        assert_eq!(latin.affected_rows(), 1, "shard {shard}");
        // Stored as utf8mb4, sent back as latin1, with latin1 column metadata.
        let (values, charsets) = raw_row(
            &mut latin,
            format!(
                "SELECT name, HEX(name), CHARSET(name), @@character_set_client, @@character_set_results, @@character_set_connection FROM users WHERE id = {id}"
            )
            .as_bytes(),
        )
        .await;
        let want: Vec<Value> = [
            &cafe_latin1[..],
            b"636166C3A9",
            b"utf8mb4",
            b"latin1",
            b"latin1",
            b"latin1",
        ]
        .iter()
        .map(|b| Value::Bytes(b.to_vec()))
        .collect();
        assert_eq!(values, want, "shard {shard}");
        assert_eq!(
            charsets[0], LATIN1_SWEDISH_CI,
            "shard {shard}: name's charset"
        );
        let direct = one_row(
            &mut directs[shard],
            &format!("SELECT name, HEX(name) FROM users WHERE id = {id}"),
        )
        .await;
        assert_eq!(direct, strings(&["café", "636166C3A9"]), "shard {shard}");
        // A latin1 parameter (binary protocol) is converted on the way in, and the value
        // comes back as latin1.
        latin
            .exec_drop(
                "UPDATE users SET email = ? WHERE id = ?",
                (Value::Bytes(b"\xFCber".to_vec()), *id),
            )
            .await
            .unwrap();
        let got: Option<Value> = latin
            .exec_first("SELECT email FROM users WHERE id = ?", (*id,))
            .await
            .unwrap();
        assert_eq!(
            got,
            Some(Value::Bytes(b"\xFCber".to_vec())),
            "shard {shard}"
        );
        let direct = one_row(
            &mut directs[shard],
            &format!("SELECT email FROM users WHERE id = {id}"),
        )
        .await;
        assert_eq!(direct, strings(&["über"]), "shard {shard}");
    }
    // A session that did not ask for latin1 keeps utf8mb4 meanwhile.
    let mut utf8 = env.connect().await;
    for id in ids {
        let (values, _) = raw_row(
            &mut utf8,
            format!("SELECT name, @@character_set_results FROM users WHERE id = {id}").as_bytes(),
        )
        .await;
        assert_eq!(
            values,
            vec![
                Value::Bytes(cafe_utf8.clone()),
                Value::Bytes(b"utf8mb4".to_vec())
            ]
        );
    }
    latin.query_drop("SET NAMES utf8mb4").await.unwrap();
    for (shard, id) in ids.iter().enumerate() {
        let (values, charsets) = raw_row(
            &mut latin,
            format!("SELECT name, @@character_set_client, @@character_set_results FROM users WHERE id = {id}")
                .as_bytes(),
        )
        .await;
        assert_eq!(
            values,
            vec![
                Value::Bytes(cafe_utf8.clone()),
                Value::Bytes(b"utf8mb4".to_vec()),
                Value::Bytes(b"utf8mb4".to_vec())
            ],
            "shard {shard}"
        );
        assert_ne!(charsets[0], LATIN1_SWEDISH_CI, "shard {shard}");
    }
    drop((latin, utf8, directs));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_mode_user_variables_and_database_follow_the_session() {
    let env = TestEnv::start(2, 0).await;
    let ids = one_id_per_shard(&env);
    let mut conn = env.connect().await;
    for id in ids {
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({id}, 'e{id}')"
        ))
        .await
        .unwrap();
    }
    let mut direct = env.connect_primary(0).await;
    let default_mode = one_row(&mut direct, "SELECT @@sql_mode").await;
    drop(direct);

    conn.query_drop("SET SESSION sql_mode = 'PIPES_AS_CONCAT'")
        .await
        .unwrap();
    conn.query_drop("SET @greeting = 'héllo 😀', @n = 42")
        .await
        .unwrap();
    conn.query_drop("SET @@session.sql_select_limit = 7")
        .await
        .unwrap();
    let mut other = env.connect().await;
    for _ in 0..3 {
        for (shard, id) in ids.iter().enumerate() {
            let sql = format!(
                "SELECT @@sql_mode, 'a' || 'b', @greeting, @n, @@sql_select_limit FROM users WHERE id = {id}"
            );
            assert_eq!(
                one_row(&mut conn, &sql).await,
                strings(&["PIPES_AS_CONCAT", "ab", "héllo 😀", "42", "7"]),
                "shard {shard}"
            );
            // Binary protocol: the same state on the connection the execution lands on.
            let got: Option<(String, String, i64)> = conn
                .exec_first(
                    "SELECT @@sql_mode, @greeting, @n FROM users WHERE id = ?",
                    (*id,),
                )
                .await
                .unwrap();
            assert_eq!(
                got,
                Some(("PIPES_AS_CONCAT".into(), "héllo 😀".into(), 42)),
                "shard {shard}"
            );
            // Meanwhile another session has none of it.
            let got = one_row(
                &mut other,
                &format!("SELECT @@sql_mode, @greeting, @n, @@sql_select_limit FROM users WHERE id = {id}"),
            )
            .await;
            assert_eq!(
                got,
                vec![
                    default_mode[0].clone(),
                    None,
                    None,
                    Some("18446744073709551615".into())
                ],
                "shard {shard}"
            );
        }
    }
    // Reassigning replaces the value everywhere.
    conn.query_drop("SET @n = 43, SESSION sql_mode = DEFAULT")
        .await
        .unwrap();
    for id in ids {
        assert_eq!(
            one_row(
                &mut conn,
                &format!("SELECT @n, @@sql_mode FROM users WHERE id = {id}")
            )
            .await,
            vec![Some("43".into()), default_mode[0].clone()]
        );
    }

    // USE another database: the session's database on every shard.
    conn.query_drop("CREATE DATABASE other").await.unwrap();
    conn.query_drop("USE other").await.unwrap();
    for (shard, id) in ids.iter().enumerate() {
        assert_eq!(
            one_row(
                &mut conn,
                &format!("SELECT DATABASE(), email FROM app.users WHERE id = {id}")
            )
            .await,
            vec![Some("other".into()), Some(format!("e{id}"))],
            "shard {shard}"
        );
        assert_eq!(
            one_row(
                &mut other,
                &format!("SELECT DATABASE() FROM app.users WHERE id = {id}")
            )
            .await,
            strings(&["app"]),
            "shard {shard}: another session stays in its database"
        );
    }
    assert_eq!(
        one_row(&mut conn, "SELECT DATABASE()").await,
        strings(&["other"])
    );
    let (code, _, msg) = server_error(conn.query_drop("USE no_such_db").await);
    assert_eq!(code, 1049, "{msg}");
    assert_eq!(
        one_row(&mut conn, "SELECT DATABASE()").await,
        strings(&["other"]),
        "a failed USE keeps the database"
    );
    conn.query_drop("USE app").await.unwrap();
    for id in ids {
        assert_eq!(
            one_row(
                &mut conn,
                &format!("SELECT DATABASE() FROM users WHERE id = {id}")
            )
            .await,
            strings(&["app"])
        );
    }

    // The database named at login.
    let mut in_other = mysql_async::Conn::new(env.opts().db_name(Some("other")))
        .await
        .unwrap();
    for (shard, id) in ids.iter().enumerate() {
        assert_eq!(
            one_row(
                &mut in_other,
                &format!("SELECT DATABASE() FROM app.users WHERE id = {id}")
            )
            .await,
            strings(&["other"]),
            "shard {shard}"
        );
    }
    drop((conn, other, in_other));

    // COM_INIT_DB (PyMySQL's select_db sends it; mysql_async has no way to).
    let script = format!(
        r#"
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port={port}, user="app", password="app", database="app")
cur = c.cursor()
c.select_db("other")
for id in ({a}, {b}):
    cur.execute("SELECT DATABASE() FROM app.users WHERE id = %s", (id,))
    print(id, cur.fetchone()[0])
try:
    c.select_db("no_such_db")
    print("no error")
except pymysql.err.OperationalError as e:
    print("error", e.args[0])
cur.execute("SELECT DATABASE()")
print("after", cur.fetchone()[0])
c.select_db("app")
for id in ({a}, {b}):
    cur.execute("SELECT DATABASE() FROM users WHERE id = %s", (id,))
    print(id, cur.fetchone()[0])
"#,
        port = env.port,
        a = ids[0],
        b = ids[1]
    );
    let out = python(script).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{a} other\n{b} other\nerror 1049\nafter other\n{a} app\n{b} app\n",
            a = ids[0],
            b = ids[1]
        )
    );
    env.stop().await;
}

/// Whether user `id` exists, as `session` sees it.
async fn sees(session: &mut Conn, id: i64) -> bool {
    let n: Option<i64> = session
        .query_first(format!("SELECT COUNT(*) FROM users WHERE id = {id}"))
        .await
        .unwrap();
    n == Some(1)
}

async fn name_of(session: &mut Conn, id: i64) -> Option<String> {
    rows(session, &format!("SELECT name FROM users WHERE id = {id}"))
        .await
        .remove(0)
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocommit_off_holds_writes_until_commit_and_reset_clears_the_session() {
    let env = TestEnv::start(2, 0).await;
    let mut writer = env.connect().await;
    let mut reader = env.connect().await;
    writer.query_drop("SET autocommit = 0").await.unwrap();
    for shard in 0..2 {
        let [id, other_id] = ids_on(&env, shard, 2)[..] else {
            unreachable!()
        };
        assert_eq!(
            one_row(
                &mut writer,
                &format!("SELECT @@autocommit, COUNT(*) FROM users WHERE id = {id}")
            )
            .await,
            strings(&["0", "0"]),
            "shard {shard}"
        );
        writer
            .query_drop(format!(
                "INSERT INTO users (id, email, name) VALUES ({id}, 'e{id}', 'first')"
            ))
            .await
            .unwrap();
        writer
            .query_drop(format!(
                "INSERT INTO users (id, email, name) VALUES ({other_id}, 'e{other_id}', 'second')"
            ))
            .await
            .unwrap();
        assert!(sees(&mut writer, id).await, "the writer sees its own write");
        assert!(
            !sees(&mut reader, id).await,
            "shard {shard}: not committed yet"
        );
        assert!(!sees(&mut reader, other_id).await);
        let mut direct = env.connect_primary(shard).await;
        assert!(!sees(&mut direct, id).await);
        writer.query_drop("COMMIT").await.unwrap();
        assert!(sees(&mut reader, id).await, "shard {shard}: committed");
        assert!(sees(&mut reader, other_id).await);
        assert!(sees(&mut direct, id).await);

        // Still autocommit = 0: the next write opens the next transaction.
        writer
            .query_drop(format!("UPDATE users SET name = 'changed' WHERE id = {id}"))
            .await
            .unwrap();
        writer
            .exec_drop("DELETE FROM users WHERE id = ?", (other_id,))
            .await
            .unwrap();
        assert_eq!(name_of(&mut writer, id).await.as_deref(), Some("changed"));
        assert!(!sees(&mut writer, other_id).await);
        assert_eq!(name_of(&mut reader, id).await.as_deref(), Some("first"));
        assert!(sees(&mut reader, other_id).await);
        writer.query_drop("ROLLBACK").await.unwrap();
        assert_eq!(name_of(&mut writer, id).await.as_deref(), Some("first"));
        assert!(
            sees(&mut writer, other_id).await,
            "the delete was rolled back"
        );
        assert_eq!(name_of(&mut reader, id).await.as_deref(), Some("first"));
        assert_eq!(name_of(&mut direct, id).await.as_deref(), Some("first"));
        // The reader never had autocommit off.
        assert_eq!(
            one_row(
                &mut reader,
                &format!("SELECT @@autocommit FROM users WHERE id = {id}")
            )
            .await,
            strings(&["1"])
        );
    }
    // Turning autocommit back on commits what is pending.
    let id = ids_on(&env, 1, 3)[2];
    writer
        .query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({id}, 'e{id}')"
        ))
        .await
        .unwrap();
    assert!(!sees(&mut reader, id).await);
    writer.query_drop("SET autocommit = 1").await.unwrap();
    assert!(sees(&mut reader, id).await);

    // COM_RESET_CONNECTION: variables, user variables, autocommit and the open transaction.
    let ids = one_id_per_shard(&env);
    writer
        .query_drop("SET @x = 1, @@session.sql_select_limit = 3, time_zone = '+01:00', sql_mode = 'PIPES_AS_CONCAT'")
        .await
        .unwrap();
    writer.query_drop("SET NAMES latin1").await.unwrap();
    writer.query_drop("SET autocommit = 0").await.unwrap();
    writer
        .query_drop(format!(
            "UPDATE users SET name = 'uncommitted' WHERE id = {}",
            ids[1]
        ))
        .await
        .unwrap();
    assert!(
        writer.reset().await.unwrap(),
        "COM_RESET_CONNECTION is used"
    );
    let mut fresh = env.connect().await;
    for (shard, id) in ids.iter().enumerate() {
        let sql = format!(
            "SELECT @x, @@sql_select_limit, @@time_zone, @@sql_mode, @@autocommit, name, @@character_set_client, @@character_set_results FROM users WHERE id = {id}"
        );
        let after_reset = one_row(&mut writer, &sql).await;
        assert_eq!(
            after_reset,
            one_row(&mut fresh, &sql).await,
            "shard {shard}: like a fresh session"
        );
        assert_eq!(after_reset[0], None);
        assert_eq!(after_reset[4].as_deref(), Some("1"));
        assert_ne!(after_reset[5].as_deref(), Some("uncommitted"));
        assert_eq!(after_reset[6].as_deref(), Some("utf8mb4"));
    }
    // A session that logged in with latin1 returns to latin1, as MariaDB does.
    let script = |port: u16, user: &str, password: &str, id: Option<i64>| {
        let from = id.map_or(String::new(), |id| format!(" FROM users WHERE id = {id}"));
        format!(
            r#"
import pymysql
c = pymysql.connect(host="127.0.0.1", port={port}, user="{user}", password="{password}", database="app", charset="latin1")
cur = c.cursor()
def cs():
    cur.execute("SELECT @@character_set_client, @@character_set_results{from}")
    return ",".join(cur.fetchone())
print(cs())
cur.execute("SET NAMES utf8mb4")
print(cs())
c._execute_command(31, b"")  # COM_RESET_CONNECTION
c._read_ok_packet()
print(cs())
"#
        )
    };
    let primary = &env.sandbox.shards()[env.topology.default_shard].primary;
    let direct = python(script(
        primary.port,
        shardgate_sandbox::BACKEND_USER,
        shardgate_sandbox::BACKEND_PASSWORD,
        None,
    ))
    .await;
    assert!(
        direct.status.success(),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let direct = String::from_utf8_lossy(&direct.stdout).into_owned();
    assert_eq!(direct, "latin1,latin1\nutf8mb4,utf8mb4\nlatin1,latin1\n");
    for id in [None, Some(ids[0]), Some(ids[1])] {
        let out = python(script(
            env.port,
            shardgate_sandbox::PROXY_USER,
            shardgate_sandbox::PROXY_PASSWORD,
            id,
        ))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), direct, "user {id:?}");
    }
    // The rolled back transaction does not hold its row lock: another session can write.
    tokio::time::timeout(
        Duration::from_secs(10),
        reader.query_drop(format!(
            "UPDATE users SET name = 'free' WHERE id = {}",
            ids[1]
        )),
    )
    .await
    .expect("no lock left behind")
    .unwrap();
    drop((writer, reader, fresh));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sessions_over_two_connections_per_shard_never_share_state() {
    let env = TestEnv::start_with(2, 0, "\n[backend.pool]\nmax_size = 2\n").await;
    let ids = one_id_per_shard(&env);
    let mut setup = env.connect().await;
    setup
        .query_drop("CREATE TABLE numbers (n INT PRIMARY KEY)")
        .await
        .unwrap();
    let values: Vec<String> = (1..=40).map(|n| format!("({n})")).collect();
    setup
        .query_drop(format!("INSERT INTO numbers VALUES {}", values.join(", ")))
        .await
        .unwrap();
    for id in ids {
        setup
            .query_drop(format!(
                "INSERT INTO users (id, email) VALUES ({id}, 'e{id}')"
            ))
            .await
            .unwrap();
    }
    setup
        .query_drop("CREATE TABLE counters (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT)")
        .await
        .unwrap();
    drop(setup);

    let tasks = (0..20u64).map(|k| {
        let opts = env.opts();
        tokio::spawn(async move {
            let mut conn = Conn::new(opts).await.unwrap();
            // Every third session keeps the server defaults: it must never see anyone's state.
            let stateless = k % 3 == 2;
            for round in 0..12u64 {
                let limit = k + 1 + 100 * (round / 6);
                let who = format!("session {k} round {}", round / 6);
                if !stateless && round % 6 == 0 {
                    conn.query_drop(format!(
                        "SET @@session.sql_select_limit = {limit}, @who = '{who}'"
                    ))
                    .await
                    .unwrap();
                }
                for (shard, id) in ids.iter().enumerate() {
                    let got: Option<(u64, Option<String>)> = conn
                        .query_first(format!(
                            "SELECT @@sql_select_limit, @who FROM users WHERE id = {id}"
                        ))
                        .await
                        .unwrap();
                    let want = if stateless {
                        (u64::MAX, None)
                    } else {
                        (limit, Some(who.clone()))
                    };
                    assert_eq!(
                        got,
                        Some(want.clone()),
                        "session {k}, round {round}, shard {shard}"
                    );
                    let got: Option<(u64, Option<String>)> = conn
                        .exec_first(
                            "SELECT @@sql_select_limit, @who FROM users WHERE id = ?",
                            (*id,),
                        )
                        .await
                        .unwrap();
                    assert_eq!(
                        got,
                        Some(want),
                        "session {k}, round {round}, shard {shard}, binary protocol"
                    );
                }
                // LAST_INSERT_ID() is the session's own, on every shard.
                let mut last = 0u64;
                if !stateless {
                    conn.query_drop(format!("INSERT INTO counters (k) VALUES ({k})"))
                        .await
                        .unwrap();
                    last = conn.last_insert_id().expect("an insert id");
                }
                for id in ids {
                    let got: Option<u64> = conn
                        .query_first(format!(
                            "SELECT LAST_INSERT_ID() FROM users WHERE id = {id}"
                        ))
                        .await
                        .unwrap();
                    assert_eq!(
                        got,
                        Some(last),
                        "session {k}, round {round}: LAST_INSERT_ID()"
                    );
                }
                let got: Option<u64> = conn.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
                assert_eq!(
                    got,
                    Some(last),
                    "session {k}, round {round}: LAST_INSERT_ID()"
                );
                // The limit really applies to the session's own queries.
                let n: Vec<i64> = conn.query("SELECT n FROM numbers").await.unwrap();
                let want = if stateless {
                    40
                } else {
                    limit.min(40) as usize
                };
                assert_eq!(n.len(), want, "session {k}, round {round}");
            }
            conn.disconnect().await.unwrap();
        })
    });
    for task in futures_join(tasks.collect()).await {
        task.unwrap();
    }
    env.stop().await;
}

/// Awaits every task (in order).
async fn futures_join(
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> Vec<Result<(), tokio::task::JoinError>> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await);
    }
    out
}

/// A value's bytes in hex (`Value`'s Debug cuts them short).
fn hex(v: &Value) -> String {
    match v {
        Value::Bytes(b) => b.iter().map(|b| format!("{b:02X}")).collect(),
        other => format!("{other:?}"),
    }
}

fn hex_row(values: &[Value]) -> Vec<String> {
    values.iter().map(hex).collect()
}

/// A session with a user in each shard's `users`.
async fn env_with_users() -> (TestEnv, [i64; 2], Conn) {
    let env = TestEnv::start(2, 0).await;
    let ids = one_id_per_shard(&env);
    let mut conn = env.connect().await;
    for id in ids {
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({id}, 'e{id}')"
        ))
        .await
        .unwrap();
    }
    (env, ids, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variables_keep_their_value_on_every_shard() {
    let (env, ids, mut conn) = env_with_users().await;
    conn.query_drop("SET @n = 1").await.unwrap();
    conn.query_drop("SET @n = @n + 1").await.unwrap();
    conn.query_drop("SET @u = UUID()").await.unwrap();
    let mut seen = Vec::new();
    for id in ids {
        seen.push(
            one_row(
                &mut conn,
                &format!("SELECT @n, @u FROM users WHERE id = {id}"),
            )
            .await,
        );
    }
    // One value per variable, whichever shard reads it.
    assert!(
        seen[0][0].as_deref() == Some("2") && seen[0] == seen[1],
        "@n and @u as read on shards 0 and 1: {seen:?}"
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variable_strings_with_backslashes_keep_their_bytes_on_every_shard() {
    let (env, ids, mut conn) = env_with_users().await;
    // `'a\\b'` is the 3 bytes a, backslash, b.
    conn.query_drop(r"SET @p = 'a\\b'").await.unwrap();
    let mut seen = Vec::new();
    for id in ids {
        seen.push(
            one_row(
                &mut conn,
                &format!("SELECT HEX(@p) FROM users WHERE id = {id}"),
            )
            .await,
        );
    }
    assert_eq!(
        seen,
        vec![strings(&["615C62"]), strings(&["615C62"])],
        "HEX(@p) on shards 0 and 1"
    );
    // `'C:\\'` ends in a backslash.
    conn.query_drop(r"SET @q = 'C:\\'").await.unwrap();
    for (shard, id) in ids.iter().enumerate() {
        let got = conn
            .query_first::<String, _>(format!("SELECT HEX(@q) FROM users WHERE id = {id}"))
            .await;
        assert_eq!(
            got.as_ref().ok().cloned().flatten().as_deref(),
            Some("433A5C"),
            "shard {shard}: {got:?}"
        );
    }
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latin1_user_variables_keep_their_bytes_on_every_shard() {
    let (env, ids, mut conn) = env_with_users().await;
    conn.query_drop("SET NAMES latin1").await.unwrap();
    conn.query_drop(&b"SET @s = 'caf\xE9'"[..]).await.unwrap();
    for (shard, id) in ids.iter().enumerate() {
        let (values, _) = raw_row(
            &mut conn,
            format!("SELECT HEX(@s), @s FROM users WHERE id = {id}").as_bytes(),
        )
        .await;
        assert_eq!(
            hex_row(&values),
            ["3633363136364539", "636166E9"],
            "shard {shard}: HEX(@s) and @s (as hex) for @s set to 'caf\\xE9' under SET NAMES latin1"
        );
    }
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latin1_prepared_statement_text_keeps_its_bytes() {
    let (env, ids, mut conn) = env_with_users().await;
    conn.query_drop("SET NAMES latin1").await.unwrap();
    // The same statement through COM_QUERY, for reference, then through COM_STMT_PREPARE.
    let sql = b"SELECT HEX('caf\xE9'), 'caf\xE9' FROM users WHERE id = ?".to_vec();
    // HEX() answers the ASCII text "636166E9"; the literal itself comes back as latin1.
    let want = ["3633363136364539", "636166E9"];
    for (shard, id) in ids.iter().enumerate() {
        let mut text = sql.clone();
        text.truncate(text.len() - 1);
        text.extend_from_slice(id.to_string().as_bytes());
        let (values, _) = raw_row(&mut conn, &text).await;
        assert_eq!(hex_row(&values), want, "shard {shard}, text protocol");
        let stmt = conn.prep(&sql[..]).await.unwrap();
        let got: Option<Row> = conn.exec_first(&stmt, (*id,)).await.unwrap();
        assert_eq!(
            hex_row(&got.unwrap().unwrap()),
            want,
            "shard {shard}, binary protocol"
        );
    }
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variables_assigned_in_a_select_do_not_leak_to_other_sessions() {
    let (env, _ids, mut conn) = env_with_users().await;
    let a: Option<i64> = conn.query_first("SELECT @leak := 42").await.unwrap();
    assert_eq!(a, Some(42));
    conn.query_drop("SELECT 7 INTO @leak_into").await.unwrap();
    conn.disconnect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut other = env.connect().await;
    assert_eq!(
        rows(&mut other, "SELECT @leak, @leak_into").await,
        vec![vec![None, None]],
        "a new session starts without user variables"
    );
    drop(other);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_connection_keeps_the_database_like_mariadb() {
    let (env, ids, mut conn) = env_with_users().await;
    conn.query_drop("CREATE DATABASE other").await.unwrap();
    let mut direct = env.connect_primary(env.topology.default_shard).await;
    for c in [&mut conn, &mut direct] {
        c.query_drop("USE other").await.unwrap();
        assert!(c.reset().await.unwrap());
    }
    let mariadb = rows(&mut direct, "SELECT DATABASE()").await;
    assert_eq!(mariadb, vec![strings(&["other"])], "MariaDB 10.11 keeps it");
    assert_eq!(rows(&mut conn, "SELECT DATABASE()").await, mariadb);
    for id in ids {
        assert_eq!(
            rows(
                &mut conn,
                &format!("SELECT DATABASE() FROM app.users WHERE id = {id}")
            )
            .await,
            mariadb
        );
    }
    drop((conn, direct));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_statement_runs_in_the_database_it_was_prepared_in() {
    let env = TestEnv::start_with(2, 0, "\n[backend.pool]\nmax_size = 2\n").await;
    let mut setup = env.connect().await;
    setup.query_drop("CREATE DATABASE other").await.unwrap();
    for sql in [
        "CREATE TABLE app.t (x INT)",
        "INSERT INTO app.t VALUES (1)",
        "CREATE TABLE other.t (x INT)",
        "INSERT INTO other.t VALUES (2), (2)",
    ] {
        setup.query_drop(sql).await.unwrap();
    }
    drop(setup);
    let sql = "SELECT COUNT(*), DATABASE() FROM t WHERE x > ?";
    let mut in_other = mysql_async::Conn::new(env.opts().db_name(Some("other")))
        .await
        .unwrap();
    let mut in_app = env.connect().await;
    let mut pinner = env.connect().await;
    // The pool's two connections to the default shard: `pinner` holds one in a transaction
    // while `in_app` prepares and runs the statement on the other one.
    pinner.query_drop("BEGIN").await.unwrap();
    pinner
        .query_drop("SELECT COUNT(*) FROM app.t")
        .await
        .unwrap();
    let got: Option<(i64, String)> = in_app.exec_first(sql, (0,)).await.unwrap();
    assert_eq!(got, Some((1, "app".into())));
    pinner.query_drop("COMMIT").await.unwrap();
    // `in_other` prepares the same text in its database `other`…
    let stmt = in_other.prep(sql).await.unwrap();
    // …and runs it while the connection it prepared on is taken.
    pinner.query_drop("BEGIN").await.unwrap();
    pinner
        .query_drop("SELECT COUNT(*) FROM app.t")
        .await
        .unwrap();
    let got: Option<(i64, String)> = in_other.exec_first(&stmt, (0,)).await.unwrap();
    assert_eq!(
        got,
        Some((2, "other".into())),
        "prepared in `other`: other.t has 2 rows"
    );
    pinner.query_drop("COMMIT").await.unwrap();
    drop((in_other, in_app, pinner));
    env.stop().await;
}

/// `LAST_INSERT_ID(expr)` in an UPDATE that runs on every shard: the value is the one the
/// expression got where it ran (the shard whose rows changed), not the first shard's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_insert_id_of_an_expression_comes_from_the_shard_that_evaluated_it() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let on = |shard: usize| {
        (1..)
            .find(|id| env.shard_of("users", i128::from(*id)) == shard)
            .unwrap()
    };
    let (first, second) = (on(0), on(1));
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({first}, 'f@x', 'other'), ({second}, 's@x', 'target')"
    ))
    .await
    .unwrap();
    conn.query_drop(
        "UPDATE users SET name = CONCAT('n', LAST_INSERT_ID(id + 1000)) WHERE name = 'target'",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let got: Option<i64> = conn.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
    assert_eq!(got, Some(second + 1000));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_release_ends_the_transaction_then_the_client_s_connection_only() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        let multi = "[server]\ntransaction_mode = \"multi\"\n";
        sandbox.config_toml(listen).replacen("[server]\n", multi, 1)
    })
    .await;
    let [a, b] = one_id_per_shard(&env);
    let mut other = env.connect().await;
    // COMMIT RELEASE of a transaction over both shards: committed, then the client's
    // connection is closed, as MariaDB closes it after the OK.
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    let insert = format!("INSERT INTO users (id, name) VALUES ({a}, 'a'), ({b}, 'b')");
    conn.query_drop(&insert).await.unwrap();
    conn.query_drop("COMMIT WORK AND NO CHAIN RELEASE")
        .await
        .unwrap();
    assert!(
        conn.query_drop("SELECT 1").await.is_err(),
        "the connection is closed"
    );
    let count = format!("SELECT COUNT(*) FROM users WHERE id IN ({a}, {b})");
    assert_eq!(rows(&mut other, &count).await, vec![vec![Some("2".into())]]);
    // ROLLBACK RELEASE: rolled back on both shards.
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    let update = format!("UPDATE users SET name = 'z' WHERE id IN ({a}, {b})");
    conn.query_drop(&update).await.unwrap();
    conn.query_drop("ROLLBACK RELEASE").await.unwrap();
    assert!(conn.query_drop("SELECT 1").await.is_err());
    let named = format!("SELECT COUNT(*) FROM users WHERE id IN ({a}, {b}) AND name = 'z'");
    assert_eq!(rows(&mut other, &named).await, vec![vec![Some("0".into())]]);
    // Outside a transaction too; the backend connections stay open, so the sessions right
    // after are not handed one the server closed (they were, within the pool's stale check).
    for _ in 0..20 {
        let mut conn = env.connect().await;
        conn.query_drop("COMMIT RELEASE").await.unwrap();
        let mut next = env.connect().await;
        assert_eq!(
            rows(&mut next, "SELECT 1").await,
            vec![vec![Some("1".into())]]
        );
        assert_eq!(rows(&mut next, &count).await, vec![vec![Some("2".into())]]);
    }
    // NO RELEASE is a plain end of the transaction; the connection goes on.
    let mut conn = env.connect().await;
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(&update).await.unwrap();
    conn.query_drop("ROLLBACK NO RELEASE").await.unwrap();
    assert_eq!(rows(&mut conn, &named).await, vec![vec![Some("0".into())]]);
    // completion_type other than NO_CHAIN would be sent to pooled connections: refused.
    for value in ["2", "'RELEASE'", "1", "CHAIN"] {
        let sql = format!("SET completion_type = {value}");
        let (code, _, message) = server_error(conn.query_drop(&sql).await);
        assert_eq!(code, 1235, "{sql}: {message}");
    }
    conn.query_drop("SET completion_type = 'NO_CHAIN'")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT 1").await,
        vec![vec![Some("1".into())]]
    );
    env.stop().await;
}
