//! Differences MariaDB's own test suite (`tests/mtr/`) found between the server and the proxy,
//! each as the class of statements it stands for: a stored program or an EXECUTE under
//! `SET STATEMENT … FOR`, DDL for every shard inside a transaction, `DROP DATABASE` of the
//! current database, statements the proxy refuses that MariaDB cannot read either, `PREPARE …
//! FROM <expression>` and `EXECUTE IMMEDIATE` in an executable comment, `LAST_INSERT_ID()`,
//! `ROW_COUNT()` and `FOUND_ROWS()` after the statements that set them on the server, the types
//! of the values the proxy writes in for them, and system variables kept by value.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{rows, server_error, TestEnv};

/// The length and flags of each column of a text query's result, as the server describes them.
async fn column_types(conn: &mut Conn, sql: &str) -> Vec<(u32, u16)> {
    let result = conn.query_iter(sql).await.unwrap();
    let columns = result
        .columns()
        .unwrap()
        .iter()
        .map(|c| (c.column_length(), c.flags().bits()))
        .collect();
    drop(result.drop_result().await);
    columns
}

/// A stored program written after `SET STATEMENT … FOR` holds `;` of its own: the text is one
/// statement, as MariaDB reads it (it was cut at its first `;`, a syntax error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_program_under_set_statement_stays_whole() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop(
        "SET STATEMENT sql_mode = '' FOR CREATE PROCEDURE two_selects() BEGIN SELECT 1; SELECT 2; END",
    )
    .await
    .unwrap();
    let mode: Vec<String> = conn
        .query(
            "SELECT sql_mode FROM information_schema.ROUTINES WHERE ROUTINE_NAME = 'two_selects'",
        )
        .await
        .unwrap();
    assert_eq!(mode, [""], "created under the statement's sql_mode");
    let mut result = conn.query_iter("CALL two_selects()").await.unwrap();
    let first: Vec<i64> = result.collect().await.unwrap();
    let second: Vec<i64> = result.collect().await.unwrap();
    drop(result);
    assert_eq!((first, second), (vec![1], vec![2]));
    env.stop().await;
}

/// DDL the proxy runs on every shard commits the open transaction first, as MariaDB commits it
/// before any DDL (it was refused with 1235, and `mariadb-test`'s cleanup `DROP DATABASE`
/// under `autocommit = 0` failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_for_every_shard_commits_the_open_transaction() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("SET autocommit = 0").await.unwrap();
    conn.query_drop("INSERT INTO users (id, name) VALUES (7, 'kept')")
        .await
        .unwrap();
    conn.query_drop("CREATE DATABASE made_in_a_transaction")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @@in_transaction").await,
        [[Some("0".into())]]
    );
    conn.query_drop("ROLLBACK").await.unwrap();
    // Committed before the DDL: the ROLLBACK had nothing left to undo.
    let mut direct = env.connect_primary(env.shard_of("users", 7)).await;
    let names: Vec<String> = direct
        .query("SELECT name FROM users WHERE id = 7")
        .await
        .unwrap();
    assert_eq!(names, ["kept"]);
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        let found: Vec<String> = direct
            .query("SHOW DATABASES LIKE 'made_in_a_transaction'")
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "shard {shard}");
    }
    env.stop().await;
}

/// A statement the proxy would refuse that MariaDB's parser rejects gets MariaDB's own syntax
/// error (1064), as a server answers it, not the proxy's 1235.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_statement_mariadb_cannot_read_gets_its_syntax_error() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    let (code, state, message) = server_error(conn.query_drop("set option option=1").await);
    assert_eq!((code, state.as_str()), (1064, "42000"), "{message}");
    assert!(message.contains("near 'option=1'"), "{message}");
    // Valid MariaDB SQL the proxy does not run still gets the proxy's reason.
    let (code, _, message) = server_error(conn.query_drop("SET PASSWORD = PASSWORD('x')").await);
    assert_eq!(code, 1235, "{message}");
    env.stop().await;
}

