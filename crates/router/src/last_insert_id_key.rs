//! `INSERT INTO orders (user_id, …) VALUES (LAST_INSERT_ID(), …)`: a child row keyed by the
//! id of the row inserted just before, the common way to write a parent and its children. The
//! value is the session's own (the proxy keeps it, and sets it on the connection a statement
//! runs on: `last_insert_id.rs`), so the session writes it in where the shard key is given by
//! the function ([`with_last_insert_id_keys`]) and plans the text again: the rows route by it,
//! and every other `LAST_INSERT_ID()` of the statement is still MariaDB's, with the same value.

use std::ops::ControlFlow;

use shardgate_config::Topology;
use sqlparser::ast::{
    AssignmentTarget, Expr, FunctionArguments, SetExpr, Spanned, Statement, TableObject, Visit,
    Visitor,
};

use crate::rewrite::Offsets;
use crate::shard_key::base_name;
use crate::Syntax;

/// Whether `expr` is `LAST_INSERT_ID()` (without an argument, which would set it).
pub(crate) fn is_last_insert_id(expr: &Expr) -> bool {
    match expr {
        Expr::Function(f) => {
            f.name.0.len() == 1
                && (f.name.0[0].as_ident())
                    .is_some_and(|i| i.value.eq_ignore_ascii_case("LAST_INSERT_ID"))
                && match &f.args {
                    FunctionArguments::None => true,
                    FunctionArguments::List(list) => list.args.is_empty(),
                    FunctionArguments::Subquery(_) => false,
                }
        }
        Expr::Nested(inner) => is_last_insert_id(inner),
        _ => false,
    }
}

/// Whether the statement calls `LAST_INSERT_ID(expr)`, which sets the value as it runs.
fn sets_last_insert_id(stmt: &Statement) -> bool {
    struct Finder;
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Function(f)
                    if (f.name.0.last().and_then(|p| p.as_ident()))
                        .is_some_and(|i| i.value.eq_ignore_ascii_case("LAST_INSERT_ID"))
                        && !is_last_insert_id(expr) =>
                {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    stmt.visit(&mut Finder).is_break()
}

/// Where the call whose name ends at `at` ends: after its `( )` (the parser's span of a call
/// without arguments stops at its name).
fn call_end(sql: &str, at: usize) -> Option<usize> {
    if sql[..at].ends_with(')') {
        return Some(at);
    }
    let rest = sql[at..].trim_start().strip_prefix('(')?.trim_start();
    rest.strip_prefix(')').map(|after| sql.len() - after.len())
}

/// INSERT `sql` with `value` written in where its shard key is `LAST_INSERT_ID()`, or `None`
/// when it has no such key, or sets the value itself (`LAST_INSERT_ID(expr)`).
pub fn with_last_insert_id_keys(
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
    value: u64,
) -> Option<String> {
    let statements = crate::lex::parse(sql, syntax).ok()?;
    let [Statement::Insert(ins)] = statements.as_slice() else {
        return None;
    };
    if sets_last_insert_id(&statements[0]) {
        return None;
    }
    let TableObject::TableName(name) = &ins.table else {
        return None;
    };
    let rule = topology.table(&base_name(name)?)?;
    let is_key = |n: &sqlparser::ast::ObjectName| base_name(n).is_some_and(|c| c == rule.shard_key);
    let mut keys: Vec<&Expr> = Vec::new();
    if ins.columns.is_empty() {
        keys.extend(
            (ins.assignments.iter())
                .filter(|a| matches!(&a.target, AssignmentTarget::ColumnName(n) if is_key(n)))
                .map(|a| &a.value),
        );
    } else {
        let at = ins.columns.iter().position(|c| {
            c.0.last()
                .and_then(|p| p.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case(&rule.shard_key))
        })?;
        let Some(SetExpr::Values(values)) = ins.source.as_deref().map(|q| q.body.as_ref()) else {
            return None;
        };
        keys.extend(values.rows.iter().filter_map(|row| row.content.get(at)));
    }
    let mut offsets = Offsets::new(sql);
    let mut ranges = Vec::new();
    for key in keys.into_iter().filter(|k| is_last_insert_id(k)) {
        let span = key.span();
        let (start, end) = (offsets.at(span.start)?, offsets.at(span.end)?);
        ranges.push(start..call_end(sql, end)?);
    }
    if ranges.is_empty() {
        return None;
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(sql.len());
    let mut from = 0;
    for range in ranges {
        out.push_str(&sql[from..range.start]);
        out.push_str(&value.to_string());
        from = range.end;
    }
    out.push_str(&sql[from..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{plan_sql, Route, RouteError};

    fn topology() -> Topology {
        crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n",
        )
    }

    #[test]
    fn a_key_given_by_last_insert_id_takes_the_sessions_value() {
        let t = topology();
        let sql = "INSERT INTO orders (id, user_id, note) VALUES (1, LAST_INSERT_ID(), LAST_INSERT_ID()), (2, last_insert_id ( ), 'x')";
        assert!(matches!(
            plan_sql(sql, &t, Syntax::default()),
            Err(RouteError::KeyFromLastInsertId { .. })
        ));
        let written = with_last_insert_id_keys(sql, Syntax::default(), &t, 42).unwrap();
        assert_eq!(
            written,
            "INSERT INTO orders (id, user_id, note) VALUES (1, 42, LAST_INSERT_ID()), (2, 42, 'x')"
        );
        let shard = t
            .table("orders")
            .unwrap()
            .shard_for(&shardgate_ring::KeyValue::Int(42))
            .unwrap();
        assert_eq!(
            plan_sql(&written, &t, Syntax::default()).unwrap().route,
            Route::Shard(shard)
        );
        let set = with_last_insert_id_keys(
            "INSERT INTO orders SET id = 3, user_id = LAST_INSERT_ID()",
            Syntax::default(),
            &t,
            7,
        );
        assert_eq!(
            set.as_deref(),
            Some("INSERT INTO orders SET id = 3, user_id = 7")
        );
    }

    #[test]
    fn a_statement_that_sets_the_value_keeps_its_refusal() {
        let t = topology();
        let sql = "INSERT INTO orders (id, user_id) VALUES (LAST_INSERT_ID(5), LAST_INSERT_ID())";
        assert_eq!(
            with_last_insert_id_keys(sql, Syntax::default(), &t, 42),
            None
        );
        // Another expression is no key the proxy knows.
        let other = "INSERT INTO orders (id, user_id) VALUES (1, LAST_INSERT_ID() + 1)";
        assert!(matches!(
            plan_sql(other, &t, Syntax::default()),
            Err(RouteError::KeyExpression { .. })
        ));
    }
}
