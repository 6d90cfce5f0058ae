//! Scalar subqueries correlated on columns that are not shard keys, joined instead of copied:
//! TPC-H Q17's
//!
//! ```sql
//! … FROM lineitem, part WHERE p_partkey = l_partkey AND …
//!   AND l_quantity < (SELECT 0.2 * AVG(l_quantity) FROM lineitem WHERE l_partkey = p_partkey)
//! ```
//!
//! becomes
//!
//! ```sql
//! … FROM lineitem, part, (SELECT l_partkey AS shardgate_k0, 0.2 * AVG(l_quantity) AS
//!   shardgate_v FROM lineitem GROUP BY l_partkey) AS shardgate_dc0
//! WHERE shardgate_dc0.shardgate_k0 = p_partkey AND p_partkey = l_partkey AND …
//!   AND l_quantity < shardgate_dc0.shardgate_v
//! ```
//!
//! whose derived table the proxy computes as any grouped scatter and copies as derived rows
//! (`derived_rows.rs`), where the subquery needed copies of its whole table. When the outer
//! column is a reference table's that the WHERE filters (`part` by `p_brand = …`), the
//! derived table groups only the rows of the values it keeps (`l_partkey IN (SELECT p_partkey
//! FROM part WHERE …)`, `reference_semijoin.rs`): only those can join.
//!
//! The same rows pass: the derived table has one row per correlation value, holding the
//! subquery's value for it, and none where the subquery reads no row — where its value is
//! NULL, which no comparison passes. So it is taken only for a comparison that is a top-level
//! conjunct of the WHERE (a NULL or false comparison drops the row either way) with a
//! subquery that is one aggregate expression of one sharded table (`SUM` / `AVG` / `MIN` /
//! `MAX` of its columns, combined only by `+`, `-`, `*` and numbers: NULL over no rows), whose
//! WHERE is equalities of its integer columns to the outer block's columns (grouped by
//! exactly, as compared) and conditions on its own columns. A statement with `SELECT *` keeps
//! its subquery (the derived table's columns would join the star's).

use std::ops::Range;

use shardgate_config::Topology;
use shardgate_schema::SchemaStatus;
use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    ObjectNamePart, Query, Select, SelectItem, SetExpr, Spanned, TableFactor, UnaryOperator, Value,
};

use crate::block_scope::{cte_names, named_column, BlockScope};
use crate::colocated::strip_nested;
use crate::join_plan::column_is_integer;
use crate::prune::chain;
use crate::pushable::pushable;
use crate::reference_semijoin::reference_values;
use crate::rewrite::{closing_paren, spliced, Offsets};
use crate::{SqlMode, Syntax};

/// The names of the derived tables this module writes (`shardgate_dc0` …) and of their
/// correlation columns (`shardgate_k0` …).
const DERIVED_PREFIX: &str = "shardgate_dc";
const KEY_PREFIX: &str = "shardgate_k";

