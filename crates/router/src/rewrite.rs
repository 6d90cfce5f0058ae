//! Rewriting statement text without changing what it says.
//!
//! sqlparser's rendering of a tree parsed the usual way loses string escapes (`'a\\b'` comes
//! back as `'a\b'`), so rewrites either cut the original text at token positions, or render a
//! tree parsed with escapes kept verbatim.

use std::ops::Range;

use shardgate_config::Topology;
use shardgate_ring::ShardId;
use sqlparser::ast::{Expr, Insert, Query, SetExpr, Spanned, Statement, UnaryOperator, Value};
use sqlparser::tokenizer::Location;

use crate::shard_key::{base_name, key_source, KeySource};
use crate::{RouteError, Syntax};

/// Where the clause whose first expression starts at byte `at` of `sql` begins: at its
/// keyword `words` (`["ORDER", "BY"]`), found just before `at` past white space and opening
/// parentheses. `None` when the words are not there.
pub(crate) fn clause_start(sql: &str, at: usize, words: &[&str]) -> Option<usize> {
    let mut before = sql
        .get(..at)?
        .trim_end_matches(|c: char| c == '(' || c.is_whitespace());
    let mut keyword_start = at;
    for word in words.iter().rev() {
        let start = before.len().checked_sub(word.len())?;
        let is_word = before.get(start..)?.eq_ignore_ascii_case(word)
            && before[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if !is_word {
            return None;
        }
        keyword_start = start;
        before = before[..start].trim_end();
    }
    Some(keyword_start)
}

/// Byte offsets of token locations, walking forward through the text (linear overall).
pub(crate) struct Offsets<'s> {
    sql: &'s str,
    line: u64,
    column: u64,
    byte: usize,
    /// Characters stepped over so far, restarts included: what a caller's walk cost.
    #[cfg(test)]
    steps: usize,
}

impl<'s> Offsets<'s> {
    pub(crate) fn new(sql: &'s str) -> Self {
        Offsets {
            sql,
            line: 1,
            column: 1,
            byte: 0,
            #[cfg(test)]
            steps: 0,
        }
    }

    /// The byte offset of a (1-based line, 1-based character column) location.
    pub(crate) fn at(&mut self, at: Location) -> Option<usize> {
        if (at.line, at.column) < (self.line, self.column) {
            (self.line, self.column, self.byte) = (1, 1, 0);
        }
        while (self.line, self.column) < (at.line, at.column) {
            let ch = self.sql[self.byte..].chars().next()?;
            self.byte += ch.len_utf8();
            #[cfg(test)]
            {
                self.steps += 1;
            }
            if ch == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        Some(self.byte)
    }

    /// The text between two offsets.
    pub(crate) fn text(&self, range: std::ops::Range<usize>) -> Option<&'s str> {
        self.sql.get(range)
    }

    /// The text of `expr`. sqlparser gives a unary `-` / `+` and a parenthesized expression
    /// their operand's span: `-181` would read as `181`. Their signs and parentheses are found
    /// around the operand (white space between them allowed); `None` when something else
    /// stands there (a comment), or `expr` is another unary operator, whose span misses its
    /// keyword too.
    pub(crate) fn expr_text(&mut self, expr: &Expr) -> Option<&'s str> {
        let mut wrappers = Vec::new();
        let mut inner = expr;
        loop {
            inner = match inner {
                Expr::UnaryOp {
                    op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
                    expr,
                } => {
                    wrappers.push(Some(*op == UnaryOperator::Minus));
                    expr
                }
                Expr::UnaryOp { .. } => return None,
                Expr::Nested(expr) => {
                    wrappers.push(None);
                    expr
                }
                _ => break,
            };
        }
        let span = inner.span();
        let (mut start, mut end) = (self.at(span.start)?, self.at(span.end)?);
        let bytes = self.sql.as_bytes();
        // Adjacent string literals (`'ü' 'mlaut'`) are one value whose span is the first's.
        let quoted = |v: &Value| {
            matches!(
                v,
                Value::SingleQuotedString(_) | Value::DoubleQuotedString(_)
            )
        };
        if matches!(inner, Expr::Value(v) if quoted(&v.value))
            && self.sql[end..].trim_start().starts_with(['\'', '"'])
        {
            return None;
        }
        for wrapper in wrappers.iter().rev() {
            let before = self.sql[..start].trim_end().len();
            let opening = match wrapper {
                Some(true) => b'-',
                Some(false) => b'+',
                None => b'(',
            };
            if before == 0 || bytes[before - 1] != opening {
                return None;
            }
            start = before - 1;
            if wrapper.is_none() {
                let after = end + (self.sql[end..].len() - self.sql[end..].trim_start().len());
                if bytes.get(after) != Some(&b')') {
                    return None;
                }
                end = after + 1;
            }
        }
        self.text(start..end)
    }
}

