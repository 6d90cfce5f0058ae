//! What a scattered SELECT may hold: the checks of its form, and the aggregate calls the merge combines.

use super::*;

/// Refuses SELECT clauses the scatter does not model, and says where its window functions
/// are computed. `keyed` are the tables whose shard keys a window may partition by
/// (`only_table`: unqualified names are theirs).
pub(super) fn check_select_form(
    q: &Query,
    s: &Select,
    table: &TableRef<'_>,
    keyed: &[TableRef<'_>],
    only_table: bool,
) -> Result<Windows, RouteError> {
    let no = |what: &str| Err(refuse("SELECT", table, what));
    let windows = check_windows(q, s, table, keyed, only_table)?;
    // Each shard computes the CTEs over its own rows: their tables must follow the FROM
    // list's (`subqueries_follow`), recursive ones read no sharded table (`colocated_tables`).
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
        GroupByExpr::Expressions(_, modifiers)
            if !modifiers.is_empty() && *modifiers != [GroupByWithModifier::Rollup] =>
        {
            return no("this form of GROUP BY is not supported")
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
    Ok(windows)
}

/// Where a scattered SELECT's window functions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Windows {
    /// None, or each shard computes them for its own rows: every window partitions by a
    /// shard key (each partition's rows live on one shard), over no outer join.
    OnShards,
    /// The merge computes them over all the rows (`ScatterBuilder::build_window`).
    InMerge,
}

/// Window functions: on the shards when every window partitions by a shard key, else in the
/// merge; either way not in a statement that groups (the windows would run over groups).
fn check_windows(
    q: &Query,
    s: &Select,
    table: &TableRef<'_>,
    keyed: &[TableRef<'_>],
    only_table: bool,
) -> Result<Windows, RouteError> {
    let mut exprs: Vec<&Expr> = s
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
            _ => None,
        })
        .collect();
    if let Some(OrderByKind::Expressions(terms)) = q.order_by.as_ref().map(|o| &o.kind) {
        exprs.extend(terms.iter().map(|t| &t.expr));
    }
    let mut windows = 0;
    let mut unkeyed = false;
    for e in &exprs {
        let _ = visit_expressions(*e, |x| {
            if let Expr::Function(f) = x {
                match &f.over {
                    None => {}
                    Some(sqlparser::ast::WindowType::WindowSpec(spec))
                        if spec.partition_by.iter().any(|p| {
                            keyed.iter().any(|t| t.is_key_column(strip(p), only_table))
                        }) =>
                    {
                        windows += 1
                    }
                    Some(_) => unkeyed = true,
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }
    // An outer join's NULL-extended rows share one NULL key on every shard.
    unkeyed |= windows > 0 && has_outer_join(&s.from);
    if windows == 0 && !unkeyed {
        return Ok(Windows::OnShards);
    }
    let grouped = match &s.group_by {
        GroupByExpr::Expressions(g, _) => !g.is_empty(),
        GroupByExpr::All(_) => true,
    };
    let mut aggregates = false;
    for e in &exprs {
        aggregates |= scan(e, table)?;
    }
    if grouped || aggregates || s.having.is_some() || s.distinct.is_some() {
        return Err(refuse(
            "SELECT",
            table,
            "window functions with GROUP BY, aggregates or DISTINCT across shards are not supported",
        ));
    }
    Ok(if unkeyed {
        Windows::InMerge
    } else {
        Windows::OnShards
    })
}

/// Whether `from` joins any table other than by an inner join: its NULL-extended rows, on
/// every shard, put a NULL where a shard key was (one partition, one group across shards).
pub(super) fn has_outer_join(from: &[TableWithJoins]) -> bool {
    use sqlparser::ast::JoinOperator as J;
    from.iter().flat_map(|t| &t.joins).any(|j| {
        !matches!(
            j.join_operator,
            J::Join(_) | J::Inner(_) | J::CrossJoin(_) | J::StraightJoin(_)
        )
    })
}

/// Aggregate functions MariaDB knows that the merge cannot combine.
pub(super) const OTHER_AGGREGATES: &[&str] = &[
    "json_arrayagg",
    "json_objectagg",
    "percentile_cont",
    "percentile_disc",
    "median",
];

/// The unqualified, lower-cased name of a function call.
pub(crate) fn function_name(f: &Function) -> Option<String> {
    match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] => Some(id.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// Strips parentheses: `((x))` → `x`.
pub(super) fn strip(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// `Ok(Some)` for a COUNT / SUM / MIN / MAX / AVG call the merge combines, `Ok(None)` for an
/// expression that is not an aggregate call, `Err` for an aggregate it cannot combine.
pub(crate) fn aggregate_call(
    e: &Expr,
    table: &TableRef<'_>,
) -> Result<Option<(AggFn, Function)>, RouteError> {
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
        // A window function, not an aggregate (see `check_windows`).
        return Ok(None);
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
pub(crate) fn scan(e: &Expr, table: &TableRef<'_>) -> Result<bool, RouteError> {
    let mut found = false;
    let mut error = None;
    let _ = visit_expressions(e, |x| {
        let outcome = match x {
            // A window function is computed per row (see `check_windows`).
            Expr::Function(f) if f.over.is_some() => Ok(()),
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
pub(super) fn has_collate(e: &Expr) -> bool {
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
pub(super) fn renamed(f: &Function, name: &str) -> Expr {
    let mut g = f.clone();
    g.name = ObjectName::from(vec![Ident::new(name)]);
    Expr::Function(g)
}
