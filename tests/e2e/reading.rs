//! Statements read exactly as MariaDB reads them, so routing never changes an answer:
//! executable comments by the servers' version, literal forms, the session's `sql_mode`,
//! user variables assigned inside statements, subqueries over sharded tables where the proxy
//! would run them on one shard, and `LAST_INSERT_ID()` with MariaDB's own column.

use mysql_async::consts::{ColumnFlags, ColumnType};
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
        ("/*!99999 OR id = {b} */", 1), // MySQL 5.7+ version range: MariaDB skips it
        ("/*!50700 OR id = {b} */", 1), // likewise
        ("/*M!999999 OR id = {b} */", 1), // a MariaDB version above the server's
        ("/*!50000 OR id = {b} */", 2), // an old version: run
        ("/*M!100000 OR id = {b} */", 2), // MariaDB 10.0: run
        ("/*! OR id = {b} */", 2),      // no version: run
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
    let sql = "SELECT COUNT(*) FROM users WHERE name = 'changed'";
    assert_eq!(count(&mut conn, sql).await, 1);
    conn.query_drop(format!(
        "DELETE FROM users WHERE id = {b} /*!50700 OR 1 = 1 */"
    ))
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
    let sql =
        format!(r"SELECT COUNT(*) FROM users WHERE id = {a} AND name <> 'a\' OR id = {b} -- '");
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
    conn.query_drop("SET sql_mode = 'PIPES_AS_CONCAT'")
        .await
        .unwrap();
    assert_eq!(count(&mut conn, &pipes).await, 0, "{pipes}");
    // ANSI_QUOTES: "id" names the column.
    conn.query_drop("SET sql_mode = 'ANSI_QUOTES'")
        .await
        .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            &format!(r#"SELECT "name" FROM "users" WHERE "id" = {a}"#)
        )
        .await,
        vec![vec![Some(format!("u{a}"))]]
    );
    // A value computed by the server (`CONCAT(@@sql_mode, …)`) is read back from it.
    conn.query_drop("SET sql_mode = 'PIPES_AS_CONCAT'")
        .await
        .unwrap();
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
    conn.query_drop(
        "INSERT INTO users (id, email, name) VALUES (7, 'a', 'seven'), (5, 'b', 'five')",
    )
    .await
    .unwrap();
    // Other sessions keep the pool's few connections busy between the statements.
    let mut other = env.connect().await;
    conn.query_drop("SELECT @x := name FROM users WHERE id = 7")
        .await
        .unwrap();
    other
        .query_drop("SELECT * FROM users WHERE id = 7")
        .await
        .unwrap();
    conn.query_drop("SELECT name INTO @y FROM users WHERE id = 5")
        .await
        .unwrap();
    conn.query_drop("SET @n = 1").await.unwrap();
    conn.query_drop("SELECT @n := @n + 1 FROM users WHERE id = 5")
        .await
        .unwrap();
    other
        .query_drop("SELECT * FROM users WHERE id = 5")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @x, @y, @n").await,
        vec![vec![
            Some("seven".into()),
            Some("five".into()),
            Some("2".into())
        ]]
    );
    // The variables reach every shard the session uses afterwards.
    assert_eq!(
        rows(
            &mut conn,
            "SELECT name FROM users WHERE name = @x AND id = 7"
        )
        .await,
        vec![vec![Some("seven".into())]]
    );
    // Where the rows differ in the assigned column (which row assigns last is the order
    // MariaDB evaluates them in), the statement is refused, not answered.
    let (code, _, message) = server_error(conn.query_drop("SELECT @z := name FROM users").await);
    assert_eq!(code, 1235, "{message}");
    // A running count needs the answer's order to be MariaDB's (the whole primary key) and an
    // integer (or NULL) to count from; the variables keep their values.
    conn.query_drop("SET @d = 1.5, @r = 0").await.unwrap();
    for (sql, why) in [
        (
            "SELECT @r := @r + 1, id FROM users",
            "assigning user variables",
        ),
        (
            "SELECT @r := @r + 1, id FROM users ORDER BY name",
            "assigning user variables",
        ),
        (
            "SELECT @d := @d + 1, id FROM users ORDER BY id",
            "not an integer",
        ),
    ] {
        let (code, _, message) = server_error(conn.query_drop(sql).await);
        assert_eq!(code, 1235, "{sql}: {message}");
        assert!(message.contains(why), "{sql}: {message}");
    }
    assert_eq!(
        rows(&mut conn, "SELECT @d, @r").await,
        vec![vec![Some("1.5".into()), Some("0".into())]]
    );
    // After DDL through the proxy (the schema cache forgets the table), a count has the
    // table's columns read first, and numbers the rows in the answer's order.
    conn.query_drop("ALTER TABLE users COMMENT = 'counted'")
        .await
        .unwrap();
    let counted: Vec<(i64, i64)> = conn
        .query("SELECT @r := @r + 1, id FROM users ORDER BY id DESC")
        .await
        .unwrap();
    let n = counted.len() as i64;
    assert!(n >= 2, "{counted:?}");
    assert_eq!(
        counted.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=n).collect::<Vec<_>>()
    );
    assert!(counted.windows(2).all(|w| w[0].1 > w[1].1), "{counted:?}");
    assert_eq!(
        rows(&mut conn, "SELECT @r").await,
        vec![vec![Some(n.to_string())]]
    );
    // A subquery over a sharded table in SET runs first, across the shards.
    conn.query_drop("SET @c = (SELECT COUNT(*) FROM users)")
        .await
        .unwrap();
    let (c, all): (i64, i64) = conn
        .query_first(
            "SELECT @c, (SELECT COUNT(*) FROM users WHERE id > -1000000 OR id <= -1000000)",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c, all);
    // An INSERT into an unsharded table with a subquery over another shard's rows: the
    // subquery first, its value written in.
    conn.query_drop("CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO notes VALUES (1, (SELECT name FROM users WHERE id = 7))")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT body FROM notes").await,
        vec![vec![Some("seven".into())]]
    );
    drop((conn, other));
    env.stop().await;
}

