//! The `Join` primitive's plan: a SELECT joining two sharded tables whose rows live on
//! different shards (not co-located), answered in the proxy from each side's rows instead of
//! from copies of both tables (`materialize.rs`).
//!
//! Taken for `SELECT <columns> FROM a [INNER | LEFT] JOIN b ON <equalities> [WHERE …]
//! [GROUP BY …] [ORDER BY …] [LIMIT …]` when every column reference resolves (by the schema cache)
//! to one side, each condition that is not a join equality reads one side only (and, for a
//! LEFT join, sits where filtering that side's rows first is what MariaDB does too), and the
//! compared columns compare in the proxy exactly as in MariaDB (integers and decimals by value,
//! strings of one collation the merge reproduces, other types only with their own type), and an
//! ORDER BY, if any, sorts a LEFT join looked up by key by its left table's columns (MariaDB
//! reports other sorted joins' columns with or without key flags depending on its plan).
//! Anything else keeps its materialize plan, which the join plan also carries: the executor
//! answers from copies where it cannot run the join (a transaction, a prepared statement's
//! binary rows, a result not in UTF-8).
//!
//! Each side's statement selects only the columns the statement reads of it, with the
//! conditions on that side alone. The strategy: a *batched lookup* (nested loop) when the
//! inner join column is the inner table's integer shard key — outer rows stream, and each
//! batch of their key values is sent to the inner table's owning shards only, `… AND key IN
//! (batch)` —, otherwise a *hash join* over the inner side's rows (read from all its shards,
//! held under `merge_max_rows` / `merge_max_bytes`) with the outer side streamed through it.
//!
//! A grouping SELECT (GROUP BY, aggregates) is planned by `grouping.rs`: the joined rows
//! carry its group columns and aggregate arguments, which the merge groups and aggregates.
//! An inner join of more tables takes the primitive when they fall into two sides, each a
//! group of co-located sharded tables with reference tables joined to them (`sides.rs`): each
//! side's statement is then a co-located join every shard answers for its own rows.

mod grouping;
mod semi;
mod sides;

use shardgate_config::{ShardKeyType, TableRule, Topology};
use shardgate_merge::{JoinKind, Value};
use shardgate_ring::{KeyValue, ShardId};
use shardgate_schema::{Column, TableColumns};
use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, LimitClause,
    OrderByKind, OrderBySort, Query, Select, SelectItem, SetExpr, Statement, TableFactor,
};

use crate::prune::{chain, shards_of, Keyed};
use crate::row_conditions::equality;
use crate::shard_key::{base_name, TableRef};
use crate::{MaterializePlan, MergeSpec, Plan, Route, Syntax};

/// Outer rows per lookup: one `IN` list of at most this many values per inner shard.
pub const LOOKUP_BATCH: usize = 256;

/// How the two sides meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStrategy {
    /// Outer rows streamed; each batch's key values looked up on the inner table's shards.
    BatchedLookup,
    /// The inner side's rows held in a hash table; the outer side streamed through it.
    Hash,
}

/// One side of the join: the statement that reads its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinSide {
    /// The table as configured.
    pub table: String,
    /// `SELECT <columns> FROM <table> [AS alias]`, as written.
    pub select: String,
    /// The conditions on this side alone, as written (`AND`ed), if any.
    pub filter: Option<String>,
    /// The shards holding its rows (pruned by shard-key conditions of `filter`).
    pub shards: Vec<ShardId>,
    /// How many columns `select` reads.
    pub width: usize,
    /// The join columns, positions in `select`'s list.
    pub keys: Vec<usize>,
    /// The first join column, qualified as written (`o.custkey`), for lookups and the plan.
    pub key_column: String,
}

impl JoinSide {
    /// The side's statement.
    pub fn sql(&self) -> String {
        match &self.filter {
            Some(filter) => format!("{} WHERE {filter}", self.select),
            None => self.select.clone(),
        }
    }

    /// The side's statement for no rows (its column definitions only).
    pub fn metadata_sql(&self) -> String {
        format!("{} WHERE 0", self.select)
    }

    /// The side's statement for the rows whose key is one of `values` (SQL literals).
    pub fn lookup_sql(&self, values: &str) -> String {
        let lookup = format!("{} IN ({values})", self.key_column);
        match &self.filter {
            Some(filter) => format!("{} WHERE {filter} AND {lookup}", self.select),
            None => format!("{} WHERE {lookup}", self.select),
        }
    }
}

