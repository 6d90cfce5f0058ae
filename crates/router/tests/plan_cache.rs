//! The plan cache serves exactly the plan full planning gives: for statements that differ
//! only in their values, a cached single-shard plan equals `plan_sql` of the whole text, and
//! every other statement is left to full planning.

mod common;

use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use shardgate_config::Topology;
use shardgate_router::{plan_sql, Plan, PlanCache, Route};

static TOPOLOGY: LazyLock<Arc<Topology>> = LazyLock::new(|| Arc::new(common::topology()));

/// Statement shapes with `{i}` (an integer) and `{s}` (a string body) holes.
const SHAPES: &[&str] = &[
    "SELECT email, name FROM users WHERE id = {i}",
    "SELECT email FROM users WHERE id = {i} AND name = '{s}'",
    "SELECT * FROM users WHERE email = '{s}'",
    "SELECT * FROM users WHERE id IN ({i}, {j})",
    "UPDATE users SET name = '{s}' WHERE id = {i}",
    "DELETE FROM users WHERE id = {i} LIMIT 1",
    "INSERT INTO users (id, email, name) VALUES ({i}, '{s}', 'x')",
    "INSERT INTO users (id, email, name) VALUES ({i}, 'a', 'x'), ({j}, 'b', 'y')",
    "SELECT o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = {i}",
    "SELECT COUNT(*) FROM users WHERE id BETWEEN {i} AND {j}",
    "SELECT c FROM sbtest_like WHERE k = {i}",
    "SELECT * FROM users u WHERE u.id = {i} AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)",
    "SELECT * FROM (SELECT * FROM orders WHERE user_id = {i} AND status = '{s}') t",
    "SELECT id FROM users WHERE id = {i} UNION SELECT user_id FROM orders WHERE user_id = {j}",
    "WITH t AS (SELECT * FROM users WHERE id = {i}) SELECT (SELECT COUNT(*) FROM orders WHERE user_id = {j}) FROM t",
];

fn fill(shape: &str, i: i64, j: i64, s: &str) -> String {
    shape
        .replace("{i}", &i.to_string())
        .replace("{j}", &j.to_string())
        .replace("{s}", &s.replace('\'', "''"))
}

proptest! {
    #[test]
    fn cached_plans_equal_full_plans(
        shape in 0..SHAPES.len(),
        runs in proptest::collection::vec((any::<i64>(), 0i64..50, "[a-zA-Z0-9 '%_]{0,12}"), 1..6),
    ) {
        let mut cache = PlanCache::default();
        for (i, j, s) in runs {
            let sql = fill(SHAPES[shape], i, j, &s);
            let full = plan_sql(&sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT);
            // Statements not served from the cache are planned in full: whatever that decides stands.
            if let Some(cached) = cache.plan(&sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT) {
                let full = full.expect("a cached plan implies a plan");
                prop_assert!(matches!(full.route, Route::Shard(_)), "{sql}: {:?}", full.route);
                // A cached plan keeps no explanation of its pushdown (`shardgate route` plans in full).
                prop_assert_eq!(cached, Plan { pinned_by: None, ..full }, "{}", sql);
            }
        }
    }
}

#[test]
fn repeated_point_statements_are_served_from_the_cache() {
    let mut cache = PlanCache::default();
    for id in 0..100 {
        for sql in [
            format!("SELECT email FROM users WHERE id = {id}"),
            format!("UPDATE users SET name = 'n{id}' WHERE id = {id}"),
        ] {
            let cached = cache
                .plan(&sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT)
                .expect("served from the cache");
            assert_eq!(
                cached,
                plan_sql(&sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT).unwrap(),
                "{sql}"
            );
        }
    }
    // Statements over several shards are not, nor ones whose template does not parse.
    assert_eq!(
        cache.plan(
            "SELECT * FROM users WHERE email = 'a'",
            &TOPOLOGY,
            shardgate_router::Syntax::DEFAULT
        ),
        None
    );
    let ddl = "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(64))";
    assert_eq!(
        cache.plan(ddl, &TOPOLOGY, shardgate_router::Syntax::DEFAULT),
        None
    );
}

#[test]
fn a_new_topology_empties_the_cache() {
    let mut cache = PlanCache::default();
    let sql = "SELECT email FROM users WHERE id = 7";
    let first = cache
        .plan(sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT)
        .expect("cached");
    let other = Arc::new(common::topology());
    assert_eq!(
        cache.plan(sql, &other, shardgate_router::Syntax::DEFAULT),
        Some(first)
    );
}

#[test]
fn pushed_down_statements_are_served_from_the_cache() {
    let mut cache = PlanCache::default();
    for id in 0..50 {
        let sql = format!(
            "SELECT u.name, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) FROM users u WHERE u.id = {id} AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)"
        );
        let full = plan_sql(&sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT).unwrap();
        let cached = cache
            .plan(&sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT)
            .expect("served from the cache");
        assert_eq!(cached.route, full.route, "{sql}");
    }
}
