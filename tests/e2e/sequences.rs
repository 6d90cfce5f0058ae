//! Sequences (global ids): INSERTs that leave `users.id` (and `orders.id`) to the proxy get
//! ids from a sequence table on the default shard, in every INSERT form, with MariaDB's
//! `LAST_INSERT_ID()` and OK-packet behaviour; ids stay unique over two proxies and a
//! `kill -9`; `shardgate sequence init` starts a sequence above existing rows.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Instant;

use crate::common::{connect_when_up, server_error, spawn_serve, TestEnv};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

/// The sandbox config with ids generated for `users.id` and `orders.id` (orders are sharded
/// by `user_id`), `cache` ids per reservation.
fn render(config: &str, cache: u64) -> String {
    config
        .replacen(
            "name = \"users\"\nshard_key = \"id\"\n",
            &format!("name = \"users\"\nshard_key = \"id\"\nauto_increment = {{ column = \"id\", sequence = \"users_seq\", cache = {cache} }}\n"),
            1,
        )
        .replacen(
            "name = \"orders\"\nshard_key = \"user_id\"\n",
            "name = \"orders\"\nshard_key = \"user_id\"\nauto_increment = { column = \"id\", sequence = \"orders_seq\" }\n",
            1,
        )
}

/// `shards` shards without replicas, the sequences created.
async fn start(shards: usize, cache: u64) -> TestEnv {
    let env = TestEnv::start_rendered(shards, 0, |sandbox, listen| {
        render(&sandbox.config_toml(listen), cache)
    })
    .await;
    let runtime = env.proxy.runtime();
    for table in ["users", "orders"] {
        shardgate_server::init_sequence(&runtime, table)
            .await
            .expect("sequence init");
    }
    env
}

/// Every (id, shard) of `table`, read from each shard's primary directly.
async fn ids_by_shard(env: &TestEnv, table: &str) -> Vec<(u64, usize)> {
    let mut all = Vec::new();
    for shard in 0..env.topology.shards.len() {
        let mut conn = env.connect_primary(shard).await;
        let ids: Vec<u64> = conn.query(format!("SELECT id FROM {table}")).await.unwrap();
        all.extend(ids.into_iter().map(|id| (id, shard)));
        conn.disconnect().await.unwrap();
    }
    all
}

/// Every row of `users` lives on the shard its id maps to, and no id is there twice.
async fn assert_placed_and_unique(env: &TestEnv) -> Vec<u64> {
    let placed = ids_by_shard(env, "users").await;
    let mut seen = HashSet::new();
    for &(id, shard) in &placed {
        assert!(seen.insert(id), "id {id} is on more than one row");
        assert_eq!(
            env.shard_of("users", i128::from(id)),
            shard,
            "id {id} is on the wrong shard"
        );
    }
    placed.into_iter().map(|(id, _)| id).collect()
}

async fn last_insert_id(conn: &mut Conn) -> u64 {
    conn.query_first("SELECT LAST_INSERT_ID()")
        .await
        .unwrap()
        .unwrap()
}

