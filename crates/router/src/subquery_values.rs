//! `EXISTS` / `NOT EXISTS` / `IN` / `NOT IN` subqueries over one sharded table, read from the
//! distinct values they use: TPC-H Q22's `NOT EXISTS (SELECT * FROM orders WHERE o_custkey =
//! c_custkey)` needs only `SELECT DISTINCT o_custkey FROM orders`, not a copy of `orders`. The
//! statement gets a CTE of those values,
//!
//! ```sql
//! WITH shardgate_sq0 AS (SELECT DISTINCT `o_custkey` FROM orders) SELECT …
//!   NOT EXISTS (SELECT * FROM shardgate_sq0 AS orders WHERE o_custkey = c_custkey) …
//! ```
//!
//! whose rows the proxy computes as a scatter it de-duplicates (derived rows,
//! `derived_rows.rs`), and MariaDB evaluates the subquery as written over them.
//!
//! The same answer: the CTE holds every distinct combination of the columns the subquery reads
//! among the rows its own conditions on the table keep (the top-level conjuncts of its WHERE
//! that read only the table's columns, still applied in the subquery too), which is all an
//! existence or membership test sees — duplicates never change it. Taken only for a subquery
//! that reads one sharded table, every name in it a column of that table or of an enclosing
//! block, with no aggregate, grouping, `DISTINCT`, `LIMIT` or subquery of its own, `*` only
//! under `EXISTS`; and only when every column it reads is an integer, a `DECIMAL` or a date
//! (`DATE`, `DATETIME`), whose distinct values are exactly the values compared — a string's
//! de-duplication keeps one of several collation-equal spellings, a `DOUBLE`'s one of `0` and
//! `-0`.

use std::ops::{ControlFlow, Range};

use shardgate_config::Topology;
use shardgate_schema::{Column, SchemaStatus};
use sqlparser::ast::{
    visit_expressions, BinaryOperator, Expr, ObjectNamePart, Query, SelectItem, SetExpr, Spanned,
    TableFactor,
};

use crate::block_scope::{cte_names, named_column, BlockScope};
use crate::derived_rows::is_aggregate;
use crate::join_plan::column_is_integer;
use crate::prune::chain;
use crate::pushable::pushable;
use crate::rewrite::{spliced, Offsets};

/// The names of the CTEs this module writes (`shardgate_sq0` …).
const CTE_PREFIX: &str = "shardgate_sq";