/// `sql` (parsed as `query`) with its correlated scalar aggregate subqueries joined as
/// derived tables; `None` when it has none to take. Tables whose columns a name needed and the
/// schema cache lacks are added to `missing`.
pub(crate) fn scalar_aggregates(
    sql: &str,
    query: &Query,
    topology: &Topology,
    syntax: Syntax,
    missing: &mut Vec<String>,
) -> Option<String> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if select
        .projection
        .iter()
        .any(|item| matches!(item, SelectItem::Wildcard(_)))
    {
        return None;
    }
    let selection = select.selection.as_ref()?;
    let mut offsets = Offsets::new(sql);
    // The derived tables go before the WHERE keyword, their join conditions after it.
    let condition_at = offsets.at(selection.span().start)?;
    let before = sql[..condition_at].trim_end();
    let where_at = before.len().checked_sub("where".len())?;
    let keyword = before.get(where_at..)?;
    let separated = before[..where_at]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_whitespace() || c == ')' || c == '`');
    if !keyword.eq_ignore_ascii_case("where") || !separated {
        return None;
    }
    let ctes = cte_names(query);
    let schema = topology.schema.current();
    let outer = BlockScope::of(select, &ctes);
    let backslash = !syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut tables = String::new();
    let mut joins = String::new();
    for member in chain(selection, &BinaryOperator::And) {
        let Expr::BinaryOp { left, op, right } = strip_nested(member) else {
            continue;
        };
        if !matches!(
            op,
            BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
                | BinaryOperator::Eq
                | BinaryOperator::NotEq
        ) {
            continue;
        }
        let subquery = match (left.as_ref(), right.as_ref()) {
            (Expr::Subquery(q), _) | (_, Expr::Subquery(q)) => q,
            _ => continue,
        };
        let n = edits.len();
        let name = format!("{DERIVED_PREFIX}{n}");
        let Some(correlated) =
            Correlated::of(subquery, select, &outer, &ctes, topology, &schema, missing)
        else {
            continue;
        };
        // The subquery's parentheses (its span starts inside them).
        let start = offsets.at(subquery.span().start)?;
        let open = sql[..start].trim_end().strip_suffix('(')?.len();
        let close = closing_paren(sql.as_bytes(), open, backslash)?;
        edits.push((open..close + 1, format!("{name}.shardgate_v")));
        tables.push_str(&format!(", ({}) AS {name}", correlated.grouped()));
        for (i, (_, outer_column)) in correlated.keys.iter().enumerate() {
            joins.push_str(&format!(" {name}.{KEY_PREFIX}{i} = {outer_column} AND"));
        }
    }
    missing.extend(outer.missing());
    if edits.is_empty() {
        return None;
    }
    let from_end = before[..where_at].trim_end().len();
    edits.push((from_end..from_end, tables));
    edits.push((where_at + "where".len()..where_at + "where".len(), joins));
    spliced(sql, edits)
}

/// A scalar subquery this module joins instead.
struct Correlated {
    /// Its FROM clause's one table, as written.
    table: String,
    /// Its correlation equalities: its own column, the outer block's, as written.
    keys: Vec<(String, String)>,
    /// Its other conditions, as written.
    conditions: Vec<String>,
    /// Its select list's expression, as written.
    value: String,
}

