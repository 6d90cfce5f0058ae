//! SELECTs no shard answers alone and no merge handles — derived tables and CTEs over
//! scatters, joins across shards (inner and outer, any columns), uncorrelated IN / NOT IN /
//! EXISTS / scalar subqueries, window functions, WITH ROLLUP, JSON_ARRAYAGG / JSON_OBJECTAGG —
//! answered from copies of their sharded tables on one compute connection, as one MariaDB
//! holding the same rows answers them: column definitions, rows, values bit for bit (DOUBLE,
//! FLOAT, DECIMAL, temporal, BLOB, BIT, JSON, geometry, invisible and generated columns),
//! collations; prepared; inside a transaction with its own writes; bounded by `merge_max_rows` (1038);
//! a unique key duplicated across shards is an error naming the table (1062); the compute
//! connection comes back clean after success, errors and a client that went away.

use std::time::{Duration, Instant};

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use shardgate_sandbox::{Sandbox, SandboxSpec, SAMPLE_SCHEMA};

const CONFIG: &str = "\n[[tables]]\nname = \"flags\"\nreference = true\n\n[[tables]]\nname = \"kinds\"\nshard_key = \"id\"\n\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

/// A sharded table with a column of every kind whose values must arrive bit for bit.
const KINDS: &str = "CREATE TABLE kinds (id BIGINT PRIMARY KEY, d DOUBLE, f FLOAT, \
    amount DECIMAL(30,10), dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, day DATE, \
    t TIME(3), yr YEAR, b BLOB, bits BIT(10), j JSON, \
    s VARCHAR(20) COLLATE utf8mb4_general_ci, l VARCHAR(20) CHARACTER SET latin1, \
    e ENUM('x','y','z'), st SET('a','b','c'), g POINT NULL, \
    twice BIGINT AS (id * 2) VIRTUAL, secret INT INVISIBLE, u VARCHAR(20) UNIQUE)";

/// The same schema and rows on both sides.
fn setup() -> Vec<String> {
    let mut sql: Vec<String> = SAMPLE_SCHEMA.iter().map(|s| s.to_string()).collect();
    sql.push("CREATE TABLE flags (flag TINYINT PRIMARY KEY, label VARCHAR(20) NOT NULL)".into());
    sql.push("INSERT INTO flags VALUES (0, 'zero'), (1, 'one'), (2, 'a'), (3, 'A')".into());
    sql.push(KINDS.into());
    let names = ["a", "A", "b", "B ", "c", "é", "E"];
    for id in 1..=40i64 {
        let name = names[(id as usize) % names.len()];
        let email = match id % 5 {
            0 => "NULL".to_owned(),
            _ => format!("'u{id}@x.test'"),
        };
        sql.push(format!(
            "INSERT INTO users (id, email, name, created_at) VALUES ({id}, {email}, '{name}', '2024-01-{:02} 10:00:00')",
            id % 28 + 1
        ));
        for k in 0..(id % 3) {
            let amount = match (id + k) % 6 {
                0 => "NULL".to_owned(),
                n => format!("{}.{k}5", n + id % 4),
            };
            sql.push(format!(
                "INSERT INTO orders (id, user_id, amount, created_at) VALUES ({}, {id}, {amount}, NULL)",
                id * 10 + k,
            ));
        }
    }
    let doubles = [
        "0.1e0 + 0.2e0",
        "1 / 3e0",
        "1e300 / 7",
        "4.9e-324",
        "-0e0",
        "2.2250738585072014e-308 / 7",
        "1.7976931348623157e308",
        "NULL",
    ];
    let floats = [
        "3.14159",
        "16777217",
        "1.17549435e-38 / 3",
        "1.1",
        "NULL",
        "-2.5e-7",
    ];
    for id in 1..=24i64 {
        let i = id as usize;
        sql.push(format!(
            "INSERT INTO kinds (id, d, f, amount, dt, ts, day, t, yr, b, bits, j, s, l, e, st, g, secret, u) VALUES \
             ({id}, {}, {}, {}, '2024-02-{:02} 01:02:03.{:06}', {}, '0000-00-00', '-838:59:58.{:03}', {}, {}, b'{:b}', {}, {}, {}, {}, {}, {}, {}, {})",
            doubles[i % doubles.len()],
            floats[i % floats.len()],
            ["12345678901234567890.0123456789", "-0.0000000001", "0", "NULL"][i % 4],
            id % 28 + 1,
            id * 7919,
            ["'2021-03-28 01:30:00.5'", "'1970-01-01 00:00:01'", "NULL", "'2038-01-19 03:14:07.999999'"][i % 4],
            id,
            ["1901", "2155", "0", "NULL"][i % 4],
            ["X'00FF00'", "X''", "NULL", "'blob\\\\with\\'quote'"][i % 4],
            id * 37 % 1024,
            ["'{\"a\": [1, 2.50, \"x\"]}'", "'[]'", "NULL", "'\"ü\"'"][i % 4],
            ["'a'", "'A'", "'a '", "'é'", "NULL", "''"][i % 6],
            ["'é'", "'ÿ'", "NULL"][i % 3],
            ["'x'", "'z'", "NULL", "''"][i % 4],
            ["'a,c'", "''", "NULL"][i % 3],
            ["POINT(1, 2)", "NULL", "ST_GeomFromText('POINT(-1.5 1e10)')"][i % 3],
            id * 3,
            match id % 4 {
                0 => "NULL".to_owned(),
                _ => format!("'u{id}'"),
            },
        ));
    }
    sql
}

