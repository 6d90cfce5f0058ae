//! A SELECT over one derived table whose rows partition over the shards: `SELECT nation,
//! SUM(amount) FROM (SELECT n_name AS nation, l_extendedprice * … AS amount FROM lineitem
//! JOIN orders … JOIN nation …) AS profit GROUP BY nation`. Every shard computes the derived
//! rows of its own rows, and the derived table's rows are the union of theirs, so the outer
//! SELECT scatters like one over a table: the shards run the statement with the derived table
//! as written, the merge combines their answers.
//!
//! The rows partition when the subquery, planned alone, is a scatter that only concatenates
//! (a co-located join with reference tables, subqueries that follow its rows), or groups by a
//! shard key (each group's rows live on one shard; windows partitioned by one, too); it has no
//! LIMIT or DISTINCT across shards. Anything else keeps the copies.
//!
//! The shards' column definitions name the derived table (and its column as the origin), so
//! the plan says where each column's strings come from (`ScatterPlan::over_derived`).

use super::*;
use crate::column_owner::{owner, Columns, Owner};
use sqlparser::ast::{Cte, With};

/// The derived table of a FROM list that holds just it, when its rows partition.
pub(super) struct PartitionedDerived<'t> {
    /// Stands for the derived table in the scatter builder: named by its alias, with the rule
    /// of a sharded table beneath it (for messages and per-table settings).
    pub table: TableRef<'t>,
    /// The shards holding its rows, ascending.
    pub shards: Vec<ShardId>,
    /// How many tables the subquery names: the statement may name no other.
    pub relations: usize,
    /// Each column of the derived table (lower-cased name) and where its values come from.
    columns: Vec<(String, ColumnOrigin)>,
}

/// The partitioned derived table `from` (of statement text `sql`) consists of, if that is
/// what it is: a derived table, or a reference to a CTE of `with` (the statement's).
pub(super) fn partitioned_derived<'t>(
    sql: &str,
    from: &[TableWithJoins],
    with: Option<&With>,
    topology: &'t Topology,
    syntax: Syntax,
) -> Option<PartitionedDerived<'t>> {
    let [twj] = from else { return None };
    if !twj.joins.is_empty() {
        return None;
    }
    let mut offsets = crate::rewrite::Offsets::new(sql);
    // Its body, the name the statement reads it by, its column list, the parentheses around
    // the body, and the table references naming it (the CTE reference is one).
    let (subquery, name, names, (open, close), references) = match &twj.relation {
        TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(alias),
            ..
        } => {
            let parens = crate::rewrite::subquery_parens(sql, &mut offsets, subquery, syntax)?;
            let alias_at = offsets.at(alias.name.span.start);
            if !crate::rewrite::closes_before_alias(sql, parens.1, alias_at) {
                return None;
            }
            let name = alias.name.value.to_ascii_lowercase();
            (subquery.as_ref(), name, &alias.columns, parens, 0)
        }
        TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => {
            let cte = own_cte(with, name)?;
            let base = base_name(name)?;
            let parens = crate::rewrite::subquery_parens(sql, &mut offsets, &cte.query, syntax)?;
            // `name [(columns)] AS (body)`: the parenthesis is the CTE's.
            let before = sql.get(..parens.0)?.trim_end();
            let as_at = before.len().checked_sub(2)?;
            if !before.get(as_at..)?.eq_ignore_ascii_case("as") {
                return None;
            }
            let name = alias
                .as_ref()
                .map_or(base, |a| a.name.value.to_ascii_lowercase());
            (cte.query.as_ref(), name, &cte.alias.columns, parens, 1)
        }
        _ => return None,
    };
    let SetExpr::Select(inner) = subquery.body.as_ref() else {
        return None;
    };
    let inner: &Select = inner;
    if subquery.with.is_some() || subquery.limit_clause.is_some() || subquery.fetch.is_some() {
        return None;
    }
    // Planned from its text as written: sqlparser's rendering of a literal need not read back
    // as the same value, which would place it elsewhere.
    let plan = crate::plan_sql(sql[open + 1..close].trim(), topology, syntax).ok()?;
    let shards = match plan.route {
        Route::Shard(shard) => vec![shard],
        Route::Scatter(scatter) => {
            let merge = &scatter.merge;
            if merge.distinct || merge.offset > 0 || merge.limit.is_some() {
                return None;
            }
            // Without LIMIT, a derived table's ORDER BY orders nothing.
            let concatenates =
                merge.aggregate.is_none() && merge.window.is_none() && merge.having.is_none();
            if !concatenates && !groups_by_shard_key(inner, topology) {
                return None;
            }
            scatter.shards
        }
        _ => return None,
    };
    let rule = plan.table.as_deref().and_then(|t| topology.table(t))?;
    Some(PartitionedDerived {
        table: TableRef::new(rule, name.clone(), Some(name), topology),
        shards,
        relations: relation_count(&Statement::Query(Box::new(subquery.clone()))) + references,
        columns: derived_columns(inner, names, topology)?,
    })
}

