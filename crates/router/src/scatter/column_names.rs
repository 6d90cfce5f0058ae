//! The names MariaDB gives result columns (an item's text as written, an alias, a column's name), so that a merged answer names them the same.

use super::*;

/// MariaDB keeps at most this many bytes of a column name taken from the statement text.
pub(super) const MAX_ALIAS_NAME: usize = 256;

use crate::select_list::SELECT_MODIFIERS;

pub(super) fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The text of each select-list item as MariaDB takes it for a column name: from its first
/// to its last token, comments dropped (a `--` comment leaves its line break). `None` when
/// the items cannot be told apart in the text.
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
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut i = tokens.iter().position(|t| is_word(&t.token, "select"))? + 1;
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
    let mut offsets = crate::rewrite::Offsets::new(sql);
    pieces
        .iter()
        .map(|piece| {
            let solid = |t: &&&TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
            let first = piece.iter().position(|t| solid(&t))?;
            let last = piece.iter().rposition(|t| solid(&t))?;
            let mut text = String::new();
            let mut has_parameter = false;
            for t in &piece[first..=last] {
                has_parameter |= matches!(t.token, Token::Placeholder(_));
                let (start, end) = (offsets.at(t.span.start)?, offsets.at(t.span.end)?);
                let raw = sql.get(start..end)?;
                match &t.token {
                    Token::Whitespace(Whitespace::MultiLineComment(_)) => {}
                    Token::Whitespace(Whitespace::SingleLineComment { .. }) => {
                        if raw.ends_with('\n') {
                            text.push('\n');
                        }
                    }
                    _ => text.push_str(raw),
                }
            }
            let end = offsets.at(piece[last].span.end)?;
            Some(ItemText {
                text,
                end,
                has_parameter,
            })
        })
        .collect()
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