/// Name, type and display length of each column of `sql`'s answer.
async fn answer_columns(conn: &mut Conn, sql: &str) -> Vec<(String, ColumnType, u32)> {
    let result = conn.query_iter(sql).await.unwrap();
    let columns = (result.columns_ref().iter())
        .map(|c| {
            (
                c.name_str().into_owned(),
                c.column_type(),
                c.column_length(),
            )
        })
        .collect();
    result.drop_result().await.unwrap();
    columns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_variables_assigned_across_shards_take_the_value_every_row_agrees_on() {
    let env = TestEnv::start_with(3, 0, "\n[backend.pool]\nmax_size = 2\n").await;
    let mut conn = env.connect().await;
    let (a, b) = two_shards(&env);
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name, created_at) VALUES ({a}, 'a', 'first', '2024-01-02 03:04:05'), ({b}, 'b', 'second', '2025-06-07 08:09:10')"
    ))
    .await
    .unwrap();
    let statement = "SELECT @m := MAX(id), @t := MAX(created_at) AS t, COUNT(*) FROM users";
    assert_eq!(
        rows(&mut conn, statement).await,
        vec![vec![
            Some(a.max(b).to_string()),
            Some("2025-06-07 08:09:10".into()),
            Some("2".into())
        ]]
    );
    // The columns MariaDB gives the statement as written: an assigned DATETIME is a string.
    let mut direct = env.connect_primary(0).await;
    direct.query_drop("USE app").await.unwrap();
    let described = answer_columns(&mut direct, statement).await;
    assert_eq!(described[1].1, ColumnType::MYSQL_TYPE_VAR_STRING);
    assert_eq!(answer_columns(&mut conn, statement).await, described);
    assert_eq!(
        rows(&mut conn, "SELECT @m, @t, COLLATION(@t)").await,
        vec![vec![
            Some(a.max(b).to_string()),
            // As MariaDB gives it: a temporal value assigned is a string of its numeric
            // character set.
            Some("2025-06-07 08:09:10".into()),
            Some("latin1_swedish_ci".into())
        ]]
    );
    // A prepared statement's execution: binary rows, the variable set the same way.
    let (max, n): (i64, i64) = conn
        .exec_first(
            "SELECT @p := MAX(id), COUNT(*) FROM users WHERE id > ?",
            (a.min(b) - 1,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((max, n), (a.max(b), 2));
    assert_eq!(
        rows(&mut conn, "SELECT @p").await,
        vec![vec![Some(a.max(b).to_string())]]
    );
    // Rows that agree in the assigned column give it their value; no row leaves it alone.
    conn.query_drop("UPDATE users SET name = 'same' WHERE id IN (-1, 0) OR 1")
        .await
        .unwrap();
    conn.query_drop("SELECT @n := name, id FROM users")
        .await
        .unwrap();
    conn.query_drop("SELECT @m := id FROM users WHERE name = 'none'")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @n, @m").await,
        vec![vec![Some("same".into()), Some(a.max(b).to_string())]]
    );
    // Refused (1235) where the value would depend on which row MariaDB assigns last, or has
    // more digits than the answer shows; the variables keep their values.
    for (sql, why) in [
        ("SELECT @m := id FROM users", "differ"),
        ("SELECT @m := AVG(id) FROM users", "more digits"),
        ("SELECT AVG(id) INTO @m FROM users", "more digits"),
        ("SELECT @m := STD(id) FROM users", "more digits"),
    ] {
        let (code, _, message) = server_error(conn.query_drop(sql).await);
        assert_eq!(code, 1235, "{sql}: {message}");
        assert!(message.contains(why), "{sql}: {message}");
    }
    assert_eq!(
        rows(&mut conn, "SELECT @m").await,
        vec![vec![Some(a.max(b).to_string())]]
    );
    // Describing the statement (preparing it) creates its variable on the describing
    // connection; the session does not see it there (an unset variable is a binary NULL), as
    // on MariaDB, where the text fails to parse.
    let (code, _, _) = server_error(
        conn.query_drop("SELECT @fresh := MAX(id) FROM users WHERE id > ?")
            .await,
    );
    assert_eq!(code, 1064);
    assert_eq!(
        rows(&mut conn, "SELECT COLLATION(@fresh)").await,
        vec![vec![Some("binary".into())]]
    );
    drop((conn, direct));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_insert_id_is_mariadbs_own_column() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE seq (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO seq (v) VALUES (1), (2)")
        .await
        .unwrap();
    let mut direct = env.connect_primary(0).await;
    direct.query_drop("DO LAST_INSERT_ID(1)").await.unwrap();
    for sql in [
        "SELECT LAST_INSERT_ID()",
        "SELECT last_insert_id() + 1",
        "SELECT LAST_INSERT_ID() AS id",
    ] {
        let mut proxied = conn.query_iter(sql).await.unwrap();
        let proxied_columns = column_summary(proxied.columns_ref());
        let proxied_rows: Vec<mysql_async::Row> = proxied.collect().await.unwrap();
        let mut server = direct.query_iter(sql).await.unwrap();
        let server_columns = column_summary(server.columns_ref());
        let server_rows: Vec<mysql_async::Row> = server.collect().await.unwrap();
        assert_eq!(proxied_columns, server_columns, "{sql}");
        assert_eq!(
            proxied_rows
                .iter()
                .map(|r| r.as_ref(0).cloned())
                .collect::<Vec<_>>(),
            server_rows
                .iter()
                .map(|r| r.as_ref(0).cloned())
                .collect::<Vec<_>>(),
            "{sql}"
        );
    }
    // An id given explicitly is reported in the OK but leaves LAST_INSERT_ID() alone.
    let explicit = conn
        .query_iter("INSERT INTO seq (id, v) VALUES (100, 3)")
        .await
        .unwrap()
        .last_insert_id();
    assert_eq!(explicit, Some(100));
    assert_eq!(
        rows(&mut conn, "SELECT LAST_INSERT_ID()").await,
        vec![vec![Some("1".into())]]
    );
    // A multi-row INSERT that fails after generating ids may have moved LAST_INSERT_ID(),
    // which its error does not say: refused until an INSERT succeeds, never guessed.
    assert!(conn
        .query_drop("INSERT INTO seq (v) VALUES (4), ('not a number')")
        .await
        .is_err());
    let (code, _, message) = server_error(conn.query_drop("SELECT LAST_INSERT_ID()").await);
    assert_eq!(code, 1235, "{message}");
    conn.query_drop("INSERT INTO seq (v) VALUES (5)")
        .await
        .unwrap();
    let generated: Option<u64> = conn.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
    assert!(generated.is_some_and(|id| id > 100), "{generated:?}");
    // LAST_INSERT_ID(expr) sets the session's value, as on one server.
    conn.query_drop("SELECT LAST_INSERT_ID(42)").await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT LAST_INSERT_ID()").await,
        vec![vec![Some("42".into())]]
    );
    drop((conn, direct));
    env.stop().await;
}

