//! `ROW_COUNT()`, `FOUND_ROWS()`, `@@warning_count`, `@@error_count` and `@@in_transaction`
//! describe the session's previous statement (or its transaction) — state MariaDB keeps on the
//! connection that ran it, which through the pool may be another one. The session knows those
//! values itself; a statement that reads them gets them written in as literals, and a select
//! item that reads them keeps the column name MariaDB would give it (`AS` the item's text).

use sqlparser::tokenizer::Token;

use crate::Syntax;

/// What the session knows about its previous statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PreviousStatement {
    /// `ROW_COUNT()`: the rows the statement changed; -1 after a result set or an error.
    pub row_count: i64,
    /// `FOUND_ROWS()`: the rows the last SELECT found.
    pub found_rows: u64,
    /// `@@warning_count`: the conditions it raised.
    pub warning_count: u64,
    /// `@@error_count`: the errors among them.
    pub error_count: u64,
    /// `@@in_transaction`.
    pub in_transaction: bool,
}

/// Whether `sql` is an `INSERT … SELECT`, `REPLACE … SELECT` or `CREATE TABLE … SELECT`:
/// MariaDB sets `FOUND_ROWS()` to what its SELECT found, which only the connection that ran it
/// can tell.
pub fn writes_selected_rows(sql: &str, syntax: crate::Syntax) -> bool {
    use sqlparser::ast::{SetExpr, Statement};
    let Ok(statements) = crate::lex::parse(sql, syntax) else {
        return false;
    };
    match statements.as_slice() {
        [Statement::Insert(insert)] => insert
            .source
            .as_ref()
            .is_some_and(|q| !matches!(q.body.as_ref(), SetExpr::Values(_))),
        [Statement::CreateTable(create)] => create.query.is_some(),
        _ => false,
    }
}

/// Whether `sql` may name one of the values (a cheap look at the bytes around each `_`).
pub fn mentions_previous_statement(sql: &[u8]) -> bool {
    const TAILS: [&[u8]; 3] = [b"_count", b"_rows", b"_transaction"];
    memchr::memchr_iter(b'_', sql).any(|at| {
        TAILS.iter().any(|tail| {
            sql.get(at..at + tail.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(tail))
        })
    })
}

/// `sql` with the values it reads written in, or `None` when it reads none (or is a statement
/// stored to run later — a routine, trigger, event or view — whose reads must stay).
pub fn with_previous_statement(
    sql: &str,
    syntax: Syntax,
    values: &PreviousStatement,
) -> Option<String> {
    if !mentions_previous_statement(sql.as_bytes()) {
        return None;
    }
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut offsets = crate::rewrite::Offsets::new(sql);
    let mut located = Vec::with_capacity(tokens.len());
    for t in &tokens {
        if !matches!(t.token, Token::Whitespace(_)) {
            located.push((&t.token, offsets.at(t.span.start)?));
        }
    }
    let word = |i: usize| match located.get(i).map(|(t, _)| *t) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    if matches!(word(0).as_deref(), Some("create" | "alter")) {
        return None;
    }
    // Each reading: its byte range and the literal that replaces it.
    let end_of = |i: usize| located.get(i + 1).map_or(sql.len(), |(_, at)| *at);
    let mut readings: Vec<(usize, usize, String)> = Vec::new();
    let mut i = 0;
    while i < located.len() {
        let Some(w) = word(i) else {
            i += 1;
            continue;
        };
        let called = |name: &str| {
            w == name
                && located.get(i + 1).map(|(t, _)| *t) == Some(&Token::LParen)
                && located.get(i + 2).map(|(t, _)| *t) == Some(&Token::RParen)
        };
        let (value, last) = if called("row_count") {
            (signed(values.row_count), i + 2)
        } else if called("found_rows") {
            (
                signed(i64::try_from(values.found_rows).unwrap_or(i64::MAX)),
                i + 2,
            )
        } else {
            // `@@name`, `@@session.name`, `@@local.name`, read as one word or three tokens.
            let (name, last) = match w.strip_prefix("@@") {
                Some(rest)
                    if matches!(rest, "session" | "local")
                        && located.get(i + 1).map(|(t, _)| *t) == Some(&Token::Period) =>
                {
                    (word(i + 2).unwrap_or_default(), i + 2)
                }
                Some(rest) => (
                    rest.strip_prefix("session.")
                        .or_else(|| rest.strip_prefix("local."))
                        .unwrap_or(rest)
                        .to_owned(),
                    i,
                ),
                None => {
                    i += 1;
                    continue;
                }
            };
            match name.as_str() {
                "warning_count" => (unsigned(values.warning_count), last),
                "error_count" => (unsigned(values.error_count), last),
                "in_transaction" => (unsigned(u64::from(values.in_transaction)), last),
                _ => {
                    i += 1;
                    continue;
                }
            }
        };
        let start = located[i].1;
        let end = located
            .get(last)
            .map(|(t, at)| at + token_len(t))?
            .min(end_of(last));
        readings.push((start, end, value));
        i = last + 1;
    }
    if readings.is_empty() {
        return None;
    }
    let aliases = select_items_without_alias(sql, &located, word(0).as_deref());
    let mut out = String::with_capacity(sql.len() + 32);
    let mut at = 0;
    let mut edits: Vec<(usize, usize, String)> = readings;
    for (start, end) in aliases {
        if edits.iter().any(|(s, e, _)| *s >= start && *e <= end) {
            let name = sql[start..end].trim().replace('`', "``");
            edits.push((end, end, format!(" AS `{name}`")));
        }
    }
    edits.sort_by_key(|(s, e, _)| (*s, *e));
    for (start, end, text) in edits {
        out.push_str(&sql[at..start]);
        out.push_str(&text);
        at = end;
    }
    out.push_str(&sql[at..]);
    Some(out)
}

