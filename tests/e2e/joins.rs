//! Joins of sharded tables whose rows live on different shards, answered by the proxy's
//! `Join` primitive (batched lookups on the inner table's shard key, or a hash join), compared
//! with one MariaDB holding the same rows: column definitions (names, types, flags — a LEFT
//! join's inner columns nullable), rows and their order under ORDER BY; inner and LEFT joins,
//! NULL keys, duplicates, strings under `utf8mb4_general_ci` and `utf8mb4_bin`, numbers
//! across types, ORDER BY / LIMIT; GROUP BY and aggregates over the joined rows (the merge's
//! `Aggregate`: COUNT, SUM, AVG, MIN / MAX, DISTINCT forms, GROUP_CONCAT, BIT_*, STDDEV, one
//! group over no rows, ORDER BY an aggregate); joins of three and four tables whose
//! co-located tables (and a reference table) make one side; EXPLAIN prints the join's tree; the hash join's build side
//! stops at `merge_max_rows` with 1038; joins it cannot run exactly (sorted INNER joins, whose
//! column flags depend on MariaDB's plan) keep their copies, compared here too; after DDL
//! through the proxy, the first join reads the forgotten columns and runs in the proxy.

use crate::common::{server_error, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use shardgate_sandbox::{Sandbox, SandboxSpec};

const CONFIG: &str = "\n[[tables]]\nname = \"people\"\nshard_key = \"id\"\n\n[[tables]]\nname = \"tags\"\nshard_key = \"id\"\n\n[[tables]]\nname = \"badges\"\nshard_key = \"person_id\"\n\n[[tables]]\nname = \"kinds\"\nreference = true\n";

/// The same schema and rows on both sides: `people` and `tags` sharded by `id`, joined on
/// other columns (with NULLs, duplicates, case and trailing-space variants).
fn setup() -> Vec<String> {
    let mut sql = vec![
        "CREATE TABLE people (id BIGINT PRIMARY KEY, boss BIGINT NULL, name VARCHAR(20) \
         COLLATE utf8mb4_general_ci NULL, code VARCHAR(10) COLLATE utf8mb4_bin NULL, \
         score DECIMAL(8,2) NULL, born DATE NULL)"
            .to_owned(),
        "CREATE TABLE tags (id BIGINT PRIMARY KEY, person BIGINT NULL, label VARCHAR(20) \
         COLLATE utf8mb4_general_ci NOT NULL, code VARCHAR(10) COLLATE utf8mb4_bin NULL, \
         weight INT NOT NULL)"
            .to_owned(),
    ];
    let names = ["ann", "Ann", "ann ", "bob", "BOB", "é", "E", "zed"];
    let codes = ["a", "A", "a ", "b"];
    for id in 1..=60i64 {
        let boss = match id % 7 {
            0 => "NULL".to_owned(),
            n => (id / 2 + n).to_string(),
        };
        let name = match id % 11 {
            0 => "NULL".to_owned(),
            _ => format!("'{}'", names[id as usize % names.len()]),
        };
        let code = match id % 9 {
            0 => "NULL".to_owned(),
            _ => format!("'{}'", codes[id as usize % codes.len()]),
        };
        let score = match id % 5 {
            0 => "NULL".to_owned(),
            n => format!("{}.{}0", id % 13, n),
        };
        sql.push(format!(
            "INSERT INTO people VALUES ({id}, {boss}, {name}, {code}, {score}, '2020-01-{:02}')",
            id % 28 + 1
        ));
    }
    // `badges` lives on its person's shard (co-located with `people`); `kinds` is a reference
    // table.
    sql.push(
        "CREATE TABLE badges (id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, kind INT NOT \
         NULL, points DECIMAL(6,2) NULL)"
            .to_owned(),
    );
    sql.push("CREATE TABLE kinds (kind INT PRIMARY KEY, label VARCHAR(20) NOT NULL)".to_owned());
    sql.push(
        "INSERT INTO kinds VALUES (0, 'zero'), (1, 'one'), (2, 'two'), (3, 'three')".to_owned(),
    );
    for id in 1..=80i64 {
        let points = match id % 6 {
            0 => "NULL".to_owned(),
            n => format!("{n}.{}", id % 10),
        };
        sql.push(format!(
            "INSERT INTO badges VALUES ({id}, {}, {}, {points})",
            id % 50 + 1,
            id % 4
        ));
    }
    for id in 1..=90i64 {
        let person = match id % 8 {
            0 => "NULL".to_owned(),
            _ => (id % 45 + 1).to_string(),
        };
        let code = match id % 6 {
            0 => "NULL".to_owned(),
            _ => format!("'{}'", codes[(id as usize / 2) % codes.len()]),
        };
        sql.push(format!(
            "INSERT INTO tags VALUES ({id}, {person}, '{}', {code}, {})",
            names[(id as usize * 3) % names.len()],
            id % 13
        ));
    }
    sql
}

/// Statements compared with one MariaDB; `true`: ordered (the ORDER BY makes the order
/// total), else compared as multisets.
const CASES: &[(&str, bool)] = &[
    // Batched lookups: the inner join column is the inner table's shard key.
    ("SELECT t.id, t.label, p.name FROM tags t JOIN people p ON p.id = t.person", false),
    ("SELECT t.id, p.name AS who, p.score FROM tags t LEFT JOIN people p ON p.id = t.person", false),
    ("SELECT t.id, p.id FROM tags t LEFT JOIN people p ON p.id = t.person AND p.score > 3", false),
    ("SELECT p.name, t.id FROM people p JOIN tags t ON t.id = p.boss WHERE p.id < 40 ORDER BY t.id DESC, p.name, p.id LIMIT 7", false),
    ("SELECT p.id, b.name FROM people p LEFT JOIN people b ON b.id = p.boss ORDER BY p.id", true),
    ("SELECT p.id, b.name FROM people p JOIN people b ON b.id = p.boss ORDER BY b.name, p.id LIMIT 5, 10", true),
    ("SELECT p.id, b.name FROM people p LEFT JOIN people b ON b.id = p.boss ORDER BY p.name DESC, p.id LIMIT 3, 12", true),
    ("SELECT p.id, b.id FROM people p LEFT JOIN people b ON b.score = p.boss ORDER BY p.id DESC", false),
    ("SELECT t.id, p.name FROM tags t LEFT JOIN people p ON p.id = t.person WHERE t.weight < 9 ORDER BY t.label DESC, t.id LIMIT 30", true),
    ("SELECT t.label FROM tags t JOIN people p ON p.id = t.person WHERE t.weight > 6 AND p.born > '2020-01-10' ORDER BY p.born, t.id", true),
    // Hash joins: other columns, NULLs never equal, strings by their collation.
    ("SELECT p.id, t.id FROM people p JOIN tags t ON t.label = p.name", false),
    ("SELECT p.id, t.id, t.label FROM people p LEFT JOIN tags t ON t.label = p.name ORDER BY p.id, t.id", true),
    ("SELECT p.id, t.id FROM people p JOIN tags t ON t.code = p.code", false),
    ("SELECT p.id, t.id FROM people p LEFT JOIN tags t ON t.code = p.code AND t.weight < 5", false),
    ("SELECT p.id, t.id FROM people p JOIN tags t ON t.weight = p.score", false),
    ("SELECT p.id, t.id FROM people p JOIN tags t ON t.person = p.boss AND t.weight = p.id % 13", false),
    ("SELECT a.id, b.id FROM people a JOIN people b ON b.name = a.name WHERE a.id < b.id ORDER BY a.id, b.id", true),
    ("SELECT p.name, t.label FROM people p JOIN tags t ON t.label = p.name ORDER BY p.name, t.label, p.id, t.id LIMIT 12", false),
    ("SELECT t.id FROM tags t JOIN people p ON p.boss = t.person ORDER BY t.weight DESC, t.id", true),
    // Errors are MariaDB's.
    ("SELECT p.nope FROM people p JOIN tags t ON t.person = p.id", true),
];

/// Grouping statements over joined rows, compared with the differential's column mask (the
/// flags MariaDB's plan decides — key flags, NUM, BINARY on numbers — and the decimals of
/// strings are not compared). Groups are of values with one spelling: MariaDB shows any row's
/// spelling of a group whose strings compare equal (`'a'`, `'a '`), as the merge does. The
/// third value: the join runs in the proxy (`false`: HAVING and grouping by an expression keep
/// their copies).
const GROUPED_CASES: &[(&str, bool, bool)] = &[
    ("SELECT t.weight, COUNT(*), SUM(p.score), AVG(p.score), MIN(p.born), MAX(p.born) FROM tags t JOIN people p ON p.id = t.person GROUP BY t.weight", true, true),
    ("SELECT COUNT(*), COUNT(p.id), SUM(t.weight), AVG(t.weight) FROM tags t LEFT JOIN people p ON p.id = t.person", true, true),
    ("SELECT t.person, SUM(t.weight * 2) AS w, COUNT(p.score) FROM tags t JOIN people p ON p.id = t.person GROUP BY t.person ORDER BY w DESC, t.person LIMIT 5", true, true),
    ("SELECT p.boss, COUNT(*) AS n FROM people p JOIN tags t ON t.person = p.id WHERE t.weight > 3 GROUP BY 1 ORDER BY n DESC, 1", true, true),
    ("SELECT COUNT(*), SUM(p.score), MAX(t.code) FROM tags t JOIN people p ON p.id = t.person WHERE t.weight > 100", true, true),
    ("SELECT t.weight, COUNT(*) FROM tags t JOIN people p ON p.id = t.person WHERE t.weight > 100 GROUP BY t.weight", true, true),
    ("SELECT p.boss, COUNT(DISTINCT t.weight), GROUP_CONCAT(t.id ORDER BY t.id), SUM(DISTINCT t.weight) FROM people p JOIN tags t ON t.code = p.code GROUP BY p.boss ORDER BY p.boss DESC", true, true),
    ("SELECT t.weight, GROUP_CONCAT(DISTINCT p.id ORDER BY p.id DESC SEPARATOR '/') FROM tags t JOIN people p ON p.id = t.person GROUP BY t.weight ORDER BY COUNT(*), t.weight", true, true),
    ("SELECT COUNT(*), BIT_OR(t.weight), BIT_XOR(p.id), STDDEV_POP(t.weight) FROM people p JOIN tags t ON t.label = p.name", true, true),
    ("SELECT p.id, COUNT(t.id) AS tags FROM people p LEFT JOIN tags t ON t.person = p.id GROUP BY p.id ORDER BY tags DESC, p.id DESC LIMIT 8", true, true),
    ("SELECT t.weight AS c, MIN(p.score), MAX(p.score) FROM tags t JOIN people p ON p.id = t.person GROUP BY c", true, true),
    ("SELECT t.person, COUNT(*) FROM tags t JOIN people p ON p.id = t.person GROUP BY t.person HAVING COUNT(*) > 1", true, true),
    ("SELECT t.weight, SUM(p.score) AS s FROM tags t JOIN people p ON p.id = t.person GROUP BY t.weight HAVING s / COUNT(*) > 2 OR MAX(p.score) IS NULL", true, true),
    ("SELECT YEAR(p.born), COUNT(*) FROM tags t JOIN people p ON p.id = t.person GROUP BY YEAR(p.born)", true, false),
    ("SELECT t.weight, COUNT(*), COUNT(DISTINCT p.name) FROM people p JOIN tags t ON t.label = p.name GROUP BY t.weight", true, true),
];

/// Grouping joins compared with every flag: MariaDB describes a result it grouped or sorted
/// in a temporary table by the table's fields (key flags dropped, `GROUP_FLAG` on a nullable
/// group column, no `BINARY_FLAG` on a `COUNT` / `SUM`, `MIN` / `MAX` as their column), which
/// the proxy follows by the default shard's `EXPLAIN` of the statement. A hash join (a join
/// buffer on one server: a temporary table), a lookup by key grouped by the looked-up side,
/// groups sorted by an aggregate, and `GROUP_CONCAT` / `DISTINCT` (grouped in sorted order).
const DESCRIBED_GROUPED_CASES: &[(&str, bool)] = &[
    ("SELECT p.boss, COUNT(*), SUM(t.weight), MIN(p.id), MAX(t.id), MIN(p.score), MAX(t.weight) FROM people p JOIN tags t ON t.label = p.name GROUP BY p.boss", false),
    ("SELECT p.id, p.boss, COUNT(*), MAX(t.weight) FROM people p JOIN tags t ON t.label = p.name GROUP BY p.id", false),
    ("SELECT t.person, COUNT(*), MAX(p.score), BIT_OR(t.weight) FROM tags t JOIN people p ON p.id = t.person GROUP BY t.person", false),
    ("SELECT p.boss, COUNT(*) AS n, MIN(t.id) FROM people p JOIN tags t ON t.person = p.id GROUP BY p.boss ORDER BY n DESC, p.boss", true),
    ("SELECT t.weight, GROUP_CONCAT(p.id ORDER BY p.id), COUNT(DISTINCT p.boss), MAX(p.id) FROM tags t JOIN people p ON p.id = t.person GROUP BY t.weight", false),
    ("SELECT t.weight, COUNT(DISTINCT p.boss), MIN(p.born), COUNT(*) FROM tags t JOIN people p ON p.id = t.person GROUP BY t.weight ORDER BY COUNT(*) DESC, t.weight", true),
];

/// Joins of three and four tables: `people` with its co-located `badges` (and the reference
/// table `kinds`) on one side, `tags` on the other, and conditions with subqueries that go with
/// a side when the planner places them there. Compared like `GROUPED_CASES`; the third value
/// says whether the join runs in the proxy (a subquery over a table placed otherwise, a LEFT
/// join of three tables: copies).
const THREE_TABLE_CASES: &[(&str, bool, bool)] = &[
    ("SELECT t.id, p.name, b.points FROM tags t JOIN people p ON p.id = t.person JOIN badges b ON b.person_id = p.id", false, true),
    ("SELECT t.weight, COUNT(*), SUM(b.points) FROM tags t, people p, badges b WHERE p.id = t.person AND b.person_id = p.id AND b.kind > 1 GROUP BY t.weight", true, true),
    ("SELECT k.label, COUNT(*) AS n, MAX(t.id) FROM tags t JOIN people p ON p.id = t.person JOIN badges b ON b.person_id = p.id JOIN kinds k ON k.kind = b.kind GROUP BY k.label ORDER BY n DESC, k.label", true, true),
    ("SELECT p.id, b.id, t.id FROM people p JOIN badges b ON b.person_id = p.id JOIN tags t ON t.weight = b.kind WHERE p.id < 20", false, true),
    ("SELECT t.id, p.name FROM tags t JOIN people p ON p.id = t.person WHERE EXISTS (SELECT 1 FROM badges b WHERE b.person_id = p.id AND b.kind = 2)", false, true),
    ("SELECT t.id, p.id FROM tags t JOIN people p ON p.id = t.person WHERE t.weight IN (SELECT b.kind FROM badges b)", false, false),
    ("SELECT t.id, b.id FROM tags t JOIN people p ON p.id = t.person LEFT JOIN badges b ON b.person_id = p.id", false, false),
];

/// What a side answers: column definitions and rows, or the error code.
type Answer = Result<(Vec<String>, Vec<Vec<Option<String>>>), u16>;

/// A column as the differential compares it (see `GROUPED_CASES`).
fn masked_column(c: &mysql_async::Column) -> String {
    use mysql_async::consts::{ColumnFlags, ColumnType};
    let string = matches!(
        c.column_type(),
        ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_STRING
            | ColumnType::MYSQL_TYPE_VARCHAR
            | ColumnType::MYSQL_TYPE_BLOB
    );
    format!(
        "{} {:?} len={} dec={} cs={} flags={:?} table={} org_table={}",
        c.name_str(),
        c.column_type(),
        c.column_length(),
        if string { 0 } else { c.decimals() },
        c.character_set(),
        c.flags()
            & (ColumnFlags::NOT_NULL_FLAG
                | ColumnFlags::UNSIGNED_FLAG
                | ColumnFlags::ZEROFILL_FLAG
                | ColumnFlags::BLOB_FLAG),
        c.table_str(),
        c.org_table_str(),
    )
}

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

async fn answer(conn: &mut Conn, sql: &str, masked: bool) -> Answer {
    let mut result = match conn.query_iter(sql).await {
        Ok(r) => r,
        Err(e) => return Err(server_error::<()>(Err(e)).0),
    };
    let columns = result
        .columns()
        .map(|c| {
            let describe = if masked { masked_column } else { column };
            c.iter().map(describe).collect()
        })
        .unwrap_or_default();
    let rows: Vec<mysql_async::Row> = match result.collect().await {
        Ok(rows) => rows,
        Err(e) => return Err(server_error::<()>(Err(e)).0),
    };
    let rows = rows
        .into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i).cloned().unwrap_or(Value::NULL) {
                    Value::NULL => None,
                    Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    other => Some(format!("{other:?}")),
                })
                .collect()
        })
        .collect();
    Ok((columns, rows))
}

