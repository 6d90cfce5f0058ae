//! A SELECT whose select list assigns user variables (`SELECT @m := MAX(amount) FROM
//! orders`) and that no one shard answers: each shard would assign its own value. The proxy
//! runs the SELECT without the assignments (`SELECT MAX(amount) FROM orders`, planned as any
//! SELECT, `server/src/assigning_select.rs`), answers its rows under the columns MariaDB
//! describes for the statement as written (an assignment has its own type: a DATETIME
//! assigned is a VARCHAR), and gives each variable its column's value in the last row.
//!
//! MariaDB assigns as it evaluates the select list, row by row, as it sends them. The proxy
//! assigns only when that order is known or cannot matter: every row holds the same values in
//! the assigned columns (one row, say: a scalar aggregate), or the statement reads one table
//! plainly ordered by all of its primary key (`ordered`: then MariaDB evaluates the rows in
//! the answer's order, and the last row is the one it assigns last); and every row MariaDB
//! evaluates is one it answers. So the variables must not be read in the statement, no other
//! assignment may stand anywhere in it, and a statement whose rows MariaDB may evaluate
//! beyond those it answers (past a LIMIT reached, groups HAVING filters out, window
//! functions, `WITH ROLLUP`, an OFFSET) is refused, unless it reads one table plainly. The
//! one read allowed is a running count in that known order, `@r := @r + 1` (`Assigned::step`):
//! the proxy numbers the rows itself from the variable's value before the statement.

use sqlparser::ast::{
    Expr, GroupByExpr, Ident, LimitClause, OrderByKind, Query, Select, SelectItem, SetExpr,
    Statement, TableFactor, Value, ValueWithSpan,
};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::rewrite::Offsets;
use crate::select_list::SelectList;
use shardgate_config::Topology;

use crate::Syntax;

/// A SELECT assigning user variables in its select list, run as its SELECT first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssigningSelect {
    /// The statement as written, whose result columns MariaDB describes.
    pub statement: String,
    /// The statement without its assignments (`@m := MAX(x)` is `MAX(x)`).
    pub select: String,
    /// The assigned columns.
    pub assigned: Vec<Assigned>,
    /// The statement's own `LIMIT` row count, if it has one.
    pub limit: Option<u64>,
    /// MariaDB evaluates the select list only for rows it answers (one table read plainly:
    /// no join, derived table, grouping or DISTINCT), so a `LIMIT` reached cuts no evaluation.
    pub evaluates_answered_rows_only: bool,
    /// MariaDB evaluates the rows in the answer's order: one table read plainly, ordered by
    /// every column of its primary key (by the schema cache), so no two rows tie.
    pub ordered: bool,
}

/// One assigned column of the select list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// Its position among the select list's items.
    pub column: usize,
    /// The variable, lower-cased with its `@`.
    pub name: String,
    /// `@v := @v + step` (or `- step`): a running count, numbered by the proxy row by row in
    /// the answer's order from the variable's value before the statement.
    pub step: Option<i64>,
}

impl AssigningSelect {
    /// The variables, as the statement names them.
    pub fn vars(&self) -> Vec<&str> {
        self.assigned.iter().map(|a| a.name.as_str()).collect()
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
pub(crate) fn request(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
) -> Option<AssigningSelect> {
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
    let ordered = evaluates_answered_rows_only
        && ordered_by_primary_key(query, select, topology).unwrap_or(false);
    // A count and another assignment of its variable: which one stays is the list's order.
    let counted = |a: &Assignment| a.counter.is_some();
    if assignments
        .iter()
        .filter(|a| counted(a))
        .any(|c| (assignments.iter()).any(|a| a.name == c.name && a.variable != c.variable))
    {
        return None;
    }
    let mut offsets = Offsets::new(sql);
    let mut edits = Vec::with_capacity(assignments.len());
    let mut assigned = Vec::with_capacity(assignments.len());
    for a in &assignments {
        let start = offsets.at(tokens[a.variable].span.start)?;
        match a.counter {
            // The count is the proxy's: the shards send a placeholder column.
            Some(counter) if ordered => {
                let end = offsets.at(tokens[counter.end].span.end)?;
                edits.push((start..end, "0".to_owned()));
            }
            Some(_) => return None,
            None => {
                let end = offsets.at(tokens[a.value].span.start)?;
                edits.push((start..end, String::new()));
            }
        }
        assigned.push(Assigned {
            column: a.column,
            name: a.name.clone(),
            step: a.counter.map(|c| c.step),
        });
    }
    Some(AssigningSelect {
        statement: sql.to_owned(),
        select: crate::rewrite::spliced(sql, edits)?,
        assigned,
        limit,
        evaluates_answered_rows_only,
        ordered,
    })
}

/// Whether `select` (one table) is ordered by every column of its table's primary key, by
/// plain column names that are no select-list alias: no two of its rows tie. `Err(table)`:
/// the schema cache lacks the columns of the table, a sharded or reference one.
fn ordered_by_primary_key(
    query: &Query,
    select: &Select,
    topology: &Topology,
) -> Result<bool, String> {
    let (Some(order_by), [from]) = (&query.order_by, select.from.as_slice()) else {
        return Ok(false);
    };
    let TableFactor::Table { name, alias, .. } = &from.relation else {
        return Ok(false);
    };
    let Some(table) = crate::shard_key::base_name(name) else {
        return Ok(false);
    };
    let schema = topology.schema.current();
    let Some(columns) = schema.agreed(&table) else {
        let known = topology.table(&table).is_some() || topology.is_reference(&table);
        return match known && schema.disagreement(&table).is_none() {
            true => Err(table),
            false => Ok(false),
        };
    };
    let OrderByKind::Expressions(exprs) = &order_by.kind else {
        return Ok(false);
    };
    let aliases: Vec<&Ident> = (select.projection.iter())
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias),
            _ => None,
        })
        .collect();
    let qualifier_is_table = |q: &Ident| match alias {
        Some(alias) => alias.name.value.eq_ignore_ascii_case(&q.value),
        None => q.value.eq_ignore_ascii_case(&table),
    };
    let mut named: Vec<String> = Vec::new();
    for o in exprs {
        let column = match &o.expr {
            Expr::Identifier(id) => {
                if aliases
                    .iter()
                    .any(|a| a.value.eq_ignore_ascii_case(&id.value))
                {
                    return Ok(false);
                }
                id
            }
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, c] if qualifier_is_table(q) => c,
                _ => return Ok(false),
            },
            _ => continue,
        };
        named.push(column.value.to_ascii_lowercase());
    }
    let mut key = columns.primary_key().peekable();
    Ok(key.peek().is_some() && key.all(|k| named.contains(&k.to_ascii_lowercase())))
}

