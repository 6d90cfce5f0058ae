//! Conditions a disjunction implies for one table: `(n1.n_name = 'FRANCE' AND n2.n_name =
//! 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name = 'FRANCE')` holds only for rows of `n2`
//! with `n2.n_name = 'GERMANY' OR n2.n_name = 'FRANCE'` (TPC-H Q7), which a copy's reads or a
//! reference table's values may use although the disjunction as a whole reads other tables.
//! A row the disjunction keeps makes one of its branches true, so every conjunct of that
//! branch, so the branch's conjuncts of the table's own.

use sqlparser::ast::{BinaryOperator, Expr};

use crate::colocated::strip_nested;
use crate::prune::chain;
use crate::pushable::pushable;

/// What the disjunction `condition` implies for the columns `own` accepts, rendered by
/// `render`: its branches' conjuncts that are row-local expressions of those columns, OR-ed;
/// `None` when it is no disjunction or a branch has none.
pub(crate) fn implied_by_disjunction(
    condition: &Expr,
    own: &dyn Fn(&Expr) -> bool,
    render: &dyn Fn(&Expr) -> String,
) -> Option<String> {
    let branches = chain(strip_nested(condition), &BinaryOperator::Or);
    if branches.len() < 2 {
        return None;
    }
    let mut implied = Vec::new();
    for branch in branches {
        let parts: Vec<String> = chain(strip_nested(branch), &BinaryOperator::And)
            .into_iter()
            .filter(|part| pushable(part, own))
            .map(|part| format!("({})", render(part)))
            .collect();
        if parts.is_empty() {
            return None;
        }
        implied.push(format!("({})", parts.join(" AND ")));
    }
    Some(format!("({})", implied.join(" OR ")))
}

#[cfg(test)]
mod tests {
    use sqlparser::ast::{Expr, Statement};

    fn implied(condition: &str, table: &str) -> Option<String> {
        let sql = format!("SELECT 1 FROM t WHERE {condition}");
        let statements = crate::lex::parse_verbatim(&sql, crate::Syntax::DEFAULT).unwrap();
        let Statement::Query(query) = &statements[0] else {
            panic!()
        };
        let sqlparser::ast::SetExpr::Select(select) = query.body.as_ref() else {
            panic!()
        };
        let own = |e: &Expr| match e {
            Expr::CompoundIdentifier(parts) => parts[0].value == table,
            _ => false,
        };
        super::implied_by_disjunction(select.selection.as_ref().unwrap(), &own, &|e| e.to_string())
    }

    #[test]
    fn each_branch_gives_its_own_conjuncts() {
        assert_eq!(
            implied(
                "(a.x = 1 AND b.y = 2) OR (b.y = 3 AND a.x = 4 AND a.z > 0)",
                "b"
            )
            .as_deref(),
            Some("(((b.y = 2)) OR ((b.y = 3)))")
        );
        assert_eq!(
            implied(
                "(a.x = 1 AND b.y = 2) OR (b.y = 3 AND a.x = 4 AND a.z > 0)",
                "a"
            )
            .as_deref(),
            Some("(((a.x = 1)) OR ((a.x = 4) AND (a.z > 0)))")
        );
        // Three branches, nested parentheses.
        assert_eq!(
            implied("((b.y = 1) OR (a.x = 1 AND b.y = 2)) OR b.y IS NULL", "b").as_deref(),
            Some("(((b.y = 1)) OR ((b.y = 2)) OR ((b.y IS NULL)))")
        );
    }

    #[test]
    fn a_branch_without_one_implies_nothing() {
        assert_eq!(implied("(a.x = 1 AND b.y = 2) OR a.x = 3", "b"), None);
        // A comparison of both tables' columns is neither's own.
        assert_eq!(implied("a.x = b.y OR b.y = 2", "b"), None);
        // No disjunction.
        assert_eq!(implied("a.x = 1 AND b.y = 2", "b"), None);
    }
}