fn sorted(rows: &[Vec<Option<String>>]) -> Vec<Vec<Option<String>>> {
    let mut rows = rows.to_vec();
    rows.sort();
    rows
}

async fn compare(proxy: &mut Conn, plain: &mut Conn, sql: &str, ordered: bool) -> Option<String> {
    let masked = (GROUPED_CASES.iter().chain(THREE_TABLE_CASES)).any(|(g, _, _)| *g == sql);
    let (p, m) = (
        answer(proxy, sql, masked).await,
        answer(plain, sql, masked).await,
    );
    let same = match (&p, &m) {
        (Ok((pc, pr)), Ok((mc, mr))) if ordered => pc == mc && pr == mr,
        (Ok((pc, pr)), Ok((mc, mr))) => pc == mc && sorted(pr) == sorted(mr),
        (Err(a), Err(b)) => a == b,
        _ => false,
    };
    (!same).then(|| format!("{sql}\n  proxy: {p:?}\n  maria: {m:?}"))
}

/// The lines of the statement's plan (`EXPLAIN`); for a statement the proxy runs in steps
/// (after its subqueries), which EXPLAIN refuses, the refusal's message.
async fn plan_lines(conn: &mut Conn, sql: &str) -> Vec<String> {
    type PlanRow = (String, Option<String>, Option<String>);
    let explained: Result<Vec<PlanRow>, _> = conn.query(format!("EXPLAIN {sql}")).await;
    match explained {
        Ok(rows) => rows.into_iter().map(|(plan, _, _)| plan).collect(),
        Err(mysql_async::Error::Server(e)) if e.message.contains("runs in steps") => {
            vec![e.message]
        }
        Err(e) => panic!("EXPLAIN {sql}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_across_shards_answer_as_one_mariadb() {
    let config = |sandbox: &Sandbox, listen: &str| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", "[server]\nmerge_max_rows = 2000\n", 1)
            + CONFIG
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
    for sql in setup() {
        plain.query_drop(&sql).await.unwrap();
        proxy.query_drop(&sql).await.unwrap();
    }
    // The DDL made the schema cache forget both tables; a statement that needs their columns
    // (`*` ordered across shards) has it read them again, as its refresh would.
    for table in ["people", "tags", "badges"] {
        proxy
            .query_drop(format!("SELECT * FROM {table} ORDER BY id LIMIT 1"))
            .await
            .unwrap();
    }
    // The reference table's, through a co-located join that needs them.
    proxy
        .query_drop(
            "SELECT b.*, k.* FROM badges b JOIN kinds k ON k.kind = b.kind ORDER BY b.id LIMIT 1",
        )
        .await
        .unwrap();
    // The plans: the Join primitive, not copies.
    let lookup = plan_lines(&mut proxy, CASES[0].0).await;
    assert!(
        lookup
            .iter()
            .any(|l| l.contains("Join inner (batched lookup on `p`.`id`")),
        "{lookup:#?}"
    );
    let hash = plan_lines(
        &mut proxy,
        "SELECT p.id, t.id FROM people p JOIN tags t ON t.label = p.name",
    )
    .await;
    assert!(
        hash.iter().any(|l| l.contains("HashJoin inner on")),
        "{hash:#?}"
    );
    // A grouping join: the merge's aggregate over the joined rows, sorted by the groups.
    let grouped = plan_lines(&mut proxy, GROUPED_CASES[0].0).await;
    let at = |what: &str| grouped.iter().position(|l| l.contains(what));
    let (aggregate, sort, join) = (
        at("Aggregate group by"),
        at("Sort #"),
        at("Join inner (batched lookup"),
    );
    assert!(
        aggregate.is_some() && aggregate < sort && sort < join,
        "{grouped:#?}"
    );
    let mut differences = Vec::new();
    for (sql, _, joined) in GROUPED_CASES.iter().chain(THREE_TABLE_CASES) {
        let plan = plan_lines(&mut proxy, sql).await;
        let in_proxy = plan
            .iter()
            .any(|l| l.contains("Join inner") || l.contains("Join left"));
        assert_eq!(in_proxy, *joined, "{sql}: {plan:#?}");
    }
    for (sql, _) in DESCRIBED_GROUPED_CASES {
        let plan = plan_lines(&mut proxy, sql).await;
        assert!(
            plan.iter().any(|l| l.contains("Join inner")),
            "{sql}: {plan:#?}"
        );
    }
    let grouped =
        (GROUPED_CASES.iter().chain(THREE_TABLE_CASES)).map(|(sql, ordered, _)| (*sql, *ordered));
    let described = DESCRIBED_GROUPED_CASES.iter().copied();
    for (sql, ordered) in CASES.iter().copied().chain(grouped).chain(described) {
        differences.extend(compare(&mut proxy, &mut plain, sql, ordered).await);
    }
    assert!(
        differences.is_empty(),
        "{} of {} differ:\n{}",
        differences.len(),
        CASES.len(),
        differences.join("\n")
    );

    // Inside a transaction the copies answer (they see its writes), the same rows.
    let join = "SELECT t.id, p.name FROM tags t JOIN people p ON p.id = t.person ORDER BY t.id";
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("BEGIN").await.unwrap();
        conn.query_drop("INSERT INTO tags VALUES (500, 3, 'new', NULL, 1)")
            .await
            .unwrap();
    }
    differences.extend(compare(&mut proxy, &mut plain, join, true).await);
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("ROLLBACK").await.unwrap();
    }
    differences.extend(compare(&mut proxy, &mut plain, join, true).await);
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // The hash join's build side is bounded: 2,000 rows here.
    for id in (1000..3200).step_by(100) {
        let values: Vec<String> = (id..id + 100)
            .map(|i| format!("({i}, {}, 'bulk', NULL, 1)", i % 50))
            .collect();
        proxy
            .query_drop(format!("INSERT INTO tags VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
    let bounded = proxy
        .query_drop("SELECT p.id, t.id FROM people p JOIN tags t ON t.weight = p.score")
        .await;
    assert_eq!(
        server_error(bounded).0,
        1038,
        "the build side passed merge_max_rows"
    );
    // The connection answers on.
    let n: Option<i64> = proxy
        .query_first("SELECT COUNT(*) FROM people")
        .await
        .unwrap();
    assert_eq!(n, Some(60));

    // DDL through the proxy makes the schema cache forget the table. The first join across
    // shards after it reads its columns and is planned again: the Join primitive answers it
    // (EXPLAIN, which reads no columns, printed copies before it), as one server does.
    for conn in [&mut proxy, &mut plain] {
        conn.query_drop("ALTER TABLE people ADD COLUMN extra INT NULL")
            .await
            .unwrap();
    }
    let join = "SELECT p.id, t.id FROM people p JOIN tags t ON t.label = p.name WHERE t.id < 100";
    let before = plan_lines(&mut proxy, join).await;
    assert!(before[0].contains("materialize"), "{before:#?}");
    let answered = compare(&mut proxy, &mut plain, join, false).await;
    assert!(answered.is_none(), "{answered:?}");
    let after = plan_lines(&mut proxy, join).await;
    assert!(
        after.iter().any(|l| l.contains("HashJoin inner on")),
        "{after:#?}"
    );
    drop(plain);
    plain_sandbox.stop().await;
}