/// The offsets of the parentheses around subquery `query` of `sql`: spans do not cover them,
/// and a parenthesized body (`((SELECT …) UNION (SELECT …))`) starts inside more than one —
/// the outermost is taken (a caller checks that its match ends where it must).
pub(crate) fn subquery_parens(
    sql: &str,
    offsets: &mut Offsets<'_>,
    query: &Query,
    syntax: Syntax,
) -> Option<(usize, usize)> {
    let select_start = offsets.at(query.span().start)?;
    let mut open = None;
    let mut before = sql.get(..select_start)?.trim_end();
    while let Some(rest) = before.strip_suffix('(') {
        open = Some(rest.len());
        before = rest.trim_end();
    }
    let open = open?;
    let backslash = !syntax
        .sql_mode
        .contains(crate::SqlMode::NO_BACKSLASH_ESCAPES);
    let close = closing_paren(sql.as_bytes(), open, backslash)?;
    Some((open, close))
}

/// Whether only `[AS]` stands between the closing parenthesis at `close` and the alias at
/// `alias_at`: the parenthesis is the derived table's.
pub(crate) fn closes_before_alias(sql: &str, close: usize, alias_at: Option<usize>) -> bool {
    let between = alias_at
        .and_then(|at| sql.get(close + 1..at))
        .map(str::trim);
    between.is_some_and(|b| b.is_empty() || b.eq_ignore_ascii_case("as"))
}

/// One INSERT per shard, each holding the rows whose shard keys map to that shard, cut from
/// the original text (everything but the row list is kept as written). Linear in the text:
/// the rows' offsets are found in one walk (a `mariadb-dump` restore sends INSERTs of
/// thousands of rows on one line).
pub(crate) fn split_insert(
    sql: &str,
    ins: &Insert,
    topology: &Topology,
) -> Result<Option<Vec<(ShardId, String)>>, RouteError> {
    split_insert_with(sql, ins, topology, &mut Offsets::new(sql))
}

fn split_insert_with(
    sql: &str,
    ins: &Insert,
    topology: &Topology,
    offsets: &mut Offsets<'_>,
) -> Result<Option<Vec<(ShardId, String)>>, RouteError> {
    let Some((spans, shards)) = row_shards(ins, topology, offsets)? else {
        return Ok(None);
    };
    let (Some(&(first, _)), Some(&(_, last))) = (spans.first(), spans.last()) else {
        return Ok(None);
    };
    let (head, tail) = (&sql[..first], &sql[last..]);
    let mut order: Vec<ShardId> = shards.clone();
    order.sort_unstable();
    order.dedup();
    let parts = order
        .into_iter()
        .map(|shard| {
            let mut text = String::with_capacity(sql.len());
            text.push_str(head);
            let rows = spans.iter().zip(&shards).filter(|(_, s)| **s == shard);
            for (n, (&(a, b), _)) in rows.enumerate() {
                if n > 0 {
                    text.push_str(", ");
                }
                text.push_str(&sql[a..b]);
            }
            text.push_str(tail);
            (shard, text)
        })
        .collect();
    Ok(Some(parts))
}

