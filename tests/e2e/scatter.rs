//! Statements spanning shards: multi-row INSERTs split by shard (all or nothing).

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_row_inserts_split_by_shard_all_or_nothing() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    // Values with quotes and backslashes must arrive exactly as written.
    let values: Vec<String> = (1..=100)
        .map(|id| format!(r"({id}, 'u{id}@x', 'it''s a \\ back\\slash {id}')"))
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 100);
    let mut per_shard = [0usize; 2];
    for (shard, count) in per_shard.iter_mut().enumerate() {
        let mut direct = env.connect_primary(shard).await;
        let got: Vec<(i64, String)> = direct.query("SELECT id, name FROM users").await.unwrap();
        for (id, name) in got {
            assert_eq!(env.shard_of("users", i128::from(id)), shard, "user {id}");
            assert_eq!(name, format!(r"it's a \ back\slash {id}"));
            *count += 1;
        }
    }
    assert_eq!(per_shard.iter().sum::<usize>(), 100);
    assert!(per_shard.iter().all(|n| *n > 0), "{per_shard:?}");

    // One shard's part fails (duplicate key): no shard keeps any row of the statement.
    let a = (101..200)
        .find(|id| env.shard_of("users", *id) == 0)
        .unwrap();
    let b = (101..200)
        .find(|id| env.shard_of("users", *id) == 1)
        .unwrap();
    let dup = (1..=100)
        .find(|id| env.shard_of("users", *id) == 1)
        .unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({a}, 'a'), ({b}, 'b'), ({dup}, 'dup')"
        ))
        .await,
    );
    // The statement failed as on one server, with that server's error: nothing names a shard.
    assert_eq!(code, 1062, "{msg}");
    assert_eq!(msg, format!("Duplicate entry '{dup}' for key 'PRIMARY'"));
    let warnings: Vec<(String, u16, String)> = conn.query("SHOW WARNINGS").await.unwrap();
    assert_eq!(warnings, [("Error".to_owned(), 1062, msg.clone())]);
    for id in [a, b] {
        assert!(
            rows(&mut conn, &format!("SELECT * FROM users WHERE id = {id}"))
                .await
                .is_empty(),
            "{id} rolled back"
        );
    }

    // Inside a transaction the rows could not be rolled back with it: refused.
    conn.query_drop("BEGIN").await.unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop(format!(
            "INSERT INTO users (id, email) VALUES ({a}, 'a'), ({b}, 'b')"
        ))
        .await,
    );
    assert_eq!(code, 1235, "{msg}");
    conn.query_drop("ROLLBACK").await.unwrap();
    drop(conn);
    env.stop().await;
}

