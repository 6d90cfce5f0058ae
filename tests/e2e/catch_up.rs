//! Issue #15's catch-up against real MariaDB: two source shards' binlogs applied to a third
//! shard for the keys that move to it (`k >= 1000` here), every value type read back exactly,
//! transactions kept whole, rolled-back and non-moving changes never reaching the target, a
//! killed dump connection resumed from the last applied GTID, and a catch-up held at a
//! position (a verify's) applying nothing past it until released.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use shardgate_binlog::{new_owner_by, GtidPos};
use shardgate_ring::{KeyKind, KeyRange, RangeMap, Sharder};
use shardgate_server::{CatchUp, CatchUpSpec, FollowedTable};

use crate::common::{on_every_primary, rows, TestEnv};

const TARGET: usize = 2;

/// Every value type the catch-up writes back, a generated column, and `k`, the shard key
/// (apart from the primary key, so an update can move a row in and out of the moving keys).
const TABLE: &str = "CREATE TABLE cu_items (
    id INT PRIMARY KEY, k BIGINT NOT NULL,
    ti TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT UNSIGNED, bi BIGINT UNSIGNED, ni INT,
    f FLOAT, d DOUBLE, de DECIMAL(30,8),
    dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(4), dd DATE, yr YEAR,
    vc VARCHAR(40), ch CHAR(6), vb VARBINARY(16), bl BLOB, tx TEXT,
    bt BIT(10), en ENUM('red','green','blue'), st SET('x','y','z'), js JSON,
    gen INT AS (ni + 1) VIRTUAL)";

/// Every column as text that differs whenever the stored value differs (floats widened to
/// double, timestamps as epoch seconds whatever the session's time zone, bytes as hex).
const SELECT: &str = "SELECT id, k, ti, si, mi, bi, ni, CAST(f AS DOUBLE), d, de, dt, \
    UNIX_TIMESTAMP(ts), tm, dd, yr, HEX(vc), HEX(ch), HEX(vb), HEX(bl), HEX(tx), bt + 0, \
    en + 0, st + 0, HEX(js), gen FROM cu_items";

/// A row with every column set from `id` and `k`: extremes for some ids.
fn values(id: i64, k: i64) -> String {
    let edge = id % 3 == 0;
    let (ti, mi, bi) = match edge {
        true => ("255", "16777215", "18446744073709551615"),
        false => ("7", "70000", "9007199254740993"),
    };
    let ts = match id % 4 {
        0 => "NULL".to_owned(),
        1 => "'1970-01-01 00:00:01.5'".to_owned(),
        _ => format!("'2037-12-31 23:59:0{}.125'", id % 7),
    };
    format!(
        "({id}, {k}, {ti}, -{id}, {mi}, {bi}, {ni}, {f}, {d}, -1234567890123.{id:08}, \
         '2024-02-29 23:59:58.{id:06}', {ts}, '-838:59:59.{id:04}', '0000-00-00', {yr}, \
         'é{id}\\'\"', 'c{id}', X'00FF{id:04}00', REPEAT(X'{byte:02X}00', 300), \
         CONCAT('πλ', {id}), b'1010101{b}', {en}, {st}, JSON_OBJECT('id', {id}, 'a', JSON_ARRAY(1.5, NULL)))",
        ni = id * 1000 - 7,
        f = if edge { "3.4028234e38" } else { "0.1" },
        d = if edge { "-2.2250738585072014e-308" } else { "0.30000000000000004" },
        yr = if edge { "0" } else { "2155" },
        byte = id % 256,
        b = id % 2,
        en = 1 + id % 3,
        st = id % 8,
    )
}

fn insert(rows: &[(i64, i64)]) -> String {
    let all: Vec<String> = rows.iter().map(|(id, k)| values(*id, *k)).collect();
    format!(
        "INSERT INTO cu_items (id, k, ti, si, mi, bi, ni, f, d, de, dt, ts, tm, dd, yr, vc, ch, vb, bl, tx, bt, en, st, js) VALUES {}",
        all.join(", ")
    )
}

/// A connection to a source's primary writing TIMESTAMPs in UTC.
async fn source(env: &TestEnv, shard: usize) -> Conn {
    let mut conn = env.connect_primary(shard).await;
    conn.query_drop("SET time_zone = '+00:00'").await.unwrap();
    conn
}

