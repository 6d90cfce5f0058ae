//! Derived tables of a statement answered from copies (`materialize.rs`) whose subquery has a
//! plan of its own — one shard, a scatter merged by the proxy or not, a set operation whose
//! branches the proxy combines, or a join across shards the proxy runs: the proxy computes
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
use std::ops::Range;

use sqlparser::ast::{
    visit_expressions, visit_relations, Expr, GroupByExpr, ObjectNamePart, Query, SetExpr,
    TableFactor, With,
};
use sqlparser::tokenizer::Span;

use crate::copy_narrowing::Narrowing;
use crate::materialize::{quote, TableCopy};
use crate::rewrite::{closes_before_alias, spliced, subquery_parens, Offsets};
use crate::shard_key::base_name;
use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// The statement over the rows of its derived tables.
#[derive(Debug, Clone, PartialEq)]
pub struct OverDerived {
    /// The derived tables taken out, in text order.
    pub derived: Vec<DerivedRows>,
    /// The client's statement naming temporary tables in their places.
    pub sql: String,
    /// The copies that statement still needs (sharded tables it names outside them).
    pub copies: Vec<TableCopy>,
    /// Copies to read only the rows joining a derived table's (`copy_narrowing.rs`).
    pub narrowings: Vec<Narrowing>,
}

/// A derived table whose rows the proxy computes and copies into a temporary table.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedRows {
    /// The temporary table's name, quoted (`` `shardgate_derived_0` ``).
    pub table: String,
    /// The derived table's alias (a CTE's name), as parsed.
    pub alias: String,
    /// It is a CTE (the temporary table takes each reference's place).
    pub cte: bool,
    /// The subquery, as written.
    pub select: String,
    /// The subquery's own plan.
    pub plan: Box<Plan>,
    /// Its rows are only looked up, inside subqueries (a membership subquery's distinct
    /// values, `subquery_values.rs`): the temporary table gets an index over its columns,
    /// which no answer's columns can tell.
    pub looked_up: bool,
}

impl DerivedRows {
    /// Creates the temporary table with the derived table's columns, typed as MariaDB types a
    /// derived table's (it materializes one the same way), and no row. `LIMIT 0`: the
    /// subquery is not run.
    /// Columns `key` (names) make an index.
    pub fn create_sql(&self, key: &[String]) -> String {
        let index = match key {
            [] => String::new(),
            key => {
                let columns: Vec<String> = key.iter().map(|c| quote(c)).collect();
                format!(" (KEY ({}))", columns.join(", "))
            }
        };
        format!(
            "CREATE TEMPORARY TABLE {}{index} AS SELECT * FROM ({}) AS `d` LIMIT 0",
            self.table, self.select
        )
    }
}

/// The derived tables and CTEs of `query` (parsed from `sql`) with plans of their own, and
/// `sql` with a temporary table in each one's place; `None` when there is none.
/// `missing` gets the tables whose columns a subquery's plan needed and the schema cache
/// lacks (read, the statement is planned again).
pub(crate) fn take(
    sql: &str,
    query: &Query,
    topology: &Topology,
    syntax: Syntax,
    missing: &mut Vec<String>,
) -> Option<(Vec<DerivedRows>, String)> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let mut taker = Taker {
        sql,
        topology,
        syntax,
        ctes: cte_names(query),
        offsets: Offsets::new(sql),
        taken: Vec::new(),
        edits: Vec::new(),
        missing,
    };
    if let Some(with) = query.with.as_ref().filter(|w| !w.recursive) {
        taker.take_ctes(query, with);
    }
    let factors = select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    for factor in factors {
        if let TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            ..
        } = factor
        {
            let n = taker.taken.len();
            let Some((open, close, derived)) = taker.derived(subquery, &alias.name.value, n) else {
                continue;
            };
            let alias_at = taker.offsets.at(alias.name.span.start);
            if closes_before_alias(sql, close, alias_at) {
                taker.edits.push((open..close + 1, derived.table.clone()));
                taker.taken.push(derived);
            }
        }
    }
    if taker.taken.is_empty() {
        return None;
    }
    // An index on a lookup table may change MariaDB's plan, and with it the column origins it
    // reports for the client's own derived tables (a merged one's columns name its table or
    // its alias by whether the answer passes a temporary table): only without them, or for
    // a table read only by `NOT EXISTS` / `NOT IN`, which MariaDB never joins into the
    // statement (no semi-join), so the index changes how the subquery reads, not the plan.
    if has_client_derived_tables(query) {
        for derived in &mut taker.taken {
            derived.looked_up &= read_only_by_negations(query, &derived.alias);
        }
    }
    let rewritten = spliced(sql, taker.edits)?;
    Some((taker.taken, rewritten))
}