/// Users 1..=n with deterministic columns, inserted through the proxy (split by shard).
async fn load_users(conn: &mut mysql_async::Conn, n: i64) {
    let values: Vec<String> = (1..=n)
        .map(|id| {
            let name = if id % 7 == 0 {
                "NULL".to_owned()
            } else {
                format!("'Name{}'", id % 13)
            };
            format!("({id}, 'user{id}@example.com', {name}, '2024-01-01' + INTERVAL {id} HOUR)")
        })
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name, created_at) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_without_a_shard_key_are_scattered_and_merged() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    load_users(&mut conn, 300).await;

    // The seeds' classic: find a user by email when users are sharded by id.
    let found = rows(
        &mut conn,
        "SELECT id, name FROM users WHERE email = 'user43@example.com'",
    )
    .await;
    assert_eq!(found, vec![vec![Some("43".into()), Some("Name4".into())]]);

    // ORDER BY + LIMIT/OFFSET across shards.
    let page = rows(
        &mut conn,
        "SELECT id FROM users ORDER BY id DESC LIMIT 5, 3",
    )
    .await;
    assert_eq!(
        page,
        vec![
            vec![Some("295".into())],
            vec![Some("294".into())],
            vec![Some("293".into())]
        ]
    );

    // Aggregates over every shard.
    let totals = rows(
        &mut conn,
        "SELECT COUNT(*), COUNT(name), MIN(id), MAX(id), SUM(id), AVG(id) FROM users",
    )
    .await;
    assert_eq!(
        totals,
        vec![vec![
            Some("300".into()),
            Some((300 - 300 / 7).to_string()),
            Some("1".into()),
            Some("300".into()),
            Some("45150".into()),
            Some("150.5000".into()),
        ]]
    );
    // GROUP BY with HAVING and ORDER BY on an aggregate, checked against the shards' own counts.
    let groups = rows(
        &mut conn,
        "SELECT name, COUNT(*) AS n FROM users GROUP BY name HAVING n > 19 ORDER BY n DESC, name LIMIT 3",
    )
    .await;
    let mut direct_counts = std::collections::HashMap::<Option<String>, u64>::new();
    for shard in 0..3 {
        let mut direct = env.connect_primary(shard).await;
        let part: Vec<(Option<String>, u64)> = direct
            .query("SELECT name, COUNT(*) FROM users GROUP BY name")
            .await
            .unwrap();
        for (name, n) in part {
            *direct_counts.entry(name).or_default() += n;
        }
    }
    let mut expected: Vec<(Option<String>, u64)> = direct_counts
        .iter()
        .filter(|(_, n)| **n > 19)
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    // ORDER BY n DESC, name (NULL first): MariaDB's order.
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    expected.truncate(3);
    let expected: Vec<Vec<Option<String>>> = expected
        .into_iter()
        .map(|(name, n)| vec![name, Some(n.to_string())])
        .collect();
    assert!(
        expected.len() >= 2,
        "the data has several large groups: {direct_counts:?}"
    );
    assert_eq!(groups, expected);
    // UPDATE / DELETE without a shard key reach every shard; affected rows are summed.
    conn.query_drop("UPDATE users SET name = 'renamed' WHERE name = 'Name1'")
        .await
        .unwrap();
    let renamed = direct_counts[&Some("Name1".to_owned())];
    assert_eq!(conn.affected_rows(), renamed);
    conn.query_drop("DELETE FROM users WHERE id > 290")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 10);
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM users").await,
        vec![vec![Some("290".into())]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_shard_fails_the_whole_statement_naming_it() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    load_users(&mut conn, 50).await;
    let victim = env.sandbox.shards()[1].primary.clone();
    env.sandbox.kill(&victim).await.unwrap();
    let (code, _, msg) = server_error(
        conn.query_drop("SELECT id, email FROM users ORDER BY email")
            .await,
    );
    assert!(msg.contains("shard s1"), "{code}: {msg}");
    let (_, _, msg) = server_error(conn.query_drop("SELECT COUNT(*) FROM users").await);
    assert!(msg.contains("shard s1"), "{msg}");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_that_hold_rows_stop_at_the_memory_bound() {
    let env = TestEnv::start_with(2, 0, "").await;
    // The bound applies to the sort after grouping: 13 groups need more than 5 rows.
    let config = std::fs::read_to_string(&env.config_path)
        .unwrap()
        .replace("[server]\n", "[server]\nmerge_max_rows = 5\n");
    let topology = shardgate_config::parse(&config, "bounded.toml").unwrap();
    assert_eq!(topology.server.merge_max_rows, 5);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(shardgate_server::serve(
        listener,
        shardgate_server::Proxy::new(topology),
        std::future::pending(),
    ));
    let mut conn = mysql_async::Conn::new(env.opts().tcp_port(port))
        .await
        .unwrap();
    load_users(&mut conn, 100).await;
    let (code, state, msg) = server_error(
        conn.query_drop("SELECT name, COUNT(*) AS n FROM users GROUP BY name ORDER BY n DESC")
            .await,
    );
    assert_eq!((code, state.as_str()), (1038, "HY001"), "{msg}");
    // Streaming merges hold no rows and are not limited.
    assert_eq!(
        rows(&mut conn, "SELECT id FROM users ORDER BY id LIMIT 1").await,
        vec![vec![Some("1".into())]]
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_tables_are_copied_to_every_shard_and_join_locally() {
    let env = TestEnv::start_with(
        2,
        0,
        "\n[[tables]]\nname = \"countries\"\nreference = true\n",
    )
    .await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name VARCHAR(64))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO countries VALUES ('DE', 'Germany'), ('KR', 'Korea')")
        .await
        .unwrap();
    assert_eq!(
        conn.affected_rows(),
        2,
        "one copy's rows, as one server answers"
    );
    conn.query_drop("UPDATE countries SET name = 'South Korea' WHERE code = 'KR'")
        .await
        .unwrap();
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        let got: Vec<(String, String)> = direct
            .query("SELECT code, name FROM countries ORDER BY code")
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![
                ("DE".into(), "Germany".into()),
                ("KR".into(), "South Korea".into())
            ],
            "shard {shard}"
        );
    }
    conn.query_drop("ALTER TABLE users ADD COLUMN country CHAR(2)")
        .await
        .unwrap();
    for id in 1..=20 {
        let country = if id % 2 == 0 { "DE" } else { "KR" };
        conn.query_drop(format!(
            "INSERT INTO users (id, email, country) VALUES ({id}, 'e{id}', '{country}')"
        ))
        .await
        .unwrap();
    }
    // A join with a reference table runs on the sharded row's shard.
    for id in 1..=20 {
        let got = rows(
            &mut conn,
            &format!("SELECT c.name FROM users u JOIN countries c ON c.code = u.country WHERE u.id = {id}"),
        )
        .await;
        let want = if id % 2 == 0 {
            "Germany"
        } else {
            "South Korea"
        };
        assert_eq!(got, vec![vec![Some(want.into())]], "user {id}");
    }
    // Filling a reference table from a sharded one reads every shard's rows, then writes them
    // to every copy; a duplicate key fails it on every copy.
    conn.query_drop(
        "INSERT INTO countries SELECT CONCAT('X', id % 10), MIN(email) FROM users GROUP BY id % 10",
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 10, "one copy's rows");
    let (code, _, msg) = server_error(
        conn.query_drop("INSERT INTO countries SELECT country, email FROM users")
            .await,
    );
    assert_eq!(code, 1062, "{msg}");
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        let got: Vec<String> = direct
            .query("SELECT code FROM countries WHERE code LIKE 'X%' ORDER BY code")
            .await
            .unwrap();
        let want: Vec<String> = (0..10).map(|d| format!("X{d}")).collect();
        assert_eq!(got, want, "shard {shard}");
    }
    drop(conn);
    env.stop().await;
}

