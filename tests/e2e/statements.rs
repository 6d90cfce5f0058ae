//! Statements that parse as MariaDB SQL run instead of being refused: multi-statement texts
//! (each statement planned and routed on its own, with MariaDB's flags, and the 1064 a client
//! without CLIENT_MULTI_STATEMENTS gets), user variables with quoted names, `SET STATEMENT …
//! FOR`, prepared `SET … = ?`, and SQL-level PREPARE / EXECUTE / DEALLOCATE PREPARE.
//!
//! Where the proxy answers for one server, its answers are compared with MariaDB's own on the
//! default shard's primary (PyMySQL, which leaves CLIENT_MULTI_STATEMENTS off unless asked).

use std::process::Command;

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

/// Two user ids per shard, indexed by shard.
fn ids(env: &TestEnv) -> [[i64; 2]; 2] {
    let on = |shard: usize| -> Vec<i64> {
        (1..)
            .filter(|id| env.shard_of("users", i128::from(*id)) == shard)
            .take(2)
            .collect()
    };
    let (a, b) = (on(0), on(1));
    [[a[0], a[1]], [b[0], b[1]]]
}

/// Users `ids` with names `n<id>`.
async fn insert_users(conn: &mut Conn, ids: &[i64]) {
    for id in ids {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({id}, 'e{id}', 'n{id}')"
        ))
        .await
        .unwrap();
    }
}

/// The port of each shard's primary, indexed by shard.
fn ports(env: &TestEnv) -> Vec<u16> {
    env.sandbox
        .shards()
        .iter()
        .map(|s| s.primary.port)
        .collect()
}

/// Every result set of a multi-statement text, each as rows of strings (an OK is an empty set).
async fn all_sets(conn: &mut Conn, sql: &str) -> Vec<Vec<Vec<Option<String>>>> {
    let mut result = conn.query_iter(sql).await.unwrap();
    let mut sets = Vec::new();
    while !result.is_empty() {
        let set: Vec<Row> = result.collect().await.unwrap();
        sets.push(
            set.into_iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| match row.as_ref(i) {
                            Some(mysql_async::Value::NULL) | None => None,
                            Some(mysql_async::Value::Bytes(b)) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                            Some(v) => Some(v.as_sql(true)),
                        })
                        .collect()
                })
                .collect(),
        );
    }
    sets
}

fn cell(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

/// Runs `sessions` through PyMySQL against `port` with `user`: each session a fresh
/// connection (`multi`: with CLIENT_MULTI_STATEMENTS) running its texts in order. Prints one
/// line per answer: each result's columns, rows, more-results flag, status flags (in
/// transaction, autocommit, more results), warnings and info; or the error's code and message.
const PYMYSQL_SESSIONS: &str = r#"
import json, sys, pymysql
from pymysql.constants import CLIENT
port, user, password, database = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sessions = json.loads(sys.stdin.read())
for multi, texts in sessions:
    conn = pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                           database=database, autocommit=True,
                           client_flag=CLIENT.MULTI_STATEMENTS if multi else 0)
    cur = conn.cursor()
    for text in texts:
        if isinstance(text, list):
            # A raw command: [command byte, argument bytes as a list].
            conn._execute_command(text[0], bytes(text[1]))
            packet = conn._read_packet()
            print(json.dumps(["command", text, packet.get_all_data().hex()]))
            continue
        answers = []
        def record():
            r = conn._result
            answers.append({
                "columns": [d[0] for d in cur.description] if cur.description else None,
                "rows": [[None if v is None else str(v) for v in row] for row in cur.fetchall()],
                "more": bool(r.has_next),
                "status": (r.server_status or 0) & 0x0B,
                "warnings": r.warning_count,
                "info": r.message.decode("utf-8", "replace") if isinstance(r.message, bytes) else r.message,
                "affected": r.affected_rows,
            })
        try:
            cur.execute(text)
            record()
            while cur.nextset():
                record()
        except pymysql.err.MySQLError as e:
            answers.append({"error": list(e.args)})
        print(json.dumps([text, answers], ensure_ascii=False))
    conn.close()
