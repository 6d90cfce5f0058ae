//! The names MariaDB gives result columns (an item's text as written, an alias, a column's name), so that a merged answer names them the same.

use super::*;

/// MariaDB keeps at most this many bytes of a column name taken from the statement text.
pub(super) const MAX_ALIAS_NAME: usize = 256;

use crate::select_list::SELECT_MODIFIERS;

pub(super) fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The text of each select-list item as MariaDB takes it for a column name: from its first
/// to its last token, comments inside it kept (an executable one without its markers).
/// `None` when the items cannot be told apart in the text.
pub(crate) fn select_list_texts(sql: &str, syntax: Syntax, items: usize) -> Option<Vec<String>> {
    let items = select_list_items(sql, syntax, items)?;
    Some(items.into_iter().map(|item| item.text).collect())
}

/// A select-list item in the statement's text.
struct ItemText {
    /// As MariaDB takes it for a column name.
    text: String,
    /// The byte offset after its last token.
    end: usize,
    /// It holds a `?`.
    has_parameter: bool,
}

fn select_list_items(sql: &str, syntax: Syntax, items: usize) -> Option<Vec<ItemText>> {
    // Tokens of the text MariaDB reads (executable comments resolved, byte offsets kept).
    let resolved = crate::lex::resolve_comments(sql, syntax);
    let tokens = crate::lex::tokenize(&resolved, syntax, false).ok()?;
    // The outer SELECT: the first outside parentheses (after a `WITH`'s bodies), else the
    // first (a parenthesized query).
    let mut depth = 0usize;
    let outer = tokens.iter().position(|t| {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth == 0 && is_word(&t.token, "select")
    });
    let first = || tokens.iter().position(|t| is_word(&t.token, "select"));
    let mut i = outer.or_else(first)? + 1;
    while let Some(t) = tokens.get(i) {
        let modifier = SELECT_MODIFIERS.iter().any(|m| is_word(&t.token, m));
        if !(modifier || matches!(t.token, Token::Whitespace(_))) {
            break;
        }
        i += 1;
    }
    let mut pieces: Vec<Vec<&TokenWithSpan>> = vec![Vec::new()];
    let mut depth = 0usize;
    for t in &tokens[i..] {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                pieces.push(Vec::new());
                continue;
            }
            Token::EOF => break,
            token if depth == 0 && is_word(token, "from") => break,
            _ => {}
        }
        pieces.last_mut()?.push(t);
    }
    if pieces.len() != items {
        return None;
    }
    let mut offsets = crate::rewrite::Offsets::new(&resolved);
    let backslash = !syntax
        .sql_mode
        .contains(crate::SqlMode::NO_BACKSLASH_ESCAPES);
    pieces
        .iter()
        .map(|piece| {
            let solid = |t: &&&TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
            let first = piece.iter().position(|t| solid(&t))?;
            let last = piece.iter().rposition(|t| solid(&t))?;
            let has_parameter =
                (piece[first..=last].iter()).any(|t| matches!(t.token, Token::Placeholder(_)));
            let start = offsets.at(piece[first].span.start)?;
            let end = offsets.at(piece[last].span.end)?;
            let text = as_named(sql.get(start..end)?, resolved.get(start..end)?, backslash);
            Some(ItemText {
                text,
                end,
                has_parameter,
            })
        })
        .collect()
}

/// An item's text as MariaDB names a column by it: as written, comments too, but an
/// executable comment without its markers (`/*!50001 a */` is ` a `), or gone when the server
/// does not run it. `resolved` is the same text with its executable comments resolved
/// (`lex::resolve_comments`: same length, what is not run blanked).
fn as_named(text: &str, resolved: &str, backslash: bool) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                let end = crate::lex::quoted_end(b, i, q, backslash && q != b'`').min(b.len());
                out.push_str(&text[i..end]);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let close = (text[i + 2..].find("*/")).map_or(b.len(), |at| i + 2 + at);
                let end = (close + 2).min(b.len());
                let marker = match &text[i + 2..close] {
                    body if body.starts_with('!') => 1 + digits(&body[1..], 5),
                    body if body.starts_with("M!") => 2 + digits(&body[2..], 6),
                    _ => {
                        out.push_str(&text[i..end]);
                        i = end;
                        continue;
                    }
                };
                let content = i + 2 + marker..close;
                if text.get(content.clone()) == resolved.get(content.clone()) {
                    out.push_str(&text[content]);
                }
                i = end;
            }
            _ => {
                let next = (i + 1..=b.len())
                    .find(|&j| text.is_char_boundary(j))
                    .unwrap_or(b.len());
                out.push_str(&text[i..next]);
                i = next;
            }
        }
    }
    out
}

/// How many ASCII digits `text` starts with, at most `max` (an executable comment's version).
fn digits(text: &str, max: usize) -> usize {
    text.bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count()
}