async fn position(conn: &mut Conn) -> GtidPos {
    let pos: Option<String> = conn
        .query_first("SELECT @@global.gtid_binlog_pos")
        .await
        .unwrap();
    pos.unwrap_or_default().parse().unwrap()
}

/// The catch-up of `source`'s `cu_items` rows whose `k` is 1000 or more, to the target.
fn spec(env: &TestEnv, source: usize, start: GtidPos) -> CatchUpSpec {
    let runtime = env.proxy.runtime();
    let name = |i: usize| env.topology.shards[i].name.clone();
    let ranges = RangeMap::new(vec![
        KeyRange {
            start: None,
            end: Some(1000),
            shard: 0,
        },
        KeyRange {
            start: Some(1000),
            end: None,
            shard: 1,
        },
    ])
    .unwrap();
    CatchUpSpec {
        source: name(source),
        source_primary: runtime.primary(source).clone(),
        database: shardgate_sandbox::DATABASE.to_owned(),
        start,
        tables: vec![FollowedTable {
            name: "cu_items".into(),
            shard_key: "k".into(),
            new_owner: new_owner_by(
                Arc::new(Sharder::Range(ranges)),
                vec![name(source), name(TARGET)],
                name(source),
                KeyKind::Integer,
            ),
        }],
        targets: [(name(TARGET), runtime.primary(TARGET).clone())].into(),
        server_id: 4_000_000 + source as u32,
    }
}

/// What the sources hold of the moving keys, and what the target holds.
async fn moving_rows_and_target(
    env: &TestEnv,
) -> (Vec<Vec<Option<String>>>, Vec<Vec<Option<String>>>) {
    let mut expected = Vec::new();
    for source in 0..TARGET {
        let mut conn = env.connect_primary(source).await;
        expected.extend(rows(&mut conn, &format!("{SELECT} WHERE k >= 1000")).await);
    }
    expected.sort();
    let mut target = env.connect_primary(TARGET).await;
    let mut held = rows(&mut target, &format!("{SELECT} ORDER BY id")).await;
    held.sort();
    (expected, held)
}

