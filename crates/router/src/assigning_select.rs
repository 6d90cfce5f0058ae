//! A SELECT whose select list assigns user variables (`SELECT @m := MAX(amount) FROM
//! orders`) and that no one shard answers: each shard would assign its own value. The proxy
//! runs the SELECT without the assignments (`SELECT MAX(amount) FROM orders`, planned as any
//! SELECT, `server/src/assigning_select.rs`), answers its rows under the columns MariaDB
//! describes for the statement as written (an assignment has its own type: a DATETIME
//! assigned is a VARCHAR), and gives each variable its column's value in the last row.
//!
//! MariaDB assigns as it evaluates the select list, row by row, in an order it does not
//! define; the proxy assigns only when that order cannot matter: every row holds the same
//! values in the assigned columns (one row, say: a scalar aggregate), and every row MariaDB
//! evaluates is one it answers. So the variables must not be read in the statement, no other
//! assignment may stand anywhere in it, and a statement whose rows MariaDB may evaluate
//! beyond those it answers (past a LIMIT reached, groups HAVING filters out, window
//! functions, `WITH ROLLUP`, an OFFSET) is refused, unless it reads one table plainly.

use sqlparser::ast::{
    GroupByExpr, LimitClause, SelectItem, SetExpr, Statement, TableFactor, Value, ValueWithSpan,
};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::rewrite::Offsets;
use crate::select_list::SelectList;
use crate::Syntax;

/// A SELECT assigning user variables in its select list, run as its SELECT first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssigningSelect {
    /// The statement as written, whose result columns MariaDB describes.
    pub statement: String,
    /// The statement without its assignments (`@m := MAX(x)` is `MAX(x)`).
    pub select: String,
    /// The assigned columns: each column's position and its variable, lower-cased with its `@`.
    pub assigned: Vec<(usize, String)>,
    /// The statement's own `LIMIT` row count, if it has one.
    pub limit: Option<u64>,
    /// MariaDB evaluates the select list only for rows it answers (one table read plainly:
    /// no join, derived table, grouping or DISTINCT), so a `LIMIT` reached cuts no evaluation.
    pub evaluates_answered_rows_only: bool,
}

impl AssigningSelect {
    /// The variables, as the statement names them.
    pub fn vars(&self) -> Vec<&str> {
        self.assigned.iter().map(|(_, v)| v.as_str()).collect()
    }
}

impl std::fmt::Display for AssigningSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SELECT assigning {} after its SELECT: first `{}` (planned as any SELECT), its rows answered under the columns MariaDB describes for the statement, then each variable set to its column's value (the same in every row)",
            self.vars().join(", "),
            self.select
        )
    }
}

/// The request to run `stmt` (text `sql`) without its assignments when its select list
/// assigns user variables in the shapes the module describes.
pub(crate) fn request(sql: &str, syntax: Syntax, stmt: &Statement) -> Option<AssigningSelect> {
    let Statement::Query(query) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let wildcard = |i: &SelectItem| {
        matches!(
            i,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    };
    if select.into.is_some()
        || !query.locks.is_empty()
        || query.fetch.is_some()
        || select.projection.iter().any(wildcard)
        || select.window_before_qualify
        || !select.named_window.is_empty()
    {
        return None;
    }
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return None; // WITH ROLLUP
            }
            !exprs.is_empty()
        }
        GroupByExpr::All(_) => return None,
    };
    if grouped && select.having.is_some() {
        return None;
    }
    let limit = match &query.limit_clause {
        None => None,
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            if offset.is_some() || !limit_by.is_empty() {
                return None;
            }
            match limit {
                None => None,
                Some(sqlparser::ast::Expr::Value(ValueWithSpan {
                    value: Value::Number(n, _),
                    ..
                })) => Some(n.parse::<u64>().ok()?),
                Some(_) => return None,
            }
        }
        Some(LimitClause::OffsetCommaLimit { .. }) => return None,
    };
    let one_plain_table = match select.from.as_slice() {
        [t] => t.joins.is_empty() && matches!(t.relation, TableFactor::Table { .. }),
        _ => false,
    };
    let evaluates_answered_rows_only = one_plain_table && !grouped;
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let list = SelectList::of(&tokens)?;
    // A result MariaDB writes through a temporary table names an assignment's column as its
    // origin (`org_name`), which the statement's description does not.
    let through_temporary_table = list
        .modifiers
        .iter()
        .any(|m| ["distinct", "distinctrow", "sql_buffer_result"].contains(&m.as_str()))
        || (query.order_by.is_some() && (!one_plain_table || grouped));
    if through_temporary_table || list.modifiers.iter().any(|m| m == "sql_calc_found_rows") {
        return None;
    }
    let assignments = top_level_assignments(&tokens, &list);
    if assignments.is_empty() || !assigns_nothing_else(&tokens, &assignments) {
        return None;
    }
    let mut offsets = Offsets::new(sql);
    let mut edits = Vec::with_capacity(assignments.len());
    let mut assigned = Vec::with_capacity(assignments.len());
    for a in &assignments {
        let start = offsets.at(tokens[a.variable].span.start)?;
        let end = offsets.at(tokens[a.value].span.start)?;
        edits.push((start..end, String::new()));
        assigned.push((a.column, a.name.clone()));
    }
    Some(AssigningSelect {
        statement: sql.to_owned(),
        select: crate::rewrite::spliced(sql, edits)?,
        assigned,
        limit,
        evaluates_answered_rows_only,
    })
}

