//! Derived tables of a statement answered from copies (`materialize.rs`) whose subquery has a
//! plan of its own — one shard, or a scatter, merged by the proxy or not: the proxy computes
//! the subquery's rows (as it computes any scatter's) and copies *those* into a temporary
//! table that takes the derived table's place, instead of copying every table the subquery
//! reads. Django's `.count()` of a sliced queryset, `SELECT COUNT(*) FROM (SELECT … ORDER BY
//! … LIMIT 10) subquery`, copies ten rows, not the table; a report grouping a large table
//! copies its groups.
//!
//! Taken only from the top-level SELECT's FROM list (not a set operation's branch), for a
//! subquery that names a sharded table and no CTE (planned alone, a CTE's name would read as
//! a table). The statement with temporary tables in the derived tables' places is the
//! client's text with each `(subquery)` cut out, so its alias and everything else stay as
//! written. It is an alternative the executor may decline (`server/src/derived_rows.rs`):
//! the copies of every table stay in the plan.

use std::ops::ControlFlow;

use shardgate_config::Topology;
use sqlparser::ast::{
    visit_expressions, visit_relations, Expr, GroupByExpr, Query, SetExpr, Spanned, TableFactor,
};

use crate::materialize::{quote, TableCopy};
use crate::rewrite::{closing_paren, Offsets};
use crate::shard_key::base_name;
use crate::{Plan, Route, SqlMode, StatementKind, Syntax};

/// The statement over the rows of its derived tables.
#[derive(Debug, Clone, PartialEq)]
pub struct OverDerived {
    /// The derived tables taken out, in text order.
    pub derived: Vec<DerivedRows>,
    /// The client's statement naming temporary tables in their places.
    pub sql: String,
    /// The copies that statement still needs (sharded tables it names outside them).
    pub copies: Vec<TableCopy>,
}

/// A derived table whose rows the proxy computes and copies into a temporary table.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedRows {
    /// The temporary table's name, quoted (`` `shardgate_derived_0` ``).
    pub table: String,
    /// The derived table's alias, as parsed.
    pub alias: String,
    /// The subquery, as written.
    pub select: String,
    /// The subquery's own plan.
    pub plan: Box<Plan>,
}

impl DerivedRows {
    /// Creates the temporary table with the derived table's columns, typed as MariaDB types a
    /// derived table's (it materializes one the same way), and no row. `LIMIT 0`: the
    /// subquery is not run.
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE TEMPORARY TABLE {} AS SELECT * FROM ({}) AS `d` LIMIT 0",
            self.table, self.select
        )
    }
}

/// The derived tables of `query` (parsed from `sql`) with plans of their own, and `sql` with a
/// temporary table in each one's place; `None` when there is none.
pub(crate) fn take(
    sql: &str,
    query: &Query,
    topology: &Topology,
    syntax: Syntax,
) -> Option<(Vec<DerivedRows>, String)> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let ctes = cte_names(query);
    let backslash = !syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
    let mut offsets = Offsets::new(sql);
    let mut taken = Vec::new();
    let mut pieces = String::new();
    let mut from = 0;
    let factors = select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    for factor in factors {
        let TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            ..
        } = factor
        else {
            continue;
        };
        if !materialized_by_mariadb(subquery)
            || names_any(subquery, &ctes)
            || !names_sharded(subquery, topology)
        {
            continue;
        }
        let Some((open, close)) = (|| {
            let select_start = offsets.at(subquery.span().start)?;
            // Spans do not cover the parentheses around the subquery.
            let open = sql[..select_start].trim_end().strip_suffix('(')?.len();
            Some((open, closing_paren(sql.as_bytes(), open, backslash)?))
        })() else {
            continue;
        };
        if open < from {
            continue;
        }
        let text = sql[open + 1..close].trim();
        let Ok(plan) = crate::plan_sql(text, topology, syntax) else {
            continue;
        };
        if plan.kind != StatementKind::Read
            || !matches!(plan.route, Route::Shard(_) | Route::Scatter(_))
        {
            continue;
        }
        let table = quote(&format!("shardgate_derived_{}", taken.len()));
        pieces.push_str(&sql[from..open]);
        pieces.push_str(&table);
        from = close + 1;
        taken.push(DerivedRows {
            table,
            alias: alias.name.value.clone(),
            select: text.to_owned(),
            plan: Box::new(plan),
        });
    }
    if taken.is_empty() {
        return None;
    }
    pieces.push_str(&sql[from..]);
    Some((taken, pieces))
}