/// A SELECT joining two sharded tables in the proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinPlan {
    pub strategy: JoinStrategy,
    pub kind: JoinKind,
    /// Streamed; its rows come first in a joined row.
    pub outer: JoinSide,
    /// Looked up by batch, or held in the hash table.
    pub inner: JoinSide,
    /// The select list: positions in the joined row (outer cells, then inner cells). For a
    /// grouping statement, its raw columns (what `grouping` reads).
    pub output: Vec<usize>,
    /// ORDER BY over joined positions, `true` for DESC.
    pub order_by: Vec<(usize, bool)>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// GROUP BY and aggregates over the projected rows, which are sorted by its `merge_keys`
    /// first (see `grouping.rs`). Then `order_by` is empty and there is no offset or limit.
    pub grouping: Option<MergeSpec>,
    /// The plan used where the join cannot run (see the module's comment).
    pub fallback: MaterializePlan,
}

impl JoinPlan {
    /// The inner statements of one batch's lookup: each owning shard with its own values
    /// (integers, the inner table's shard key).
    pub fn lookups(&self, topology: &Topology, values: &[Value]) -> Vec<(ShardId, String)> {
        let rule = topology.table(&self.inner.table);
        let mut per_shard: Vec<Vec<String>> = vec![Vec::new(); topology.shards.len()];
        for value in values {
            let (key, text) = match value {
                Value::Int(v) => (i128::from(*v), v.to_string()),
                Value::UInt(v) => (i128::from(*v), v.to_string()),
                _ => continue,
            };
            let shard = rule.and_then(|r| r.shard_for(&KeyValue::Int(key)).ok());
            match shard {
                Some(shard) => per_shard[shard].push(text),
                // Unplaceable: ask every shard the side reads.
                None => {
                    for &s in &self.inner.shards {
                        per_shard[s].push(text.clone());
                    }
                }
            }
        }
        per_shard
            .into_iter()
            .enumerate()
            .filter(|(shard, v)| !v.is_empty() && self.inner.shards.contains(shard))
            .map(|(shard, v)| (shard, self.inner.lookup_sql(&v.join(", "))))
            .collect()
    }
}

/// `plan` (a materialize plan of `stmt`) as a join in the proxy when the statement takes the
/// `Join` primitive; otherwise `plan` unchanged. A table the schema cache does not hold (yet,
/// or since DDL made it forget it) keeps the copies: asking for it here would also change
/// which conditions other materialized statements push down.
pub(crate) fn prefer(sql: &str, syntax: Syntax, topology: &Topology, plan: Plan) -> Plan {
    let Route::Materialize(fallback) = &plan.route else {
        return plan;
    };
    let verbatim = crate::lex::parse_verbatim(sql, syntax);
    let Some([Statement::Query(query)]) = verbatim.as_deref() else {
        return plan;
    };
    match join_of(sql, query, syntax, topology, fallback) {
        Some(join) => Plan {
            route: Route::Join(Box::new(join)),
            ..plan
        },
        None => with_tables_to_read(query, topology, plan),
    }
}

/// `plan` with the tables of its FROM clause whose columns the schema cache lacks added to
/// those the executor reads before it runs the statement (`MaterializePlan::uncached`), which
/// then plans it again: after DDL through the proxy made the cache forget them, a join across
/// shards takes the Join primitive from its first run, not copies until the cache's refresh.
fn with_tables_to_read(query: &Query, topology: &Topology, mut plan: Plan) -> Plan {
    let (SetExpr::Select(select), Route::Materialize(fallback)) =
        (query.body.as_ref(), &mut plan.route)
    else {
        return plan;
    };
    let schema = topology.schema.current();
    for (factor, _) in crate::materialize::factors(&select.from) {
        let Some((name, _)) = crate::shard_key::plain_table(factor) else {
            continue;
        };
        let Some(base) = base_name(name) else {
            continue;
        };
        let table = match topology.table(&base) {
            Some(rule) => rule.name.clone(),
            None if topology.is_reference(&base) => base,
            None => continue,
        };
        let unknown = schema.agreed(&table).is_none() && schema.disagreement(&table).is_none();
        if unknown && !fallback.uncached.contains(&table) {
            fallback.uncached.push(table);
        }
    }
    plan
}

/// A table of the FROM clause.
struct SideTable<'a> {
    /// Its rule; `None` for a reference table.
    rule: Option<&'a TableRule>,
    /// Its shard key places rows exactly (`TableRef::keys_exact`).
    keys_exact: bool,
    /// Name used in SQL (lower-cased), and alias if any.
    name: String,
    alias: Option<String>,
    columns: &'a TableColumns,
    /// Its FROM text: name as written and alias.
    from: String,
    /// What qualifies its columns, as written: its alias, or its name (MariaDB compares
    /// table names and aliases case-sensitively where the file system does).
    qualifier: String,
}

