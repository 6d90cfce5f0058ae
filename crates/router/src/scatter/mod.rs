//! Statements on a sharded table that no shard key pins to one shard: a SELECT scattered to
//! the shards that may hold its rows and merged ([`Route::Scatter`]), an UPDATE or DELETE
//! broadcast to them ([`Route::Broadcast`]).
//!
//! The shards run a rewritten SELECT, rendered from a tree parsed with string escapes kept
//! verbatim: ORDER BY and GROUP BY by select-list position, hidden columns after the visible
//! ones for the sort keys and aggregates the merge needs, `AVG(x)` as `SUM(x), COUNT(x)`,
//! `LIMIT offset+n`, and HAVING (over aggregates) evaluated by the merge. Whatever the merge
//! cannot reproduce exactly is refused with a message naming the construct.
//!
//! Here: the entry (`plan_without_shard_key`, `plan_select`) and the builder's state. UPDATE
//! and DELETE are `broadcast.rs`; what a scattered SELECT may hold, `select_form.rs`; the
//! builder (`builder.rs`) works through `stars.rs` (`*` items), `order.rs` (ORDER BY terms)
//! and one file per merge shape: `plain.rs`, `distinct.rs`, `aggregate.rs` (with
//! `having.rs`); the answer's column names and origins are `column_names.rs` and
//! `column_origins.rs`.

mod aggregate;
mod broadcast;
mod builder;
mod colocated_write;
pub(crate) mod column_names;
mod column_origins;
mod derived;
mod distinct;
mod having;
pub(crate) use having::{literal_value as having_literal, merged_between, merged_binary};
mod order;
mod plain;
pub(crate) mod select_form;
mod stars;
mod window;

use self::{broadcast::*, builder::*, column_names::*, column_origins::*, select_form::*};

use std::collections::HashMap;
use std::ops::ControlFlow;

use shardgate_config::Topology;
use shardgate_merge::{
    Aggregate, ArithOp, CompareOp, Decimal, Expr as Merged, SortKey, Value as MergeValue,
};
use shardgate_ring::ShardId;
use sqlparser::ast::{
    visit_expressions, visit_expressions_mut, visit_relations, BinaryOperator, Delete, Distinct,
    Expr, FromTable, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    GroupByWithModifier, Ident, LimitClause, ObjectName, ObjectNamePart, OrderBy, OrderByExpr,
    OrderByKind, OrderByOptions, OrderBySort, Query, Select, SelectFlavor, SelectItem, SetExpr,
    Statement, TableFactor, TableWithJoins, UnaryOperator, Update, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::aggregate_fn::AggFn;
use crate::prune::{target_shards, Keyed};
use crate::shard_key::{base_name, TableRef};
use crate::star::{StarColumn, StarError};
use crate::{
    AggregateSpec, ColumnOrigin, MergeSpec, Plan, Route, RouteError, ScatterPlan, StarCheck,
    StatementKind, Syntax,
};

/// Plans `stmt`, the only statement of `sql`, which single-shard routing refused with `why`
/// (no shard key in the WHERE clause, or keys on several shards).
pub(crate) fn plan_without_shard_key(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    match stmt {
        Statement::Query(q) => plan_select(sql, syntax, stmt, q, topology, why),
        Statement::Update(u) => plan_update(sql, syntax, u, stmt, topology, why),
        Statement::Delete(d) => plan_delete(sql, syntax, d, stmt, topology, why),
        _ => Err(why),
    }
}

/// Whether `stmt` is a SELECT whose FROM list is one derived table, or one reference to a
/// CTE of its own.
pub(crate) fn selects_from_derived(stmt: &Statement) -> bool {
    let Some((q, select)) = query_parts(stmt) else {
        return false;
    };
    let [twj] = select.from.as_slice() else {
        return false;
    };
    twj.joins.is_empty()
        && match &twj.relation {
            TableFactor::Derived { .. } => true,
            TableFactor::Table { name, .. } => derived::own_cte(q.with.as_ref(), name).is_some(),
            _ => false,
        }
}

/// The error for a locking SELECT the proxy would answer from copies of its tables or by
/// combining several statements (a join in the proxy, a set operation across shards): the
/// rows it reads would not be the rows it locks.
pub(crate) fn locking_read_refused() -> RouteError {
    RouteError::NotSupported(
        "cannot run this locking SELECT (FOR UPDATE, LOCK IN SHARE MODE) across shards: it is answered from rows the proxy combines, not from the rows a shard would lock; lock the rows with a single-table SELECT … FOR UPDATE first".into(),
    )
}

/// Names a construct the scatter cannot merge exactly, with what to do instead.
pub(crate) fn refuse(verb: &str, table: &TableRef<'_>, what: impl std::fmt::Display) -> RouteError {
    RouteError::NotSupported(format!(
        "cannot run {verb} on sharded table `{}` across shards: {what}; add `{key} = <value>` to the WHERE clause to run it on one shard",
        table.rule.name,
        key = table.rule.shard_key,
    ))
}

/// The sharded table of a FROM list that holds exactly one table and no joins.
fn single_table<'t>(from: &[TableWithJoins], topology: &'t Topology) -> Option<TableRef<'t>> {
    let [twj] = from else { return None };
    if !twj.joins.is_empty() {
        return None;
    }
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = &twj.relation
    else {
        return None;
    };
    let table = base_name(name)?;
    let rule = topology.table(&table)?;
    Some(TableRef::new(
        rule,
        table,
        alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
        topology,
    ))
}

