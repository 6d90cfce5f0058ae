//! Statements on a sharded table that no shard key pins to one shard: a SELECT scattered to
//! the shards that may hold its rows and merged ([`Route::Scatter`]), an UPDATE or DELETE
//! broadcast to them ([`Route::Broadcast`]).
//!
//! The shards run a rewritten SELECT, rendered from a tree parsed with string escapes kept
//! verbatim: ORDER BY and GROUP BY by select-list position, hidden columns after the visible
//! ones for the sort keys and aggregates the merge needs, `AVG(x)` as `SUM(x), COUNT(x)`,
//! `LIMIT offset+n`, and HAVING (over aggregates) evaluated by the merge. Whatever the merge
//! cannot reproduce exactly is refused with a message naming the construct.

use std::collections::HashMap;
use std::ops::ControlFlow;

use shardgate_config::Topology;
use shardgate_merge::{
    Aggregate, ArithOp, CompareOp, Decimal, Expr as Merged, SortKey, Value as MergeValue,
};
use shardgate_ring::ShardId;
use sqlparser::ast::{
    visit_expressions, visit_expressions_mut, visit_relations, BinaryOperator, Delete, Distinct,
    Expr, FromTable, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident,
    LimitClause, ObjectName, ObjectNamePart, OrderBy, OrderByExpr, OrderByKind, OrderByOptions,
    OrderBySort, Query, Select, SelectFlavor, SelectItem, SetExpr, Statement, TableFactor,
    TableWithJoins, UnaryOperator, Update, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

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

/// The error for `SELECT … LOCK IN SHARE MODE` that would have to run on several shards.
pub(crate) fn locking_read_refused() -> RouteError {
    RouteError::NotSupported(
        "cannot run a locking SELECT (FOR UPDATE, LOCK IN SHARE MODE) on several shards: it would lock rows on each of them outside one transaction; add the shard key to the WHERE clause".into(),
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

// ---------------------------------------------------------------------------------------
// Tables and shard pruning
// ---------------------------------------------------------------------------------------

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
    Some(TableRef {
        rule,
        name: table,
        alias: alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
    })
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

// ---------------------------------------------------------------------------------------
// UPDATE and DELETE
// ---------------------------------------------------------------------------------------

fn plan_update(
    sql: &str,
    syntax: Syntax,
    u: &Update,
    stmt: &Statement,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    if u.from.is_some() {
        return Err(why);
    }
    broadcast(
        "UPDATE",
        sql,
        syntax,
        stmt,
        std::slice::from_ref(&u.table),
        u.selection.as_ref(),
        u.limit.is_some(),
        u.returning.is_some(),
        topology,
        why,
    )
}

fn plan_delete(
    sql: &str,
    syntax: Syntax,
    d: &Delete,
    stmt: &Statement,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    if !d.tables.is_empty() || d.using.is_some() {
        return Err(why);
    }
    let from = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    broadcast(
        "DELETE",
        sql,
        syntax,
        stmt,
        from,
        d.selection.as_ref(),
        d.limit.is_some(),
        d.returning.is_some(),
        topology,
        why,
    )
}

/// A single-table UPDATE / DELETE on every shard that may hold its rows: the same text, or
/// each shard's own when an IN list or OR of shard keys can be cut down per shard.
#[allow(clippy::too_many_arguments)]
fn broadcast(
    verb: &str,
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    limit: bool,
    returning: bool,
    topology: &Topology,
    why: RouteError,
) -> Result<Plan, RouteError> {
    let Some(table) = single_table(from, topology) else {
        return Err(why);
    };
    let pinned_by = subqueries_follow(stmt, 1, verb, &table, topology)?;
    let keyed = [Keyed {
        table: &table,
        only_table: true,
        written: None,
    }];
    let shards = target_shards(selection, &keyed, topology);
    let table_name = Some(table.rule.name.to_ascii_lowercase());
    let route = match shards.as_slice() {
        [] => Route::Shard(topology.default_shard),
        [shard] => Route::Shard(*shard),
        _ if limit => {
            return Err(refuse(
                verb,
                &table,
                format!("LIMIT cannot be honoured when the {verb} runs on several shards"),
            ))
        }
        _ if returning => {
            return Err(refuse(
                verb,
                &table,
                "RETURNING is not supported on several shards",
            ))
        }
        _ => match crate::reduce::per_shard(sql, syntax, &keyed, &shards) {
            Some(texts) => Route::Split(shards.into_iter().zip(texts).collect()),
            None => Route::Broadcast(shards),
        },
    };
    let mut plan = Plan::new(StatementKind::Write, route);
    plan.table = table_name.map(Into::into);
    plan.pinned_by = pinned_by;
    Ok(plan)
}

// ---------------------------------------------------------------------------------------
// SELECT: checks and entry
// ---------------------------------------------------------------------------------------

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
    // One sharded table, or a join every shard answers for its own rows.
    let (tables, only_table) = match single_table(&select.from, topology) {
        Some(table) => (vec![table], true),
        None => {
            match crate::colocated::colocated_tables(
                &select.from,
                select.selection.as_ref(),
                topology,
            )? {
                Some(tables) => (tables, false),
                None => return Err(why),
            }
        }
    };
    let table = &tables[0];
    let verb = "SELECT";
    let factors: usize = select.from.iter().map(|t| 1 + t.joins.len()).sum();
    let pinned_by = subqueries_follow(stmt, factors, verb, table, topology)?;
    let keyed: Vec<Keyed<'_>> = tables
        .iter()
        .map(|table| Keyed {
            table,
            only_table,
            written: None,
        })
        .collect();
    let shards = target_shards(select.selection.as_ref(), &keyed, topology);
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
    if !q.locks.is_empty() {
        return Err(locking_read_refused());
    }
    check_select_form(q, select, table)?;
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
    let scatter = ScatterBuilder::new(sql, syntax, table, only_table, vq, vselect, select)?
        .with_schema(topology)
        .build()?;
    let origins = column_origins(&scatter.sql_tree, &tables, only_table, &scatter.stars);
    let star_check = scatter.star_check();
    let sql = finish_placeholders(scatter.sql_tree, params, table)?;
    let shard_sql = crate::reduce::per_shard(&sql, syntax, &keyed, &shards).unwrap_or_default();
    let mut plan = Plan::new(
        StatementKind::Read,
        Route::Scatter(Box::new(ScatterPlan {
            shards,
            sql,
            shard_sql,
            merge: scatter.merge,
            origins,
            star_check,
        })),
    );
    plan.table = Some(table.rule.name.to_ascii_lowercase().into());
    plan.pinned_by = pinned_by;
    Ok(plan)
}

/// Where each column of the shard statement's select list comes from (see [`ColumnOrigin`]).
fn column_origins(
    stmt: &Statement,
    tables: &[TableRef<'_>],
    only_table: bool,
    stars: &[(usize, Vec<StarColumn>)],
) -> Vec<ColumnOrigin> {
    let Some((_, select)) = query_parts(stmt) else {
        return Vec::new();
    };
    let column = |e: &Expr| -> Option<ColumnOrigin> {
        let (table, name) = match e {
            Expr::Identifier(id) if only_table => (&tables[0], id),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = &parts[parts.len() - 2];
                (
                    tables.iter().find(|t| t.is_named(qualifier))?,
                    &parts[parts.len() - 1],
                )
            }
            _ => return None,
        };
        Some(ColumnOrigin::Column {
            table: table.name.clone(),
            column: name.value.clone(),
        })
    };
    let origin = |e: &Expr| {
        if let Some(origin) = column(e) {
            return origin;
        }
        // `CAST(x AS CHAR)` has the connection's collation, which the column reports.
        if let Expr::Cast { data_type, .. } = e {
            let text = data_type.to_string().to_ascii_uppercase();
            return match text.contains("CHARACTER SET") || text.contains("CHARSET") {
                true => ColumnOrigin::Expression,
                false => ColumnOrigin::Constant,
            };
        }
        if let Expr::Function(f) = e {
            let name = f.name.to_string();
            if name.eq_ignore_ascii_case("min") || name.eq_ignore_ascii_case("max") {
                if let FunctionArguments::List(list) = &f.args {
                    if let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice()
                    {
                        if let Some(origin) = column(arg) {
                            return origin;
                        }
                    }
                }
            }
        }
        let mut columns = Vec::new();
        let mut known = true;
        let _ = visit_expressions(e, |x| {
            match x {
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) => match column(x) {
                    Some(ColumnOrigin::Column { table, column }) => columns.push((table, column)),
                    _ => known = false,
                },
                // An explicit collation or character set: not the columns'.
                Expr::Collate { .. }
                | Expr::Cast { .. }
                | Expr::Convert { .. }
                | Expr::Prefixed { .. } => known = false,
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        match (known, columns.is_empty()) {
            (false, _) => ColumnOrigin::Expression,
            (true, true) => ColumnOrigin::Constant,
            (true, false) => ColumnOrigin::Derived(columns),
        }
    };
    let mut stars = stars.iter();
    let mut origins = Vec::with_capacity(select.projection.len());
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                origins.push(origin(e))
            }
            // An expanded `*`: one table column per shard column.
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => match stars.next() {
                Some((_, columns)) => {
                    origins.extend(columns.iter().map(|c| ColumnOrigin::Column {
                        table: c.table.clone(),
                        column: c.name.clone(),
                    }))
                }
                None => origins.push(ColumnOrigin::Expression),
            },
            _ => origins.push(ColumnOrigin::Expression),
        }
    }
    origins
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

/// Refuses SELECT clauses the scatter does not model.
fn check_select_form(q: &Query, s: &Select, table: &TableRef<'_>) -> Result<(), RouteError> {
    let no = |what: &str| Err(refuse("SELECT", table, what));
    if q.with.is_some() {
        return no("WITH (a common table expression) is not supported");
    }
    if q.fetch.is_some()
        || q.for_clause.is_some()
        || q.settings.is_some()
        || q.format_clause.is_some()
        || !q.pipe_operators.is_empty()
    {
        return no("this form of SELECT is not supported");
    }
    if s.into.is_some() {
        return no("SELECT … INTO is not supported");
    }
    if s.top.is_some()
        || !s.lateral_views.is_empty()
        || s.prewhere.is_some()
        || !s.connect_by.is_empty()
        || !s.cluster_by.is_empty()
        || !s.distribute_by.is_empty()
        || !s.sort_by.is_empty()
        || s.qualify.is_some()
        || s.value_table_mode.is_some()
        || s.exclude.is_some()
        || s.flavor != SelectFlavor::Standard
    {
        return no("this form of SELECT is not supported");
    }
    if !s.named_window.is_empty() {
        return no("window functions are not supported");
    }
    if s.select_modifiers
        .as_ref()
        .is_some_and(|m| m.sql_calc_found_rows)
    {
        return no("SQL_CALC_FOUND_ROWS is not supported (FOUND_ROWS() would count one shard)");
    }
    if matches!(s.distinct, Some(Distinct::On(_))) {
        return no("DISTINCT ON is not supported");
    }
    match &s.group_by {
        GroupByExpr::All(_) => return no("GROUP BY ALL is not supported"),
        GroupByExpr::Expressions(_, modifiers) if !modifiers.is_empty() => {
            return no("GROUP BY … WITH ROLLUP is not supported")
        }
        _ => {}
    }
    if let Some(order) = &q.order_by {
        let OrderByKind::Expressions(terms) = &order.kind else {
            return no("ORDER BY ALL is not supported");
        };
        if order.interpolate.is_some()
            || terms.iter().any(|t| {
                t.with_fill.is_some()
                    || t.options.nulls_first.is_some()
                    || matches!(t.options.sort, Some(OrderBySort::Using(_)))
            })
        {
            return no("this form of ORDER BY is not supported");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Aggregate calls
// ---------------------------------------------------------------------------------------

/// Aggregate functions MariaDB knows that the merge cannot combine.
const OTHER_AGGREGATES: &[&str] = &[
    "json_arrayagg",
    "json_objectagg",
    "percentile_cont",
    "percentile_disc",
    "median",
];

/// The unqualified, lower-cased name of a function call.
fn function_name(f: &Function) -> Option<String> {
    match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] => Some(id.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// Strips parentheses: `((x))` → `x`.
fn strip(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// `Ok(Some)` for a COUNT / SUM / MIN / MAX / AVG call the merge combines, `Ok(None)` for an
/// expression that is not an aggregate call, `Err` for an aggregate it cannot combine.
fn aggregate_call(e: &Expr, table: &TableRef<'_>) -> Result<Option<(AggFn, Function)>, RouteError> {
    let Expr::Function(f) = strip(e) else {
        return Ok(None);
    };
    let Some(name) = function_name(f) else {
        return Ok(None);
    };
    let func = match AggFn::by_name(&name, crate::aggregate_fn::is_distinct(f)) {
        Some(func) => func,
        None if OTHER_AGGREGATES.contains(&name.as_str()) => {
            return Err(refuse(
                "SELECT",
                table,
                format!(
                    "the aggregate {}() cannot be merged",
                    name.to_ascii_uppercase()
                ),
            ))
        }
        None if crate::aggregate_fn::is_distinct(f) => {
            return Err(refuse(
                "SELECT",
                table,
                format!("{}(DISTINCT …) is not supported", name.to_ascii_uppercase()),
            ))
        }
        None => return Ok(None),
    };
    let upper = name.to_ascii_uppercase();
    let odd = || {
        refuse(
            "SELECT",
            table,
            format!("this form of {upper}() is not supported"),
        )
    };
    if f.over.is_some() {
        return Err(refuse(
            "SELECT",
            table,
            "window functions are not supported",
        ));
    }
    if f.filter.is_some()
        || f.null_treatment.is_some()
        || !f.within_group.is_empty()
        || f.uses_odbc_syntax
        || !matches!(f.parameters, FunctionArguments::None)
    {
        return Err(odd());
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(odd());
    };
    if let Err(what) = crate::aggregate_fn::check_clauses(func, f) {
        return Err(refuse(
            "SELECT",
            table,
            format!("{what} is not supported across shards"),
        ));
    }
    // MariaDB sums divisions with extra internal digits and rounds once; shards' partial sums
    // are already rounded, so their total could differ in the last digit.
    if matches!(
        func,
        AggFn::Sum | AggFn::Avg | AggFn::SumDistinct | AggFn::AvgDistinct | AggFn::Variance(_)
    ) && list.args.iter().any(|a| a.to_string().contains('/'))
    {
        return Err(refuse(
            "SELECT",
            table,
            format!("{upper}() of a division across shards could differ from one server in its last digit"),
        ));
    }
    let expressions = list
        .args
        .iter()
        .all(|a| matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Expr(_))));
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(_))] => {}
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if func == AggFn::Count => {}
        [_, _, ..] if func.takes_several() && expressions => {}
        _ => return Err(odd()),
    }
    Ok(Some((func, f.clone())))
}

/// Whether `e` contains an aggregate call; refuses window functions, aggregates the merge
/// cannot combine and subqueries.
fn scan(e: &Expr, table: &TableRef<'_>) -> Result<bool, RouteError> {
    let mut found = false;
    let mut error = None;
    let _ = visit_expressions(e, |x| {
        let outcome = match x {
            Expr::Function(f) if f.over.is_some() => Err(refuse(
                "SELECT",
                table,
                "window functions are not supported",
            )),
            Expr::Function(_) => aggregate_call(x, table).map(|call| found |= call.is_some()),
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => Err(refuse(
                "SELECT",
                table,
                "a subquery outside the WHERE clause is not supported",
            )),
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                error = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// Whether `e` has a `COLLATE` clause anywhere.
fn has_collate(e: &Expr) -> bool {
    visit_expressions(e, |x| {
        if matches!(x, Expr::Collate { .. }) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// `f` called `name` instead (`AVG(x)` → `SUM(x)`), for a shard column.
fn renamed(f: &Function, name: &str) -> Expr {
    let mut g = f.clone();
    g.name = ObjectName::from(vec![Ident::new(name)]);
    Expr::Function(g)
}

// ---------------------------------------------------------------------------------------
// Column names
// ---------------------------------------------------------------------------------------

/// MariaDB keeps at most this many bytes of a column name taken from the statement text.
const MAX_ALIAS_NAME: usize = 256;

/// Words between SELECT and the select list.
const SELECT_MODIFIERS: &[&str] = &[
    "all",
    "distinct",
    "distinctrow",
    "high_priority",
    "straight_join",
    "sql_small_result",
    "sql_big_result",
    "sql_buffer_result",
    "sql_cache",
    "sql_no_cache",
    "sql_calc_found_rows",
];

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// The text of each select-list item as MariaDB takes it for a column name: from its first
/// to its last token, comments dropped (a `--` comment leaves its line break). `None` when
/// the items cannot be told apart in the text.
fn select_list_texts(sql: &str, syntax: Syntax, items: usize) -> Option<Vec<String>> {
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let mut i = tokens.iter().position(|t| is_word(&t.token, "select"))? + 1;
    while let Some(t) = tokens.get(i) {
        let modifier = SELECT_MODIFIERS.iter().any(|m| is_word(&t.token, m));
        if !(modifier || matches!(t.token, Token::Whitespace(_))) {
            break;
        }
        i += 1;
    }
    let mut pieces: Vec<Vec<&TokenWithSpan>> = vec![Vec::new()];
    let mut depth = 0usize;
    for t in &tokens[i..] {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                pieces.push(Vec::new());
                continue;
            }
            Token::EOF => break,
            token if depth == 0 && is_word(token, "from") => break,
            _ => {}
        }
        pieces.last_mut()?.push(t);
    }
    if pieces.len() != items {
        return None;
    }
    let mut offsets = crate::rewrite::Offsets::new(sql);
    pieces
        .iter()
        .map(|piece| {
            let solid = |t: &&&TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
            let first = piece.iter().position(|t| solid(&t))?;
            let last = piece.iter().rposition(|t| solid(&t))?;
            let mut text = String::new();
            for t in &piece[first..=last] {
                let (start, end) = (offsets.at(t.span.start)?, offsets.at(t.span.end)?);
                let raw = sql.get(start..end)?;
                match &t.token {
                    Token::Whitespace(Whitespace::MultiLineComment(_)) => {}
                    Token::Whitespace(Whitespace::SingleLineComment { .. }) => {
                        if raw.ends_with('\n') {
                            text.push('\n');
                        }
                    }
                    _ => text.push_str(raw),
                }
            }
            Some(text)
        })
        .collect()
}

/// The column a bare or qualified column reference names (not `@variables`).
fn column_ref(e: &Expr) -> Option<&str> {
    let id = match strip(e) {
        Expr::Identifier(id) => id,
        Expr::CompoundIdentifier(parts)
            if parts.first().is_some_and(|p| !p.value.starts_with('@')) =>
        {
            parts.last()?
        }
        _ => return None,
    };
    (!id.value.starts_with('@')).then_some(id.value.as_str())
}

/// The name MariaDB gives an unaliased item, and whether it is the item's text as written
/// (rather than a column's name or a literal's value). `e` is from the normally parsed tree.
fn name_rule(e: &Expr) -> Option<String> {
    if let Some(column) = column_ref(e) {
        return Some(column.to_owned());
    }
    let value = |v: &Value| -> Option<String> {
        Some(match v {
            Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::NationalStringLiteral(s) => s.clone(),
            Value::Null => "NULL".into(),
            Value::Boolean(true) => "TRUE".into(),
            Value::Boolean(false) => "FALSE".into(),
            Value::Number(n, _) => n.clone(),
            _ => return None,
        })
    };
    match strip(e) {
        Expr::Value(v) => value(&v.value),
        Expr::Prefixed { value: inner, .. } => match strip(inner) {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// Whether `a` and `b` are the same qualified column reference (`o.id`, `O.ID`).
fn same_qualified_column(a: &Expr, b: &Expr) -> bool {
    match (strip(a), strip(b)) {
        (Expr::CompoundIdentifier(a), Expr::CompoundIdentifier(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.value.eq_ignore_ascii_case(&y.value))
        }
        _ => false,
    }
}

fn truncate_name(mut name: String) -> String {
    if name.len() > MAX_ALIAS_NAME {
        let mut cut = MAX_ALIAS_NAME;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

// ---------------------------------------------------------------------------------------
// SELECT: building the shard statement and the merge
// ---------------------------------------------------------------------------------------

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
    /// The normally parsed select (literal values without escapes).
    normal: &'a Select,
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
}

impl<'a> ScatterBuilder<'a> {
    fn new(
        sql: &str,
        syntax: Syntax,
        table: &'a TableRef<'a>,
        only_table: bool,
        query: &'a Query,
        select: &'a Select,
        normal: &'a Select,
    ) -> Result<Self, RouteError> {
        let texts = select_list_texts(sql, syntax, select.projection.len());
        let mut items = Vec::with_capacity(select.projection.len());
        let mut first_star = None;
        for (i, (item, nitem)) in select.projection.iter().zip(&normal.projection).enumerate() {
            let (expr, nexpr, alias) = match (item, nitem) {
                (SelectItem::UnnamedExpr(e), SelectItem::UnnamedExpr(n)) => (e, n, None),
                (
                    SelectItem::ExprWithAlias { expr, alias },
                    SelectItem::ExprWithAlias { expr: n, .. },
                ) => (expr, n, Some(alias)),
                (SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..), _) => {
                    first_star.get_or_insert(i);
                    items.push(Item {
                        expr: None,
                        alias: None,
                        name: "*".into(),
                        named_by_text: false,
                    });
                    continue;
                }
                _ => {
                    return Err(refuse(
                        "SELECT",
                        table,
                        format!("the select-list item `{item}` is not supported"),
                    ))
                }
            };
            let (name, named_by_text) = match (alias, name_rule(nexpr)) {
                (Some(alias), _) => (alias.value.clone(), false),
                (None, Some(name)) => (name, false),
                (None, None) => {
                    let text = texts.as_ref().and_then(|t| t.get(i)).ok_or_else(|| {
                        refuse(
                            "SELECT",
                            table,
                            "shardgate cannot tell the column names of this select list apart",
                        )
                    })?;
                    (text.clone(), true)
                }
            };
            items.push(Item {
                expr: Some(expr),
                alias,
                name: truncate_name(name),
                named_by_text,
            });
        }
        let grouped = matches!(&select.group_by, GroupByExpr::Expressions(g, _) if !g.is_empty());
        Ok(ScatterBuilder {
            table,
            only_table,
            query,
            select,
            normal,
            items,
            first_star,
            topology: None,
            expanded: None,
            cols: Columns::default(),
            outputs: Vec::new(),
            names: Vec::new(),
            grouped,
            raw: false,
        })
    }

    fn refuse(&self, what: impl std::fmt::Display) -> RouteError {
        refuse("SELECT", self.table, what)
    }

    /// Lets `*` be expanded from `topology`'s schema cache when a plan needs its columns.
    fn with_schema(mut self, topology: &'a Topology) -> Self {
        self.topology = Some(topology);
        self
    }

    /// Expands every `*` item from the schema cache; asks for the tables it lacks.
    fn expand_stars(&mut self) -> Result<(), RouteError> {
        if self.expanded.is_some() || self.first_star.is_none() {
            return Ok(());
        }
        let Some(topology) = self.topology else {
            return Err(self.refuse(
                "SELECT * needs the table's columns, which are not known here; list the columns",
            ));
        };
        let status = topology.schema.current();
        let mut per_item = Vec::with_capacity(self.items.len());
        let mut unknown: Vec<String> = Vec::new();
        for item in &self.select.projection {
            if !matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            ) {
                per_item.push(None);
                continue;
            }
            match crate::star::expand(item, &self.select.from, &status) {
                Ok(columns) => per_item.push(Some(columns)),
                Err(StarError::Unknown(tables)) => {
                    for t in tables {
                        if !unknown.contains(&t) {
                            unknown.push(t);
                        }
                    }
                    per_item.push(None);
                }
                Err(StarError::Refused(why)) => {
                    return Err(self.refuse(format!("`{item}` cannot be expanded: {why}")))
                }
                Err(StarError::Disagrees { table, why }) => {
                    return Err(RouteError::SchemaDisagrees {
                        tables: vec![table],
                        refusal: Box::new(
                            self.refuse(format!("`{item}` cannot be expanded: {why}")),
                        ),
                    })
                }
            }
        }
        if !unknown.is_empty() {
            return Err(RouteError::SchemaNeeded { tables: unknown });
        }
        self.expanded = Some(per_item);
        Ok(())
    }

    /// How many columns item `i` stands for (a `*`: its table columns once expanded).
    fn item_width(&self, i: usize) -> usize {
        match self.expanded.as_ref().and_then(|e| e[i].as_ref()) {
            Some(columns) => columns.len(),
            None => 1,
        }
    }

    /// The first output column of item `i`: after every column the items before it stand for.
    fn item_start(&self, i: usize) -> usize {
        (0..i).map(|j| self.item_width(j)).sum()
    }

    /// The item at output position `p` when it is not inside a `*`.
    fn item_at(&self, p: usize) -> Option<usize> {
        (0..self.items.len()).find(|&i| self.item_start(i) == p && self.items[i].expr.is_some())
    }

    /// The shard column of output position `p` when it is a column of an expanded `*`
    /// already in the shard select list.
    fn star_shard_column(&self, p: usize) -> Option<usize> {
        let expanded = self.expanded.as_ref()?;
        let mut star = 0;
        for (i, columns) in expanded.iter().enumerate() {
            let Some(columns) = columns else { continue };
            let start = self.item_start(i);
            if (start..start + columns.len()).contains(&p) {
                return Some(self.cols.stars.get(star)?.0 + (p - start));
            }
            star += 1;
        }
        None
    }

    /// How many columns the client sees.
    fn visible_width(&self) -> usize {
        self.item_start(self.items.len())
    }

    /// The position of the column `e` (`c` or `t.c`) names among the expanded `*` columns,
    /// when exactly one of them is that column.
    fn star_column_named(&self, e: &Expr) -> Option<usize> {
        let (qualifier, id) = match strip(e) {
            Expr::Identifier(id) => (None, id),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => (Some(&parts[0]), &parts[1]),
            _ => return None,
        };
        let expanded = self.expanded.as_ref()?;
        let mut found = None;
        for (i, columns) in expanded.iter().enumerate() {
            for (k, c) in columns.iter().flatten().enumerate() {
                let same_table =
                    qualifier.is_none_or(|q| q.value.eq_ignore_ascii_case(&c.qualifier));
                if same_table && c.name.eq_ignore_ascii_case(&id.value) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(self.item_start(i) + k);
                }
            }
        }
        found
    }

    /// Refuses an alias that is also the name of a `*` column: MariaDB's choice between them
    /// is not modelled.
    fn check_alias_against_stars(&self, name: &str) -> Result<(), RouteError> {
        let clash = self
            .expanded
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .any(|c| c.name.eq_ignore_ascii_case(name));
        match clash {
            true => Err(self.refuse(format!("`{name}` names both an alias and a column of `*`"))),
            false => Ok(()),
        }
    }

    fn order_terms(&self) -> &'a [OrderByExpr] {
        match self.query.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(terms)) => terms,
            _ => &[],
        }
    }

    fn group_exprs(&self) -> &'a [Expr] {
        match &self.select.group_by {
            GroupByExpr::Expressions(g, _) => g,
            GroupByExpr::All(_) => &[],
        }
    }

    fn build(mut self) -> Result<Built, RouteError> {
        // Refuse what cannot be merged before choosing a shape.
        let mut aggregates = false;
        for item in &self.items {
            if let Some(e) = item.expr {
                aggregates |= scan(e, self.table)?;
            }
        }
        for term in self.order_terms() {
            aggregates |= scan(&term.expr, self.table)?;
        }
        if let Some(having) = &self.select.having {
            aggregates |= scan(having, self.table)?;
        }
        let sort_keys = self.order_terms().iter().map(|t| &t.expr);
        if let Some(e) = sort_keys.chain(self.group_exprs()).find(|e| has_collate(e)) {
            return Err(self.refuse(format!(
                "ORDER BY or GROUP BY `{e}` with COLLATE is not supported (the merge compares by the result's collation)"
            )));
        }
        for g in self.group_exprs() {
            if scan(g, self.table)? {
                return Err(
                    self.refuse(format!("GROUP BY `{g}`: an aggregate cannot be grouped on"))
                );
            }
        }
        let (offset, limit) = self.limit()?;
        if aggregates || self.grouped {
            self.raw = self.needs_raw_values()?;
            self.build_aggregate(offset, limit)
        } else if matches!(self.select.distinct, Some(Distinct::Distinct)) {
            self.build_distinct(offset, limit)
        } else {
            self.build_plain(offset, limit)
        }
    }

    /// `LIMIT n [OFFSET m]` / `LIMIT m, n` as (offset, limit).
    fn limit(&self) -> Result<(u64, Option<u64>), RouteError> {
        let number = |e: &Expr| -> Result<u64, RouteError> {
            match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse().ok(),
                    _ => None,
                },
                _ => None,
            }
            .ok_or_else(|| {
                self.refuse("LIMIT must be given as numbers (not parameters or expressions)")
            })
        };
        match &self.query.limit_clause {
            None => Ok((0, None)),
            Some(LimitClause::LimitOffset {
                limit: Some(limit),
                offset,
                limit_by,
            }) if limit_by.is_empty() => {
                let offset = offset.as_ref().map(|o| number(&o.value)).transpose()?;
                Ok((offset.unwrap_or(0), Some(number(limit)?)))
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                Ok((number(offset)?, Some(number(limit)?)))
            }
            Some(_) => Err(self.refuse("this form of LIMIT is not supported")),
        }
    }

    /// Select-list items a bare name refers to in ORDER BY: by alias, or unaliased columns.
    fn items_named(&self, name: &str) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| {
                let item = &self.items[i];
                match (item.alias, item.expr) {
                    (Some(alias), _) => alias.value.eq_ignore_ascii_case(name),
                    (None, Some(e)) => column_ref(e).is_some_and(|c| c.eq_ignore_ascii_case(name)),
                    (None, None) => false,
                }
            })
            .collect()
    }

    /// One item out of several candidates, when they are all the same expression.
    fn one_of(
        &self,
        candidates: &[usize],
        name: &str,
        clause: &str,
    ) -> Result<Option<usize>, RouteError> {
        match candidates {
            [] => Ok(None),
            [first, rest @ ..] => {
                let same = rest
                    .iter()
                    .all(|&j| self.items[j].expr == self.items[*first].expr);
                if same {
                    Ok(Some(*first))
                } else {
                    Err(self.refuse(format!("`{name}` in {clause} is ambiguous")))
                }
            }
        }
    }

    /// The unaliased or aliased item that is the same column as the column reference `e`
    /// (in a join: written with the same qualifier).
    fn item_same_column(&self, e: &Expr) -> Option<usize> {
        let column = column_ref(e)?;
        self.items.iter().position(|item| {
            item.expr.is_some_and(|x| {
                if self.only_table {
                    column_ref(x).is_some_and(|c| c.eq_ignore_ascii_case(column))
                } else {
                    same_qualified_column(x, e)
                }
            })
        })
    }

    /// An alias (of an item that is not the same-named column) that `e` mentions: the shards
    /// could not resolve it inside a hidden column, or would take a table column instead.
    fn alias_in(&self, e: &Expr) -> Option<String> {
        let mut found = None;
        let _ = visit_expressions(e, |x| {
            if let Expr::Identifier(id) = x {
                if self.is_foreign_alias(&id.value) {
                    found = Some(id.value.clone());
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        found
    }

    fn is_foreign_alias(&self, name: &str) -> bool {
        self.items.iter().any(|item| {
            item.alias
                .is_some_and(|a| a.value.eq_ignore_ascii_case(name))
                && item
                    .expr
                    .and_then(column_ref)
                    .is_none_or(|c| !c.eq_ignore_ascii_case(name))
        })
    }

    /// Where ORDER BY term `e` points, by MariaDB's rules: a number is a position, a bare
    /// name an alias or selected column first, an expression equal to a selected one that item.
    fn order_target(&self, e: &'a Expr) -> Result<Target<'a>, RouteError> {
        let inner = strip(e);
        match inner {
            Expr::Value(v) => Ok(match &v.value {
                Value::Number(n, _) => match n.parse::<usize>() {
                    Ok(p) if p >= 1 => Target::Position(p - 1),
                    Ok(_) => {
                        return Err(self.refuse(format!("ORDER BY position {n} does not exist")))
                    }
                    Err(_) => Target::Skip,
                },
                _ => Target::Skip,
            }),
            Expr::Identifier(id) if !id.value.starts_with('@') => {
                let candidates = self.items_named(&id.value);
                Ok(match self.one_of(&candidates, &id.value, "ORDER BY")? {
                    Some(i) => Target::Item(i),
                    None => Target::Expr(e),
                })
            }
            Expr::CompoundIdentifier(_) if column_ref(inner).is_some() => {
                Ok(match self.item_same_column(inner) {
                    Some(i) => Target::Item(i),
                    None => Target::Expr(e),
                })
            }
            _ => {
                let same = self
                    .items
                    .iter()
                    .position(|item| item.expr.is_some_and(|x| strip(x) == inner));
                if let Some(i) = same {
                    return Ok(Target::Item(i));
                }
                if let Some(alias) = self.alias_in(e) {
                    return Err(self.refuse(format!(
                        "ORDER BY `{e}` uses the alias `{alias}` inside an expression"
                    )));
                }
                Ok(Target::Expr(e))
            }
        }
    }

    fn direction(term: &OrderByExpr) -> bool {
        matches!(term.options.sort, Some(OrderBySort::Desc))
    }

    /// Pushes the visible items as the first shard columns, aliased where the shards would
    /// otherwise name them differently from what the client's statement would.
    fn push_visible_items(&mut self) {
        for (i, item) in self.items.iter().enumerate() {
            let key = item.expr.map(|e| strip(e).to_string());
            if let Some(Some(columns)) = self.expanded.as_ref().map(|e| &e[i]) {
                let star = self.select.projection[i].clone();
                self.cols.push_star(star, columns.clone());
                continue;
            }
            let shard_item = match (item.expr, item.alias) {
                (None, _) => self.select.projection[i].clone(),
                (Some(expr), Some(alias)) => SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: alias.clone(),
                },
                (Some(expr), None) if item.named_by_text && expr.to_string() != item.name => {
                    SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::with_quote('`', item.name.clone()),
                    }
                }
                (Some(expr), None) => SelectItem::UnnamedExpr(expr.clone()),
            };
            self.cols.push(shard_item, key);
        }
    }

    /// SELECT without aggregates, GROUP BY or DISTINCT: shards sort by the ORDER BY (hidden
    /// columns for terms not selected) and return at most `offset + limit` rows; the merge
    /// is a k-way merge, then OFFSET and LIMIT.
    fn build_plain(mut self, offset: u64, limit: Option<u64>) -> Result<Built, RouteError> {
        // A sort term after a `*` or not selected needs to know where the `*` columns end.
        let mut targets = Vec::new();
        for term in self.order_terms() {
            targets.push((term, self.order_target(&term.expr)?));
        }
        if targets.iter().any(|(_, t)| match t {
            Target::Item(i) => self.first_star.is_some_and(|s| *i > s),
            Target::Expr(_) => self.first_star.is_some(),
            _ => false,
        }) {
            self.expand_stars()?;
        }
        self.push_visible_items();
        let mut keys: Vec<SortKey> = Vec::new();
        for (term, target) in targets {
            let column = match target {
                Target::Skip => continue,
                Target::Position(p) if self.first_star.is_some() => p,
                Target::Position(p) if p < self.items.len() => p,
                Target::Position(p) => {
                    return Err(self.refuse(format!("ORDER BY position {} does not exist", p + 1)))
                }
                Target::Item(i) => {
                    if let Some(alias) = self.items[i].alias {
                        self.check_alias_against_stars(&alias.value)?;
                    }
                    self.item_start(i)
                }
                Target::Expr(e) => self.cols.expr(e),
            };
            keys.push(SortKey {
                column,
                descending: Self::direction(term),
            });
        }
        let visible = match (self.first_star, &self.expanded) {
            (Some(_), None) => usize::MAX,
            _ => self.visible_width(),
        };
        let shard_limit = limit.map(|n| shard_limit(offset, n));
        let sql_tree = self.shard_statement(None, &keys, shard_limit, true);
        Ok(Built {
            sql_tree,
            merge: MergeSpec {
                merge_keys: keys,
                offset,
                limit,
                visible,
                ..MergeSpec::default()
            },
            width: self.cols.width,
            stars: self.cols.stars,
        })
    }

    /// SELECT DISTINCT without aggregates: shards return distinct rows sorted by the ORDER BY
    /// terms, then every other selected column, so equal rows from different shards arrive
    /// next to each other and the order is the answer's; at most `offset + limit` of them.
    fn build_distinct(mut self, offset: u64, limit: Option<u64>) -> Result<Built, RouteError> {
        self.expand_stars()?;
        self.push_visible_items();
        let visible = self.visible_width();
        let mut keys: Vec<SortKey> = Vec::new();
        for term in self.order_terms() {
            let column = match self.order_target(&term.expr)? {
                Target::Skip => continue,
                Target::Position(p) if p < visible => p,
                Target::Item(i) => {
                    if let Some(alias) = self.items[i].alias {
                        self.check_alias_against_stars(&alias.value)?;
                    }
                    self.item_start(i)
                }
                Target::Position(p) => {
                    return Err(self.refuse(format!("ORDER BY position {} does not exist", p + 1)))
                }
                Target::Expr(e) if self.star_column_named(e).is_some() => {
                    self.star_column_named(e).expect("just found")
                }
                Target::Expr(e) => {
                    return Err(self.refuse(format!(
                    "SELECT DISTINCT with ORDER BY `{e}`, which is not selected, is not supported"
                )))
                }
            };
            if keys.iter().all(|k| k.column != column) {
                keys.push(SortKey {
                    column,
                    descending: Self::direction(term),
                });
            }
        }
        for column in 0..visible {
            if keys.iter().all(|k| k.column != column) {
                keys.push(SortKey::asc(column));
            }
        }
        let shard_limit = limit.map(|n| shard_limit(offset, n));
        let sql_tree = self.shard_statement(None, &keys, shard_limit, true);
        Ok(Built {
            sql_tree,
            merge: MergeSpec {
                merge_keys: keys,
                distinct: true,
                offset,
                limit,
                visible,
                ..MergeSpec::default()
            },
            width: self.cols.width,
            stars: self.cols.stars,
        })
    }

    /// A group-level value of the shard column `c`: the first row's (any row of the group is
    /// MariaDB's answer). Without GROUP BY, the least non-NULL one, so that a shard without
    /// rows (its one row all NULL but for the aggregates) does not decide it.
    fn group_value(&self, c: usize) -> Aggregate {
        if self.grouped {
            Aggregate::First(c)
        } else {
            Aggregate::Min(c)
        }
    }

    /// Whether an aggregate call of the statement needs the rows' values at the merge.
    fn needs_raw_values(&self) -> Result<bool, RouteError> {
        let mut exprs: Vec<&Expr> = self.items.iter().filter_map(|i| i.expr).collect();
        exprs.extend(self.order_terms().iter().map(|t| &t.expr));
        exprs.extend(&self.select.having);
        let mut raw = false;
        for e in exprs {
            let _ = visit_expressions(e, |x| {
                if let Ok(Some((func, _))) = aggregate_call(x, self.table) {
                    raw |= func.needs_raw_values();
                }
                ControlFlow::<()>::Continue(())
            });
        }
        Ok(raw)
    }

    /// The output computing an aggregate call: from shard partials, or from raw values.
    fn aggregate_output(&mut self, func: AggFn, f: &Function) -> Result<Aggregate, RouteError> {
        let partial = match func {
            _ if self.raw => None,
            AggFn::Count => Some(Aggregate::Count(self.cols.expr(&renamed(f, "COUNT")))),
            AggFn::Sum => Some(Aggregate::Sum(self.cols.expr(&renamed(f, "SUM")))),
            AggFn::Min => Some(Aggregate::Min(self.cols.expr(&renamed(f, "MIN")))),
            AggFn::Max => Some(Aggregate::Max(self.cols.expr(&renamed(f, "MAX")))),
            AggFn::Avg => Some(Aggregate::Avg {
                sum: self.cols.expr(&renamed(f, "SUM")),
                count: self.cols.expr(&renamed(f, "COUNT")),
            }),
            _ => None,
        };
        if let Some(agg) = partial {
            return Ok(agg);
        }
        let cols = &mut self.cols;
        crate::aggregate_fn::output(func, f, self.raw, &mut |e| cols.expr(e))
            .map_err(|what| self.refuse(format!("{what} is not supported across shards")))
    }

    /// The output computing `agg`, appended (hidden, after the visible ones) unless one does.
    fn output(&mut self, agg: Aggregate, name: String) -> usize {
        if let Some(i) = self.outputs.iter().position(|o| *o == agg) {
            return i;
        }
        self.outputs.push(agg);
        self.names.push(name);
        self.outputs.len() - 1
    }

    /// The output for a non-aggregate expression, computed by the shards per group.
    fn group_level_output(&mut self, e: &Expr) -> usize {
        let c = self.cols.expr(e);
        let agg = self.group_value(c);
        self.output(agg, strip(e).to_string())
    }

    /// The output for an expression: an aggregate call, or a group-level value.
    fn expr_output(&mut self, e: &Expr) -> Result<usize, RouteError> {
        if let Some((func, f)) = aggregate_call(e, self.table)? {
            let agg = self.aggregate_output(func, &f)?;
            return Ok(self.output(agg, strip(e).to_string()));
        }
        if scan(e, self.table)? {
            return Err(self.refuse(format!(
                "`{e}` computes with an aggregate; only plain aggregate calls (COUNT, SUM, MIN, MAX, AVG, their DISTINCT forms, GROUP_CONCAT, BIT_*, STDDEV, VARIANCE) can be merged"
            )));
        }
        Ok(self.group_level_output(e))
    }

    /// GROUP BY term `e` as a shard column, by MariaDB's rules: a number is a position, a
    /// bare name a table column before an alias, except that the alias of an expression wins.
    fn group_column(&mut self, e: &Expr) -> Result<usize, RouteError> {
        let inner = strip(e);
        let item_column = |this: &mut Self, i: usize| -> Result<usize, RouteError> {
            let Some(expr) = this.items[i].expr else {
                return Err(this.refuse("GROUP BY a position of `*`"));
            };
            if scan(expr, this.table)? {
                return Err(this.refuse(format!(
                    "GROUP BY `{e}` names the aggregate `{expr}`, which cannot be grouped on"
                )));
            }
            Ok(this.cols.expr(expr))
        };
        match inner {
            Expr::Value(v) => {
                if let Value::Number(n, _) = &v.value {
                    if let Ok(p) = n.parse::<usize>() {
                        if let Some(column) =
                            p.checked_sub(1).and_then(|p| self.star_shard_column(p))
                        {
                            return Ok(column);
                        }
                        let item = p.checked_sub(1).and_then(|p| self.item_at(p));
                        return match item {
                            Some(i) => item_column(self, i),
                            None => {
                                Err(self.refuse(format!("GROUP BY position {n} does not exist")))
                            }
                        };
                    }
                }
                Ok(self.cols.expr(e))
            }
            Expr::Identifier(id) if !id.value.starts_with('@') => {
                let aliased: Vec<usize> = self.aliased(&id.value);
                if let Some(i) = self.one_of(&aliased, &id.value, "GROUP BY")? {
                    // MariaDB prefers a table column of that name to the alias of a column
                    // (or of an aggregate); shardgate does not know the table's columns.
                    let expr = self.items[i].expr.expect("aliased items have expressions");
                    let other_column =
                        column_ref(expr).is_some_and(|c| !c.eq_ignore_ascii_case(&id.value));
                    if other_column || scan(expr, self.table)? {
                        return Err(self.refuse(format!(
                            "GROUP BY `{0}` may name the alias of `{expr}` or a table column `{0}`; group by the expression or its position instead",
                            id.value
                        )));
                    }
                    return item_column(self, i);
                }
                Ok(self.cols.expr(e))
            }
            _ if column_ref(inner).is_some() => Ok(self.cols.expr(e)),
            _ => {
                if let Some(alias) = self.alias_in(e) {
                    return Err(self.refuse(format!(
                        "GROUP BY `{e}` uses the alias `{alias}` inside an expression"
                    )));
                }
                Ok(self.cols.expr(e))
            }
        }
    }

    /// GROUP BY or aggregates: shards group (by select-list position) and sort by the group
    /// columns; the merge combines partial aggregates group by group, then HAVING, ORDER BY,
    /// OFFSET and LIMIT.
    fn build_aggregate(mut self, offset: u64, limit: Option<u64>) -> Result<Built, RouteError> {
        self.expand_stars()?;
        let items: Vec<(Option<&Expr>, String)> = self
            .items
            .iter()
            .map(|i| (i.expr, i.name.clone()))
            .collect();
        for (i, (expr, name)) in items.into_iter().enumerate() {
            let Some(expr) = expr else {
                // A `*`: a group-level value of each of its columns.
                let columns = self
                    .expanded
                    .as_ref()
                    .and_then(|e| e[i].clone())
                    .expect("expanded");
                let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
                let first = self
                    .cols
                    .push_star(self.select.projection[i].clone(), columns);
                for (k, name) in names.into_iter().enumerate() {
                    let agg = self.group_value(first + k);
                    self.outputs.push(agg);
                    self.names.push(name);
                }
                continue;
            };
            let agg = match aggregate_call(expr, self.table)? {
                Some((func, f)) => self.aggregate_output(func, &f)?,
                None if scan(expr, self.table)? => {
                    return Err(self.refuse(format!(
                        "`{expr}` computes with an aggregate; only plain aggregate calls (COUNT, SUM, MIN, MAX, AVG, their DISTINCT forms, GROUP_CONCAT, BIT_*, STDDEV, VARIANCE) can be merged"
                    )))
                }
                None => {
                    let c = self.cols.expr(expr);
                    self.group_value(c)
                }
            };
            // Visible outputs are one per item, in order, even when two are the same.
            self.outputs.push(agg);
            self.names.push(name);
        }
        let mut group_by = Vec::new();
        for g in self.group_exprs() {
            group_by.push(self.group_column(g)?);
        }
        let having = match (&self.select.having, &self.normal.having) {
            (Some(v), Some(n)) => Some(self.having(v, n)?),
            _ => None,
        };
        let mut keys: Vec<SortKey> = Vec::new();
        if self.grouped {
            for term in self.order_terms() {
                let output = match self.order_target(&term.expr)? {
                    Target::Skip => continue,
                    Target::Position(p) if p < self.visible_width() => p,
                    Target::Item(i) => {
                        if let Some(alias) = self.items[i].alias {
                            self.check_alias_against_stars(&alias.value)?;
                        }
                        self.item_start(i)
                    }
                    Target::Position(p) => {
                        return Err(
                            self.refuse(format!("ORDER BY position {} does not exist", p + 1))
                        )
                    }
                    Target::Expr(e) => self.expr_output(e)?,
                };
                keys.push(SortKey {
                    column: output,
                    descending: Self::direction(term),
                });
            }
        }
        // The shards sort by the group columns (equal groups must arrive together), ascending
        // (MariaDB's order for GROUP BY) unless ORDER BY names only group columns: then in
        // its order and directions, and the groups need no sort after the merge.
        let mut merge_keys: Vec<SortKey> = Vec::new();
        for k in &keys {
            match self.outputs[k.column] {
                Aggregate::First(c) if group_by.contains(&c) => {
                    if merge_keys.iter().all(|m| m.column != c) {
                        merge_keys.push(SortKey {
                            column: c,
                            descending: k.descending,
                        });
                    }
                }
                _ => {
                    merge_keys.clear();
                    break;
                }
            }
        }
        // Non-empty only when every ORDER BY term was a group column.
        let sort = if merge_keys.is_empty() {
            keys
        } else {
            Vec::new()
        };
        for &g in &group_by {
            if merge_keys.iter().all(|m| m.column != g) {
                merge_keys.push(SortKey::asc(g));
            }
        }
        if matches!(self.select.distinct, Some(Distinct::Distinct)) && self.grouped {
            // Groups differ in a group column: with all of them selected, rows are distinct.
            let visible = self.visible_width();
            let all_selected = group_by
                .iter()
                .all(|g| self.outputs[..visible].contains(&Aggregate::First(*g)));
            if !all_selected {
                return Err(self.refuse(
                    "SELECT DISTINCT with GROUP BY is supported only when every GROUP BY expression is selected",
                ));
            }
        }
        // Raw values: the shards do not group, only sort by the group columns.
        let shard_group_by: &[usize] = if self.raw { &[] } else { &group_by };
        let mut sql_tree = self.shard_statement(Some(shard_group_by), &merge_keys, None, false);
        // A SELECT DISTINCT goes through a temporary table, whose fields describe computed
        // columns differently (`YEAR(d)` is 5 long there, 4 in a plain SELECT): only plain
        // columns may be shown from it.
        let shown_plain = self.outputs.iter().all(|o| match o {
            Aggregate::First(c) | Aggregate::Min(c) | Aggregate::Max(c) => {
                self.plain_shard_column(*c)
            }
            _ => true,
        });
        if self.raw && shown_plain && crate::aggregate_fn::ignores_duplicates(&self.outputs) {
            set_distinct(&mut sql_tree);
        }
        let visible = self.visible_width();
        Ok(Built {
            sql_tree,
            merge: MergeSpec {
                merge_keys,
                aggregate: Some(AggregateSpec {
                    group_by,
                    outputs: self.outputs,
                    names: self.names,
                }),
                having,
                distinct: false,
                sort,
                offset,
                limit,
                visible,
            },
            width: self.cols.width,
            stars: self.cols.stars,
        })
    }

    /// Whether shard column `c` is a table column as it stands (a `*` column, or a name).
    fn plain_shard_column(&self, c: usize) -> bool {
        let mut stars = self.cols.stars.iter();
        let mut at = 0;
        for item in &self.cols.items {
            let width = match item {
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    stars.next().map_or(1, |(_, columns)| columns.len())
                }
                _ => 1,
            };
            if (at..at + width).contains(&c) {
                return match item {
                    SelectItem::UnnamedExpr(e) => column_ref(e).is_some(),
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
                    _ => false,
                };
            }
            at += width;
        }
        false
    }

    /// Whether the shards can compute `e` per group as it stands: no aggregate, no alias.
    fn pushable(&self, e: &Expr) -> Result<bool, RouteError> {
        Ok(!scan(e, self.table)? && self.alias_in(e).is_none())
    }

    /// HAVING over the aggregate's outputs. `v` is the verbatim-parsed condition (what the
    /// shards compute), `n` the same parsed normally (literal values).
    fn having(&mut self, v: &Expr, n: &Expr) -> Result<Merged, RouteError> {
        let unsupported =
            |this: &Self| this.refuse(format!("HAVING `{v}` cannot be evaluated by the merge"));
        // Literals first: they need no shard column.
        if let (Expr::Value(_), Expr::Value(nv)) = (strip(v), strip(n)) {
            if matches!(nv.value, Value::Placeholder(_)) {
                return Err(self.refuse("a parameter (`?`) in HAVING is not supported"));
            }
            if let Some(value) = literal_value(&nv.value) {
                return Ok(Merged::Literal(value));
            }
        }
        if let Expr::Identifier(id) = strip(v) {
            if !id.value.starts_with('@') {
                return self.having_name(v, id).map(Merged::Column);
            }
        }
        if self.pushable(v)? {
            return Ok(Merged::Column(self.group_level_output(v)));
        }
        if aggregate_call(v, self.table)?.is_some() {
            return Ok(Merged::Column(self.expr_output(v)?));
        }
        use BinaryOperator as B;
        match (v, n) {
            (Expr::Nested(v), Expr::Nested(n)) => self.having(v, n),
            (
                Expr::BinaryOp { left, op, right },
                Expr::BinaryOp {
                    left: nl,
                    right: nr,
                    ..
                },
            ) => {
                let (l, r) = (self.having(left, nl)?, self.having(right, nr)?);
                Ok(match op {
                    B::And => Merged::and(l, r),
                    B::Or => Merged::or(l, r),
                    B::Eq => Merged::cmp(CompareOp::Eq, l, r),
                    B::Spaceship => Merged::cmp(CompareOp::NullSafeEq, l, r),
                    B::NotEq => Merged::cmp(CompareOp::Ne, l, r),
                    B::Lt => Merged::cmp(CompareOp::Lt, l, r),
                    B::LtEq => Merged::cmp(CompareOp::Le, l, r),
                    B::Gt => Merged::cmp(CompareOp::Gt, l, r),
                    B::GtEq => Merged::cmp(CompareOp::Ge, l, r),
                    B::Plus => Merged::arith(ArithOp::Add, l, r),
                    B::Minus => Merged::arith(ArithOp::Sub, l, r),
                    B::Multiply => Merged::arith(ArithOp::Mul, l, r),
                    B::Divide => Merged::arith(ArithOp::Div, l, r),
                    _ => return Err(unsupported(self)),
                })
            }
            (Expr::UnaryOp { op, expr }, Expr::UnaryOp { expr: ne, .. }) => {
                let inner = self.having(expr, ne)?;
                Ok(match op {
                    UnaryOperator::Not => !inner,
                    UnaryOperator::Minus => Merged::Neg(Box::new(inner)),
                    UnaryOperator::Plus => inner,
                    _ => return Err(unsupported(self)),
                })
            }
            (Expr::IsNull(e), Expr::IsNull(ne)) => {
                Ok(Merged::IsNull(Box::new(self.having(e, ne)?)))
            }
            (Expr::IsNotNull(e), Expr::IsNotNull(ne)) => {
                Ok(Merged::IsNotNull(Box::new(self.having(e, ne)?)))
            }
            (
                Expr::Between {
                    expr,
                    negated,
                    low,
                    high,
                },
                Expr::Between {
                    expr: ne,
                    low: nlow,
                    high: nhigh,
                    ..
                },
            ) => {
                let x = self.having(expr, ne)?;
                let lo = self.having(low, nlow)?;
                let hi = self.having(high, nhigh)?;
                let between = Merged::and(
                    Merged::cmp(CompareOp::Ge, x.clone(), lo),
                    Merged::cmp(CompareOp::Le, x, hi),
                );
                Ok(if *negated { !between } else { between })
            }
            (
                Expr::InList {
                    expr,
                    list,
                    negated,
                },
                Expr::InList {
                    expr: ne,
                    list: nlist,
                    ..
                },
            ) if !list.is_empty() && list.len() == nlist.len() => {
                let x = self.having(expr, ne)?;
                let mut any: Option<Merged> = None;
                for (value, nvalue) in list.iter().zip(nlist) {
                    let eq = Merged::cmp(CompareOp::Eq, x.clone(), self.having(value, nvalue)?);
                    any = Some(match any {
                        None => eq,
                        Some(prev) => Merged::or(prev, eq),
                    });
                }
                let any = any.expect("list is not empty");
                Ok(if *negated { !any } else { any })
            }
            _ => Err(unsupported(self)),
        }
    }

    /// The select items whose alias is `name`.
    fn aliased(&self, name: &str) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| {
                self.items[i]
                    .alias
                    .is_some_and(|a| a.value.eq_ignore_ascii_case(name))
            })
            .collect()
    }

    /// A bare name in HAVING: an alias or selected column first, else a table column.
    fn having_name(&mut self, e: &Expr, id: &Ident) -> Result<usize, RouteError> {
        let aliased: Vec<usize> = self.aliased(&id.value);
        if let Some(i) = self.one_of(&aliased, &id.value, "HAVING")? {
            let grouped_by_name = self.group_exprs().iter().any(|g| {
                matches!(strip(g), Expr::Identifier(g) if g.value.eq_ignore_ascii_case(&id.value))
            });
            let same_column = self.items[i]
                .expr
                .and_then(column_ref)
                .is_some_and(|c| c.eq_ignore_ascii_case(&id.value));
            if grouped_by_name && !same_column {
                return Err(self.refuse(format!(
                    "HAVING `{}` may name the alias or the GROUP BY column of that name",
                    id.value
                )));
            }
            return Ok(self.item_start(i));
        }
        let unaliased = (0..self.items.len()).find(|&i| {
            self.items[i].alias.is_none()
                && self.items[i]
                    .expr
                    .and_then(column_ref)
                    .is_some_and(|c| c.eq_ignore_ascii_case(&id.value))
        });
        match unaliased {
            Some(i) => Ok(self.item_start(i)),
            None => Ok(self.group_level_output(e)),
        }
    }

    /// The shard statement: the verbatim query with this select list, GROUP BY `group_by`
    /// (shard columns, by position) if given, ORDER BY `order` (by position), LIMIT
    /// `limit`, and HAVING only if `keep_having`.
    fn shard_statement(
        &self,
        group_by: Option<&[usize]>,
        order: &[SortKey],
        limit: Option<u64>,
        keep_having: bool,
    ) -> Statement {
        let position = |c: usize| Expr::value(Value::Number((c + 1).to_string(), false));
        let mut select = self.select.clone();
        select.projection = self.cols.items.clone();
        if let Some(group_by) = group_by {
            select.group_by =
                GroupByExpr::Expressions(group_by.iter().map(|&c| position(c)).collect(), vec![]);
            // The shards group; DISTINCT over groups that include every group column is a no-op.
            select.distinct = None;
        }
        if !keep_having {
            select.having = None;
        }
        let mut query = self.query.clone();
        query.body = Box::new(SetExpr::Select(Box::new(select)));
        query.order_by = (!order.is_empty()).then(|| OrderBy {
            kind: OrderByKind::Expressions(
                order
                    .iter()
                    .map(|k| OrderByExpr {
                        expr: position(k.column),
                        options: OrderByOptions {
                            sort: k.descending.then_some(OrderBySort::Desc),
                            nulls_first: None,
                        },
                        with_fill: None,
                    })
                    .collect(),
            ),
            interpolate: None,
        });
        query.limit_clause = limit.map(|n| LimitClause::LimitOffset {
            limit: Some(Expr::value(Value::Number(n.to_string(), false))),
            offset: None,
            limit_by: vec![],
        });
        Statement::Query(Box::new(query))
    }
}

