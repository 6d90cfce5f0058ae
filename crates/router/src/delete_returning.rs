//! `DELETE … [ORDER BY …] [LIMIT …] RETURNING …` is MariaDB's order of a DELETE's clauses; the
//! parser reads RETURNING only before ORDER BY and LIMIT (and refused the statement as
//! unparseable). [`reorder`] moves such a RETURNING clause before them in the tokens the parser
//! reads; the text sent keeps the client's order (spans are the text's).

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Moves the top-level RETURNING clause of each DELETE statement in `tokens` that follows its
/// ORDER BY or LIMIT to before them.
pub(crate) fn reorder(tokens: &mut [TokenWithSpan]) {
    let mut start = 0;
    while start < tokens.len() {
        let end = statement_end(tokens, start);
        reorder_statement(&mut tokens[start..end]);
        start = end + 1;
    }
}

/// Where the statement starting at `start` ends: its `;` at depth 0, or the end.
fn statement_end(tokens: &[TokenWithSpan], start: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(start) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon if depth == 0 => return i,
            _ => {}
        }
    }
    tokens.len()
}

fn keyword(token: &Token) -> Option<Keyword> {
    match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    }
}

fn reorder_statement(statement: &mut [TokenWithSpan]) {
    let mut words =
        (statement.iter().enumerate()).filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)));
    if words.next().and_then(|(_, t)| keyword(&t.token)) != Some(Keyword::DELETE) {
        return;
    }
    let mut depth = 0usize;
    let mut tail = None;
    for i in 0..statement.len() {
        match statement[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ => match (keyword(&statement[i].token), tail) {
                (Some(Keyword::ORDER | Keyword::LIMIT), None) => tail = Some(i),
                (Some(Keyword::RETURNING), Some(tail)) => {
                    statement[tail..].rotate_left(i - tail);
                    return;
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::ast::Statement;

    use crate::lex::parse;
    use crate::Syntax;

    fn delete(sql: &str) -> Statement {
        let mut statements = parse(sql, Syntax::DEFAULT).expect(sql);
        assert_eq!(statements.len(), 1);
        statements.remove(0)
    }

    #[test]
    fn returning_after_order_by_and_limit_is_read() {
        let Statement::Delete(d) =
            delete("DELETE FROM t WHERE a = 1 ORDER BY id DESC LIMIT 2 RETURNING id, a")
        else {
            panic!("not a DELETE")
        };
        assert_eq!(d.order_by.len(), 1);
        assert!(d.limit.is_some());
        assert_eq!(d.returning.map(|r| r.len()), Some(2));
    }

    #[test]
    fn returning_after_limit_alone_is_read() {
        let Statement::Delete(d) = delete("DELETE FROM t LIMIT 1 RETURNING *") else {
            panic!("not a DELETE")
        };
        assert!(d.limit.is_some() && d.returning.is_some());
    }

    #[test]
    fn nested_and_other_statements_are_left_alone() {
        // A subquery's ORDER BY / LIMIT is not the DELETE's.
        let Statement::Delete(d) = delete(
            "DELETE FROM t WHERE id IN (SELECT id FROM (SELECT id FROM t ORDER BY id LIMIT 3) x) RETURNING id",
        ) else {
            panic!("not a DELETE")
        };
        assert!(d.order_by.is_empty() && d.limit.is_none() && d.returning.is_some());
        let both = parse(
            "SELECT 1 ORDER BY 1 LIMIT 1; DELETE FROM t ORDER BY id LIMIT 1 RETURNING id",
            Syntax::DEFAULT,
        )
        .unwrap();
        assert_eq!(both.len(), 2);
    }
}