/// What `take` has found so far.
struct Taker<'a> {
    sql: &'a str,
    topology: &'a Topology,
    syntax: Syntax,
    /// Every name a WITH clause of the statement defines, lower-cased.
    ctes: Vec<String>,
    offsets: Offsets<'a>,
    taken: Vec<DerivedRows>,
    /// Byte ranges of `sql` and their replacements (not overlapping).
    edits: Vec<(Range<usize>, String)>,
    /// Tables whose columns a subquery's plan needed (a join across shards resolves its
    /// columns by the schema cache).
    missing: &'a mut Vec<String>,
}

impl Taker<'_> {
    /// The subquery `query` (named `name`) as a derived table with its own plan (the `n`th
    /// taken), and the offsets of its parentheses, when the proxy computes it.
    fn derived(
        &mut self,
        query: &Query,
        name: &str,
        n: usize,
    ) -> Option<(usize, usize, DerivedRows)> {
        if !materialized_by_mariadb(query)
            || names_any(query, &self.ctes)
            || !names_sharded(query, self.topology)
        {
            return None;
        }
        let (open, close) = subquery_parens(self.sql, &mut self.offsets, query, self.syntax)?;
        let text = self.sql[open + 1..close].trim();
        let plan = match crate::plan_sql(text, self.topology, self.syntax) {
            Ok(plan) => plan,
            Err(RouteError::SchemaNeeded { tables }) => {
                self.missing.extend(tables);
                return None;
            }
            Err(_) => return None,
        };
        let own_plan = plan.kind == StatementKind::Read
            && matches!(
                plan.route,
                Route::Shard(_) | Route::Scatter(_) | Route::SetOperation(_) | Route::Join(_)
            );
        own_plan.then(|| {
            let derived = DerivedRows {
                table: quote(&format!("shardgate_derived_{n}")),
                alias: name.to_owned(),
                cte: false,
                select: text.to_owned(),
                plan: Box::new(plan),
                looked_up: false,
            };
            (open, close, derived)
        })
    }

    /// Takes the CTEs of `with` (the WITH clause of `query`) the proxy computes: each
    /// reference to one names its temporary table (under the CTE's name), and the WITH clause
    /// keeps the others. A CTE with a column list, another CTE reads, or named like another
    /// CTE of the statement or (in another letter case) like a table it reads, stays.
    fn take_ctes(&mut self, query: &Query, with: &With) {
        let mut kept = Vec::new();
        let mut taken = Vec::new();
        let with_start = self.offsets.at(with.with_token.0.span.start);
        let mut end = None;
        for cte in &with.cte_tables {
            let name = &cte.alias.name.value;
            let defined_once = (self.ctes.iter())
                .filter(|c| c.eq_ignore_ascii_case(name))
                .count()
                == 1;
            let start = self.offsets.at(cte.alias.name.span.start);
            let read_by_others = (with.cte_tables.iter()).any(|other| {
                !std::ptr::eq(other, cte) && names_any(&other.query, &[name.to_lowercase()])
            });
            let takeable = cte.alias.columns.is_empty() && defined_once && !read_by_others;
            let n = self.taken.len() + taken.len();
            let closing = self.offsets.at(cte.closing_paren_token.0.span.start);
            let found = match (takeable, start) {
                (true, Some(_)) => self
                    .derived(&cte.query, name, n)
                    .filter(|(_, close, _)| Some(*close) == closing),
                _ => None,
            };
            let Some(start) = start else {
                return;
            };
            let Some(cte_end) = self.offsets.at(cte.closing_paren_token.0.span.end) else {
                return;
            };
            end = Some(cte_end);
            match found {
                Some((_, _, derived)) => taken.push(DerivedRows {
                    cte: true,
                    looked_up: crate::subquery_values::writes_cte(name),
                    ..derived
                }),
                None => kept.push(&self.sql[start..cte_end]),
            }
        }
        let (Some(with_start), Some(end)) = (with_start, end) else {
            return;
        };
        if taken.is_empty() {
            return;
        }
        let mut references = References {
            names: taken.iter().map(|d| d.alias.as_str()).collect(),
            found: Vec::new(),
            ambiguous: false,
        };
        let _ = sqlparser::ast::Visit::visit(query, &mut references);
        if references.ambiguous {
            return;
        }
        let mut edits = Vec::new();
        for (name, alias, span) in references.found {
            let (Some(start), Some(end)) = (self.offsets.at(span.start), self.offsets.at(span.end))
            else {
                return;
            };
            let Some(derived) = taken.iter().find(|d| d.alias == name) else {
                return;
            };
            let text = match alias {
                true => derived.table.clone(),
                false => format!("{} AS {}", derived.table, quote(&name)),
            };
            edits.push((start..end, text));
        }
        let with_text = match kept.is_empty() {
            true => String::new(),
            false => format!("WITH {} ", kept.join(", ")),
        };
        let after = self.sql[end..].len() - self.sql[end..].trim_start().len();
        edits.push((with_start..end + after, with_text));
        self.taken.extend(taken);
        self.edits.extend(edits);
    }
}

