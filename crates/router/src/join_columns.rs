//! `JOIN … USING (c)` and `NATURAL JOIN`: the equality of columns they imply, where it is an
//! equality of shard keys (so the join is co-located and every shard answers it for its own
//! rows). Both join on columns of the same name, so two tables whose shard keys share a name
//! are joined on them by `NATURAL` (MariaDB joins on every common name) and by a `USING` that
//! lists it; shard keys of different names are never joined by these forms.

use sqlparser::ast::{BinaryOperator, Expr, Ident, JoinConstraint, ObjectNamePart};

use crate::shard_key::TableRef;

/// `left.key = right.key` when `constraint` joins the two tables' shard keys.
pub(crate) fn implied_key_equality(
    constraint: &JoinConstraint,
    left: &TableRef<'_>,
    right: &TableRef<'_>,
) -> Option<Expr> {
    let key = &right.rule.shard_key;
    if !left.rule.shard_key.eq_ignore_ascii_case(key) {
        return None;
    }
    let joined = match constraint {
        JoinConstraint::Natural => true,
        JoinConstraint::Using(columns) => columns.iter().any(|c| {
            matches!(c.0.as_slice(), [ObjectNamePart::Identifier(id)] if id.value.eq_ignore_ascii_case(key))
        }),
        _ => false,
    };
    joined.then(|| Expr::BinaryOp {
        left: Box::new(qualified(left, key)),
        op: BinaryOperator::Eq,
        right: Box::new(qualified(right, key)),
    })
}

fn qualified(table: &TableRef<'_>, column: &str) -> Expr {
    let qualifier = table.alias.as_deref().unwrap_or(&table.name);
    Expr::CompoundIdentifier(vec![Ident::new(qualifier), Ident::new(column)])
}
