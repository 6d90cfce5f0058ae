//! The items of a statement's outermost select list, read from its tokens: where each stands,
//! and whether it divides (a DECIMAL quotient is shown rounded to its scale, but MariaDB keeps
//! more digits in the value a user variable takes from it — `SELECT 2/3` shows `0.6667`,
//! `SELECT 2/3 INTO @v` makes `@v` `0.666666666` — so a proxy that has only the shown value
//! cannot give the variable its value).

use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Words after `SELECT` that are no item (`SELECT DISTINCT a, …`).
pub(crate) const SELECT_MODIFIERS: &[&str] = &[
    "all",
    "distinct",
    "distinctrow",
    "high_priority",
    "straight_join",
    "sql_small_result",
    "sql_big_result",
    "sql_buffer_result",
    "sql_cache",
    "sql_no_cache",
    "sql_calc_found_rows",
];

/// Words that end the select list at depth 0.
const AFTER_SELECT_LIST: &[&str] = &[
    "from",
    "into",
    "where",
    "group",
    "having",
    "order",
    "limit",
    "window",
    "for",
    "lock",
    "union",
    "except",
    "intersect",
];

/// The outermost select list of `tokens`.
pub(crate) struct SelectList {
    /// The modifiers after `SELECT`, lower-cased.
    pub modifiers: Vec<String>,
    /// Each item's tokens: indexes into `tokens`, whitespace left out.
    pub items: Vec<Vec<usize>>,
}

impl SelectList {
    /// The select list of the first `SELECT` at depth 0 (a WITH clause's bodies are in
    /// parentheses).
    pub(crate) fn of(tokens: &[TokenWithSpan]) -> Option<SelectList> {
        let significant: Vec<usize> = (0..tokens.len())
            .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
            .collect();
        let mut depth = 0usize;
        let mut at = None;
        for (k, &i) in significant.iter().enumerate() {
            match &tokens[i].token {
                Token::LParen => depth += 1,
                Token::RParen => depth = depth.saturating_sub(1),
                _ if depth == 0 && plain_word(&tokens[i]).as_deref() == Some("select") => {
                    at = Some(k + 1);
                    break;
                }
                _ => {}
            }
        }
        let mut k = at?;
        let mut modifiers = Vec::new();
        while let Some(w) = significant.get(k).and_then(|&i| plain_word(&tokens[i])) {
            if !SELECT_MODIFIERS.contains(&w.as_str()) {
                break;
            }
            modifiers.push(w);
            k += 1;
        }
        let mut items = vec![Vec::new()];
        let mut depth = 0usize;
        while let Some(&i) = significant.get(k) {
            match &tokens[i].token {
                Token::LParen => depth += 1,
                Token::RParen => depth = depth.saturating_sub(1),
                Token::Comma if depth == 0 => {
                    items.push(Vec::new());
                    k += 1;
                    continue;
                }
                _ if depth == 0
                    && plain_word(&tokens[i])
                        .is_some_and(|w| AFTER_SELECT_LIST.contains(&w.as_str())) =>
                {
                    break;
                }
                _ => {}
            }
            items.last_mut().expect("one item at least").push(i);
            k += 1;
        }
        Some(SelectList { modifiers, items })
    }

    /// Whether each item divides (`/`, `AVG`): its DECIMAL value may have more digits than
    /// it shows (see the module's comment).
    pub(crate) fn dividing(&self, tokens: &[TokenWithSpan]) -> Vec<bool> {
        (self.items.iter())
            .map(|item| {
                item.iter().any(|&i| {
                    matches!(tokens[i].token, Token::Div)
                        || plain_word(&tokens[i]).as_deref() == Some("avg")
                })
            })
            .collect()
    }
}

/// Whether each item of `select`'s outermost select list divides (see the module's comment);
/// `None` when its text cannot be read.
pub fn dividing_items(select: &str, syntax: crate::Syntax) -> Option<Vec<bool>> {
    let tokens = crate::lex::tokenize(select, syntax, false).ok()?;
    SelectList::of(&tokens).map(|list| list.dividing(&tokens))
}

/// A word's text lower-cased, unless it is quoted.
fn plain_word(token: &TokenWithSpan) -> Option<String> {
    match &token.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(sql: &str) -> (Vec<String>, Vec<bool>, usize) {
        let tokens = crate::lex::tokenize(sql, crate::Syntax::default(), false).unwrap();
        let list = SelectList::of(&tokens).unwrap();
        let dividing = list.dividing(&tokens);
        (list.modifiers, dividing, list.items.len())
    }

    #[test]
    fn items_split_at_commas_outside_parentheses() {
        let (modifiers, dividing, n) = list(
            "WITH c AS (SELECT 1 / 2 AS x) SELECT DISTINCT CONCAT(a, b), Avg(x), x/2, `avg` FROM c",
        );
        assert_eq!(modifiers, ["distinct"]);
        assert_eq!(n, 4);
        assert_eq!(dividing, [false, true, true, false]);
    }

    #[test]
    fn the_list_ends_at_its_clauses() {
        for sql in [
            "SELECT a, b INTO @x, @y FROM t",
            "SELECT a, b FROM t WHERE c / 2 > 1",
            "SELECT a, b UNION SELECT 1 / 2, 3",
            "SELECT a, b LIMIT 1",
        ] {
            let (_, dividing, n) = list(sql);
            assert_eq!((n, dividing), (2, vec![false, false]), "{sql}");
        }
    }
}
