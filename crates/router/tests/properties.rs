//! Properties of routing by shard key: the router sends a statement to exactly the shard the
//! table rule names for its key, whatever the key and however it is spelled, and never panics.

mod common;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use proptest::prelude::*;
use shardgate_config::Topology;
use shardgate_ring::{KeyValue, ShardId};
use shardgate_router::{plan_sql, Plan, Route, RouteError, StatementKind};

static TOPOLOGY: LazyLock<Topology> = LazyLock::new(common::topology);

/// The shard `table`'s rule gives `key`.
fn shard_for(table: &str, key: &KeyValue<'_>) -> ShardId {
    TOPOLOGY
        .table(table)
        .expect("sharded table")
        .shard_for(key)
        .expect("key places")
}

fn plan(sql: &str) -> Result<Plan, RouteError> {
    plan_sql(sql, &TOPOLOGY, shardgate_router::Syntax::DEFAULT)
}

fn routed(sql: &str) -> ShardId {
    match plan(sql) {
        Ok(Plan {
            route: Route::Shard(shard),
            ..
        }) => shard,
        other => panic!("{sql}: expected one shard, got {other:?}"),
    }
}

fn list<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Random SQL-ish text: words the router looks at, in any order.
fn sqlish() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("SELECT"),
        Just("INSERT INTO"),
        Just("UPDATE"),
        Just("DELETE"),
        Just("FROM"),
        Just("WHERE"),
        Just("SET"),
        Just("VALUES"),
        Just("users"),
        Just("orders"),
        Just("events"),
        Just("admins"),
        Just("u"),
        Just("id"),
        Just("u.id"),
        Just("user_id"),
        Just("="),
        Just("IN"),
        Just("AND"),
        Just("OR"),
        Just("("),
        Just(")"),
        Just(","),
        Just(";"),
        Just("'"),
        Just("'7'"),
        Just("-"),
        Just("7"),
        Just("-2"),
        Just("1e3"),
        Just("99999999999999999999999999999999999999999"),
        Just("NULL"),
        Just("@@socket"),
        Just("LOCK IN SHARE MODE"),
        Just("FOR UPDATE"),
        Just("UNION"),
        Just("JOIN"),
        Just("ON"),
        Just("START TRANSACTION"),
        Just("CREATE TABLE"),
        Just("DROP INDEX"),
        Just("WITH"),
        Just("/*"),
        Just("*/"),
        Just("--"),
        Just("\n"),
        Just("é"),
    ];
    prop::collection::vec(word, 0..24).prop_map(|words| words.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A point select goes to the key's shard, written as a number or as a string.
    #[test]
    fn point_select_routes_to_the_keys_shard(id in any::<i64>()) {
        let want = shard_for("users", &KeyValue::Int(i128::from(id)));
        for sql in [
            format!("SELECT * FROM users WHERE id = {id}"),
            format!("SELECT * FROM users WHERE id = '{id}'"),
            format!("SELECT * FROM users WHERE {id} = id"),
            format!("SELECT * FROM users u WHERE u.id = {id} AND u.name <> 'x'"),
        ] {
            let plan = plan(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            prop_assert_eq!(plan.kind, StatementKind::Read);
            prop_assert_eq!(plan.route, Route::Shard(want), "{}", sql);
        }
    }

    /// An INSERT of a row goes where a SELECT of the same key goes, and so do UPDATE and
    /// DELETE by that key, and the co-located `orders` rows of the same user.
    #[test]
    fn writes_route_with_reads(id in any::<i64>()) {
        let select = routed(&format!("SELECT * FROM users WHERE id = {id}"));
        prop_assert_eq!(routed(&format!("INSERT INTO users (id, name) VALUES ({id}, 'x')")), select);
        prop_assert_eq!(routed(&format!("INSERT INTO users SET name = 'x', id = '{id}'")), select);
        prop_assert_eq!(routed(&format!("UPDATE users SET name = 'x' WHERE id = {id}")), select);
        prop_assert_eq!(routed(&format!("DELETE FROM users WHERE id = {id}")), select);
        prop_assert_eq!(routed(&format!("SELECT * FROM orders WHERE user_id = {id}")), select);
    }

    /// An IN list routes to one shard exactly when all its values map to that shard;
    /// otherwise a SELECT scatters to, and a DELETE is split across, exactly their shards.
    #[test]
    fn in_list_routes_iff_one_shard(ids in prop::collection::vec(any::<i64>(), 1..8)) {
        let shards: BTreeSet<ShardId> =
            ids.iter().map(|&id| shard_for("users", &KeyValue::Int(i128::from(id)))).collect();
        let want: Vec<ShardId> = shards.iter().copied().collect();
        for sql in [
            format!("SELECT * FROM users WHERE id IN ({})", list(&ids)),
            format!("DELETE FROM users WHERE id IN ({})", list(&ids)),
        ] {
            match (plan(&sql).map(|p| p.route), shards.len()) {
                (Ok(route), 1) => prop_assert_eq!(route, Route::Shard(want[0])),
                (Ok(Route::Scatter(s)), n) if n > 1 => {
                    prop_assert_eq!(&s.shards, &want);
                    prop_assert_eq!(s.sql, sql.clone());
                }
                (Ok(Route::Split(parts)), n) if n > 1 => {
                    let got: Vec<ShardId> = parts.iter().map(|(s, _)| *s).collect();
                    prop_assert_eq!(&got, &want);
                }
                (outcome, n) => prop_assert!(false, "{sql}: {n} shards, got {outcome:?}"),
            }
        }
    }

    /// The same for IN lists that are mostly on one shard: draw ids until enough share one.
    #[test]
    fn in_list_of_one_shards_keys_routes(seed in any::<i64>(), len in 1usize..6) {
        let target = shard_for("users", &KeyValue::Int(i128::from(seed)));
        let ids: Vec<i64> = (0..)
            .map(|i: i64| seed.wrapping_add(i))
            .filter(|&id| shard_for("users", &KeyValue::Int(i128::from(id))) == target)
            .take(len)
            .collect();
        let quoted: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
        prop_assert_eq!(routed(&format!("SELECT * FROM users WHERE id IN ({})", list(&ids))), target);
        prop_assert_eq!(routed(&format!("SELECT * FROM users WHERE id IN ({})", list(&quoted))), target);
    }

    /// A multi-row INSERT routes to one shard exactly when all its rows map to that shard.
    #[test]
    fn multi_row_insert_routes_or_splits_by_shard(ids in prop::collection::vec(-50i64..50, 1..6)) {
        let shards: BTreeSet<ShardId> =
            ids.iter().map(|&id| shard_for("users", &KeyValue::Int(i128::from(id)))).collect();
        let rows: Vec<String> = ids.iter().map(|id| format!("({id}, 'x\\\\y')")).collect();
        let sql = format!("INSERT INTO users (id, name) VALUES {}", rows.join(", "));
        match (plan(&sql), shards.len()) {
            (Ok(plan), 1) => prop_assert_eq!(plan.route, Route::Shard(*shards.first().unwrap())),
            (Ok(Plan { route: Route::Split(parts), .. }), n) if n > 1 => {
                let got: BTreeSet<ShardId> = parts.iter().map(|(s, _)| *s).collect();
                prop_assert_eq!(&got, &shards);
                let mut placed = 0;
                for (shard, part) in &parts {
                    // Each part routes to its own shard and keeps the row text as written.
                    prop_assert_eq!(plan(part).unwrap().route, Route::Shard(*shard));
                    prop_assert!(part.contains(r"'x\\y'"), "{}", part);
                    placed += part.matches("),").count() + 1;
                }
                prop_assert_eq!(placed, ids.len());
            }
            (outcome, n) => prop_assert!(false, "{sql}: {n} shards, got {outcome:?}"),
        }
    }

    /// Range tables: keys inside the ranges route by range, keys outside are refused.
    #[test]
    fn range_keys_route_by_range(id in -2000i64..5000) {
        let sql = format!("SELECT * FROM events WHERE id = {id}");
        match plan(&sql) {
            Ok(plan) => {
                prop_assert!((0..3000).contains(&id), "{sql}: {plan:?}");
                prop_assert_eq!(plan.route, Route::Shard(usize::try_from(id / 1000).unwrap()));
            }
            Err(RouteError::BadKey { .. }) => prop_assert!(!(0..3000).contains(&id), "{}", sql),
            Err(e) => prop_assert!(false, "{sql}: {e}"),
        }
    }

    /// String keys hash by their bytes.
    #[test]
    fn string_keys_route_by_bytes(token in "[A-Za-z0-9_ -]{0,20}") {
        let want = shard_for("sessions", &KeyValue::Str(token.as_bytes()));
        prop_assert_eq!(routed(&format!("SELECT * FROM sessions WHERE token = '{token}'")), want);
        prop_assert_eq!(routed(&format!("INSERT INTO sessions (token) VALUES ('{token}')")), want);
    }

    /// Never a panic, whatever the text; every plan prints.
    #[test]
    fn never_panics_on_unicode(sql in any::<String>()) {
        if let Ok(plan) = plan(&sql) {
            let _ = plan.display(&TOPOLOGY).to_string();
        }
    }

    #[test]
    fn never_panics_on_ascii(sql in "[ -~\t\n]{0,200}") {
        if let Ok(plan) = plan(&sql) {
            let _ = plan.display(&TOPOLOGY).to_string();
        }
    }

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let sql = String::from_utf8_lossy(&bytes);
        if let Ok(plan) = plan(&sql) {
            let _ = plan.display(&TOPOLOGY).to_string();
        }
    }

    #[test]
    fn never_panics_on_sql_like_text(sql in sqlish()) {
        if let Ok(plan) = plan(&sql) {
            let _ = plan.display(&TOPOLOGY).to_string();
        }
    }
}

