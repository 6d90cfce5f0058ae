//! A statement from a client whose character set is a single-byte legacy one (`SET NAMES
//! latin1`), written in ASCII: the texts the proxy writes from it (split by shard, scattered,
//! run in steps) then reach the server as the client meant them. Its text, read as
//! characters, is not its bytes; in ASCII both are the same in any such character set.
//!
//! Each string literal holding other characters becomes `_latin1 X'…'` of its value's bytes
//! in the set, which MariaDB reads as the same string: the same character set, the
//! connection's collation when that is the set's default (the session checks), coercible
//! like a plain literal. Refused (`None`), since the name of the column a literal names
//! would change (`SELECT 'é'` names it `é`): a literal in a select item without an alias.
//! Also refused: a quoted string that is not a value (an alias `AS 'é'`), other characters
//! outside string literals (a name, a comment), a literal with an introducer or `N`, adjacent
//! literals (which MariaDB concatenates), a character the set lacks.

use std::ops::{ControlFlow, Range};

use shardgate_collation::SingleByte;
use sqlparser::ast::{Query, SelectItem, SetExpr, Spanned, Value, ValueWithSpan, Visit, Visitor};
use sqlparser::tokenizer::{Token, Whitespace};

use crate::rewrite::Offsets;
use crate::Syntax;

/// `sql` (a statement of a client in `set`, read as characters) with its literals written in
/// ASCII; `None` where that cannot keep its meaning (see the module's comment).
pub fn ascii_literals(sql: &str, syntax: Syntax, set: &SingleByte) -> Option<String> {
    let tokens = crate::lex::tokenize(sql, syntax, true).ok()?;
    let mut offsets = Offsets::new(sql);
    let mut replaced: Vec<(Range<usize>, String)> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let value = match &t.token {
            Token::SingleQuotedString(v) | Token::DoubleQuotedString(v) if !v.is_ascii() => v,
            _ => continue,
        };
        let introduced = i > 0
            && tokens[i - 1].span.end == t.span.start
            && matches!(&tokens[i - 1].token, Token::Word(w) if w.value.starts_with('_'));
        let next = tokens[i + 1..].iter().find(|n| {
            !matches!(
                n.token,
                Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
            )
        });
        let adjacent = next.is_some_and(|n| {
            matches!(
                n.token,
                Token::SingleQuotedString(_) | Token::DoubleQuotedString(_)
            )
        });
        if introduced || adjacent {
            return None;
        }
        let bytes = set.encode(value)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        let range = offsets.at(t.span.start)?..offsets.at(t.span.end)?;
        replaced.push((range, format!("_{} X'{hex}'", set.name)));
    }
    if replaced.is_empty() || !keeps_meaning(sql, syntax, &replaced)? {
        return None;
    }
    let mut out = String::with_capacity(sql.len() + 16 * replaced.len());
    let mut copied = 0;
    for (range, literal) in &replaced {
        out.push_str(&sql[copied..range.start]);
        out.push_str(literal);
        copied = range.end;
    }
    out.push_str(&sql[copied..]);
    out.is_ascii().then_some(out)
}

/// Whether every one of `replaced`'s ranges is a string value (not an alias) outside any
/// select item without an alias (whose text names its column); `None` when the statement
/// does not parse.
fn keeps_meaning(sql: &str, syntax: Syntax, replaced: &[(Range<usize>, String)]) -> Option<bool> {
    struct Unnamed<'a> {
        offsets: Offsets<'a>,
        replaced: &'a [(Range<usize>, String)],
    }
    impl Unnamed<'_> {
        fn in_set_expr(&mut self, body: &SetExpr) -> ControlFlow<()> {
            match body {
                SetExpr::Select(select) => {
                    for item in &select.projection {
                        let SelectItem::UnnamedExpr(e) = item else {
                            continue;
                        };
                        let span = e.span();
                        let (Some(start), Some(end)) =
                            (self.offsets.at(span.start), self.offsets.at(span.end))
                        else {
                            return ControlFlow::Break(());
                        };
                        if (self.replaced.iter()).any(|(r, _)| r.start >= start && r.end <= end) {
                            return ControlFlow::Break(());
                        }
                    }
                    ControlFlow::Continue(())
                }
                SetExpr::SetOperation { left, right, .. } => {
                    self.in_set_expr(left)?;
                    self.in_set_expr(right)
                }
                SetExpr::Query(q) => self.in_set_expr(&q.body),
                _ => ControlFlow::Continue(()),
            }
        }
    }
    impl Visitor for Unnamed<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            self.in_set_expr(&query.body)
        }
    }
    let statements = crate::lex::parse(sql, syntax).ok()?;
    let mut unnamed = Unnamed {
        offsets: Offsets::new(sql),
        replaced,
    };
    if statements.visit(&mut unnamed).is_break() {
        return Some(false);
    }
    // The string values' starts: each replaced literal must be one.
    let mut offsets = Offsets::new(sql);
    let mut values = Vec::new();
    let _ = statements.visit(&mut ValueStarts(|v: &ValueWithSpan| {
        if matches!(
            v.value,
            Value::SingleQuotedString(_) | Value::DoubleQuotedString(_)
        ) {
            values.extend(offsets.at(v.span.start));
        }
    }));
    Some(replaced.iter().all(|(r, _)| values.contains(&r.start)))
}

/// Calls its function with each value of a statement.
struct ValueStarts<F>(F);

impl<F: FnMut(&ValueWithSpan)> Visitor for ValueStarts<F> {
    type Break = ();
    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        (self.0)(value);
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardgate_collation::Charset;

    fn latin1() -> &'static SingleByte {
        match Charset::named("latin1") {
            Charset::SingleByte(set) => set,
            _ => unreachable!(),
        }
    }

    fn ascii(sql: &str) -> Option<String> {
        ascii_literals(sql, Syntax::DEFAULT, latin1())
    }

    #[test]
    fn literals_become_hexadecimal_strings_of_the_set() {
        assert_eq!(
            ascii("INSERT INTO t (k, n) VALUES ('Café', 1), ('Cr\\'ème', 2), ('plain', 3)").as_deref(),
            Some("INSERT INTO t (k, n) VALUES (_latin1 X'436166E9', 1), (_latin1 X'437227E86D65', 2), ('plain', 3)")
        );
        assert_eq!(
            ascii("SELECT id AS i FROM t WHERE k LIKE 'é%' OR k = \"ü\"").as_deref(),
            Some("SELECT id AS i FROM t WHERE k LIKE _latin1 X'E925' OR k = _latin1 X'FC'")
        );
        assert_eq!(
            ascii("SELECT CONCAT('é', k) AS x FROM t").as_deref(),
            Some("SELECT CONCAT(_latin1 X'E9', k) AS x FROM t")
        );
    }

    #[test]
    fn what_would_change_its_meaning_is_refused() {
        for sql in [
            // The select item's text names its column.
            "SELECT 'é', k FROM t",
            "SELECT k FROM t UNION SELECT CONCAT('é', k) FROM u",
            // An alias; names, comments, introducers, adjacent literals, characters latin1
            // lacks.
            "SELECT k AS 'é' FROM t WHERE k = 'é'",
            "SELECT k FROM té",
            "SELECT k FROM t /* é */ WHERE k = 'é'",
            "SELECT k FROM t WHERE k = _utf8mb4'é'",
            "SELECT k FROM t WHERE k = 'é' 'x'",
            "SELECT k FROM t WHERE k = 'Мо'",
            // Nothing to write.
            "SELECT k FROM t WHERE k = 'plain'",
        ] {
            assert_eq!(ascii(sql), None, "{sql}");
        }
    }
}