/// `n` typed as MariaDB types `ROW_COUNT()` and `FOUND_ROWS()`: BIGINT, not null, 21 long
/// (the column length clients see; the subtraction makes it the server's).
fn signed(n: i64) -> String {
    format!("COALESCE({n}, -9223372036854775807 - 1)")
}

/// `n` typed as MariaDB types `@@warning_count` and the like: BIGINT UNSIGNED, 21 long.
fn unsigned(n: u64) -> String {
    format!("(CAST(NULLIF(COALESCE({n}, 9223372036854775807), -1) AS UNSIGNED) + 0)")
}

/// The byte length of a token as written (words and punctuation the readings are made of).
fn token_len(token: &Token) -> usize {
    match token {
        Token::Word(w) => w.value.len() + if w.quote_style.is_some() { 2 } else { 0 },
        other => other.to_string().len(),
    }
}

/// The byte ranges of the first SELECT's items that have no alias (MariaDB names their
/// columns by their text).
fn select_items_without_alias(
    sql: &str,
    located: &[(&Token, usize)],
    first: Option<&str>,
) -> Vec<(usize, usize)> {
    if first != Some("select") {
        return Vec::new();
    }
    const ENDS: [&str; 9] = [
        "from", "into", "where", "group", "having", "order", "limit", "union", "for",
    ];
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    let mut item_tokens: Vec<&Token> = Vec::new();
    // Where the item's last token ends.
    let mut last_end = 0;
    let mut close = |start: &mut Option<usize>, end: usize, toks: &mut Vec<&Token>| {
        if let Some(s) = start.take() {
            if !has_alias(toks) {
                items.push((s, end));
            }
        }
        toks.clear();
    };
    for (i, (token, at)) in located.iter().enumerate().skip(1) {
        let keyword = match token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
            _ => None,
        };
        if depth == 0 {
            let ends = matches!(token, Token::SemiColon | Token::EOF)
                || keyword.as_deref().is_some_and(|k| ENDS.contains(&k));
            if ends {
                close(&mut start, last_end, &mut item_tokens);
                break;
            }
            if **token == Token::Comma {
                close(&mut start, last_end, &mut item_tokens);
                continue;
            }
            // SELECT options before the first item.
            if start.is_none()
                && keyword.as_deref().is_some_and(|k| {
                    [
                        "all",
                        "distinct",
                        "distinctrow",
                        "straight_join",
                        "sql_no_cache",
                    ]
                    .contains(&k)
                        || k.starts_with("sql_")
                        || k.starts_with("high_priority")
                })
            {
                continue;
            }
        }
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        start.get_or_insert(*at);
        item_tokens.push(token);
        last_end = (at + token_len(token)).min(sql.len());
        if i + 1 == located.len() {
            close(&mut start, last_end, &mut item_tokens);
        }
    }
    items
}

