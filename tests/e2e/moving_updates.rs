//! Issue #13: an UPDATE that changes the shard key of its rows moves each row whose new key
//! belongs to another shard there (read and locked, updated where it is, read back, deleted,
//! inserted), in one transaction: every stored value arrives bit for bit, generated columns are
//! recomputed, a key written back to its own shard moves nothing, a failure leaves every shard
//! as it was (inside the client's transaction too, which goes on), and what a move would do
//! that an UPDATE does not (foreign keys referencing the table, INSERT / DELETE triggers) is
//! refused before anything changes.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::common::{on_every_primary, rows, server_error, TestEnv};

const CONFIG: &str = "\n[[tables]]\nname = \"items\"\nshard_key = \"owner\"\n";

const ITEMS: &str = "CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, owner BIGINT NOT NULL, \
     f FLOAT, ts TIMESTAMP(3) NULL, b BLOB, bits BIT(5), note VARCHAR(20), \
     doubled BIGINT AS (owner * 2) STORED)";

/// Two owners on different shards.
fn owners(env: &TestEnv) -> (i64, i64) {
    let a = 1i64;
    let b = (2..1000)
        .find(|k| env.shard_of("items", *k) != env.shard_of("items", i128::from(a)))
        .expect("an owner on the other shard") as i64;
    (a, b)
}