/// Makes the shard SELECT `sql_tree` a SELECT DISTINCT.
fn set_distinct(sql_tree: &mut Statement) {
    if let Statement::Query(q) = sql_tree {
        if let SetExpr::Select(s) = q.body.as_mut() {
            s.distinct = Some(Distinct::Distinct);
        }
    }
}

/// A HAVING literal as a merge value (MariaDB's types: integers, exact decimals, doubles
/// with an exponent, strings); `None` for literals the shards had better compute.
fn literal_value(v: &Value) -> Option<MergeValue> {
    Some(match v {
        Value::Number(n, _) => {
            if let Ok(i) = n.parse::<i64>() {
                MergeValue::Int(i)
            } else if let Ok(u) = n.parse::<u64>() {
                MergeValue::UInt(u)
            } else if n.contains(['e', 'E']) {
                MergeValue::double(n.parse().ok()?)
            } else {
                MergeValue::Decimal(Decimal::parse(n.as_bytes())?)
            }
        }
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
            MergeValue::bytes(s.clone().into_bytes())
        }
        Value::Null => MergeValue::Null,
        Value::Boolean(b) => MergeValue::Int(i64::from(*b)),
        _ => return None,
    })
}

/// How many `?` parameters a statement has.
fn placeholders(stmt: &Statement) -> usize {
    let mut count = 0;
    let _ = visit_expressions(stmt, |e| {
        if let Expr::Value(v) = e {
            count += usize::from(matches!(v.value, Value::Placeholder(_)));
        }
        ControlFlow::<()>::Continue(())
    });
    count
}

