//! Set operations whose branches run on different shards (`UNION [ALL]`, `INTERSECT [ALL]`,
//! `EXCEPT [ALL]`, nested and parenthesised, ORDER BY / LIMIT on the whole, branches on
//! reference and unsharded tables) answer what one MariaDB holding the same rows answers:
//! column definitions, rows, errors; text, prepared, inside a transaction; `SHOW SHARDGATE
//! ROUTE FOR` prints the operator tree; the rows a set operation holds are bounded by
//! `merge_max_rows` (1038).

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use shardgate_sandbox::{Sandbox, SandboxSpec, SAMPLE_SCHEMA};

const CONFIG: &str = "\n[[tables]]\nname = \"flags\"\nreference = true\n\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

/// The same schema and rows on both sides: users on every shard, names equal but for case,
/// NULLs, decimal amounts, a reference table and an unsharded one.
fn setup() -> Vec<String> {
    let mut sql: Vec<String> = SAMPLE_SCHEMA.iter().map(|s| s.to_string()).collect();
    sql.push("CREATE TABLE flags (flag TINYINT PRIMARY KEY, label VARCHAR(20) NOT NULL)".into());
    sql.push(
        "INSERT INTO flags VALUES (0, 'zero'), (1, 'one'), (2, 'a'), (3, NULL)"
            .replace("NULL", "'nil'"),
    );
    sql.push(
        "CREATE TABLE misc (n INT, s VARCHAR(10), d DOUBLE, f FLOAT, day DATE, at DATETIME(3))"
            .into(),
    );
    sql.push("INSERT INTO misc VALUES (1, 'a', 1.5, 1.1, '2020-01-02', '2020-01-02 03:04:05.120'), (2, 'A', NULL, NULL, NULL, NULL), (NULL, NULL, 2, 2.5, '2021-05-06', NULL), (7, 'b ', 7, 7, '2022-02-02', '2022-02-02 00:00:00.000')".into());
    let names = ["a", "A", "b", "B ", "c", "é", "E"];
    for id in 1..=40i64 {
        let name = names[(id as usize) % names.len()];
        let email = if id % 5 == 0 {
            "NULL".to_owned()
        } else {
            format!("'u{id}@x.test'")
        };
        sql.push(format!(
            "INSERT INTO users (id, email, name, created_at) VALUES ({id}, {email}, '{name}', '2024-01-{:02} 10:00:00')",
            id % 28 + 1
        ));
        for k in 0..(id % 3) {
            sql.push(format!(
                "INSERT INTO orders (id, user_id, amount, created_at) VALUES ({}, {id}, {}.{k}5, NULL)",
                id * 10 + k,
                id % 7
            ));
        }
    }
    sql
}

/// What a side answers: column definitions and rows (NULL as `None`), or the error code.
type Answer = Result<(Vec<String>, Vec<Vec<Option<String>>>), u16>;

fn column(c: &mysql_async::Column) -> String {
    format!(
        "{} {:?} len={} dec={} cs={} flags={:?}",
        c.name_str(),
        c.column_type(),
        c.column_length(),
        c.decimals(),
        c.character_set(),
        c.flags()
    )
}

fn cell(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(format!("{other:?}")),
    }
}

async fn answer(conn: &mut Conn, sql: &str, prepared: bool) -> Answer {
    if prepared {
        match conn.exec_iter(sql, ()).await {
            Ok(r) => collect(r).await,
            Err(e) => Err(server_error::<()>(Err(e)).0),
        }
    } else {
        match conn.query_iter(sql).await {
            Ok(r) => collect(r).await,
            Err(e) => Err(server_error::<()>(Err(e)).0),
        }
    }
}

async fn collect<P: mysql_async::prelude::Protocol>(
    mut result: mysql_async::QueryResult<'_, '_, P>,
) -> Answer {
    let columns = result
        .columns()
        .map(|c| c.iter().map(column).collect())
        .unwrap_or_default();
    let rows: Vec<mysql_async::Row> = match result.collect().await {
        Ok(rows) => rows,
        Err(e) => return Err(server_error::<()>(Err(e)).0),
    };
    let rows = rows
        .into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| cell(&r.as_ref(i).cloned().unwrap_or(Value::NULL)))
                .collect()
        })
        .collect();
    Ok((columns, rows))
}