impl<'a> SideTable<'a> {
    /// The column `name` qualified by this table's alias or name.
    fn qualified(&self, name: &str) -> String {
        format!("`{}`.`{name}`", self.qualifier.replace('`', "``"))
    }

    fn is_named(&self, qualifier: &Ident) -> bool {
        let name = self.alias.as_deref().unwrap_or(&self.name);
        qualifier.value.eq_ignore_ascii_case(name)
    }

    /// As a sharded table's reference (`None` for a reference table).
    fn table_ref(&self) -> Option<TableRef<'a>> {
        Some(TableRef {
            rule: self.rule?,
            name: self.name.clone(),
            alias: self.alias.clone(),
            keys_exact: self.keys_exact,
        })
    }
}

/// One side of the join while planning: one sharded table, or co-located ones with reference
/// tables (`sides.rs`).
struct Side<'a> {
    tables: Vec<SideTable<'a>>,
    /// Select-list texts of its columns.
    items: Vec<String>,
    /// Its conditions.
    filter: Vec<&'a Expr>,
    keys: Vec<usize>,
    /// A condition holds a subquery: the planner must confirm its statement (`finish`).
    subqueries: bool,
    /// Memberships narrowing its rows to those joining the other side's reference tables
    /// (`narrow_by_references`).
    narrowing: Vec<String>,
}

impl<'a> Side<'a> {
    fn of(tables: Vec<SideTable<'a>>) -> Self {
        Side {
            tables,
            items: Vec::new(),
            filter: Vec::new(),
            keys: Vec::new(),
            subqueries: false,
            narrowing: Vec::new(),
        }
    }

    /// The position of `item` in this side's list, added if new.
    fn item(&mut self, item: String) -> usize {
        match self.items.iter().position(|i| *i == item) {
            Some(p) => p,
            None => {
                self.items.push(item);
                self.items.len() - 1
            }
        }
    }

    /// The table `t`'s column `name`, qualified, as a hidden item.
    fn hidden(&mut self, t: usize, name: &str) -> usize {
        let item = self.tables[t].qualified(name);
        self.item(item)
    }

    /// The table whose rule places this side's rows: the first sharded one (every side has
    /// one).
    fn placing(&self) -> Option<TableRef<'a>> {
        self.tables.iter().find_map(SideTable::table_ref)
    }
}

/// A column reference among `tables` (side, table, table): its side, table and column. An
/// unqualified name must be one table's only.
fn find<'c, 't>(
    expr: &Expr,
    tables: impl Iterator<Item = (usize, usize, &'t SideTable<'c>)>,
) -> Option<(usize, usize, &'c Column)>
where
    'c: 't,
{
    let found: Vec<(usize, usize, &'c Column)> = match expr {
        Expr::Identifier(id) => tables
            .filter_map(|(s, t, table)| table.columns.column(&id.value).map(|c| (s, t, c)))
            .collect(),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => tables
            .filter(|(_, _, table)| table.is_named(&parts[0]))
            .filter_map(|(s, t, table)| table.columns.column(&parts[1].value).map(|c| (s, t, c)))
            .collect(),
        _ => return None,
    };
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// A resolved column reference: its side, its table in the side, and the column.
fn resolve_in<'c>(expr: &Expr, sides: &[Side<'c>; 2]) -> Option<(usize, usize, &'c Column)> {
    let tables = sides.iter().enumerate().flat_map(|(s, side)| {
        (side.tables.iter().enumerate()).map(move |(t, table)| (s, t, table))
    });
    find(expr, tables)
}

/// A resolved column reference: its side and column.
fn resolve<'c>(expr: &Expr, sides: &[Side<'c>; 2]) -> Option<(usize, &'c Column)> {
    resolve_in(expr, sides).map(|(s, _, c)| (s, c))
}

/// Which side an expression reads, when it reads exactly one through whitelisted operators.
fn side_of(expr: &Expr, sides: &[Side<'_>; 2]) -> Option<usize> {
    (0..2).find(|&s| {
        crate::pushable::pushable(expr, &|e| resolve(e, sides).is_some_and(|(t, _)| t == s))
    })
}

/// How a column's values compare, from its `information_schema` type.
#[derive(Debug, Clone, PartialEq)]
enum Compares {
    /// Integers and decimals: exactly by value.
    Exact,
    /// Strings by a collation the merge reproduces (`None`: binary strings).
    String(Option<String>),
    /// Anything else the merge orders: only with its own type.
    Own(String),
    /// Not compared in the proxy (floating point, ENUM, SET, BIT, JSON …).
    No,
}

fn compares(column: &Column) -> Compares {
    let base = column.base_type();
    match base.as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "decimal" => Compares::Exact,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            match column.collation.as_deref() {
                Some(c) if exact_collation(c) => Compares::String(Some(c.to_ascii_lowercase())),
                _ => Compares::No,
            }
        }
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            Compares::String(None)
        }
        "date" | "datetime" | "timestamp" | "time" | "year" => Compares::Own(base),
        _ => Compares::No,
    }
}