/// Shard keys written as MariaDB also reads them — hexadecimal, with a character set
/// introducer, national, with `COLLATE` — place rows where the plain literal does, for an
/// integer key and a string key, in single- and multi-row INSERTs and in the reads that find
/// them again.
/// A sandbox of 3 shards with `tokens (token <key_type> PRIMARY KEY, n INT)`, sharded by its
/// string key `token`, and a connection to the proxy.
async fn with_tokens(key_type: &str) -> (TestEnv, mysql_async::Conn) {
    let tokens =
        "\n[[tables]]\nname = \"tokens\"\nshard_key = \"token\"\nshard_key_type = \"string\"\n";
    let env = TestEnv::start_with(3, 0, tokens).await;
    let mut conn = env.connect().await;
    conn.query_drop(format!(
        "CREATE TABLE tokens (token {key_type} PRIMARY KEY, n INT)"
    ))
    .await
    .unwrap();
    (env, conn)
}

/// User `id` is on the primary of the shard its key places it on.
async fn assert_user_on_its_shard(env: &TestEnv, id: i64) {
    let mut direct = env
        .connect_primary(env.shard_of("users", i128::from(id)))
        .await;
    let found: Vec<i64> = direct
        .query(format!("SELECT id FROM users WHERE id = {id}"))
        .await
        .unwrap();
    assert_eq!(found, [id], "user {id} on its shard");
}

