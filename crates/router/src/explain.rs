//! `EXPLAIN` / `DESCRIBE` / `ANALYZE` of a statement. One that runs on one shard is explained
//! by that shard (the text goes there unchanged: MariaDB's own EXPLAIN); one the proxy runs on
//! several shards is answered with the proxy's plan tree (`Route::Explain`), since no single
//! shard's EXPLAIN describes it.

use shardgate_config::Topology;
use sqlparser::tokenizer::Token;

use crate::plan::Explained;
use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// The words an explained statement may start with (`EXPLAIN t` describes a table instead).
const STATEMENT_STARTS: [&str; 6] = ["select", "with", "insert", "replace", "update", "delete"];

/// What precedes the explained statement.
#[derive(Debug, PartialEq, Eq)]
struct Prefix {
    /// `ANALYZE` / `EXPLAIN ANALYZE`: MariaDB runs the statement.
    analyze: bool,
    /// `FORMAT=JSON` (or another format than the traditional one).
    format: Option<String>,
    /// Where the statement starts.
    statement_at: usize,
}

/// The plan of `sql` when it is an `EXPLAIN` (or `DESCRIBE` / `ANALYZE`) of a statement;
/// `None` for any other text. Cheap for other statements: one look at the first word.
pub(crate) fn plan(
    sql: &str,
    topology: &Topology,
    syntax: Syntax,
) -> Option<Result<Plan, RouteError>> {
    let first = sql.trim_start().as_bytes().get(..7)?;
    if !["explain", "describ", "desc ", "desc\t", "desc\n", "analyze"]
        .iter()
        .any(|w| first[..w.len()].eq_ignore_ascii_case(w.as_bytes()))
    {
        return None;
    }
    let prefix = prefix(sql, syntax)?;
    let statement = &sql[prefix.statement_at..];
    Some(explain(statement, &prefix, topology, syntax))
}

fn explain(
    statement: &str,
    prefix: &Prefix,
    topology: &Topology,
    syntax: Syntax,
) -> Result<Plan, RouteError> {
    let inner = crate::plan_sql(statement, topology, syntax).map_err(|e| match e {
        RouteError::InsertNeedsIds(_)
        | RouteError::InsertFromSelect(_)
        | RouteError::InsertWithoutColumns { .. } => RouteError::NotSupported(
            "EXPLAIN of an INSERT the proxy runs in steps (generated ids, INSERT … SELECT, no column list) is not supported by shardgate: SHOW SHARDGATE ROUTE FOR shows its plan".into(),
        ),
        // Never run: the request would run the statement, not explain it.
        e @ (RouteError::SubqueriesFirst(_)
        | RouteError::CreateFromSelect(_)
        | RouteError::IntoVariables(_)
        | RouteError::AssigningSelect(_)
        | RouteError::LimitedWrite(_)
        | RouteError::MovingUpdate(_)) => {
            RouteError::NotSupported(format!(
                "EXPLAIN of a statement the proxy runs in steps is not supported by shardgate ({}): SHOW SHARDGATE ROUTE FOR shows its plan",
                e.steps().unwrap_or_default()
            ))
        }
        other => other,
    })?;
    if inner.lookup.is_some() && prefix.analyze {
        return Err(RouteError::NotSupported(
            "ANALYZE of a statement routed by a lookup index is not supported by shardgate".into(),
        ));
    }
    match inner.route {
        Route::Shard(_) | Route::Deferred(_) if inner.lookup.is_none() => {
            // MariaDB explains it: the text goes to its shard unchanged. Only ANALYZE runs it.
            let kind = if prefix.analyze {
                inner.kind
            } else {
                StatementKind::Read
            };
            let mut plan = Plan::new(kind, inner.route);
            plan.table = inner.table;
            plan.pinned_by = inner.pinned_by;
            Ok(plan)
        }
        _ if prefix.analyze => Err(RouteError::NotSupported(
            "ANALYZE of a statement that runs on several shards is not supported by shardgate: it would run the statement; EXPLAIN shows the proxy's plan".into(),
        )),
        _ if prefix.format.is_some() => Err(RouteError::NotSupported(format!(
            "EXPLAIN FORMAT={} of a statement that runs on several shards is not supported by shardgate; EXPLAIN without FORMAT shows the proxy's plan",
            prefix.format.as_deref().unwrap_or_default().to_ascii_uppercase()
        ))),
        _ => Ok(Plan::new(
            StatementKind::Read,
            Route::Explain(Box::new(Explained {
                sql: statement.to_owned(),
                plan: inner,
            })),
        )),
    }
}