/// The values the proxy writes in for `ROW_COUNT()`, `FOUND_ROWS()` and `@@warning_count` are
/// typed as MariaDB types the functions: clients (and `mariadb-test --enable_metadata`) see the
/// same column lengths and flags as from the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_written_in_for_the_previous_statement_have_the_servers_column_types() {
    let env = TestEnv::start(1, 0).await;
    let sql = "SELECT ROW_COUNT(), FOUND_ROWS(), @@warning_count, @@error_count";
    let mut proxied = env.connect().await;
    let mut direct = env.connect_primary(0).await;
    // A fresh connection's values first (MariaDB's FOUND_ROWS() is 1 before any statement).
    assert_eq!(rows(&mut proxied, sql).await, rows(&mut direct, sql).await);
    let mut proxied = env.connect().await;
    let mut direct = env.connect_primary(0).await;
    let through_proxy = column_types(&mut proxied, sql).await;
    let from_server = column_types(&mut direct, sql).await;
    assert_eq!(through_proxy, from_server);
    // And the values still compute as the functions' (not as the text around them).
    assert_eq!(
        rows(&mut proxied, "SELECT @@warning_count % 3, ROW_COUNT() % 3").await,
        [[Some("0".into()), Some("-1".into())]]
    );
    env.stop().await;
}

/// A one-row INSERT that fails, or one MariaDB refuses before writing a row, leaves
/// `LAST_INSERT_ID()` as it was, on MariaDB as through the proxy (which refused to read it,
/// 1235, after any failed INSERT).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_insert_id_is_known_after_an_insert_that_wrote_no_row() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop(
        "CREATE TABLE tiny_ids (i TINYINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY)",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO tiny_ids SET i = 254")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO tiny_ids SET i = NULL")
        .await
        .unwrap();
    let last = || "SELECT LAST_INSERT_ID()";
    assert_eq!(rows(&mut conn, last()).await, [[Some("255".into())]]);
    let (code, _, _) = server_error(conn.query_drop("INSERT INTO tiny_ids SET i = 254").await);
    assert_eq!(code, 1062);
    assert_eq!(rows(&mut conn, last()).await, [[Some("255".into())]]);
    let (code, _, _) = server_error(conn.query_drop("INSERT INTO tiny_ids VALUES (NULL)").await);
    assert_eq!(code, 167, "out of range for the column");
    assert_eq!(rows(&mut conn, last()).await, [[Some("255".into())]]);
    // Several rows, refused before any is written (an unknown column).
    let (code, _, _) = server_error(
        conn.query_drop("INSERT INTO tiny_ids (nope) VALUES (1), (2)")
            .await,
    );
    assert_eq!(code, 1054);
    assert_eq!(rows(&mut conn, last()).await, [[Some("255".into())]]);
    // At most one row from a SELECT of no table, and a failing ON DUPLICATE KEY UPDATE.
    let (code, _, _) = server_error(
        conn.query_drop("INSERT INTO tiny_ids SELECT 254 FROM DUAL")
            .await,
    );
    assert_eq!(code, 1062);
    let (code, _, _) = server_error(
        conn.query_drop("INSERT INTO tiny_ids VALUES (254) ON DUPLICATE KEY UPDATE i = 255")
            .await,
    );
    assert_eq!(code, 1062);
    assert_eq!(rows(&mut conn, last()).await, [[Some("255".into())]]);
    // A negative id given explicitly: its OK reports it as 2^64 - 1, LAST_INSERT_ID() keeps
    // the last generated one.
    conn.query_drop("CREATE TABLE signed_ids (a INT AUTO_INCREMENT PRIMARY KEY)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO signed_ids VALUES (NULL)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO signed_ids VALUES (-1)")
        .await
        .unwrap();
    assert_eq!(rows(&mut conn, last()).await, [[Some("1".into())]]);
    env.stop().await;
}