/// Statements compared with one MariaDB; `true`: the ORDER BY makes the order total.
/// Where equal strings ('a', 'A') collapse into one row, which of them shows depends on the
/// order rows are read in, on one server as across shards: those are compared by collation.
const CASES: &[(&str, bool)] = &[
    ("SELECT name FROM users UNION SELECT label FROM flags", false),
    ("SELECT name FROM users UNION ALL SELECT label FROM flags", false),
    ("SELECT name FROM users UNION DISTINCT SELECT s FROM misc", false),
    ("SELECT id, name FROM users WHERE id < 10 UNION SELECT user_id, NULL FROM orders", false),
    ("SELECT email FROM users UNION SELECT NULL", false),
    ("SELECT name FROM users INTERSECT SELECT label FROM flags", false),
    ("SELECT name FROM users INTERSECT ALL SELECT s FROM misc", false),
    ("SELECT name FROM users EXCEPT SELECT s FROM misc", false),
    ("SELECT name FROM users EXCEPT ALL SELECT s FROM misc", false),
    ("SELECT user_id FROM orders EXCEPT SELECT id FROM users WHERE id > 20", false),
    // Widened types: INT ∪ DECIMAL, INT ∪ DOUBLE, FLOAT ∪ DOUBLE, DATE ∪ DATETIME(3), INT ∪ VARCHAR.
    ("SELECT id FROM users UNION SELECT amount FROM orders", false),
    ("SELECT id FROM users WHERE id < 5 UNION ALL SELECT d FROM misc", false),
    ("SELECT f FROM misc UNION ALL SELECT d FROM misc UNION ALL SELECT id FROM users WHERE id < 3", false),
    ("SELECT DATE(created_at) FROM users WHERE id < 4 UNION SELECT at FROM misc", false),
    ("SELECT id FROM users UNION SELECT s FROM misc", false),
    ("SELECT amount FROM orders UNION SELECT 1.5e0", false),
    // ORDER BY / LIMIT on the whole, by position and by the first branch's names and aliases.
    ("SELECT id, name FROM users UNION SELECT user_id, 'o' FROM orders ORDER BY 1 DESC, 2 LIMIT 7", true),
    ("SELECT id AS k FROM users UNION ALL SELECT n FROM misc ORDER BY k LIMIT 3, 10", true),
    ("SELECT name FROM users UNION SELECT label FROM flags ORDER BY name DESC LIMIT 4", false),
    ("SELECT id FROM users UNION ALL SELECT user_id FROM orders ORDER BY id LIMIT 5 OFFSET 30", true),
    // Precedence, nesting, parenthesised branches with their own ORDER BY / LIMIT.
    ("SELECT id FROM users UNION SELECT id FROM users INTERSECT SELECT user_id FROM orders", false),
    ("SELECT id FROM users EXCEPT SELECT user_id FROM orders UNION SELECT flag FROM flags", false),
    ("(SELECT id FROM users ORDER BY id DESC LIMIT 3) UNION ALL (SELECT user_id FROM orders ORDER BY user_id LIMIT 2)", false),
    ("((SELECT id FROM users WHERE id < 4) UNION (SELECT user_id FROM orders)) INTERSECT SELECT id FROM users WHERE id > 2", false),
    ("SELECT name FROM users WHERE id = 7 UNION SELECT name FROM users WHERE id = 8 UNION SELECT name FROM users WHERE id = 9", false),
    ("SELECT COUNT(*) FROM users UNION ALL SELECT COUNT(*) FROM orders", false),
    ("SELECT name, COUNT(*) FROM users GROUP BY name UNION ALL SELECT s, n FROM misc", false),
    // Errors are MariaDB's.
    ("SELECT id, name FROM users UNION SELECT user_id FROM orders", false),
    ("SELECT id FROM users UNION SELECT user_id FROM orders ORDER BY nope", false),
];

/// A cell as `utf8mb4_general_ci` sees it: case, the accent of é and trailing spaces ignored.
fn folded(cell: &Option<String>) -> Option<String> {
    cell.as_ref()
        .map(|s| s.to_lowercase().replace('é', "e").trim_end().to_owned())
}

fn sorted(rows: &[Vec<Option<String>>]) -> Vec<Vec<Option<String>>> {
    let mut rows: Vec<Vec<Option<String>>> = rows
        .iter()
        .map(|r| r.iter().map(folded).collect())
        .collect();
    rows.sort();
    rows
}