/// Row `id` as stored on a shard's primary (every value in an exact form), if there.
async fn stored(conn: &mut Conn, id: i64) -> Option<Vec<Option<String>>> {
    rows(
        conn,
        &format!(
            "SELECT owner, CAST(f AS DOUBLE), UNIX_TIMESTAMP(ts), HEX(b), bits + 0, note, doubled FROM items WHERE id = {id}"
        ),
    )
    .await
    .pop()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_move_to_the_shard_of_their_new_key_exactly_as_they_were() {
    let env = TestEnv::start_with(2, 0, CONFIG).await;
    on_every_primary(&env.sandbox, ITEMS).await;
    let (a, b) = owners(&env);
    let (home, away) = (
        env.shard_of("items", a.into()),
        env.shard_of("items", b.into()),
    );
    let mut conn = env.connect().await;
    conn.query_drop("SET time_zone = 'Europe/Berlin'")
        .await
        .ok();
    conn.query_drop(format!(
        "INSERT INTO items (id, owner, f, ts, b, bits, note) VALUES (1, {a}, 16777217, '2024-03-31 01:30:00.125', X'00FF27', b'10101', 'x')"
    ))
    .await
    .unwrap();
    let mut at_home = env.connect_primary(home).await;
    let mut at_away = env.connect_primary(away).await;
    let before = stored(&mut at_home, 1)
        .await
        .expect("the row is on its owner's shard");

    conn.query_drop(format!(
        "UPDATE items SET owner = {b}, note = 'moved' WHERE id = 1"
    ))
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    assert_eq!(
        stored(&mut at_home, 1).await,
        None,
        "gone from its old shard"
    );
    let after = stored(&mut at_away, 1)
        .await
        .expect("on its new owner's shard");
    let mut expected = before.clone();
    expected[0] = Some(b.to_string());
    expected[5] = Some("moved".into());
    expected[6] = Some((2 * b).to_string());
    assert_eq!(
        after, expected,
        "every value as it was, the generated column recomputed"
    );

    // The same key again: matched, not changed, not moved.
    conn.query_drop(format!("UPDATE items SET owner = {b} WHERE id = 1"))
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 0);
    assert!(stored(&mut at_away, 1).await.is_some());

    // With ORDER BY … LIMIT across shards: the rows MariaDB's order picks.
    for id in 10..20 {
        conn.query_drop(format!("INSERT INTO items (id, owner) VALUES ({id}, {a})"))
            .await
            .unwrap();
    }
    conn.query_drop(format!("UPDATE items SET owner = {b} ORDER BY id LIMIT 3"))
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 2, "row 1 already had that owner");
    let moved: Vec<i64> = at_away
        .query("SELECT id FROM items ORDER BY id")
        .await
        .unwrap();
    assert_eq!(moved, [1, 10, 11]);

    // A key that would become NULL: MariaDB's own error (NOT NULL), nothing changed.
    let (code, _, message) = server_error(
        conn.query_drop("UPDATE items SET owner = NULL WHERE id = 12")
            .await,
    );
    assert_eq!(code, 1048, "{message}");

    // A primary key taken on the new shard: MariaDB's duplicate-key error, nothing moved.
    conn.query_drop(format!(
        "INSERT INTO items (id, owner) VALUES (30, {a}), (30, {b})"
    ))
    .await
    .unwrap();
    let (code, _, message) = server_error(
        conn.query_drop(format!(
            "UPDATE items SET owner = {b}, note = 'no' WHERE id = 30 AND owner = {a}"
        ))
        .await,
    );
    assert_eq!(code, 1062, "{message}");
    let left: Vec<(i64, Option<String>)> = at_home
        .query("SELECT owner, note FROM items WHERE id = 30")
        .await
        .unwrap();
    assert_eq!(left, [(a, None)], "the UPDATE of the source was taken back");

    // What a move does that an UPDATE does not: refused before anything changes.
    on_every_primary(
        &env.sandbox,
        "CREATE TABLE item_tags (item_id BIGINT, FOREIGN KEY (item_id) REFERENCES items (id))",
    )
    .await;
    let (code, _, message) = server_error(
        conn.query_drop(format!("UPDATE items SET owner = {b} WHERE id = 12"))
            .await,
    );
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("foreign keys"), "{message}");
    on_every_primary(&env.sandbox, "DROP TABLE item_tags").await;
    on_every_primary(
        &env.sandbox,
        "CREATE TRIGGER items_gone AFTER DELETE ON items FOR EACH ROW SET @gone = OLD.id",
    )
    .await;
    let (code, _, message) = server_error(
        conn.query_drop(format!("UPDATE items SET owner = {b} WHERE id = 12"))
            .await,
    );
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("items_gone"), "{message}");
    assert_eq!(
        stored(&mut at_home, 12).await.map(|r| r[0].clone()),
        Some(Some(a.to_string()))
    );
    on_every_primary(&env.sandbox, "DROP TRIGGER items_gone").await;

    // A column the proxy's schema cache does not know yet (added behind its back): a move
    // would lose its values, so it is refused and the columns read again; then it moves.
    on_every_primary(
        &env.sandbox,
        "ALTER TABLE items ADD COLUMN extra INT DEFAULT 7",
    )
    .await;
    conn.query_drop(format!(
        "UPDATE items SET extra = 9 WHERE id = 12 AND owner = {a}"
    ))
    .await
    .unwrap();
    let moving = format!("UPDATE items SET owner = {b} WHERE id = 12");
    let (code, _, message) = server_error(conn.query_drop(&moving).await);
    assert_eq!(code, 1235, "{message}");
    assert!(message.contains("extra int"), "{message}");
    conn.query_drop(&moving).await.unwrap();
    let extra: Vec<i64> = at_away
        .query("SELECT extra FROM items WHERE id = 12")
        .await
        .unwrap();
    assert_eq!(
        extra,
        [9],
        "the value of the column read again moved with its row"
    );
    drop((conn, at_home, at_away));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_transaction_a_failed_move_is_taken_back_and_the_transaction_goes_on() {
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "[server]\n",
            "[server]\ntransaction_mode = \"multi\"\n",
            1,
        ) + CONFIG
    })
    .await;
    on_every_primary(&env.sandbox, ITEMS).await;
    let (a, b) = owners(&env);
    let mut conn = env.connect().await;
    conn.query_drop(format!(
        "INSERT INTO items (id, owner) VALUES (1, {a}), (2, {a}), (3, {b})"
    ))
    .await
    .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!("UPDATE items SET owner = {b} WHERE id = 1"))
        .await
        .unwrap();
    // Row 2 would take primary key 3's place on a duplicate: 1062, and only this statement is
    // taken back.
    let (code, _, message) = server_error(
        conn.query_drop(format!("UPDATE items SET owner = {b}, id = 3 WHERE id = 2"))
            .await,
    );
    assert_eq!(code, 1062, "{message}");
    let owners_now: Vec<(i64, i64)> = conn
        .query("SELECT id, owner FROM items ORDER BY id")
        .await
        .unwrap();
    assert_eq!(owners_now, [(1, b), (2, a), (3, b)]);
    conn.query_drop("ROLLBACK").await.unwrap();
    let owners_now: Vec<(i64, i64)> = conn
        .query("SELECT id, owner FROM items ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        owners_now,
        [(1, a), (2, a), (3, b)],
        "the move rolled back with the transaction"
    );
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_row_stays_reachable_through_its_lookup() {
    let env = crate::lookups::start(2).await;
    let a = 1i64;
    let b = (2..1000)
        .find(|k| env.shard_of("users", *k) != env.shard_of("users", 1))
        .expect("an id on the other shard") as i64;
    let mut conn = env.connect().await;
    conn.query_drop(format!(
        "INSERT INTO users (id, email, name) VALUES ({a}, 'Moves@x.test', 'm'), (500000, 'other@x.test', 'o')"
    ))
    .await
    .unwrap();
    // To the other shard, and the email's lookup row names the new id.
    conn.query_drop(format!("UPDATE users SET id = {b} WHERE id = {a}"))
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let found: Vec<i64> = conn
        .query("SELECT id FROM users WHERE email = 'moves@x.test'")
        .await
        .unwrap();
    assert_eq!(
        found,
        [b],
        "found by email (the lookup compares as the table: _ci)"
    );
    let mut lookup = env.connect_primary(0).await;
    let mapped: Vec<i64> = lookup
        .query("SELECT id FROM users_email_lookup WHERE email = 'moves@x.test' ORDER BY id")
        .await
        .unwrap();
    assert!(mapped.contains(&b), "{mapped:?}");
    // A unique value another row holds: 1062 from the lookup, nothing moved.
    let (code, _, message) = server_error(
        conn.query_drop(format!(
            "UPDATE users SET id = {a}, email = 'OTHER@x.test' WHERE id = {b}"
        ))
        .await,
    );
    assert_eq!(code, 1062, "{message}");
    let found: Vec<(i64, String)> = conn
        .query("SELECT id, email FROM users WHERE email IS NOT NULL ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        found,
        [
            (b, "Moves@x.test".to_owned()),
            (500000, "other@x.test".to_owned())
        ]
    );
    drop((conn, lookup));
    env.stop().await;
}