/// `SET STATEMENT … FOR EXECUTE` runs the prepared statement under the variables, for that
/// statement only (it was refused, 1235, as an EXECUTE has no plan of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_statement_for_execute_runs_the_prepared_statement_under_its_variables() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    let mode = rows(&mut conn, "SELECT @@sql_mode").await;
    conn.query_drop("PREPARE mode_and FROM 'SELECT @@sql_mode, ?'")
        .await
        .unwrap();
    conn.query_drop("PREPARE mode FROM 'SELECT @@sql_mode'")
        .await
        .unwrap();
    let cases = [
        (
            "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR EXECUTE mode_and USING 5",
            vec![Some("ANSI_QUOTES".into()), Some("5".into())],
        ),
        (
            "SET STATEMENT sql_mode = 'PIPES_AS_CONCAT' FOR EXECUTE mode",
            vec![Some("PIPES_AS_CONCAT".into())],
        ),
        (
            "SET STATEMENT sql_mode = '' FOR EXECUTE IMMEDIATE 'SELECT @@sql_mode, ?' USING 'x'",
            vec![Some(String::new()), Some("x".into())],
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(rows(&mut conn, sql).await, [want], "{sql}");
    }
    assert_eq!(
        rows(&mut conn, "SELECT @@sql_mode").await,
        mode,
        "for one statement only"
    );
    env.stop().await;
}

/// `SHOW WARNINGS`, which the proxy answers itself, is a statement that answers rows: it leaves
/// `ROW_COUNT()` at -1, as on the server (it kept the previous statement's count; clients such as
/// `mariadb-test` run it after every statement that raised warnings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_warnings_leaves_row_count_at_minus_one() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE once (a INT PRIMARY KEY)")
        .await
        .unwrap();
    conn.query_drop("INSERT IGNORE INTO once VALUES (1), (1), (2)")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT ROW_COUNT()").await,
        [[Some("2".into())]]
    );
    conn.query_drop("INSERT IGNORE INTO once VALUES (1), (3)")
        .await
        .unwrap();
    let warnings = rows(&mut conn, "SHOW WARNINGS").await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        rows(&mut conn, "SELECT ROW_COUNT()").await,
        [[Some("-1".into())]]
    );
    env.stop().await;
}

/// `DROP DATABASE` of the session's current database leaves the session in no database, as
/// MariaDB leaves it: `DATABASE()` is NULL, a statement needing one gets 1046 on every shard's
/// connection (pooled ones are taken there by COM_CHANGE_USER, and keep the session's
/// variables), qualified names still work, and `USE` gets out of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_current_database_leaves_the_session_in_none() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("SET @@session.sql_mode = 'ANSI_QUOTES'")
        .await
        .unwrap();
    conn.query_drop("CREATE DATABASE doomed").await.unwrap();
    conn.query_drop("USE doomed").await.unwrap();
    conn.query_drop("DROP DATABASE doomed").await.unwrap();
    assert_eq!(rows(&mut conn, "SELECT DATABASE()").await, [[None]]);
    for sql in [
        "SELECT * FROM users",
        "CREATE TABLE after_drop (a INT)",
        "SELECT * FROM unsharded_anything",
    ] {
        let (code, state, message) = server_error(conn.query_drop(sql).await);
        assert_eq!((code, state.as_str()), (1046, "3D000"), "{sql}: {message}");
    }
    // Every shard's connection is in none (a scatter reaches both), with the session's sql_mode.
    assert_eq!(
        rows(&mut conn, "SELECT @@sql_mode, DATABASE()").await,
        [[Some("ANSI_QUOTES".into()), None]]
    );
    let qualified = format!("SELECT COUNT(*) FROM {}.users", shardgate_sandbox::DATABASE);
    assert_eq!(rows(&mut conn, &qualified).await, [[Some("0".into())]]);
    // Other sessions keep their database on the same pooled connections.
    let mut other = env.connect().await;
    assert_eq!(
        rows(&mut other, "SELECT DATABASE()").await,
        [[Some(shardgate_sandbox::DATABASE.to_owned())]]
    );
    assert_eq!(
        rows(&mut other, "SELECT COUNT(*) FROM users").await,
        [[Some("0".into())]]
    );
    conn.query_drop(format!("USE {}", shardgate_sandbox::DATABASE))
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM users").await,
        [[Some("0".into())]]
    );
    env.stop().await;
}