/// 3 shards with one more table: its config lines and its CREATE TABLE.
async fn with_table(table_toml: &str, ddl: &str) -> (TestEnv, Conn) {
    let env = TestEnv::start_with(3, 0, &format!("\n[[tables]]\n{table_toml}\n")).await;
    let mut conn = env.connect().await;
    conn.query_drop(ddl).await.unwrap();
    (env, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_table_writes_answer_as_one_copy() {
    let (env, mut conn) = with_table(
        "name = \"countries\"\nreference = true",
        "CREATE TABLE countries (id INT PRIMARY KEY, name VARCHAR(20))",
    )
    .await;
    assert_eq!(
        affected(&mut conn, "INSERT INTO countries VALUES (1, 'a'), (2, 'b')").await,
        2,
        "one copy's rows, not the sum over shards"
    );
    assert_eq!(
        affected(&mut conn, "UPDATE countries SET name = 'x'").await,
        2
    );
    assert_eq!(
        affected(&mut conn, "DELETE FROM countries WHERE id = 2").await,
        1
    );
    // A copy that lost a row answers differently: the write is undone on every copy.
    let mut shard1 = env.connect_primary(1).await;
    shard1.query_drop("DELETE FROM countries").await.unwrap();
    let (code, _, message) = server_error(conn.query_drop("UPDATE countries SET name = 'y'").await);
    assert_eq!(code, 1105, "{message}");
    let mut shard0 = env.connect_primary(0).await;
    assert_eq!(
        rows(&mut shard0, "SELECT name FROM countries").await,
        vec![vec![Some("x".into())]],
        "undone on the copies that had the row"
    );
    drop((conn, shard0, shard1));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_keys_route_by_mariadbs_value() {
    let (env, mut conn) = with_table(
        "name = \"tokens\"\nshard_key = \"token\"\nshard_key_type = \"string\"",
        "CREATE TABLE tokens (token VARCHAR(20) PRIMARY KEY, n INT)",
    )
    .await;
    conn.query_drop(
        "INSERT INTO tokens (token, n) VALUES ('café', 1), ('042', 2), ('a%b', 3), ('alice@x.com', 4)",
    )
        .await
        .unwrap();
    for (condition, matches) in [
        // `\a` is `a` to MariaDB; adjacent strings are one.
        (r"token = 'c\af' 'é'", 1),
        // `\%` keeps its backslash outside LIKE: no such token.
        (r"token = 'a\%b'", 0),
        ("token = 'a%b'", 1),
        // A number compared with a string column compares as a number: '042' = 42.
        ("token = 42", 1),
        ("token = 0x636166C3A9", 1),
        // The column's collation (utf8mb4_general_ci, PAD SPACE) decides equality.
        ("token = 'ALICE@X.COM'", 1),
        ("token = 'alice@x.com  '", 1),
        ("token = 'CAFÉ'", 1),
    ] {
        let sql = format!("SELECT COUNT(*) FROM tokens WHERE {condition}");
        assert_eq!(count(&mut conn, &sql).await, matches, "{sql}");
    }
    // SHOW WARNINGS after a statement without any is empty, as on one server; after one that
    // raised some it lists them, read from the connection that ran the statement.
    conn.query_drop("SELECT n FROM tokens WHERE token = 'café'")
        .await
        .unwrap();
    assert!(rows(&mut conn, "SHOW WARNINGS").await.is_empty());
    conn.query_drop("SELECT 1 / 0").await.unwrap();
    let division = vec![
        Some("Warning".to_owned()),
        Some("1365".to_owned()),
        Some("Division by 0".to_owned()),
    ];
    assert_eq!(rows(&mut conn, "SHOW WARNINGS").await, [division]);
    // A statement without tables keeps the previous statement's diagnostics (MariaDB clears
    // them only for statements that use tables, or that raise their own).
    assert!(conn.query_drop("SELECT nosuch FROM tokens").await.is_err());
    conn.query_drop("SELECT 1").await.unwrap();
    let listed = rows(&mut conn, "SHOW WARNINGS").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0][1].as_deref(), Some("1054"), "{listed:?}");
    conn.query_drop("SELECT n FROM tokens WHERE token = 'x'")
        .await
        .unwrap();
    assert!(rows(&mut conn, "SHOW WARNINGS").await.is_empty());
    drop(conn);
    env.stop().await;
}

/// String keys MariaDB calls equal (`'Café'` = `'cafe'` under `utf8mb4_general_ci`) live on
/// one shard: a read by any spelling finds them all, and joins, groups and window partitions
/// by the key meet every spelling (before, non-ASCII keys were placed by their bytes and such
/// reads silently missed rows on other shards). A key column of another collation
/// (`latin1_swedish_ci`, where `'ü'` = `'y'`) is read on every shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_keys_equal_under_their_collation_share_a_shard() {
    let (env, mut conn) = with_table(
        "name = \"words\"\nshard_key = \"w\"\nshard_key_type = \"string\"\n\
         [[tables]]\nname = \"uses\"\nshard_key = \"w\"\nshard_key_type = \"string\"\n\
         [[tables]]\nname = \"lwords\"\nshard_key = \"w\"\nshard_key_type = \"string\"\n\
         [[tables]]\nname = \"ghosts\"\nshard_key = \"g\"\nshard_key_type = \"string\"",
        "CREATE TABLE words (w VARCHAR(20) PRIMARY KEY, n INT)",
    )
    .await;
    conn.query_drop("CREATE TABLE uses (id INT PRIMARY KEY, w VARCHAR(20))")
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE lwords (w VARCHAR(20) CHARACTER SET latin1, n INT)")
        .await
        .unwrap();
    let spellings = [
        ("Café", "cafe"),
        ("Émile", "EMILE"),
        ("Zoë", "zoe"),
        ("Straße", "strase"),
        ("José", "jose "),
        ("Ünïcödé", "unicode"),
        ("Ångström", "angstrom"),
        ("Ñandú", "nandu"),
    ];
    for (n, (word, _)) in spellings.iter().enumerate() {
        let sql = format!("INSERT INTO words VALUES ('{word}', {n})");
        conn.query_drop(&sql).await.unwrap();
        // Each word used three times, spelled three ways.
        // Upper case letter by letter (`ß` has none: `SS` is another word to general_ci).
        let upper: String = word
            .chars()
            .map(|c| {
                let mut u = c.to_uppercase();
                match (u.next(), u.next()) {
                    (Some(one), None) => one,
                    _ => c,
                }
            })
            .collect();
        for (k, spelling) in [word.to_string(), upper, spellings[n].1.to_string()]
            .iter()
            .enumerate()
        {
            let sql = format!("INSERT INTO uses VALUES ({}, '{spelling}')", n * 10 + k);
            conn.query_drop(&sql).await.unwrap();
        }
    }
    for (word, plain) in spellings {
        for spelling in [word.to_string(), plain.to_string(), plain.to_uppercase()] {
            let sql = format!("SELECT COUNT(*) FROM words WHERE w = '{spelling}'");
            assert_eq!(count(&mut conn, &sql).await, 1, "{sql}");
            let sql = format!("SELECT COUNT(*) FROM uses WHERE w = '{spelling}'");
            assert_eq!(count(&mut conn, &sql).await, 3, "{sql}");
        }
    }
    // Prepared, the parameter places like a literal.
    for spelling in ["CAFE", "Ünïcödé", "angström "] {
        let n: Option<i64> = conn
            .exec_first("SELECT COUNT(*) FROM uses WHERE w = ?", (spelling,))
            .await
            .unwrap();
        assert_eq!(n, Some(3), "{spelling}");
    }
    let joined = "SELECT COUNT(*) FROM words x JOIN uses u ON u.w = x.w";
    assert_eq!(count(&mut conn, joined).await, 24, "{joined}");
    let groups = "SELECT COUNT(*) FROM (SELECT w, COUNT(*) c FROM uses GROUP BY w) g WHERE c = 3";
    assert_eq!(count(&mut conn, groups).await, 8, "{groups}");
    let partitions =
        "SELECT COUNT(*) FROM (SELECT COUNT(*) OVER (PARTITION BY w) c FROM uses) p WHERE c = 3";
    assert_eq!(count(&mut conn, partitions).await, 24, "{partitions}");
    let correlated =
        "SELECT COUNT(*) FROM words x WHERE (SELECT COUNT(*) FROM uses u WHERE u.w = x.w) = 3";
    assert_eq!(count(&mut conn, correlated).await, 8, "{correlated}");

    // latin1_swedish_ci calls 'ü' and 'y' equal; the fold does not: reads go everywhere.
    for (w, n) in [("ü", 1), ("y", 2), ("é", 3), ("e", 4), ("Y", 5)] {
        let sql = format!("INSERT INTO lwords VALUES ('{w}', {n})");
        conn.query_drop(&sql).await.unwrap();
    }
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM lwords WHERE w = 'y'").await,
        3
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM lwords WHERE w = 'É'").await,
        2
    );
    let grouped = "SELECT COUNT(*) FROM (SELECT w FROM lwords GROUP BY w) g";
    assert_eq!(count(&mut conn, grouped).await, 2, "{grouped}");
    // A configured table that does not exist is MariaDB's 1146, text or prepared.
    let (code, _, message) =
        server_error(conn.query_drop("SELECT * FROM ghosts WHERE g = 'x'").await);
    assert_eq!(code, 1146, "{message}");
    let (code, _, message) = server_error(
        conn.prep("SELECT * FROM ghosts WHERE g = ?")
            .await
            .map(drop),
    );
    assert_eq!(code, 1146, "{message}");
    drop(conn);
    env.stop().await;
}

