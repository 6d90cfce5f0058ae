//! SQL-level prepared statements: `PREPARE name FROM …`, `EXECUTE name [USING …]`,
//! `EXECUTE IMMEDIATE … [USING …]` and `DEALLOCATE | DROP PREPARE name`. The proxy runs them
//! itself (as Vitess does), so that no backend connection has to keep a statement: a name
//! stands for a text kept in the session, and each execution is planned like a text
//! statement with its values written in for the `?` placeholders.

use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::rewrite::Offsets;
use crate::{RouteError, Syntax};

/// A prepared statement's name: names compare without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementName {
    /// Lower-cased: what the session keys the statement by.
    pub key: String,
    /// As written (without quotes): what error messages name.
    pub written: String,
}

/// Where `PREPARE … FROM` takes the statement's text from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepareSource {
    /// A string literal: its value.
    Text(String),
    /// Any other expression (`@var`, `CONCAT(…)`), as written: the server evaluates it.
    Expression(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlPrepared {
    Prepare {
        name: StatementName,
        source: PrepareSource,
    },
    /// `args`: the values of `USING`, each as it goes in place of a `?` (as written, or in
    /// parentheses when it is more than one token, so it stays one operand).
    Execute {
        name: StatementName,
        args: Vec<String>,
    },
    ExecuteImmediate {
        source: PrepareSource,
        args: Vec<String>,
    },
    Deallocate {
        name: StatementName,
    },
    /// It starts like one of them but does not follow their grammar: the server, asked to
    /// prepare it, says what is wrong.
    Malformed,
}

/// `Some` when `sql` starts like one of these statements (a cheap look at its first word, so
/// other statements pay almost nothing).
pub fn sql_prepared_statement(sql: &str, syntax: Syntax) -> Option<SqlPrepared> {
    // Cheap first: every candidate starts with one of these bytes (or a comment).
    let first = sql.bytes().find(|b| !b.is_ascii_whitespace())?;
    if !matches!(
        first.to_ascii_lowercase(),
        b'p' | b'e' | b'd' | b'/' | b'#' | b'-'
    ) {
        return None;
    }
    // Past executable comments the server runs (`/*M!100602 EXECUTE IMMEDIATE … */`).
    let text = match first {
        b'/' => crate::lex::resolve_comments(sql, syntax),
        _ => std::borrow::Cow::Borrowed(sql),
    };
    let word = crate::text::first_word(&text);
    let is_drop = word.eq_ignore_ascii_case("drop");
    let candidate = ["prepare", "execute", "deallocate"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w));
    if !candidate && !is_drop {
        return None;
    }
    let text = match text {
        std::borrow::Cow::Borrowed(_) => crate::lex::resolve_comments(sql, syntax),
        resolved => resolved,
    };
    let Ok(tokens) = crate::lex::tokenize(&text, syntax, true) else {
        return Some(SqlPrepared::Malformed);
    };
    let mut tokens: Vec<&TokenWithSpan> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    while tokens.last().is_some_and(|t| t.token == Token::SemiColon) {
        tokens.pop();
    }
    let reader = Reader {
        text: &text,
        tokens: &tokens,
    };
    let parsed = match is_drop {
        true if reader.keyword(1, "prepare") => reader.name(2).filter(|_| tokens.len() == 3),
        true => return None,
        false => reader.statement(),
    };
    Some(parsed.unwrap_or(SqlPrepared::Malformed))
}

/// Whether the statement a `PREPARE` names, planned as `plan`, is prepared on the default
/// shard's server itself (which the session then keeps a connection to) rather than kept as
/// text by the session: it runs whole there, as written, with nothing the proxy must write
/// into its text or do around it. Then MariaDB parses it at PREPARE, under that time's
/// `sql_mode`, raises its warnings there, re-prepares it after DDL, and a stored procedure
/// can `EXECUTE` it.
pub fn prepared_on_server(plan: &crate::Plan, default_shard: shardgate_ring::ShardId) -> bool {
    plan.route == crate::Route::Shard(default_shard)
        && plan.rewritten.is_none()
        && plan.connection_state.is_none()
        && plan.lookup.is_none()
        && !plan.traits.reads_previous_statement
        && !plan.lists_server_threads
}