/// The tables a query body names by one of `names` (CTE names): each name, whether it has an
/// alias, and the span of its name.
struct References<'n> {
    names: Vec<&'n str>,
    found: Vec<(String, bool, Span)>,
    /// A name differs from one of `names` in letter case only: which one it reads is left to
    /// MariaDB's rules, and the CTEs stay.
    ambiguous: bool,
}

impl sqlparser::ast::Visitor for References<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, .. } = factor else {
            return ControlFlow::Continue(());
        };
        let [ObjectNamePart::Identifier(ident)] = name.0.as_slice() else {
            return ControlFlow::Continue(());
        };
        if self.names.contains(&ident.value.as_str()) {
            self.found
                .push((ident.value.clone(), alias.is_some(), ident.span));
        } else if (self.names.iter()).any(|n| n.eq_ignore_ascii_case(&ident.value)) {
            self.ambiguous = true;
        }
        ControlFlow::Continue(())
    }
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
        Expr::Function(f) => match is_aggregate(&f.name) {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        },
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

/// Whether `name` names one of MariaDB's aggregate functions.
pub(crate) fn is_aggregate(name: &sqlparser::ast::ObjectName) -> bool {
    AGGREGATES.contains(&name.to_string().to_ascii_lowercase().as_str())
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

/// Whether the statement has a derived table, or a CTE other than those
/// `subquery_values.rs` writes, anywhere.
fn has_client_derived_tables(query: &Query) -> bool {
    struct Derived;
    impl sqlparser::ast::Visitor for Derived {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            match factor {
                TableFactor::Derived { .. } => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }
    }
    sqlparser::ast::Visit::visit(query, &mut Derived).is_break()
        || cte_names(query)
            .iter()
            .any(|name| !crate::subquery_values::writes_cte(name))
}

/// Whether every reference to the table `name` in `query` is the FROM of a `NOT EXISTS` or
/// `NOT IN` subquery's own block.
fn read_only_by_negations(query: &Query, name: &str) -> bool {
    let named = |factor: &TableFactor| match factor {
        TableFactor::Table { name: table, .. } => base_name(table).is_some_and(|t| t == name),
        _ => false,
    };
    let mut references = 0;
    let _ = sqlparser::ast::visit_relations(query, |relation| {
        references += usize::from(base_name(relation).is_some_and(|t| t == name));
        ControlFlow::<()>::Continue(())
    });
    let mut negated = 0;
    let _ = visit_expressions(query, |e| {
        let subquery = match e {
            Expr::Exists {
                subquery,
                negated: true,
            }
            | Expr::InSubquery {
                subquery,
                negated: true,
                ..
            } => subquery,
            _ => return ControlFlow::<()>::Continue(()),
        };
        if let SetExpr::Select(select) = subquery.body.as_ref() {
            let factors = crate::materialize::factors(&select.from);
            negated += factors.into_iter().filter(|(f, _)| named(f)).count();
        }
        ControlFlow::Continue(())
    });
    references > 0 && negated == references
}

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
pub(crate) fn names_sharded(query: &Query, topology: &Topology) -> bool {
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
        take(sql, q, &topology, Syntax::DEFAULT, &mut Vec::new())
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
            derived[0].create_sql(&[]),
            "CREATE TEMPORARY TABLE `shardgate_derived_0` AS SELECT * FROM (SELECT id FROM orders ORDER BY total DESC LIMIT 10) AS `d` LIMIT 0"
        );
        assert!(!derived[0].looked_up);
        assert_eq!(
            derived[0].create_sql(&["id".into(), "a`b".into()]),
            "CREATE TEMPORARY TABLE `shardgate_derived_0` (KEY (`id`, `a``b`)) AS SELECT * FROM (SELECT id FROM orders ORDER BY total DESC LIMIT 10) AS `d` LIMIT 0"
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

        // A set operation whose branches the proxy combines.
        let (derived, sql) = taken(
            "SELECT COUNT(*) FROM (SELECT id FROM users UNION SELECT user_id FROM orders) AS t",
        )
        .unwrap();
        assert_eq!(sql, "SELECT COUNT(*) FROM `shardgate_derived_0` AS t");
        assert!(matches!(derived[0].plan.route, Route::SetOperation(_)));

        // Parenthesized bodies: the derived table's own parentheses are the outermost.
        let (derived, sql) = taken(
            "SELECT t.* FROM ((SELECT id FROM users ORDER BY id DESC LIMIT 3) UNION (SELECT user_id FROM orders LIMIT 2)) AS t",
        )
        .unwrap();
        assert_eq!(sql, "SELECT t.* FROM `shardgate_derived_0` AS t");
        assert_eq!(
            derived[0].select,
            "(SELECT id FROM users ORDER BY id DESC LIMIT 3) UNION (SELECT user_id FROM orders LIMIT 2)"
        );
        let (derived, sql) = taken(
            "WITH c AS ((SELECT id FROM users LIMIT 3) UNION (SELECT 1)) SELECT * FROM c JOIN users u ON u.id = c.id",
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT * FROM `shardgate_derived_0` AS `c` JOIN users u ON u.id = c.id"
        );
        assert_eq!(
            derived[0].select,
            "(SELECT id FROM users LIMIT 3) UNION (SELECT 1)"
        );
    }

    #[test]
    fn membership_values_are_looked_up_by_an_index() {
        let looked_up = |sql: &str| -> Vec<bool> {
            let (derived, _) = taken(sql).unwrap();
            derived.iter().map(|d| d.looked_up).collect()
        };
        assert_eq!(
            looked_up("WITH shardgate_sq0 AS (SELECT DISTINCT user_id FROM orders) SELECT id FROM users WHERE NOT EXISTS (SELECT * FROM shardgate_sq0 AS o WHERE o.user_id = users.id)"),
            [true],
            "a CTE subquery_values.rs writes"
        );
        // A CTE of the client's named like one, or a derived table of the client's: no index,
        // which could change MariaDB's plan for it.
        assert_eq!(
            looked_up("WITH shardgate_sq0 AS (SELECT DISTINCT user_id FROM orders), shardgate_sqx AS (SELECT DISTINCT user_id FROM orders) SELECT id FROM users WHERE EXISTS (SELECT * FROM shardgate_sq0 AS o WHERE o.user_id = users.id) AND id IN (SELECT user_id FROM shardgate_sqx)"),
            [false, false]
        );
        assert_eq!(
            looked_up("WITH shardgate_sq0 AS (SELECT DISTINCT user_id FROM orders) SELECT d.id FROM (SELECT id FROM users WHERE EXISTS (SELECT * FROM shardgate_sq0 AS o WHERE o.user_id = users.id)) d"),
            [false]
        );
        // Read only by NOT EXISTS / NOT IN, which MariaDB never joins into the statement: the
        // index changes the subquery's reads, not the plan of the client's derived table.
        assert_eq!(
            looked_up("WITH shardgate_sq0 AS (SELECT DISTINCT user_id FROM orders) SELECT d.id FROM (SELECT id FROM users WHERE NOT EXISTS (SELECT * FROM shardgate_sq0 AS o WHERE o.user_id = users.id)) d"),
            [true]
        );
        assert_eq!(
            looked_up("WITH shardgate_sq0 AS (SELECT DISTINCT user_id FROM orders) SELECT d.id FROM (SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM shardgate_sq0)) d"),
            [true]
        );
    }

    #[test]
    fn ctes_with_their_own_plan_become_temporary_tables() {
        let (derived, sql) = taken(
            "WITH big AS (SELECT user_id, SUM(total) s FROM orders GROUP BY user_id), named AS (SELECT id FROM users WHERE id = 3) SELECT u.name, big.s FROM big JOIN users u ON u.id = big.user_id JOIN big AS b2 ON b2.s = big.s WHERE u.id IN (SELECT id FROM named)",
        )
        .unwrap();
        assert_eq!(
            sql,
            "WITH named AS (SELECT id FROM users WHERE id = 3) SELECT u.name, big.s FROM `shardgate_derived_0` AS `big` JOIN users u ON u.id = big.user_id JOIN `shardgate_derived_0` AS b2 ON b2.s = big.s WHERE u.id IN (SELECT id FROM named)"
        );
        assert_eq!(derived.len(), 1);
        assert_eq!(derived[0].alias, "big");
        assert_eq!(
            derived[0].select,
            "SELECT user_id, SUM(total) s FROM orders GROUP BY user_id"
        );
        // Every CTE taken: no WITH left; a derived table after it is numbered on.
        let (derived, sql) = taken(
            "with t as (select user_id, count(*) n from orders group by user_id limit 5)\nselect * from t join (select id from users order by id limit 2) d on d.id = t.n",
        )
        .unwrap();
        assert_eq!(
            sql,
            "select * from `shardgate_derived_0` AS `t` join `shardgate_derived_1` d on d.id = t.n"
        );
        assert_eq!(derived.len(), 2);
    }

    #[test]
    fn ctes_read_by_others_or_named_twice_stay() {
        for sql in [
            // Another CTE reads it.
            "WITH a AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id), b AS (SELECT * FROM a) SELECT * FROM b JOIN users u ON u.id = b.n",
            // Recursive.
            "WITH RECURSIVE a AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id) SELECT * FROM a JOIN users u ON u.id = a.n",
            // A column list.
            "WITH a (k, n) AS (SELECT user_id, COUNT(*) FROM orders GROUP BY user_id) SELECT * FROM a JOIN users u ON u.id = a.n",
            // Named in another letter case.
            "WITH a AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id) SELECT * FROM A JOIN users u ON u.id = A.n",
            // Defined again inside.
            "WITH a AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id) SELECT * FROM a JOIN users u ON u.id IN (WITH a AS (SELECT 1 x) SELECT x FROM a)",
        ] {
            assert!(taken(sql).is_none(), "{sql}");
        }
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
