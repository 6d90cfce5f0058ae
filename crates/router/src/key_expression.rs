//! An `INSERT … VALUES` whose shard key is an expression of constants (`UUID()`, `300 - 4`,
//! `@next_id`, `CONCAT('k', @n)`): MariaDB computes it where the row goes, so the proxy must
//! compute it first to know where that is. Each such key runs as `SELECT <expression>` through
//! the proxy (on the session's variables, as a scalar subquery first would), its value is
//! written in its place, and the INSERT is planned again with literal keys
//! ([`SubqueriesFirst`], verb `INSERT`). The row gets the value MariaDB would have computed
//! (a `UUID()` one; a variable the one the session holds).
//!
//! Only expressions that read nothing of the row or of a table: literals, operators, function
//! calls, `CAST`, `CASE`, user and system variables. A column (`VALUES (1, a + 1)` reads the
//! row's `a`), a subquery, an aggregate or a function that reads or sets the session's state
//! of statements (`LAST_INSERT_ID`, `ROW_COUNT`, `FOUND_ROWS`, `VALUES`, sequences) keeps the
//! refusal.

use std::ops::{ControlFlow, Range};

use sqlparser::ast::{
    Expr, FunctionArguments, Insert, SetExpr, Statement, TableObject, Visit, Visitor,
};

use crate::shard_key::{base_name, key_source};
use crate::write_subqueries::{SubqueriesFirst, SubqueryUse, WriteSubquery};
use crate::{RouteError, Syntax};
use shardgate_config::Topology;

/// Functions whose value depends on the statement they run in, or that read tables.
const STATEMENT_FUNCTIONS: &[&str] = &[
    "last_insert_id",
    "row_count",
    "found_rows",
    "values",
    "value",
    "nextval",
    "lastval",
    "setval",
    "default",
];

/// `refusal` (a [`RouteError::KeyExpression`]) of the INSERT `stmt` (text `sql`), or the
/// request to compute its key expressions first when each is one of constants.
pub(crate) fn first(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
    refusal: RouteError,
) -> RouteError {
    if !matches!(refusal, RouteError::KeyExpression { .. }) {
        return refusal;
    }
    match request(sql, syntax, stmt, topology) {
        Some(request) => RouteError::SubqueriesFirst(Box::new(request)),
        None => refusal,
    }
}

fn request(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
) -> Option<SubqueriesFirst> {
    let Statement::Insert(Insert {
        table: TableObject::TableName(target),
        source: Some(source),
        columns,
        replace_into,
        ..
    }) = stmt
    else {
        return None;
    };
    let rule = topology.table(&base_name(target)?)?;
    let position = columns
        .iter()
        .position(|c| base_name(c).is_some_and(|c| c == rule.shard_key))?;
    let SetExpr::Values(values) = source.body.as_ref() else {
        return None;
    };
    let backslash = !syntax
        .sql_mode
        .contains(crate::SqlMode::NO_BACKSLASH_ESCAPES);
    let items = value_rows(sql.as_bytes(), backslash)?;
    if items.len() != values.rows.len() {
        return None;
    }
    let (mut pieces, mut subqueries, mut from) = (Vec::new(), Vec::new(), 0);
    for (row, items) in values.rows.iter().zip(&items) {
        let expr = row.content.get(position)?;
        if key_source(expr, rule.key_type).is_some() {
            continue;
        }
        // A literal the key cannot be (NULL, `-1.5` for an integer key) stays refused: its
        // value would be written in as the same literal again.
        if is_literal(expr) || !of_constants(expr) {
            return None;
        }
        let range = items.get(position)?.clone();
        // The text found must be the expression parsed: read back, it is the same one.
        let select = format!("SELECT {}", sql.get(range.clone())?);
        let same = match crate::lex::parse_verbatim(&select, syntax).as_deref() {
            Some([Statement::Query(q)]) => match q.body.as_ref() {
                SetExpr::Select(s) => {
                    s.projection.len() == 1 && s.projection[0].to_string() == expr.to_string()
                }
                _ => false,
            },
            _ => false,
        };
        if !same || range.start < from {
            return None;
        }
        pieces.push(sql[from..range.start].to_owned());
        subqueries.push(WriteSubquery {
            used: SubqueryUse::Scalar,
            select,
        });
        from = range.end;
    }
    if subqueries.is_empty() {
        return None;
    }
    pieces.push(sql[from..].to_owned());
    Some(SubqueriesFirst {
        verb: if *replace_into { "REPLACE" } else { "INSERT" },
        sql: sql.to_owned(),
        pieces,
        subqueries,
    })
}