async fn caught_up(catch_up: &mut CatchUp) {
    tokio::time::timeout(Duration::from_secs(60), catch_up.reach_source_now())
        .await
        .expect("the catch-up reaches the source's position")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_applies_the_moving_rows_of_two_sources_exactly() {
    let env = TestEnv::start(3, 0).await;
    on_every_primary(&env.sandbox, TABLE).await;
    // A table the catch-up does not follow, absent on the target: a change of it applied
    // there would fail the catch-up.
    for source in 0..TARGET {
        let mut conn = env.connect_primary(source).await;
        conn.query_drop("CREATE TABLE cu_other (id INT PRIMARY KEY, k BIGINT)")
            .await
            .unwrap();
    }
    let (mut s0, mut s1) = (source(&env, 0).await, source(&env, 1).await);
    let mut target = source(&env, TARGET).await;
    // Rows before the snapshot, and the copy of the moving ones.
    s0.query_drop(insert(&[(1, 5), (2, 1500), (3, 2000)]))
        .await
        .unwrap();
    target
        .query_drop(insert(&[(2, 1500), (3, 2000)]))
        .await
        .unwrap();
    let (start0, start1) = (position(&mut s0).await, position(&mut s1).await);
    // A row the copy read after the snapshot: the catch-up writes it again, to the same result.
    s0.query_drop(insert(&[(4, 1004)])).await.unwrap();
    target.query_drop(insert(&[(4, 1004)])).await.unwrap();

    let mut c0 = CatchUp::start(spec(&env, 0, start0));
    let mut c1 = CatchUp::start(spec(&env, 1, start1));

    // A transaction of several statements: moving and staying rows, an update within it.
    s0.query_drop("BEGIN").await.unwrap();
    s0.query_drop(insert(&[(10, 1010), (11, 11), (12, 1012)]))
        .await
        .unwrap();
    s0.query_drop(insert(&[(13, 13), (15, 3015)]))
        .await
        .unwrap();
    s0.query_drop("UPDATE cu_items SET vc = 'changed', d = 1e300 WHERE id IN (10, 11)")
        .await
        .unwrap();
    s0.query_drop("COMMIT").await.unwrap();
    // Moving in, moving out, a changed primary key, deletes of both kinds.
    s0.query_drop("UPDATE cu_items SET k = 1001 WHERE id = 1")
        .await
        .unwrap();
    s0.query_drop("UPDATE cu_items SET k = 7 WHERE id = 2")
        .await
        .unwrap();
    s0.query_drop("UPDATE cu_items SET id = 103, ts = '2001-02-03 04:05:06.789' WHERE id = 3")
        .await
        .unwrap();
    s0.query_drop("DELETE FROM cu_items WHERE id IN (12, 13)")
        .await
        .unwrap();
    // A rolled-back transaction leaves nothing.
    s0.query_drop("BEGIN").await.unwrap();
    s0.query_drop(insert(&[(20, 1020)])).await.unwrap();
    s0.query_drop("UPDATE cu_items SET k = 5000 WHERE id = 15")
        .await
        .unwrap();
    s0.query_drop("ROLLBACK").await.unwrap();
    // Changes of staying keys and of another table.
    s0.query_drop(insert(&[(30, 30)])).await.unwrap();
    s0.query_drop("UPDATE cu_items SET ni = 5 WHERE id = 30")
        .await
        .unwrap();
    s0.query_drop("INSERT INTO cu_other VALUES (1, 5000)")
        .await
        .unwrap();
    // The second source, interleaved.
    s1.query_drop(insert(&[(500, 1500), (501, 501)]))
        .await
        .unwrap();
    s1.query_drop("UPDATE cu_items SET k = 9 WHERE id = 500")
        .await
        .unwrap();
    s1.query_drop("UPDATE cu_items SET k = 1999 WHERE id = 501")
        .await
        .unwrap();

    caught_up(&mut c0).await;
    caught_up(&mut c1).await;
    let (expected, held) = moving_rows_and_target(&env).await;
    let ids = |rows: &[Vec<Option<String>>]| -> Vec<String> {
        rows.iter().map(|r| r[0].clone().unwrap()).collect()
    };
    assert_eq!(ids(&held), ["1", "10", "103", "15", "4", "501"]);
    assert_eq!(held, expected, "the target holds exactly the moving rows");

    // A quiet source sends heartbeats: its stream is not taken for a dead one.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let progress = c0.stop().await.unwrap();
    assert_eq!(progress.reconnects, 0, "{progress:?}");
    assert_eq!(progress.lag_events, 0, "{progress:?}");
    assert!(progress.changes_applied >= 8, "{progress:?}");
    c1.stop().await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dump_connection_resumes_without_loss() {
    let env = TestEnv::start(3, 0).await;
    on_every_primary(&env.sandbox, TABLE).await;
    let mut s0 = env.connect_primary(0).await;
    let start = position(&mut s0).await;
    let mut catch_up = CatchUp::start(spec(&env, 0, start));
    let mut conn = source(&env, 0).await;
    // Three rounds of writes; after each of the first two the dump thread is killed while the
    // next round is written.
    let (written, mut rounds) = tokio::sync::mpsc::channel(1);
    let writer = tokio::spawn(async move {
        for round in 0..3i64 {
            for id in round * 100 + 1..=round * 100 + 100 {
                let k = if id % 2 == 0 { 1000 + id } else { id };
                conn.query_drop(insert(&[(id, k)])).await.unwrap();
                if id % 3 == 0 {
                    let sql = format!(
                        "UPDATE cu_items SET k = k + 1000, vc = 'moved' WHERE id = {}",
                        id - 1
                    );
                    conn.query_drop(sql).await.unwrap();
                }
            }
            let _ = written.send(round).await;
        }
    });
    for _ in 0..2 {
        rounds.recv().await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let dumps = loop {
            let dumps: Vec<u64> = s0
                .query(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'",
                )
                .await
                .unwrap();
            if !dumps.is_empty() {
                break dumps;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no dump thread: {:?}",
                catch_up.progress()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        for id in dumps {
            s0.query_drop(format!("KILL {id}")).await.unwrap();
        }
    }
    writer.await.unwrap();
    caught_up(&mut catch_up).await;
    let (expected, held) = moving_rows_and_target(&env).await;
    assert!(expected.len() > 150, "{}", expected.len());
    assert_eq!(held, expected);
    let progress = catch_up.stop().await.unwrap();
    assert!(progress.reconnects >= 2, "{progress:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_logging_partial_rows_is_refused() {
    let env = TestEnv::start(3, 0).await;
    on_every_primary(&env.sandbox, TABLE).await;
    let mut s0 = env.connect_primary(0).await;
    s0.query_drop("SET GLOBAL binlog_row_image = 'MINIMAL'")
        .await
        .unwrap();
    let start = position(&mut s0).await;
    let mut catch_up = CatchUp::start(spec(&env, 0, start));
    let refused = tokio::time::timeout(Duration::from_secs(30), catch_up.reach_source_now())
        .await
        .expect("refused at once")
        .unwrap_err();
    assert!(
        refused.to_string().contains("binlog_row_image is MINIMAL"),
        "{refused}"
    );
    s0.query_drop("SET GLOBAL binlog_row_image = 'FULL'")
        .await
        .unwrap();
    env.stop().await;
}

/// The figure for the README: how fast a catch-up applies a backlog of one-row transactions
/// (half of them moving), and its lag while it does. Run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn catch_up_rate() {
    let env = TestEnv::start(3, 0).await;
    on_every_primary(&env.sandbox, TABLE).await;
    let mut s0 = source(&env, 0).await;
    let start = position(&mut s0).await;
    let backlog = 3000i64;
    for chunk in (1..=backlog).collect::<Vec<_>>().chunks(500) {
        // One transaction per row, sent 500 to a text.
        let texts: Vec<String> = (chunk.iter())
            .map(|id| insert(&[(*id, if id % 2 == 0 { 1000 + id } else { *id })]))
            .collect();
        s0.query_drop(texts.join(";")).await.unwrap();
    }
    let began = std::time::Instant::now();
    let mut catch_up = CatchUp::start(spec(&env, 0, start));
    let mut peak_lag = 0;
    while catch_up.progress().transactions < backlog as u64 {
        peak_lag = peak_lag.max(catch_up.progress().lag_events);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    caught_up(&mut catch_up).await;
    let took = began.elapsed();
    let progress = catch_up.stop().await.unwrap();
    eprintln!(
        "catch-up: {} transactions ({} statements to the target) in {:.2} s: {:.0} transactions/s; lag seen up to {} transactions",
        progress.transactions,
        progress.changes_applied,
        took.as_secs_f64(),
        progress.transactions as f64 / took.as_secs_f64(),
        peak_lag
    );
    let (expected, held) = moving_rows_and_target(&env).await;
    assert_eq!(held, expected);
    env.stop().await;
}

/// What a verify relies on: a catch-up held at a position has applied every source
/// transaction up to it and applies none after it until released, then goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_catch_up_applies_up_to_its_position_and_nothing_after_until_released() {
    let env = TestEnv::start(3, 0).await;
    on_every_primary(&env.sandbox, TABLE).await;
    let mut s0 = source(&env, 0).await;
    let start = position(&mut s0).await;
    let mut catch_up = CatchUp::start(spec(&env, 0, start));
    for id in 1..=20 {
        s0.query_drop(insert(&[(id, 1000 + id)])).await.unwrap();
    }
    let at = position(&mut s0).await;
    let handle = catch_up.handle();
    let mut held = handle.hold().await;
    tokio::time::timeout(Duration::from_secs(60), held.up_to(at.clone()))
        .await
        .expect("the catch-up reaches the held position")
        .unwrap();
    for id in 21..=40 {
        s0.query_drop(insert(&[(id, 1000 + id)])).await.unwrap();
    }
    let later = position(&mut s0).await;
    // The catch-up has seen the source move on (its lag watch reads the source's position).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !catch_up.progress().source_position.covers(&later) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            catch_up.progress()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut target = env.connect_primary(TARGET).await;
    let ids: Vec<i64> = target
        .query("SELECT id FROM cu_items ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ids, (1..=20).collect::<Vec<i64>>());
    let progress = catch_up.progress();
    assert!(progress.applied.covers(&at), "{progress:?}");
    assert!(!progress.applied.covers(&later), "{progress:?}");
    assert!(progress.lag_events >= 20, "{progress:?}");
    drop(held);
    caught_up(&mut catch_up).await;
    let (expected, held) = moving_rows_and_target(&env).await;
    assert_eq!(expected.len(), 40);
    assert_eq!(held, expected);
    catch_up.stop().await.unwrap();
    env.stop().await;
}