/// A client whose character set is not UTF-8 sends a key's characters in other bytes: the
/// proxy reads them in the session's character set, so `'Caf\xE9'` from a latin1 client and
/// `'cafe'` from a UTF-8 one share a shard. Statements the proxy would rewrite from a text it
/// did not read as sent are refused (before: written back as U+FFFD), and keys in a character
/// set it cannot read place nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_keys_from_legacy_character_sets_place_by_their_characters() {
    let (env, mut utf8) = with_table(
        "name = \"words\"\nshard_key = \"w\"\nshard_key_type = \"string\"",
        "CREATE TABLE words (w VARCHAR(20) PRIMARY KEY, n INT)",
    )
    .await;
    let mut legacy = env.connect().await;
    legacy.query_drop("SET NAMES latin1").await.unwrap();
    let words = [
        ("Café", "CAFE"),
        ("Émile", "emile"),
        ("Zoë", "ZOE"),
        ("José", "jose"),
        ("Ñandú", "NANDU"),
        ("Ångström", "angstrom"),
        ("Ünïcödé", "UNICODE"),
        ("Noël", "noel"),
    ];
    let latin1 = |text: &str| -> Vec<u8> { text.chars().map(|c| c as u32 as u8).collect() };
    for (n, (word, _)) in words.iter().enumerate() {
        let mut sql = b"INSERT INTO words (w, n) VALUES ('".to_vec();
        sql.extend(latin1(word));
        sql.extend(format!("', {n})").bytes());
        match n % 2 {
            0 => legacy.query_drop(sql.as_slice()).await.unwrap(),
            _ => {
                let sql = format!("INSERT INTO words (w, n) VALUES ('{word}', {n})");
                utf8.query_drop(sql).await.unwrap();
            }
        }
    }
    for (n, (word, plain)) in words.iter().enumerate() {
        let n = n as i64;
        let sql = format!("SELECT n FROM words WHERE w = '{plain}'");
        assert_eq!(count(&mut utf8, &sql).await, n, "{sql}");
        let mut sql = b"SELECT n FROM words WHERE w = '".to_vec();
        sql.extend(latin1(&word.to_uppercase()));
        sql.push(b'\'');
        let found: Option<i64> = legacy.query_first(sql.as_slice()).await.unwrap();
        assert_eq!(found, Some(n), "{word} upper case, in latin1");
        // Prepared: a string parameter is latin1 text too.
        let param = mysql_async::Value::Bytes(latin1(word));
        let found: Option<i64> = legacy
            .exec_first("SELECT n FROM words WHERE w = ?", (param.clone(),))
            .await
            .unwrap();
        assert_eq!(found, Some(n), "{word} as a latin1 parameter");
        // Two keys: planned with the parameters written in (`_latin1 X'…'`).
        let found: Option<i64> = legacy
            .exec_first(
                "SELECT SUM(n) FROM words WHERE w IN (?, ?)",
                (param, mysql_async::Value::Bytes(latin1("Café"))),
            )
            .await
            .unwrap();
        // Café's `n` is 0.
        assert_eq!(found, Some(n), "{word} and Café");
    }
    // Statements the proxy writes texts from (an INSERT without a column list, one split by
    // shard, a scatter) run as their text with the literals written `_latin1 X'…'`: the row
    // holds the characters (before: U+FFFD in their place).
    let latin1_sql = |parts: &[&str]| -> Vec<u8> {
        parts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| match i % 2 {
                0 => p.as_bytes().to_vec(),
                _ => latin1(p),
            })
            .collect()
    };
    legacy
        .query_drop(latin1_sql(&[
            "INSERT INTO words VALUES ('",
            "Éclair",
            "', 99)",
        ]))
        .await
        .unwrap();
    let split = latin1_sql(&[
        "INSERT INTO words (w, n) VALUES ('",
        "Çà",
        "', 100), ('",
        "Ôte",
        "', 101), ('",
        "Île",
        "', 102), ('",
        "Ère",
        "', 103)",
    ]);
    legacy.query_drop(split).await.unwrap();
    for (word, n) in [
        ("eclair", 99),
        ("ca", 100),
        ("OTE", 101),
        ("ile", 102),
        ("ere", 103),
    ] {
        let sql = format!("SELECT n FROM words WHERE w = '{word}'");
        assert_eq!(count(&mut utf8, &sql).await, n, "{sql}");
    }
    let scatter = latin1_sql(&[
        "SELECT COUNT(*) FROM words WHERE w > '",
        "É",
        "' AND n >= 99 ORDER BY 1",
    ]);
    let found: Option<i64> = legacy.query_first(scatter).await.unwrap();
    assert_eq!(found, Some(4), "Éclair, Ôte, Île and Ère sort after É");
    // Under a collation other than latin1's default a literal is not `_latin1 X'…'`: refused.
    legacy
        .query_drop("SET NAMES latin1 COLLATE latin1_bin")
        .await
        .unwrap();
    let (code, _, message) = server_error(
        legacy
            .query_drop(latin1_sql(&[
                "INSERT INTO words VALUES ('",
                "Ñu",
                "', 104)",
            ]))
            .await,
    );
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("latin1"), "{message}");
    assert_eq!(
        count(&mut utf8, "SELECT COUNT(*) FROM words WHERE n = 104").await,
        0
    );
    legacy.query_drop("SET NAMES latin1").await.unwrap();
    // SQL-level PREPARE keeps its text as sent: bytes that read as UTF-8 are latin1 text
    // to the server (`'\xC3\xA9'` is two latin1 characters), others are refused, not replaced.
    let prepare = b"PREPARE s FROM 'SELECT HEX(''\xc3\xa9''), CHAR_LENGTH(''\xc3\xa9'')'";
    legacy.query_drop(&prepare[..]).await.unwrap();
    let prepared: Option<(String, i64)> = legacy.query_first("EXECUTE s").await.unwrap();
    assert_eq!(prepared, Some(("C3A9".to_owned(), 2)));
    let not_utf8 = b"PREPARE s FROM 'SELECT ''\xe9'''";
    let (code, _, message) = server_error(legacy.query_drop(&not_utf8[..]).await);
    assert_eq!(code, 1235, "{message}");
    // cp932 is a character set the proxy does not read: a key in it places nothing, so the
    // INSERT is refused rather than placed by other characters, and the read would go to
    // every shard in a text the proxy writes: refused too (before: sent as U+FFFD, no row).
    legacy.query_drop("SET NAMES cp932").await.unwrap();
    for sql in [
        &b"INSERT INTO words (w, n) VALUES ('\x95\x5c', 77)"[..],
        &b"SELECT n FROM words WHERE w = '\x95\x5c'"[..],
    ] {
        let (code, _, message) = server_error(legacy.query_drop(sql).await);
        assert_eq!(code, 1235, "{message}");
        assert!(message.contains("character set"), "{message}");
    }
    assert_eq!(
        count(&mut utf8, "SELECT COUNT(*) FROM words WHERE n = 77").await,
        0
    );
    assert_eq!(
        count(&mut legacy, "SELECT n FROM words WHERE w = 'NOEL'").await,
        7
    );
    drop((utf8, legacy));
    env.stop().await;
}

async fn affected(conn: &mut Conn, sql: &str) -> u64 {
    conn.query_iter(sql).await.unwrap().affected_rows()
}

/// Name, type, flags and length of each column: what a client sees of them.
fn column_summary(columns: &[mysql_async::Column]) -> Vec<(String, ColumnType, ColumnFlags, u32)> {
    columns
        .iter()
        .map(|c| {
            (
                c.name_str().into_owned(),
                c.column_type(),
                c.flags(),
                c.column_length(),
            )
        })
        .collect()
}