"#;

async fn pymysql_sessions(
    port: u16,
    user: &str,
    password: &str,
    sessions: &serde_json::Value,
) -> Vec<String> {
    let (user, password, input) = (user.to_owned(), password.to_owned(), sessions.to_string());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PYMYSQL_SESSIONS)
            .args([
                port.to_string(),
                user,
                password,
                shardgate_sandbox::DATABASE.to_owned(),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run python3");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "pymysql failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `sessions` through the proxy and straight on the default shard's primary, and
/// requires the same answers.
async fn same_as_mariadb(env: &TestEnv, sessions: serde_json::Value) {
    let default = &env.sandbox.shards()[env.topology.default_shard].primary;
    let direct = pymysql_sessions(
        default.port,
        shardgate_sandbox::BACKEND_USER,
        shardgate_sandbox::BACKEND_PASSWORD,
        &sessions,
    )
    .await;
    let proxied = pymysql_sessions(
        env.port,
        shardgate_sandbox::PROXY_USER,
        shardgate_sandbox::PROXY_PASSWORD,
        &sessions,
    )
    .await;
    assert_eq!(direct.len(), proxied.len());
    for (direct, proxied) in direct.iter().zip(&proxied) {
        assert_eq!(proxied, direct, "proxy (left) and MariaDB (right) differ");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_statement_texts_answer_as_mariadb_does_with_and_without_the_capability() {
    let env = TestEnv::start(2, 0).await;
    let long = format!("SELECT 1; SELECT '{}'", "é".repeat(45));
    let longer = format!("SELECT 1; SELECT '{}'", "b".repeat(90));
    let with = serde_json::json!([
        "SELECT 1 AS a; SELECT 2 AS b",
        "SELECT 1;",
        "SELECT 1;;",
        "SELECT 1; -- c",
        "SELECT 1;/**/;",
        "SELECT 1; # x\n",
        "SELECT 1;; SELECT 2",
        "SELECT 1; /* x */ ;SELECT 2",
        "  ;SELECT 1",
        ";",
        "select 1;\nselect 2",
        "SELECT 'a;b'; SELECT \"c;d\"; SELECT `x;y` FROM (SELECT 1 AS `x;y`) t",
        "SELECT 1; SELECT * FROM no_such_table; SELECT 3",
        "SET @a = 1; SELECT @a; SET @`my var` = @a + 1; SELECT @`my var`, @'my var', @\"MY VAR\"",
        "BEGIN; SELECT 1; COMMIT; SELECT 2",
        "SELECT 1; COMMIT; SELECT 2",
        "USE app; SELECT DATABASE()",
        "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; SELECT 2; SET SESSION sql_mode = DEFAULT",
        "SELECT 1; /*!40101 SET @x = 1 */; SELECT @x",
        "SELECT 1; /*!99999 SELECT 2 */",
        "SET STATEMENT max_statement_time = 10 FOR SELECT @@max_statement_time; SELECT @@max_statement_time",
        "DROP PROCEDURE IF EXISTS sg_p; CREATE PROCEDURE sg_p() BEGIN SELECT 1; SELECT 2; END; CALL sg_p()",
        "CALL sg_p(); SELECT 3",
        "DROP PROCEDURE sg_p",
        "PREPARE s FROM 'SELECT ?, ?'; EXECUTE s USING 1, 'x'; EXECUTE s USING 1; SELECT 'not run'",
        "DEALLOCATE PREPARE s; EXECUTE s",
        "SELECT 1; DO 1; SELECT 2",
    ]);
    let without = serde_json::json!([
        "SELECT 1; DROP TABLE orders",
        "SELECT 1;",
        "SELECT 1;;",
        "SELECT 1; -- c",
        "SELECT 1;/**/;",
        "SELECT 1;; -- x",
        "SELECT 1 ; SELECT 2",
        "select 1;\r\n\tselect 2",
        "SELECT 1; /*!99999 x */ SELECT 2",
        "SELECT 1; /*!40101 SET @x=1 */; SELECT @x",
        "  ;SELECT 1",
        ";",
        long,
        longer,
        "SELECT 'a;b'",
    ]);
    // COM_SET_OPTION turns multi-statement texts on (0) and off (1) for the connection.
    let set_option = serde_json::json!([
        "SELECT 1; SELECT 2",
        [0x1b, [0, 0]],
        "SELECT 1; SELECT 2",
        [0x1b, [1, 0]],
        "SELECT 1; SELECT 2",
    ]);
    same_as_mariadb(
        &env,
        serde_json::json!([[true, with], [false, without], [false, set_option]]),
    )
    .await;
    // Nothing ran: the table is still there.
    let mut conn = env.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM orders").await,
        [[cell(0)]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_statement_texts_route_each_statement_over_two_shards() {
    let env = TestEnv::start(2, 0).await;
    let [[a, a2], [b, _]] = ids(&env);
    let ports = ports(&env);
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[a, a2, b]).await;

    // Reads and a write on both shards, a scatter, in one text.
    let sets = all_sets(
        &mut conn,
        &format!(
            "SELECT name, @@port FROM users WHERE id = {a}; UPDATE users SET name = 'x' WHERE id = {b}; \
             SELECT name, @@port FROM users WHERE id = {b}; SELECT COUNT(*) FROM users"
        ),
    )
    .await;
    assert_eq!(
        sets,
        [
            vec![vec![cell(format!("n{a}")), cell(ports[0])]],
            vec![],
            vec![vec![cell("x"), cell(ports[1])]],
            vec![vec![cell(3)]],
        ]
    );
    // A SET applies to the statements after it, which are read under the sql_mode it set.
    let sets = all_sets(
        &mut conn,
        &format!("SET SESSION sql_mode = 'ANSI_QUOTES'; SELECT \"name\" FROM users WHERE id = {a}; SET SESSION sql_mode = DEFAULT"),
    )
    .await;
    // (mysql_async does not count a final OK as a result set.)
    assert_eq!(sets, [vec![], vec![vec![cell(format!("n{a}"))]]]);
    assert_eq!(
        rows(&mut conn, "SELECT @@sql_mode LIKE '%ANSI_QUOTES%'").await,
        [[cell(0)]]
    );
    // USE, then a statement in that database.
    conn.query_drop("CREATE DATABASE other").await.unwrap();
    let sets = all_sets(
        &mut conn,
        "USE other; SELECT DATABASE(); USE app; SELECT DATABASE()",
    )
    .await;
    assert_eq!(
        sets,
        [
            vec![],
            vec![vec![cell("other")]],
            vec![],
            vec![vec![cell("app")]]
        ]
    );
    // A transaction inside one text.
    let sets = all_sets(
        &mut conn,
        &format!(
            "BEGIN; UPDATE users SET name = 't' WHERE id = {a}; SELECT name FROM users WHERE id = {a}; \
             ROLLBACK; SELECT name FROM users WHERE id = {a}"
        ),
    )
    .await;
    assert_eq!(
        sets,
        [
            vec![],
            vec![],
            vec![vec![cell("t")]],
            vec![],
            vec![vec![cell(format!("n{a}"))]]
        ]
    );
    // After an error nothing more runs.
    let mut result = conn
        .query_iter(format!(
            "SELECT 1; SELECT * FROM no_such_table; UPDATE users SET name = 'never' WHERE id = {a2}"
        ))
        .await
        .unwrap();
    let first: Vec<u8> = result.collect().await.unwrap();
    assert_eq!(first, [1]);
    let (code, _, _) = server_error(result.collect::<Row>().await);
    assert_eq!(code, 1146);
    drop(result);
    assert_eq!(
        rows(
            &mut conn,
            &format!("SELECT name FROM users WHERE id = {a2}")
        )
        .await,
        [[cell(format!("n{a2}"))]]
    );
    // The mariadb CLI sends one text per DELIMITER-ended batch.
    let port = env.port.to_string();
    let batch = format!(
        "DELIMITER //\nSELECT name AS first FROM users WHERE id = {a}; SELECT name AS second FROM users WHERE id = {b} //"
    );
    let out = tokio::task::spawn_blocking(move || {
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
                &batch,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("first\nn{a}\nsecond\nx\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variables_with_quoted_names_are_kept_on_every_shard() {
    let env = TestEnv::start(2, 0).await;
    let [[a, _], [b, _]] = ids(&env);
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[a, b]).await;
    conn.query_drop("SET @`my var` = 41").await.unwrap();
    conn.query_drop("SET @'x y' = 'it''s', @\"Q\" = 2")
        .await
        .unwrap();
    // Replayed by the value it got, not computed again on each connection.
    conn.query_drop("SET @`c` = 1").await.unwrap();
    conn.query_drop("SET @`c` = @c + 1").await.unwrap();
    for id in [a, b] {
        assert_eq!(
            rows(
                &mut conn,
                &format!("SELECT @`my var` + 1, @`x y`, @q, @`C` FROM users WHERE id = {id}")
            )
            .await,
            [[cell(42), cell("it's"), cell(2), cell(2)]],
            "on the shard of {id}"
        );
    }
    // Assigned inside a query, read back too.
    conn.query_drop(format!(
        "SELECT @`from row` := name FROM users WHERE id = {a}"
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            &format!("SELECT @`from row` FROM users WHERE id = {b}")
        )
        .await,
        [[cell(format!("n{a}"))]]
    );
    // Another session has none of them.
    let mut other = env.connect().await;
    assert_eq!(
        rows(
            &mut other,
            &format!("SELECT @`my var` FROM users WHERE id = {b}")
        )
        .await,
        [[None]]
    );
    drop((conn, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_statement_is_routed_by_its_statement_and_does_not_persist() {
    let env = TestEnv::start(2, 0).await;
    let [[a, a2], [b, b2]] = ids(&env);
    let ports = ports(&env);
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[a, b]).await;
    for (id, shard) in [(a, 0), (b, 1)] {
        assert_eq!(
            rows(
                &mut conn,
                &format!("SET STATEMENT max_statement_time = 5 FOR SELECT name, @@max_statement_time, @@port FROM users WHERE id = {id}")
            )
            .await,
            [[cell(format!("n{id}")), cell("5.000000"), cell(ports[shard])]]
        );
    }
    assert_eq!(
        rows(
            &mut conn,
            &format!("SELECT @@max_statement_time FROM users WHERE id = {a}")
        )
        .await,
        [[cell("0.000000")]]
    );
    // A scatter: every shard runs its part under the variables.
    assert_eq!(
        rows(
            &mut conn,
            "SET STATEMENT max_statement_time = 5 FOR SELECT COUNT(*) FROM users WHERE @@max_statement_time = 5"
        )
        .await,
        [[cell(2)]]
    );
    // A multi-row INSERT split by shard: each row on its own shard only.
    conn.query_drop(format!(
        "SET STATEMENT sql_mode = '' FOR INSERT INTO users (id, email, name) VALUES ({a2}, 'x', 'y'), ({b2}, 'x', 'y')"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    for (shard, id, other) in [(0, a2, b2), (1, b2, a2)] {
        let mut direct = env.connect_primary(shard).await;
        let found = rows(
            &mut direct,
            &format!("SELECT id FROM users WHERE id IN ({id}, {other})"),
        )
        .await;
        assert_eq!(found, [[cell(id)]], "shard {shard}");
    }
    // A write on every shard, and its variables' errors come from MariaDB.
    conn.query_drop("SET STATEMENT max_statement_time = 5 FOR UPDATE users SET name = 'all'")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 4);
    let (code, _, message) = server_error(
        conn.query_drop("SET STATEMENT autocommit = 0 FOR SELECT 1")
            .await,
    );
    assert_eq!(
        (code, message.as_str()),
        (
            1971,
            "The system variable autocommit cannot be set in SET STATEMENT."
        )
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_set_statements_keep_their_values_in_the_session() {
    let env = TestEnv::start(2, 0).await;
    let [[a, _], [b, _]] = ids(&env);
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[a, b]).await;
    let set_user_var = conn.prep("SET @a = ?").await.unwrap();
    conn.exec_drop(&set_user_var, (7,)).await.unwrap();
    let set_string = conn.prep("SET @s = ?").await.unwrap();
    conn.exec_drop(&set_string, ("it's \\ here",))
        .await
        .unwrap();
    let set_mode = conn.prep("SET SESSION sql_mode = ?").await.unwrap();
    conn.exec_drop(&set_mode, ("ANSI_QUOTES",)).await.unwrap();
    for id in [a, b] {
        assert_eq!(
            rows(
                &mut conn,
                &format!("SELECT @a, @s, @@sql_mode, \"name\" FROM users WHERE id = {id}")
            )
            .await,
            [[
                cell(7),
                cell("it's \\ here"),
                cell("ANSI_QUOTES"),
                cell(format!("n{id}"))
            ]],
            "on the shard of {id}"
        );
    }
    // Executed again with another value.
    conn.exec_drop(&set_user_var, (8,)).await.unwrap();
    assert_eq!(
        rows(&mut conn, &format!("SELECT @a FROM users WHERE id = {b}")).await,
        [[cell(8)]]
    );
    // A bad value gets MariaDB's error, and the session keeps its mode.
    let (code, _, _) = server_error(conn.exec_drop(&set_mode, ("NO_SUCH_MODE",)).await);
    assert_eq!(code, 1231);
    assert_eq!(
        rows(&mut conn, "SELECT @@sql_mode").await,
        [[cell("ANSI_QUOTES")]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_prepared_statements_answer_as_mariadb_does() {
    let env = TestEnv::start(2, 0).await;
    let session = serde_json::json!([
        "PREPARE s FROM 'SELECT 1'",
        "PREPARE S FROM 'SELECT ?, ?'",
        "EXECUTE s",
        "EXECUTE s USING 1",
        "EXECUTE s USING 1, 2",
        "SET @a = 5",
        "EXECUTE s USING @a, 'x'",
        "EXECUTE nope",
        "EXECUTE nope USING 1",
        "DEALLOCATE PREPARE nope",
        "DROP PREPARE nope",
        "DEALLOCATE PREPARE s",
        "EXECUTE s",
        "PREPARE s FROM 'SELEC 1'",
        "PREPARE s FROM 'SELECT * FROM no_such_table'",
        "SET @q = 'SELECT ? + 1 AS n'",
        "PREPARE q FROM @q",
        "EXECUTE q USING 2+3",
        "EXECUTE q USING -4",
        "PREPARE bad FROM @undefined_var",
        "SET @n = 7",
        "PREPARE bad FROM @n",
        "PREPARE s4 FROM 'SELECT 1; SELECT 2'",
        "PREPARE s5 FROM CONCAT('SELECT ', 1)",
        "EXECUTE s5",
        "PREPARE `my s` FROM 'SELECT 2'",
        "EXECUTE `MY S`",
        "PREPARE s6 FROM 'PREPARE x FROM ''SELECT 1'''",
        "PREPARE s7 FROM 'SET @z = ?'",
        "EXECUTE s7 USING 9",
        "SELECT @z",
        "EXECUTE s7 USING NULL",
        "SELECT @z",
        "EXECUTE IMMEDIATE 'SELECT ?' USING 7",
        "EXECUTE IMMEDIATE 'SELECT ?' USING 1, 2",
        "EXECUTE IMMEDIATE CONCAT('SELECT ', '?') USING 'i'",
        "PREPARE s FROM",
        "PREPARE ins FROM 'INSERT INTO counters (name, n) VALUES (?, ?)'",
        "EXECUTE ins USING 'k', 3",
        "SELECT name, n FROM counters",
        "DELETE FROM counters",
        // Parsed at PREPARE, under that time's sql_mode; its warnings raised there.
        "SET sql_mode = ''",
        "PREPARE pc FROM 'SELECT ''2'' || ''3'' AS c'",
        "SET sql_mode = 'PIPES_AS_CONCAT'",
        "EXECUTE pc",
        "SET sql_mode = DEFAULT",
        "PREPARE w FROM 'SELECT 1 AS \" a \"'",
        "SHOW WARNINGS",
        "EXECUTE w",
        "SHOW WARNINGS",
        "DEALLOCATE PREPARE w",
        "DEALLOCATE PREPARE w",
    ]);
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE counters (name VARCHAR(10) PRIMARY KEY, n INT)")
        .await
        .unwrap();
    same_as_mariadb(&env, serde_json::json!([[false, session]])).await;
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_prepared_statements_route_by_key_and_span_shards() {
    let env = TestEnv::start(2, 0).await;
    let [[a, a2], [b, b2]] = ids(&env);
    let ports = ports(&env);
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[a, b]).await;

    conn.query_drop("PREPARE by_id FROM 'SELECT name, @@port, ? AS k FROM users WHERE id = ?'")
        .await
        .unwrap();
    assert_eq!(conn.info(), "Statement prepared");
    for (id, shard) in [(a, 0), (b, 1)] {
        assert_eq!(
            rows(&mut conn, &format!("EXECUTE by_id USING 'key', {id}")).await,
            [[cell(format!("n{id}")), cell(ports[shard]), cell("key")]],
            "the shard of {id}"
        );
    }
    // A user variable goes in by reference: every shard has it; the one holding the row answers.
    conn.query_drop(format!("SET @k = {b}")).await.unwrap();
    assert_eq!(
        rows(&mut conn, "EXECUTE by_id USING @k, @k").await,
        [[cell(format!("n{b}")), cell(ports[1]), cell(b)]]
    );
    // Writes land on the shard of their key; one over both shards runs on both.
    conn.query_drop("PREPARE ins FROM 'INSERT INTO users (id, email, name) VALUES (?, ?, ?)'")
        .await
        .unwrap();
    for id in [a2, b2] {
        conn.query_drop(format!("EXECUTE ins USING {id}, 'e', 'p{id}'"))
            .await
            .unwrap();
        assert_eq!(conn.affected_rows(), 1);
    }
    for (shard, id) in [(0, a2), (1, b2)] {
        let mut direct = env.connect_primary(shard).await;
        assert_eq!(
            rows(
                &mut direct,
                &format!("SELECT name FROM users WHERE id = {id}")
            )
            .await,
            [[cell(format!("p{id}"))]],
            "shard {shard}"
        );
    }
    conn.query_drop("PREPARE upd FROM 'UPDATE users SET name = ? WHERE id IN (?, ?)'")
        .await
        .unwrap();
    conn.query_drop(format!("EXECUTE upd USING 'both', {a}, {b}"))
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 2);
    conn.query_drop("PREPARE count FROM 'SELECT COUNT(*) FROM users WHERE name = ?'")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "EXECUTE count USING 'both'").await,
        [[cell(2)]]
    );
    // Inside a transaction, on the transaction's connection.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!("EXECUTE upd USING 'txn', {a}, {a}"))
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, &format!("EXECUTE by_id USING 1, {a}")).await,
        [[cell("txn"), cell(ports[0]), cell(1)]]
    );
    conn.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(
        rows(&mut conn, &format!("EXECUTE by_id USING 1, {a}")).await,
        [[cell("both"), cell(ports[0]), cell(1)]]
    );
    // COM_RESET_CONNECTION and COM_CHANGE_USER drop them.
    conn.reset().await.unwrap();
    let (code, _, message) =
        server_error(conn.query_drop(format!("EXECUTE by_id USING 1, {a}")).await);
    assert_eq!(
        (code, message.as_str()),
        (
            1243,
            "Unknown prepared statement handler (by_id) given to EXECUTE"
        )
    );
    conn.query_drop("PREPARE again FROM 'SELECT 1'")
        .await
        .unwrap();
    conn.change_user(Default::default()).await.unwrap();
    let (code, _, _) = server_error(conn.query_drop("EXECUTE again").await);
    assert_eq!(code, 1243);
    // Another session never sees a session's statements.
    conn.query_drop("PREPARE mine FROM 'SELECT 1'")
        .await
        .unwrap();
    let mut other = env.connect().await;
    let (code, _, _) = server_error(other.query_drop("EXECUTE mine").await);
    assert_eq!(code, 1243);
    drop((conn, other));
    env.stop().await;
}

/// `SELECT … INTO @a, @b` after the WHERE / ORDER BY / LIMIT (MariaDB's usual place, which the
/// SQL parser does not read): routed by the rest of the SELECT, run whole on its shard, the
/// variables read back into the session; across shards its SELECT runs through the proxy and
/// the variables take its one row (`select_into.rs`), or MariaDB's answer for more rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_into_variables_after_the_rest_of_the_select_sets_them() {
    let env = TestEnv::start(2, 0).await;
    let [[a, _], [b, _]] = ids(&env);
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[a, b]).await;
    conn.query_drop(format!(
        "SELECT id, email FROM users WHERE id = {b} ORDER BY id LIMIT 1 INTO @the_id, @the_email"
    ))
    .await
    .unwrap();
    let (id, email): (i64, String) = conn
        .query_first("SELECT @the_id, @the_email")
        .await
        .unwrap()
        .unwrap();
    let expected: String = conn
        .query_first(format!("SELECT email FROM users WHERE id = {b}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((id, email), (b, expected));
    conn.query_drop(format!(
        "SELECT id FROM users WHERE id IN ({a}, {b}) ORDER BY id DESC LIMIT 1 INTO @x"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let x: i64 = conn.query_first("SELECT @x").await.unwrap().unwrap();
    assert_eq!(x, a.max(b));
    // Two rows: MariaDB's ER_TOO_MANY_ROWS, the variable unchanged.
    let (code, state, msg) = server_error(
        conn.query_drop(format!(
            "SELECT id FROM users WHERE id IN ({a}, {b}) INTO @x"
        ))
        .await,
    );
    assert_eq!((code, state.as_str()), (1172, "42000"), "{msg}");
    let x: i64 = conn.query_first("SELECT @x").await.unwrap().unwrap();
    assert_eq!(x, a.max(b));
    drop(conn);
    env.stop().await;
}

/// `DO` over sharded tables: where its SELECT runs on one shard the `DO` goes there; a `DO` of
/// assignments runs as a `SET` (subqueries first); any other `DO` across shards is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_statements_over_sharded_tables() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    insert_users(&mut conn, &[1, 2, 3, 4, 5, 6]).await;
    conn.query_drop("DO (SELECT COUNT(*) FROM users WHERE id = 3)")
        .await
        .unwrap();
    conn.query_drop("DO @n := (SELECT COUNT(*) FROM users), @m := 2")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @n, @m").await,
        [[Some("6".to_owned()), Some("2".to_owned())]]
    );
    let (code, _, message) = server_error(conn.query_drop("DO (SELECT COUNT(*) FROM users)").await);
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("DO"), "{message}");
    drop(conn);
    env.stop().await;
}
