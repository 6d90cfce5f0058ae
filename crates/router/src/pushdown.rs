//! Statements one shard answers whole: subqueries, derived tables, CTEs, set operations,
//! window functions, `WITH ROLLUP`, `INSERT … SELECT`, UPDATE / DELETE with subqueries — sent
//! unchanged to the one shard every sharded table reference of the statement is pinned to (see
//! [`crate::placement`] for what pins a reference), and correlated subqueries that follow the
//! rows of a scatter's or broadcast's own tables, so that every shard answers for its own rows.

use std::sync::Arc;

use shardgate_config::Topology;
use shardgate_ring::ShardId;
use sqlparser::ast::Statement;

use crate::placement::{analyze, InsertKey, Instance, Pinning};
use crate::shard_key::{shard_names, Constraint, KeySource};
use crate::{DeferredRoute, Plan, Route, RouteError, StatementKind};

/// How an instance gets its shard.
#[derive(Debug, Clone, Copy)]
enum Home {
    /// Its own literals (single shard), or the scatter's rows (scatter).
    Root,
    /// Through this edge.
    Edge(usize),
}

/// Each instance's home, from the roots along the edges; `None` where no chain reaches.
fn homes(p: &Pinning<'_>, root: impl Fn(&Instance<'_>) -> bool) -> Vec<Option<Home>> {
    let mut homes: Vec<Option<Home>> = p
        .instances
        .iter()
        .map(|i| root(i).then_some(Home::Root))
        .collect();
    loop {
        let mut changed = false;
        for (e, edge) in p.edges.iter().enumerate() {
            if homes[edge.from].is_none() && homes[edge.to].is_some() {
                homes[edge.from] = Some(Home::Edge(e));
                changed = true;
            }
        }
        if !changed {
            return homes;
        }
    }
}

/// Why each instance is where it is, for `shardgate route` and `SHOW SHARDGATE ROUTE FOR`.
fn reasons(p: &Pinning<'_>, homes: &[Option<Home>], roots_are_literal: bool) -> Vec<String> {
    p.instances
        .iter()
        .zip(homes)
        .filter_map(|(i, home)| {
            let place = match i.place {
                crate::placement::Place::Outer => String::new(),
                other => format!(" in {}", other.describe()),
            };
            let why = match home.as_ref()? {
                Home::Root if roots_are_literal => i.literal_why.join(" AND "),
                Home::Root => return None,
                Home::Edge(e) => p.edges[*e].why.clone(),
            };
            Some(format!("{}{place} by {why}", i.label()))
        })
        .collect()
}

/// The error for a sharded reference no chain of conditions pins.
fn unpinned(verb: &str, i: &Instance<'_>, single: bool) -> String {
    let key = &i.table.rule.shard_key;
    let what = if single {
        "one shard"
    } else {
        "the shard of the outer query's rows"
    };
    format!(
        "sharded table {} in {} is not pinned to {what}: give its shard key `{key}` a value (`{key} = <value>`) or make it equal to the shard key of a table placed like it (a co-located join, or a subquery correlated on shard keys); {verb} across shards with such a subquery is not supported",
        i.label(),
        i.place.describe()
    )
}