/// With subqueries naming other tables (`factors`: the tables of the statement's own FROM
/// list), whether every shard can answer them for its own rows: each sharded table in them
/// follows the outer rows by a correlation on shard keys (`crate::pushdown`). `Ok` with why.
fn subqueries_follow(
    stmt: &Statement,
    factors: usize,
    verb: &str,
    table: &TableRef<'_>,
    topology: &Topology,
) -> Result<Option<std::sync::Arc<[String]>>, RouteError> {
    if relation_count(stmt) == factors {
        return Ok(None);
    }
    let why = crate::pushdown::follows_outer_rows(stmt, verb, topology)?
        .map_err(|why| refuse(verb, table, why))?;
    Ok((!why.is_empty()).then(|| why.into()))
}

/// How many tables the statement names anywhere (FROM, joins, subqueries).
fn relation_count(stmt: &Statement) -> usize {
    let mut count = 0;
    let _ = visit_relations(stmt, |_| {
        count += 1;
        ControlFlow::<()>::Continue(())
    });
    count
}

fn plan_select(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    q: &Query,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Err(why);
    };
    // One sharded table, a join every shard answers for its own rows, or a derived table
    // whose rows partition over the shards.
    let mut derived = None;
    let (tables, only_table) = match single_table(&select.from, topology) {
        Some(table) => (vec![table], true),
        None => {
            let ctes: Vec<String> = (q.with.iter())
                .filter(|with| !with.recursive)
                .flat_map(|with| &with.cte_tables)
                .map(|cte| cte.alias.name.value.to_ascii_lowercase())
                .collect();
            match crate::colocated::colocated_tables(
                &select.from,
                select.selection.as_ref(),
                topology,
                Some(&ctes),
            )? {
                Some(tables) => (tables, false),
                None => match derived::partitioned_derived(
                    sql,
                    &select.from,
                    q.with.as_ref(),
                    topology,
                    syntax,
                ) {
                    Some(d) => (vec![derived.insert(d).table.clone()], true),
                    None => return Err(why),
                },
            }
        }
    };
    let table = &tables[0];
    let verb = "SELECT";
    let pinned_by = match &derived {
        // Its subquery's own subqueries follow its rows (it was planned alone); no other.
        Some(d) if relation_count(stmt) == d.relations => None,
        Some(_) => return Err(why),
        None => {
            // Tables named by the FROM list itself (a derived table's are the statement's
            // other relations, whose rows must follow these).
            let factors = (select.from.iter())
                .flat_map(|t| {
                    std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation))
                })
                .filter(|f| matches!(f, sqlparser::ast::TableFactor::Table { .. }))
                .count();
            subqueries_follow(stmt, factors, verb, table, topology)?
        }
    };
    // Shard keys in the outer WHERE prune (and cut IN lists) only over tables: a derived
    // table's columns may rename anything.
    let keyed: Vec<Keyed<'_>> = match &derived {
        Some(_) => Vec::new(),
        None => tables
            .iter()
            .map(|table| Keyed {
                table,
                only_table,
                written: None,
            })
            .collect(),
    };
    let shards = match &derived {
        Some(d) => d.shards.clone(),
        None => target_shards(select.selection.as_ref(), &keyed, topology),
    };
    let kind = if q.locks.is_empty() {
        StatementKind::Read
    } else {
        StatementKind::LockingRead
    };
    let on_one_shard = |shard: ShardId| {
        let mut plan = Plan::new(kind, Route::Shard(shard));
        plan.table = Some(table.rule.name.to_ascii_lowercase().into());
        plan.pinned_by = pinned_by.clone();
        Ok(plan)
    };
    match shards.as_slice() {
        // No key the condition allows has a shard: no row matches, any shard says so.
        [] => return on_one_shard(topology.default_shard),
        [shard] => return on_one_shard(*shard),
        _ => {}
    }
    // A derived table's columns may rename anything: no window partitions by its "key".
    let keyed_tables: &[TableRef<'_>] = match &derived {
        Some(_) => &[],
        None => &tables,
    };
    let windows = check_select_form(q, select, table, keyed_tables, only_table)?;
    if windows == Windows::InMerge && derived.is_some() {
        return Err(refuse(
            verb,
            table,
            "window functions over a derived table across shards",
        ));
    }
    if !syntax.sql_mode.contains(crate::SqlMode::IGNORE_SPACE) && has_spaced_call(sql, stmt) {
        // MariaDB rejects `COUNT (*)` without IGNORE_SPACE; the rendered text would not.
        return Err(refuse(
            verb,
            table,
            "a space between a function name and `(` (without sql_mode IGNORE_SPACE)",
        ));
    }
    let mut verbatim = crate::lex::parse_verbatim(sql, syntax).unwrap_or_default();
    if verbatim.len() != 1 {
        return Err(refuse(
            verb,
            table,
            "the statement could not be re-read for rewriting",
        ));
    }
    crate::planner::number_placeholders(&mut verbatim, sql, syntax);
    let params = placeholders(&verbatim[0]);
    let Some((vq, vselect)) = query_parts(&verbatim[0]) else {
        return Err(refuse(
            verb,
            table,
            "the statement could not be re-read for rewriting",
        ));
    };
    let builder = ScatterBuilder::new(sql, syntax, table, only_table, (vq, vselect), (q, select))?;
    // A derived table's `*` is not a table's: the schema cache does not expand it.
    let builder = match &derived {
        Some(_) => builder,
        None => builder.with_schema(topology),
    };
    let scatter = match windows {
        Windows::InMerge => builder.build_window()?,
        Windows::OnShards => builder.build()?,
    };
    let mut origins = column_origins(&scatter.sql_tree, &tables, only_table, &scatter.stars);
    if let Some(d) = &derived {
        origins = d.trace(origins);
    }
    let star_check = scatter.star_check();
    let sql = finish_placeholders(scatter.sql_tree, params, table)?;
    let shard_sql = match &derived {
        Some(_) => Vec::new(),
        None => crate::reduce::per_shard(&sql, syntax, &keyed, &shards).unwrap_or_default(),
    };
    let null_extended = match shard_sql.is_empty() {
        true => Vec::new(),
        false => crate::null_extended::null_extended(select),
    };
    let mut plan = Plan::new(
        kind,
        Route::Scatter(Box::new(ScatterPlan {
            shards,
            sql,
            shard_sql,
            null_extended,
            merge: scatter.merge,
            origins,
            over_derived: derived.is_some(),
            star_check,
            locking: kind == StatementKind::LockingRead,
        })),
    );
    plan.table = Some(table.rule.name.to_ascii_lowercase().into());
    plan.pinned_by = pinned_by;
    Ok(plan)
}