/// The table whose columns would tell whether `stmt` (one table read plainly, ordered) is
/// ordered by its primary key, when the schema cache lacks them.
fn columns_needed(stmt: &Statement, topology: &Topology) -> Option<String> {
    let Statement::Query(query) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    ordered_by_primary_key(query, select, topology).err()
}

/// The request for `sql`, planned as `planned`, when it assigns user variables in its select
/// list and does not run on one shard whole (where the shard assigns them, read back as any
/// statement's): a plan over several shards, or a refusal the text without its assignments
/// may not meet. A plan that needs the schema first gets it first.
pub(crate) fn across_shards(
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
    planned: &Result<crate::Plan, crate::RouteError>,
) -> Option<Result<AssigningSelect, crate::RouteError>> {
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
        // Whether its order is known needs the table's columns (a count is refused without).
        [stmt] => match columns_needed(stmt, topology) {
            Some(table) => Some(Err(RouteError::SchemaNeeded {
                tables: vec![table],
            })),
            None => request(sql, syntax, stmt, topology).map(Ok),
        },
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
    /// The value is `@v + n` / `@v - n` of the same variable.
    counter: Option<Counter>,
}

/// `@v := @v + step`: the read of the variable and the last token.
#[derive(Clone, Copy)]
struct Counter {
    read: usize,
    end: usize,
    step: i64,
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
            let counter = counter(tokens, &item[2..], &name);
            assignments.push(Assignment {
                column,
                name,
                variable: *variable,
                value: *value,
                counter,
            });
        }
    }
    assignments
}

/// A value `@name + n` / `@name - n` (`value`: its tokens' positions, an integer `n`, then
/// perhaps the item's alias).
fn counter(tokens: &[TokenWithSpan], value: &[usize], name: &str) -> Option<Counter> {
    let [read, sign, number, alias @ ..] = value else {
        return None;
    };
    let word = |i: &usize| {
        matches!(
            tokens[*i].token,
            Token::Word(_) | Token::SingleQuotedString(_)
        )
    };
    let aliased = match alias {
        [] => true,
        [a] => word(a),
        [keyword, a] => {
            matches!(&tokens[*keyword].token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("as"))
                && word(a)
        }
        _ => false,
    };
    if !aliased {
        return None;
    }
    let (Token::Word(w), Token::Number(n, false)) = (&tokens[*read].token, &tokens[*number].token)
    else {
        return None;
    };
    if w.quote_style.is_some() || user_variable(&w.value).as_deref() != Some(name) {
        return None;
    }
    let n: i64 = n.parse().ok()?;
    let step = match tokens[*sign].token {
        Token::Plus => n,
        Token::Minus => n.checked_neg()?,
        _ => return None,
    };
    Some(Counter {
        read: *read,
        end: *number,
        step,
    })
}

/// `@name` lower-cased, when `word` names a user variable by a plain name (one the proxy
/// can write back unquoted in `SET @name = …`).
fn user_variable(word: &str) -> Option<String> {
    let name = word.strip_prefix('@')?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.');
    (!name.is_empty() && name.chars().all(plain)).then(|| word.to_ascii_lowercase())
}