/// Plans `stmt`, whose sharded tables are not all in its own FROM list (or are joined), as a
/// whole on one shard. `Err(NoShardKey | KeySpansShards)` when the statement's own tables are
/// not pinned: the scatter or broadcast path decides then. `rows_to`: the shard (and table)
/// an `INSERT … VALUES` writes its rows to.
pub(crate) fn plan(
    stmt: &Statement,
    verb: &'static str,
    kind: StatementKind,
    rows_to: Option<(ShardId, &str)>,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let p = analyze(stmt, topology);
    if let Some(e) = p.error {
        return Err(e);
    }
    let first_sharded = || {
        crate::planner::sharded_relations(stmt, topology)
            .first()
            .and_then(|t| topology.table(t))
            .map_or_else(String::new, |r| r.name.clone())
    };
    if let Some(problem) = &p.problem {
        return Err(RouteError::Unsupported {
            construct: problem.clone(),
            table: first_sharded(),
        });
    }
    if let (None, Some(InsertKey::Unknown(why))) = (rows_to, &p.insert_key) {
        let table = target_rule(stmt, topology).map_or("?", |rule| rule.name.as_str());
        return Err(RouteError::NotSupported(format!(
            "cannot route INSERT … SELECT into sharded table `{table}`: {why}, so the shard of its rows is not known"
        )));
    }
    // Keys on several shards pin nothing alone; a table with them may still follow another.
    let homes = homes(&p, |i| match &i.literal {
        Some(Constraint::Shards(shards)) => shards.len() <= 1,
        Some(Constraint::Deferred(_)) => true,
        None => false,
    });
    let homeless = |top: bool| {
        p.instances
            .iter()
            .zip(&homes)
            .find(|(i, h)| h.is_none() && (i.top || !top))
            .map(|(i, _)| i)
    };
    let any_homeless = homeless(false).is_some();
    if any_homeless && !p.schema_needed.is_empty() {
        // Their columns may show an unqualified column to be a shard key that pins it.
        return Err(RouteError::SchemaNeeded {
            tables: p.schema_needed,
        });
    }
    if let Some(i) = homeless(true) {
        return Err(match &i.literal {
            Some(Constraint::Shards(shards)) => RouteError::KeySpansShards {
                verb,
                table: i.table.rule.name.clone(),
                key: i.table.rule.shard_key.clone(),
                shards: shard_names(topology, shards),
            },
            _ => RouteError::NoShardKey {
                verb,
                table: i.table.rule.name.clone(),
                key: i.table.rule.shard_key.clone(),
            },
        });
    }
    if let Some(i) = homeless(false) {
        return Err(RouteError::NotSupported(match &i.literal {
            Some(Constraint::Shards(shards)) => format!(
                "cannot run {verb}: the values of shard key `{}` of {} in {} belong to different shards ({}); a subquery across shards is not supported",
                i.table.rule.shard_key,
                i.label(),
                i.place.describe(),
                shard_names(topology, shards)
            ),
            _ => unpinned(verb, i, true),
        }));
    }
    let mut chosen: Option<(ShardId, String)> = None;
    let mut deferred: Vec<(String, KeySource)> = Vec::new();
    let mut agree = |shard: ShardId, label: String| match &chosen {
        None => {
            chosen = Some((shard, label));
            Ok(())
        }
        Some((prev, prev_label)) if *prev != shard => Err(RouteError::CrossShard {
            detail: format!(
                "{prev_label} on {}, {label} on {}",
                topology.shards[*prev].name, topology.shards[shard].name
            ),
        }),
        Some(_) => Ok(()),
    };
    for (i, home) in p.instances.iter().zip(&homes) {
        if !matches!(home, Some(Home::Root)) {
            continue;
        }
        match &i.literal {
            None => {}
            Some(Constraint::Deferred(keys)) => deferred.extend(
                keys.iter()
                    .map(|k| (i.table.rule.name.to_ascii_lowercase(), k.clone())),
            ),
            // No shard: contradictory conditions, no row of it matches on any shard.
            Some(Constraint::Shards(shards)) => {
                if let Some(&shard) = shards.first() {
                    agree(shard, format!("`{}`", i.table.rule.name))?
                }
            }
        }
    }
    match (rows_to, &p.insert_key) {
        (Some((shard, table)), _) => agree(shard, format!("`{table}`"))?,
        (None, None | Some(InsertKey::Column)) => {}
        // Refused above.
        (None, Some(InsertKey::Unknown(_))) => {}
        (None, Some(InsertKey::Value(value))) => {
            let Some(rule) = target_rule(stmt, topology) else {
                return Err(RouteError::NotSupported(
                    "cannot route an INSERT whose target table is not a sharded table's name"
                        .into(),
                ));
            };
            match value {
                KeySource::Param(_) => {
                    deferred.push((rule.name.to_ascii_lowercase(), value.clone()))
                }
                KeySource::Value(v) => {
                    let shard =
                        rule.shard_for(&v.as_key())
                            .map_err(|source| RouteError::BadKey {
                                table: rule.name.clone(),
                                key: rule.shard_key.clone(),
                                source: Box::new(source),
                            })?;
                    agree(shard, format!("`{}`", rule.name))?;
                }
            }
        }
    }
    let table = p
        .instances
        .iter()
        .find(|i| i.top)
        .or(p.instances.first())
        .map(|i| i.table.rule.name.to_ascii_lowercase());
    let pinned_by: Arc<[String]> = reasons(&p, &homes, true).into();
    let route = if deferred.is_empty() {
        let shard = chosen.map_or(topology.default_shard, |(s, _)| s);
        crate::plan::unsharded_conflict(topology, p.unsharded.as_deref(), shard)?;
        Route::Shard(shard)
    } else {
        Route::Deferred(DeferredRoute {
            verb,
            keys: deferred,
            fixed: chosen.map(|(s, _)| s),
            unsharded: p.unsharded.clone(),
        })
    };
    let mut plan = Plan::new(kind, route);
    plan.table = table.map(Into::into);
    plan.pinned_by = (!pinned_by.is_empty()).then_some(pinned_by);
    Ok(plan)
}

/// The sharded table an INSERT writes.
fn target_rule<'t>(
    stmt: &Statement,
    topology: &'t Topology,
) -> Option<&'t shardgate_config::TableRule> {
    let Statement::Insert(ins) = stmt else {
        return None;
    };
    let sqlparser::ast::TableObject::TableName(name) = &ins.table else {
        return None;
    };
    topology.table(&crate::shard_key::base_name(name)?)
}