/// Whether `name` is one of the CTEs this module writes, read only inside the subqueries
/// they stand for.
pub(crate) fn writes_cte(name: &str) -> bool {
    name.strip_prefix(CTE_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `sql` (parsed as `query`) with its membership subqueries reading CTEs of distinct values;
/// `None` when it has none to take. Tables whose columns a name needed and the schema cache
/// lacks are added to `missing`.
pub(crate) fn distinct_values(
    sql: &str,
    query: &Query,
    topology: &Topology,
    missing: &mut Vec<String>,
) -> Option<String> {
    let SetExpr::Select(top) = query.body.as_ref() else {
        return None;
    };
    if query.with.as_ref().is_some_and(|w| w.recursive) {
        return None;
    }
    let ctes = cte_names(query);
    let schema = topology.schema.current();
    let mut offsets = Offsets::new(sql);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut definitions: Vec<String> = Vec::new();
    let _ = visit_expressions(query, |e| {
        let (subquery, exists) = match e {
            Expr::Exists { subquery, .. } => (subquery, true),
            Expr::InSubquery { subquery, .. } => (subquery, false),
            _ => return ControlFlow::<()>::Continue(()),
        };
        let name = format!("{CTE_PREFIX}{}", definitions.len());
        let found = Membership::of(subquery, exists, &ctes, topology, &schema, missing)
            .and_then(|m| Some((m.factor_range(&mut offsets)?, m)));
        if let Some((range, membership)) = found {
            edits.push((range, format!("{name} AS {}", membership.qualifier)));
            definitions.push(format!("{name} AS ({})", membership.values()));
        }
        ControlFlow::Continue(())
    });
    if definitions.is_empty() {
        return None;
    }
    let definitions = definitions.join(", ");
    match &query.with {
        // After `WITH`, before the statement's own CTEs.
        Some(with) => {
            let at = offsets.at(with.with_token.0.span.end)?;
            edits.push((at..at, format!(" {definitions},")));
        }
        None => {
            let at = offsets.at(top.select_token.0.span.start)?;
            edits.push((at..at, format!("WITH {definitions} ")));
        }
    }
    spliced(sql, edits)
}

/// A membership subquery read from its distinct values.
struct Membership<'q> {
    /// Its one table, as written.
    factor: &'q TableFactor,
    /// What qualifies the table's columns in it (its alias, or its name), as written.
    qualifier: String,
    /// The table's columns it reads (quoted), in the table's order.
    columns: Vec<String>,
    /// Its top-level conjuncts on the table's columns alone, as written.
    conditions: Vec<String>,
}

impl<'q> Membership<'q> {
    fn of(
        query: &'q Query,
        exists: bool,
        ctes: &[String],
        topology: &Topology,
        schema: &SchemaStatus,
        missing: &mut Vec<String>,
    ) -> Option<Membership<'q>> {
        let select = crate::decorrelate::one_block(query)?;
        let [from] = select.from.as_slice() else {
            return None;
        };
        // A plain table reference (no hints, partitions …): the CTE's name and the alias
        // replace all of it.
        let (name, alias) = crate::shard_key::plain_table(&from.relation)?;
        let table = crate::shard_key::base_name(name)?;
        let cte = name.0.len() == 1 && ctes.iter().any(|c| c.eq_ignore_ascii_case(&table));
        if !from.joins.is_empty() || cte || topology.table(&table).is_none() {
            return None;
        }
        let Some(table_columns) = schema.agreed(&table) else {
            if schema.disagreement(&table).is_none() {
                missing.push(table);
            }
            return None;
        };
        let scope = BlockScope::of(select, ctes);
        let stars = select.projection.iter().any(|item| {
            matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        });
        if stars && !exists {
            return None;
        }
        // Every name: a column of the table, or of an enclosing block; no subquery, no
        // aggregate.
        let mut read: Vec<&Column> = Vec::new();
        let mut known = true;
        let _ = visit_expressions(select, |e| {
            match e {
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => known = false,
                Expr::Function(f) if f.over.is_some() || is_aggregate(&f.name) => known = false,
                Expr::Identifier(id) if id.value.starts_with('@') => {}
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
                    if scope.owner(e, topology, schema) == Some(0) {
                        match named_column(e, table_columns) {
                            Some(c) if exactly_distinct(c) => read.push(c),
                            _ => known = false,
                        }
                    } else if !scope.is_outer(e, topology, schema) {
                        known = false;
                    }
                }
                _ => {}
            }
            match known {
                true => ControlFlow::Continue(()),
                false => ControlFlow::Break(()),
            }
        });
        if !known || read.is_empty() {
            return None;
        }
        let columns: Vec<String> = (table_columns.columns.iter())
            .filter(|c| read.iter().any(|r| std::ptr::eq(*r, *c)))
            .map(|c| crate::materialize::quote(&c.name))
            .collect();
        let own = |e: &Expr| scope.owner(e, topology, schema) == Some(0);
        let conditions = select
            .selection
            .as_ref()
            .map_or_else(Vec::new, |selection| {
                chain(selection, &BinaryOperator::And)
                    .into_iter()
                    .filter(|part| pushable(part, &own))
                    .map(|part| format!("({part})"))
                    .collect()
            });
        let qualifier = match (alias, name.0.last()) {
            (Some(alias), _) => alias.name.to_string(),
            (None, Some(ObjectNamePart::Identifier(last))) => last.to_string(),
            _ => return None,
        };
        Some(Membership {
            factor: &from.relation,
            qualifier,
            columns,
            conditions,
        })
    }

    /// The byte range of the table as written in the subquery (its name and alias).
    fn factor_range(&self, offsets: &mut Offsets<'_>) -> Option<Range<usize>> {
        let span = self.factor.span();
        let (start, end) = (offsets.at(span.start)?, offsets.at(span.end)?);
        (start < end).then_some(start..end)
    }

    /// The CTE's query: the distinct values.
    fn values(&self) -> String {
        let filter = match self.conditions.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", self.conditions.join(" AND ")),
        };
        format!(
            "SELECT DISTINCT {} FROM {}{filter}",
            self.columns.join(", "),
            self.factor
        )
    }
}