/// `DROP DATABASE` of another database keeps the session's own, also when the connection the
/// session keeps (here for a named lock) was pinned while in the dropped one (MariaDB's main
/// `statistics` test: the kept connection had not followed the later `USE`, so its OK carried
/// SERVER_STATUS_DB_DROPPED).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_another_database_keeps_the_session_s_own() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE DATABASE elsewhere").await.unwrap();
    conn.query_drop("USE elsewhere").await.unwrap();
    conn.query_drop("DO GET_LOCK('held', 10)").await.unwrap();
    conn.query_drop(format!("USE {}", shardgate_sandbox::DATABASE))
        .await
        .unwrap();
    conn.query_drop("DROP DATABASE elsewhere").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT DATABASE()").await,
        [[Some(shardgate_sandbox::DATABASE.to_owned())]]
    );
    conn.query_drop("CREATE TABLE still_here (a INT)")
        .await
        .unwrap();
    conn.query_drop("DROP TABLE still_here").await.unwrap();
    env.stop().await;
}

/// `SET optimizer_switch = 'flag=on'` changes one flag and keeps the others: the session keeps
/// the value the server computed, so another shard's connection gets every flag the session
/// set, not only the last SET's (the suite's `mrr` tests lost `mrr=on` that way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_set_variables_keep_every_flag_on_other_connections() {
    let env = TestEnv::start(2, 0).await;
    let id = (1..).find(|id| env.shard_of("users", *id) == 1).unwrap();
    let mut conn = env.connect().await;
    conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'x')"))
        .await
        .unwrap();
    conn.query_drop("SET optimizer_switch = 'mrr=on'")
        .await
        .unwrap();
    conn.query_drop("SET optimizer_switch = 'rowid_filter=off'")
        .await
        .unwrap();
    let switch: Vec<String> = conn
        .query(format!(
            "SELECT @@optimizer_switch FROM users WHERE id = {id}"
        ))
        .await
        .unwrap();
    let flags: Vec<&str> = switch[0].split(',').collect();
    assert!(flags.contains(&"mrr=on"), "{flags:?}");
    assert!(flags.contains(&"rowid_filter=off"), "{flags:?}");
    env.stop().await;
}

/// `PREPARE … FROM <expression>` is checked by the server's own PREPARE of the expression, so
/// its refusals are the server's: a subquery there gets 1970 (the proxy evaluated the
/// expression first, then prepared its value: a syntax error, or the table's error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_from_an_expression_is_refused_as_the_server_refuses_it() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE prepared_from (a INT)")
        .await
        .unwrap();
    let (code, state, message) = server_error(
        conn.query_drop("PREPARE s FROM (1 IN (SELECT a FROM prepared_from))")
            .await,
    );
    assert_eq!((code, state.as_str()), (1970, "42000"), "{message}");
    let (code, _, message) = server_error(
        conn.query_drop("EXECUTE IMMEDIATE (1 IN (SELECT a FROM prepared_from))")
            .await,
    );
    assert_eq!(code, 1970, "{message}");
    assert!(
        message.starts_with("EXECUTE IMMEDIATE does not support"),
        "{message}"
    );
    // An expression the server accepts still prepares its value.
    conn.query_drop("SET @text = 'SELECT 7'").await.unwrap();
    conn.query_drop("PREPARE s FROM @text").await.unwrap();
    assert_eq!(rows(&mut conn, "EXECUTE s").await, [[Some("7".into())]]);
    env.stop().await;
}

/// `INSERT … SELECT` and `CREATE TABLE … SELECT` set `FOUND_ROWS()` to the rows their SELECT
/// found, which the client never sees: the session reads it on the connection that ran them
/// (it kept the previous SELECT's count).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_rows_after_writes_of_selected_rows_is_the_servers() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE found_src (a INT)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO found_src VALUES (1), (2), (3)")
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE found_dst (a INT)")
        .await
        .unwrap();
    let found = "SELECT FOUND_ROWS()";
    rows(&mut conn, "SELECT 1").await;
    conn.query_drop("INSERT INTO found_dst SELECT a FROM found_src")
        .await
        .unwrap();
    assert_eq!(rows(&mut conn, found).await, [[Some("3".into())]]);
    rows(&mut conn, "SELECT 1").await;
    conn.query_drop("CREATE TABLE found_copy AS SELECT a FROM found_dst WHERE a > 1")
        .await
        .unwrap();
    assert_eq!(rows(&mut conn, found).await, [[Some("2".into())]]);
    env.stop().await;
}

