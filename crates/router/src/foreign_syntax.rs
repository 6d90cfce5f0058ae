//! Forms the SQL parser reads, from other dialects, that MariaDB refuses with a syntax error
//! (1064). Where the proxy would act on them itself they go to the default shard instead,
//! which answers MariaDB's own error:
//! - transaction statements — `END`, `ABORT`, `BEGIN TRANSACTION`, `COMMIT TRANSACTION`,
//!   `RELEASE name`, `START TRANSACTION ISOLATION LEVEL …` — taken as transaction commands,
//!   `END` would commit and `ABORT` roll back where one server changes nothing;
//! - `LIMIT ALL`, `LIMIT n OFFSET m ROWS`, `OFFSET m LIMIT n`: a statement the proxy runs
//!   across shards gets a LIMIT it writes itself, which would answer where one server refuses.

use std::ops::ControlFlow;

use sqlparser::ast::{LimitClause, OffsetRows, Query, Spanned, Statement, Visit, Visitor};
use sqlparser::tokenizer::Token;

use crate::Syntax;

/// Whether `sql` is a transaction statement in MariaDB's grammar: `START TRANSACTION [READ
/// ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT [, …]]`, `BEGIN [WORK]`, `COMMIT | ROLLBACK
/// [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`, `ROLLBACK [WORK] TO [SAVEPOINT] name`, `SAVEPOINT
/// name`, `RELEASE SAVEPOINT name`.
pub(crate) fn is_mariadb_transaction(sql: &str, syntax: Syntax) -> bool {
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, true) else {
        return false;
    };
    let mut t: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    while t.last() == Some(&&Token::SemiColon) {
        t.pop();
    }
    let kw = |i: usize, k: &str| matches!(t.get(i), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let name = |i: usize| matches!(t.get(i), Some(Token::Word(_))) && i + 1 == t.len();
    let end = |i: usize| i == t.len();
    if kw(0, "start") && kw(1, "transaction") {
        let mut i = 2;
        if end(i) {
            return true;
        }
        loop {
            if kw(i, "read") && (kw(i + 1, "only") || kw(i + 1, "write")) {
                i += 2;
            } else if kw(i, "with") && kw(i + 1, "consistent") && kw(i + 2, "snapshot") {
                i += 3;
            } else {
                return false;
            }
            if end(i) {
                return true;
            }
            if t[i] != &Token::Comma {
                return false;
            }
            i += 1;
        }
    }
    if kw(0, "begin") {
        return end(1) || (kw(1, "work") && end(2));
    }
    if kw(0, "savepoint") {
        return name(1);
    }
    if kw(0, "release") {
        return kw(1, "savepoint") && name(2);
    }
    if !(kw(0, "commit") || kw(0, "rollback")) {
        return false;
    }
    let mut i = 1;
    if kw(i, "work") {
        i += 1;
    }
    if kw(0, "rollback") && kw(i, "to") {
        i += 1;
        if kw(i, "savepoint") {
            i += 1;
        }
        return name(i);
    }
    if kw(i, "and") {
        i += 1;
        if kw(i, "no") {
            i += 1;
        }
        if !kw(i, "chain") {
            return false;
        }
        i += 1;
    }
    if kw(i, "no") {
        i += 1;
        if !kw(i, "release") {
            return false;
        }
        i += 1;
    } else if kw(i, "release") {
        i += 1;
    }
    end(i)
}

/// Whether a query of `statements` (text `sql`) limits its rows in a form MariaDB refuses.
pub(crate) fn has_foreign_limit(statements: &[Statement], sql: &str, syntax: Syntax) -> bool {
    let bytes = sql.as_bytes();
    let mentions_limit = memchr::memchr2_iter(b'l', b'L', bytes).any(|i| {
        bytes[i..]
            .get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"limit"))
    });
    if !mentions_limit {
        return false;
    }
    // `LIMIT ALL` leaves no trace in the tree.
    let words: Vec<Token> = crate::lex::tokenize(sql, syntax, false)
        .map(|t| t.into_iter().map(|t| t.token).collect())
        .unwrap_or_default();
    let mut words = words
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .peekable();
    let is = |t: &Token, k: &str| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    while let Some(t) = words.next() {
        if is(t, "limit") && words.peek().is_some_and(|next| is(next, "all")) {
            return true;
        }
    }
    statements
        .iter()
        .any(|s| s.visit(&mut ForeignLimit).is_break())
}

