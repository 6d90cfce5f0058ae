//! The slow-query log: statements slower than `[server] slow_query_ms`, shown without their
//! literal values (which may be personal data) and cut short.

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// Most bytes of statement text a log line shows.
pub(crate) const MAX_TEXT: usize = 200;

/// `sql` with every literal (number, string, hex, bit value) replaced by `?`, comments and
/// runs of white space by one space, and cut to about `max` bytes (`…` marks a cut).
pub(crate) fn digest(sql: &str, max: usize) -> String {
    let mut out = String::with_capacity(max.min(sql.len()) + 4);
    let tokens = match Tokenizer::new(&MySqlDialect {}, sql).tokenize() {
        Ok(tokens) => tokens,
        // Unreadable (e.g. an unterminated string): keep only what precedes any literal.
        Err(_) => {
            let end = sql
                .find(|c: char| c == '\'' || c == '"' || c.is_ascii_digit())
                .unwrap_or(sql.len());
            out.push_str(sql[..end].trim_end());
            out.push_str(" …");
            return cut(out, max);
        }
    };
    for token in tokens {
        if out.len() > max {
            break;
        }
        match token {
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_) => out.push('?'),
            Token::Whitespace(w) => {
                let keeps_hint =
                    matches!(&w, Whitespace::MultiLineComment(c) if c.starts_with('+'));
                if keeps_hint {
                    out.push_str(&w.to_string());
                } else if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            other => out.push_str(&other.to_string()),
        }
    }
    cut(out.trim_end().to_owned(), max)
}

/// Most bytes of an error message a log line shows.
const MAX_MESSAGE: usize = 300;

/// An error message (a server's, or the proxy's own) as logs show it: everything from its
/// first quote to its last becomes one `?` (servers quote values without escaping the quotes
/// inside them, `Duplicate entry 'a'b' …`, so no quoted span can be trusted to end where it
/// seems to), then it is read like a statement, so its numbers become `?` too.
pub(crate) fn digest_message(message: &str) -> String {
    let quote = |c: char| c == '\'' || c == '"';
    let masked = match (message.find(quote), message.rfind(quote)) {
        (Some(first), Some(last)) => {
            format!("{} ? {}", &message[..first], &message[last + 1..])
        }
        _ => message.to_owned(),
    };
    digest(&masked, MAX_MESSAGE)
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            digest(
                "SELECT * FROM users WHERE email = 'a@b.c' AND id IN (1, 2.5, -3) AND x = \"y\"",
                MAX_TEXT
            ),
            "SELECT * FROM users WHERE email = ? AND id IN (?, ?, -?) AND x = ?"
        );
        assert_eq!(
            digest("INSERT INTO t (a, b) VALUES (X'4142', 0x10)", MAX_TEXT),
            "INSERT INTO t (a, b) VALUES (?, ?)"
        );
    }

    #[test]
    fn comments_and_white_space_collapse_but_hints_stay() {
        assert_eq!(
            digest("SELECT  1 -- secret 42\n  FROM /* note 7 */ t", MAX_TEXT),
            "SELECT ? FROM t"
        );
        assert_eq!(
            digest(
                "SELECT /*+ shardgate consistency=strong */ a FROM t",
                MAX_TEXT
            ),
            "SELECT /*+ shardgate consistency=strong */ a FROM t"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let sql = format!("SELECT {} FROM t", "é".repeat(300));
        let d = digest(&sql, MAX_TEXT);
        assert!(d.len() <= MAX_TEXT + '…'.len_utf8(), "{}", d.len());
        assert!(d.ends_with('…'));
    }

    #[test]
    fn error_messages_lose_the_values_they_quote() {
        assert_eq!(
            digest_message("Duplicate entry 'a'secret'b' for key 'email'"),
            "Duplicate entry ?"
        );
        assert_eq!(
            digest_message("You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'x = 'hunter2' AND y = 1' at line 1"),
            "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near ? at line ?"
        );
        assert_eq!(
            digest_message("shard key value 12345 of table `users` is not in any range"),
            "shard key value ? of table `users` is not in any range"
        );
    }

    #[test]
    fn unreadable_text_keeps_no_literal() {
        assert_eq!(
            digest("SELECT * FROM users WHERE email = 'unterminated", MAX_TEXT),
            "SELECT * FROM users WHERE email = …"
        );
    }
}