/// The non-recursive CTE of `with` (a statement's own) that table name `name` refers to.
pub(super) fn own_cte<'q>(with: Option<&'q With>, name: &ObjectName) -> Option<&'q Cte> {
    let base = base_name(name).filter(|_| name.0.len() == 1)?;
    (with.filter(|w| !w.recursive)?.cte_tables.iter())
        .find(|c| c.alias.name.value.eq_ignore_ascii_case(&base))
}

/// Whether `select` groups by the shard key of one of its sharded tables (co-located ones
/// are equal on it), so that each group's rows live on one shard.
fn groups_by_shard_key(select: &Select, topology: &Topology) -> bool {
    let GroupByExpr::Expressions(groups, modifiers) = &select.group_by else {
        return false;
    };
    // An outer join's NULL-extended rows make one NULL group across the shards.
    if !modifiers.is_empty() || has_outer_join(&select.from) {
        return false;
    }
    let (tables, only_table) = match single_table(&select.from, topology) {
        Some(table) => (vec![table], true),
        None => match crate::colocated::colocated_tables(
            &select.from,
            select.selection.as_ref(),
            topology,
            None,
        ) {
            Ok(Some(tables)) => (tables, false),
            _ => return false,
        },
    };
    groups
        .iter()
        .any(|g| tables.iter().any(|t| t.is_key_column(strip(g), only_table)))
}

/// The derived table's columns: their names (the alias list's, else each item's alias or
/// column name) and origins (a column of a table of the subquery, a constant, or unknown).
fn derived_columns(
    select: &Select,
    names: &[sqlparser::ast::TableAliasColumnDef],
    topology: &Topology,
) -> Option<Vec<(String, ColumnOrigin)>> {
    // The subquery's plain tables by the name they are qualified with.
    let mut tables: Vec<(String, String)> = Vec::new();
    for twj in &select.from {
        for relation in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation))
        {
            if let TableFactor::Table { name, alias, .. } = relation {
                let base = base_name(name)?;
                let qualifier = alias
                    .as_ref()
                    .map_or_else(|| base.clone(), |a| a.name.value.to_ascii_lowercase());
                tables.push((qualifier, base));
            }
        }
    }
    // An unqualified column is the one table's that has it (by the schema cache).
    let scope: Vec<Columns<'_>> = tables.iter().map(|(_, t)| Columns::Table(t)).collect();
    let schema = topology.schema.current();
    let owner_of = |column: &str| match tables.as_slice() {
        [(_, only)] => Some(only.clone()),
        _ => match owner(column, &scope, topology, &schema, &mut Vec::new()) {
            Owner::Table(k) => Some(tables[k].1.clone()),
            _ => None,
        },
    };
    let mut columns = Vec::with_capacity(select.projection.len());
    for (i, item) in select.projection.iter().enumerate() {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            // A `*` inside: its columns are not known here (their strings compare nowhere in
            // the merge), nor, with a list of names, which name is whose.
            _ if names.is_empty() => continue,
            _ => return None,
        };
        let origin = match strip(expr) {
            Expr::Identifier(id) => {
                owner_of(&id.value).map_or(ColumnOrigin::Expression, |table| ColumnOrigin::Column {
                    table,
                    column: id.value.clone(),
                })
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                let qualifier = parts[0].value.to_ascii_lowercase();
                match tables.iter().find(|(q, _)| *q == qualifier) {
                    Some((_, table)) => ColumnOrigin::Column {
                        table: table.clone(),
                        column: parts[1].value.clone(),
                    },
                    None => ColumnOrigin::Expression,
                }
            }
            Expr::Value(_) => ColumnOrigin::Constant,
            _ => ColumnOrigin::Expression,
        };
        let name = match (names.get(i), alias) {
            (Some(def), _) => def.name.value.clone(),
            (None, Some(alias)) => alias.value.clone(),
            (None, None) => name_rule(expr).unwrap_or_default(),
        };
        columns.push((name.to_ascii_lowercase(), origin));
    }
    Some(columns)
}