/// Collations the merge compares exactly (see `shardgate_merge::Collation`).
fn exact_collation(name: &str) -> bool {
    shardgate_merge::collation_id(&name.to_ascii_lowercase())
        .is_some_and(shardgate_merge::exact_collation)
}

fn number(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The join plan of `query`, or `None` when it does not take the `Join` primitive.
fn join_of(
    sql: &str,
    query: &Query,
    syntax: Syntax,
    topology: &Topology,
    fallback: &MaterializePlan,
) -> Option<JoinPlan> {
    if !plain_query(query) {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if !plain_select(select) {
        return None;
    }
    if let Some(plan) = semi::semi_join_of(sql, query, select, syntax, topology, fallback) {
        return Some(plan);
    }
    let (factors, kind, on) = from_tables(select)?;
    let schema = topology.schema.current();
    let tables: Vec<SideTable<'_>> = (factors.iter())
        .map(|f| side_table(f, topology, &schema))
        .collect::<Option<_>>()?;
    for (i, a) in tables.iter().enumerate() {
        let same = |b: &SideTable<'_>| a.name == b.name && a.alias == b.alias;
        if tables[i + 1..].iter().any(same) {
            return None;
        }
    }
    let where_parts: Vec<&Expr> = (select.selection.iter())
        .flat_map(|w| chain(w, &BinaryOperator::And))
        .collect();
    let mut sides = match <[SideTable<'_>; 2]>::try_from(tables) {
        Ok([a, b]) => [Side::of(vec![a]), Side::of(vec![b])],
        Err(tables) => {
            let conditions: Vec<&Expr> = on.iter().chain(&where_parts).copied().collect();
            sides::partition(tables, &conditions)?
        }
    };
    // Join equalities and each side's own conditions.
    let mut pairs: Vec<[KeyColumn<'_>; 2]> = Vec::new();
    for &part in &on {
        if let Some(pair) = join_pair(part, &sides) {
            pairs.push(pair);
            continue;
        }
        if let Some(s) = side_with_subqueries(part, &sides).filter(|_| kind == JoinKind::Inner) {
            sides[s].filter.push(part);
            sides[s].subqueries = true;
            continue;
        }
        // Another ON condition filters the right side's rows first; on a LEFT join's left
        // side it would decide matches, not rows.
        match side_of(part, &sides) {
            Some(1) => sides[1].filter.push(part),
            Some(0) if kind == JoinKind::Inner => sides[0].filter.push(part),
            _ => return None,
        }
    }
    for &part in &where_parts {
        // An inner join's WHERE joins as its ON does.
        if let Some(pair) = join_pair(part, &sides).filter(|_| kind == JoinKind::Inner) {
            pairs.push(pair);
            continue;
        }
        if let Some(s) = side_with_subqueries(part, &sides).filter(|_| kind == JoinKind::Inner) {
            sides[s].filter.push(part);
            sides[s].subqueries = true;
            continue;
        }
        // WHERE on a LEFT join's right side sees the NULL-extended rows.
        match side_of(part, &sides) {
            Some(0) => sides[0].filter.push(part),
            Some(1) if kind == JoinKind::Inner => sides[1].filter.push(part),
            _ => return None,
        }
    }
    if kind == JoinKind::Inner {
        let conditions: Vec<&Expr> = on.iter().chain(&where_parts).copied().collect();
        narrow_by_references(query, select, &conditions, &mut sides, topology);
    }
    plan_over(
        sql, syntax, query, select, sides, &pairs, kind, topology, fallback,
    )
}

/// Gives each side of an inner join the memberships its columns equal to a reference table's
/// of the other side imply: only the values of that table's rows its own conditions keep
/// (`reference_semijoin::reference_values`) can join. TPC-H Q5's `customer` side reads only
/// the customers of the region's nations (`c_nationkey = s_nationkey`, the supplier's nation
/// in region 'ASIA'), not every customer.
fn narrow_by_references(
    query: &Query,
    select: &Select,
    conditions: &[&Expr],
    sides: &mut [Side<'_>; 2],
    topology: &Topology,
) {
    let ctes = crate::block_scope::cte_names(query);
    let scope = crate::block_scope::BlockScope::of(select, &ctes);
    let schema = topology.schema.current();
    let is_reference = |e: &Expr| {
        (scope.owner(e, topology, &schema))
            .and_then(|t| scope.table(t))
            .is_some_and(|t| topology.is_reference(t))
    };
    for (left, right) in conditions.iter().filter_map(|c| equality(c)) {
        for (mine, theirs) in [(left, right), (right, left)] {
            let (Some((s, _)), Some((t, _))) = (resolve(mine, sides), resolve(theirs, sides))
            else {
                continue;
            };
            if s == t || !is_reference(theirs) {
                continue;
            }
            let values = crate::reference_semijoin::reference_values(
                select, &scope, &ctes, theirs, topology, &schema,
            );
            if let Some(values) = values {
                sides[s].narrowing.push(format!("({mine} IN ({values}))"));
            }
        }
    }
}

/// The join plan of `select` (of `query`) once its tables are in `sides` with their own
/// conditions and `pairs` join them: the select list, ORDER BY, LIMIT or grouping over the
/// joined rows.
#[allow(clippy::too_many_arguments)]
fn plan_over(
    sql: &str,
    syntax: Syntax,
    query: &Query,
    select: &Select,
    mut sides: [Side<'_>; 2],
    pairs: &[[KeyColumn<'_>; 2]],
    kind: JoinKind,
    topology: &Topology,
    fallback: &MaterializePlan,
) -> Option<JoinPlan> {
    if pairs.is_empty() {
        return None;
    }
    for [(_, a), (_, b)] in pairs {
        let (ca, cb) = (compares(a), compares(b));
        if ca == Compares::No || ca != cb {
            return None;
        }
    }
    if grouping::groups(query, select, &sides) {
        let grouped = grouping::plan(sql, syntax, query, select, &mut sides)?;
        return finish_join(sides, pairs, kind, topology, syntax, fallback, |joined| {
            let output = grouped.raw.iter().map(|&r| joined(r)).collect();
            (output, Vec::new(), 0, None, Some(grouped.merge))
        });
    }
    if !no_grouping(select) {
        return None;
    }
    // The select list, each item on its side.
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut aliases: Vec<Option<&Ident>> = Vec::new();
    // The column an item shows; `None` for an expression (not sorted by here).
    let mut item_columns: Vec<(usize, Option<&Column>)> = Vec::new();
    let schema = topology.schema.current();
    for item in &select.projection {
        // `*` / `t.*`: the columns MariaDB puts in their place (the schema cache's order).
        if let SelectItem::Wildcard(options) | SelectItem::QualifiedWildcard(_, options) = item {
            let plain = options.opt_ilike.is_none()
                && options.opt_exclude.is_none()
                && options.opt_except.is_none()
                && options.opt_replace.is_none()
                && options.opt_rename.is_none()
                && options.opt_alias.is_none();
            if !plain {
                return None;
            }
            for c in crate::star::expand(item, &select.from, &schema).ok()? {
                let expr = Expr::CompoundIdentifier(vec![
                    Ident::new(c.qualifier.clone()),
                    Ident::new(c.name.clone()),
                ]);
                let (s, column) = resolve(&expr, &sides)?;
                let quote = |name: &str| format!("`{}`", name.replace('`', "``"));
                let position = sides[s].item(format!("{}.{}", quote(&c.qualifier), quote(&c.name)));
                items.push((s, position));
                aliases.push(None);
                item_columns.push((s, Some(column)));
            }
            continue;
        }
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            _ => return None,
        };
        let (s, column) = match resolve(expr, &sides) {
            Some((s, column)) => (s, Some(column)),
            // An expression of one side's columns, computed by its shards: named by its alias
            // (MariaDB names an unnamed one by its text as written), and not of a side an
            // outer join NULL-extends, whose NULL rows it would not be computed for.
            None if alias.is_some() => match side_of(expr, &sides)? {
                1 if kind != JoinKind::Inner => return None,
                s => (s, None),
            },
            None => return None,
        };
        let text = match alias {
            Some(alias) => format!("{expr} AS {alias}"),
            None => expr.to_string(),
        };
        let position = sides[s].item(text);
        items.push((s, position));
        aliases.push(alias);
        item_columns.push((s, column));
    }
    // ORDER BY: a select-list alias or position, or a column of either side.
    let mut order: Vec<((usize, usize), bool)> = Vec::new();
    if let Some(order_by) = &query.order_by {
        let OrderByKind::Expressions(exprs) = &order_by.kind else {
            return None;
        };
        if order_by.interpolate.is_some() {
            return None;
        }
        for o in exprs {
            if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                return None;
            }
            let descending = o.options.sort == Some(OrderBySort::Desc);
            let by_alias = match &o.expr {
                Expr::Identifier(id) => aliases
                    .iter()
                    .position(|a| a.is_some_and(|a| a.value.eq_ignore_ascii_case(&id.value))),
                _ => None,
            };
            let (target, column) = if let Some(n) = number(&o.expr) {
                let i = usize::try_from(n).ok()?.checked_sub(1)?;
                (*items.get(i)?, item_columns[i].1?)
            } else if let Some(i) = by_alias {
                // A name that is both an alias and a column is MariaDB's to resolve.
                if resolve(&o.expr, &sides).is_some() {
                    return None;
                }
                (items[i], item_columns[i].1?)
            } else {
                let (s, t, column) = resolve_in(&o.expr, &sides)?;
                // A column the select list shows sorts by that item; another is read hidden.
                let shown = (0..items.len()).find(|&i| {
                    items[i].0 == s && item_columns[i].1.is_some_and(|c| std::ptr::eq(c, column))
                });
                match shown {
                    Some(i) => (items[i], column),
                    None => ((s, sides[s].hidden(t, &column.name)), column),
                }
            };
            if matches!(compares(column), Compares::No) {
                return None;
            }
            order.push((target, descending));
        }
    }
    let (offset, limit) = limit_of(query)?;
    // (MariaDB describes a sorted join's columns by how it joined: rows sorted through a
    // temporary table lose their key flags. The executor asks its plan: `ResultSource`.)
    finish_join(sides, pairs, kind, topology, syntax, fallback, |joined| {
        let output = items.iter().map(|&i| joined(i)).collect();
        let order_by = order.iter().map(|&(t, d)| (joined(t), d)).collect();
        (output, order_by, offset, limit, None)
    })
}

/// What follows the join, given where each (side, position) lands in a joined row: the
/// projection, ORDER BY, offset, limit and grouping of `JoinPlan`.
type AfterJoin = (
    Vec<usize>,
    Vec<(usize, bool)>,
    u64,
    Option<u64>,
    Option<MergeSpec>,
);

/// The side a condition with subqueries belongs to: every column it names, inside its
/// subqueries too, is a column of that side's tables and of none of the other's (a subquery's
/// own tables may be that side's tables again, as in a semi-join on the shard key). The
/// planner then confirms the side's statement, subqueries included, is one each shard answers
/// from its own rows (`finish`).
fn side_with_subqueries(part: &Expr, sides: &[Side<'_>; 2]) -> Option<usize> {
    use std::ops::ControlFlow;
    let mut subquery = false;
    let mut read = [false, false];
    let named = |s: usize, column: &Ident| {
        (sides[s].tables.iter()).any(|t| t.columns.column(&column.value).is_some())
    };
    let flow = sqlparser::ast::visit_expressions(part, |e| {
        match e {
            Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => subquery = true,
            Expr::Identifier(id) => {
                for (s, side_read) in read.iter_mut().enumerate() {
                    *side_read |= named(s, id);
                }
            }
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [qualifier, column] => {
                    for (s, side_read) in read.iter_mut().enumerate() {
                        let table = sides[s].tables.iter().find(|t| t.is_named(qualifier));
                        *side_read |= table.is_some_and(|_| named(s, column));
                        if table.is_some() && !named(s, column) {
                            return ControlFlow::Break(());
                        }
                    }
                }
                _ => return ControlFlow::Break(()),
            },
            _ => {}
        }
        ControlFlow::Continue(())
    });
    match (flow.is_break(), subquery, read) {
        (false, true, [true, false]) => Some(0),
        (false, true, [false, true]) => Some(1),
        _ => None,
    }
}

/// An equality between a column of each side, left side's first.
fn join_pair<'a>(part: &Expr, sides: &[Side<'a>; 2]) -> Option<[KeyColumn<'a>; 2]> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = part
    else {
        return None;
    };
    match (resolve_in(left, sides)?, resolve_in(right, sides)?) {
        ((0, lt, lc), (1, rt, rc)) => Some([(lt, lc), (rt, rc)]),
        ((1, lt, lc), (0, rt, rc)) => Some([(rt, rc), (lt, lc)]),
        _ => None,
    }
}

/// A join column: its table's position in the side, and the column.
type KeyColumn<'a> = (usize, &'a Column);

/// The side looked up by key, if either: the one joined on its own integer shard key (a LEFT
/// join's right side only, which the caller checks).
fn lookup_side(sides: &[Side<'_>; 2], pairs: &[[KeyColumn<'_>; 2]]) -> Option<usize> {
    let by_key = |s: usize| {
        let [pair] = pairs else {
            return false;
        };
        let ((t, column), (_, other)) = (pair[s], pair[1 - s]);
        let Some(rule) = sides[s].tables[t].rule else {
            return false;
        };
        rule.key_type == ShardKeyType::Integer
            && column.name.eq_ignore_ascii_case(&rule.shard_key)
            && column_is_integer(column)
            && column_is_integer(other)
    };
    [1, 0].into_iter().find(|&s| by_key(s))
}

/// The plan: join keys, the strategy and which side streams, each side's statement.
fn finish_join(
    mut sides: [Side<'_>; 2],
    pairs: &[[KeyColumn<'_>; 2]],
    kind: JoinKind,
    topology: &Topology,
    syntax: Syntax,
    fallback: &MaterializePlan,
    after: impl FnOnce(&dyn Fn((usize, usize)) -> usize) -> AfterJoin,
) -> Option<JoinPlan> {
    for [(ta, ca), (tb, cb)] in pairs {
        let pa = sides[0].hidden(*ta, &ca.name);
        let pb = sides[1].hidden(*tb, &cb.name);
        sides[0].keys.push(pa);
        sides[1].keys.push(pb);
    }
    // The table each side is looked up by: its first join column's.
    let key_tables = [pairs[0][0].0, pairs[0][1].0];
    // The side looked up streams the other's rows (a LEFT, semi- or anti-join's right side
    // only).
    let (outer, strategy) = match lookup_side(&sides, pairs) {
        Some(1) => (0, JoinStrategy::BatchedLookup),
        Some(_) if kind == JoinKind::Inner => (1, JoinStrategy::BatchedLookup),
        _ => (0, JoinStrategy::Hash),
    };
    let widths = [sides[0].items.len(), sides[1].items.len()];
    let joined = |(s, p): (usize, usize)| if s == outer { p } else { widths[outer] + p };
    let (output, order_by, offset, limit, grouping) = after(&joined);
    let [a, b] = sides;
    let mut built = [
        finish(a, key_tables[0], false, topology, syntax)?,
        // A semi- or anti-join's hash side: its distinct keys (a lookup reads a batch's).
        finish(
            b,
            key_tables[1],
            !kind.emits_inner() && strategy == JoinStrategy::Hash,
            topology,
            syntax,
        )?,
    ];
    built.swap(0, outer);
    let [outer_side, inner_side] = built;
    Some(JoinPlan {
        strategy,
        kind,
        outer: outer_side,
        inner: inner_side,
        output,
        order_by,
        offset,
        limit,
        grouping,
        fallback: fallback.clone(),
    })
}

pub(crate) fn column_is_integer(column: &Column) -> bool {
    matches!(
        column.base_type().as_str(),
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
    )
}

/// No GROUP BY, HAVING or DISTINCT.
fn no_grouping(select: &Select) -> bool {
    let no_group_by = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => exprs.is_empty() && modifiers.is_empty(),
        GroupByExpr::All(_) => false,
    };
    no_group_by && select.having.is_none() && select.distinct.is_none()
}

/// A query with no clause around its body the join does not evaluate (CTEs, FETCH, locks, FOR
/// …); its ORDER BY and LIMIT are checked by the caller.
fn plain_query(query: &Query) -> bool {
    query.with.is_none()
        && query.fetch.is_none()
        && query.locks.is_empty()
        && query.for_clause.is_none()
        && query.settings.is_none()
        && query.format_clause.is_none()
        && query.pipe_operators.is_empty()
}

/// A SELECT block with nothing the join does not evaluate (no windows, INTO, modifiers; its
/// grouping is checked by `no_grouping` or `grouping.rs`).
fn plain_select(select: &Select) -> bool {
    select.select_modifiers.is_none()
        && select.optimizer_hints.is_empty()
        && select.top.is_none()
        && select.exclude.is_none()
        && select.into.is_none()
        && select.lateral_views.is_empty()
        && select.prewhere.is_none()
        && select.connect_by.is_empty()
        && select.cluster_by.is_empty()
        && select.distribute_by.is_empty()
        && select.sort_by.is_empty()
        && select.named_window.is_empty()
        && select.qualify.is_none()
        && select.value_table_mode.is_none()
}

/// The tables of the FROM clause, the join's kind, and its ON conditions: two tables joined
/// `INNER` or `LEFT`, or more joined inner (a comma list, `JOIN … ON`, `CROSS JOIN`).
fn from_tables(select: &Select) -> Option<(Vec<&TableFactor>, JoinKind, Vec<&Expr>)> {
    let mut factors = Vec::new();
    let mut kind = JoinKind::Inner;
    let mut on = Vec::new();
    for from in &select.from {
        factors.push(&from.relation);
        for join in &from.joins {
            match &join.join_operator {
                JoinOperator::Join(JoinConstraint::On(c))
                | JoinOperator::Inner(JoinConstraint::On(c)) => {
                    on.extend(chain(c, &BinaryOperator::And));
                }
                JoinOperator::CrossJoin(JoinConstraint::None) => {}
                JoinOperator::Left(JoinConstraint::On(c))
                | JoinOperator::LeftOuter(JoinConstraint::On(c))
                    if select.from.len() == 1 && from.joins.len() == 1 =>
                {
                    kind = JoinKind::Left;
                    on.extend(chain(c, &BinaryOperator::And));
                }
                _ => return None,
            }
            factors.push(&join.relation);
        }
    }
    (factors.len() >= 2).then_some((factors, kind, on))
}

/// A plain sharded or reference table of the FROM clause.
fn side_table<'a>(
    factor: &'a TableFactor,
    topology: &'a Topology,
    schema: &'a shardgate_schema::SchemaStatus,
) -> Option<SideTable<'a>> {
    let (name, alias) = crate::shard_key::plain_table(factor)?;
    if alias.is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let base = base_name(name)?;
    let rule: Option<&TableRule> = topology.table(&base);
    if rule.is_none() && !topology.is_reference(&base) {
        return None;
    }
    let columns = schema.agreed(rule.map_or(&base, |r| &r.name))?;
    let from = match alias {
        Some(alias) => format!("{name} AS {}", alias.name),
        None => name.to_string(),
    };
    let qualifier = match alias {
        Some(alias) => alias.name.value.clone(),
        None => (name.0.last().and_then(|part| part.as_ident()))
            .map_or_else(|| base.clone(), |ident| ident.value.clone()),
    };
    Some(SideTable {
        rule,
        keys_exact: rule.is_some_and(|r| crate::key_placement::keys_exact(r, topology)),
        name: base,
        alias: alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
        columns,
        from,
        qualifier,
    })
}

/// The side's statement, and the shards it reads: those its key conditions leave. A side of
/// several tables is planned as a statement of its own, which must read each shard's rows as
/// they are (a co-located join: a scatter that only concatenates, or one shard).
/// `key_table`: the table its lookups go by. `matched_only`: only whether its rows match
/// counts (a semi- or anti-join's inner side), so one table's side reads its distinct rows.
fn finish(
    side: Side<'_>,
    key_table: usize,
    matched_only: bool,
    topology: &Topology,
    syntax: Syntax,
) -> Option<JoinSide> {
    let conditions: Vec<String> = (side.filter.iter())
        .map(|f| format!("({f})"))
        .chain(side.narrowing.iter().cloned())
        .collect();
    let filter = (!conditions.is_empty()).then(|| conditions.join(" AND "));
    let from: Vec<&str> = side.tables.iter().map(|t| t.from.as_str()).collect();
    // (A side of several tables must stay a statement each shard answers by concatenation.)
    let distinct = match matched_only && side.tables.len() == 1 {
        true => "DISTINCT ",
        false => "",
    };
    let select = format!(
        "SELECT {distinct}{} FROM {}",
        side.items.join(", "),
        from.join(", ")
    );
    let shards = match side.tables.as_slice() {
        [one] if !side.subqueries => {
            let table = one.table_ref()?;
            let mut shards: Vec<ShardId> = (0..topology.shards.len()).collect();
            let keyed = Keyed {
                table: &table,
                only_table: false,
                // The tree was parsed verbatim: its strings are as written.
                written: Some(syntax),
            };
            if let Some(owning) = shards_of(&side.filter, &[keyed]) {
                shards.retain(|s| owning.contains(s));
            }
            shards
        }
        _ => {
            let sql = match &filter {
                Some(filter) => format!("{select} WHERE {filter}"),
                None => select.clone(),
            };
            sides::shards_reading(&sql, topology, syntax)?
        }
    };
    let key_column = side.items[side.keys[0]].clone();
    let table = side.tables[key_table]
        .table_ref()
        .or_else(|| side.placing())?;
    Some(JoinSide {
        table: table.rule.name.clone(),
        select,
        filter,
        shards,
        width: side.items.len(),
        keys: side.keys,
        key_column,
    })
}

fn limit_of(q: &Query) -> Option<(u64, Option<u64>)> {
    match &q.limit_clause {
        None => Some((0, None)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => {
            let offset = match offset {
                Some(o) => Some(number(&o.value)?),
                None => None,
            };
            let limit = match limit {
                Some(l) => Some(number(l)?),
                None => None,
            };
            Some((offset.unwrap_or(0), limit))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            Some((number(offset)?, Some(number(limit)?)))
        }
        Some(_) => None,
    }
}