/// The byte ranges of the items of each row after the statement's first top-level `VALUES`
/// (or `VALUE`) keyword, read with the lexer's rules for quotes and comments; `None` when the
/// text is not rows there.
fn value_rows(b: &[u8], backslash: bool) -> Option<Vec<Vec<Range<usize>>>> {
    let mut i = 0;
    let mut depth = 0usize;
    // To the keyword.
    loop {
        i = crate::lex::skip_space(b, i);
        let c = *b.get(i)?;
        match c {
            b'(' => depth += 1,
            b')' => depth = depth.checked_sub(1)?,
            b'\'' | b'"' | b'`' => {
                i = crate::lex::quoted_end(b, i, c, backslash);
                continue;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while b.get(i).is_some_and(|&c| {
                    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
                }) {
                    i += 1;
                }
                let word = &b[start..i];
                if depth == 0
                    && (word.eq_ignore_ascii_case(b"values") || word.eq_ignore_ascii_case(b"value"))
                {
                    break;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    // The rows: `(item, …)` separated by commas.
    let mut rows = Vec::new();
    loop {
        i = crate::lex::skip_space(b, i);
        if b.get(i) != Some(&b'(') {
            break;
        }
        let close = crate::rewrite::closing_paren(b, i, backslash)?;
        let items = crate::lex::top_level_items(b, i + 1..close, backslash);
        rows.push(items);
        i = crate::lex::skip_space(b, close + 1);
        if b.get(i) != Some(&b',') {
            break;
        }
        i += 1;
    }
    Some(rows)
}

/// Whether `expr` is a literal, signed or in parentheses.
fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Nested(e) | Expr::UnaryOp { expr: e, .. } | Expr::Collate { expr: e, .. } => {
            is_literal(e)
        }
        Expr::Value(_) | Expr::Prefixed { .. } | Expr::TypedString { .. } => true,
        _ => false,
    }
}

/// Whether `expr` reads nothing of a row, a table or the statement it runs in.
fn of_constants(expr: &Expr) -> bool {
    struct Reads(bool);
    impl Visitor for Reads {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            let reads = match e {
                // `@v` and `@@v` are variables; any other name is a column.
                Expr::Identifier(id) => !id.value.starts_with('@'),
                Expr::CompoundIdentifier(parts) => {
                    !parts.first().is_some_and(|p| p.value.starts_with('@'))
                }
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => true,
                Expr::Function(f) => {
                    let name = f.name.to_string().to_ascii_lowercase();
                    f.over.is_some()
                        || f.filter.is_some()
                        || STATEMENT_FUNCTIONS.contains(&name.as_str())
                        || crate::aggregate_fn::AggFn::by_name(&name, false).is_some()
                        || name.starts_with("json_") && name.ends_with("agg")
                        || matches!(&f.args, FunctionArguments::Subquery(_))
                }
                Expr::Value(v) => matches!(v.value, sqlparser::ast::Value::Placeholder(_)),
                _ => false,
            };
            if reads {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut reads = Reads(false);
    let _ = expr.visit(&mut reads);
    !reads.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(sql: &str) -> Vec<Vec<&str>> {
        value_rows(sql.as_bytes(), true)
            .expect("rows")
            .into_iter()
            .map(|row| row.into_iter().map(|r| &sql[r]).collect())
            .collect()
    }

    #[test]
    fn rows_are_read_past_quotes_comments_and_nested_parentheses() {
        assert_eq!(
            items("INSERT INTO t (a, `values`) VALUES (CAST('7' AS SIGNED), 'x, )'), ( 2 , /* ) */ f(1, 2) )"),
            [vec!["CAST('7' AS SIGNED)", "'x, )'"], vec!["2", "f(1, 2)"]]
        );
        assert_eq!(
            items("INSERT INTO t (a) VALUE (\"a\\\")\" -- x, y\n) ON DUPLICATE KEY UPDATE a = 1"),
            [vec!["\"a\\\")\""]]
        );
    }

    #[test]
    fn constants_are_what_reads_no_row_table_or_statement() {
        let expr = |text: &str| match crate::lex::parse_verbatim(
            &format!("SELECT {text}"),
            Syntax::DEFAULT,
        )
        .as_deref()
        {
            Some([Statement::Query(q)]) => match q.body.as_ref() {
                SetExpr::Select(s) => match &s.projection[0] {
                    sqlparser::ast::SelectItem::UnnamedExpr(e) => e.clone(),
                    other => panic!("{other:?}"),
                },
                _ => panic!(),
            },
            other => panic!("{other:?}"),
        };
        for constant in [
            "UUID()",
            "300 - 4",
            "@id + 1",
            "CONCAT('k', LPAD(@n, 3, '0'))",
            "@@server_id",
        ] {
            assert!(of_constants(&expr(constant)), "{constant}");
        }
        for reads in [
            "name",
            "t.a + 1",
            "(SELECT 1)",
            "LAST_INSERT_ID(5)",
            "COUNT(*)",
            "ROW_COUNT()",
            "NEXTVAL(s)",
            "VALUES(a)",
        ] {
            assert!(!of_constants(&expr(reads)), "{reads}");
        }
    }
}