/// The shard of each row of the INSERT `sql` (in the order of its VALUES), as
/// [`split_insert`] splits it: its parts are these shards in ascending order, each holding
/// its rows in their order. What a split INSERT's `RETURNING` rows are put back in order by.
pub fn insert_row_shards(sql: &str, syntax: Syntax, topology: &Topology) -> Option<Vec<ShardId>> {
    let text = crate::lex::resolve_comments(sql, syntax);
    let statements = crate::lex::parse(&text, syntax).ok()?;
    let [Statement::Insert(ins)] = statements.as_slice() else {
        return None;
    };
    let found = row_shards(ins, topology, &mut Offsets::new(&text)).ok()??;
    Some(found.1)
}

/// The byte range and the shard of each VALUES row of `ins`; `None` when a row's shard key
/// is not a literal value.
#[allow(clippy::type_complexity)]
fn row_shards(
    ins: &Insert,
    topology: &Topology,
    offsets: &mut Offsets<'_>,
) -> Result<Option<(Vec<(usize, usize)>, Vec<ShardId>)>, RouteError> {
    let sqlparser::ast::TableObject::TableName(name) = &ins.table else {
        return Ok(None);
    };
    let Some(rule) = base_name(name).and_then(|t| topology.table(&t)) else {
        return Ok(None);
    };
    let Some(SetExpr::Values(values)) = ins.source.as_deref().map(|q| q.body.as_ref()) else {
        return Ok(None);
    };
    let Some(pos) = ins
        .columns
        .iter()
        .position(|c| base_name(c).is_some_and(|n| n == rule.shard_key))
    else {
        return Ok(None);
    };
    let mut spans = Vec::with_capacity(values.rows.len());
    let mut shards = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let Some(KeySource::Value(key)) =
            (row.content.get(pos)).and_then(|e| key_source(e, rule.key_type))
        else {
            return Ok(None);
        };
        let shard = rule
            .shard_for(&key.as_key())
            .map_err(|source| RouteError::BadKey {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
                source: Box::new(source),
            })?;
        let (Some(start), Some(end)) = (
            offsets.at(row.opening_token.0.span.start),
            offsets.at(row.closing_token.0.span.end),
        ) else {
            return Ok(None);
        };
        spans.push((start, end));
        shards.push(shard);
    }
    Ok(Some((spans, shards)))
}

/// `sql` with each byte range of `edits` (none overlapping another) replaced by its text;
/// `None` when a range does not fall on `sql`'s character boundaries.
pub(crate) fn spliced(sql: &str, mut edits: Vec<(Range<usize>, String)>) -> Option<String> {
    edits.sort_by_key(|(range, _)| range.start);
    let added: usize = edits.iter().map(|(_, text)| text.len()).sum();
    let mut rewritten = String::with_capacity(sql.len() + added);
    let mut from = 0;
    for (range, text) in edits {
        rewritten.push_str(sql.get(from..range.start)?);
        rewritten.push_str(&text);
        from = range.end;
    }
    rewritten.push_str(sql.get(from..)?);
    Some(rewritten)
}