/// What a side answers: column definitions and rows (NULL as `None`), or the error code.
type Answer = Result<(Vec<String>, Vec<Vec<Option<String>>>), u16>;

fn column(c: &mysql_async::Column) -> String {
    format!(
        "{} {:?} len={} dec={} cs={} flags={:?} table={} org_table={}",
        c.name_str(),
        c.column_type(),
        c.column_length(),
        c.decimals(),
        c.character_set(),
        c.flags(),
        c.table_str(),
        c.org_table_str(),
    )
}

fn cell(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(format!("{other:?}")),
    }
}

async fn answer(conn: &mut Conn, sql: &str) -> Answer {
    let mut result = match conn.query_iter(sql).await {
        Ok(r) => r,
        Err(e) => return Err(server_error::<()>(Err(e)).0),
    };
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

/// Statements compared with one MariaDB; `true`: the ORDER BY makes the order total. Rows in
/// no total order are compared as multisets, by `utf8mb4_general_ci` (which of two equal
/// strings a group shows depends on the order rows are read in, on one server as here).
const CASES: &[(&str, bool)] = &[
    // Derived tables and CTEs over scatters.
    ("SELECT COUNT(*), SUM(c), MAX(c) FROM (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) t", true),
    ("SELECT t.name, t.n FROM (SELECT name, COUNT(*) n FROM users GROUP BY name) t WHERE t.n > 5", false),
    ("WITH t AS (SELECT name, COUNT(*) n FROM users GROUP BY name) SELECT * FROM t ORDER BY n DESC, name", false),
    ("WITH big AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id HAVING SUM(amount) > 5) SELECT u.name, big.s FROM big JOIN users u ON u.id = big.user_id ORDER BY big.s, u.id", true),
    // Derived tables whose rows the proxy computes and copies in their place
    // (`derived_rows.rs`): every type the rows travel in, with MariaDB's column definitions;
    // FLOAT, TIMESTAMP, geometry and a grouped DOUBLE are declined (copies of the table).
    ("SELECT k.id, k.d, k.amount, k.dt, k.day, k.t, k.yr, HEX(k.b), k.bits + 0, k.j, HEX(k.s), HEX(k.l), k.e, k.st, k.twice, k.u FROM (SELECT id, d, amount, dt, day, t, yr, b, bits, j, s, l, e, st, twice, u FROM kinds ORDER BY id DESC LIMIT 20) k ORDER BY k.id", true),
    ("SELECT k.*, x.name FROM (SELECT id, d, amount, dt, day, t, yr, b, bits, j, s, l, e, st, twice, u FROM kinds ORDER BY id LIMIT 12) k JOIN users x ON x.id = k.id ORDER BY k.id", true),
    ("SELECT k.id, k.f, CAST(k.f AS DOUBLE), k.ts FROM (SELECT id, f, ts FROM kinds ORDER BY id LIMIT 10) k ORDER BY k.id", true),
    ("SELECT k.id, ST_AsText(k.g) FROM (SELECT id, g FROM kinds ORDER BY id LIMIT 10) k ORDER BY k.id", true),
    ("SELECT k.n, k.m FROM (SELECT e, COUNT(*) n, MAX(d) m FROM kinds GROUP BY e) k ORDER BY k.n, k.m", true),
    ("SELECT u.name, t.n FROM (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 5) t JOIN users u ON u.id = t.user_id ORDER BY t.n DESC, u.id", true),
    // Joins across shards, inner and outer, on any columns.
    ("SELECT u.id, o.id FROM users u JOIN orders o ON o.amount = u.id ORDER BY u.id, o.id", true),
    ("SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id + 1 WHERE o.id IS NULL ORDER BY u.id", true),
    ("SELECT u.id, o.id FROM orders o RIGHT JOIN users u ON o.user_id = u.id - 2 AND o.amount > 3 ORDER BY u.id, o.id", true),
    ("SELECT a.id, b.id FROM users a JOIN users b ON a.name = b.name AND a.id < b.id ORDER BY a.id, b.id", true),
    ("SELECT COUNT(*) FROM users a JOIN users b ON a.name = b.name", true),
    ("SELECT u.name, f.label FROM users u JOIN flags f ON f.label = u.name ORDER BY u.id, f.flag", true),
    // Uncorrelated subqueries over sharded tables, with MariaDB's NULL semantics.
    ("SELECT id FROM users WHERE id IN (SELECT user_id + 1 FROM orders) ORDER BY id", true),
    ("SELECT id FROM users WHERE id NOT IN (SELECT amount FROM orders) ORDER BY id", true),
    ("SELECT id FROM users WHERE id NOT IN (SELECT amount FROM orders WHERE amount IS NOT NULL) ORDER BY id", true),
    ("SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE amount > 5)", true),
    ("SELECT COUNT(*) FROM users WHERE NOT EXISTS (SELECT 1 FROM orders WHERE amount > 500)", true),
    ("SELECT id, (SELECT MAX(amount) FROM orders) m FROM users WHERE id < 5 ORDER BY id", true),
    ("SELECT id FROM users WHERE id > (SELECT AVG(user_id) FROM orders) ORDER BY id", true),
    // Window functions, WITH ROLLUP, JSON aggregates over scatters.
    ("SELECT id, name, ROW_NUMBER() OVER (ORDER BY id) rn, RANK() OVER (PARTITION BY name ORDER BY id) r FROM users ORDER BY id", true),
    ("SELECT user_id, amount, SUM(amount) OVER (PARTITION BY user_id ORDER BY id) s, DENSE_RANK() OVER (ORDER BY amount) d FROM orders ORDER BY id", true),
    ("SELECT user_id % 3 k, COUNT(*), SUM(amount) FROM orders GROUP BY user_id % 3 WITH ROLLUP", false),
    ("SELECT JSON_ARRAYAGG(id ORDER BY id) FROM users WHERE id < 12", true),
    ("SELECT JSON_OBJECTAGG(id, amount) FROM orders WHERE id < 100", true),
    // Recursive CTE joined with a sharded table.
    ("WITH RECURSIVE r AS (SELECT 1 n UNION ALL SELECT n + 1 FROM r WHERE n < 6) SELECT r.n, u.name FROM r JOIN users u ON u.id = r.n * 2 ORDER BY r.n", true),
    // Values bit for bit, invisible and generated columns, collations, through a join.
    ("SELECT k.id, k.d, CAST(k.f AS DOUBLE), k.f, k.amount, k.dt, k.ts, k.day, k.t, k.yr, HEX(k.b), k.bits + 0, k.j, HEX(k.s), HEX(k.l), k.e, k.st, ST_AsText(k.g), HEX(k.g), k.twice, k.secret, k.u FROM kinds k JOIN users x ON x.id = k.id + 0 ORDER BY k.id", true),
    ("SELECT k.*, x.name FROM kinds k JOIN users x ON x.id = k.id - 0 ORDER BY k.id", true),
    // (Without ROLLUP, the Join primitive groups it: tests/e2e/joins.rs.)
    ("SELECT k.s, COUNT(*) FROM kinds k JOIN users x ON x.name = k.s GROUP BY k.s WITH ROLLUP", false),
    ("SELECT COUNT(*) FROM kinds a JOIN kinds b ON a.d = b.d AND a.f = b.f", true),
    ("SELECT k.id FROM kinds k WHERE k.s IN (SELECT name FROM users) ORDER BY k.id", true),
    // Pushed filters: conditions on one table's columns go with its copy.
    ("SELECT u.id, o.id FROM users u JOIN orders o ON o.amount = u.id WHERE u.id IN (3, 4, 5) AND o.amount > 3 ORDER BY u.id, o.id", true),
    ("SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.amount = u.id WHERE o.amount IS NULL AND u.name = 'a' ORDER BY u.id", true),
    ("SELECT id FROM users WHERE name = 'b' AND id IN (SELECT user_id FROM orders WHERE amount BETWEEN 2 AND 4) ORDER BY id", true),
    // Errors are MariaDB's.
    ("SELECT u.nope FROM users u JOIN orders o ON o.amount = u.id", true),
    ("SELECT id FROM users WHERE id = (SELECT user_id FROM orders)", true),
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

async fn compare(proxy: &mut Conn, plain: &mut Conn, sql: &str, ordered: bool) -> Option<String> {
    let (p, m) = (answer(proxy, sql).await, answer(plain, sql).await);
    let same = match (&p, &m) {
        (Ok((pc, pr)), Ok((mc, mr))) if ordered => pc == mc && pr == mr,
        (Ok((pc, pr)), Ok((mc, mr))) => pc == mc && sorted(pr) == sorted(mr),
        (Err(a), Err(b)) => a == b,
        _ => false,
    };
    (!same).then(|| format!("{sql}\n  proxy: {p:?}\n  maria: {m:?}"))
}

/// Temporary tables' files (and any other `#sql` file) in the default shard's tmpdir: none
/// once every statement has ended and its copies were dropped.
async fn temporary_files(env: &TestEnv) -> Vec<String> {
    let mut direct = env.connect_primary(0).await;
    let dir: String = direct
        .query_first("SELECT @@tmpdir")
        .await
        .unwrap()
        .unwrap();
    drop(direct);
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("#sql"))
        .collect()
}

/// Waits until the default shard holds no temporary table (a closed connection's are dropped
/// by its server thread as it ends); the files left after a minute.
async fn settled_temporary_files(env: &TestEnv) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files = temporary_files(env).await;
        if files.is_empty() || Instant::now() > deadline {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_over_copies_answer_as_one_mariadb() {
    // Transactions may write on several shards (the default, "single", writes on one).
    let config = |sandbox: &Sandbox, listen: &str| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        ) + CONFIG
    };
    let (env, mut plain_sandbox) = tokio::join!(TestEnv::start_rendered(3, 0, config), async {
        Sandbox::start(SandboxSpec::new(1, 0))
            .await
            .expect("plain MariaDB starts")
    });
    let mut plain = Conn::new(plain_sandbox.shards()[0].primary.backend_opts())
        .await
        .unwrap();
    let mut proxy = env.connect().await;
    for conn in [&mut proxy, &mut plain] {
        // TIMESTAMPs read in another zone than UTC.
        conn.query_drop("SET time_zone = '+05:30', sql_mode = ''")
            .await
            .unwrap();
    }
    for sql in setup() {
        plain.query_drop(&sql).await.unwrap();
        proxy.query_drop(&sql).await.unwrap();
    }
    let mut differences = Vec::new();
    for (sql, ordered) in CASES {
        differences.extend(compare(&mut proxy, &mut plain, sql, *ordered).await);
    }
    assert!(
        differences.is_empty(),
        "{} differ:\n{}",
        differences.len(),
        differences.join("\n")
    );

    // A transaction reads its own uncommitted writes, on every shard it wrote.
    let count = "SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON o.amount = u.id";
    let derived = "SELECT COUNT(*), SUM(t.s) FROM (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id ORDER BY s DESC, user_id LIMIT 3) t";
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("BEGIN").await.unwrap();
        conn.query_drop(
            "INSERT INTO users (id, name) VALUES (101, 'n'), (102, 'n'), (103, 'n'), (104, 'n')",
        )
        .await
        .unwrap();
        conn.query_drop("INSERT INTO orders (id, user_id, amount) VALUES (9001, 101, 101), (9002, 102, 102), (9003, 103, 4)")
            .await
            .unwrap();
    }
    differences.extend(compare(&mut proxy, &mut plain, count, true).await);
    differences.extend(compare(&mut proxy, &mut plain, derived, true).await);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    let inside: Vec<(i64, Option<String>)> = proxy.query(count).await.unwrap();
    let derived_inside: Vec<(i64, Option<String>)> = proxy.query(derived).await.unwrap();
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("ROLLBACK").await.unwrap();
    }
    differences.extend(compare(&mut proxy, &mut plain, count, true).await);
    let after: Vec<(i64, Option<String>)> = proxy.query(count).await.unwrap();
    assert_ne!(inside, after, "the transaction's rows were not seen");
    let derived_after: Vec<(i64, Option<String>)> = proxy.query(derived).await.unwrap();
    assert_ne!(
        derived_inside, derived_after,
        "the derived table's rows were not seen"
    );
    // Under autocommit = 0 too, and the copies undo nothing on ROLLBACK.
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("SET autocommit = 0").await.unwrap();
        conn.query_drop("INSERT INTO orders (id, user_id, amount) VALUES (9004, 7, 7)")
            .await
            .unwrap();
    }
    differences.extend(compare(&mut proxy, &mut plain, count, true).await);
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("ROLLBACK").await.unwrap();
        conn.query_drop("SET autocommit = 1").await.unwrap();
    }
    differences.extend(compare(&mut proxy, &mut plain, count, true).await);
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // A session's sql_select_limit limits the answer, not the copies or their column lists
    // (it cut both short: the randomized differential test found it).
    for limit in [0, 1, 3] {
        for conn in [&mut proxy, &mut plain] {
            conn.query_drop(format!("SET sql_select_limit = {limit}"))
                .await
                .unwrap();
        }
        for sql in [
            count,
            "SELECT u.id, u.name, o.amount FROM users u JOIN orders o ON o.amount = u.id ORDER BY u.id, o.id",
        ] {
            differences.extend(compare(&mut proxy, &mut plain, sql, true).await);
        }
    }
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("SET sql_select_limit = DEFAULT")
            .await
            .unwrap();
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // The plan prints as a tree naming each copy's shards and pushed conditions.
    let mut ops = Conn::new(env.opts().user(Some("ops")).pass(Some("ops-secret")))
        .await
        .unwrap();
    // (A condition reading both tables keeps it from the `Join` primitive, which takes the
    // join once the schema cache holds both tables.)
    let plan = rows(&mut ops, "SHOW SHARDGATE ROUTE FOR SELECT u.id FROM users u JOIN orders o ON o.amount = u.id WHERE o.amount > 3 AND CONCAT(u.name, o.id) <> ''").await;
    let lines: Vec<String> = plan.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(
        lines[0], "read → materialize: the statement runs on s0 over copies of its sharded tables",
        "{plan:?}"
    );
    assert_eq!(
        lines[1], "  Copy `users` into a temporary table on s0",
        "{plan:?}"
    );
    assert_eq!(
        lines[5], "  Copy `orders` into a temporary table on s0",
        "{plan:?}"
    );
    assert_eq!(
        plan[6][2].as_deref(),
        Some("SELECT <its columns> FROM `orders` WHERE (amount > 3)"),
        "{plan:?}"
    );
    // The last line runs the client's statement on the compute shard.
    assert_eq!(
        plan[9][..2],
        [Some("  Route s0".into()), Some("s0".into())],
        "{plan:?}"
    );
    assert_eq!(plan.len(), 10, "{plan:?}");

    // Prepared statements: each execution runs with its values written in, rows in the binary
    // protocol.
    let sql = "SELECT u.id, o.id, o.amount FROM users u JOIN orders o ON o.user_id = u.id + 1 WHERE u.id > ? ORDER BY u.id, o.id";
    let on_proxy: Vec<(i64, i64, Option<String>)> = proxy.exec(sql, (2i64,)).await.unwrap();
    let on_plain: Vec<(i64, i64, Option<String>)> = plain.exec(sql, (2i64,)).await.unwrap();
    assert_eq!(on_proxy, on_plain);
    assert!(!on_proxy.is_empty());
    let sql = "SELECT k.id, k.d, k.f, k.amount, k.dt, k.ts, k.t, k.b, k.j FROM kinds k JOIN users x ON x.id = k.id + 0 ORDER BY k.id";
    let on_proxy: Vec<mysql_async::Row> = proxy.exec(sql, ()).await.unwrap();
    let on_plain: Vec<mysql_async::Row> = plain.exec(sql, ()).await.unwrap();
    let values = |rows: Vec<mysql_async::Row>| -> Vec<Vec<Value>> {
        rows.into_iter().map(|r| r.unwrap()).collect()
    };
    assert_eq!(values(on_proxy), values(on_plain));

    // Locking reads keep their refusal.
    let (code, _, message) = server_error(
        proxy
            .query_drop("SELECT u.id FROM users u JOIN orders o ON o.amount = u.id FOR UPDATE")
            .await,
    );
    assert_eq!(code, 1235, "{message}");

    // Nothing is left on the compute connections, and they went back to their pool.
    assert_eq!(settled_temporary_files(&env).await, Vec::<String>::new());

    // A unique key duplicated across shards (each enforces it for its own rows): 1062 naming
    // the table, the copies dropped.
    let (a, b) = {
        let mut ids = (200..400i64).filter(|id| env.shard_of("kinds", i128::from(*id)) != 0);
        let a = ids.next().unwrap();
        let b = ids
            .find(|id| {
                env.shard_of("kinds", i128::from(*id)) != env.shard_of("kinds", i128::from(a))
            })
            .unwrap();
        (a, b)
    };
    proxy
        .query_drop(format!("INSERT INTO kinds (id, u) VALUES ({a}, 'twin')"))
        .await
        .unwrap();
    proxy
        .query_drop(format!("INSERT INTO kinds (id, u) VALUES ({b}, 'twin')"))
        .await
        .unwrap();
    let (code, _, message) = server_error(
        proxy
            .query_drop("SELECT COUNT(*) FROM kinds k JOIN users x ON x.id = k.id + 0")
            .await,
    );
    assert_eq!(code, 1062, "{message}");
    assert!(message.contains("`kinds`"), "{message}");
    assert_eq!(settled_temporary_files(&env).await, Vec::<String>::new());
    proxy
        .query_drop(format!("DELETE FROM kinds WHERE id IN ({a}, {b})"))
        .await
        .unwrap();

    // A client that goes away while its statement runs: the copies go with the connection.
    let mut leaving = env.connect().await;
    let slow = "SELECT SLEEP(2), COUNT(*) FROM users u JOIN orders o ON o.amount = u.id";
    let running = tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_millis(700), leaving.query_drop(slow)).await;
        // Dropped mid-statement: the proxy's session sees its client gone.
    });
    running.await.unwrap();
    assert_eq!(settled_temporary_files(&env).await, Vec::<String>::new());
    // And a statement killed while it runs.
    let mut victim = env.connect().await;
    let victim_id = victim.id();
    let killing = tokio::spawn(async move {
        // Interrupted: an error, or SLEEP's 1 (MariaDB's answer to a KILL during SLEEP).
        let _ = victim.query_drop(slow).await;
        victim
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy
        .query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    let mut victim = killing.await.unwrap();
    let alive: Vec<i64> = victim.query("SELECT 1").await.unwrap();
    assert_eq!(alive, [1]);
    drop(victim);
    assert_eq!(settled_temporary_files(&env).await, Vec::<String>::new());

    drop((proxy, plain, ops));
    plain_sandbox.stop().await;
    env.stop().await;
}

/// Three shards with `merge_max_rows = 30`, the users (40) and orders (40) of `setup`.
async fn bounded_to_30_rows() -> (TestEnv, Conn) {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", "[server]\nmerge_max_rows = 30\n", 1)
    })
    .await;
    let mut proxy = env.connect().await;
    for sql in setup()
        .into_iter()
        .filter(|s| !s.contains("flags") && !s.contains("kinds"))
    {
        proxy.query_drop(&sql).await.unwrap();
    }
    (env, proxy)
}