/// The request for `sql`, planned as `planned`, when it assigns user variables in its select
/// list and does not run on one shard whole (where the shard assigns them, read back as any
/// statement's): a plan over several shards, or a refusal the text without its assignments
/// may not meet. A plan that needs the schema first gets it first.
pub(crate) fn across_shards(
    sql: &str,
    syntax: Syntax,
    planned: &Result<crate::Plan, crate::RouteError>,
) -> Option<AssigningSelect> {
    use crate::{Route, RouteError};
    match planned {
        Ok(plan)
            if matches!(
                plan.route,
                Route::Shard(_) | Route::Deferred(_) | Route::Set { .. }
            ) =>
        {
            return None
        }
        Err(RouteError::SchemaNeeded { .. } | RouteError::SchemaDisagrees { .. }) => return None,
        _ => {}
    }
    if !sql.contains(":=") {
        return None;
    }
    let statements = crate::lex::parse_verbatim(sql, syntax)?;
    match statements.as_slice() {
        [stmt] => request(sql, syntax, stmt),
        _ => None,
    }
}

/// One `@v := …` item of the outermost select list.
struct Assignment {
    /// Its column's position among the select list's items.
    column: usize,
    /// The variable, lower-cased with its `@`.
    name: String,
    /// The tokens of the variable and of the value's first token.
    variable: usize,
    value: usize,
}

/// The items of `list` that are a whole `@v := value`.
fn top_level_assignments(tokens: &[TokenWithSpan], list: &SelectList) -> Vec<Assignment> {
    let mut assignments = Vec::new();
    for (column, item) in list.items.iter().enumerate() {
        let [variable, assign, value, ..] = item.as_slice() else {
            continue;
        };
        let (Token::Word(w), Token::Assignment) =
            (&tokens[*variable].token, &tokens[*assign].token)
        else {
            continue;
        };
        if let Some(name) = (w.quote_style.is_none())
            .then(|| user_variable(&w.value))
            .flatten()
        {
            assignments.push(Assignment {
                column,
                name,
                variable: *variable,
                value: *value,
            });
        }
    }
    assignments
}

/// `@name` lower-cased, when `word` names a user variable by a plain name (one the proxy
/// can write back unquoted in `SET @name = …`).
fn user_variable(word: &str) -> Option<String> {
    let name = word.strip_prefix('@')?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.');
    (!name.is_empty() && name.chars().all(plain)).then(|| word.to_ascii_lowercase())
}

