//! `ROWNUM()` in a statement that runs on several shards: MariaDB numbers the rows of the
//! statement as it reads them (`WHERE ROWNUM() <= 3` keeps three rows), where each shard would
//! number its own from 1 — a silent difference. A SELECT is answered over copies of its tables
//! on one connection (`exact_fallback::materialized`), where one server numbers them all; any
//! other statement is refused (1235).

use shardgate_config::Topology;

use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// Whether `sql` (resolved text) calls `ROWNUM()`.
pub(crate) fn holds(sql: &str, syntax: Syntax) -> bool {
    if crate::text::find_ignore_case(sql, "rownum").is_none() {
        return false;
    }
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, false) else {
        return false;
    };
    crate::lex::calls_function(&tokens, "rownum", false)
}

/// Whether `route` numbers the statement's rows on more than one server.
fn splits_rows(route: &Route) -> bool {
    matches!(
        route,
        Route::Scatter(_)
            | Route::Broadcast(_)
            | Route::SetOperation(_)
            | Route::Join(_)
            | Route::Split(_)
    )
}

/// `plan` of `sql`, or where its rows would be numbered on several shards, the plan that
/// numbers them on one connection (a SELECT) or the refusal.
pub(crate) fn numbered_once(
    plan: Plan,
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    if !splits_rows(&plan.route) || !holds(sql, syntax) {
        return Ok(plan);
    }
    let copies = (plan.kind == StatementKind::Read)
        .then(|| crate::exact_fallback::materialized(sql, syntax, topology))
        .flatten();
    match copies {
        Some(copies) => Ok(Plan::new(
            StatementKind::Read,
            Route::Materialize(Box::new(copies)),
        )),
        None => Err(RouteError::NotSupported(
            "ROWNUM() in a statement that runs on several shards is not supported by shardgate: MariaDB numbers the statement's rows as it reads them, and each shard would number its own from 1; run it on one shard (give its shard key)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        crate::test_topology::two_shards("[[tables]]\nname = \"users\"\nshard_key = \"id\"\n")
    }

    #[test]
    fn rows_numbered_across_shards_are_numbered_over_copies_or_refused() {
        let topology = topology();
        let plan = |sql: &str| crate::plan_sql(sql, &topology, Syntax::DEFAULT);
        for sql in [
            "SELECT id, ROWNUM() FROM users",
            "SELECT id FROM users WHERE rownum ( ) <= 3",
            "SELECT * FROM (SELECT id, ROWNUM() r FROM users) d WHERE id = 7",
        ] {
            assert!(
                matches!(plan(sql).map(|p| p.route), Ok(Route::Materialize(_))),
                "{sql}: {:?}",
                plan(sql)
            );
        }
        let e = plan("UPDATE users SET name = ROWNUM()").unwrap_err();
        assert!(e.to_string().contains("ROWNUM()"), "{e}");
        // One shard numbers them as one server; `rownum` as a name is no call.
        assert!(matches!(
            plan("SELECT id, ROWNUM() FROM users WHERE id = 3").map(|p| p.route),
            Ok(Route::Shard(_))
        ));
        assert!(!holds("SELECT rownum, `rownum`() FROM t", Syntax::DEFAULT));
    }
}