/// What planning one of these statements alone answers (`shardgate route --sql`, a
/// COM_STMT_PREPARE of one): the session runs them, planning the statement a name stands for.
pub(crate) fn not_planned() -> RouteError {
    RouteError::NotSupported(
        "PREPARE, EXECUTE and DEALLOCATE PREPARE are run by the client's session, which plans the statement each EXECUTE runs; they have no plan of their own and cannot be prepared with COM_STMT_PREPARE".into(),
    )
}

struct Reader<'a> {
    /// The statement's text, comments resolved (offsets as the client's).
    text: &'a str,
    /// Its tokens without spaces and final `;`.
    tokens: &'a [&'a TokenWithSpan],
}

impl Reader<'_> {
    fn keyword(&self, at: usize, keyword: &str) -> bool {
        matches!(self.tokens.get(at).map(|t| &t.token), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
    }

    fn statement(&self) -> Option<SqlPrepared> {
        let n = self.tokens.len();
        if self.keyword(0, "prepare") && self.keyword(2, "from") {
            let name = self.name_at(1)?;
            let source = self.source(3..n)?;
            return Some(SqlPrepared::Prepare { name, source });
        }
        if self.keyword(0, "deallocate") && self.keyword(1, "prepare") && n == 3 {
            return self.name(2);
        }
        if self.keyword(0, "execute") && self.keyword(1, "immediate") {
            let using = (2..n).find(|&i| self.keyword(i, "using")).unwrap_or(n);
            let source = self.source(2..using)?;
            let args = self.args(using, n)?;
            return Some(SqlPrepared::ExecuteImmediate { source, args });
        }
        if self.keyword(0, "execute") && (n == 2 || self.keyword(2, "using")) {
            let name = self.name_at(1)?;
            let args = self.args(2, n)?;
            return Some(SqlPrepared::Execute { name, args });
        }
        None
    }

    /// `DEALLOCATE PREPARE name` / `DROP PREPARE name`, the name at `at`.
    fn name(&self, at: usize) -> Option<SqlPrepared> {
        Some(SqlPrepared::Deallocate {
            name: self.name_at(at)?,
        })
    }

    fn name_at(&self, at: usize) -> Option<StatementName> {
        match &self.tokens.get(at)?.token {
            Token::Word(w) => Some(StatementName {
                key: w.value.to_lowercase(),
                written: w.value.clone(),
            }),
            _ => None,
        }
    }

    /// The text of tokens `from..to`, as written.
    fn span(&self, from: usize, to: usize) -> Option<&str> {
        let mut offsets = Offsets::new(self.text);
        let start = offsets.at(self.tokens.get(from)?.span.start)?;
        let end = offsets.at(self.tokens.get(to.checked_sub(1)?)?.span.end)?;
        self.text.get(start..end)
    }

    fn source(&self, range: std::ops::Range<usize>) -> Option<PrepareSource> {
        match (range.len(), self.tokens.get(range.start).map(|t| &t.token)) {
            (0, _) => None,
            (
                1,
                Some(
                    Token::SingleQuotedString(s)
                    | Token::DoubleQuotedString(s)
                    | Token::NationalStringLiteral(s),
                ),
            ) => Some(PrepareSource::Text(s.clone())),
            _ => Some(PrepareSource::Expression(
                self.span(range.start, range.end)?.to_owned(),
            )),
        }
    }

    /// The values after `USING` at `using` (none when `using == end`), split at top-level commas.
    fn args(&self, using: usize, end: usize) -> Option<Vec<String>> {
        if using >= end {
            return Some(Vec::new());
        }
        let mut args = Vec::new();
        let mut depth = 0usize;
        let mut start = using + 1;
        for i in using + 1..=end {
            match self.tokens.get(i).map(|t| &t.token) {
                Some(Token::LParen) => {
                    depth += 1;
                    continue;
                }
                Some(Token::RParen) => {
                    depth = depth.checked_sub(1)?;
                    continue;
                }
                Some(Token::Comma) if depth == 0 => {}
                None if i == end => {}
                _ => continue,
            }
            if i == start {
                return None; // an empty value
            }
            let text = self.span(start, i)?;
            let one_operand = match &self.tokens[start..i] {
                [t] => matches!(
                    &t.token,
                    Token::Number(..)
                        | Token::SingleQuotedString(_)
                        | Token::DoubleQuotedString(_)
                        | Token::NationalStringLiteral(_)
                        | Token::HexStringLiteral(_)
                        | Token::Word(_)
                ),
                [sign, number] => {
                    matches!(sign.token, Token::Minus | Token::Plus)
                        && matches!(number.token, Token::Number(..))
                }
                _ => false,
            };
            args.push(match one_operand {
                true => text.to_owned(),
                false => format!("({text})"),
            });
            start = i + 1;
        }
        Some(args)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn reads_statements_inside_executable_comments() {
        let sql = "/*M!100602 EXECUTE IMMEDIATE 'SELECT 1' */";
        assert!(matches!(
            sql_prepared_statement(sql, Syntax::default()),
            Some(SqlPrepared::ExecuteImmediate { .. })
        ));
    }
    use super::*;

    fn parse(sql: &str) -> Option<SqlPrepared> {
        sql_prepared_statement(sql, Syntax::DEFAULT)
    }

    fn name(written: &str) -> StatementName {
        StatementName {
            key: written.to_lowercase(),
            written: written.to_owned(),
        }
    }

    #[test]
    fn reads_prepare_from_a_string_or_an_expression() {
        assert_eq!(
            parse("PREPARE s FROM 'SELECT * FROM users WHERE id = ?'"),
            Some(SqlPrepared::Prepare {
                name: name("s"),
                source: PrepareSource::Text("SELECT * FROM users WHERE id = ?".into())
            })
        );
        assert_eq!(
            parse(r"prepare `My S` from 'SELECT ''a'', \'b\''"),
            Some(SqlPrepared::Prepare {
                name: name("My S"),
                source: PrepareSource::Text("SELECT 'a', 'b'".into())
            })
        );
        assert_eq!(
            parse("/* c */ PREPARE s FROM @q;"),
            Some(SqlPrepared::Prepare {
                name: name("s"),
                source: PrepareSource::Expression("@q".into())
            })
        );
        assert_eq!(
            parse("PREPARE s FROM CONCAT('SELECT ', @c)"),
            Some(SqlPrepared::Prepare {
                name: name("s"),
                source: PrepareSource::Expression("CONCAT('SELECT ', @c)".into())
            })
        );
        assert_eq!(parse("PREPARE s FROM"), Some(SqlPrepared::Malformed));
        assert_eq!(parse("PREPARE s"), Some(SqlPrepared::Malformed));
    }

    #[test]
    fn reads_execute_values_as_operands() {
        assert_eq!(
            parse("EXECUTE s USING 7, 'x', @a, -1, 2+3, CONCAT('a', 'b'), (1), NULL"),
            Some(SqlPrepared::Execute {
                name: name("s"),
                args: [
                    "7",
                    "'x'",
                    "@a",
                    "-1",
                    "(2+3)",
                    "(CONCAT('a', 'b'))",
                    "((1))",
                    "NULL"
                ]
                .map(String::from)
                .to_vec()
            })
        );
        assert_eq!(
            parse("EXECUTE S"),
            Some(SqlPrepared::Execute {
                name: name("S"),
                args: Vec::new()
            })
        );
        assert_eq!(
            parse("EXECUTE IMMEDIATE 'SELECT ?' USING @x"),
            Some(SqlPrepared::ExecuteImmediate {
                source: PrepareSource::Text("SELECT ?".into()),
                args: vec!["@x".into()]
            })
        );
        assert_eq!(parse("EXECUTE s USING"), Some(SqlPrepared::Malformed));
        assert_eq!(parse("EXECUTE s USING 1,"), Some(SqlPrepared::Malformed));
        assert_eq!(parse("EXECUTE s 1"), Some(SqlPrepared::Malformed));
    }

    #[test]
    fn reads_deallocate_and_leaves_other_statements_alone() {
        let deallocate = Some(SqlPrepared::Deallocate { name: name("s") });
        assert_eq!(parse("DEALLOCATE PREPARE s"), deallocate);
        assert_eq!(parse("drop prepare s;"), deallocate);
        assert_eq!(parse("DROP TABLE s"), None);
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(parse("DELETE FROM t"), None);
        assert_eq!(parse("executed"), None);
    }
}