/// Whether a select item's tokens end in an alias (`expr AS name`, `expr name`).
fn has_alias(tokens: &[&Token]) -> bool {
    let is_as = |t: &Token| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("as"));
    if tokens.iter().any(|t| is_as(t)) {
        return true;
    }
    match tokens {
        [.., before, Token::Word(_) | Token::SingleQuotedString(_)] => {
            matches!(
                before,
                Token::RParen | Token::Number(..) | Token::SingleQuotedString(_)
            ) || matches!(before, Token::Word(w) if !w.value.starts_with('@'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn tells_writes_of_selected_rows() {
        let syntax = crate::Syntax::default();
        assert!(writes_selected_rows(
            "INSERT INTO t SELECT * FROM u",
            syntax
        ));
        assert!(writes_selected_rows("replace into t (a) select 1", syntax));
        assert!(writes_selected_rows(
            "CREATE TABLE t AS SELECT 1 AS a",
            syntax
        ));
        assert!(!writes_selected_rows(
            "INSERT INTO t VALUES ((SELECT 1))",
            syntax
        ));
        assert!(!writes_selected_rows(
            "CREATE TABLE t (selected INT)",
            syntax
        ));
        assert!(!writes_selected_rows("SELECT 1", syntax));
    }
    use super::*;

    fn values() -> PreviousStatement {
        PreviousStatement {
            row_count: -1,
            found_rows: 42,
            warning_count: 2,
            error_count: 1,
            in_transaction: true,
        }
    }

    fn written(sql: &str) -> Option<String> {
        with_previous_statement(sql, Syntax::DEFAULT, &values())
    }

    #[test]
    fn readings_become_literals_named_as_mariadb_names_them() {
        assert_eq!(
            written("SELECT ROW_COUNT()").as_deref(),
            Some("SELECT COALESCE(-1, -9223372036854775807 - 1) AS `ROW_COUNT()`")
        );
        assert_eq!(
            written("select found_rows(), @@warning_count, @@session.error_count").as_deref(),
            Some("select COALESCE(42, -9223372036854775807 - 1) AS `found_rows()`, (CAST(NULLIF(COALESCE(2, 9223372036854775807), -1) AS UNSIGNED) + 0) AS `@@warning_count`, (CAST(NULLIF(COALESCE(1, 9223372036854775807), -1) AS UNSIGNED) + 0) AS `@@session.error_count`")
        );
        assert_eq!(
            written("SELECT ROW_COUNT() AS rc, FOUND_ROWS() + 1 FROM t").as_deref(),
            Some("SELECT COALESCE(-1, -9223372036854775807 - 1) AS rc, COALESCE(42, -9223372036854775807 - 1) + 1 AS `FOUND_ROWS() + 1` FROM t")
        );
        assert_eq!(
            written("SELECT @@in_transaction").as_deref(),
            Some("SELECT (CAST(NULLIF(COALESCE(1, 9223372036854775807), -1) AS UNSIGNED) + 0) AS `@@in_transaction`")
        );
        assert_eq!(
            written("SET @n = ROW_COUNT()").as_deref(),
            Some("SET @n = COALESCE(-1, -9223372036854775807 - 1)")
        );
        assert_eq!(
            written("INSERT INTO t VALUES (FOUND_ROWS())").as_deref(),
            Some("INSERT INTO t VALUES (COALESCE(42, -9223372036854775807 - 1))")
        );
    }

    #[test]
    fn other_text_is_left_alone() {
        assert_eq!(written("SELECT row_count FROM t"), None);
        assert_eq!(written("SELECT 'ROW_COUNT()'"), None);
        assert_eq!(written("SELECT c FROM sbtest1 WHERE id = 1"), None);
        assert_eq!(
            written("CREATE PROCEDURE p() SELECT ROW_COUNT()"),
            None,
            "a routine reads it when it runs"
        );
        assert!(!mentions_previous_statement(
            b"SELECT c FROM t WHERE id = 1"
        ));
        assert!(mentions_previous_statement(b"select Found_Rows()"));
    }
}