/// `SET collation_connection = @saved` is kept by the value it gave, not as the text naming a
/// user variable: replayed on another connection after `@saved` changed (or before it is
/// set there), the text set NULL and failed with 1231.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_variable_set_from_a_user_variable_keeps_its_value() {
    let env = TestEnv::start(2, 0).await;
    let id = (1..).find(|id| env.shard_of("users", *id) == 1).unwrap();
    let mut conn = env.connect().await;
    conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'x')"))
        .await
        .unwrap();
    conn.query_drop("SET @saved = 'utf8mb4_bin'").await.unwrap();
    conn.query_drop("SET collation_connection = @saved")
        .await
        .unwrap();
    conn.query_drop("SET @saved = NULL").await.unwrap();
    let collation: Vec<String> = conn
        .query(format!(
            "SELECT @@collation_connection FROM users WHERE id = {id}"
        ))
        .await
        .unwrap();
    assert_eq!(collation, ["utf8mb4_bin"]);
    env.stop().await;
}

/// `EXECUTE IMMEDIATE` written inside an executable comment the server runs (what
/// `mariadb-tzinfo-to-sql` writes) is run by the session like one written plainly (it reached
/// the planner, which refused it: 1235).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_immediate_inside_an_executable_comment_runs() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    assert_eq!(
        rows(&mut conn, "/*M!100602 EXECUTE IMMEDIATE 'SELECT 5' */").await,
        [[Some("5".into())]]
    );
    env.stop().await;
}

/// After a SELECT with an offset MariaDB's `FOUND_ROWS()` counts the rows the offset skipped
/// (`LIMIT 5, 3` over 10 rows: 8; over 6 rows: 6), and after a UNION every row of the union
/// before its LIMIT: on one shard the count is read on the connection, over a scatter the
/// merge counts it. (The proxy used to answer the rows returned: 3, 1.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_rows_after_an_offset_or_a_union_counts_as_the_server_does() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=10).map(|id| format!("({id}, 'u{id}')")).collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    conn.query_drop("CREATE TABLE paged (a INT)").await.unwrap();
    conn.query_drop("INSERT INTO paged SELECT seq FROM seq_1_to_10")
        .await
        .unwrap();
    let found = "SELECT FOUND_ROWS()";
    let cases = [
        // One shard (an unsharded table on the default shard).
        ("SELECT a FROM paged ORDER BY a LIMIT 5, 3", "8"),
        ("SELECT a FROM paged ORDER BY a LIMIT 3 OFFSET 8", "10"),
        ("SELECT a FROM paged LIMIT 20, 3", "10"),
        (
            "SELECT a FROM paged WHERE a < 4 UNION SELECT a FROM paged WHERE a > 8 LIMIT 1",
            "5",
        ),
        ("SELECT a FROM paged LIMIT 3", "3"),
        // A scatter: the merge skips the offset.
        ("SELECT id FROM users ORDER BY id LIMIT 5, 3", "8"),
        ("SELECT id FROM users ORDER BY id LIMIT 8, 3", "10"),
        ("SELECT id FROM users ORDER BY id LIMIT 3 OFFSET 20", "10"),
        ("SELECT id FROM users ORDER BY id LIMIT 5, 0", "0"),
        ("SELECT id FROM users ORDER BY id LIMIT 3", "3"),
    ];
    for (select, expected) in cases {
        rows(&mut conn, select).await;
        assert_eq!(
            rows(&mut conn, found).await,
            [[Some(expected.into())]],
            "{select}"
        );
    }
    // Prepared, with the offset a parameter.
    let stmt = conn
        .prep("SELECT a FROM paged ORDER BY a LIMIT ?, ?")
        .await
        .unwrap();
    let _: Vec<i64> = conn.exec(&stmt, (4, 2)).await.unwrap();
    assert_eq!(rows(&mut conn, found).await, [[Some("6".into())]]);
    env.stop().await;
}