/// Whether the statement's only assignments are `assignments`, it reads none of their
/// variables (nor any variable it names in quotes, which the tokens do not tell apart), and it
/// has no window function.
fn assigns_nothing_else(tokens: &[TokenWithSpan], assignments: &[Assignment]) -> bool {
    let count = tokens
        .iter()
        .filter(|t| matches!(t.token, Token::Assignment))
        .count();
    if count != assignments.len() {
        return false;
    }
    tokens.iter().enumerate().all(|(i, t)| match &t.token {
        Token::Word(w) if w.value.starts_with('@') && !w.value.starts_with("@@") => {
            let name = w.value.to_ascii_lowercase();
            w.quote_style.is_none()
                && name.len() > 1
                && (assignments.iter().any(|a| a.variable == i)
                    || !assignments.iter().any(|a| a.name == name))
        }
        Token::AtSign => false,
        // A window function: its rows are evaluated in a pass of their own.
        Token::Word(w) => !(w.quote_style.is_none() && w.value.eq_ignore_ascii_case("over")),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> Option<AssigningSelect> {
        let syntax = Syntax::default();
        let stmt = crate::lex::parse_verbatim(sql, syntax)?
            .into_iter()
            .next()?;
        request(sql, syntax, &stmt)
    }

    #[test]
    fn the_assignments_are_cut_from_the_select_list() {
        let r = of("SELECT id, @m := MAX(amount), @C:=count(*) AS n FROM orders").unwrap();
        assert_eq!(
            r.select,
            "SELECT id, MAX(amount), count(*) AS n FROM orders"
        );
        assert_eq!(r.assigned, [(1, "@m".to_owned()), (2, "@c".to_owned())]);
        assert_eq!(r.limit, None);
        assert!(r.evaluates_answered_rows_only);
    }

    #[test]
    fn columns_count_items_after_modifiers_and_nested_commas() {
        let r = of(
            "SELECT STRAIGHT_JOIN CONCAT(a, b), @x := a / 2 FROM t JOIN u ON t.id = u.id LIMIT 3",
        )
        .unwrap();
        assert_eq!(r.assigned, [(1, "@x".to_owned())]);
        assert_eq!(r.limit, Some(3));
        assert!(!r.evaluates_answered_rows_only);
    }

    #[test]
    fn a_quoted_name_is_the_variable_it_names() {
        let r = of("SELECT @'A' := id FROM users WHERE @a IS NULL OR 1");
        assert_eq!(r, None, "the variable is read");
        let r = of("SELECT @'A' := id FROM users").unwrap();
        assert_eq!(r.assigned, [(0, "@a".to_owned())]);
    }

    #[test]
    fn a_with_clause_keeps_its_own_text() {
        let r = of("WITH c AS (SELECT 1 AS x) SELECT @v := x FROM c").unwrap();
        assert_eq!(r.select, "WITH c AS (SELECT 1 AS x) SELECT x FROM c");
    }

    #[test]
    fn shapes_whose_order_of_evaluation_matters_are_refused() {
        for sql in [
            // The variable read in the statement: each row's value depends on the one before.
            "SELECT @r := @r + 1, id FROM users",
            "SELECT @r := id FROM users WHERE id > @R",
            // Assignments elsewhere than a whole item of the outer select list.
            "SELECT 1 + (@r := id) FROM users",
            "SELECT @a := @b := id FROM users",
            "SELECT id FROM users WHERE (@a := id) > 3",
            "SELECT @a := id FROM (SELECT @b := id AS id FROM users) d",
            // MariaDB may evaluate rows it does not answer.
            "SELECT @a := COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1",
            "SELECT @a := COUNT(*) FROM users GROUP BY name WITH ROLLUP",
            "SELECT @a := id FROM users LIMIT 2, 1",
            "SELECT @a := id FROM users LIMIT 1 OFFSET 2",
            "SELECT @a := ROW_NUMBER() OVER w FROM users WINDOW w AS (ORDER BY id)",
            "SELECT SQL_CALC_FOUND_ROWS @a := id FROM users",
            // Answered through a temporary table, whose column origins the description lacks.
            "SELECT DISTINCT @a := flag FROM users",
            "SELECT SQL_BUFFER_RESULT @a := flag FROM users",
            "SELECT @a := u.id FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.amount",
            "SELECT @a := COUNT(*) FROM users GROUP BY flag ORDER BY 1",
            // Not plainly a list of columns, or not a single SELECT.
            "SELECT *, @a := id FROM users",
            "SELECT @a := id FROM users UNION SELECT 1",
            "SELECT @a := id FROM users FOR UPDATE",
            "SELECT @`a b` := id FROM users",
            "SELECT id INTO @a FROM users",
            "SELECT id FROM users",
        ] {
            assert_eq!(of(sql), None, "{sql}");
        }
    }
}
