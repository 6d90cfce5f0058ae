//! Copies narrowed by the rows of derived tables (`derived_rows.rs`): in a statement over a
//! derived table's rows, a sharded table joined to it by an equality of their columns
//! (`… FROM big JOIN users u ON u.id = big.user_id`) needs only its rows whose column holds
//! one of the derived table's values. Once the proxy has read the derived rows, the table's
//! copy reads only those (`WHERE id IN (…)`), and when the column is its shard key, only the
//! shards owning them — a grouped or limited subquery joined back to a large table copies a
//! few of its rows, not all of them (a semi-join reduction).
//!
//! Planned here: which copy, by which column, from which derived table's column. A condition
//! qualifies when every row the statement reads must satisfy it: a top-level conjunct of the
//! WHERE clause, or of the ON condition of an inner join in the top-level FROM list (a row of
//! either side that satisfies it with no derived row joins no row) — never an outer join's
//! ON, which keeps its preserved side's rows. The table must be named once in the statement
//! (another reference may need other rows). Whether both columns are integers — the only
//! equality the narrowing reproduces exactly — is checked when the statement runs
//! (`server/src/materialize.rs`).

use sqlparser::ast::{
    BinaryOperator, Expr, JoinConstraint, JoinOperator, ObjectNamePart, Query, SetExpr, TableFactor,
};

use crate::colocated::strip_nested;
use crate::derived_rows::DerivedRows;
use crate::materialize::TableCopy;
use crate::shard_key::{base_name, conjuncts};

/// A copy narrowed to the values of a derived table's column.
#[derive(Debug, Clone, PartialEq)]
pub struct Narrowing {
    /// The copy (an index into `OverDerived::copies`).
    pub copy: usize,
    /// The copied table's column, as written.
    pub column: String,
    /// The derived table (an index into `OverDerived::derived`).
    pub derived: usize,
    /// The derived table's column, as written.
    pub derived_column: String,
}

/// The narrowings of `copies` by `derived` in `query` (the statement over derived rows).
pub(crate) fn narrowings(
    query: &Query,
    derived: &[DerivedRows],
    copies: &[TableCopy],
    named: impl Fn(&str) -> usize,
) -> Vec<Narrowing> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Vec::new();
    };
    // Who each qualifier in the FROM list is: a copy or a derived table.
    let mut qualifiers: Vec<(String, Side)> = Vec::new();
    let mut conditions: Vec<&Expr> = Vec::new();
    for from in &select.from {
        let joined = from
            .joins
            .iter()
            .map(|j| (&j.relation, Some(&j.join_operator)));
        for (factor, operator) in std::iter::once((&from.relation, None)).chain(joined) {
            if let Some(q) = qualifier(factor, derived, copies) {
                qualifiers.push(q);
            }
            let on = match operator {
                Some(JoinOperator::Inner(JoinConstraint::On(on)))
                | Some(JoinOperator::Join(JoinConstraint::On(on))) => Some(on),
                _ => None,
            };
            if let Some(on) = on {
                conjuncts(on, &mut conditions);
            }
        }
    }
    if let Some(selection) = &select.selection {
        conjuncts(selection, &mut conditions);
    }
    let side = |parts: &[sqlparser::ast::Ident]| -> Option<(Side, String)> {
        let [qualifier, column] = parts else {
            return None;
        };
        let (_, side) = qualifiers.iter().find(|(q, _)| *q == qualifier.value)?;
        Some((*side, column.value.clone()))
    };
    let mut found = Vec::new();
    for condition in conditions {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = condition
        else {
            continue;
        };
        let (Expr::CompoundIdentifier(l), Expr::CompoundIdentifier(r)) =
            (strip_nested(left), strip_nested(right))
        else {
            continue;
        };
        let pair = match (side(l), side(r)) {
            (Some((Side::Copy(c), column)), Some((Side::Derived(d), derived_column)))
            | (Some((Side::Derived(d), derived_column)), Some((Side::Copy(c), column))) => {
                Narrowing {
                    copy: c,
                    column,
                    derived: d,
                    derived_column,
                }
            }
            _ => continue,
        };
        if named(&copies[pair.copy].table) == 1
            && !found.iter().any(|f: &Narrowing| f.copy == pair.copy)
        {
            found.push(pair);
        }
    }
    found
}

/// What a qualifier of the FROM list names.
#[derive(Debug, Clone, Copy)]
enum Side {
    Copy(usize),
    Derived(usize),
}