/// Whether MariaDB materializes the derived table `query` rather than merging it into the
/// statement (`derived_merge`): it groups, aggregates, de-duplicates, limits, computes
/// windows, or is a set operation. Only then are the column definitions of the statement
/// over a temporary table in its place those MariaDB describes for the statement; the
/// columns of a merged one are its tables' (and there are no fewer rows to copy).
fn materialized_by_mariadb(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return true;
    };
    let grouped = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => !exprs.is_empty() || !modifiers.is_empty(),
        GroupByExpr::All(_) => true,
    };
    let aggregates = visit_expressions(&select.projection, |e| match e {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(()),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            match AGGREGATES.contains(&name.as_str()) {
                true => ControlFlow::Break(()),
                false => ControlFlow::Continue(()),
            }
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break();
    grouped
        || aggregates
        || select.distinct.is_some()
        || select.having.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
}

/// MariaDB's aggregate functions, by name.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "group_concat",
    "bit_and",
    "bit_or",
    "bit_xor",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "json_arrayagg",
    "json_objectagg",
];

/// The (lower-cased) names every WITH clause of the statement defines.
fn cte_names(query: &Query) -> Vec<String> {
    struct Ctes(Vec<String>);
    impl sqlparser::ast::Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            for cte in query.with.iter().flat_map(|w| &w.cte_tables) {
                self.0.push(cte.alias.name.value.to_lowercase());
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(Vec::new());
    let _ = sqlparser::ast::Visit::visit(query, &mut ctes);
    ctes.0
}

/// Whether `query` reads a table named like one of `names`.
fn names_any(query: &Query, names: &[String]) -> bool {
    !names.is_empty()
        && visit_relations(query, |relation| match base_name(relation) {
            Some(n) if names.contains(&n.to_lowercase()) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
        .is_break()
}

/// Whether `query` reads a sharded (not reference) table.
fn names_sharded(query: &Query, topology: &Topology) -> bool {
    visit_relations(query, |relation| match base_name(relation) {
        Some(t) if topology.table(&t).is_some() => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(sql: &str) -> Option<(Vec<DerivedRows>, String)> {
        let topology = crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n[[tables]]\nname = \"flags\"\nreference = true\n",
        );
        let stmts = crate::lex::parse_verbatim(sql, Syntax::DEFAULT).unwrap();
        let sqlparser::ast::Statement::Query(q) = &stmts[0] else {
            panic!()
        };
        take(sql, q, &topology, Syntax::DEFAULT)
    }

    #[test]
    fn a_derived_table_with_its_own_plan_becomes_a_temporary_table() {
        let (derived, sql) = taken(
            "SELECT COUNT(*) FROM ( SELECT id FROM orders ORDER BY total DESC LIMIT 10 ) AS t",
        )
        .unwrap();
        assert_eq!(sql, "SELECT COUNT(*) FROM `shardgate_derived_0` AS t");
        assert_eq!(derived.len(), 1);
        assert_eq!(derived[0].alias, "t");
        assert_eq!(
            derived[0].create_sql(),
            "CREATE TEMPORARY TABLE `shardgate_derived_0` AS SELECT * FROM (SELECT id FROM orders ORDER BY total DESC LIMIT 10) AS `d` LIMIT 0"
        );
        assert!(matches!(derived[0].plan.route, Route::Scatter(_)));

        // Two of them, one pinned to a shard, a joined table kept, text kept as written.
        let (derived, sql) = taken(
            "select d.n, u.name, 'a\\'b' from (select user_id, count(*) n from orders group by user_id) d join users u on u.id = d.user_id join (SELECT * FROM orders WHERE user_id = 3 LIMIT 2) e ON e.id = d.n",
        )
        .unwrap();
        assert_eq!(derived.len(), 2);
        assert_eq!(
            sql,
            "select d.n, u.name, 'a\\'b' from `shardgate_derived_0` d join users u on u.id = d.user_id join `shardgate_derived_1` e ON e.id = d.n"
        );
        assert!(matches!(derived[1].plan.route, Route::Shard(_)));
        assert_eq!(
            derived[1].select,
            "SELECT * FROM orders WHERE user_id = 3 LIMIT 2"
        );
    }

    #[test]
    fn derived_tables_without_a_plan_of_their_own_stay() {
        for sql in [
            // A join across shards: the copies of its tables.
            "SELECT * FROM (SELECT o.id FROM orders o JOIN users u ON u.name = o.status) t JOIN users ON true",
            // Only a reference table: nothing to save.
            "SELECT * FROM (SELECT * FROM flags) f JOIN orders o ON o.id = f.flag",
            // Merged by MariaDB into the statement: its columns are its tables'.
            "SELECT t, COUNT(*) FROM (SELECT CONCAT(name, '') AS t FROM users) d JOIN orders o ON o.id = d.t GROUP BY t",
            // A CTE's name would be read as a table.
            "WITH c AS (SELECT * FROM orders) SELECT * FROM (SELECT user_id, COUNT(*) n FROM c GROUP BY user_id) t JOIN users u ON u.id = t.n",
            // A set operation's branches.
            "SELECT * FROM (SELECT id FROM orders LIMIT 1) a UNION SELECT * FROM (SELECT id FROM orders LIMIT 2) b",
        ] {
            assert!(taken(sql).is_none(), "{sql}");
        }
    }
}