impl PartitionedDerived<'_> {
    /// The origins of the outer statement's columns (computed as if the derived table were a
    /// table) traced through it to the tables beneath.
    pub(super) fn trace(&self, origins: Vec<ColumnOrigin>) -> Vec<ColumnOrigin> {
        let beneath = |column: &str| {
            self.columns
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(column))
                .map_or(ColumnOrigin::Expression, |(_, origin)| origin.clone())
        };
        origins
            .into_iter()
            .map(|origin| match origin {
                ColumnOrigin::Column { column, .. } => beneath(&column),
                ColumnOrigin::Derived(columns) => {
                    let mut traced = Vec::with_capacity(columns.len());
                    for (_, column) in &columns {
                        match beneath(column) {
                            ColumnOrigin::Column { table, column } => traced.push((table, column)),
                            ColumnOrigin::Constant => {}
                            _ => return ColumnOrigin::Expression,
                        }
                    }
                    if traced.is_empty() {
                        ColumnOrigin::Constant
                    } else {
                        ColumnOrigin::Derived(traced)
                    }
                }
                other => other,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::parser::Parser;

    fn topology() -> Topology {
        crate::test_topology::two_shards(
            r#"
[[tables]]
name = "users"
shard_key = "id"
[[tables]]
name = "orders"
shard_key = "user_id"
[[tables]]
name = "products"
shard_key = "sku"
[[tables]]
name = "flags"
reference = true
"#,
        )
    }

    fn derived(sql: &str, topology: &Topology) -> Option<Vec<(String, ColumnOrigin)>> {
        let stmts = Parser::parse_sql(&MySqlDialect {}, sql).unwrap();
        let (q, select) = query_parts(&stmts[0]).unwrap();
        partitioned_derived(
            sql,
            &select.from,
            q.with.as_ref(),
            topology,
            Syntax::DEFAULT,
        )
        .map(|d| d.columns)
    }

    #[test]
    fn derived_tables_partition_when_each_shard_has_its_own_rows() {
        let t = topology();
        let partitioned = [
            "SELECT * FROM (SELECT o.user_id, o.total FROM orders o) d",
            "SELECT * FROM (SELECT user_id, SUM(total) s FROM orders GROUP BY user_id) d",
            "SELECT * FROM (SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id JOIN flags f ON f.flag = u.flag) d",
            "SELECT * FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY o.total) rn FROM orders o) d",
            // A CTE read once, as a derived table.
            "WITH d AS (SELECT user_id, SUM(total) s FROM orders GROUP BY user_id) SELECT * FROM d",
            "WITH d (who, s) AS (SELECT user_id, total FROM orders) SELECT COUNT(*) FROM d AS x",
        ];
        for sql in partitioned {
            assert!(derived(sql, &t).is_some(), "{sql}");
        }
        let not = [
            // Groups that span shards, rows cut by a LIMIT, DISTINCT across shards.
            "SELECT * FROM (SELECT status, COUNT(*) c FROM orders GROUP BY status) d",
            "SELECT * FROM (SELECT user_id FROM orders LIMIT 5) d",
            "SELECT * FROM (SELECT DISTINCT status FROM orders) d",
            // A join whose rows live on different shards.
            "SELECT * FROM (SELECT o.total FROM orders o JOIN products p ON p.sku = o.sku) d",
            // Next to another table.
            "SELECT * FROM (SELECT user_id FROM orders) d, users u",
            // A window over partitions that span shards.
            "SELECT * FROM (SELECT o.total, ROW_NUMBER() OVER (ORDER BY o.total) rn FROM orders o) d",
            // CTEs: grouped across shards, recursive, a table of another database.
            "WITH d AS (SELECT status, COUNT(*) c FROM orders GROUP BY status) SELECT * FROM d",
            "WITH RECURSIVE d AS (SELECT user_id FROM orders) SELECT * FROM d",
            "WITH d AS (SELECT user_id FROM orders) SELECT * FROM other.d",
        ];
        for sql in not {
            assert!(derived(sql, &t).is_none(), "{sql}");
        }
    }

    #[test]
    fn origins_are_traced_to_the_tables_beneath() {
        let t = topology();
        let sql = "SELECT * FROM (SELECT u.name AS who, o.total, CONCAT(u.name, '') AS c, 'x' AS k FROM users u JOIN orders o ON o.user_id = u.id) d";
        let columns = derived(sql, &t).unwrap();
        let column = |table: &str, column: &str| ColumnOrigin::Column {
            table: table.into(),
            column: column.into(),
        };
        assert_eq!(
            columns,
            vec![
                ("who".into(), column("users", "name")),
                ("total".into(), column("orders", "total")),
                ("c".into(), ColumnOrigin::Expression),
                ("k".into(), ColumnOrigin::Constant),
            ]
        );
        let stmts = Parser::parse_sql(&MySqlDialect {}, sql).unwrap();
        let (q, select) = query_parts(&stmts[0]).unwrap();
        let d =
            partitioned_derived(sql, &select.from, q.with.as_ref(), &t, Syntax::DEFAULT).unwrap();
        let outer = |c: &str| column("d", c);
        assert_eq!(
            d.trace(vec![
                outer("WHO"),
                outer("c"),
                ColumnOrigin::Derived(vec![("d".into(), "who".into()), ("d".into(), "k".into())]),
                ColumnOrigin::Derived(vec![("d".into(), "c".into())]),
                outer("missing"),
            ]),
            vec![
                column("users", "name"),
                ColumnOrigin::Expression,
                ColumnOrigin::Derived(vec![("users".into(), "name".into())]),
                ColumnOrigin::Expression,
                ColumnOrigin::Expression,
            ]
        );
    }
}