/// Whether the column's distinct values are exactly the values compared: integers, decimals
/// (one scale per column), dates.
fn exactly_distinct(column: &Column) -> bool {
    column_is_integer(column)
        || matches!(column.base_type().as_str(), "decimal" | "date" | "datetime")
}

#[cfg(test)]
mod tests {
    use sqlparser::ast::Statement;

    use crate::test_topology::{two_shards, with_columns};
    use crate::Syntax;

    fn valued(sql: &str) -> Option<String> {
        let t = two_shards(
            "[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n[[tables]]\nname = \"users\"\nshard_key = \"id\"\n",
        );
        let ci = Some("utf8mb4_general_ci");
        let t = with_columns(
            t,
            "orders",
            &[
                ("id", "bigint(20)", None),
                ("user_id", "int(11)", None),
                ("qty", "int(11)", None),
                ("status", "varchar(16)", ci),
                ("ratio", "double", None),
            ],
        );
        let t = with_columns(
            t,
            "users",
            &[("id", "int(11)", None), ("flag", "tinyint(4)", None)],
        );
        let statements = crate::lex::parse_verbatim(sql, Syntax::DEFAULT).unwrap();
        let Statement::Query(query) = &statements[0] else {
            panic!("{sql}")
        };
        super::distinct_values(sql, query, &t, &mut Vec::new())
    }

    #[test]
    fn membership_subqueries_read_the_distinct_values_they_use() {
        assert_eq!(
            valued("SELECT d.id FROM (SELECT u.id FROM users u WHERE NOT EXISTS (SELECT * FROM orders o WHERE o.qty = u.flag AND o.id > 3)) d").as_deref(),
            Some("WITH shardgate_sq0 AS (SELECT DISTINCT `id`, `qty` FROM orders o WHERE (o.id > 3)) SELECT d.id FROM (SELECT u.id FROM users u WHERE NOT EXISTS (SELECT * FROM shardgate_sq0 AS o WHERE o.qty = u.flag AND o.id > 3)) d")
        );
        // The statement's own WITH keeps its CTEs after the proxy's.
        assert_eq!(
            valued("WITH t AS (SELECT 1 AS k) SELECT t.k FROM t, users WHERE flag NOT IN (SELECT qty FROM orders WHERE user_id = users.id)").as_deref(),
            Some("WITH shardgate_sq0 AS (SELECT DISTINCT `user_id`, `qty` FROM orders), t AS (SELECT 1 AS k) SELECT t.k FROM t, users WHERE flag NOT IN (SELECT qty FROM shardgate_sq0 AS orders WHERE user_id = users.id)")
        );
    }

    #[test]
    fn strings_doubles_aggregates_and_hints_keep_the_table() {
        for sql in [
            "SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.status = u.id)",
            "SELECT u.id FROM users u WHERE u.flag IN (SELECT o.ratio FROM orders o)",
            "SELECT u.id FROM users u WHERE EXISTS (SELECT MAX(o.qty) FROM orders o WHERE o.qty = u.flag)",
            "SELECT u.id FROM users u WHERE u.flag IN (SELECT * FROM orders o)",
            "SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o USE INDEX (qty) WHERE o.qty = u.flag)",
            "SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.flag LIMIT 1)",
        ] {
            assert_eq!(valued(sql), None, "{sql}");
        }
    }
}