/// A key set to a negative literal (sqlparser's span of `-181` is `181`'s): the rows were read
/// back by `181`, found nowhere, and stayed where they were under a key of another shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_to_a_negative_literal_moves_its_row_or_fails_as_one_server_would() {
    let config = "\n[[tables]]\nname = \"evs\"\nshard_key = \"id\"\nstrategy = \"range\"\n\
         ranges = [ { shard = \"s0\", end = 0 }, { shard = \"s1\", start = 0 } ]\n";
    let env = TestEnv::start_with(2, 0, config).await;
    on_every_primary(
        &env.sandbox,
        "CREATE TABLE evs (id BIGINT PRIMARY KEY, kind VARCHAR(8))",
    )
    .await;
    let mut conn = env.connect().await;
    conn.query_drop("INSERT INTO evs VALUES (5, 'a'), (6, 'b'), (-7, 'c')")
        .await
        .unwrap();
    conn.query_drop("UPDATE evs SET kind = 'moved', id = - 3 WHERE id = 5")
        .await
        .unwrap();
    let on = |shard: usize| {
        let env = &env;
        async move {
            let mut primary = env.connect_primary(shard).await;
            primary
                .query::<i64, _>("SELECT id FROM evs ORDER BY id")
                .await
                .unwrap()
        }
    };
    assert_eq!(on(0).await, [-7, -3], "row 5 moved to the shard of -3");
    assert_eq!(on(1).await, [6]);
    // Two rows of two shards given one key: MariaDB's duplicate, and nothing changed.
    let (code, _, message) = server_error(
        conn.query_drop("UPDATE evs SET id = -181 WHERE id IN (6, -7)")
            .await,
    );
    assert_eq!(code, 1062, "{message}");
    assert_eq!(on(0).await, [-7, -3]);
    assert_eq!(on(1).await, [6]);
    // MariaDB stores '-1.6' as -2, which reading back by '-1.6' does not find: refused, and
    // nothing changed (the row stayed on s1 under -2 before).
    let (code, _, message) = server_error(
        conn.query_drop("UPDATE evs SET id = '-1.6' WHERE id = 6")
            .await,
    );
    assert_eq!(code, 1105, "{message}");
    assert!(message.contains("0 of the 1 rows"), "{message}");
    assert_eq!(on(0).await, [-7, -3]);
    assert_eq!(on(1).await, [6]);
    drop(conn);
    env.stop().await;
}

/// A string key set to adjacent literals (`'ü' 'mlaut'`, one value whose span is the first's)
/// or to a literal with escapes: the row is read back by its value and lands where a read by
/// that value looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_string_key_set_to_adjacent_or_escaped_literals_is_found_by_its_value() {
    let config =
        "\n[[tables]]\nname = \"accounts\"\nshard_key = \"code\"\nshard_key_type = \"string\"\n";
    let env = TestEnv::start_with(2, 0, config).await;
    on_every_primary(
        &env.sandbox,
        "CREATE TABLE accounts (code VARCHAR(40) PRIMARY KEY, n INT) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin",
    )
    .await;
    let mut conn = env.connect().await;
    conn.query_drop("INSERT INTO accounts VALUES ('start', 1)")
        .await
        .unwrap();
    let steps = [
        ("'ü' 'mlaut'", "ümlaut"),
        ("'k' \"1\" '2'", "k12"),
        (r"'back\\slash'", r"back\slash"),
        ("'it''s' ' x'", "it's x"),
        ("'zz' 'top'", "zztop"),
        ("'q'", "q"),
    ];
    let mut from = "start".to_owned();
    for (literal, value) in steps {
        conn.exec_drop(
            format!("UPDATE accounts SET code = {literal}, n = n + 1 WHERE code = ?"),
            (from.as_str(),),
        )
        .await
        .unwrap();
        let found: Vec<(String, i32)> = conn
            .exec("SELECT code, n FROM accounts WHERE code = ?", (value,))
            .await
            .unwrap();
        assert_eq!(
            found.len(),
            1,
            "{literal}: the row is where its key {value:?} places it"
        );
        from = value.to_owned();
    }
    let mut total = 0;
    for shard in 0..2 {
        let mut primary = env.connect_primary(shard).await;
        let n: Option<i64> = primary
            .query_first("SELECT COUNT(*) FROM accounts")
            .await
            .unwrap();
        total += n.unwrap_or_default();
    }
    assert_eq!(total, 1, "one row in all");
    drop(conn);
    env.stop().await;
}