async fn compare(
    proxy: &mut Conn,
    plain: &mut Conn,
    sql: &str,
    ordered: bool,
    prepared: bool,
) -> Option<String> {
    let (p, m) = (
        answer(proxy, sql, prepared).await,
        answer(plain, sql, prepared).await,
    );
    let same = match (&p, &m) {
        (Ok((pc, pr)), Ok((mc, mr))) if ordered => pc == mc && pr == mr,
        (Ok((pc, pr)), Ok((mc, mr))) => pc == mc && sorted(pr) == sorted(mr),
        (Err(a), Err(b)) => a == b,
        _ => false,
    };
    (!same).then(|| format!("{sql} (prepared: {prepared})\n  proxy: {p:?}\n  maria: {m:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_operations_across_shards_answer_as_one_mariadb() {
    let (env, mut plain_sandbox) = tokio::join!(TestEnv::start_with(3, 0, CONFIG), async {
        Sandbox::start(SandboxSpec::new(1, 0))
            .await
            .expect("plain MariaDB starts")
    });
    let mut plain = Conn::new(plain_sandbox.shards()[0].primary.backend_opts())
        .await
        .unwrap();
    let mut proxy = env.connect().await;
    for sql in setup() {
        plain.query_drop(&sql).await.unwrap();
        proxy.query_drop(&sql).await.unwrap();
    }
    let mut differences = Vec::new();
    for (sql, ordered) in CASES {
        for prepared in [false, true] {
            differences.extend(compare(&mut proxy, &mut plain, sql, *ordered, prepared).await);
        }
    }
    assert!(
        differences.is_empty(),
        "{} differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // Prepared with parameters: each execution runs with its values written in.
    let sql = "SELECT id, name FROM users WHERE id < ? UNION SELECT user_id, 'o' FROM orders WHERE id > ? ORDER BY 1, 2";
    let params = (12i64, 300i64);
    let on_proxy: Vec<(i64, String)> = proxy.exec(sql, params).await.unwrap();
    let on_plain: Vec<(i64, String)> = plain.exec(sql, params).await.unwrap();
    assert_eq!(on_proxy, on_plain);
    assert!(!on_proxy.is_empty());
    // The branches' warnings are the statement's, as SHOW WARNINGS lists them.
    let sql = "SELECT name + 0 FROM users WHERE id < 4 UNION ALL SELECT label + 0 FROM flags";
    let mut warned = Vec::new();
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop(sql).await.unwrap();
        let count = conn.get_warnings();
        let mut shown: Vec<(String, u16, String)> = conn.query("SHOW WARNINGS").await.unwrap();
        shown.sort();
        warned.push((count, shown));
    }
    assert_eq!(warned[0], warned[1]);
    assert!(warned[0].0 > 0, "{warned:?}");
    // ENUM columns of the branches: the whole's column is ordered as MariaDB orders it.
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("ALTER TABLE users ADD COLUMN mood ENUM('sad', 'ok', 'happy')")
            .await
            .unwrap();
        conn.query_drop("UPDATE users SET mood = ELT(1 + id % 3, 'happy', 'sad', 'ok')")
            .await
            .unwrap();
    }
    let sql = "SELECT mood FROM users UNION SELECT mood FROM users WHERE id = 3 ORDER BY 1";
    differences.extend(compare(&mut proxy, &mut plain, sql, true, false).await);
    // Branch texts are rendered from the statement: text that is not UTF-8 is refused, not
    // changed.
    let (code, _, msg) = server_error(
        proxy
            .query_drop(
                &b"SELECT name FROM users WHERE name = 'caf\xE9' UNION SELECT label FROM flags"[..],
            )
            .await,
    );
    assert_eq!(code, 1235, "{msg}");
    assert!(msg.contains("UTF-8"), "{msg}");
    // A session's sql_select_limit limits the whole, not its branches.
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("SET sql_select_limit = 3").await.unwrap();
    }
    for sql in [
        "SELECT id FROM users WHERE id < 10 UNION SELECT flag FROM flags ORDER BY 1 DESC",
        "SELECT id FROM users WHERE id < 10 UNION ALL SELECT flag FROM flags ORDER BY 1 LIMIT 5",
        "(SELECT id FROM users ORDER BY id LIMIT 4) UNION ALL SELECT flag FROM flags ORDER BY 1",
    ] {
        differences.extend(compare(&mut proxy, &mut plain, sql, true, false).await);
    }
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("SET sql_select_limit = DEFAULT")
            .await
            .unwrap();
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // FOUND_ROWS() counts a set operation's rows before its LIMIT.
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("SELECT id FROM users UNION SELECT user_id FROM orders ORDER BY 1 LIMIT 3")
            .await
            .unwrap();
    }
    let found: Vec<u64> = proxy.query("SELECT FOUND_ROWS()").await.unwrap();
    assert_eq!(
        found,
        plain.query::<u64, _>("SELECT FOUND_ROWS()").await.unwrap()
    );

    // The plan is a tree of the branches' own plans.
    let mut ops = mysql_async::Conn::new(env.opts().user(Some("ops")).pass(Some("ops-secret")))
        .await
        .unwrap();
    let plan = rows(&mut ops, "SHOW SHARDGATE ROUTE FOR SELECT name FROM users UNION SELECT label FROM flags ORDER BY 1 LIMIT 2").await;
    // One row per operator; those sending a text name the shard: the metadata query, each
    // shard of the scatter, the reference table.
    let labels: Vec<&str> = plan
        .iter()
        .map(|r| r[0].as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        labels[..4],
        [
            "read → set operation across shards",
            "  Limit offset 0 count 2",
            "    Sort 1",
            "      Union(distinct)"
        ],
        "{plan:?}"
    );
    assert!(
        labels.contains(&"        scatter to [s0, s1, s2]"),
        "{plan:?}"
    );
    assert_eq!(
        plan.iter().filter(|r| r[1].is_some()).count(),
        5,
        "{plan:?}"
    );
    let metadata = plan.last().unwrap();
    assert!(
        metadata[2]
            .as_deref()
            .unwrap_or_default()
            .contains("WHERE 0"),
        "{plan:?}"
    );
    // Pinned to one shard: still sent there whole.
    let one = rows(&mut ops, "SHOW SHARDGATE ROUTE FOR SELECT name FROM users WHERE id = 1 UNION SELECT name FROM users WHERE id = 1").await;
    assert!(
        one[0][0]
            .as_deref()
            .unwrap_or_default()
            .starts_with("read → shard"),
        "{one:?}"
    );
    // Inside a transaction the branches read on its connections: its own uncommitted rows.
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("BEGIN").await.unwrap();
        conn.query_drop("INSERT INTO users (id, name) VALUES (1000, 'in txn')")
            .await
            .unwrap();
    }
    let sql = "SELECT name FROM users WHERE id > 999 UNION SELECT label FROM flags ORDER BY 1";
    let seen: Vec<String> = proxy.query(sql).await.unwrap();
    assert_eq!(seen, plain.query::<String, _>(sql).await.unwrap());
    assert!(seen.contains(&"in txn".to_owned()), "{seen:?}");
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("ROLLBACK").await.unwrap();
    }
    assert!(rows(
        &mut proxy,
        "SELECT id FROM users WHERE id > 999 UNION SELECT 1 FROM flags WHERE flag < 0"
    )
    .await
    .is_empty());
    drop((proxy, ops, plain));
    plain_sandbox.stop().await;
    bounded(&env).await;
    env.stop().await;
}

/// With `merge_max_rows = 30`, a set operation holding more rows fails with 1038.
async fn bounded(env: &TestEnv) {
    let config = std::fs::read_to_string(&env.config_path)
        .unwrap()
        .replace("[server]\n", "[server]\nmerge_max_rows = 30\n");
    let topology = shardgate_config::parse(&config, "bounded.toml").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(shardgate_server::serve(
        listener,
        shardgate_server::Proxy::new(topology),
        std::future::pending(),
    ));
    let mut conn = Conn::new(env.opts().tcp_port(port)).await.unwrap();
    // Each time answered right after: the branches cut short by the bound did not leave
    // answers unread on pooled connections for the next statement to read.
    for _ in 0..10 {
        let (code, state, msg) = server_error(
            conn.query_drop("SELECT id FROM users UNION SELECT user_id FROM orders")
                .await,
        );
        assert_eq!((code, state.as_str()), (1038, "HY001"), "{msg}");
        let small = rows(
            &mut conn,
            "SELECT id FROM users WHERE id < 4 UNION SELECT flag FROM flags ORDER BY 1",
        )
        .await;
        assert_eq!(small.len(), 4, "{small:?}");
    }
}