/// The extremes of the integer range route like any other key.
#[test]
fn extreme_integer_keys_route() {
    for id in [i128::from(i64::MIN), i128::from(i64::MAX), 0, i128::MAX] {
        let want = shard_for("users", &KeyValue::Int(id));
        assert_eq!(
            routed(&format!("SELECT * FROM users WHERE id = {id}")),
            want,
            "{id}"
        );
        assert_eq!(
            routed(&format!("SELECT * FROM users WHERE id = '{id}'")),
            want,
            "{id}"
        );
    }
}

/// Deeply nested text hits the parser's recursion limit, not a stack overflow.
#[test]
fn deep_nesting_does_not_overflow() {
    for depth in [10, 100, 1000, 5000] {
        let sql = format!(
            "SELECT * FROM users WHERE {}id = 7{}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let _ = plan(&sql);
        let sql = format!("SELECT * FROM users WHERE id = {}7", "-".repeat(depth));
        let _ = plan(&sql);
        let sql = format!(
            "SELECT * FROM users WHERE id = 7{}",
            " AND id = 7".repeat(depth)
        );
        let _ = plan(&sql);
    }
}

/// A flat chain of tens of thousands of conditions neither overflows the stack nor is silently
/// misrouted: large chains plan normally, absurd ones get a clear error.
#[test]
fn long_condition_chains_plan_or_fail_cleanly() {
    let topology = common::topology();
    for terms in [1_000usize, 40_000] {
        let sql = format!(
            "SELECT * FROM users WHERE id = 7{}",
            " AND id = 7".repeat(terms)
        );
        let plan = plan_sql(&sql, &topology, shardgate_router::Syntax::DEFAULT)
            .expect("a long but bounded chain plans");
        assert_eq!(plan.display(&topology).to_string(), "read → shard s1");
    }
    let sql = format!("SELECT 1{}", " + 1".repeat(150_000));
    let err = plan_sql(&sql, &topology, shardgate_router::Syntax::DEFAULT).unwrap_err();
    assert!(err.to_string().contains("too complex"), "{err}");
    // A big multi-row INSERT of negative numbers is not a chain.
    let rows: Vec<String> = (1..5_000).map(|i| format!("(-{i}, -{i})")).collect();
    let sql = format!("INSERT INTO plain (a, b) VALUES {}", rows.join(", "));
    assert!(plan_sql(&sql, &topology, shardgate_router::Syntax::DEFAULT).is_ok());
}

/// The shards a statement runs on: one, or the scatter's / broadcast's list.
fn shards_of(sql: &str) -> Vec<ShardId> {
    match plan(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).route {
        Route::Shard(s) => vec![s],
        Route::Scatter(s) => s.shards,
        Route::Broadcast(shards) | Route::Copies(shards) => shards,
        Route::Split(parts) => parts.into_iter().map(|(s, _)| s).collect(),
        other => panic!("{sql}: {other:?}"),
    }
}

/// Each shard's statement of a scatter or of a write split by shard (the same text on every
/// shard when nothing was cut), or `None` for one shard.
fn per_shard_sql(sql: &str) -> Option<Vec<(ShardId, String)>> {
    match plan(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).route {
        Route::Shard(_) => None,
        Route::Scatter(s) => Some(
            s.shards
                .iter()
                .enumerate()
                .map(|(i, &shard)| (shard, s.sql_for(i).to_owned()))
                .collect(),
        ),
        Route::Split(parts) => Some(parts),
        Route::Broadcast(shards) | Route::Copies(shards) => {
            Some(shards.into_iter().map(|s| (s, sql.to_owned())).collect())
        }
        other => panic!("{sql}: {other:?}"),
    }
}

/// The integers between `start` and the next `end` in `sql`, separated by `separator`
/// (`id IN (1, 2)` → `IN (`, `)`, `, `).
fn values_between(sql: &str, start: &str, end: &str, separator: &str) -> Vec<i64> {
    let from = sql
        .find(start)
        .unwrap_or_else(|| panic!("no `{start}` in {sql}"))
        + start.len();
    let to = from
        + sql[from..]
            .find(end)
            .unwrap_or_else(|| panic!("no `{end}` in {sql}"));
    sql[from..to]
        .split(separator)
        .map(|v| {
            v.trim()
                .trim_start_matches("u.id = ")
                .parse()
                .unwrap_or_else(|e| panic!("{v} in {sql}: {e}"))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An OR of key equalities prunes exactly like the IN list of the same values, whatever
    /// else is AND-ed to it, for reads and writes.
    #[test]
    fn or_of_keys_prunes_to_their_shards(ids in prop::collection::vec(-1000i64..1000, 1..6)) {
        let shards: BTreeSet<ShardId> =
            ids.iter().map(|&id| shard_for("users", &KeyValue::Int(i128::from(id)))).collect();
        let want: Vec<ShardId> = shards.into_iter().collect();
        let ors: Vec<String> = ids.iter().map(|id| format!("u.id = {id}")).collect();
        let ors = ors.join(" OR ");
        prop_assert_eq!(shards_of(&format!("SELECT name FROM users u WHERE ({ors}) AND age > 3")), want.clone());
        prop_assert_eq!(shards_of(&format!("SELECT COUNT(*) FROM users u WHERE {ors}")), want.clone());
        prop_assert_eq!(shards_of(&format!("UPDATE users u SET name = 'x' WHERE {ors}")), want.clone());
        // An alternative without the key can be anywhere.
        prop_assert_eq!(shards_of(&format!("SELECT name FROM users u WHERE {ors} OR age > 3")).len(), TOPOLOGY.shards.len());
    }

    /// Key ranges on a range table keep exactly the shards whose ranges hold keys in them
    /// (events: [0, 1000) on s0, [1000, 2000) on s1, [2000, 3000) on s2).
    #[test]
    fn key_ranges_prune_range_tables(lo in -500i64..3500, len in 0i64..2500) {
        let hi = lo + len;
        let want: Vec<ShardId> = (0..3usize)
            .filter(|&s| {
                let (start, end) = (1000 * s as i64, 1000 * s as i64 + 999);
                lo <= end && start <= hi
            })
            .collect();
        // No shard holds such keys: no row matches, and one shard says so.
        let want = if want.is_empty() { vec![TOPOLOGY.default_shard] } else { want };
        prop_assert_eq!(shards_of(&format!("SELECT kind FROM events WHERE id BETWEEN {lo} AND {hi}")), want.clone());
        prop_assert_eq!(shards_of(&format!("SELECT kind FROM events WHERE id >= {lo} AND {hi} >= id")), want.clone());
        prop_assert_eq!(shards_of(&format!("SELECT kind FROM events WHERE id > {} AND id < {}", lo - 1, hi + 1)), want.clone());
        prop_assert_eq!(shards_of(&format!("DELETE FROM events WHERE id BETWEEN {lo} AND {hi}")), want);
    }

    /// Every scatter plan is self-consistent: the shard statement parses, every column the
    /// merge reads exists, names cover the outputs, and visible columns come first.
    #[test]
    fn scatter_plans_are_consistent(
        items in prop::collection::vec(prop_oneof![
            Just("name"), Just("age"), Just("age + 1"), Just("COUNT(*)"), Just("SUM(age)"),
            Just("AVG(age)"), Just("MIN(name)"), Just("MAX(age) AS m"), Just("country AS c"),
        ], 1..5),
        group in prop::collection::vec(prop_oneof![Just("country"), Just("name"), Just("1"), Just("YEAR(created)")], 0..3),
        order in prop::collection::vec((prop_oneof![
            Just("name"), Just("age"), Just("1"), Just("COUNT(*)"), Just("m"), Just("c"), Just("LENGTH(name)"),
        ], any::<bool>()), 0..3),
        having in prop_oneof![Just(""), Just(" HAVING COUNT(*) > 1"), Just(" HAVING m < 5 OR country = 'x'")],
        distinct in any::<bool>(),
        limit in prop_oneof![Just(""), Just(" LIMIT 5"), Just(" LIMIT 2, 3")],
    ) {
        let mut sql = format!("SELECT {}{} FROM users WHERE age > 3", if distinct { "DISTINCT " } else { "" }, items.join(", "));
        if !group.is_empty() {
            sql += &format!(" GROUP BY {}", group.join(", "));
        }
        sql += having;
        if !order.is_empty() {
            let terms: Vec<String> = order.iter().map(|(t, d)| format!("{t}{}", if *d { " DESC" } else { "" })).collect();
            sql += &format!(" ORDER BY {}", terms.join(", "));
        }
        sql += limit;
        let Ok(Plan { route: Route::Scatter(s), .. }) = plan(&sql) else { return Ok(()) };
        let parsed = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::MySqlDialect {}, &s.sql)
            .unwrap_or_else(|e| panic!("{sql}\n  shard sql `{}`: {e}", s.sql));
        let sqlparser::ast::Statement::Query(q) = &parsed[0] else { panic!("{}", s.sql) };
        let sqlparser::ast::SetExpr::Select(select) = q.body.as_ref() else { panic!("{}", s.sql) };
        let columns = select.projection.len();
        let m = &s.merge;
        prop_assert!(m.merge_keys.iter().all(|k| k.column < columns), "{sql}: {m:?}");
        let outputs = match &m.aggregate {
            Some(a) => {
                prop_assert!(a.group_by.iter().all(|&g| g < columns));
                prop_assert_eq!(a.names.len(), a.outputs.len());
                a.outputs.len()
            }
            None => columns,
        };
        prop_assert!(m.sort.iter().all(|k| k.column < outputs), "{sql}: {m:?}");
        prop_assert!(m.having.as_ref().and_then(|h| h.max_column()).is_none_or(|c| c < outputs));
        prop_assert_eq!(m.visible, items.len(), "{}", sql);
        prop_assert!(m.visible <= outputs);
        if m.limit.is_some() && m.aggregate.is_none() {
            prop_assert!(q.limit_clause.is_some(), "{sql}: shards need a LIMIT");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An IN list on the shard key reaches each shard with exactly the values it owns: every
    /// value lands on its owning shard, and the lists together are the original list (same
    /// values, same multiplicities), for a scatter and for UPDATE / DELETE.
    #[test]
    fn in_lists_are_cut_per_shard(ids in prop::collection::vec(-1000i64..1000, 1..12)) {
        let list = list(&ids);
        for sql in [
            format!("SELECT id, name FROM users WHERE name <> 'a' AND id IN ({list}) ORDER BY name"),
            format!("SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.id IN ({list})"),
            format!("UPDATE users SET name = 'x' WHERE id IN ({list}) AND name IS NULL"),
            format!("DELETE FROM users WHERE id IN ({list})"),
        ] {
            let Some(parts) = per_shard_sql(&sql) else { continue };
            let mut union = Vec::new();
            for (shard, text) in &parts {
                let start = if text.contains("u.id IN (") { "u.id IN (" } else { "id IN (" };
                let values = values_between(text, start, ")", ",");
                prop_assert!(!values.is_empty(), "{}", text);
                for v in &values {
                    prop_assert_eq!(shard_for("users", &KeyValue::Int(i128::from(*v))), *shard, "{}", text);
                }
                union.extend(values);
            }
            let (mut union, mut want) = (union, ids.clone());
            union.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(union, want, "{}", sql);
        }
    }

    /// An OR of key equalities reaches each shard with exactly its own alternatives.
    #[test]
    fn ors_of_keys_are_cut_per_shard(ids in prop::collection::vec(-1000i64..1000, 2..8)) {
        let ors: Vec<String> = ids.iter().map(|id| format!("u.id = {id}")).collect();
        let ors = ors.join(" OR ");
        for sql in [
            format!("SELECT name FROM users u WHERE ({ors}) AND age > 3"),
            format!("DELETE FROM users u WHERE ({ors}) AND age > 3"),
        ] {
            let Some(parts) = per_shard_sql(&sql) else { continue };
            let mut union = Vec::new();
            for (shard, text) in &parts {
                let values = values_between(text, "WHERE (", ")", " OR ");
                for v in &values {
                    prop_assert_eq!(shard_for("users", &KeyValue::Int(i128::from(*v))), *shard, "{}", text);
                }
                union.extend(values);
            }
            let (mut union, mut want) = (union, ids.clone());
            union.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(union, want, "{}", sql);
        }
    }
}