/// Under a session `sql_select_limit`, answers and `FOUND_ROWS()` are what MariaDB answers:
/// the rows sent after a plain SELECT, every row after `SQL_CALC_FOUND_ROWS`, the rows before
/// an explicit `LIMIT` (which replaces the session's), on one shard, across shards (grouping
/// shards send every group, the merge limits the whole: refused before), from copies. Each
/// case is run on the default shard's primary directly too, on a plain table of the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_rows_under_sql_select_limit_is_the_servers() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=10).map(|id| format!("({id}, 'u{id}')")).collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    conn.query_drop("CREATE TABLE paged (a INT)").await.unwrap();
    conn.query_drop("INSERT INTO paged SELECT seq FROM seq_1_to_10")
        .await
        .unwrap();
    // The same rows as `users`, on one server.
    let mut direct = env.connect_primary(0).await;
    direct
        .query_drop("CREATE TABLE plain_users (id INT, name VARCHAR(20)) SELECT seq AS id, CONCAT('u', seq) AS name FROM seq_1_to_10")
        .await
        .unwrap();
    let one_shard_ids: Vec<String> = (1..=10)
        .filter(|id| env.shard_of("users", *id) == 0)
        .map(|id| id.to_string())
        .collect();
    let one_shard_ids = one_shard_ids.join(", ");
    let selects = [
        "SELECT a FROM paged".to_owned(),
        "SELECT SQL_CALC_FOUND_ROWS a FROM paged".to_owned(),
        "SELECT SQL_CALC_FOUND_ROWS a FROM paged LIMIT 1".to_owned(),
        "SELECT a FROM paged LIMIT 5, 3".to_owned(),
        "SELECT a FROM paged WHERE a < 4 UNION SELECT a FROM paged WHERE a > 5".to_owned(),
        "SELECT id FROM users ORDER BY id".to_owned(),
        "SELECT id FROM users".to_owned(),
        "SELECT id FROM users ORDER BY id LIMIT 5, 3".to_owned(),
        "SELECT id FROM users ORDER BY id LIMIT 4".to_owned(),
        format!("SELECT id FROM users WHERE id IN ({one_shard_ids}) ORDER BY id"),
        format!("SELECT SQL_CALC_FOUND_ROWS id FROM users WHERE id IN ({one_shard_ids})"),
        format!("SELECT id FROM users WHERE id IN ({one_shard_ids}) LIMIT 1, 5"),
        format!("SELECT id FROM users WHERE id IN ({one_shard_ids}) UNION SELECT 99"),
        "SELECT id FROM users WHERE id < 4 UNION SELECT id FROM users WHERE id > 5".to_owned(),
        "SELECT id FROM users WHERE id < 4 UNION ALL SELECT id FROM users WHERE id > 5 LIMIT 4"
            .to_owned(),
        "SELECT id FROM users WHERE id < 4 UNION SELECT a FROM paged LIMIT 1, 3".to_owned(),
        "SELECT DISTINCT id FROM users".to_owned(),
        "SELECT COUNT(*) FROM users".to_owned(),
        "SELECT name, COUNT(*) FROM users GROUP BY name ORDER BY name".to_owned(),
        "SELECT DISTINCT id % 3 FROM users ORDER BY 1".to_owned(),
        // Answered from copies on one connection (a join not on the shard key).
        "SELECT u.id FROM users u JOIN users v ON u.id = v.id + 1 ORDER BY u.id".to_owned(),
        "SELECT SQL_CALC_FOUND_ROWS u.id FROM users u JOIN users v ON u.id = v.id + 1".to_owned(),
        "SELECT SQL_CALC_FOUND_ROWS u.id FROM users u JOIN users v ON u.id = v.id + 1 LIMIT 3"
            .to_owned(),
        "SELECT u.id FROM users u JOIN users v ON u.id = v.id + 1 ORDER BY u.id LIMIT 2, 3"
            .to_owned(),
        "SELECT SQL_CALC_FOUND_ROWS id FROM users ORDER BY id LIMIT 3".to_owned(),
    ];
    for limit in ["2", "0", "DEFAULT"] {
        let set = format!("SET sql_select_limit = {limit}");
        conn.query_drop(&set).await.unwrap();
        direct.query_drop(&set).await.unwrap();
        for select in &selects {
            let got = rows(&mut conn, select).await;
            let found = rows(&mut conn, "SELECT FOUND_ROWS()").await;
            let plain = select.replace(" users", " plain_users");
            let want = rows(&mut direct, &plain).await;
            let want_found = rows(&mut direct, "SELECT FOUND_ROWS()").await;
            match select.contains("ORDER BY") || select.contains("COUNT") {
                true => assert_eq!(got, want, "{set}; {select}"),
                false => assert_eq!(got.len(), want.len(), "{set}; {select}"),
            }
            assert_eq!(found, want_found, "{set}; {select}: FOUND_ROWS()");
            // Prepared (binary rows), and with SQL's PREPARE.
            let prepared: Vec<mysql_async::Row> = conn.exec(select.as_str(), ()).await.unwrap();
            assert_eq!(prepared.len(), want.len(), "{set}; prepared {select}");
            let found = rows(&mut conn, "SELECT FOUND_ROWS()").await;
            assert_eq!(found, want_found, "{set}; prepared {select}: FOUND_ROWS()");
            let quoted = select.replace('\'', "''");
            conn.query_drop(format!("PREPARE s FROM '{quoted}'"))
                .await
                .unwrap();
            let executed = rows(&mut conn, "EXECUTE s").await;
            assert_eq!(executed.len(), want.len(), "{set}; EXECUTE {select}");
            let found = rows(&mut conn, "SELECT FOUND_ROWS()").await;
            assert_eq!(found, want_found, "{set}; EXECUTE {select}: FOUND_ROWS()");
        }
    }
    direct.query_drop("DROP TABLE plain_users").await.unwrap();
    env.stop().await;
}