/// Reads `EXPLAIN [EXTENDED | PARTITIONS | FORMAT = f] stmt`, `DESCRIBE …`, `EXPLAIN ANALYZE
/// stmt` and `ANALYZE [FORMAT = f] stmt`; `None` when no statement follows (`DESCRIBE t`,
/// `ANALYZE TABLE t`, `EXPLAIN FOR CONNECTION n`).
fn prefix(sql: &str, syntax: Syntax) -> Option<Prefix> {
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut offsets = crate::rewrite::Offsets::new(sql);
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::Eq));
    let first = words.next()?;
    let Token::Word(first_word) = &first.token else {
        return None;
    };
    if !["explain", "describe", "desc", "analyze"]
        .iter()
        .any(|w| first_word.value.eq_ignore_ascii_case(w))
    {
        return None;
    }
    let mut analyze = first_word.value.eq_ignore_ascii_case("analyze");
    let mut format = None;
    let mut expect_format = false;
    for t in words {
        let word = match &t.token {
            Token::LParen => None,
            Token::Word(w) => Some(w.value.to_ascii_lowercase()),
            Token::SingleQuotedString(s) if expect_format => Some(s.to_ascii_lowercase()),
            _ => return None,
        };
        if expect_format {
            format = word.filter(|f| f != "traditional");
            expect_format = false;
            continue;
        }
        match word.as_deref() {
            None => {}
            Some(w) if STATEMENT_STARTS.contains(&w) => {}
            Some("extended" | "partitions") if !analyze => continue,
            Some("analyze") if !analyze => {
                analyze = true;
                continue;
            }
            Some("format") => {
                expect_format = true;
                continue;
            }
            Some(_) => return None,
        }
        return Some(Prefix {
            analyze,
            format,
            statement_at: offsets.at(t.span.start)?,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    fn planned(sql: &str) -> Option<Result<Plan, RouteError>> {
        plan(sql, &topology(), Syntax::DEFAULT)
    }

    #[test]
    fn reads_the_prefixes() {
        fn at(sql: &str) -> Option<&str> {
            prefix(sql, Syntax::DEFAULT).map(|p| &sql[p.statement_at..])
        }
        assert_eq!(at("EXPLAIN SELECT 1"), Some("SELECT 1"));
        assert_eq!(at("describe  extended\nSELECT 1"), Some("SELECT 1"));
        assert_eq!(at("EXPLAIN FORMAT=JSON (SELECT 1)"), Some("(SELECT 1)"));
        assert_eq!(
            at("EXPLAIN /* why */ UPDATE t SET a = 1"),
            Some("UPDATE t SET a = 1")
        );
        let p = prefix("ANALYZE FORMAT = json SELECT 1", Syntax::DEFAULT).unwrap();
        assert!(p.analyze && p.format.as_deref() == Some("json"));
        assert!(
            prefix("EXPLAIN ANALYZE SELECT 1", Syntax::DEFAULT)
                .unwrap()
                .analyze
        );
        assert_eq!(
            prefix("EXPLAIN FORMAT=TRADITIONAL SELECT 1", Syntax::DEFAULT)
                .unwrap()
                .format,
            None
        );
        assert_eq!(at("DESCRIBE users"), None);
        assert_eq!(at("DESC users id"), None);
        assert_eq!(at("ANALYZE TABLE users"), None);
        assert_eq!(at("EXPLAIN FOR CONNECTION 5"), None);
        assert_eq!(at("EXPLAIN"), None);
    }

    #[test]
    fn one_shard_explains_it_as_written() {
        let plan = planned("EXPLAIN SELECT * FROM users WHERE id = 7")
            .unwrap()
            .unwrap();
        assert_eq!(plan.route, Route::Shard(1));
        assert_eq!(plan.kind, StatementKind::Read);
        let plan = planned("EXPLAIN UPDATE users SET name = 'x' WHERE id = 7")
            .unwrap()
            .unwrap();
        assert_eq!(plan.kind, StatementKind::Read);
        let plan = planned("ANALYZE UPDATE users SET name = 'x' WHERE id = 7")
            .unwrap()
            .unwrap();
        assert_eq!(plan.kind, StatementKind::Write);
    }

    #[test]
    fn several_shards_are_explained_by_the_proxy() {
        let plan = planned("EXPLAIN SELECT * FROM users").unwrap().unwrap();
        let Route::Explain(explained) = &plan.route else {
            panic!("{:?}", plan.route)
        };
        assert_eq!(explained.sql, "SELECT * FROM users");
        assert!(matches!(explained.plan.route, Route::Scatter(_)));
        for sql in [
            "EXPLAIN FORMAT=JSON SELECT * FROM users",
            "ANALYZE SELECT * FROM users",
            "EXPLAIN ANALYZE DELETE FROM users",
        ] {
            let e = planned(sql).unwrap().unwrap_err();
            assert!(matches!(e, RouteError::NotSupported(_)), "{sql}: {e}");
        }
    }

    #[test]
    fn other_statements_are_left_alone() {
        assert!(planned("SELECT 1").is_none());
        assert!(planned("DESCRIBE users").is_none());
        assert!(planned("DELETE FROM users WHERE id = 1").is_none());
        assert!(planned("desc").is_none());
        assert!(planned("desc\u{e9}\u{e9}").is_none());
    }
}
