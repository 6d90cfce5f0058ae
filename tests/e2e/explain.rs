//! `EXPLAIN` of a statement the proxy runs on several shards answers with the proxy's plan
//! tree (one row per operator: `plan`, `shard`, the `sql` sent there), the rows `SHOW
//! SHARDGATE ROUTE FOR` gives; `EXPLAIN` of a single-shard statement is MariaDB's own, from
//! that shard. Explaining runs nothing.

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// The column names and rows of a statement's result.
async fn answer(conn: &mut Conn, sql: &str) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let result = conn
        .query_iter(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let names = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    result.drop_result().await.expect("drain");
    (names, rows(conn, sql).await)
}

fn cell(row: &[Option<String>], i: usize) -> &str {
    row[i].as_deref().unwrap_or("NULL")
}

/// Two user ids from `a` on different shards.
fn ids_on_two_shards(env: &TestEnv, a: i128) -> (i128, i128) {
    let b = (a + 1..a + 100)
        .find(|b| env.shard_of("users", *b) != env.shard_of("users", a))
        .expect("ids on two shards");
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_a_scatter_prints_the_proxy_s_plan() {
    let admin = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";
    let env = TestEnv::start_with(2, 0, admin).await;
    let mut conn = env.connect().await;
    let (columns, plan) = answer(
        &mut conn,
        "EXPLAIN SELECT name FROM users ORDER BY name LIMIT 5",
    )
    .await;
    assert_eq!(columns, ["plan", "shard", "sql"]);
    assert_eq!(cell(&plan[0], 0), "read → scatter to [s0, s1]", "{plan:?}");
    assert!(
        cell(&plan[1], 0).starts_with("  Limit offset 0 count 5"),
        "{plan:?}"
    );
    assert!(
        cell(&plan[2], 0).starts_with("    MergeSort #0"),
        "{plan:?}"
    );
    let routes: Vec<(&str, &str)> = plan[3..].iter().map(|r| (cell(r, 1), cell(r, 2))).collect();
    assert_eq!(
        routes,
        [
            ("s0", "SELECT name FROM users ORDER BY 1 LIMIT 5"),
            ("s1", "SELECT name FROM users ORDER BY 1 LIMIT 5")
        ],
        "{plan:?}"
    );
    assert!(cell(&plan[3], 0).starts_with("      Route s0"), "{plan:?}");
    // The same rows as SHOW SHARDGATE ROUTE FOR (one printer).
    let opts = env.opts().user(Some("ops")).pass(Some("ops-secret"));
    let mut admin = Conn::new(mysql_async::Opts::from(opts)).await.unwrap();
    let route = rows(
        &mut admin,
        "SHOW SHARDGATE ROUTE FOR SELECT name FROM users ORDER BY name LIMIT 5",
    )
    .await;
    assert_eq!(route, plan);
    // Not EXPLAIN FORMAT=JSON or ANALYZE of it: those would describe one shard's part, or run it.
    for sql in [
        "EXPLAIN FORMAT=JSON SELECT name FROM users",
        "ANALYZE SELECT name FROM users",
    ] {
        let (code, state, message) = server_error(conn.query_drop(sql).await);
        assert_eq!((code, state.as_str()), (1235, "42000"), "{sql}: {message}");
        assert!(message.contains("several shards"), "{message}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_a_set_operation_prints_its_branches() {
    let env = TestEnv::start(2, 0).await;
    let (a, b) = ids_on_two_shards(&env, 1);
    let mut conn = env.connect().await;
    let sql = format!(
        "EXPLAIN SELECT name FROM users WHERE id = {a} UNION SELECT name FROM users WHERE id = {b}"
    );
    let plan = rows(&mut conn, &sql).await;
    let labels: Vec<&str> = plan.iter().map(|r| cell(r, 0)).collect();
    let shard = |id| env.topology.shards[env.shard_of("users", id)].name.clone();
    assert_eq!(
        labels,
        [
            "read → set operation across shards".to_owned(),
            "  Union(distinct)".to_owned(),
            format!("    shard {}", shard(a)),
            format!("    shard {}", shard(b)),
            "  Columns from s0".to_owned(),
        ],
        "{plan:?}"
    );
    assert_eq!(
        cell(&plan[2], 2),
        format!("SELECT name FROM users WHERE id = {a}")
    );
    assert!(cell(&plan[4], 2).contains("WHERE 0"), "{plan:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_writes_on_several_shards_runs_nothing() {
    let env = TestEnv::start(2, 0).await;
    let (a, b) = ids_on_two_shards(&env, 1);
    let mut conn = env.connect().await;
    conn.query_drop(format!(
        "INSERT INTO users (id, name) VALUES ({a}, 'q'), ({b}, 'q')"
    ))
    .await
    .unwrap();

    // A split INSERT: each shard's part.
    let (c, d) = ids_on_two_shards(&env, 1000);
    let insert = format!("INSERT INTO users (id, name) VALUES ({c}, 'x'), ({d}, 'y')");
    let plan = rows(&mut conn, &format!("EXPLAIN {insert}")).await;
    assert!(
        cell(&plan[0], 0).starts_with("write → split across shards ["),
        "{plan:?}"
    );
    let parts: Vec<&str> = plan[1..].iter().map(|r| cell(r, 2)).collect();
    assert_eq!(parts.len(), 2, "{plan:?}");
    assert!(
        parts
            .iter()
            .all(|p| p.starts_with("INSERT INTO users (id, name) VALUES (")),
        "{plan:?}"
    );

    // A broadcast UPDATE: the statement as written on every shard.
    let update = "UPDATE users SET name = 'z' WHERE name = 'q'";
    let plan = rows(&mut conn, &format!("EXPLAIN {update}")).await;
    assert_eq!(
        cell(&plan[0], 0),
        "write → every shard of [s0, s1], all or nothing",
        "{plan:?}"
    );
    let routes: Vec<(&str, &str, &str)> = plan[1..]
        .iter()
        .map(|r| (cell(r, 0), cell(r, 1), cell(r, 2)))
        .collect();
    assert_eq!(
        routes,
        [("  Route s0", "s0", update), ("  Route s1", "s1", update)]
    );

    // Nothing ran.
    let names = rows(&mut conn, "SELECT name FROM users ORDER BY id").await;
    assert_eq!(names, [[Some("q".to_owned())], [Some("q".to_owned())]]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_a_single_shard_statement_is_mariadb_s() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    for sql in [
        "EXPLAIN SELECT * FROM users WHERE id = 7",
        "DESCRIBE SELECT * FROM users WHERE id = 7",
        "EXPLAIN UPDATE users SET name = 'x' WHERE id = 7",
    ] {
        let (columns, _) = answer(&mut conn, sql).await;
        assert_eq!(
            columns,
            [
                "id",
                "select_type",
                "table",
                "type",
                "possible_keys",
                "key",
                "key_len",
                "ref",
                "rows",
                "Extra"
            ],
            "{sql}"
        );
    }
    let (columns, rows) = answer(
        &mut conn,
        "EXPLAIN FORMAT=JSON SELECT * FROM users WHERE id = 7",
    )
    .await;
    assert_eq!(columns, ["EXPLAIN"]);
    assert!(cell(&rows[0], 0).contains("\"query_block\""), "{rows:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_a_scatter_answered_from_copies_prints_the_copies() {
    let admin = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";
    let env = TestEnv::start_with(2, 0, admin).await;
    let mut conn = env.connect().await;
    conn.query_drop(
        "ALTER TABLE users ADD COLUMN nick VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci NULL",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO users (id, nick) VALUES (1, 'b'), (2, 'A'), (3, 'a'), (4, 'ä')")
        .await
        .unwrap();
    // The merge does not order by utf8mb4_unicode_520_ci (UCA 5.2.0): the statement runs from copies, and its
    // EXPLAIN says so (it showed the scatter it tried first).
    let (_, plan) = answer(
        &mut conn,
        "EXPLAIN SELECT nick FROM users ORDER BY nick, id",
    )
    .await;
    assert!(
        cell(&plan[0], 0).starts_with("read → materialize: the statement runs on s0"),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|r| cell(r, 0).contains("Copy `users` into a temporary table")),
        "{plan:?}"
    );
    // SHOW SHARDGATE ROUTE FOR prints the same plan.
    let opts = env.opts().user(Some("ops")).pass(Some("ops-secret"));
    let mut admin = Conn::new(mysql_async::Opts::from(opts)).await.unwrap();
    let route = rows(
        &mut admin,
        "SHOW SHARDGATE ROUTE FOR SELECT nick FROM users ORDER BY nick, id",
    )
    .await;
    assert_eq!(route, plan);
    assert_eq!(
        rows(&mut conn, "SELECT nick FROM users ORDER BY nick, id").await,
        [["A"], ["a"], ["ä"], ["b"]].map(|[n]| vec![Some(n.to_owned())])
    );
    // Ordered by a column the merge compares: the scatter, as before.
    let (_, plan) = answer(&mut conn, "EXPLAIN SELECT nick FROM users ORDER BY id").await;
    assert_eq!(cell(&plan[0], 0), "read → scatter to [s0, s1]", "{plan:?}");
    // utf8mb4_unicode_ci (UCA 4.0.0) the merge compares itself: a scatter, merged.
    conn.query_drop("ALTER TABLE users MODIFY nick VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL")
        .await
        .unwrap();
    let (_, plan) = answer(
        &mut conn,
        "EXPLAIN SELECT nick FROM users ORDER BY nick, id",
    )
    .await;
    assert_eq!(cell(&plan[0], 0), "read → scatter to [s0, s1]", "{plan:?}");
    conn.query_drop("INSERT INTO users (id, nick) VALUES (5, 'ss'), (6, 'ß'), (7, '_')")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT nick FROM users ORDER BY nick, id").await,
        [["_"], ["A"], ["a"], ["ä"], ["b"], ["ss"], ["ß"]].map(|[n]| vec![Some(n.to_owned())])
    );
    // latin1_swedish_ci, read from UTF-8 results: merged too (Å after Z, é = E); under binary
    // results a latin1 column sends latin1 bytes: from copies.
    conn.query_drop("ALTER TABLE users ADD COLUMN l1 VARCHAR(20) CHARACTER SET latin1 NULL")
        .await
        .unwrap();
    conn.query_drop(
        "INSERT INTO users (id, l1) VALUES (8, 'Å'), (9, 'Z'), (10, 'e'), (11, 'É'), (12, 'a')",
    )
    .await
    .unwrap();
    let latin1_order = "SELECT l1 FROM users WHERE l1 IS NOT NULL ORDER BY l1, id";
    let (_, plan) = answer(&mut conn, &format!("EXPLAIN {latin1_order}")).await;
    assert_eq!(cell(&plan[0], 0), "read → scatter to [s0, s1]", "{plan:?}");
    assert_eq!(
        rows(&mut conn, latin1_order).await,
        [["a"], ["e"], ["É"], ["Z"], ["Å"]].map(|[n]| vec![Some(n.to_owned())])
    );
    conn.query_drop("SET NAMES binary").await.unwrap();
    let (_, plan) = answer(&mut conn, &format!("EXPLAIN {latin1_order}")).await;
    assert!(
        cell(&plan[0], 0).starts_with("read → materialize"),
        "{plan:?}"
    );
    conn.query_drop("SET NAMES utf8mb4").await.unwrap();
    // A session setting the merge would not honour: copies too, without asking a shard.
    conn.query_drop("SET div_precision_increment = 6")
        .await
        .unwrap();
    let (_, plan) = answer(&mut conn, "EXPLAIN SELECT AVG(id) FROM users").await;
    assert!(
        cell(&plan[0], 0).starts_with("read → materialize"),
        "{plan:?}"
    );
    env.stop().await;
}
