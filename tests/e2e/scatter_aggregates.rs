//! Aggregates a scatter computes from the shards' raw values (issue #13): DISTINCT aggregates
//! and GROUP_CONCAT under the merge's memory bound, and GROUP_CONCAT's `group_concat_max_len`
//! cut with MariaDB's warning 1260; `WITH ROLLUP` and window functions computed by the merge,
//! a window's held rows under the same bound. Their answers against one MariaDB are compared
//! by the differential test (`differential/aggregates.sql`, `differential/corpus.sql`).

use crate::common::{rows, server_error, TestEnv};
use mysql_async::prelude::Queryable;

/// 60 users on 3 shards: names `Name0` … `Name12` (every 7th NULL), scores 1..=60.
async fn load_users(conn: &mut mysql_async::Conn) {
    conn.query_drop("ALTER TABLE users ADD COLUMN score INT NULL")
        .await
        .unwrap();
    let values: Vec<String> = (1..=60)
        .map(|id| {
            let name = if id % 7 == 0 {
                "NULL".to_owned()
            } else {
                format!("'Name{}'", id % 13)
            };
            format!("({id}, 'user{id}@example.com', {name}, {id})")
        })
        .collect();
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name, score) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

/// A connection to a proxy of `env`'s shards whose merges hold at most 20 rows.
async fn bounded_proxy(env: &TestEnv) -> mysql_async::Conn {
    let config = std::fs::read_to_string(&env.config_path)
        .unwrap()
        .replace("[server]\n", "[server]\nmerge_max_rows = 20\n");
    let topology = shardgate_config::parse(&config, "bounded.toml").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(shardgate_server::serve(
        listener,
        shardgate_server::Proxy::new(topology),
        std::future::pending(),
    ));
    mysql_async::Conn::new(env.opts().tcp_port(port))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_values_stop_at_the_memory_bound() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = bounded_proxy(&env).await;
    load_users(&mut conn).await;
    // 13 distinct names fit under 20; 60 distinct ids do not, nor 60 concatenated rows.
    assert_eq!(
        rows(
            &mut conn,
            "SELECT COUNT(DISTINCT name), COUNT(*) FROM users"
        )
        .await,
        vec![vec![Some("13".into()), Some("60".into())]]
    );
    for sql in [
        "SELECT COUNT(DISTINCT id) FROM users",
        "SELECT SUM(DISTINCT score) FROM users",
        "SELECT GROUP_CONCAT(id ORDER BY id) FROM users",
    ] {
        let (code, state, msg) = server_error(conn.query_drop(sql).await);
        assert_eq!((code, state.as_str()), (1038, "HY001"), "{sql}: {msg}");
    }
    // Grouped, one group is held at a time: each of 13 name groups fits.
    let grouped = rows(
        &mut conn,
        "SELECT name, COUNT(DISTINCT id) FROM users WHERE name IS NOT NULL GROUP BY name ORDER BY name",
    )
    .await;
    assert_eq!(grouped.len(), 13);
    drop(conn);
    env.stop().await;
}

/// The plan tree `EXPLAIN` answers for a statement across shards.
async fn plan_lines(conn: &mut mysql_async::Conn, sql: &str) -> Vec<String> {
    type PlanRow = (String, Option<String>, Option<String>);
    let rows: Vec<PlanRow> = conn.query(format!("EXPLAIN {sql}")).await.unwrap();
    rows.into_iter().map(|(plan, _, _)| plan).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_and_windows_run_in_the_merge_within_its_bound() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = bounded_proxy(&env).await;
    load_users(&mut conn).await;
    let rollup =
        "SELECT name, COUNT(*), SUM(score) FROM users WHERE score <= 26 GROUP BY name WITH ROLLUP";
    let plan = plan_lines(&mut conn, rollup).await;
    assert!(
        plan.iter()
            .any(|l| l.contains("Aggregate group by #0 with rollup")),
        "{plan:#?}"
    );
    // Names 'Name0' … 'Name12' (scores 1..=26, 7, 14 and 21 NULL), then the grand total.
    let answer = rows(&mut conn, rollup).await;
    assert_eq!(answer.len(), 15, "{answer:?}");
    assert_eq!(
        answer[0],
        vec![None, Some("3".into()), Some("42".into())],
        "the NULL name's group first"
    );
    assert_eq!(
        answer[14],
        vec![None, Some("26".into()), Some("351".into())],
        "the grand total last"
    );

    // Ranks over all shards' rows: one row held at a time (each id its own peer group).
    let ranked = "SELECT id, ROW_NUMBER() OVER (ORDER BY score DESC) AS rn FROM users ORDER BY rn";
    let plan = plan_lines(&mut conn, ranked).await;
    assert!(
        plan.iter().any(|l| l.contains("Window over order by")),
        "{plan:#?}"
    );
    let answer = rows(&mut conn, ranked).await;
    assert_eq!(answer.len(), 60);
    assert_eq!(answer[0], vec![Some("60".into()), Some("1".into())]);
    assert_eq!(answer[59], vec![Some("1".into()), Some("60".into())]);
    // A window over all rows holds them all: past merge_max_rows, 1038.
    let (code, state, msg) = server_error(
        conn.query_drop("SELECT id, COUNT(*) OVER () FROM users")
            .await,
    );
    assert_eq!((code, state.as_str()), (1038, "HY001"), "{msg}");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_concat_is_cut_at_its_max_len_with_warning_1260() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    load_users(&mut conn).await;
    conn.query_drop("SET SESSION group_concat_max_len = 4")
        .await
        .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            "SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id <= 4"
        )
        .await,
        vec![vec![Some("1,2,".into())]]
    );
    assert_eq!(
        rows(&mut conn, "SHOW WARNINGS").await,
        vec![vec![
            Some("Warning".into()),
            Some("1260".into()),
            Some("Row 3 was cut by GROUP_CONCAT()".into())
        ]]
    );
    assert_eq!(
        rows(
            &mut conn,
            "SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id <= 2"
        )
        .await,
        vec![vec![Some("1,2".into())]]
    );
    assert_eq!(conn.get_warnings(), 0, "nothing cut, no warning");
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stddev_is_answered_as_text_and_in_binary() {
    let env = TestEnv::start(3, 0).await;
    let mut conn = env.connect().await;
    load_users(&mut conn).await;
    // Scores 1..=60: the population deviation is sqrt(299.9166…), printed with 4 decimals.
    assert_eq!(
        rows(&mut conn, "SELECT STD(score), VAR_SAMP(score) FROM users").await,
        vec![vec![Some("17.3181".into()), Some("305.0000".into())]]
    );
    // The binary protocol shows the whole double, whose last bits follow the row order: the
    // merge would not reproduce them, so MariaDB computes it over copies of the table.
    let binary: Option<f64> = conn
        .exec_first("SELECT STD(score) FROM users WHERE id > ?", (0,))
        .await
        .unwrap();
    let exact = (299.0_f64 + 11.0 / 12.0).sqrt();
    let binary = binary.unwrap();
    assert!((binary - exact).abs() < 1e-12, "{binary} vs {exact}");
    drop(conn);
    env.stop().await;
}