/// `sql` (a prepared statement's text) with each unaliased select-list item that holds a
/// parameter named by its text as written: MariaDB names the column `a + ?`, and the text an
/// execution runs with its values written in (across shards) must keep that name. `None`
/// when no item needs it (or the select list cannot be read).
pub fn parameter_item_names(sql: &str, syntax: Syntax) -> Option<String> {
    let stmts = crate::lex::parse_verbatim(sql, syntax)?;
    let [Statement::Query(q)] = stmts.as_slice() else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let items = select_list_items(sql, syntax, select.projection.len())?;
    let mut out = sql.to_owned();
    let mut named = false;
    for (item, piece) in select.projection.iter().zip(items).rev() {
        if matches!(item, SelectItem::UnnamedExpr(_)) && piece.has_parameter {
            let name = truncate_name(piece.text).replace('`', "``");
            out.insert_str(piece.end, &format!(" AS `{name}`"));
            named = true;
        }
    }
    named.then_some(out)
}

/// `rewritten` (a text the proxy made of the client's `sql`, parsed as `query`, to run in its
/// place) with each unaliased item of its top-level select list whose text the rewrite
/// changed (a subquery reading a temporary table) named by the client's text: MariaDB names
/// such a column by its text as written. Unchanged when the two select lists cannot be
/// matched item for item.
pub(crate) fn client_item_names(
    sql: &str,
    query: &Query,
    rewritten: &str,
    syntax: Syntax,
) -> String {
    let named = || -> Option<String> {
        let stmts = crate::lex::parse_verbatim(rewritten, syntax)?;
        let [Statement::Query(rewritten_query)] = stmts.as_slice() else {
            return None;
        };
        let (SetExpr::Select(select), SetExpr::Select(rewritten_select)) =
            (query.body.as_ref(), rewritten_query.body.as_ref())
        else {
            return None;
        };
        let count = select.projection.len();
        if rewritten_select.projection.len() != count {
            return None;
        }
        let texts = top_select_items(sql, syntax, select, count)?;
        let rewritten_texts = top_select_items(rewritten, syntax, rewritten_select, count)?;
        let mut out = rewritten.to_owned();
        let pairs = select.projection.iter().zip(texts).zip(rewritten_texts);
        for ((item, text), rewritten_text) in pairs.rev() {
            if matches!(item, SelectItem::UnnamedExpr(_)) && text.text != rewritten_text.text {
                let name = truncate_name(text.text).replace('`', "``");
                out.insert_str(rewritten_text.end, &format!(" AS `{name}`"));
            }
        }
        Some(out)
    };
    named().unwrap_or_else(|| rewritten.to_owned())
}

/// The items of `select` (the top-level query block of `sql`), read from its `SELECT` on.
fn top_select_items(
    sql: &str,
    syntax: Syntax,
    select: &Select,
    items: usize,
) -> Option<Vec<ItemText>> {
    let start = crate::rewrite::Offsets::new(sql).at(select.select_token.0.span.start)?;
    let mut found = select_list_items(sql.get(start..)?, syntax, items)?;
    for item in &mut found {
        item.end += start;
    }
    Some(found)
}

/// The column a bare or qualified column reference names (not `@variables`).
pub(crate) fn column_ref(e: &Expr) -> Option<&str> {
    let id = match strip(e) {
        Expr::Identifier(id) => id,
        Expr::CompoundIdentifier(parts)
            if parts.first().is_some_and(|p| !p.value.starts_with('@')) =>
        {
            parts.last()?
        }
        _ => return None,
    };
    (!id.value.starts_with('@')).then_some(id.value.as_str())
}

/// The name MariaDB gives an unaliased item, and whether it is the item's text as written
/// (rather than a column's name or a literal's value). `e` is from the normally parsed tree.
pub(super) fn name_rule(e: &Expr) -> Option<String> {
    if let Some(column) = column_ref(e) {
        return Some(column.to_owned());
    }
    let value = |v: &Value| -> Option<String> {
        Some(match v {
            Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::NationalStringLiteral(s) => s.clone(),
            Value::Null => "NULL".into(),
            Value::Boolean(true) => "TRUE".into(),
            Value::Boolean(false) => "FALSE".into(),
            Value::Number(n, _) => n.clone(),
            _ => return None,
        })
    };
    match strip(e) {
        Expr::Value(v) => value(&v.value),
        Expr::Prefixed { value: inner, .. } => match strip(inner) {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// Whether `a` and `b` are the same qualified column reference (`o.id`, `O.ID`).
pub(super) fn same_qualified_column(a: &Expr, b: &Expr) -> bool {
    match (strip(a), strip(b)) {
        (Expr::CompoundIdentifier(a), Expr::CompoundIdentifier(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.value.eq_ignore_ascii_case(&y.value))
        }
        _ => false,
    }
}

pub(crate) fn truncate_name(mut name: String) -> String {
    if name.len() > MAX_ALIAS_NAME {
        let mut cut = MAX_ALIAS_NAME;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}