/// Keys computed from constants (`UUID()`, `300 - 4`, `@id`, `CONCAT(…)`) are computed first
/// through the proxy and written in: each row lands on its value's shard, a multi-row INSERT
/// splits, the variables read are the session's, and a key that reads the row stays refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_keys_computed_from_constants_place_rows_by_their_value() {
    let (env, mut conn) = with_tokens("CHAR(36)").await;
    conn.query_drop("SET @id = 40, @n = 7").await.unwrap();
    conn.query_drop(
        "INSERT INTO users (id, email) VALUES (300 - 4, 'a'), (@id + 1, 'b'), (CAST('77' AS SIGNED), 'c'), (5, 'd')",
    )
    .await
    .unwrap();
    for id in [296, 41, 77, 5] {
        assert_user_on_its_shard(&env, id).await;
    }
    for n in 0..6 {
        conn.query_drop(format!("INSERT INTO tokens VALUES (UUID(), {n})"))
            .await
            .unwrap();
    }
    conn.query_drop("INSERT INTO tokens VALUES (CONCAT('k', LPAD(@n, 3, '0')), 100)")
        .await
        .unwrap();
    let all = rows(&mut conn, "SELECT token, n FROM tokens ORDER BY n").await;
    assert_eq!(all.len(), 7, "{all:?}");
    assert_eq!(all[6][0].as_deref(), Some("k007"));
    for row in &all {
        let token = row[0].clone().unwrap();
        let rule = env.topology.table("tokens").unwrap();
        let shard = rule
            .shard_for(&shardgate_ring::KeyValue::Str(token.as_bytes()))
            .unwrap();
        let mut direct = env.connect_primary(shard).await;
        let found: Vec<i64> = direct
            .query(format!("SELECT n FROM tokens WHERE token = '{token}'"))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "token {token} on its shard");
    }
    // A literal that is no key stays refused (its value would be the same literal again).
    let (code, _, msg) = server_error(
        conn.query_drop("INSERT IGNORE INTO orders (id, user_id) VALUE (1000281, -99.500)")
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    // A key that reads the row is MariaDB's to compute: refused, naming it.
    let (code, _, msg) = server_error(
        conn.query_drop("INSERT INTO users (email, id) VALUES ('x', LENGTH(email))")
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    assert!(msg.contains("LENGTH(email)"), "{msg}");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_keys_in_every_literal_form_place_rows_like_plain_literals() {
    let (env, mut conn) = with_tokens("VARCHAR(20)").await;
    // users.id: 0x07 is 7, X'38' the string '8', _binary'9' and N'10' strings too.
    conn.query_drop(
        "INSERT INTO users (id, email) VALUES (0x07, 'h'), (X'38', 'e'), (_binary'9', 'b'), (N'10', 'n'), ('11' COLLATE utf8mb4_bin, 'c')",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO users (id, email) VALUES (_utf8mb4 X'3132', 'i')")
        .await
        .unwrap();
    for id in 7..=12 {
        assert_user_on_its_shard(&env, id).await;
    }
    // tokens.token: X'6B35' and 0x6B36 are 'k5' and 'k6', as written in a string column.
    conn.query_drop(
        "INSERT INTO tokens VALUES (X'6B35', 5), (0x6B36, 6), (_utf8mb4'k7', 7), (N'k8', 8), (_latin1'k9', 9), ('k10' COLLATE utf8mb4_bin, 10)",
    )
    .await
    .unwrap();
    let placed = |n: i64| {
        let key = format!("k{n}");
        let rule = env.topology.table("tokens").unwrap();
        rule.shard_for(&shardgate_ring::KeyValue::Str(key.as_bytes()))
            .unwrap()
    };
    for n in 5..=10 {
        let mut direct = env.connect_primary(placed(n)).await;
        let found: Vec<i64> = direct
            .query(format!("SELECT n FROM tokens WHERE token = 'k{n}'"))
            .await
            .unwrap();
        assert_eq!(found, [n], "token k{n} on its shard");
    }
    // Reads by the same forms find them (each pinned to the row's shard).
    assert_eq!(
        rows(&mut conn, "SELECT n FROM tokens WHERE token = X'6B35'").await,
        [[Some("5".to_owned())]]
    );
    assert_eq!(
        rows(
            &mut conn,
            "SELECT n FROM tokens WHERE token IN (0x6B36, N'k8') ORDER BY n"
        )
        .await,
        [[Some("6".to_owned())], [Some("8".to_owned())]]
    );
    // A hexadecimal string that is not an integer is no integer key: refused, naming it.
    let (code, _, msg) = server_error(
        conn.query_drop("INSERT INTO users (id, email) VALUES (X'65', 'x')")
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    assert!(msg.contains("not `X'65'`"), "{msg}");
    drop(conn);
    env.stop().await;
}
