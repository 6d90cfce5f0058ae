//! Plans made with the schema cache (issue #13, point 2): `SELECT *` ordered, grouped or
//! de-duplicated across shards, with the check the executor runs on the shards' columns;
//! `JOIN … USING` / `NATURAL JOIN` of co-located tables; the tables the cache lacks asked for.

mod common;

use shardgate_config::Topology;
use shardgate_router::{plan_sql, Route, RouteError, ScatterPlan, StarCheck, Syntax};
use shardgate_schema::{ColumnRow, Schema};

/// The test topology with `users (id, name, country)` and `orders (id, user_id, total)` and
/// `payments (user_id, amount)` (sharded by `user_id` like `orders`) in its schema cache.
fn topology_with_schema() -> Topology {
    let toml = format!(
        "{}\n[[tables]]\nname = \"payments\"\nshard_key = \"user_id\"\n",
        common::TOPOLOGY_TOML
    );
    let topology = shardgate_config::parse(&toml, "topology.toml").expect("valid");
    let row = |t: &str, c: &str, n: u64| ColumnRow {
        table: t.into(),
        column: c.into(),
        ordinal: n,
        column_type: "int".into(),
        collation: None,
        default: shardgate_schema::ColumnDefault::Null,
        primary_key: c == "id",
    };
    let schema = Schema::from_rows([
        row("users", "id", 1),
        row("users", "name", 2),
        row("users", "country", 3),
        row("orders", "id", 1),
        row("orders", "user_id", 2),
        row("orders", "total", 3),
        row("payments", "user_id", 1),
        row("payments", "amount", 2),
    ]);
    common::with_schema(topology, schema)
}

fn scatter(sql: &str, topology: &Topology) -> ScatterPlan {
    match plan_sql(sql, topology, Syntax::DEFAULT) {
        Ok(plan) => match plan.route {
            Route::Scatter(s) => *s,
            other => panic!("{sql}: not a scatter: {other:?}"),
        },
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn names(check: &StarCheck) -> Vec<(usize, &str)> {
    check
        .columns
        .iter()
        .map(|(i, n)| (*i, n.as_str()))
        .collect()
}

#[test]
fn select_star_order_by_a_column_sorts_by_a_hidden_column_after_the_star() {
    let t = topology_with_schema();
    let plan = scatter("SELECT * FROM users ORDER BY name", &t);
    assert_eq!(plan.sql, "SELECT *, name FROM users ORDER BY 4");
    assert_eq!(plan.merge.visible, 3);
    assert_eq!(plan.merge.merge_keys[0].column, 3);
    let check = plan.star_check.expect("a star check");
    assert_eq!(check.width, 4);
    assert_eq!(names(&check), [(0, "id"), (1, "name"), (2, "country")]);
    assert_eq!(check.tables, ["users"]);

    // An item after the star is found after the star's columns.
    let plan = scatter(
        "SELECT *, id * 2 AS twice FROM users ORDER BY twice DESC",
        &t,
    );
    assert_eq!(plan.merge.merge_keys[0].column, 3);
    assert_eq!(plan.merge.visible, 4);
    // ORDER BY position needs no schema, and no check.
    let plan = scatter("SELECT * FROM users ORDER BY 2", &t);
    assert!(plan.star_check.is_none());
}

#[test]
fn select_star_group_by_and_distinct_know_every_column() {
    let t = topology_with_schema();
    let plan = scatter("SELECT *, COUNT(*) FROM users GROUP BY id", &t);
    let aggregate = plan.merge.aggregate.as_ref().expect("aggregate");
    assert_eq!(aggregate.names, ["id", "name", "country", "COUNT(*)"]);
    assert_eq!(plan.merge.visible, 4);
    assert_eq!(plan.star_check.expect("check").width, 5);

    let plan = scatter("SELECT DISTINCT * FROM users ORDER BY country", &t);
    assert!(plan.merge.distinct);
    let keys: Vec<usize> = plan.merge.merge_keys.iter().map(|k| k.column).collect();
    assert_eq!(keys, [2, 0, 1]);
    // A qualified sort column of the `*`, but not another table's column of that name.
    let plan = scatter(
        "SELECT DISTINCT o.* FROM orders o ORDER BY o.total DESC",
        &t,
    );
    assert_eq!(plan.merge.merge_keys[0].column, 2);
    // Ordered by a column outside the `*`: no merge can, copies of the tables answer it.
    let copied = plan_sql(
        "SELECT DISTINCT u.* FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.id",
        &t,
        Syntax::DEFAULT,
    );
    assert!(matches!(copied.map(|p| p.route), Ok(Route::Materialize(_))));
}

#[test]
fn using_and_natural_joins_of_colocated_tables_scatter() {
    let t = topology_with_schema();
    let plan = scatter(
        "SELECT * FROM orders JOIN payments USING (user_id) ORDER BY total",
        &t,
    );
    let check = plan.star_check.expect("check");
    assert_eq!(
        names(&check),
        [(0, "user_id"), (1, "id"), (2, "total"), (3, "amount")]
    );
    scatter("SELECT COUNT(*) FROM orders NATURAL JOIN payments", &t);
    // Shard keys of different names are not joined by USING: copies of the tables answer it.
    let copied = plan_sql(
        "SELECT * FROM users JOIN orders USING (id)",
        &t,
        Syntax::DEFAULT,
    );
    assert!(matches!(copied.map(|p| p.route), Ok(Route::Materialize(_))));
}

#[test]
fn tables_the_cache_lacks_are_asked_for() {
    let t = common::topology();
    assert_eq!(
        plan_sql(
            "SELECT * FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.id",
            &t,
            Syntax::DEFAULT
        )
        .unwrap_err(),
        RouteError::SchemaNeeded {
            tables: vec!["users".into(), "orders".into()]
        }
    );
}
