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

mod grouping;

use shardgate_config::{ShardKeyType, TableRule, Topology};
use shardgate_merge::{JoinKind, Value};
use shardgate_ring::{KeyValue, ShardId};
use shardgate_schema::{Column, TableColumns};
use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, LimitClause,
    OrderByKind, OrderBySort, Query, Select, SelectItem, SetExpr, Statement, TableFactor,
};

use crate::prune::{chain, shards_of, Keyed};
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
        None => plan,
    }
}

/// One table of the join while planning.
struct Side<'a> {
    table: TableRef<'a>,
    columns: &'a TableColumns,
    /// Its FROM text: name as written and alias.
    from: String,
    /// Select-list texts of its columns.
    items: Vec<String>,
    /// Its conditions.
    filter: Vec<&'a Expr>,
    keys: Vec<usize>,
}

impl<'a> Side<'a> {
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

    /// The column `name` qualified by this side's alias or name, as a hidden item.
    fn qualified(&self, name: &str) -> String {
        let qualifier = self.table.alias.as_deref().unwrap_or(&self.table.name);
        format!("`{qualifier}`.`{name}`")
    }
}

/// A resolved column reference: its side and column.
fn resolve<'c>(expr: &Expr, sides: &[Side<'c>; 2]) -> Option<(usize, &'c Column)> {
    match expr {
        Expr::Identifier(id) => {
            let found: Vec<(usize, &Column)> = (0..2)
                .filter_map(|s| sides[s].columns.column(&id.value).map(|c| (s, c)))
                .collect();
            match found.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        }
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => (0..2).find_map(|s| {
            (sides[s].table.is_named(&parts[0]))
                .then(|| sides[s].columns.column(&parts[1].value))
                .flatten()
                .map(|c| (s, c))
        }),
        _ => None,
    }
}