/// A `SET` the client PREPAREd is the server's too: a stored procedure may `EXECUTE` it
/// (MariaDB's `ctype_utf32_uca`; 1243 before). The client's own EXECUTE still goes through the
/// session, which keeps the variables it sets for every connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_procedure_executes_a_prepared_set() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("SET @c = 'SET @b = get_format(DATE, ''EUR'')'")
        .await
        .unwrap();
    conn.query_drop("PREPARE s FROM @c").await.unwrap();
    conn.query_drop("EXECUTE s").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @b").await,
        [[Some("%d.%m.%Y".into())]]
    );
    conn.query_drop("CREATE PROCEDURE p (IN i INT) EXECUTE s")
        .await
        .unwrap();
    conn.query_drop("CALL p(@a)").await.unwrap();
    conn.query_drop("DEALLOCATE PREPARE s").await.unwrap();
    let (code, _, message) = server_error(conn.query_drop("CALL p(@a)").await);
    assert_eq!(code, 1243, "{message}");
    // A prepared SET of a session variable: the session keeps it for its other connections.
    conn.query_drop("PREPARE s FROM 'SET SESSION sql_mode = ''ANSI_QUOTES'''")
        .await
        .unwrap();
    conn.query_drop("EXECUTE s").await.unwrap();
    conn.query_drop("DEALLOCATE PREPARE s").await.unwrap();
    let id = (1..).find(|id| env.shard_of("users", *id) == 1).unwrap();
    let on_shard_1 =
        format!("SELECT @@sql_mode FROM users WHERE id = {id} UNION SELECT @@sql_mode");
    conn.query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'x')"))
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, &on_shard_1).await,
        [[Some("ANSI_QUOTES".into())]]
    );
    conn.query_drop("DROP PROCEDURE p").await.unwrap();
    env.stop().await;
}

/// A database named in the client's character set (MariaDB's `ctype_recoding`): created and
/// entered in koi8r, listed in cp1251 on another connection, the same UTF-8 name to a UTF-8
/// client. The session kept a UTF-8 reading of the koi8r bytes before (1049).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_named_in_another_character_set_is_entered_and_kept() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    let koi8r: &[u8] = b"\xd4\xc5\xd3\xd4";
    let cp1251: &[u8] = b"\xf2\xe5\xf1\xf2";
    let statement = |head: &str, name: &[u8]| [head.as_bytes(), name].concat();
    conn.query_drop("SET CHARACTER SET koi8r").await.unwrap();
    conn.query_drop(statement("CREATE DATABASE ", koi8r))
        .await
        .unwrap();
    conn.query_drop(statement("USE ", koi8r)).await.unwrap();
    conn.query_drop("CREATE TABLE t1 (a INT)").await.unwrap();
    // Another set of variables: the next statement's connection is taken to the database
    // again, under cp1251.
    conn.query_drop("SET CHARACTER SET cp1251").await.unwrap();
    let tables: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
    assert_eq!(tables, ["t1"]);
    let tables: Vec<String> = conn
        .query(statement("SHOW TABLES IN ", cp1251))
        .await
        .unwrap();
    assert_eq!(tables, ["t1"]);
    conn.query_drop("SET NAMES utf8mb4").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT DATABASE()").await,
        [[Some("тест".into())]]
    );
    conn.query_drop("DROP DATABASE `тест`").await.unwrap();
    env.stop().await;
}

