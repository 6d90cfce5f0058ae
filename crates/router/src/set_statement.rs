//! MariaDB's `SET STATEMENT var = value [, …] FOR <statement>`: the variables hold for that one
//! statement only. It is planned as its statement; where the statement's text is sent as the
//! client wrote it, the whole text goes, and where the proxy writes a text of its own (a
//! scatter's per-shard statement, a split INSERT's parts) the `SET STATEMENT … FOR` prefix is
//! put in front of it, so every shard runs its part under the same variables.

use sqlparser::tokenizer::Token;

use shardgate_config::Topology;

use crate::{KeySource, Plan, Route, RouteError, Syntax};

/// Where the statement after `FOR` starts in `sql` (comments resolved, see
/// [`crate::lex::resolve_comments`]) when it is a `SET STATEMENT … FOR …`, and how many `?`
/// placeholders come before it.
pub(crate) fn inner_statement(sql: &str, syntax: Syntax) -> Option<(usize, usize)> {
    if !crate::text::first_word(sql).eq_ignore_ascii_case("set")
        || crate::text::find_ignore_case(sql, "statement").is_none()
    {
        return None;
    }
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)));
    let keyword = |t: Option<&sqlparser::tokenizer::TokenWithSpan>, k: &str| matches!(t.map(|t| &t.token), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    if !keyword(words.next(), "set") || !keyword(words.next(), "statement") {
        return None;
    }
    let mut depth = 0usize;
    let mut placeholders = 0;
    while let Some(t) = words.next() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Placeholder(_) => placeholders += 1,
            Token::Word(w)
                if depth == 0 && w.quote_style.is_none() && w.value.eq_ignore_ascii_case("for") =>
            {
                let inner = words.next()?;
                let start = crate::rewrite::Offsets::new(sql).at(inner.span.start)?;
                return Some((start, placeholders));
            }
            _ => {}
        }
    }
    None
}

/// The statement a `SET STATEMENT … FOR <statement>` text runs, as written in `sql`; `None`
/// for any other text.
pub fn set_statement_body(sql: &str, syntax: Syntax) -> Option<&str> {
    let resolved = crate::lex::resolve_comments(sql, syntax);
    let (inner, _) = inner_statement(&resolved, syntax)?;
    sql.get(inner..)
}

/// The plan of `SET STATEMENT … FOR <statement>`, the statement starting at `inner` with
/// `placeholders` `?` before it.
pub(crate) fn plan(
    sql: &str,
    inner: usize,
    placeholders: usize,
    topology: &Topology,
    syntax: Syntax,
) -> Result<Plan, RouteError> {
    let prefix = &sql[..inner];
    if crate::sql_prepared_statement(&sql[inner..], syntax).is_some() {
        return Err(RouteError::SqlPreparedUnderSetStatement { inner });
    }
    let mut plan = crate::plan_sql(&sql[inner..], topology, syntax)?;
    if let Some(text) = &mut plan.rewritten {
        text.insert_str(0, prefix);
    }
    match &mut plan.route {
        Route::Split(parts) => {
            for (_, text) in parts {
                text.insert_str(0, prefix);
            }
        }
        Route::Scatter(scatter) => {
            scatter.sql.insert_str(0, prefix);
            for text in &mut scatter.shard_sql {
                text.insert_str(0, prefix);
            }
        }
        // Parameters are numbered over the whole text.
        Route::Deferred(deferred) => {
            for (_, key) in &mut deferred.keys {
                if let KeySource::Param(i) = key {
                    *i += placeholders;
                }
            }
        }
        _ => {}
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_statement_after_for() {
        fn at(sql: &str) -> Option<(&str, usize)> {
            inner_statement(sql, Syntax::DEFAULT).map(|(i, n)| (&sql[i..], n))
        }
        assert_eq!(
            at("SET STATEMENT max_statement_time=1 FOR SELECT 1"),
            Some(("SELECT 1", 0))
        );
        assert_eq!(
            at("set statement a = (SELECT x FROM t FOR UPDATE), b = 'for' for\n  UPDATE t SET a = ?"),
            Some(("UPDATE t SET a = ?", 0))
        );
        assert_eq!(
            at("SET STATEMENT a = ?, b = ? FOR SELECT ?"),
            Some(("SELECT ?", 2))
        );
        assert_eq!(at("SET @statement = 1"), None);
        assert_eq!(at("SET statement_x = 1"), None);
        assert_eq!(at("SET STATEMENT a = 1"), None);
        assert_eq!(
            set_statement_body(
                "/* c */ SET STATEMENT a = 1 FOR INSERT INTO t VALUES (1)",
                Syntax::DEFAULT
            ),
            Some("INSERT INTO t VALUES (1)")
        );
        assert_eq!(set_statement_body("SET @a = 1", Syntax::DEFAULT), None);
    }
}