/// A derived table the proxy computes copies its rows, not the table it reads: within a bound
/// the table's copy would pass, prepared too — but not for binary rows with a DOUBLE, which
/// copy the table; its columns are described as MariaDB describes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_tables_copy_their_rows_not_their_tables() {
    let (env, mut proxy) = bounded_to_30_rows().await;
    // users has 40 rows: its copy passes the bound, five of them do not.
    let sql = "SELECT COUNT(*), SUM(t.id), MIN(t.name) FROM (SELECT id, name FROM users ORDER BY id DESC LIMIT 5) t";
    let counted: Vec<(i64, String, String)> = proxy.query(sql).await.unwrap();
    assert_eq!(counted, [(5, "190".to_owned(), "A".to_owned())]);
    // Prepared: the same rows, encoded in the binary protocol; but not with a DOUBLE in the
    // answer, whose text may show fewer digits than its binary value (the table's copy).
    let prepared: Vec<(i64, String, String)> = proxy.exec(sql, ()).await.unwrap();
    assert_eq!(prepared, counted);
    let doubled =
        "SELECT COUNT(*), SUM(t.id) * 1e0 FROM (SELECT id FROM users ORDER BY id DESC LIMIT 5) t";
    let text: Vec<(i64, f64)> = proxy.query(doubled).await.unwrap();
    assert_eq!(text, [(5, 190.0)]);
    let (code, _, message) = server_error(proxy.exec_drop(doubled, ()).await);
    assert_eq!(code, 1038, "{message}");
    // Grouped rows, joined back to a table copied whole (orders: 40 rows, pushed filter).
    let joined = "SELECT t.user_id, t.n, o.id FROM (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 2) t JOIN orders o ON o.user_id = t.user_id WHERE o.id < 60 ORDER BY o.id";
    let joined: Vec<(i64, i64, i64)> = proxy.query(joined).await.unwrap();
    assert_eq!(joined, [(2, 2, 20), (2, 2, 21), (5, 2, 50), (5, 2, 51)]);
    // Over a join across shards (orders by their id, not their shard key, to users): the Join
    // primitive computes the grouped rows; copying users whole would pass the bound.
    let over_join = "SELECT COUNT(*), SUM(t.n) FROM (SELECT o.user_id, COUNT(*) n FROM orders o JOIN users u ON u.id = o.id WHERE o.id < 41 GROUP BY o.user_id) t";
    // (The Join primitive resolves columns by the schema cache, which a `*` across shards
    // fills: a table it does not hold keeps the copies.)
    for table in ["users", "orders"] {
        proxy
            .query_drop(format!("SELECT * FROM {table} ORDER BY id LIMIT 1"))
            .await
            .unwrap();
    }
    let plan = explained(&mut proxy, over_join).await;
    assert!(
        plan.contains("Copy the rows of derived table `t`") && plan.contains("join across shards"),
        "{plan}"
    );
    let over_join: Vec<(i64, String)> = proxy.query(over_join).await.unwrap();
    assert_eq!(over_join, [(3, "4".to_owned())]);
    // A table joined to the derived rows by an integer equality is copied narrowed to the
    // rows it joins (users: 40 rows, 3 of them copied), on the shards owning them; the
    // preserved side of an outer join is not (its copy passes the bound).
    let top = "(SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 3)";
    let named: Vec<(i64, String, i64)> = proxy
        .query(format!("SELECT t.user_id, u.name, t.n FROM {top} t JOIN users u ON u.id = t.user_id ORDER BY t.user_id"))
        .await
        .unwrap();
    assert_eq!(
        named,
        [(2, "b".into(), 2), (5, "é".into(), 2), (8, "A".into(), 2)]
    );
    let with_cte: Vec<(i64, String)> = proxy
        .query(format!("WITH t AS {top} SELECT u.id, u.name FROM users u, t WHERE t.user_id = u.id AND u.id > 2 ORDER BY u.id"))
        .await
        .unwrap();
    assert_eq!(with_cte, [(5, "é".into()), (8, "A".into())]);
    let (code, _, message) = server_error(
        proxy
            .query_drop(format!(
                "SELECT COUNT(*) FROM users u LEFT JOIN {top} t ON u.id = t.user_id"
            ))
            .await,
    );
    assert_eq!(code, 1038, "{message}");
    // Columns: the derived table's alias, the base table's name as org_table, no schema (as
    // MariaDB describes a derived table's columns); none names a temporary table.
    let result = proxy
        .query_iter("SELECT t.id, t.n FROM (SELECT id, COUNT(*) n FROM users GROUP BY id ORDER BY id LIMIT 3) t")
        .await
        .unwrap();
    let columns: Vec<(String, String, String, String)> = (result.columns().unwrap().iter())
        .map(|c| {
            let s = |v: std::borrow::Cow<'_, str>| v.into_owned();
            (
                s(c.schema_str()),
                s(c.table_str()),
                s(c.org_table_str()),
                s(c.org_name_str()),
            )
        })
        .collect();
    drop(result);
    assert_eq!(
        columns,
        [
            (String::new(), "t".into(), "users".into(), "id".into()),
            (String::new(), "t".into(), String::new(), "n".into()),
        ]
    );
    assert_eq!(settled_temporary_files(&env).await, Vec::<String>::new());
    drop(proxy);
    env.stop().await;
}