/// The offset of the `)` matching the `(` at `open`, past quoted text and comments.
pub(crate) fn closing_paren(b: &[u8], open: usize, backslash: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            quote @ (b'\'' | b'"' | b'`') => {
                i = crate::lex::quoted_end(b, i, quote, backslash);
                continue;
            }
            b'#' => i = crate::lex::line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(u8::is_ascii_whitespace) =>
            {
                i = crate::lex::line_end(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = crate::lex::comment_end(b, i + 2, 0);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_walk_lines_and_characters() {
        let sql = "ab\ncé(x)";
        let mut o = Offsets::new(sql);
        assert_eq!(o.at(Location { line: 2, column: 3 }), Some(6));
        assert_eq!(o.at(Location { line: 1, column: 2 }), Some(1));
        assert_eq!(o.at(Location { line: 2, column: 6 }), Some(sql.len()));
        assert_eq!(o.at(Location { line: 2, column: 8 }), None);
    }

    /// The text `expr_text` finds for each value of `SELECT …`'s list.
    fn values_text(list: &str) -> Vec<Option<String>> {
        let sql = format!("SELECT {list}");
        let parsed = crate::lex::parse(&sql, Syntax::default()).expect("parses");
        let Statement::Query(q) = &parsed[0] else {
            panic!("a query");
        };
        let SetExpr::Select(select) = q.body.as_ref() else {
            panic!("a SELECT");
        };
        let mut offsets = Offsets::new(&sql);
        (select.projection.iter())
            .map(|item| match item {
                sqlparser::ast::SelectItem::UnnamedExpr(e) => {
                    offsets.expr_text(e).map(str::to_owned)
                }
                _ => panic!("an expression"),
            })
            .collect()
    }

    #[test]
    fn expression_text_keeps_signs_and_parentheses() {
        assert_eq!(
            values_text("-181, - 7, +3, (-4), -(-5), ( 6 ), 'a', - /* c */ 8, NOT 1, 'ü' 'mlaut'"),
            [
                Some("-181"),
                Some("- 7"),
                Some("+3"),
                Some("(-4)"),
                Some("-(-5)"),
                Some("( 6 )"),
                Some("'a'"),
                None,
                None,
                None
            ]
            .map(|t| t.map(str::to_owned))
        );
    }

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    /// `INSERT INTO users (id, name) VALUES (1, 'a1'), (2, 'a2'), …` on one line, or one row
    /// a line.
    fn insert(rows: usize, separator: &str) -> String {
        let rows: Vec<String> = (1..=rows).map(|i| format!("({i}, 'é{i}')")).collect();
        format!(
            "INSERT INTO users (id, name) VALUES {}",
            rows.join(separator)
        )
    }

    fn split(sql: &str) -> (Vec<(ShardId, String)>, usize) {
        let statements = crate::lex::parse(sql, crate::Syntax::DEFAULT).unwrap();
        let sqlparser::ast::Statement::Insert(ins) = &statements[0] else {
            panic!("not an INSERT")
        };
        let mut offsets = Offsets::new(sql);
        let parts = split_insert_with(sql, ins, &topology(), &mut offsets)
            .unwrap()
            .expect("split");
        (parts, offsets.steps)
    }

    #[test]
    fn splitting_an_insert_walks_its_text_once() {
        for separator in [", ", ",\n"] {
            for rows in [10, 1000] {
                let sql = insert(rows, separator);
                let (parts, steps) = split(&sql);
                assert!(
                    steps <= sql.chars().count(),
                    "{rows} rows: {steps} characters walked over a text of {}",
                    sql.len()
                );
                assert_eq!(parts.len(), 3, "{rows} rows spread over the three shards");
            }
        }
    }

    #[test]
    fn each_shard_gets_its_rows_in_order_as_written() {
        // users.id on the golden ring: 5, 6, 8 → s0; 1, 3, 4, 7 → s1; 2 → s2.
        let (parts, _) = split(&insert(8, ",\n"));
        let text: Vec<(ShardId, &str)> = parts.iter().map(|(s, t)| (*s, t.as_str())).collect();
        assert_eq!(
            text,
            [
                (0, "INSERT INTO users (id, name) VALUES (5, 'é5'), (6, 'é6'), (8, 'é8')"),
                (
                    1,
                    "INSERT INTO users (id, name) VALUES (1, 'é1'), (3, 'é3'), (4, 'é4'), (7, 'é7')"
                ),
                (2, "INSERT INTO users (id, name) VALUES (2, 'é2')"),
            ]
        );
    }

    #[test]
    fn verbatim_parse_keeps_escapes() {
        let sql = r"SELECT 'a\\b', 'it\'s'";
        let rendered =
            crate::lex::parse_verbatim(sql, crate::Syntax::DEFAULT).unwrap()[0].to_string();
        assert_eq!(rendered, sql);
    }
}