/// Runs `sql` and returns the OK packet's last insert id.
async fn insert(conn: &mut Conn, sql: &str) -> u64 {
    conn.query_drop(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.last_insert_id().unwrap_or_default()
}

/// A connection to shard 0's primary, where `plain` (an AUTO_INCREMENT table: what MariaDB
/// itself does) was made, and one through the proxy.
async fn plain_beside(env: &TestEnv) -> (Conn, Conn) {
    let mut direct = env.connect_primary(0).await;
    direct
        .query_drop("CREATE TABLE plain (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20))")
        .await
        .unwrap();
    (direct, env.connect().await)
}

/// The ids of the `users` rows named `name`, ascending.
async fn ids_named(conn: &mut Conn, name: &str) -> Vec<u64> {
    conn.query(format!(
        "SELECT id FROM users WHERE name = '{name}' ORDER BY id"
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_insert_form_gets_generated_ids() {
    let env = start(3, 50).await;
    let mut conn = env.connect().await;

    let first = insert(
        &mut conn,
        "INSERT INTO users (name, email) VALUES ('one', 'o@x')",
    )
    .await;
    assert!(first > 0);
    assert_eq!(ids_named(&mut conn, "one").await, [first]);
    assert_eq!(last_insert_id(&mut conn).await, first);

    // Multi-row: rows split over the shards, the OK and LAST_INSERT_ID() say the first id.
    let values: Vec<String> = (0..30).map(|i| format!("('multi', 'm{i}@x')")).collect();
    let sql = format!(
        "INSERT INTO users (name, email) VALUES {}",
        values.join(", ")
    );
    let reported = insert(&mut conn, &sql).await;
    let multi = ids_named(&mut conn, "multi").await;
    assert_eq!(multi.len(), 30);
    assert_eq!(reported, multi[0]);
    assert!(multi[0] > first);
    assert_eq!(last_insert_id(&mut conn).await, multi[0]);
    let shards: HashSet<usize> = multi
        .iter()
        .map(|id| env.shard_of("users", i128::from(*id)))
        .collect();
    assert_eq!(shards.len(), 3, "30 ids spread over every shard");

    let set = insert(
        &mut conn,
        "INSERT INTO users SET name = 'set', email = 's@x'",
    )
    .await;
    assert_eq!(ids_named(&mut conn, "set").await, [set]);
    assert_eq!(last_insert_id(&mut conn).await, set);

    // NULL, 0 and DEFAULT generate; an explicit id is kept.
    let mixed = insert(
        &mut conn,
        "INSERT INTO users (id, name) VALUES (NULL, 'mixed'), (0, 'mixed'), (DEFAULT, 'mixed'), (900007, 'mixed')",
    )
    .await;
    let got = ids_named(&mut conn, "mixed").await;
    assert_eq!(got.len(), 4);
    assert_eq!(got[3], 900007);
    assert_eq!(mixed, got[0], "the first generated id");
    assert_eq!(last_insert_id(&mut conn).await, got[0]);

    // The explicit id moved the sequence past it, as MariaDB moves an AUTO_INCREMENT.
    let after_explicit = insert(&mut conn, "INSERT INTO users (name) VALUES ('after')").await;
    assert_eq!(after_explicit, 900008);

    // Without a column list (the session writes the table's columns in).
    let positional = insert(
        &mut conn,
        "INSERT INTO users VALUES (NULL, 'pos@x', 'pos', NULL)",
    )
    .await;
    assert_eq!(ids_named(&mut conn, "pos").await, [positional]);
    assert_eq!(last_insert_id(&mut conn).await, positional);

    // LAST_INSERT_ID() in the statement reads the previous value; afterwards it is the new id.
    let reading = insert(
        &mut conn,
        "INSERT INTO users (name, email) VALUES ('reads', CONCAT('after-', LAST_INSERT_ID()))",
    )
    .await;
    let email: Option<String> = conn
        .query_first(format!("SELECT email FROM users WHERE id = {reading}"))
        .await
        .unwrap();
    assert_eq!(email, Some(format!("after-{positional}")));
    assert_eq!(last_insert_id(&mut conn).await, reading);
    let positional = reading;

    // Explicit ids only: LAST_INSERT_ID() stays.
    conn.query_drop("INSERT INTO users (id, name) VALUES (990008, 'explicit')")
        .await
        .unwrap();
    assert_eq!(last_insert_id(&mut conn).await, positional);
    // A prepared statement's id, given as a parameter, moves the sequence too.
    conn.exec_drop(
        "INSERT INTO users (id, name) VALUES (?, ?)",
        (995000, "prepared"),
    )
    .await
    .unwrap();
    let after_prepared = insert(&mut conn, "INSERT INTO users (name) VALUES ('after p')").await;
    assert_eq!(after_prepared, 995001);
    let positional = after_prepared;

    let upsert = insert(
        &mut conn,
        "INSERT INTO users (name, email) VALUES ('upsert', 'u@x') ON DUPLICATE KEY UPDATE name = 'upserted'",
    )
    .await;
    assert_eq!(ids_named(&mut conn, "upsert").await, [upsert]);
    let replaced = insert(
        &mut conn,
        "REPLACE INTO users (name, email) VALUES ('replace', 'r@x')",
    )
    .await;
    assert_eq!(ids_named(&mut conn, "replace").await, [replaced]);
    assert!(replaced > upsert && upsert > positional && positional > got[2]);

    // A column besides the shard key: orders are placed by user_id, ids come from orders_seq.
    let order = insert(
        &mut conn,
        &format!("INSERT INTO orders (user_id, amount) VALUES ({first}, 9.5)"),
    )
    .await;
    let placed: Vec<(u64, u64)> = conn
        .query(format!(
            "SELECT id, user_id FROM orders WHERE user_id = {first}"
        ))
        .await
        .unwrap();
    assert_eq!(placed, [(order, first)]);

    // SQL-level PREPARE / EXECUTE, and a transaction.
    conn.query_drop("PREPARE p FROM 'INSERT INTO users (name) VALUES (?)'")
        .await
        .unwrap();
    conn.query_drop("SET @n = 'sqlprep'").await.unwrap();
    conn.query_drop("EXECUTE p USING @n").await.unwrap();
    let sqlprep = ids_named(&mut conn, "sqlprep").await;
    assert_eq!(sqlprep.len(), 1);
    assert_eq!(last_insert_id(&mut conn).await, sqlprep[0]);
    conn.query_drop("BEGIN").await.unwrap();
    let in_txn = insert(&mut conn, "INSERT INTO users (name) VALUES ('txn')").await;
    conn.query_drop("ROLLBACK").await.unwrap();
    assert!(in_txn > sqlprep[0]);
    assert!(ids_named(&mut conn, "txn").await.is_empty());

    assert_placed_and_unique(&env).await;
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auto_value_on_zero_stores_zero() {
    let env = start(2, 10).await;
    let mut conn = env.connect().await;
    conn.query_drop("SET sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO users (id, name) VALUES (0, 'zero')")
        .await
        .unwrap();
    assert_eq!(ids_named(&mut conn, "zero").await, [0]);
    // NULL still generates; and the same text again (the plan cache) still stores 0 once.
    let generated = insert(
        &mut conn,
        "INSERT INTO users (id, name) VALUES (NULL, 'null')",
    )
    .await;
    assert!(generated > 0);
    assert_eq!(ids_named(&mut conn, "null").await, [generated]);
    conn.query_drop("SET sql_mode = REPLACE(@@sql_mode, 'NO_AUTO_VALUE_ON_ZERO', '')")
        .await
        .unwrap();
    // Twice, so that the second is served from the session's plan cache.
    for _ in 0..2 {
        conn.query_drop("INSERT INTO users (id, name) VALUES (0, 'gen')")
            .await
            .unwrap();
    }
    let gen = ids_named(&mut conn, "gen").await;
    assert_eq!(gen.len(), 2);
    assert!(gen.iter().all(|id| *id > generated), "{gen:?}");
    assert_placed_and_unique(&env).await;
    conn.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_inserts_get_generated_ids() {
    let env = start(3, 20).await;
    let mut conn = env.connect().await;
    let missing = conn
        .prep("INSERT INTO users (name, email) VALUES (?, ?)")
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..10 {
        conn.exec_drop(&missing, ("prep", format!("p{i}@x")))
            .await
            .unwrap();
        let id = conn.last_insert_id().unwrap();
        assert!(id > last);
        last = id;
        assert_eq!(last_insert_id(&mut conn).await, id);
    }
    let bound_null = conn
        .prep("INSERT INTO users (id, name) VALUES (?, ?)")
        .await
        .unwrap();
    conn.exec_drop(&bound_null, (None::<u64>, "null"))
        .await
        .unwrap();
    let null_id = conn.last_insert_id().unwrap();
    conn.exec_drop(&bound_null, (0u64, "zero")).await.unwrap();
    let zero_id = conn.last_insert_id().unwrap();
    conn.exec_drop(&bound_null, (900_005u64, "five"))
        .await
        .unwrap();
    assert_eq!(ids_named(&mut conn, "null").await, [null_id]);
    assert_eq!(ids_named(&mut conn, "zero").await, [zero_id]);
    assert_eq!(ids_named(&mut conn, "five").await, [900_005]);
    assert_eq!(
        last_insert_id(&mut conn).await,
        zero_id,
        "an explicit id leaves it"
    );
    // Multi-row, prepared: split over the shards.
    let multi = conn
        .prep("INSERT INTO users (name) VALUES (?), (?), (?), (?), (?), (?)")
        .await
        .unwrap();
    conn.exec_drop(&multi, ("pm", "pm", "pm", "pm", "pm", "pm"))
        .await
        .unwrap();
    let reported = conn.last_insert_id().unwrap();
    let pm = ids_named(&mut conn, "pm").await;
    assert_eq!(pm.len(), 6);
    assert_eq!(reported, pm[0]);
    assert_eq!(last_insert_id(&mut conn).await, pm[0]);
    assert_placed_and_unique(&env).await;
    conn.disconnect().await.unwrap();
    env.stop().await;
}

/// The same statements on a plain AUTO_INCREMENT table straight on MariaDB and on `users`
/// through the proxy: the OK packet's id and LAST_INSERT_ID() follow the same rules (the
/// first generated id; explicit ids leave LAST_INSERT_ID() and are reported as MariaDB does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_ids_as_mariadb_reports_them() {
    let env = start(2, 1000).await;
    for shard in 0..2 {
        let mut direct = env.connect_primary(shard).await;
        // As a schema moved from one server keeps it.
        direct
            .query_drop("ALTER TABLE users MODIFY id BIGINT NOT NULL AUTO_INCREMENT")
            .await
            .unwrap();
    }
    let (mut direct, mut proxied) = plain_beside(&env).await;
    // (statement on `plain`, the same on `users`): what each reports, relative to the rows.
    let statements = [
        "INSERT INTO T (name) VALUES ('a')",
        "INSERT INTO T (name) VALUES ('b'), ('b'), ('b'), ('b')",
        "INSERT INTO T (id, name) VALUES (NULL, 'c'), (900000, 'c'), (NULL, 'c')",
        "INSERT INTO T (id, name) VALUES (900100, 'd')",
        "INSERT INTO T SET name = 'e'",
        "INSERT INTO T (id, name) VALUES (900200, 'f'), (900201, 'f')",
    ];
    for template in statements {
        let mut shapes = Vec::new();
        for (conn, table) in [(&mut direct, "plain"), (&mut proxied, "users")] {
            let sql = template.replace(" T ", &format!(" {table} "));
            let before = last_insert_id(conn).await;
            conn.query_drop(&sql).await.unwrap();
            let reported = conn.last_insert_id().unwrap_or_default();
            let after = last_insert_id(conn).await;
            let ids: Vec<u64> = conn
                .query(format!("SELECT id FROM {table} ORDER BY id"))
                .await
                .unwrap();
            let name = &template[template.find('\'').unwrap() + 1..][..1];
            let named: Vec<u64> = conn
                .query(format!(
                    "SELECT id FROM {table} WHERE name = '{name}' ORDER BY id"
                ))
                .await
                .unwrap();
            // Where the reported id and LAST_INSERT_ID() sit among the statement's rows.
            let at = |id: u64| named.iter().position(|n| *n == id);
            shapes.push((
                at(reported),
                at(after),
                after == before,
                named.len(),
                ids.len(),
            ));
        }
        assert_eq!(shapes[0], shapes[1], "{template}: MariaDB vs proxy");
    }
    proxied.disconnect().await.unwrap();
    env.stop().await;
}

/// `SET insert_id = N` (what `mariadb-binlog` output replays before an INSERT) gives the next
/// statement's generated ids N, N + 1, …, as MariaDB gives its AUTO_INCREMENT values, then is
/// spent: before, the proxy took the ids from the sequence and the rows got other ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_insert_id_gives_the_next_statement_its_ids() {
    let env = start(2, 1000).await;
    let (mut direct, mut proxied) = plain_beside(&env).await;
    let mut seen = Vec::new();
    for (conn, table) in [(&mut direct, "plain"), (&mut proxied, "users")] {
        conn.query_drop("SET insert_id = 777000").await.unwrap();
        let reported = insert(
            conn,
            &format!("INSERT INTO {table} (name) VALUES ('i'), ('i'), ('i')"),
        )
        .await;
        let ids: Vec<u64> = conn
            .query(format!(
                "SELECT id FROM {table} WHERE name = 'i' ORDER BY id"
            ))
            .await
            .unwrap();
        let spent: u64 = conn
            .query_first("SELECT @@insert_id")
            .await
            .unwrap()
            .unwrap();
        seen.push((reported, last_insert_id(conn).await, ids, spent));
    }
    assert_eq!(seen[0], (777000, 777000, vec![777000, 777001, 777002], 0));
    assert_eq!(seen[1], seen[0], "the proxy gives the ids MariaDB gives");
    // Spent: the next INSERT takes its id from the sequence again.
    let next = insert(&mut proxied, "INSERT INTO users (name) VALUES ('j')").await;
    assert!(!(777000..777003).contains(&next), "{next}");
    assert_placed_and_unique(&env).await;
    proxied.disconnect().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_init_starts_above_every_shard() {
    let env = TestEnv::start_rendered(3, 0, |sandbox, listen| {
        render(&sandbox.config_toml(listen), 100)
    })
    .await;
    let mut conn = env.connect().await;
    // No sequence table yet: a clear error naming the command that creates it.
    let (code, state, message) = server_error(
        conn.query_drop("INSERT INTO users (name) VALUES ('early')")
            .await,
    );
    assert_eq!((code, state.as_str()), (1146, "42S02"), "{message}");
    assert!(message.contains("shardgate sequence init"), "{message}");
    // A row with an id of its own needs no sequence (`sequence init` starts above it).
    conn.query_drop("INSERT INTO users (id, name) VALUES (5, 'given early')")
        .await
        .unwrap();
    conn.query_drop("DELETE FROM users WHERE id = 5")
        .await
        .unwrap();
    // Rows with ids of their own, the largest on the last shard.
    let mut expected_max = Vec::new();
    for shard in 0..3 {
        let ids: Vec<i128> = (1..)
            .filter(|id| env.shard_of("users", *id) == shard)
            .take(3)
            .map(|id| id * 1000)
            .filter(|id| env.shard_of("users", *id) == shard)
            .collect();
        let mut direct = env.connect_primary(shard).await;
        for id in &ids {
            direct
                .query_drop(format!("INSERT INTO users (id, name) VALUES ({id}, 'old')"))
                .await
                .unwrap();
        }
        expected_max.push(ids.iter().max().copied().unwrap_or(0));
    }
    let stdout = crate::common::shardgate_cli([
        "sequence".as_ref(),
        "init".as_ref(),
        "--config".as_ref(),
        env.config_path.as_os_str(),
        "--table".as_ref(),
        "users".as_ref(),
    ]);
    let top = expected_max.iter().max().copied().unwrap();
    for (shard, max) in expected_max.iter().enumerate() {
        assert!(
            stdout.contains(&format!("s{shard}: largest id {max}")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("sequence users_seq: next id {}", top + 1)),
        "{stdout}"
    );
    // Running it again never moves the sequence down.
    let again = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["sequence", "init", "--config"])
        .arg(&env.config_path)
        .args(["--table", "users"])
        .output()
        .unwrap();
    assert!(again.status.success());
    let id = insert(&mut conn, "INSERT INTO users (name) VALUES ('new')").await;
    assert_eq!(id, u64::try_from(top).unwrap() + 1);
    assert_placed_and_unique(&env).await;
    // `route --sql` says where such an INSERT's ids come from.
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["route", "--config"])
        .arg(&env.config_path)
        .args(["--sql", "INSERT INTO users (name) VALUES ('a'), ('b')"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("2 generated id(s) for `users`.`id` from sequence users_seq"),
        "{stdout}"
    );
    // A table without auto_increment has no sequence.
    let out = Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["sequence", "init", "--config"])
        .arg(&env.config_path)
        .args(["--table", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no auto_increment"));
    conn.disconnect().await.unwrap();
    env.stop().await;
}

/// INSERT … SELECT leaving the id out: the proxy runs the SELECT and inserts its rows with ids
/// from the sequence, split by shard, LAST_INSERT_ID() the first of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_select_without_ids_gets_generated_ids() {
    let env = start(2, 10).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE staging (name VARCHAR(20))")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO staging VALUES ('s1'), ('s2'), ('it''s'), (NULL)")
        .await
        .unwrap();
    let first = insert(
        &mut conn,
        "INSERT INTO users (name) SELECT name FROM staging",
    )
    .await;
    assert_eq!(conn.affected_rows(), 4);
    assert!(first > 0);
    assert_eq!(last_insert_id(&mut conn).await, first);
    let ids = assert_placed_and_unique(&env).await;
    assert_eq!(ids.len(), 4);
    let mut names: Vec<Option<String>> = conn
        .query("SELECT name FROM users ORDER BY name")
        .await
        .unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            None,
            Some("it's".into()),
            Some("s1".into()),
            Some("s2".into())
        ]
    );
    // ON DUPLICATE KEY UPDATE with it stays refused, saying why.
    let (code, state, message) = server_error(
        conn.query_drop(
            "INSERT INTO users (name) SELECT name FROM staging ON DUPLICATE KEY UPDATE name = 'x'",
        )
        .await,
    );
    assert_eq!((code, state.as_str()), (1235, "42000"), "{message}");
    assert!(message.contains("INSERT … SELECT"), "{message}");
    conn.disconnect().await.unwrap();
    env.stop().await;
}

/// One client's share of the load: single-row, multi-row and prepared inserts without ids,
/// each followed by a check of the session's LAST_INSERT_ID(). Returns the ids it was told.
async fn insert_load(opts: Opts, client: usize, rows: usize) -> HashMap<u64, usize> {
    const MULTI: usize = 20;
    let mut conn = Conn::new(opts).await.unwrap();
    let prepared = conn
        .prep("INSERT INTO users (name, email) VALUES (?, ?)")
        .await
        .unwrap();
    let mut told = HashMap::new();
    let mut done = 0;
    let mut step = 0;
    while done < rows {
        let name = format!("c{client}s{step}");
        let (first, n) = match step % 3 {
            0 => {
                conn.query_drop(format!("INSERT INTO users (name) VALUES ('{name}')"))
                    .await
                    .unwrap();
                (conn.last_insert_id().unwrap(), 1)
            }
            1 => {
                let n = MULTI.min(rows - done);
                let values = vec![format!("('{name}')"); n].join(", ");
                conn.query_drop(format!("INSERT INTO users (name) VALUES {values}"))
                    .await
                    .unwrap();
                (conn.last_insert_id().unwrap(), n)
            }
            _ => {
                conn.exec_drop(&prepared, (&name, format!("{name}@x")))
                    .await
                    .unwrap();
                (conn.last_insert_id().unwrap(), 1)
            }
        };
        assert_eq!(
            last_insert_id(&mut conn).await,
            first,
            "client {client}: LAST_INSERT_ID() after step {step}"
        );
        told.insert(first, n);
        done += n;
        step += 1;
    }
    conn.disconnect().await.unwrap();
    told
}

/// Blocks of 3 ids for 8 sessions inserting up to 5 rows at a time: most statements outrun the
/// blocks in memory, wait for a reservation or make one. Still every id is unique, on its shard,
/// and each session's LAST_INSERT_ID() its statement's first id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tiny_blocks_under_concurrent_sessions() {
    let env = start(3, 3).await;
    let runs = (0..8).map(|client| {
        let opts = Opts::from(env.opts());
        tokio::spawn(async move {
            let mut conn = Conn::new(opts).await.unwrap();
            let mut rows = 0;
            for step in 0..60 {
                let n = 1 + (client + step) % 5;
                let values = vec![format!("('t{client}')"); n].join(", ");
                conn.query_drop(format!("INSERT INTO users (name) VALUES {values}"))
                    .await
                    .unwrap();
                let first = conn.last_insert_id().unwrap();
                assert_eq!(last_insert_id(&mut conn).await, first);
                rows += n;
            }
            conn.disconnect().await.unwrap();
            rows
        })
    });
    let mut total = 0;
    for run in futures_util::future::join_all(runs).await {
        total += run.unwrap();
    }
    assert_eq!(assert_placed_and_unique(&env).await.len(), total);
    env.stop().await;
}

/// 8 clients over two proxies (this process's and a `shardgate serve` child) insert 100,000
/// rows without ids on 3 shards: every id unique, on its shard, LAST_INSERT_ID() right in
/// every session. Then the child is killed with SIGKILL and restarted: its new ids are above
/// every id handed out before, none reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insert_load_over_two_proxies_survives_kill_9() {
    const ROWS: usize = 100_000;
    const CLIENTS: usize = 8;
    let env = start(3, 1000).await;
    let (second, port) = env.second_proxy_config();
    let log = env.sandbox.dir().join("second.log");
    let mut child = spawn_serve(&second, &log);
    let second_opts = Opts::from(env.opts().tcp_port(port));
    connect_when_up(&second_opts)
        .await
        .disconnect()
        .await
        .unwrap();

    let started = Instant::now();
    let loads = (0..CLIENTS).map(|client| {
        let opts = match client % 2 {
            0 => Opts::from(env.opts()),
            _ => second_opts.clone(),
        };
        tokio::spawn(insert_load(opts, client, ROWS / CLIENTS))
    });
    let mut told = HashMap::new();
    for load in futures_util::future::join_all(loads).await {
        for (first, n) in load.unwrap() {
            assert!(
                told.insert(first, n).is_none(),
                "first id {first} told twice"
            );
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "inserted {ROWS} rows through 2 proxies in {:.1}s ({:.0} rows/s)",
        elapsed.as_secs_f64(),
        ROWS as f64 / elapsed.as_secs_f64()
    );
    let ids = assert_placed_and_unique(&env).await;
    assert_eq!(ids.len(), ROWS);
    let all: HashSet<u64> = ids.iter().copied().collect();
    for first in told.keys() {
        assert!(
            all.contains(first),
            "a reported first id {first} has no row"
        );
    }
    let before = ids.iter().max().copied().unwrap();

    // SIGKILL: the child loses the ids it had reserved and not handed out.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let _child = spawn_serve(&second, &log);
    let mut conn = connect_when_up(&second_opts).await;
    let mut after = Vec::new();
    for i in 0..5 {
        conn.query_drop(format!(
            "INSERT INTO users (name) VALUES ('after{i}'), ('after{i}')"
        ))
        .await
        .unwrap();
        after.push(conn.last_insert_id().unwrap());
    }
    assert!(
        after.iter().all(|id| *id > before),
        "ids after the restart {after:?} must be above every earlier id (max {before})"
    );
    let ids = assert_placed_and_unique(&env).await;
    assert_eq!(ids.len(), ROWS + 10);
    // The in-process proxy served half the clients (the registry is the test program's).
    let metrics = shardgate_metrics::metrics();
    let handed = metrics
        .sequence_ids_total
        .with_label_values(&["users_seq"])
        .get();
    let blocks = metrics
        .sequence_blocks_total
        .with_label_values(&["users_seq"])
        .get();
    assert!(handed >= (ROWS / 2) as u64, "ids handed out: {handed}");
    assert!(
        blocks >= (ROWS / 2 / 1000) as u64,
        "blocks reserved: {blocks}"
    );
    conn.disconnect().await.unwrap();
    env.stop().await;
}

/// Not a test: the cost of generated ids, for the README. One client, single-row INSERTs
/// through the proxy on 3 shards, ids given vs ids generated (same rows otherwise), then
/// 4 clients. Run with
/// `cargo test --release --test e2e sequences::insert_rate -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn insert_rate_with_and_without_generated_ids() {
    const ROWS: u64 = 5000;
    let env = start(3, 1000).await;
    let rate = |n: u64, since: Instant| n as f64 / since.elapsed().as_secs_f64();
    for clients in [1u64, 4] {
        for generated in [false, true] {
            let since = Instant::now();
            let runs = (0..clients).map(|c| {
                let opts = Opts::from(env.opts());
                tokio::spawn(async move {
                    let mut conn = Conn::new(opts).await.unwrap();
                    for i in 0..ROWS / clients {
                        let sql = match generated {
                            true => "INSERT INTO users (name) VALUES ('rate')".to_owned(),
                            false => format!(
                                "INSERT INTO users (id, name) VALUES ({}, 'rate')",
                                10_000_000 * (clients + 1) + c * ROWS + i
                            ),
                        };
                        conn.query_drop(sql).await.unwrap();
                    }
                    conn.disconnect().await.unwrap();
                })
            });
            for run in futures_util::future::join_all(runs).await {
                run.unwrap();
            }
            eprintln!(
                "{clients} client(s), ids {}: {:.0} inserts/s",
                if generated { "generated" } else { "given" },
                rate(ROWS, since)
            );
        }
    }
    env.stop().await;
}