/// Renders the shard statement. Its `?` parameters must be the client's, in the client's
/// order (the executor binds the client's values to them); then they are written back as `?`.
fn finish_placeholders(
    mut stmt: Statement,
    params: usize,
    table: &TableRef<'_>,
) -> Result<String, RouteError> {
    let rendered = stmt.to_string();
    if params == 0 {
        return Ok(rendered);
    }
    let seen = placeholders(&stmt);
    // Check the order in the text (the tree's visiting order need not be the text's).
    let in_text: Vec<String> = Tokenizer::new(&MySqlDialect {}, &rendered)
        .tokenize()
        .map(|tokens| {
            tokens
                .into_iter()
                .filter_map(|t| match t {
                    Token::Placeholder(p) => Some(p),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<String> = (0..in_text.len()).map(|i| format!("?{i}")).collect();
    if in_text != expected || seen != params || in_text.len() != params {
        return Err(refuse(
            "SELECT",
            table,
            "a parameter (`?`) outside the WHERE clause and the plain select-list items is not supported (the shards' statement would drop, repeat or move it); give it as a literal",
        ));
    }
    let _ = visit_expressions_mut(&mut stmt, |e| {
        if let Expr::Value(v) = e {
            if let Value::Placeholder(p) = &mut v.value {
                *p = "?".into();
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(stmt.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_list_texts_are_the_items_as_written() {
        let sql = "SELECT DISTINCT count( * ) , a  +  b AS s, f(x, (y)) /* c */, 1 -- c\n + 2, 'x,y' FROM t";
        let texts = select_list_texts(sql, Syntax::DEFAULT, 5).unwrap();
        assert_eq!(
            texts,
            [
                "count( * )",
                "a  +  b AS s",
                "f(x, (y))",
                "1 \n + 2",
                "'x,y'"
            ]
        );
        assert_eq!(select_list_texts(sql, Syntax::DEFAULT, 4), None);
        let sql = "SELECT\n  é + 1,\n  `é`\nFROM t";
        assert_eq!(
            select_list_texts(sql, Syntax::DEFAULT, 2).unwrap(),
            ["é + 1", "`é`"]
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
    fn long_names_are_cut_like_mariadb() {
        let name = truncate_name("é".repeat(200));
        assert_eq!(name.len(), 256);
        assert_eq!(truncate_name("x".repeat(300)).len(), 256);
    }
}
