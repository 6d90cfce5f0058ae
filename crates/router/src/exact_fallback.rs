//! A scatter the executor finds it cannot merge exactly — a string column ordered or grouped
//! under a collation the merge does not reproduce (`utf8mb4_unicode_ci`, results not in UTF-8),
//! a session setting it would not honour — is answered from copies of its tables instead
//! ([`crate::materialize`]), where MariaDB itself orders, groups and computes. Decided at run
//! time (the shards' column definitions tell the collations), so planned here on demand.

use shardgate_config::Topology;

use crate::planner::{LARGE_STATEMENT, LARGE_STATEMENT_STACK};
use crate::{MaterializePlan, Plan, Route, RouteError, StatementKind, Syntax};

/// The materialization that answers `sql` (one SELECT over sharded tables), if it has one.
pub fn materialized(sql: &str, syntax: Syntax, topology: &Topology) -> Option<MaterializePlan> {
    let plan = || {
        let text = crate::lex::resolve_comments(sql, syntax);
        let sql = text.as_ref();
        let statements = crate::lex::parse(sql, syntax).ok()?;
        let [stmt] = statements.as_slice() else {
            return None;
        };
        let refusal = RouteError::NotSupported(String::new());
        match crate::materialize::fallback(sql, syntax, stmt, topology, refusal) {
            Ok(plan) => match plan.route {
                Route::Materialize(m) => Some(*m),
                _ => None,
            },
            Err(_) => None,
        }
    };
    // Planning it again needs the stack its first planning had.
    match sql.len() > LARGE_STATEMENT {
        true => stacker::grow(LARGE_STATEMENT_STACK, plan),
        false => plan(),
    }
}

/// `sql` (one SELECT over sharded tables) planned to be answered from copies of its tables,
/// if it can be.
pub fn plan_over_copies(sql: &str, syntax: Syntax, topology: &Topology) -> Option<Plan> {
    let copies = materialized(sql, syntax, topology)?;
    Some(Plan::new(
        StatementKind::Read,
        Route::Materialize(Box::new(copies)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    #[test]
    fn a_scatter_select_has_a_materialization() {
        let t = topology();
        let m = materialized("SELECT name FROM users ORDER BY name", Syntax::DEFAULT, &t)
            .expect("materialized");
        assert_eq!(m.copies.len(), 1);
        assert_eq!(m.copies[0].table, "users");
        assert_eq!(m.copies[0].shards, [0, 1, 2]);
    }

    #[test]
    fn statements_copies_cannot_answer_have_none() {
        let t = topology();
        for sql in [
            "SELECT name FROM users ORDER BY name FOR UPDATE",
            "UPDATE users SET name = 'x'",
            "SELECT 1",
            "SELECT 1; SELECT 2",
            "not sql",
        ] {
            assert!(materialized(sql, Syntax::DEFAULT, &t).is_none(), "{sql}");
        }
    }
}
