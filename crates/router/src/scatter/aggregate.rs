//! GROUP BY and aggregates: the shards group and compute partials (or send raw values), the merge combines them group by group.

use super::having::Scope;
use super::*;

impl<'a> ScatterBuilder<'a> {
    pub(super) fn group_exprs(&self) -> &'a [Expr] {
        match &self.select.group_by {
            GroupByExpr::Expressions(g, _) => g,
            GroupByExpr::All(_) => &[],
        }
    }

    /// A group-level value of the shard column `c`: the first row's (any row of the group is
    /// MariaDB's answer). Without GROUP BY, the least non-NULL one, so that a shard without
    /// rows (its one row all NULL but for the aggregates) does not decide it.
    pub(super) fn group_value(&self, c: usize) -> Aggregate {
        if self.grouped {
            Aggregate::First(c)
        } else {
            Aggregate::Min(c)
        }
    }

    /// Whether an aggregate call of the statement needs the rows' values at the merge.
    pub(super) fn needs_raw_values(&self) -> Result<bool, RouteError> {
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
    pub(super) fn aggregate_output(
        &mut self,
        func: AggFn,
        f: &Function,
    ) -> Result<Aggregate, RouteError> {
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
    pub(super) fn output(&mut self, agg: Aggregate, name: String) -> usize {
        if let Some(i) = self.outputs.iter().position(|o| *o == agg) {
            return i;
        }
        self.outputs.push(agg);
        self.names.push(name);
        self.outputs.len() - 1
    }

    /// The output for a non-aggregate expression, computed by the shards per group.
    pub(super) fn group_level_output(&mut self, e: &Expr) -> usize {
        let c = self.cols.expr(e);
        let agg = self.group_value(c);
        self.output(agg, strip(e).to_string())
    }

    /// The output for an expression: an aggregate call, a computation over aggregates, or a
    /// group-level value.
    pub(super) fn expr_output(&mut self, e: &Expr) -> Result<usize, RouteError> {
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

    /// The output of ORDER BY term `e` (`n` parsed normally) when it computes with
    /// aggregates (`ORDER BY SUM(a) / COUNT(*)`): a hidden computed output.
    fn computed_order_output(&mut self, e: &Expr, n: &Expr) -> Result<usize, RouteError> {
        if let Some(alias) = self.alias_in(e) {
            return Err(self.refuse(format!(
                "ORDER BY `{e}` computes with an aggregate and names the alias `{alias}`"
            )));
        }
        let column = self.computed_column(e)?;
        let output = self.output(column, strip(e).to_string());
        if self.computed.iter().all(|(o, _)| *o != output) {
            let merged = self.merged(e, n, Scope::Computed)?;
            self.computed.push((output, merged));
        }
        Ok(output)
    }

    /// The shard column computing `e` over aggregates, passed through until the merge
    /// replaces its value.
    fn computed_column(&mut self, e: &Expr) -> Result<Aggregate, RouteError> {
        if self.raw {
            // The shards send rows, not groups: nothing describes the column.
            return Err(self.refuse(format!(
                "`{e}` computes with an aggregate, and an aggregate of the statement (a DISTINCT one, GROUP_CONCAT, BIT_*, STDDEV or VARIANCE) makes the shards send rows rather than groups"
            )));
        }
        Ok(Aggregate::First(self.cols.expr(e)))
    }

    /// The shard column of the column reference `e`: a selected item's when it is the same
    /// column (`code` and `` `code` `` are one column, so one group column and output).
    fn column_of(&mut self, e: &Expr) -> usize {
        match self
            .item_same_column(strip(e))
            .and_then(|i| self.items[i].expr)
        {
            Some(item) => self.cols.expr(item),
            None => self.cols.expr(e),
        }
    }

    /// GROUP BY term `e` as a shard column, by MariaDB's rules: a number is a position, a
    /// bare name a table column before an alias, except that the alias of an expression wins.
    pub(super) fn group_column(&mut self, e: &Expr) -> Result<usize, RouteError> {
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
                Ok(self.column_of(e))
            }
            _ if column_ref(inner).is_some() => Ok(self.column_of(e)),
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
    pub(super) fn build_aggregate(
        mut self,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Built, RouteError> {
        self.expand_stars()?;
        let mut computed_items = Vec::new();
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
                    // Evaluated once every visible output has its place (below).
                    computed_items.push((self.outputs.len(), i, expr));
                    self.computed_column(expr)?
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
        for (output, i, expr) in computed_items {
            let normal = match &self.normal.projection[i] {
                SelectItem::UnnamedExpr(n) | SelectItem::ExprWithAlias { expr: n, .. } => n,
                _ => expr,
            };
            let merged = self.merged(expr, normal, Scope::Computed)?;
            self.computed.push((output, merged));
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
            for (k, term) in self.order_terms().iter().enumerate() {
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
                    Target::Expr(e)
                        if scan(e, self.table)? && aggregate_call(e, self.table)?.is_none() =>
                    {
                        let n = self.normal_order.get(k).map_or(e, |t| &t.expr);
                        self.computed_order_output(e, n)?
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
        let rollup =
            matches!(&self.select.group_by, GroupByExpr::Expressions(_, m) if !m.is_empty());
        if rollup {
            self.check_rollup(&group_by)?;
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
        Ok(Built::of(
            sql_tree,
            MergeSpec {
                merge_keys,
                aggregate: Some(AggregateSpec {
                    group_by,
                    outputs: self.outputs,
                    names: self.names,
                    computed: self.computed,
                    rollup,
                }),
                window: None,
                having,
                distinct: false,
                sort,
                offset,
                limit,
                visible,
            },
            self.cols,
        ))
    }

    /// `WITH ROLLUP` over the merged groups (the shards group without it). Refused where a
    /// rollup row would show what the merge cannot compute or describe: a column that is no
    /// group column (MariaDB shows a value of the last row), an expression over group
    /// columns (computed anew with the rolled-up ones NULL), a group expression (described by
    /// MariaDB as the expression, by the shards as a temporary table's field: `YEAR(d)` is 4
    /// long there, 5 here), a column grouped twice; and with ORDER BY (MariaDB's error 1221)
    /// or DISTINCT.
    fn check_rollup(&self, group_by: &[usize]) -> Result<(), RouteError> {
        if !self.order_terms().is_empty() {
            return Err(self.refuse("GROUP BY … WITH ROLLUP with ORDER BY"));
        }
        if self.select.distinct.is_some() {
            return Err(self.refuse("SELECT DISTINCT with GROUP BY … WITH ROLLUP"));
        }
        // MariaDB's super-aggregate rows of COUNT / SUM / AVG(DISTINCT) depend on its plan:
        // grouped by a unique key, they add the groups' answers instead of counting the
        // distinct values again (`GROUP BY id WITH ROLLUP`: COUNT(DISTINCT v) of the total is
        // the sum of the groups' counts). Computed where MariaDB computes it.
        if self.outputs.iter().any(|o| {
            matches!(
                o,
                Aggregate::CountDistinct(_) | Aggregate::SumDistinct(_) | Aggregate::AvgDistinct(_)
            )
        }) {
            return Err(self.refuse("COUNT / SUM / AVG(DISTINCT …) with GROUP BY … WITH ROLLUP"));
        }
        if let Some(e) = self
            .select
            .selection
            .as_ref()
            .and_then(column_equals_constant)
        {
            // A unique key equal to a constant makes its table a constant one, whose columns
            // MariaDB's ROLLUP declares nullable, unlike the shards' GROUP BY.
            return Err(self.refuse(format!(
                "WITH ROLLUP under `{e}`, a condition that may make its table a constant one"
            )));
        }
        for (k, g) in group_by.iter().enumerate() {
            if group_by[..k].contains(g) {
                return Err(self.refuse("WITH ROLLUP over a column grouped twice"));
            }
            if !self.plain_shard_column(*g) {
                return Err(self.refuse(format!(
                    "WITH ROLLUP over the group expression `{}` (only table columns)",
                    self.group_exprs()[k]
                )));
            }
        }
        let group_level: Vec<usize> = (self.outputs.iter().enumerate())
            .filter(|(_, o)| matches!(o, Aggregate::First(_)))
            .map(|(i, _)| i)
            .collect();
        for &i in &group_level {
            let Aggregate::First(c) = self.outputs[i] else {
                unreachable!("filtered")
            };
            let computed = self.computed.iter().find(|(o, _)| *o == i);
            if let Some((_, e)) = computed {
                if e.columns().iter().any(|c| group_level.contains(c)) {
                    return Err(self.refuse(format!(
                        "`{}` computes with a group column under WITH ROLLUP",
                        self.names[i]
                    )));
                }
            } else if !group_by.contains(&c) {
                return Err(self.refuse(format!(
                    "`{}` is not a GROUP BY column, and WITH ROLLUP's total rows would show a value of their last row",
                    self.names[i]
                )));
            }
        }
        Ok(())
    }

    /// Whether shard column `c` is a table column as it stands (a `*` column, or a name).
    pub(super) fn plain_shard_column(&self, c: usize) -> bool {
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
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        column_ref(e).is_some()
                    }
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
                    _ => false,
                };
            }
            at += width;
        }
        false
    }

    /// Whether the shards can compute `e` per group as it stands: no aggregate, no alias.
    pub(super) fn pushable(&self, e: &Expr) -> Result<bool, RouteError> {
        Ok(!scan(e, self.table)? && self.alias_in(e).is_none())
    }
}

/// A condition of `selection` (under AND / OR) that may hold a column to one constant: `column =
/// constant` (or `<=>`, or `IN` one constant), or `column BETWEEN a AND b` (bounds MariaDB may
/// find equal: `BETWEEN N'287' AND 0x11f` is `= 287`). A constant is any expression that names
/// no column and has no subquery (`CAST('5' AS SIGNED)`, `-(3)`): MariaDB evaluates it first.
fn column_equals_constant(selection: &Expr) -> Option<&Expr> {
    // Under AND and OR alike: MariaDB drops a disjunct it finds false (`… OR 0`).
    let mut terms = Vec::new();
    let mut pending = vec![selection];
    while let Some(e) = pending.pop() {
        match e {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And | BinaryOperator::Or | BinaryOperator::Xor,
                right,
            } => pending.extend([right.as_ref(), left.as_ref()]),
            Expr::Nested(inner) => pending.push(inner),
            other => terms.push(other),
        }
    }
    terms.into_iter().find(|e| match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq | BinaryOperator::Spaceship,
            right,
        } => {
            (column_ref(left).is_some() && constant(right))
                || (column_ref(right).is_some() && constant(left))
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } => column_ref(expr).is_some() && list.len() == 1,
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => column_ref(expr).is_some() && constant(low) && constant(high),
        _ => false,
    })
}

/// Whether `e` names no column and holds no subquery (a user variable is a constant to
/// MariaDB's optimizer).
fn constant(e: &Expr) -> bool {
    sqlparser::ast::visit_expressions(e, |e| match e {
        Expr::Identifier(id) if id.value.starts_with('@') => ControlFlow::Continue(()),
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Subquery(_)
        | Expr::Exists { .. }
        | Expr::InSubquery { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_continue()
}
