//! Per-shard statement text: the WHERE clause's `key IN (…)` lists and ORs of shard-key
//! conditions cut down to what each shard owns (`id IN (1, 2, 3)` becomes `id IN (1, 3)` on
//! the shard of 1 and 3 and `id IN (2)` on the shard of 2; `id = 1 OR id = 2` likewise).
//!
//! A value a shard does not own matches none of its rows, so dropping it there changes
//! nothing but the work. The text is cut at token positions, so everything else reaches the
//! shards byte for byte; each cut text is parsed again and must be the statement with exactly
//! those values removed, otherwise every shard gets the whole text (correct, only less pruned).

use std::ops::ControlFlow;

use shardgate_ring::ShardId;
use sqlparser::ast::{
    visit_expressions_mut, BinaryOperator, Expr, SetExpr, Spanned, Statement, Value,
};
use sqlparser::tokenizer::{Location, Token};

use crate::lex::parse_verbatim;
use crate::prune::{chain, shards_of, Keyed, Shards};
use crate::rewrite::Offsets;
use crate::Syntax;

/// The text each of `shards` runs instead of `sql` (same order), or `None` when no IN list
/// or OR in the WHERE clause of `sql` can be cut down.
pub(crate) fn per_shard(
    sql: &str,
    syntax: Syntax,
    tables: &[Keyed<'_>],
    shards: &[ShardId],
) -> Option<Vec<String>> {
    // A lossy UTF-8 copy of the client's bytes cannot be cut without changing them.
    if shards.len() < 2 || sql.contains('\u{FFFD}') {
        return None;
    }
    let statements = parse_verbatim(sql, syntax)?;
    let [stmt] = statements.as_slice() else {
        return None;
    };
    // The tree is verbatim: its strings are placed once unescaped.
    let tables: Vec<Keyed<'_>> = tables
        .iter()
        .map(|k| Keyed {
            written: Some(syntax),
            ..*k
        })
        .collect();
    let tables = tables.as_slice();
    let conjuncts = chain(selection(stmt)?, &BinaryOperator::And);
    let tokens = Tokens::new(sql, syntax)?;
    let mut cuts: Vec<(usize, Cut)> = conjuncts
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            in_list_cut(c, tables, &tokens)
                .or_else(|| or_cut(c, tables, &tokens))
                .map(|cut| (i, cut))
        })
        .collect();
    cuts.sort_by_key(|(_, cut)| cut.start);
    if cuts.is_empty() || cuts.windows(2).any(|w| w[0].1.end > w[1].1.start) {
        return None;
    }
    let mut texts = Vec::with_capacity(shards.len());
    for &shard in shards {
        let mut text = String::with_capacity(sql.len());
        let mut expected: Vec<Expr> = conjuncts.iter().map(|c| (*c).clone()).collect();
        let mut at = 0;
        for (i, cut) in &cuts {
            let kept: Vec<usize> = (0..cut.pieces.len())
                .filter(|&p| cut.pieces[p].1.contains(&shard))
                .collect();
            if kept.is_empty() {
                return None;
            }
            text.push_str(&sql[at..cut.start]);
            let pieces: Vec<&str> = kept.iter().map(|&p| cut.pieces[p].0.as_str()).collect();
            text.push_str(&pieces.join(cut.separator));
            at = cut.end;
            expected[*i] = kept_only(conjuncts[*i], &kept)?;
        }
        text.push_str(&sql[at..]);
        if !is_statement_with(&text, syntax, stmt, &expected) {
            return None;
        }
        texts.push(text);
    }
    texts.iter().any(|t| t != sql).then_some(texts)
}

/// A region of the text replaced per shard by the pieces it owns, joined by `separator`.
struct Cut {
    start: usize,
    end: usize,
    /// Each piece's text and the shards that may need it.
    pieces: Vec<(String, Shards)>,
    separator: &'static str,
}

/// The WHERE clause of a SELECT, UPDATE or DELETE.
fn selection(stmt: &Statement) -> Option<&Expr> {
    match stmt {
        Statement::Query(q) => match q.body.as_ref() {
            SetExpr::Select(s) => s.selection.as_ref(),
            _ => None,
        },
        Statement::Update(u) => u.selection.as_ref(),
        Statement::Delete(d) => d.selection.as_ref(),
        _ => None,
    }
}

fn selection_mut(stmt: &mut Statement) -> Option<&mut Option<Expr>> {
    match stmt {
        Statement::Query(q) => match q.body.as_mut() {
            SetExpr::Select(s) => Some(&mut s.selection),
            _ => None,
        },
        Statement::Update(u) => Some(&mut u.selection),
        Statement::Delete(d) => Some(&mut d.selection),
        _ => None,
    }
}