/// For a scatter or broadcast of `stmt` over its own tables: every other sharded reference
/// (in a subquery) must follow their rows, so that each shard answers for its own. `Ok` with
/// the conditions that make it so; `Err` naming the reference that does not (`Ok(Err)`), or
/// asking for tables' columns that may show it does (`Err(SchemaNeeded)`).
pub(crate) fn follows_outer_rows(
    stmt: &Statement,
    verb: &str,
    topology: &Topology,
) -> Result<Result<Vec<String>, String>, RouteError> {
    let p = analyze(stmt, topology);
    let follows = outer_rows_followed(&p, verb);
    if follows.is_err() && !p.schema_needed.is_empty() {
        return Err(RouteError::SchemaNeeded {
            tables: p.schema_needed,
        });
    }
    Ok(follows)
}

fn outer_rows_followed(p: &Pinning<'_>, verb: &str) -> Result<Vec<String>, String> {
    if let Some(problem) = &p.problem {
        return Err(format!("{problem} is not supported"));
    }
    if let Some(table) = &p.unsharded {
        return Err(format!(
            "a subquery reading unsharded table `{table}`, which only the default shard has"
        ));
    }
    let homes = homes(p, |i| i.top);
    if let Some((i, _)) = p.instances.iter().zip(&homes).find(|(_, h)| h.is_none()) {
        return Err(unpinned(verb, i, false));
    }
    Ok(reasons(p, &homes, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Syntax;

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    fn route(sql: &str) -> Result<Plan, RouteError> {
        crate::plan_sql(sql, &topology(), Syntax::DEFAULT)
    }

    fn shard(sql: &str) -> String {
        let t = topology();
        match route(sql) {
            Ok(plan) => match plan.route {
                Route::Shard(s) => t.shards[s].name.clone(),
                Route::Scatter(_) => "scatter".into(),
                Route::Broadcast(_) | Route::Split(_) => "broadcast".into(),
                Route::Deferred(_) => "deferred".into(),
                // Not pushed down: answered from copies of its tables (`materialize.rs`).
                Route::Materialize(_) => "materialize".into(),
                other => format!("{other:?}"),
            },
            Err(e) => format!("error: {e}"),
        }
    }

    // users.id on the golden ring: 5, 6, 8 → s0; 1, 3, 4, 7 → s1; 2, 11, 12 → s2.

    #[test]
    fn pinned_subqueries_go_to_their_shard() {
        for sql in [
            "SELECT * FROM users WHERE id IN (SELECT user_id FROM orders WHERE user_id = 7)",
            "SELECT * FROM (SELECT * FROM users WHERE id = 7) t",
            "WITH t AS (SELECT * FROM users WHERE id = 7) SELECT * FROM t",
            "SELECT * FROM users WHERE id = 7 UNION SELECT * FROM users WHERE id = 3",
            "SELECT (SELECT name FROM users WHERE id = 7)",
            "SELECT * FROM users u WHERE u.id = 7 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)",
            "SELECT u.id, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) FROM users u WHERE u.id = 7",
            "SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.user_id = 7)",
            "SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM users WHERE id IN (1, 7)",
            "INSERT INTO orders (id, user_id) SELECT 100, id FROM users WHERE id = 7",
            "INSERT INTO orders (id, user_id) SELECT 100, 7 FROM countries",
            "UPDATE users SET name = (SELECT MAX(status) FROM orders o WHERE o.user_id = users.id) WHERE id = 7",
            "DELETE FROM orders WHERE user_id = 7 AND id IN (SELECT id FROM (SELECT id FROM orders WHERE user_id = 7) t)",
            // Keys carried out of a CTE or derived table are followed.
            "WITH t AS (SELECT id FROM users WHERE id = 7) SELECT (SELECT COUNT(*) FROM orders o WHERE o.user_id = t.id) FROM t",
            "SELECT d.k, o.id FROM (SELECT id AS k FROM users WHERE id = 7) d JOIN orders o ON o.user_id = d.k",
            "WITH t AS (SELECT * FROM users WHERE id = 7) SELECT * FROM t WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = t.id)",
            // A CTE named once whose rows follow its key: pinned by it, or by what it joins.
            "WITH t AS (SELECT id FROM users) SELECT * FROM t JOIN orders o ON o.user_id = t.id WHERE o.user_id = 7",
            "WITH t AS (SELECT user_id AS uid, SUM(amount) s FROM orders GROUP BY user_id) SELECT * FROM t WHERE uid = 7",
        ] {
            assert_eq!(shard(sql), "s1", "{sql}");
        }
    }

    #[test]
    fn unpinned_or_conflicting_references_are_refused() {
        for sql in [
            // The subquery's orders are on every shard.
            "SELECT * FROM users WHERE id = 7 AND name IN (SELECT status FROM orders)",
            // NOT IN of an uncorrelated subquery: not a pin.
            "SELECT * FROM users u WHERE u.id = 7 AND u.id NOT IN (SELECT o.user_id FROM orders o WHERE o.qty = 1)",
            // A literal on an outer table inside a subquery pins nothing.
            "SELECT * FROM users u WHERE u.id = 7 AND EXISTS (SELECT 1 FROM orders o WHERE u.id = 7)",
            // The inner alias shadows the outer one: `u.id` is the inner users' key.
            "SELECT * FROM users u WHERE u.id = 7 AND EXISTS (SELECT 1 FROM users u WHERE u.id = u.id)",
            // OR of keys on different shards.
            "SELECT * FROM users WHERE id = 7 AND name = (SELECT name FROM users WHERE id = 7 OR id = 2)",
            // A CTE named like a table hides the table; the CTE's own orders are not pinned.
            "WITH users AS (SELECT * FROM orders) SELECT * FROM users WHERE id = 7",
            // LIMIT in an IN subquery: its rows depend on other shards' rows.
            "SELECT * FROM users u WHERE u.id = 7 AND u.id IN (SELECT * FROM (SELECT o.user_id FROM orders o LIMIT 1) t)",
            // A CTE named twice: one reference's key condition says nothing of the other's
            // rows, which its body reads all of.
            "WITH t AS (SELECT id FROM users) SELECT * FROM t JOIN orders o ON o.user_id = t.id JOIN t t2 ON t2.id > 0 WHERE o.user_id = 7",
            "WITH t AS (SELECT id FROM users) SELECT * FROM t WHERE t.id = 7 AND EXISTS (SELECT 1 FROM t AS t2 WHERE t2.id <> 7)",
            // Rows the CTE's body cuts by LIMIT or groups by another column.
            "WITH t AS (SELECT id FROM users LIMIT 3) SELECT * FROM t WHERE id = 7",
            "WITH t AS (SELECT user_id, COUNT(*) c FROM orders GROUP BY amount) SELECT * FROM t WHERE user_id = 7",
            // The inserted key is not placed like the rows read.
            "INSERT INTO orders (id, user_id) SELECT id, id + 1 FROM users WHERE id = 7",
        ] {
            let s = shard(sql);
            assert!(s.starts_with("error") || s == "materialize", "{sql}: {s}");
        }
        // Not pushed down: its uncorrelated subquery runs first (else the copies answer it).
        let s = shard("SELECT * FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 7 AND EXISTS (SELECT 1 FROM users v WHERE v.id = 2)");
        assert!(s.contains("after its subqueries"), "{s}");
    }

    #[test]
    fn outer_join_on_clauses_pin_only_their_null_supplying_side() {
        // `o` is preserved by the LEFT JOIN: the ON equality says nothing about its rows.
        assert_ne!(
            shard("SELECT * FROM users u JOIN orders o ON 1 = 1 LEFT JOIN countries c ON o.user_id = u.id WHERE u.id = 7"),
            "s1"
        );
        assert_eq!(
            shard("SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id = 7"),
            "s1"
        );
        // A literal in the ON clause of a LEFT JOIN pins the joined table, not the preserved one.
        assert_eq!(
            shard("SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.id AND o.user_id = 7 WHERE u.id = 7"),
            "s1"
        );
        assert_ne!(
            shard("SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.id AND u.id = 7"),
            "s1"
        );
    }

    #[test]
    fn correlated_subqueries_follow_a_scatter() {
        for sql in [
            "SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)",
            "SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.qty > 3)",
            "SELECT u.id FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.qty > 3)",
            "SELECT COUNT(*) FROM users u WHERE u.name > (SELECT MIN(o.status) FROM orders o WHERE o.user_id = u.id)",
            "DELETE FROM users WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = users.id)",
        ] {
            let s = shard(sql);
            assert!(s == "scatter" || s == "broadcast", "{sql}: {s}");
        }
        for sql in [
            "SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)",
            "SELECT u.id FROM users u WHERE u.id NOT IN (SELECT o.user_id FROM orders o)",
            "SELECT u.id FROM users u WHERE u.name = (SELECT name FROM users WHERE id = 7)",
            "SELECT u.id FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o GROUP BY o.user_id HAVING COUNT(*) > 1) OR u.id = 3",
        ] {
            // Not pushed down: answered from copies, or after its (uncorrelated) subqueries.
            let s = shard(sql);
            assert!(
                s == "materialize" || s.contains("after its subqueries"),
                "{sql}: {s}"
            );
        }
    }
}
