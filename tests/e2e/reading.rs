//! Statements read exactly as MariaDB reads them, so routing never changes an answer:
//! executable comments by the servers' version, literal forms, the session's `sql_mode`,
//! user variables assigned inside statements, subqueries over sharded tables where the proxy
//! would run them on one shard, and `LAST_INSERT_ID()` with MariaDB's own column.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{rows, server_error, TestEnv};

/// Users 1..=20 (ids spread over 3 shards), name `u<id>`.
async fn with_users() -> (TestEnv, Conn) {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    let values: Vec<String> = (1..=20)
        .map(|i| format!("({i}, 'u{i}@x', 'u{i}')"))
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .expect("load users");
    (env, conn)
}

async fn count(conn: &mut Conn, sql: &str) -> i64 {
    conn.query_first::<i64, _>(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row")
}

/// Two ids on different shards.
fn two_shards(env: &TestEnv) -> (i64, i64) {
    let a = 5;
    let b = (1..=20)
        .find(|&i| env.shard_of("users", i) != env.shard_of("users", a))
        .expect("ids on two shards");
    (a as i64, b as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executable_comments_run_only_where_the_server_runs_them() {
    let (env, mut conn) = with_users().await;
    let (a, b) = two_shards(&env);
    for (comment, matches) in [
        ("/*!99999 OR id = {b} */", 1),   // MySQL 5.7+ version range: MariaDB skips it
        ("/*!50700 OR id = {b} */", 1),   // likewise
        ("/*M!999999 OR id = {b} */", 1), // a MariaDB version above the server's
        ("/*!50000 OR id = {b} */", 2),   // an old version: run
        ("/*M!100000 OR id = {b} */", 2), // MariaDB 10.0: run
        ("/*! OR id = {b} */", 2),        // no version: run
    ] {
        let comment = comment.replace("{b}", &b.to_string());
        let sql = format!("SELECT COUNT(*) FROM users WHERE id = {a} {comment}");
        assert_eq!(count(&mut conn, &sql).await, matches, "{sql}");
    }
    // Writes too: the skipped condition touches nothing.
    let updated = conn
        .exec_iter(
            format!("UPDATE users SET name = 'changed' WHERE id = {a} /*!99999 OR id = {b} */"),
            (),
        )
        .await
        .unwrap()
        .affected_rows();
    assert_eq!(updated, 1);
    let sql = format!("SELECT COUNT(*) FROM users WHERE name = 'changed'");
    assert_eq!(count(&mut conn, &sql).await, 1);
    conn.query_drop(format!("DELETE FROM users WHERE id = {b} /*!50700 OR 1 = 1 */"))
        .await
        .unwrap();
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM users").await, 19);
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_forms_keep_their_meaning() {
    let (env, mut conn) = with_users().await;
    // 0x07 and b'111' are numbers here; X'07' is a string, which matches no integer id.
    for (literal, matches) in [
        ("0x07", 1),
        ("b'111'", 1),
        ("0b111", 1),
        ("X'07'", 0),
        ("7e0", 1),
        ("7.0", 1),
        ("_utf8mb4'7'", 1),
        ("'7'", 1),
    ] {
        let sql = format!("SELECT COUNT(*) FROM users WHERE id = {literal}");
        assert_eq!(count(&mut conn, &sql).await, matches, "{sql}");
    }
    assert_eq!(
        rows(&mut conn, "SELECT name FROM users WHERE id = 0x07").await,
        vec![vec![Some("u7".into())]]
    );
    // `||` is OR by default: both alternatives' rows, wherever they live.
    let (a, b) = two_shards(&env);
    let sql = format!("SELECT COUNT(*) FROM users WHERE id = {a} AND 1 || id = {b}");
    assert_eq!(count(&mut conn, &sql).await, 2, "{sql}");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_sql_mode_decides_how_text_is_read() {
    let (env, mut conn) = with_users().await;
    let (a, b) = two_shards(&env);
    // Under NO_BACKSLASH_ESCAPES the string ends at the second quote, so `OR id = b` is SQL.
    let sql = format!(r"SELECT COUNT(*) FROM users WHERE id = {a} AND name <> 'a\' OR id = {b} -- '");
    conn.query_drop("SET sql_mode = 'NO_BACKSLASH_ESCAPES'")
        .await
        .unwrap();
    assert_eq!(count(&mut conn, &sql).await, 2, "{sql}");
    // Back to the default: the same text is one condition on one key.
    conn.query_drop("SET sql_mode = DEFAULT").await.unwrap();
    assert_eq!(count(&mut conn, &sql).await, 1, "{sql}");
    // PIPES_AS_CONCAT: `||` concatenates (`id = a AND CONCAT(0, id) = b`: no row); by
    // default it is OR (`(id = a AND 0) OR id = b`: one row).
    let pipes = format!("SELECT COUNT(*) FROM users WHERE id = {a} AND 0 || id = {b}");
    assert_eq!(count(&mut conn, &pipes).await, 1, "{pipes}");
    conn.query_drop("SET sql_mode = 'PIPES_AS_CONCAT'").await.unwrap();
    assert_eq!(count(&mut conn, &pipes).await, 0, "{pipes}");
    // ANSI_QUOTES: "id" names the column.
    conn.query_drop("SET sql_mode = 'ANSI_QUOTES'").await.unwrap();
    assert_eq!(
        rows(&mut conn, &format!(r#"SELECT "name" FROM "users" WHERE "id" = {a}"#)).await,
        vec![vec![Some(format!("u{a}"))]]
    );
    // A value computed by the server (`CONCAT(@@sql_mode, …)`) is read back from it.
    conn.query_drop("SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        .await
        .unwrap();
    assert_eq!(count(&mut conn, &sql).await, 2, "{sql}");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variables_assigned_inside_statements_keep_their_values() {
    let env = TestEnv::start_with(3, 0, "\n[backend.pool]\nmax_size = 2\n").await;
    let mut conn = env.connect().await;
    conn.query_drop("INSERT INTO users (id, email, name) VALUES (7, 'a', 'seven'), (5, 'b', 'five')")
        .await
        .unwrap();
    // Other sessions keep the pool's few connections busy between the statements.
    let mut other = env.connect().await;
    conn.query_drop("SELECT @x := name FROM users WHERE id = 7")
        .await
        .unwrap();
    other.query_drop("SELECT * FROM users WHERE id = 7").await.unwrap();
    conn.query_drop("SELECT name INTO @y FROM users WHERE id = 5")
        .await
        .unwrap();
    conn.query_drop("SET @n = 1").await.unwrap();
    conn.query_drop("SELECT @n := @n + 1 FROM users WHERE id = 5")
        .await
        .unwrap();
    other.query_drop("SELECT * FROM users WHERE id = 5").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @x, @y, @n").await,
        vec![vec![Some("seven".into()), Some("five".into()), Some("2".into())]]
    );
    // The variables reach every shard the session uses afterwards.
    assert_eq!(
        rows(&mut conn, "SELECT name FROM users WHERE name = @x AND id = 7").await,
        vec![vec![Some("seven".into())]]
    );
    // Where each shard would assign its own value, the statement is refused, not answered.
    let (code, _, message) = server_error(conn.query_drop("SELECT @z := name FROM users").await);
    assert_eq!(code, 1235, "{message}");
    // A subquery over a sharded table in SET would read one shard's rows: refused.
    let (code, _, message) =
        server_error(conn.query_drop("SET @c = (SELECT COUNT(*) FROM users)").await);
    assert_eq!(code, 1235, "{message}");
    let (code, _, message) = server_error(
        conn.query_drop("CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))")
            .await
            .and(conn.query_drop("INSERT INTO notes VALUES (1, (SELECT name FROM users WHERE id = 7))").await),
    );
    assert_eq!(code, 1235, "{message}");
    drop((conn, other));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_insert_id_is_mariadbs_own_column() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE seq (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO seq (v) VALUES (1), (2)").await.unwrap();
    let mut direct = env.connect_primary(0).await;
    direct.query_drop("DO LAST_INSERT_ID(1)").await.unwrap();
    for sql in [
        "SELECT LAST_INSERT_ID()",
        "SELECT last_insert_id() + 1",
        "SELECT LAST_INSERT_ID() AS id",
    ] {
        let mut proxied = conn.query_iter(sql).await.unwrap();
        let proxied_columns: Vec<_> = proxied
            .columns_ref()
            .iter()
            .map(|c| (c.name_str().into_owned(), c.column_type(), c.flags(), c.column_length()))
            .collect();
        let proxied_rows: Vec<mysql_async::Row> = proxied.collect().await.unwrap();
        let mut server = direct.query_iter(sql).await.unwrap();
        let server_columns: Vec<_> = server
            .columns_ref()
            .iter()
            .map(|c| (c.name_str().into_owned(), c.column_type(), c.flags(), c.column_length()))
            .collect();
        let server_rows: Vec<mysql_async::Row> = server.collect().await.unwrap();
        assert_eq!(proxied_columns, server_columns, "{sql}");
        assert_eq!(
            proxied_rows.iter().map(|r| r.as_ref(0).cloned()).collect::<Vec<_>>(),
            server_rows.iter().map(|r| r.as_ref(0).cloned()).collect::<Vec<_>>(),
            "{sql}"
        );
    }
    // LAST_INSERT_ID(expr) sets the session's value, as on one server.
    conn.query_drop("SELECT LAST_INSERT_ID(42)").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT LAST_INSERT_ID()").await,
        vec![vec![Some("42".into())]]
    );
    drop((conn, direct));
    env.stop().await;
}