/// `key IN (v1, v2, …)` of placeable values: one piece per value.
fn in_list_cut(conjunct: &Expr, tables: &[Keyed<'_>], tokens: &Tokens) -> Option<Cut> {
    let Expr::InList {
        expr,
        list,
        negated: false,
    } = conjunct
    else {
        return None;
    };
    let table = tables.iter().find(|t| t.is_key(expr))?;
    let shards: Vec<ShardId> = list
        .iter()
        .map(|v| table.value_shard(v))
        .collect::<Option<_>>()?;
    // After the key column (and any parentheses closing around it): IN, then `(`.
    let mut i = tokens.first_at_or_after(expr.span().end)?;
    while matches!(tokens.token(i)?, Token::Whitespace(_) | Token::RParen) {
        i += 1;
    }
    if !is_word(tokens.token(i)?, "in") {
        return None;
    }
    let open = tokens.next_solid(i)?;
    if *tokens.token(open)? != Token::LParen {
        return None;
    }
    let items = tokens.split(open + 1, Token::Comma)?;
    if items.len() != list.len() {
        return None;
    }
    Some(Cut {
        start: items.first()?.0,
        end: items.last()?.1,
        pieces: items
            .iter()
            .zip(shards)
            .map(|(&(a, b), shard)| (tokens.sql[a..b].to_owned(), Shards::from([shard])))
            .collect(),
        separator: ", ",
    })
}

/// `a OR b OR …` where every alternative narrows to shards: one piece per alternative.
fn or_cut(conjunct: &Expr, tables: &[Keyed<'_>], tokens: &Tokens) -> Option<Cut> {
    if !matches!(
        conjunct,
        Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        }
    ) {
        return None;
    }
    let alternatives = chain(conjunct, &BinaryOperator::Or);
    let shards: Vec<Shards> = alternatives
        .iter()
        .map(|a| shards_of(&chain(a, &BinaryOperator::And), tables))
        .collect::<Option<_>>()?;
    // The first alternative's span starts inside any parentheses around it: widen to them
    // until the text splits into as many alternatives as the tree has.
    let mut first = tokens.index_at(alternatives.first()?.span().start)?;
    let pieces = loop {
        let pieces = tokens.split(first, Token::make_keyword("OR"))?;
        if pieces.len() == alternatives.len() {
            break pieces;
        }
        first = tokens.previous_solid(first)?;
        if *tokens.token(first)? != Token::LParen {
            return None;
        }
    };
    Some(Cut {
        start: pieces.first()?.0,
        end: pieces.last()?.1,
        pieces: pieces
            .iter()
            .zip(shards)
            .map(|(&(a, b), shards)| (tokens.sql[a..b].to_owned(), shards))
            .collect(),
        separator: " OR ",
    })
}

/// The conjunct with only its pieces `kept` (IN-list values, or OR alternatives).
fn kept_only(conjunct: &Expr, kept: &[usize]) -> Option<Expr> {
    match conjunct {
        Expr::InList {
            expr,
            list,
            negated,
        } => Some(Expr::InList {
            expr: expr.clone(),
            list: kept.iter().map(|&i| list[i].clone()).collect(),
            negated: *negated,
        }),
        _ => {
            let alternatives = chain(conjunct, &BinaryOperator::Or);
            kept.iter()
                .map(|&i| alternatives[i].clone())
                .reduce(|left, right| Expr::BinaryOp {
                    left: Box::new(left),
                    op: BinaryOperator::Or,
                    right: Box::new(right),
                })
        }
    }
}

/// Whether `text` parses as `stmt` with its WHERE clause's conjuncts replaced by `expected`.
fn is_statement_with(text: &str, syntax: Syntax, stmt: &Statement, expected: &[Expr]) -> bool {
    let Some(mut parsed) = parse_verbatim(text, syntax) else {
        return false;
    };
    let [parsed] = parsed.as_mut_slice() else {
        return false;
    };
    let Some(got) = selection(parsed) else {
        return false;
    };
    let got: Vec<Expr> = chain(got, &BinaryOperator::And)
        .into_iter()
        .map(|e| unnested(e.clone()))
        .collect();
    let want: Vec<Expr> = expected
        .iter()
        .flat_map(|e| chain(e, &BinaryOperator::And))
        .map(|e| unnested(e.clone()))
        .collect();
    if got != want {
        return false;
    }
    let mut original = stmt.clone();
    match (selection_mut(parsed), selection_mut(&mut original)) {
        (Some(a), Some(b)) => {
            *a = None;
            *b = None;
        }
        _ => return false,
    }
    *parsed == original
}

/// `e` without parentheses anywhere (the tree already says how it groups).
fn unnested(mut e: Expr) -> Expr {
    let _ = visit_expressions_mut(&mut e, |x| {
        while let Expr::Nested(inner) = x {
            let inner = std::mem::replace(inner.as_mut(), Expr::value(Value::Null));
            *x = inner;
        }
        ControlFlow::<()>::Continue(())
    });
    e
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Words that end a WHERE clause.
const CLAUSE_ENDS: &[&str] = &[
    "group",
    "having",
    "window",
    "order",
    "limit",
    "returning",
    "for",
    "lock",
    "into",
    "union",
    "except",
    "intersect",
    "procedure",
];

/// The statement's tokens with their byte ranges.
struct Tokens<'s> {
    sql: &'s str,
    tokens: Vec<(Token, Location, usize, usize)>,
}

impl<'s> Tokens<'s> {
    fn new(sql: &'s str, syntax: Syntax) -> Option<Self> {
        let raw = crate::lex::tokenize(sql, syntax, false).ok()?;
        let mut offsets = Offsets::new(sql);
        let mut tokens = Vec::with_capacity(raw.len());
        for t in raw {
            if t.token == Token::EOF {
                break;
            }
            let start = offsets.at(t.span.start)?;
            let end = offsets.at(t.span.end)?;
            tokens.push((t.token, t.span.start, start, end));
        }
        Some(Tokens { sql, tokens })
    }

    fn token(&self, i: usize) -> Option<&Token> {
        self.tokens.get(i).map(|t| &t.0)
    }

    /// The token starting at `at`.
    fn index_at(&self, at: Location) -> Option<usize> {
        self.tokens
            .binary_search_by_key(&(at.line, at.column), |t| (t.1.line, t.1.column))
            .ok()
    }

    /// The first token starting at or after `at`.
    fn first_at_or_after(&self, at: Location) -> Option<usize> {
        let i = self
            .tokens
            .partition_point(|t| (t.1.line, t.1.column) < (at.line, at.column));
        (i < self.tokens.len()).then_some(i)
    }

    fn next_solid(&self, i: usize) -> Option<usize> {
        (i + 1..self.tokens.len()).find(|&j| !matches!(self.tokens[j].0, Token::Whitespace(_)))
    }

    fn previous_solid(&self, i: usize) -> Option<usize> {
        (0..i)
            .rev()
            .find(|&j| !matches!(self.tokens[j].0, Token::Whitespace(_)))
    }

    /// From token `from`, the byte ranges (whitespace trimmed) of the pieces separated by
    /// `separator` at nesting depth 0, up to a `)` closing an outer group, the end of the
    /// statement or a word ending the WHERE clause. `None` when a piece is empty or an `||`
    /// (an OR in MariaDB's default mode) appears where it would separate.
    fn split(&self, from: usize, separator: Token) -> Option<Vec<(usize, usize)>> {
        let mut pieces = Vec::new();
        let mut piece: Option<(usize, usize)> = None;
        let mut depth = 0usize;
        for (token, _, start, end) in self.tokens.get(from..)? {
            let at_top = depth == 0;
            match token {
                Token::LParen => depth += 1,
                Token::RParen if at_top => break,
                Token::RParen => depth -= 1,
                Token::Word(w)
                    if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("case") =>
                {
                    depth += 1
                }
                Token::Word(w)
                    if w.quote_style.is_none()
                        && w.value.eq_ignore_ascii_case("end")
                        && !at_top =>
                {
                    depth -= 1
                }
                Token::SemiColon if at_top => break,
                Token::StringConcat if at_top => return None,
                t if at_top && *t == separator => {
                    pieces.push(piece.take()?);
                    continue;
                }
                t if at_top && CLAUSE_ENDS.iter().any(|w| is_word(t, w)) => break,
                _ => {}
            }
            if !matches!(token, Token::Whitespace(_)) {
                piece = Some(piece.map_or((*start, *end), |(a, _)| (a, *end)));
            }
        }
        pieces.push(piece?);
        Some(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_key::TableRef;

    /// `users` by range: keys 0..10 on s0, 10..20 on s1, 20..30 on s2.
    fn cut(sql: &str, shards: &[ShardId]) -> Option<Vec<String>> {
        let toml = r#"
[[users]]
name = "app"
password = "app"
[backend]
user = "u"
password = "p"
database = "app"
[[shards]]
name = "s0"
primary = "127.0.0.1:1"
[[shards]]
name = "s1"
primary = "127.0.0.1:2"
[[shards]]
name = "s2"
primary = "127.0.0.1:3"
[[tables]]
name = "users"
shard_key = "id"
strategy = "range"
ranges = [
  { shard = "s0", start = 0, end = 10 },
  { shard = "s1", start = 10, end = 20 },
  { shard = "s2", start = 20, end = 30 },
]
"#;
        let topology = shardgate_config::parse(toml, "test.toml").expect("valid topology");
        let table = TableRef::new(
            topology.table("users").expect("sharded"),
            "users".into(),
            Some("u".into()),
            &topology,
        );
        let keyed = [Keyed {
            table: &table,
            only_table: true,
            written: None,
        }];
        per_shard(sql, Syntax::DEFAULT, &keyed, shards)
    }

    #[test]
    fn in_lists_keep_each_shards_values_as_written() {
        let sql =
            r"UPDATE users u SET name = 'a\'b' WHERE u.id IN (21, 1 , 14,'7', ( 2 )) AND x = 1";
        assert_eq!(
            cut(sql, &[0, 1, 2]).unwrap(),
            [
                r"UPDATE users u SET name = 'a\'b' WHERE u.id IN (1, '7', ( 2 )) AND x = 1",
                r"UPDATE users u SET name = 'a\'b' WHERE u.id IN (14) AND x = 1",
                r"UPDATE users u SET name = 'a\'b' WHERE u.id IN (21) AND x = 1",
            ]
        );
    }

    #[test]
    fn ors_keep_each_shards_alternatives() {
        let sql = "DELETE FROM users WHERE (id = 1 OR (id = 12) OR id IN (4, 25)) AND name <> 'x'";
        assert_eq!(
            cut(sql, &[0, 1, 2]).unwrap(),
            [
                "DELETE FROM users WHERE (id = 1 OR id IN (4, 25)) AND name <> 'x'",
                "DELETE FROM users WHERE ((id = 12)) AND name <> 'x'",
                "DELETE FROM users WHERE (id IN (4, 25)) AND name <> 'x'",
            ]
        );
        let sql = "SELECT * FROM users WHERE (id = 13) OR id = 1 ORDER BY 1";
        assert_eq!(
            cut(sql, &[0, 1]).unwrap(),
            [
                "SELECT * FROM users WHERE id = 1 ORDER BY 1",
                "SELECT * FROM users WHERE (id = 13) ORDER BY 1",
            ]
        );
    }

    #[test]
    fn escaped_strings_place_by_their_value() {
        // Each value places by what MariaDB reads: `'a\\b'` is `a\b`, `'c\de'` is `cde`.
        let topology = crate::test_topology::golden();
        let table = TableRef::new(
            topology.table("sessions").expect("sharded"),
            "sessions".into(),
            None,
            &topology,
        );
        let keyed = [Keyed {
            table: &table,
            only_table: true,
            written: None,
        }];
        let sql = r"SELECT * FROM sessions WHERE token IN ('a\\b', 'c\de', 'x')";
        let unescaped = |s: &str| {
            let t = keyed[0]
                .table
                .shard_of(&shardgate_ring::KeyValue::Str(s.as_bytes()));
            t.unwrap()
        };
        let shards: Vec<_> = [r"a\b", "cde", "x"].iter().map(|s| unescaped(s)).collect();
        let mut all = shards.clone();
        all.sort_unstable();
        all.dedup();
        assert!(all.len() >= 2, "the values need two shards: {shards:?}");
        let texts = per_shard(sql, Syntax::DEFAULT, &keyed, &all).expect("cut per shard");
        for (shard, text) in all.iter().zip(&texts) {
            for (value, written) in [(0, r"'a\\b'"), (1, r"'c\de'"), (2, "'x'")] {
                assert_eq!(text.contains(written), shards[value] == *shard, "{text}");
            }
        }
    }

    #[test]
    fn what_cannot_be_cut_goes_whole() {
        // A value that does not place, a non-key alternative, `||`, a shard owning nothing.
        assert_eq!(
            cut("SELECT * FROM users WHERE id IN (1, NULL)", &[0, 1]),
            None
        );
        assert_eq!(
            cut("SELECT * FROM users WHERE id = 1 OR name = 'x'", &[0, 1]),
            None
        );
        // `||` is OR by default: cut like one.
        assert_eq!(
            cut("SELECT * FROM users WHERE id = 1 || id = 12", &[0, 1]),
            Some(vec![
                "SELECT * FROM users WHERE id = 1".to_owned(),
                "SELECT * FROM users WHERE id = 12".to_owned()
            ])
        );
        assert_eq!(
            cut("SELECT * FROM users WHERE id IN (1, 12)", &[0, 1, 2]),
            None
        );
    }
}