impl Correlated {
    fn of(
        query: &Query,
        outer_select: &Select,
        outer: &BlockScope<'_>,
        ctes: &[String],
        topology: &Topology,
        schema: &SchemaStatus,
        missing: &mut Vec<String>,
    ) -> Option<Correlated> {
        let select = one_block(query)?;
        let [from] = select.from.as_slice() else {
            return None;
        };
        let TableFactor::Table { name, .. } = &from.relation else {
            return None;
        };
        let table = crate::shard_key::base_name(name)?;
        if !from.joins.is_empty() || topology.table(&table).is_none() {
            return None;
        }
        let Some(columns) = schema.agreed(&table) else {
            if schema.disagreement(&table).is_none() {
                missing.push(table);
            }
            return None;
        };
        // Its one table's columns are known: no name in it needs another's.
        let inner = BlockScope::of(select, ctes);
        inner.table(0)?;
        let own = |e: &Expr| inner.owner(e, topology, schema) == Some(0);
        let [SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }] =
            select.projection.as_slice()
        else {
            return None;
        };
        // MIN / MAX of a string: which of several collation-equal spellings is the value is
        // each merge's own choice, and a comparison under another collation would tell.
        let string = |e: &Expr| {
            named_column(e, columns)
                .is_none_or(|c| c.collation.is_some() || !numeric_or_temporal(c))
        };
        if !null_without_rows(value, &own, &string) {
            return None;
        }
        let mut keys = Vec::new();
        let mut conditions = Vec::new();
        let mut reduced = Vec::new();
        for member in chain(select.selection.as_ref()?, &BinaryOperator::And) {
            if let Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = strip_nested(member)
            {
                let (left, right) = (strip_nested(left), strip_nested(right));
                let mut correlation = |mine: &Expr, theirs: &Expr| {
                    let keyed =
                        own(mine) && named_column(mine, columns).is_some_and(column_is_integer);
                    let outside = inner.is_outer(theirs, topology, schema)
                        && outer.owner(theirs, topology, schema).is_some();
                    if !(keyed && outside) {
                        return None;
                    }
                    // Only the values the outer block's reference table keeps can join.
                    if let Some(values) =
                        reference_values(outer_select, outer, ctes, theirs, topology, schema)
                    {
                        reduced.push(format!("({mine} IN ({values}))"));
                    }
                    Some((mine.to_string(), theirs.to_string()))
                };
                if let Some(key) = correlation(left, right).or_else(|| correlation(right, left)) {
                    keys.push(key);
                    continue;
                }
            }
            if !pushable(member, &own) {
                return None;
            }
            conditions.push(format!("({member})"));
        }
        if keys.is_empty() {
            return None;
        }
        conditions.extend(reduced);
        Some(Correlated {
            table: from.relation.to_string(),
            keys,
            conditions,
            value: value.to_string(),
        })
    }

    /// The derived table: the subquery's value per correlation value.
    fn grouped(&self) -> String {
        let keys: Vec<String> = (self.keys.iter().enumerate())
            .map(|(i, (mine, _))| format!("{mine} AS {KEY_PREFIX}{i}"))
            .collect();
        let group: Vec<&str> = self.keys.iter().map(|(mine, _)| mine.as_str()).collect();
        let filter = match self.conditions.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", self.conditions.join(" AND ")),
        };
        format!(
            "SELECT {}, {} AS shardgate_v FROM {}{filter} GROUP BY {}",
            keys.join(", "),
            self.value,
            self.table,
            group.join(", ")
        )
    }
}

/// The one SELECT block of a subquery whose rows are its table's rows that its WHERE keeps:
/// no WITH, ORDER BY, LIMIT, locking, set operation, GROUP BY, HAVING, DISTINCT or window.
pub(crate) fn one_block(query: &Query) -> Option<&Select> {
    let plain = query.with.is_none()
        && query.order_by.is_none()
        && query.limit_clause.is_none()
        && query.fetch.is_none()
        && query.locks.is_empty()
        && query.for_clause.is_none();
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    (plain && ungrouped(select)).then_some(select.as_ref())
}

/// No GROUP BY, HAVING, DISTINCT, windows or other clauses that shape the rows.
fn ungrouped(select: &Select) -> bool {
    let no_group_by = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => exprs.is_empty() && modifiers.is_empty(),
        GroupByExpr::All(_) => false,
    };
    no_group_by
        && select.having.is_none()
        && select.distinct.is_none()
        && select.top.is_none()
        && select.into.is_none()
        && select.named_window.is_empty()
        && select.qualify.is_none()
}

/// Whether `value` is NULL when the subquery reads no row: `SUM` / `AVG` / `MIN` / `MAX` of
/// expressions over the subquery's own columns, combined by `+`, `-`, `*`, unary minus and
/// numbers only (each propagates NULL), with at least one aggregate.
fn null_without_rows(
    value: &Expr,
    own: &dyn Fn(&Expr) -> bool,
    string: &dyn Fn(&Expr) -> bool,
) -> bool {
    let mut aggregates = 0;
    let mut stack = vec![value];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Nested(inner) => stack.push(inner),
            Expr::Value(v) if matches!(v.value, Value::Number(..)) => {}
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => stack.push(expr),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply,
                right,
            } => {
                stack.push(left);
                stack.push(right);
            }
            Expr::Function(f) => {
                let [ObjectNamePart::Identifier(id)] = f.name.0.as_slice() else {
                    return false;
                };
                let aggregate = ["sum", "avg", "min", "max"]
                    .iter()
                    .any(|a| id.value.eq_ignore_ascii_case(a));
                let FunctionArguments::List(list) = &f.args else {
                    return false;
                };
                let [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] = list.args.as_slice()
                else {
                    return false;
                };
                let plain = list.clauses.is_empty()
                    && f.over.is_none()
                    && f.filter.is_none()
                    && f.null_treatment.is_none()
                    && f.within_group.is_empty()
                    && matches!(f.parameters, FunctionArguments::None);
                let extreme = ["min", "max"]
                    .iter()
                    .any(|a| id.value.eq_ignore_ascii_case(a));
                let bare = matches!(argument, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
                if !aggregate
                    || !plain
                    || !pushable(argument, own)
                    || (extreme && bare && string(argument))
                {
                    return false;
                }
                aggregates += 1;
            }
            _ => return false,
        }
    }
    aggregates > 0
}