struct ForeignLimit;

impl Visitor for ForeignLimit {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let Some(LimitClause::LimitOffset { limit, offset, .. }) = &query.limit_clause else {
            return ControlFlow::Continue(());
        };
        let foreign = match (limit, offset) {
            (Some(limit), Some(offset)) => {
                offset.rows != OffsetRows::None || offset.value.span().start < limit.span().start
            }
            _ => false,
        };
        match foreign {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_other_dialects_forms_are_found_in_every_query() {
        let foreign = |sql: &str| {
            let statements = crate::lex::parse_verbatim(sql, Syntax::default()).unwrap();
            has_foreign_limit(&statements, sql, Syntax::default())
        };
        for sql in [
            "SELECT id FROM users ORDER BY id LIMIT ALL",
            "SELECT id FROM users ORDER BY id LIMIT 2 OFFSET 1 ROWS",
            "SELECT id FROM users ORDER BY id LIMIT 2 OFFSET 1 ROW",
            "SELECT id FROM users ORDER BY id OFFSET 2 LIMIT 1",
            "SELECT * FROM (SELECT id FROM users Limit ALL) t LIMIT 1",
            "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders LIMIT ALL)",
            "SELECT 1 UNION SELECT 2 LIMIT 2 OFFSET 1 ROWS",
        ] {
            assert!(foreign(sql), "{sql}");
        }
        for sql in [
            "SELECT id FROM users ORDER BY id LIMIT 2 OFFSET 1",
            "SELECT id FROM users ORDER BY id LIMIT 1, 2",
            "SELECT id FROM users ORDER BY id OFFSET 2 ROWS FETCH FIRST 2 ROWS ONLY",
            "SELECT id FROM users ORDER BY id OFFSET 2",
            "SELECT id FROM users WHERE id = 1",
            "SELECT `limit` FROM t WHERE `all` = 1",
            "SELECT 'LIMIT ALL' FROM t LIMIT 1",
        ] {
            assert!(!foreign(sql), "{sql}");
        }
    }

    #[test]
    fn mariadb_s_forms_are_told_from_other_dialects() {
        for sql in [
            "BEGIN",
            "begin work;",
            "START TRANSACTION",
            "START TRANSACTION READ ONLY",
            "start transaction with consistent snapshot, read write",
            "COMMIT",
            "COMMIT WORK AND NO CHAIN NO RELEASE",
            "ROLLBACK /* c */ WORK",
            "ROLLBACK AND CHAIN",
            "ROLLBACK TO sp",
            "ROLLBACK WORK TO SAVEPOINT `my sp`",
            "ROLLBACK TO SAVEPOINT `savepoint`",
            "SAVEPOINT sp",
            "RELEASE SAVEPOINT sp;",
        ] {
            assert!(is_mariadb_transaction(sql, Syntax::default()), "{sql}");
        }
        for sql in [
            "END",
            "END WORK",
            "ABORT",
            "BEGIN TRANSACTION",
            "BEGIN DEFERRED",
            "COMMIT TRANSACTION",
            "ROLLBACK TRANSACTION",
            "RELEASE sp",
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "START TRANSACTION READ ONLY,",
            "SAVEPOINT",
            "ROLLBACK TO",
            "ROLLBACK TO SAVEPOINT",
            "COMMIT AND",
        ] {
            assert!(!is_mariadb_transaction(sql, Syntax::default()), "{sql}");
        }
    }
}