/// The qualifier `factor` gives its columns and what it names, for a copied table or a
/// derived table's temporary table.
fn qualifier(
    factor: &TableFactor,
    derived: &[DerivedRows],
    copies: &[TableCopy],
) -> Option<(String, Side)> {
    let TableFactor::Table { name, alias, .. } = factor else {
        return None;
    };
    let [.., ObjectNamePart::Identifier(last)] = name.0.as_slice() else {
        return None;
    };
    let by = |written: &str| {
        alias
            .as_ref()
            .map_or(written.to_owned(), |a| a.name.value.clone())
    };
    if let Some(d) = derived
        .iter()
        .position(|d| d.table.get(1..d.table.len() - 1) == Some(last.value.as_str()))
    {
        return Some((by(&derived[d].alias), Side::Derived(d)));
    }
    let base = base_name(name)?;
    let c = copies
        .iter()
        .position(|c| c.table.eq_ignore_ascii_case(&base))?;
    Some((by(&last.value), Side::Copy(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Syntax;

    fn narrowed(sql: &str) -> Vec<(String, String, String, String)> {
        let topology = crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n",
        );
        let stmts = crate::lex::parse_verbatim(sql, Syntax::DEFAULT).unwrap();
        let sqlparser::ast::Statement::Query(q) = &stmts[0] else {
            panic!()
        };
        let (derived, rewritten) =
            crate::derived_rows::take(sql, q, &topology, Syntax::DEFAULT, &mut Vec::new()).unwrap();
        let stmts = crate::lex::parse_verbatim(&rewritten, Syntax::DEFAULT).unwrap();
        let sqlparser::ast::Statement::Query(q) = &stmts[0] else {
            panic!()
        };
        let copies: Vec<TableCopy> = ["users", "orders"]
            .iter()
            .map(|t| TableCopy {
                table: (*t).to_owned(),
                database: None,
                shards: vec![0, 1],
                filter: None,
            })
            .collect();
        let occurrences = crate::materialize::sharded_occurrences(&stmts[0], &topology);
        let names = |t: &str| occurrences.iter().filter(|(o, _)| o == t).count();
        narrowings(q, &derived, &copies, names)
            .into_iter()
            .map(|n| {
                (
                    copies[n.copy].table.clone(),
                    n.column,
                    derived[n.derived].alias.clone(),
                    n.derived_column,
                )
            })
            .collect()
    }

    fn row(
        copy: &str,
        column: &str,
        derived: &str,
        derived_column: &str,
    ) -> (String, String, String, String) {
        (
            copy.into(),
            column.into(),
            derived.into(),
            derived_column.into(),
        )
    }

    #[test]
    fn a_copy_joined_to_derived_rows_by_an_equality_is_narrowed() {
        let grouped = "(SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id)";
        assert_eq!(
            narrowed(&format!(
                "SELECT * FROM {grouped} big JOIN users u ON u.id = big.user_id"
            )),
            [row("users", "id", "big", "user_id")]
        );
        assert_eq!(
            narrowed(&format!(
                "SELECT * FROM users, {grouped} big WHERE u2 = 1 AND (big.n = users.id AND users.name > 'a')"
            )),
            [row("users", "id", "big", "n")]
        );
        // CTE references, under the CTE's name or an alias of their own.
        assert_eq!(
            narrowed(&format!(
                "WITH big AS {grouped} SELECT * FROM big AS b JOIN users u ON b.user_id = u.id"
            )),
            [row("users", "id", "big", "user_id")]
        );
    }

    #[test]
    fn outer_joins_other_conditions_and_tables_named_twice_are_not_narrowed() {
        let grouped = "(SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id)";
        for sql in [
            // The preserved side of an outer join keeps every row.
            format!("SELECT * FROM users u LEFT JOIN {grouped} big ON u.id = big.user_id"),
            // Not an equality, or not a conjunct.
            format!("SELECT * FROM {grouped} big JOIN users u ON u.id > big.user_id"),
            format!("SELECT * FROM {grouped} big, users u WHERE u.id = big.user_id OR u.id = 1"),
            // Another reference to the table.
            format!("SELECT * FROM {grouped} big JOIN users u ON u.id = big.user_id WHERE u.id IN (SELECT id FROM users )"),
            // A column of no table of the FROM list.
            format!("SELECT * FROM {grouped} big JOIN users u ON x.id = big.user_id"),
        ] {
            assert_eq!(narrowed(&sql), [], "{sql}");
        }
    }
}