/// Whether the statement's only assignments are `assignments`, it reads none of their
/// variables but a counter its own (nor any variable it names in quotes, which the tokens do
/// not tell apart), and it has no window function.
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
                && (assignments
                    .iter()
                    .any(|a| a.variable == i || a.counter.is_some_and(|c| c.read == i))
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

    /// `users (id PRIMARY KEY, name, flag)` in the schema cache.
    fn topology() -> Topology {
        let t = crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n",
        );
        crate::test_topology::with_columns(
            t,
            "users",
            &[
                ("id", "bigint(20)", None),
                ("name", "varchar(20)", None),
                ("flag", "int(11)", None),
            ],
        )
    }

    fn of(sql: &str) -> Option<AssigningSelect> {
        let syntax = Syntax::default();
        let stmt = crate::lex::parse_verbatim(sql, syntax)?
            .into_iter()
            .next()?;
        request(sql, syntax, &stmt, &topology())
    }

    fn assigned(r: &AssigningSelect) -> Vec<(usize, &str, Option<i64>)> {
        (r.assigned.iter())
            .map(|a| (a.column, a.name.as_str(), a.step))
            .collect()
    }

    #[test]
    fn the_assignments_are_cut_from_the_select_list() {
        let r = of("SELECT id, @m := MAX(amount), @C:=count(*) AS n FROM orders").unwrap();
        assert_eq!(
            r.select,
            "SELECT id, MAX(amount), count(*) AS n FROM orders"
        );
        assert_eq!(assigned(&r), [(1, "@m", None), (2, "@c", None)]);
        assert_eq!(r.limit, None);
        assert!(r.evaluates_answered_rows_only);
    }

    #[test]
    fn columns_count_items_after_modifiers_and_nested_commas() {
        let r = of(
            "SELECT STRAIGHT_JOIN CONCAT(a, b), @x := a / 2 FROM t JOIN u ON t.id = u.id LIMIT 3",
        )
        .unwrap();
        assert_eq!(assigned(&r), [(1, "@x", None)]);
        assert_eq!(r.limit, Some(3));
        assert!(!r.evaluates_answered_rows_only);
    }

    #[test]
    fn a_quoted_name_is_the_variable_it_names() {
        let r = of("SELECT @'A' := id FROM users WHERE @a IS NULL OR 1");
        assert_eq!(r, None, "the variable is read");
        let r = of("SELECT @'A' := id FROM users").unwrap();
        assert_eq!(assigned(&r), [(0, "@a", None)]);
    }

    #[test]
    fn a_with_clause_keeps_its_own_text() {
        let r = of("WITH c AS (SELECT 1 AS x) SELECT @v := x FROM c").unwrap();
        assert_eq!(r.select, "WITH c AS (SELECT 1 AS x) SELECT x FROM c");
    }

    /// Ordered by the whole primary key of one table read plainly: the rows are evaluated in
    /// the answer's order, and a running count is the proxy's.
    #[test]
    fn a_total_order_numbers_the_rows_in_the_answer_s_order() {
        let r = of("SELECT @r := @r + 1 AS n, id, @last := name FROM users WHERE flag > 0 ORDER BY users.id DESC LIMIT 5").unwrap();
        assert!(r.ordered);
        assert_eq!(
            r.select,
            "SELECT 0 AS n, id, name FROM users WHERE flag > 0 ORDER BY users.id DESC LIMIT 5"
        );
        assert_eq!(assigned(&r), [(0, "@r", Some(1)), (2, "@last", None)]);
        let r = of("SELECT @R := @r - 3 FROM users u ORDER BY flag, u.id").unwrap();
        assert_eq!(
            (r.select.as_str(), r.ordered),
            ("SELECT 0 FROM users u ORDER BY flag, u.id", true)
        );
        assert_eq!(assigned(&r), [(0, "@r", Some(-3))]);
        // Not ordered by the key: plain assignments only (all rows alike, checked as they come).
        for sql in [
            "SELECT @v := name FROM users ORDER BY name",
            "SELECT @v := name FROM users",
            "SELECT @v := name, id AS flag FROM users ORDER BY flag",
            "SELECT @v := name FROM users o ORDER BY users.id",
            "SELECT @v := name FROM orders ORDER BY id",
        ] {
            assert!(!of(sql).unwrap().ordered, "{sql}");
        }
        // Named by an alias the order cannot be read: `id` is the count.
        assert_eq!(of("SELECT @r := @r + 1 AS id FROM users ORDER BY id"), None);
    }

    #[test]
    fn shapes_whose_order_of_evaluation_matters_are_refused() {
        for sql in [
            // The variable read in the statement: each row's value depends on the one before.
            "SELECT @r := @r + 1, id FROM users",
            "SELECT @r := @r + 1, id FROM users ORDER BY name",
            "SELECT @r := @r * 2, id FROM users ORDER BY id",
            "SELECT @r := @r + 1, id FROM users WHERE @r < 3 ORDER BY id",
            "SELECT @r := @s + 1, @s := id FROM users ORDER BY id",
            "SELECT @r := @r + 1, @r := id FROM users ORDER BY id",
            "SELECT @r := @r + 1, id FROM users GROUP BY id ORDER BY id",
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
