//! `LAST_INSERT_ID()` answered from the session: through a pool, the backend connection a
//! statement runs on is not the one that ran the session's last INSERT.

use std::ops::ControlFlow;

use sqlparser::ast::{visit_expressions_mut, Expr, FunctionArguments, Value};

/// `sql` with every argument-less `LAST_INSERT_ID()` replaced by `value`, or `None` when it
/// has none (or does not parse).
pub fn substitute_last_insert_id(sql: &str, value: u64) -> Option<String> {
    // Most statements: a scan of the text, no parse.
    crate::text::find_ignore_case(sql, "last_insert_id")?;
    let mut statements = crate::rewrite::parse_verbatim(sql)?;
    let mut replaced = false;
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::Function(f) = e {
            let no_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(list) => list.args.is_empty(),
                FunctionArguments::Subquery(_) => false,
            };
            if no_args && f.name.to_string().eq_ignore_ascii_case("last_insert_id") {
                *e = Expr::value(Value::Number(value.to_string(), false));
                replaced = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    replaced.then(|| {
        statements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_argument_less_form() {
        assert_eq!(
            substitute_last_insert_id("SELECT LAST_INSERT_ID()", 42).as_deref(),
            Some("SELECT 42")
        );
        assert_eq!(
            substitute_last_insert_id("SELECT * FROM orders WHERE id = last_insert_id()", 7)
                .as_deref(),
            Some("SELECT * FROM orders WHERE id = 7")
        );
        assert_eq!(
            substitute_last_insert_id("SELECT LAST_INSERT_ID(5)", 42),
            None
        );
        assert_eq!(substitute_last_insert_id("SELECT 1", 42), None);
        assert_eq!(
            substitute_last_insert_id("SELECT 'last_insert_id'", 42),
            None
        );
    }
}