/// Whether the column holds numbers or dates and times (not strings, bits, JSON …).
fn numeric_or_temporal(column: &shardgate_schema::Column) -> bool {
    matches!(
        column.base_type().as_str(),
        "tinyint"
            | "smallint"
            | "mediumint"
            | "int"
            | "bigint"
            | "decimal"
            | "float"
            | "double"
            | "date"
            | "datetime"
            | "timestamp"
            | "time"
            | "year"
    )
}

#[cfg(test)]
mod tests {
    use shardgate_config::Topology;
    use sqlparser::ast::Statement;

    use crate::test_topology::{two_shards, with_columns};
    use crate::Syntax;

    fn topology() -> Topology {
        let t = two_shards(
            "[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n[[tables]]\nname = \"parts\"\nreference = true\n",
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
                ("amount", "decimal(12,2)", None),
                ("placed", "datetime", None),
            ],
        );
        with_columns(
            t,
            "parts",
            &[("pid", "int(11)", None), ("brand", "varchar(8)", ci)],
        )
    }

    fn joined(sql: &str) -> Option<String> {
        let t = topology();
        let statements = crate::lex::parse_verbatim(sql, Syntax::DEFAULT).unwrap();
        let Statement::Query(query) = &statements[0] else {
            panic!("{sql}")
        };
        super::scalar_aggregates(sql, query, &t, Syntax::DEFAULT, &mut Vec::new())
    }

    #[test]
    fn a_correlated_aggregate_becomes_a_grouped_derived_table() {
        assert_eq!(
            joined("SELECT o.id FROM orders o WHERE o.amount > (SELECT AVG(x.amount) FROM orders x WHERE x.qty = o.qty AND x.id > 3) ORDER BY o.id").as_deref(),
            Some("SELECT o.id FROM orders o, (SELECT x.qty AS shardgate_k0, AVG(x.amount) AS shardgate_v FROM orders x WHERE (x.id > 3) GROUP BY x.qty) AS shardgate_dc0 WHERE shardgate_dc0.shardgate_k0 = o.qty AND o.amount > shardgate_dc0.shardgate_v ORDER BY o.id")
        );
        // By a filtered reference table's column: only the values it keeps are grouped.
        assert_eq!(
            joined("SELECT COUNT(*) FROM orders, parts WHERE qty = pid AND brand = 'x' AND placed = (SELECT MAX(placed) FROM orders WHERE qty = pid)").as_deref(),
            Some("SELECT COUNT(*) FROM orders, parts, (SELECT qty AS shardgate_k0, MAX(placed) AS shardgate_v FROM orders WHERE (qty IN (SELECT pid FROM parts WHERE (brand = 'x'))) GROUP BY qty) AS shardgate_dc0 WHERE shardgate_dc0.shardgate_k0 = pid AND qty = pid AND brand = 'x' AND placed = shardgate_dc0.shardgate_v")
        );
    }

    #[test]
    fn memberships_over_reference_tables_narrow_the_grouped_values() {
        // The reference table's membership of its own kind narrows (TPC-H Q20's `ps_partkey
        // IN (SELECT p_partkey FROM part WHERE …)`), nested ones too.
        assert_eq!(
            joined("SELECT COUNT(*) FROM orders, parts WHERE qty = pid AND pid IN (SELECT p2.pid FROM parts p2 WHERE p2.brand = 'y' AND p2.pid NOT IN (SELECT pid FROM parts WHERE brand = 'z')) AND placed = (SELECT MAX(placed) FROM orders WHERE qty = pid)").as_deref(),
            Some("SELECT COUNT(*) FROM orders, parts, (SELECT qty AS shardgate_k0, MAX(placed) AS shardgate_v FROM orders WHERE (qty IN (SELECT pid FROM parts WHERE (pid IN (SELECT p2.pid FROM parts p2 WHERE p2.brand = 'y' AND p2.pid NOT IN (SELECT pid FROM parts WHERE brand = 'z'))))) GROUP BY qty) AS shardgate_dc0 WHERE shardgate_dc0.shardgate_k0 = pid AND qty = pid AND pid IN (SELECT p2.pid FROM parts p2 WHERE p2.brand = 'y' AND p2.pid NOT IN (SELECT pid FROM parts WHERE brand = 'z')) AND placed = shardgate_dc0.shardgate_v")
        );
        // One reading the enclosing block's row, or a sharded table, or a function of no
        // certain result narrows nothing (the subquery is still joined).
        for membership in [
            "pid IN (SELECT p2.pid FROM parts p2 WHERE p2.brand = parts.brand)",
            "pid IN (SELECT qty FROM orders)",
            "pid IN (SELECT p2.pid FROM parts p2 WHERE p2.pid > RAND())",
            "pid IN (SELECT p2.pid FROM parts p2 ORDER BY p2.pid LIMIT 2)",
        ] {
            let sql = format!("SELECT COUNT(*) FROM orders, parts WHERE qty = pid AND {membership} AND placed = (SELECT MAX(placed) FROM orders WHERE qty = pid)");
            let joined = joined(&sql).unwrap_or_else(|| panic!("{sql}"));
            assert!(
                joined.contains("FROM orders GROUP BY qty) AS shardgate_dc0"),
                "{joined}"
            );
        }
    }

    #[test]
    fn values_not_null_over_no_rows_strings_and_other_shapes_keep_the_subquery() {
        for sql in [
            // COUNT is 0 over no rows; COALESCE makes a NULL a value.
            "SELECT o.id FROM orders o WHERE o.qty > (SELECT COUNT(*) FROM orders x WHERE x.qty = o.qty)",
            "SELECT o.id FROM orders o WHERE o.qty > (SELECT COALESCE(MAX(x.qty), 0) FROM orders x WHERE x.qty = o.qty)",
            // MAX of a string: the spelling among collation-equal ones is the merge's.
            "SELECT o.id FROM orders o WHERE o.status = (SELECT MAX(x.status) FROM orders x WHERE x.qty = o.qty)",
            // Correlated by a string column: its groups are not its comparisons.
            "SELECT o.id FROM orders o WHERE o.qty > (SELECT AVG(x.qty) FROM orders x WHERE x.status = o.status)",
            // Not a conjunct of the WHERE; a limited subquery; `SELECT *`; no correlation.
            "SELECT o.id FROM orders o WHERE o.id = 1 OR o.qty > (SELECT AVG(x.qty) FROM orders x WHERE x.qty = o.qty)",
            "SELECT o.id FROM orders o WHERE o.qty > (SELECT AVG(x.qty) FROM orders x WHERE x.qty = o.qty LIMIT 1)",
            "SELECT * FROM orders o WHERE o.qty > (SELECT AVG(x.qty) FROM orders x WHERE x.qty = o.qty)",
            "SELECT o.id FROM orders o WHERE o.qty > (SELECT AVG(x.qty) FROM orders x WHERE x.id > 3)",
            // The outer column inside the aggregate.
            "SELECT o.id FROM orders o WHERE o.qty > (SELECT AVG(x.qty + o.id) FROM orders x WHERE x.qty = o.qty)",
        ] {
            assert_eq!(joined(sql), None, "{sql}");
        }
    }
}