/// Which side an expression reads, when it reads exactly one through whitelisted operators.
fn side_of(expr: &Expr, sides: &[Side<'_>; 2]) -> Option<usize> {
    (0..2).find(|&s| {
        crate::materialize::pushable(expr, &|e| resolve(e, sides).is_some_and(|(t, _)| t == s))
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
    let ty = column.column_type.to_ascii_lowercase();
    let base = ty.split(['(', ' ']).next().unwrap_or_default().to_owned();
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
    let name = name.to_ascii_lowercase();
    let utf8 = ["utf8mb4_", "utf8mb3_", "utf8_"]
        .iter()
        .any(|p| name.starts_with(p));
    utf8 && (name.ends_with("_general_ci") && name.matches('_').count() == 2
        || name.ends_with("_bin") && name.matches('_').count() == 1)
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
    if query.with.is_some()
        || query.fetch.is_some()
        || !query.locks.is_empty()
        || query.for_clause.is_some()
        || query.settings.is_some()
        || query.format_clause.is_some()
        || !query.pipe_operators.is_empty()
    {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if !plain_select(select) {
        return None;
    }
    let [from] = select.from.as_slice() else {
        return None;
    };
    let [join] = from.joins.as_slice() else {
        return None;
    };
    let (kind, on) = match &join.join_operator {
        JoinOperator::Join(JoinConstraint::On(on))
        | JoinOperator::Inner(JoinConstraint::On(on)) => (JoinKind::Inner, on),
        JoinOperator::Left(JoinConstraint::On(on))
        | JoinOperator::LeftOuter(JoinConstraint::On(on)) => (JoinKind::Left, on),
        _ => return None,
    };
    let schema = topology.schema.current();
    let mut sides = [
        side(&from.relation, topology, &schema)?,
        side(&join.relation, topology, &schema)?,
    ];
    if sides[0].table.rule.name == sides[1].table.rule.name
        && sides[0].table.alias == sides[1].table.alias
    {
        return None;
    }
    // Join equalities and each side's own conditions.
    let mut pairs: Vec<[&Column; 2]> = Vec::new();
    for part in chain(on, &BinaryOperator::And) {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = part
        {
            if let (Some((l, lc)), Some((r, rc))) = (resolve(left, &sides), resolve(right, &sides))
            {
                if l != r {
                    pairs.push(if l == 0 { [lc, rc] } else { [rc, lc] });
                    continue;
                }
            }
        }
        // Another ON condition filters the right side's rows first; on a LEFT join's left
        // side it would decide matches, not rows.
        match side_of(part, &sides) {
            Some(1) => sides[1].filter.push(part),
            Some(0) if kind == JoinKind::Inner => sides[0].filter.push(part),
            _ => return None,
        }
    }
    if pairs.is_empty() {
        return None;
    }
    for part in select
        .selection
        .iter()
        .flat_map(|w| chain(w, &BinaryOperator::And))
    {
        // WHERE on a LEFT join's right side sees the NULL-extended rows.
        match side_of(part, &sides) {
            Some(0) => sides[0].filter.push(part),
            Some(1) if kind == JoinKind::Inner => sides[1].filter.push(part),
            _ => return None,
        }
    }
    for [a, b] in &pairs {
        let (ca, cb) = (compares(a), compares(b));
        if ca == Compares::No || ca != cb {
            return None;
        }
    }
    if grouping::groups(query, select, &sides) {
        let grouped = grouping::plan(sql, syntax, query, select, &mut sides)?;
        return finish_join(sides, &pairs, kind, topology, syntax, fallback, |joined| {
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
    let mut item_columns: Vec<(usize, &Column)> = Vec::new();
    for item in &select.projection {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
            _ => return None,
        };
        let (s, column) = resolve(expr, &sides)?;
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
                (*items.get(i)?, item_columns[i].1)
            } else if let Some(i) = by_alias {
                // A name that is both an alias and a column is MariaDB's to resolve.
                if resolve(&o.expr, &sides).is_some() {
                    return None;
                }
                (items[i], item_columns[i].1)
            } else {
                let (s, column) = resolve(&o.expr, &sides)?;
                // A column the select list shows sorts by that item; another is read hidden.
                let shown = (0..items.len()).find(|&i| {
                    items[i].0 == s && item_columns[i].1.name.eq_ignore_ascii_case(&column.name)
                });
                match shown {
                    Some(i) => (items[i], column),
                    None => {
                        let hidden = sides[s].qualified(&column.name);
                        ((s, sides[s].item(hidden)), column)
                    }
                }
            };
            if matches!(compares(column), Compares::No) {
                return None;
            }
            order.push((target, descending));
        }
    }
    let (offset, limit) = limit_of(query)?;
    // MariaDB describes a sorted join's columns by how it joined: rows joined through a join
    // buffer and sorted lose their key flags. Only a LEFT join looking its right table up by
    // key (the shard key, a primary key as a rule) and ordered by its left table's columns is
    // sure to keep them: those sort here; other sorted joins keep their copies.
    let sorted_as_read = kind == JoinKind::Left
        && lookup_side(&sides, &pairs) == Some(1)
        && order.iter().all(|((s, _), _)| *s == 0);
    if !order.is_empty() && !sorted_as_read {
        return None;
    }
    finish_join(sides, &pairs, kind, topology, syntax, fallback, |joined| {
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

/// The side looked up by key, if either: the one joined on its own integer shard key (a LEFT
/// join's right side only, which the caller checks).
fn lookup_side(sides: &[Side<'_>; 2], pairs: &[[&Column; 2]]) -> Option<usize> {
    let by_key = |s: usize| {
        let rule = sides[s].table.rule;
        pairs.len() == 1
            && rule.key_type == ShardKeyType::Integer
            && pairs[0][s].name.eq_ignore_ascii_case(&rule.shard_key)
            && column_is_integer(pairs[0][s])
            && column_is_integer(pairs[0][1 - s])
    };
    [1, 0].into_iter().find(|&s| by_key(s))
}

/// The plan: join keys, the strategy and which side streams, each side's statement.
fn finish_join(
    mut sides: [Side<'_>; 2],
    pairs: &[[&Column; 2]],
    kind: JoinKind,
    topology: &Topology,
    syntax: Syntax,
    fallback: &MaterializePlan,
    after: impl FnOnce(&dyn Fn((usize, usize)) -> usize) -> AfterJoin,
) -> Option<JoinPlan> {
    for [ca, cb] in pairs {
        let ka = sides[0].qualified(&ca.name);
        let kb = sides[1].qualified(&cb.name);
        let pa = sides[0].item(ka);
        let pb = sides[1].item(kb);
        sides[0].keys.push(pa);
        sides[1].keys.push(pb);
    }
    // The side looked up streams the other's rows (a LEFT join's right side only).
    let (outer, strategy) = match lookup_side(&sides, pairs) {
        Some(1) => (0, JoinStrategy::BatchedLookup),
        Some(_) if kind == JoinKind::Inner => (1, JoinStrategy::BatchedLookup),
        _ => (0, JoinStrategy::Hash),
    };
    let widths = [sides[0].items.len(), sides[1].items.len()];
    let joined = |(s, p): (usize, usize)| if s == outer { p } else { widths[outer] + p };
    let (output, order_by, offset, limit, grouping) = after(&joined);
    let [a, b] = sides;
    let mut built = [finish(a, topology, syntax), finish(b, topology, syntax)];
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

fn column_is_integer(column: &Column) -> bool {
    let ty = column.column_type.to_ascii_lowercase();
    ["tinyint", "smallint", "mediumint", "int", "bigint"]
        .iter()
        .any(|t| ty.split(['(', ' ']).next() == Some(t))
}

/// No GROUP BY, HAVING or DISTINCT.
fn no_grouping(select: &Select) -> bool {
    let no_group_by = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => exprs.is_empty() && modifiers.is_empty(),
        GroupByExpr::All(_) => false,
    };
    no_group_by && select.having.is_none() && select.distinct.is_none()
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

/// A plain sharded table of the FROM clause.
fn side<'a>(
    factor: &'a TableFactor,
    topology: &'a Topology,
    schema: &'a shardgate_schema::SchemaStatus,
) -> Option<Side<'a>> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        version: None,
        with_ordinality: false,
        partitions,
        json_path: None,
        sample: None,
        index_hints,
        ..
    } = factor
    else {
        return None;
    };
    if !with_hints.is_empty() || !partitions.is_empty() || !index_hints.is_empty() {
        return None;
    }
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let rule: &TableRule = base_name(name).and_then(|t| topology.table(&t))?;
    let columns = schema.agreed(&rule.name)?;
    let from = match alias {
        Some(alias) => format!("{name} AS {}", alias.name),
        None => name.to_string(),
    };
    Some(Side {
        table: TableRef {
            rule,
            name: base_name(name).unwrap_or_default(),
            alias: alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
        },
        columns,
        from,
        items: Vec::new(),
        filter: Vec::new(),
        keys: Vec::new(),
    })
}

/// The side's statement, and the shards its key conditions leave.
fn finish(side: Side<'_>, topology: &Topology, syntax: Syntax) -> JoinSide {
    let mut shards: Vec<ShardId> = (0..topology.shards.len()).collect();
    let keyed = Keyed {
        table: &side.table,
        only_table: false,
        // The tree was parsed verbatim: its strings are as written.
        written: Some(syntax),
    };
    if let Some(owning) = shards_of(&side.filter, &[keyed]) {
        shards.retain(|s| owning.contains(s));
    }
    let filter = (!side.filter.is_empty()).then(|| {
        side.filter
            .iter()
            .map(|f| format!("({f})"))
            .collect::<Vec<_>>()
            .join(" AND ")
    });
    let key_column = side.items[side.keys[0]].clone();
    JoinSide {
        table: side.table.rule.name.clone(),
        select: format!("SELECT {} FROM {}", side.items.join(", "), side.from),
        filter,
        shards,
        width: side.items.len(),
        keys: side.keys,
        key_column,
    }
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
