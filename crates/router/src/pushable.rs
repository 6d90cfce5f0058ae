//! Expressions a server may evaluate on a table's rows alone, wherever they are: what the
//! proxy may move into a copy's SELECT, a join side's statement or a derived table — the same
//! value for a row on any server holding it, in any order of evaluation.

use sqlparser::ast::{
    BinaryOperator, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
    Value,
};

/// Functions whose value is their arguments' alone: no clock, randomness, session counter,
/// state or side effect, and no argument a table's rows could not hold (their arguments
/// must be pushable themselves). Session settings they read (character sets, collations,
/// `div_precision_increment`) are the client's on every connection the proxy uses.
const ROW_FUNCTIONS: &[&str] = &[
    "abs",
    "ascii",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "coalesce",
    "concat",
    "concat_ws",
    "date",
    "datediff",
    "day",
    "dayofmonth",
    "floor",
    "greatest",
    "hour",
    "if",
    "ifnull",
    "instr",
    "lcase",
    "least",
    "left",
    "length",
    "locate",
    "lower",
    "lpad",
    "ltrim",
    "mid",
    "minute",
    "mod",
    "month",
    "nullif",
    "octet_length",
    "quarter",
    "replace",
    "reverse",
    "right",
    "round",
    "rpad",
    "rtrim",
    "second",
    "sign",
    "substr",
    "substring",
    "to_days",
    "trim",
    "truncate",
    "ucase",
    "upper",
    "year",
];

/// Whether `expr` may be evaluated on a table's rows alone: its columns (`column` says which
/// are the table's), literals, deterministic operators, `CASE` and calls of the functions
/// `ROW_FUNCTIONS` lists, nothing else (no other functions, variables, subqueries,
/// parameters, collations or introducers).
pub(crate) fn pushable(expr: &Expr, column: &dyn Fn(&Expr) -> bool) -> bool {
    let mut has_column = false;
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                if !column(e) {
                    return false;
                }
                has_column = true;
            }
            Expr::Value(v) => {
                if !matches!(
                    v.value,
                    Value::Number(..) | Value::SingleQuotedString(_) | Value::Null
                ) {
                    return false;
                }
            }
            Expr::BinaryOp { left, op, right } => {
                if !matches!(
                    op,
                    BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::Lt
                        | BinaryOperator::LtEq
                        | BinaryOperator::Gt
                        | BinaryOperator::GtEq
                        | BinaryOperator::Spaceship
                        | BinaryOperator::And
                        | BinaryOperator::Or
                        | BinaryOperator::Plus
                        | BinaryOperator::Minus
                        | BinaryOperator::Multiply
                ) {
                    return false;
                }
                stack.push(left);
                stack.push(right);
            }
            Expr::UnaryOp { op, expr } => {
                if !matches!(op, UnaryOperator::Not | UnaryOperator::Minus) {
                    return false;
                }
                stack.push(expr);
            }
            Expr::Nested(inner) | Expr::IsNull(inner) | Expr::IsNotNull(inner) => stack.push(inner),
            // `DATE '1995-03-15'`, `INTERVAL '3' MONTH`: constants.
            Expr::TypedString(_) => {}
            Expr::Interval(interval) => stack.push(&interval.value),
            Expr::InList { expr, list, .. } => {
                stack.push(expr);
                stack.extend(list.iter());
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                stack.push(expr);
                stack.push(low);
                stack.push(high);
            }
            Expr::Function(function) => match row_function_arguments(function) {
                Some(arguments) => stack.extend(arguments),
                None => return false,
            },
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                stack.push(expr);
                stack.extend(substring_from.as_deref());
                stack.extend(substring_for.as_deref());
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                stack.extend(operand.as_deref());
                for when in conditions {
                    stack.push(&when.condition);
                    stack.push(&when.result);
                }
                stack.extend(else_result.as_deref());
            }
            Expr::Like {
                expr,
                pattern,
                escape_char: None,
                any: false,
                ..
            } => {
                stack.push(expr);
                stack.push(pattern);
            }
            _ => return false,
        }
    }
    has_column
}

/// The arguments of a plain call of one of `ROW_FUNCTIONS` (unqualified, positional, no
/// `DISTINCT`, clauses, `OVER` or `FILTER`); `None` for any other call.
fn row_function_arguments(function: &Function) -> Option<Vec<&Expr>> {
    let [name] = function.name.0.as_slice() else {
        return None;
    };
    let name = name.as_ident()?;
    let known = ROW_FUNCTIONS
        .iter()
        .any(|f| name.quote_style.is_none() && name.value.eq_ignore_ascii_case(f));
    let plain = known
        && !function.uses_odbc_syntax
        && matches!(function.parameters, FunctionArguments::None)
        && function.filter.is_none()
        && function.null_treatment.is_none()
        && function.over.is_none()
        && function.within_group.is_empty();
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    if !plain || list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    (list.args.iter())
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(sql: &str) -> Expr {
        let stmt = crate::lex::parse(
            &format!("SELECT 1 FROM t WHERE {sql}"),
            crate::Syntax::default(),
        )
        .unwrap()
        .remove(0);
        let sqlparser::ast::Statement::Query(q) = stmt else {
            panic!()
        };
        let sqlparser::ast::SetExpr::Select(select) = *q.body else {
            panic!()
        };
        select.selection.unwrap()
    }

    fn on_row(sql: &str) -> bool {
        let own = |e: &Expr| match e {
            Expr::Identifier(id) => {
                ["a", "b", "phone", "name", "score"].contains(&id.value.as_str())
            }
            _ => false,
        };
        pushable(&expr(sql), &own)
    }

    #[test]
    fn deterministic_functions_of_the_rows_columns_are_pushable() {
        assert!(on_row("SUBSTRING(phone FROM 1 FOR 2) IN ('13', '31')"));
        assert!(on_row("substr(phone, 1, 2) = '13'"));
        assert!(on_row("UPPER(name) LIKE 'A%' AND COALESCE(score, 0) > 1"));
        assert!(on_row("CASE WHEN a > 1 THEN b ELSE 0 END = 2"));
        assert!(on_row("IF(a > 1, LEFT(b, 2), 'x') = 'ab'"));
    }

    #[test]
    fn other_calls_and_foreign_columns_are_not() {
        assert!(!on_row("RAND() < a"));
        assert!(!on_row("NOW() > a"));
        assert!(!on_row("UPPER(other) = 'A'"));
        assert!(!on_row("`upper`(a) = 'A'"));
        assert!(!on_row("GROUP_CONCAT(DISTINCT a) = 'x'"));
        assert!(!on_row("COALESCE(a, @v) = 1"));
        assert!(!on_row("LENGTH(a) > (SELECT 1)"));
        assert!(!on_row("UPPER('a') = 'A'"));
    }
}