/// With `optimizer_trace` on, the trace is the client's last statement, as on MariaDB: the
/// session keeps the connection that holds it while tracing, and the proxy does not read `FOUND_ROWS()` back after an `INSERT … SELECT` or a paged SELECT (that
/// query would replace the trace), and refuses `FOUND_ROWS()` until a SELECT sets it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optimizer_trace_shows_the_clients_statement() {
    let env = TestEnv::start_with(1, 0, "\n[backend.pool]\nmax_size = 2\n").await;
    let mut conn = env.connect().await;
    for sql in [
        "CREATE TABLE trace_a (a INT)",
        "CREATE TABLE trace_b (a INT)",
        "INSERT INTO trace_a VALUES (1), (2), (3), (4), (5), (6)",
        "SET optimizer_trace = 'enabled=on'",
        "INSERT INTO trace_b SELECT * FROM trace_a WHERE a > 4",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    // Other sessions in between take pooled connections: the trace stays on the one this
    // session keeps while tracing.
    let others = (0..20).map(|_| {
        let env = &env;
        async move {
            let mut other = env.connect().await;
            other
                .query_drop("SELECT COUNT(*) FROM trace_a")
                .await
                .unwrap();
            other.disconnect().await.unwrap();
        }
    });
    futures_util::future::join_all(others).await;
    let traced: Vec<String> = conn
        .query("SELECT QUERY FROM information_schema.OPTIMIZER_TRACE")
        .await
        .unwrap();
    assert_eq!(
        traced,
        ["INSERT INTO trace_b SELECT * FROM trace_a WHERE a > 4"]
    );
    conn.query_drop("SELECT a FROM trace_a ORDER BY a LIMIT 2, 1")
        .await
        .unwrap();
    let (code, _, message) = server_error(conn.query_drop("SELECT FOUND_ROWS()").await);
    assert_eq!(code, 1235, "{message}");
    let traced: Vec<String> = conn
        .query("SELECT QUERY FROM information_schema.OPTIMIZER_TRACE")
        .await
        .unwrap();
    assert_eq!(traced, ["SELECT a FROM trace_a ORDER BY a LIMIT 2, 1"]);
    // Tracing off, it is read back again (the rows the offset skipped count, as on MariaDB).
    conn.query_drop("SET optimizer_trace = 'enabled=off'")
        .await
        .unwrap();
    conn.query_drop("SELECT a FROM trace_a ORDER BY a LIMIT 2, 1")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT FOUND_ROWS()").await,
        [[Some("3".to_owned())]]
    );
    env.stop().await;
}

/// `main.derived_opt`, `main.ps_1general`: MariaDB flags the OK of any `DROP DATABASE` with
/// SERVER_STATUS_DB_DROPPED (`IF EXISTS` of one that does not exist too), which the proxy took
/// for a drop of the session's database: the session lost its database, and the connection
/// later kept for `PREPARE … FROM @v` was started over without `@v`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_absent_database_keeps_the_session_s_database_and_variables() {
    let env = TestEnv::start(1, 0).await;
    let mut conn = env.connect().await;
    for sql in [
        "DROP DATABASE IF EXISTS absent_db",
        "SET @v = 'select 1 as one'",
        "PREPARE s FROM @v",
    ] {
        conn.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let one: Vec<i64> = conn.query("EXECUTE s").await.unwrap();
    assert_eq!(one, [1]);
    let db: Option<Option<String>> = conn.query_first("SELECT DATABASE()").await.unwrap();
    assert_eq!(db, Some(Some(shardgate_sandbox::DATABASE.to_owned())));
    conn.query_drop("DEALLOCATE PREPARE s").await.unwrap();
    drop(conn);
    env.stop().await;
}
