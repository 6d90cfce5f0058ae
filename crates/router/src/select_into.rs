//! `SELECT … INTO @a, @b` whose SELECT no one shard answers (a scatter the proxy merges, a
//! join across shards, copies): the proxy reads the SELECT's rows itself, as it reads any
//! (`server/src/select_into.rs`), and gives the variables the one row's values with the types
//! MariaDB gives them — or answers as MariaDB does for no row (warning 1329, the variables
//! unchanged) and for more than one (error 1172). A SELECT pinned to one shard keeps running
//! there whole, its variables read back as any statement's.

use sqlparser::ast::{Expr, SetExpr, Statement};
use sqlparser::tokenizer::Token;

use crate::rewrite::Offsets;
use crate::Syntax;

/// A `SELECT … INTO` user variables, run as its SELECT first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntoVariables {
    /// The statement as written, without its `INTO @a, @b`.
    pub select: String,
    /// The variables, in order, lower-cased with their `@` (as [`crate::Plan::assigns`]).
    pub vars: Vec<String>,
    /// The SELECT has a `LIMIT` of its own, which the session's `sql_select_limit` (that
    /// MariaDB applies to a `SELECT … INTO`) does not override.
    pub limited: bool,
}

impl IntoVariables {
    /// The request for `select` (the statement without its `INTO`) setting `vars`.
    pub(crate) fn new(select: String, vars: Vec<String>, syntax: Syntax) -> IntoVariables {
        let limited = crate::lex::parse_verbatim(&select, syntax).is_some_and(
            |s| matches!(s.as_slice(), [Statement::Query(q)] if q.limit_clause.is_some()),
        );
        IntoVariables {
            select,
            vars,
            limited,
        }
    }
}

impl std::fmt::Display for IntoVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SELECT … INTO {} after its SELECT: first `{}` (planned as any SELECT), then {} set to its one row's values with MariaDB's types (no row: warning 1329; more: error 1172)",
            self.vars.join(", "),
            self.select,
            self.vars.join(", ")
        )
    }
}

/// The request to run `stmt` (text `sql`) as its SELECT first, when it is a SELECT whose
/// outermost query block assigns user variables with `INTO` (not a file, not a table) before
/// its `FROM`. (After the rest, `… WHERE … INTO @v`, the parser does not read it: `plan_text`
/// cuts it off with `text::without_trailing_into`.)
pub(crate) fn request(sql: &str, syntax: Syntax, stmt: &Statement) -> Option<IntoVariables> {
    let Statement::Query(query) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let into = select.into.as_ref()?;
    let user_variable = |e: &Expr| matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.starts_with('@') && !i.value.starts_with("@@"));
    if into.temporary || into.table || !into.targets.iter().all(user_variable) {
        return None;
    }
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut offsets = Offsets::new(sql);
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w)
                if depth == 0
                    && w.quote_style.is_none()
                    && w.value.eq_ignore_ascii_case("into") =>
            {
                let start = offsets.at(tokens[i].span.start)?;
                let mut vars = Vec::new();
                let mut end;
                let mut j = i + 1;
                loop {
                    while matches!(tokens.get(j)?.token, Token::Whitespace(_)) {
                        j += 1;
                    }
                    let Token::Word(var) = &tokens[j].token else {
                        return None;
                    };
                    if var.quote_style.is_some() || !var.value.starts_with('@') {
                        return None;
                    }
                    vars.push(var.value.to_ascii_lowercase());
                    end = offsets.at(tokens[j].span.end)?;
                    j += 1;
                    while matches!(tokens.get(j).map(|t| &t.token), Some(Token::Whitespace(_))) {
                        j += 1;
                    }
                    match tokens.get(j).map(|t| &t.token) {
                        Some(Token::Comma) => j += 1,
                        _ => break,
                    }
                }
                if vars.len() != into.targets.len() {
                    return None;
                }
                let select = format!("{}{}", sql[..start].trim_end(), &sql[end..]);
                return Some(IntoVariables::new(select, vars, syntax));
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

    fn of(sql: &str) -> Option<IntoVariables> {
        let syntax = Syntax::default();
        let stmt = crate::lex::parse_verbatim(sql, syntax)?
            .into_iter()
            .next()?;
        request(sql, syntax, &stmt)
    }

    #[test]
    fn the_into_clause_is_cut_where_it_stands() {
        let r = of("SELECT id, name INTO @a, @B FROM users WHERE name = 'x'").unwrap();
        assert_eq!(r.select, "SELECT id, name FROM users WHERE name = 'x'");
        assert_eq!(r.vars, ["@a", "@b"]);
    }

    #[test]
    fn only_user_variables_of_the_outer_block() {
        assert_eq!(of("SELECT id INTO OUTFILE '/tmp/x' FROM users"), None);
        assert_eq!(of("SELECT id FROM users"), None);
        assert_eq!(
            of("SELECT (SELECT MAX(id) FROM orders) INTO @m FROM users LIMIT 1")
                .unwrap()
                .select,
            "SELECT (SELECT MAX(id) FROM orders) FROM users LIMIT 1"
        );
    }
}