/// The lines of `EXPLAIN sql` through the proxy, each step with the text it sends.
async fn explained(proxy: &mut Conn, sql: &str) -> String {
    let plan: Vec<(String, Option<String>, Option<String>)> =
        proxy.query(format!("EXPLAIN {sql}")).await.unwrap();
    let lines: Vec<String> = (plan.iter())
        .map(|(step, _, sent)| format!("{step} {}", sent.as_deref().unwrap_or("")))
        .collect();
    lines.join("\n")
}

/// A scalar subquery correlated on a column that is not a shard key is joined as a derived
/// table grouped by that column (the proxy computes its groups), and a copy joined to a
/// reference table that the WHERE filters reads only the rows joining the rows it keeps: the
/// statement runs within a bound that copies of the whole table pass (TPC-H Q17's shape).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlated_aggregates_and_filtered_reference_joins_copy_what_they_need() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        let config = sandbox
            .config_toml(listen)
            .replacen("[server]\n", "[server]\nmerge_max_rows = 30\n", 1);
        format!("{config}\n[[tables]]\nname = \"parts\"\nreference = true\n\n[[tables]]\nname = \"items\"\nshard_key = \"id\"\n")
    })
    .await;
    let mut proxy = env.connect().await;
    proxy
        .query_drop("CREATE TABLE parts (id INT PRIMARY KEY, brand VARCHAR(8) NOT NULL)")
        .await
        .unwrap();
    proxy
        .query_drop("CREATE TABLE items (id BIGINT PRIMARY KEY, part INT, qty DECIMAL(6,2))")
        .await
        .unwrap();
    proxy
        .query_drop(
            "INSERT INTO parts VALUES (0, 'x'), (1, 'x'), (2, 'y'), (3, 'y'), (4, 'y'), (5, 'y')",
        )
        .await
        .unwrap();
    // 60 lines, ten per part; part 1's quantities all NULL (its average is NULL).
    let lines: Vec<(i64, i64, Option<f64>)> = (1..=60)
        .map(|id| {
            let part = id % 6;
            let qty = (part != 1).then_some((id % 10 + 1) as f64);
            (id, part, qty)
        })
        .collect();
    let values: Vec<String> = (lines.iter())
        .map(|(id, part, qty)| match qty {
            Some(q) => format!("({id}, {part}, {q})"),
            None => format!("({id}, {part}, NULL)"),
        })
        .collect();
    proxy
        .query_drop(format!("INSERT INTO items VALUES {}", values.join(", ")))
        .await
        .unwrap();
    // Expected: the lines of brand-x parts whose quantity is below half their part's average
    // plus one.
    let mut want = Vec::new();
    for part in [0, 1] {
        let qtys: Vec<f64> = (lines.iter())
            .filter(|l| l.1 == part)
            .filter_map(|l| l.2)
            .collect();
        if qtys.is_empty() {
            continue;
        }
        let limit = 0.5 * qtys.iter().sum::<f64>() / qtys.len() as f64 + 1.0;
        want.extend(
            (lines.iter())
                .filter(|l| l.1 == part && l.2.is_some_and(|q| q < limit))
                .map(|l| l.0),
        );
    }
    want.sort_unstable();
    assert!(!want.is_empty());
    let sql = "SELECT l.id FROM items l, parts p WHERE l.part = p.id AND p.brand = 'x' AND l.qty < (SELECT 0.5 * AVG(cq.qty) + 1 FROM items cq WHERE cq.part = p.id) ORDER BY l.id";
    let got: Vec<i64> = proxy.query(sql).await.unwrap();
    assert_eq!(got, want);
    // The plan: the subquery's groups (brand-x parts only), the outer copy narrowed by them.
    let text = explained(&mut proxy, sql).await;
    assert!(text.contains("derived table `shardgate_dc0`"), "{text}");
    assert!(
        text.contains(
            "FROM `items` WHERE (part IN (SELECT p.id FROM parts AS p WHERE (p.brand = 'x')))"
        ),
        "{text}"
    );
    // A NOT EXISTS over the sharded table reads the distinct values it uses (six parts), not
    // a copy of the table: parts 3 and 5 have a quantity of 10, part 1 only NULLs.
    let sql = "SELECT d.id FROM (SELECT p.id FROM parts p WHERE NOT EXISTS (SELECT 1 FROM items cv WHERE cv.part = p.id AND cv.qty > 9)) d ORDER BY d.id";
    let got: Vec<i64> = proxy.query(sql).await.unwrap();
    assert_eq!(got, [0, 1, 2, 4]);
    let text = explained(&mut proxy, sql).await;
    assert!(
        text.contains("SELECT DISTINCT `part`, `qty` FROM items cv WHERE (cv.qty > 9)"),
        "{text}"
    );
    // A subquery whose value over no rows is not NULL (COUNT) keeps the copies: 60 lines
    // pass the bound.
    let (code, _, message) = server_error(
        proxy
            .query_drop("SELECT l.id FROM items l, parts p WHERE l.part = p.id AND p.brand = 'x' AND l.qty < (SELECT COUNT(cq.qty) FROM items cq WHERE cq.part = p.id)")
            .await,
    );
    assert_eq!(code, 1038, "{message}");
    drop(proxy);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_stop_at_merge_max_rows() {
    let (env, mut proxy) = bounded_to_30_rows().await;
    // users (40 rows) alone passes the bound, copied (three tables) or held by the Join
    // primitive's hash table (two); a filter pushed with its copy keeps it under.
    for sql in [
        "SELECT COUNT(*) FROM users a JOIN users b ON a.name = b.name JOIN users c ON c.email = b.email",
        "SELECT COUNT(*) FROM users a JOIN users b ON a.name = b.name",
    ] {
        let (code, _, message) = server_error(proxy.query_drop(sql).await);
        assert_eq!(code, 1038, "{sql}: {message}");
        assert!(message.contains("merge_max_rows = 30"), "{sql}: {message}");
    }
    let counted: Vec<i64> = proxy
        .query("SELECT COUNT(*) FROM users u JOIN orders o ON o.amount = u.id WHERE u.id < 10 AND o.id < 100")
        .await
        .unwrap();
    assert_eq!(counted.len(), 1);
    assert_eq!(settled_temporary_files(&env).await, Vec::<String>::new());
    drop(proxy);
    env.stop().await;
}
