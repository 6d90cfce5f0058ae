//! The conditions every row of a block's answer holds for the tables of it that are present
//! (not NULL-extended): the WHERE's conjuncts, and those of its inner joins' ON clauses —
//! `FROM orders o JOIN lineitem l ON l.l_orderkey = o.o_orderkey AND l.l_shipdate > …` keeps
//! only rows for which `l_shipdate > …` holds, as a WHERE would, whatever outer join follows
//! (an outer join after it adds rows whose tables before it are all NULL-extended, or
//! NULL-extends its own). An outer join's ON clause is none of them: its preserved side's rows
//! come whether it holds or not.

use sqlparser::ast::{BinaryOperator, Expr, JoinConstraint, JoinOperator, Select};

use crate::colocated::strip_nested;
use crate::prune::chain;

/// The top-level conjuncts of `select`'s WHERE and of its (top-level) inner joins' ON
/// clauses.
pub(crate) fn row_conditions(select: &Select) -> Vec<&Expr> {
    let mut conditions: Vec<&Expr> = Vec::new();
    if let Some(selection) = &select.selection {
        conditions.extend(chain(selection, &BinaryOperator::And));
    }
    for join in select.from.iter().flat_map(|from| &from.joins) {
        if let JoinOperator::Join(JoinConstraint::On(on))
        | JoinOperator::Inner(JoinConstraint::On(on))
        | JoinOperator::StraightJoin(JoinConstraint::On(on)) = &join.join_operator
        {
            conditions.extend(chain(on, &BinaryOperator::And));
        }
    }
    conditions
}

/// `part` as an equality's two sides, without their parentheses.
pub(crate) fn equality(part: &Expr) -> Option<(&Expr, &Expr)> {
    match strip_nested(part) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => Some((strip_nested(left), strip_nested(right))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::ast::{SetExpr, Statement};

    fn conditions(sql: &str) -> Vec<String> {
        let statements = crate::lex::parse_verbatim(sql, crate::Syntax::DEFAULT).unwrap();
        let Statement::Query(query) = &statements[0] else {
            panic!()
        };
        let SetExpr::Select(select) = query.body.as_ref() else {
            panic!()
        };
        super::row_conditions(select)
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn inner_joins_on_clauses_count_outer_joins_do_not() {
        assert_eq!(
            conditions("SELECT 1 FROM a JOIN b ON b.x = a.x AND b.y > 1 LEFT JOIN c ON c.z = b.z AND a.q = 2 INNER JOIN d ON (d.k = 1) WHERE a.w = 3"),
            ["a.w = 3", "b.x = a.x", "b.y > 1", "d.k = 1"]
        );
        assert!(conditions("SELECT 1 FROM a RIGHT JOIN b ON b.x = a.x").is_empty());
    }
}