/// Whether a function call in `stmt` has a space (or comment) between its name and `(`.
fn has_spaced_call(sql: &str, stmt: &Statement) -> bool {
    use sqlparser::ast::Spanned;
    let mut offsets = crate::rewrite::Offsets::new(sql);
    let mut calls = Vec::new();
    let _ = visit_expressions(stmt, |e| {
        match e {
            Expr::Function(f) if !matches!(f.args, FunctionArguments::None) => {
                calls.push(f.name.span().end)
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    calls.sort_unstable_by_key(|l| (l.line, l.column));
    calls.into_iter().any(|end| {
        offsets
            .at(end)
            .and_then(|at| sql.as_bytes().get(at))
            .is_some_and(|&c| c != b'(')
    })
}

/// The LIMIT each shard gets for `LIMIT offset, n` of the whole: enough rows for the merge
/// to skip `offset` and keep `n`. `LIMIT offset, 0` stays 0 (MariaDB then reads nothing).
fn shard_limit(offset: u64, n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        offset.saturating_add(n)
    }
}

fn query_parts(stmt: &Statement) -> Option<(&Query, &Select)> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    Some((q, select))
}

/// One select-list item.
struct Item<'a> {
    /// Verbatim-parsed expression (what the shards run); `None` for `*` / `t.*`.
    expr: Option<&'a Expr>,
    alias: Option<&'a Ident>,
    /// The column name the client sees.
    name: String,
    /// The name is the item's text as written (not a column's name or a literal's value).
    named_by_text: bool,
}

/// Where an ORDER BY term points.
enum Target<'a> {
    /// A constant (`ORDER BY NULL`): no order.
    Skip,
    /// `ORDER BY n`: the n-th column (0-based).
    Position(usize),
    /// A select-list item.
    Item(usize),
    /// An expression not in the select list.
    Expr(&'a Expr),
}

/// The shard select list being built.
#[derive(Default)]
struct Columns {
    items: Vec<SelectItem>,
    /// Column by rendered expression, to reuse the column for the same expression.
    by_text: HashMap<String, usize>,
    /// How many columns the shards send for `items` (an expanded `*` sends several).
    width: usize,
    /// Each expanded `*`: its first shard column and the columns it stands for.
    stars: Vec<(usize, Vec<StarColumn>)>,
}

impl Columns {
    /// Appends `item` (one shard column); returns its column.
    fn push(&mut self, item: SelectItem, key: Option<String>) -> usize {
        let c = self.width;
        self.items.push(item);
        self.width += 1;
        if let Some(key) = key {
            self.by_text.entry(key).or_insert(c);
        }
        c
    }

    /// Appends a `*` the schema cache expanded to `columns`; returns its first column.
    fn push_star(&mut self, item: SelectItem, columns: Vec<StarColumn>) -> usize {
        let c = self.width;
        self.items.push(item);
        self.width += columns.len();
        self.stars.push((c, columns));
        c
    }

    /// The column computing `expr`, appended unless one already does.
    fn expr(&mut self, expr: &Expr) -> usize {
        let key = expr.to_string();
        if let Some(&i) = self.by_text.get(&key) {
            return i;
        }
        self.push(SelectItem::UnnamedExpr(expr.clone()), Some(key))
    }
}

/// A finished scatter: the shard statement (placeholders still numbered) and the merge.
struct Built {
    sql_tree: Statement,
    merge: MergeSpec,
    /// Each `*` expanded from the schema cache: its first shard column and its columns.
    stars: Vec<(usize, Vec<StarColumn>)>,
    /// How many columns the shards send (known when a `*` was expanded).
    width: usize,
}

impl Built {
    /// The scatter of `sql_tree` merged as `merge`, over the shard select list `cols`.
    fn of(sql_tree: Statement, merge: MergeSpec, cols: Columns) -> Built {
        Built {
            sql_tree,
            merge,
            stars: cols.stars,
            width: cols.width,
        }
    }

    /// What the shards' answers must look like when a `*` was expanded from the cache.
    fn star_check(&self) -> Option<StarCheck> {
        if self.stars.is_empty() {
            return None;
        }
        let mut tables: Vec<String> = Vec::new();
        let mut columns = Vec::new();
        for (first, star) in &self.stars {
            for (k, c) in star.iter().enumerate() {
                columns.push((first + k, c.name.clone()));
                if !tables.contains(&c.table) {
                    tables.push(c.table.clone());
                }
            }
        }
        Some(StarCheck {
            width: self.width,
            columns,
            tables,
        })
    }
}

struct ScatterBuilder<'a> {
    table: &'a TableRef<'a>,
    /// The FROM list is `table` alone (not a join): unqualified and qualified names of a
    /// column are the same column.
    only_table: bool,
    /// Verbatim-parsed query and select.
    query: &'a Query,
    select: &'a Select,
    /// The normally parsed select and ORDER BY terms (literal values without escapes).
    normal: &'a Select,
    normal_order: &'a [OrderByExpr],
    items: Vec<Item<'a>>,
    first_star: Option<usize>,
    /// Where `*` columns come from: the schema cache (`None`: none, `*` is not expanded).
    topology: Option<&'a Topology>,
    /// Per item, the columns of a `*` once expanded ([`Self::expand_stars`]).
    expanded: Option<Vec<Option<Vec<StarColumn>>>>,
    cols: Columns,
    outputs: Vec<Aggregate>,
    names: Vec<String>,
    grouped: bool,
    /// The shards send rows' values, not partial aggregates (see `aggregate_fn`).
    raw: bool,
    /// Outputs the merge computes over the others (see [`AggregateSpec::computed`]).
    computed: Vec<(usize, Merged)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_list_texts_are_the_items_as_written() {
        let sql = "SELECT DISTINCT count( * ) , a  +  b AS s, f(x, (y)) /* c */, 1 -- c\n + 2, 'x,y', 1 /* a */ + 2, 1 /*!40100 + 5 */ + 2, 3 /*M!100100 + 5 */ FROM t";
        let texts = select_list_texts(sql, Syntax::DEFAULT, 8).unwrap();
        // As MariaDB names them (shown on 10.11): comments inside an item kept.
        assert_eq!(
            texts,
            [
                "count( * )",
                "a  +  b AS s",
                "f(x, (y))",
                "1 -- c\n + 2",
                "'x,y'",
                "1 /* a */ + 2",
                "1  + 5  + 2",
                "3  + 5",
            ]
        );
        assert_eq!(select_list_texts(sql, Syntax::DEFAULT, 7), None);
        let sql = "SELECT\n  é + 1,\n  `é`\nFROM t";
        assert_eq!(
            select_list_texts(sql, Syntax::DEFAULT, 2).unwrap(),
            ["é + 1", "`é`"]
        );
        // The outer select list, not a CTE's.
        let sql = "WITH t (a, b) AS (SELECT x, y FROM u) SELECT COUNT(*), AVG(b) FROM t";
        assert_eq!(
            select_list_texts(sql, Syntax::DEFAULT, 2).unwrap(),
            ["COUNT(*)", "AVG(b)"]
        );
        let sql = "(SELECT a, b FROM t) ORDER BY a";
        assert_eq!(
            select_list_texts(sql, Syntax::DEFAULT, 2).unwrap(),
            ["a", "b"]
        );
    }

    #[test]
    fn items_a_rewrite_changed_keep_the_clients_text_for_a_name() {
        let sql = "WITH t AS (SELECT 1) SELECT id, EXISTS (SELECT 1 FROM orders /* c */ WHERE amount > 9), 1 IN (SELECT user_id FROM orders) AS n FROM users";
        let rewritten = "SELECT id, EXISTS (SELECT 1 FROM `shardgate_derived_0` AS orders /* c */ WHERE amount > 9), 1 IN (SELECT user_id FROM `shardgate_derived_1` AS orders) AS n FROM users";
        let stmts = crate::lex::parse_verbatim(sql, Syntax::DEFAULT).unwrap();
        let Statement::Query(query) = &stmts[0] else {
            panic!("a query")
        };
        assert_eq!(
            client_item_names(sql, query, rewritten, Syntax::DEFAULT),
            "SELECT id, EXISTS (SELECT 1 FROM `shardgate_derived_0` AS orders /* c */ WHERE amount > 9) AS `EXISTS (SELECT 1 FROM orders /* c */ WHERE amount > 9)`, 1 IN (SELECT user_id FROM `shardgate_derived_1` AS orders) AS n FROM users"
        );
        // Select lists that do not match item for item: left as they are.
        assert_eq!(
            client_item_names(sql, query, "SELECT id FROM users", Syntax::DEFAULT),
            "SELECT id FROM users"
        );
    }

    #[test]
    fn names_follow_mariadb() {
        let cases = [
            ("u.ID", Some("ID")),
            ("(id)", Some("id")),
            ("'it''s'", Some("it's")),
            ("NULL", Some("NULL")),
            ("true", Some("TRUE")),
            ("( 1 )", Some("1")),
            ("_utf8'x'", Some("x")),
            ("(id + 1)", None),
            ("0x41", None),
            ("@x", None),
        ];
        for (text, want) in cases {
            let sql = format!("SELECT {text}");
            let stmts = sqlparser::parser::Parser::parse_sql(&MySqlDialect {}, &sql).unwrap();
            let (_, select) = query_parts(&stmts[0]).unwrap();
            let SelectItem::UnnamedExpr(e) = &select.projection[0] else {
                panic!()
            };
            assert_eq!(name_rule(e).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn unaliased_items_with_parameters_are_named_by_their_text() {
        let named = |sql: &str| parameter_item_names(sql, Syntax::DEFAULT);
        assert_eq!(
            named("SELECT SUM(qty) / ? FROM orders").as_deref(),
            Some("SELECT SUM(qty) / ? AS `SUM(qty) / ?` FROM orders")
        );
        assert_eq!(
            named("SELECT a, b + ? AS x, ? , `c``` FROM t WHERE id = ?").as_deref(),
            Some("SELECT a, b + ? AS x, ? AS `?` , `c``` FROM t WHERE id = ?")
        );
        assert_eq!(
            named("SELECT concat('`', ?) FROM t").as_deref(),
            Some("SELECT concat('`', ?) AS `concat('``', ?)` FROM t")
        );
        assert_eq!(named("SELECT a FROM t WHERE id = ?"), None);
        assert_eq!(named("SELECT ? UNION SELECT 1"), None);
    }

    #[test]
    fn long_names_are_cut_like_mariadb() {
        let name = truncate_name("é".repeat(200));
        assert_eq!(name.len(), 256);
        assert_eq!(truncate_name("x".repeat(300)).len(), 256);
    }
}
