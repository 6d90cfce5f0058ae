//! The tables of a SELECT an outer join NULL-extends, by the name its column definitions give
//! them (alias, else table name): MariaDB declares their columns nullable unless its plan
//! reads the table as a constant one — which a shard sent one value of a cut IN list does
//! where one server reading the whole list does not (`ScatterPlan::null_extended`).

use sqlparser::ast::{Select, TableFactor};

use crate::materialize::factors;

/// The lower-cased names of the tables in `select`'s FROM that an outer join NULL-extends.
pub(crate) fn null_extended(select: &Select) -> Vec<String> {
    let mut out = Vec::new();
    for (factor, preserved) in factors(&select.from) {
        collect(factor, preserved, &mut out);
    }
    out
}

fn collect(factor: &TableFactor, preserved: bool, out: &mut Vec<String>) {
    match factor {
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            for (inner, inner_preserved) in factors(std::slice::from_ref(table_with_joins)) {
                collect(inner, preserved && inner_preserved, out);
            }
        }
        _ if preserved => {}
        TableFactor::Table { name, alias, .. } => {
            let named = alias.as_ref().map(|a| a.name.value.clone()).or_else(|| {
                (name.0.last())
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.clone())
            });
            out.extend(named.map(|n| n.to_ascii_lowercase()));
        }
        TableFactor::Derived {
            alias: Some(alias), ..
        } => out.push(alias.name.value.to_ascii_lowercase()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::{SetExpr, Statement};

    fn extended(sql: &str) -> Vec<String> {
        let stmt = crate::lex::parse(sql, crate::Syntax::default())
            .unwrap()
            .remove(0);
        let Statement::Query(q) = stmt else { panic!() };
        let SetExpr::Select(select) = *q.body else {
            panic!()
        };
        null_extended(&select)
    }

    #[test]
    fn outer_joins_name_the_tables_they_null_extend() {
        assert_eq!(extended("SELECT * FROM u LEFT JOIN f ON f.a = u.a"), ["f"]);
        assert_eq!(
            extended("SELECT * FROM u LEFT JOIN flags AS f ON f.a = u.a"),
            ["f"]
        );
        assert_eq!(
            extended("SELECT * FROM u JOIN o ON o.a = u.a"),
            Vec::<String>::new()
        );
        assert_eq!(extended("SELECT * FROM F RIGHT JOIN u ON u.a = F.a"), ["f"]);
        assert_eq!(
            extended("SELECT * FROM u LEFT JOIN (o JOIN p ON p.a = o.a) ON o.a = u.a"),
            ["o", "p"]
        );
        assert_eq!(
            extended("SELECT * FROM u, app.o LEFT JOIN p ON p.a = o.a"),
            ["p"]
        );
    }
}
