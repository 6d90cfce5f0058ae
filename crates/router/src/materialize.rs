//! The general fallback for a SELECT no shard can answer alone and no merge handles (derived
//! tables and CTEs over scatters, joins across shards, uncorrelated subqueries over sharded
//! tables, window functions, `WITH ROLLUP`, `JSON_ARRAYAGG` …): every sharded table it names is
//! *materialized* — its rows read from its shards and copied into a temporary table of the
//! same name and definition on one compute connection of the default shard, where the copy
//! shadows the base table — and the statement then runs there unchanged, so MariaDB itself
//! computes the answer (Citus's "recursive planning" into intermediate results).
//!
//! Only reached where the planner refuses a SELECT today, so no other statement pays for it.
//! A conjunct of a query block's WHERE that reads only one sharded table's columns, through
//! whitelisted deterministic operators and literals, is sent with that table's copy (fewer rows
//! copied), and its shard-key values prune the copy's shards — only for a table named once in
//! the statement and not on the NULL-extended side of an outer join: the statement still
//! applies every condition, so a looser copy is harmless and a stricter one would be wrong.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use shardgate_config::Topology;
use shardgate_ring::ShardId;
use sqlparser::ast::{
    Expr, JoinOperator, ObjectNamePart, Query, Select, SetExpr, Statement, TableFactor,
    TableWithJoins, Visit, Visitor,
};

use crate::block_scope::BlockScope;
use crate::colocated_semijoin::{colocated_semijoins, Filtered};
use crate::derived_rows::OverDerived;
use crate::implied::implied_by_disjunction;
use crate::prune::{shards_of, Keyed};
use crate::pushable::pushable;
use crate::reference_semijoin::reference_semijoins;
use crate::row_conditions::row_conditions;
use crate::shard_key::{base_name, TableRef};
use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// A SELECT answered by copying its sharded tables to one compute connection.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterializePlan {
    /// One copy per sharded table the statement names, in the order it first names them.
    pub copies: Vec<TableCopy>,
    /// The same statement over the rows of its derived tables and fewer copies
    /// (`derived_rows.rs`), when it has derived tables with plans of their own.
    pub over_derived: Option<OverDerived>,
    /// Where the copies are made and the statement runs.
    pub compute_shard: ShardId,
    /// Tables whose columns would have narrowed the copies (an unqualified name resolved by
    /// the schema cache) but the cache lacks: the executor reads them and plans the statement
    /// again before it runs, keeping this plan if that fails.
    pub uncached: Vec<String>,
}

/// One sharded table's rows, copied into a temporary table that shadows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCopy {
    /// The table's name as configured.
    pub table: String,
    /// The database the statement qualifies it with, if it does.
    pub database: Option<String>,
    /// The shards holding the rows the statement may read (pruned by pushed key conditions).
    pub shards: Vec<ShardId>,
    /// Conditions every row the statement may read satisfies, as SQL over the table's own
    /// name (`WHERE` of the copy's reads), when some could be pushed.
    pub filter: Option<String>,
}

impl TableCopy {
    /// The table's name for SQL text: `` `db`.`t` `` or `` `t` ``.
    pub fn quoted_name(&self) -> String {
        match &self.database {
            Some(db) => format!("{}.{}", quote(db), quote(&self.table)),
            None => quote(&self.table),
        }
    }
}

/// A backquoted identifier.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Plans `stmt` (parsed from `sql`) by materialization when the planner refused it with
/// `refusal` and it is a SELECT over sharded tables that this path answers; otherwise gives
/// `refusal` back.
pub(crate) fn fallback(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
    refusal: RouteError,
) -> Result<Plan, RouteError> {
    let recoverable = matches!(
        refusal,
        RouteError::Unsupported { .. }
            | RouteError::NoShardKey { .. }
            | RouteError::KeySpansShards { .. }
            | RouteError::CrossShard { .. }
            | RouteError::NotSupported(_)
    );
    let Statement::Query(query) = stmt else {
        return Err(refusal);
    };
    if !recoverable {
        return Err(refusal);
    }
    let occurrences = sharded_occurrences(stmt, topology);
    match not_from_copies(query) {
        _ if occurrences.is_empty() => return Err(refusal),
        // Why no plan took it, and why copies do not either.
        Some(NotFromCopies::Locks) => {
            return Err(RouteError::NotSupported(format!(
                "{refusal}; a locking read (FOR UPDATE, LOCK IN SHARE MODE) is not answered from copies of its tables, which would not hold the shards' locks"
            )))
        }
        Some(NotFromCopies::Writes) => return Err(refusal),
        None => {}
    }
    let mut copies = copies_of(&occurrences, topology)?;
    let verbatim = crate::lex::parse_verbatim(sql, syntax);
    // Pushed conditions come from a tree whose strings are as written, so they render as sent.
    let Some([Statement::Query(verbatim)]) = verbatim.as_deref() else {
        return Ok(materialized(copies, None, topology));
    };
    // Tables whose columns a name needed and the schema cache lacks (`uncached`).
    let mut missing = push_filters(verbatim, syntax, topology, &occurrences, &mut copies);
    // Correlated scalar subqueries joined as derived tables, when it has some; else its own
    // derived tables.
    let joined = rewritten(sql, verbatim, syntax, |sql, query| {
        crate::decorrelate::scalar_aggregates(sql, query, topology, syntax, &mut missing)
    });
    // Membership subqueries read from CTEs of their distinct values.
    let (base, base_query): (&str, &Query) = match &joined {
        Some((text, statements)) => match statements.as_slice() {
            [Statement::Query(query)] => (text, query),
            _ => (sql, verbatim),
        },
        None => (sql, verbatim),
    };
    let valued = rewritten(base, base_query, syntax, |sql, query| {
        crate::subquery_values::distinct_values(sql, query, topology, &mut missing)
    });
    // The most rewritten text whose derived tables the proxy computes, else the client's.
    let mut over_derived_of =
        |sql: &str, query: &Query| over_derived(sql, query, topology, syntax, &mut missing);
    let over_derived = [valued.as_ref(), joined.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|(text, statements)| match statements.as_slice() {
            [Statement::Query(query)] => over_derived_of(text, query),
            _ => None,
        })
        .or_else(|| over_derived_of(sql, verbatim))
        .map(|over| OverDerived {
            sql: crate::scatter::column_names::client_item_names(sql, verbatim, &over.sql, syntax),
            ..over
        });
    missing.sort_unstable();
    missing.dedup();
    let mut plan = materialized(copies, over_derived, topology);
    if let Route::Materialize(m) = &mut plan.route {
        m.uncached = missing;
    }
    Ok(plan)
}

/// The text `rewrite` makes of `sql` (parsed as `query`), parsed; `None` when it makes none
/// (or one that does not parse).
fn rewritten(
    sql: &str,
    query: &Query,
    syntax: Syntax,
    rewrite: impl FnOnce(&str, &Query) -> Option<String>,
) -> Option<(String, Vec<Statement>)> {
    let text = rewrite(sql, query)?;
    let statements = crate::lex::parse_verbatim(&text, syntax)?;
    Some((text, statements))
}

/// The statement `sql` (parsed as `query`) over the rows of its derived tables, when it has
/// some the proxy computes (`derived_rows.rs`).
fn over_derived(
    sql: &str,
    query: &Query,
    topology: &Topology,
    syntax: Syntax,
    missing: &mut Vec<String>,
) -> Option<OverDerived> {
    let (derived, sql) = crate::derived_rows::take(sql, query, topology, syntax, missing)?;
    let statements = crate::lex::parse_verbatim(&sql, syntax)?;
    let [Statement::Query(rewritten)] = statements.as_slice() else {
        return None;
    };
    let occurrences = sharded_occurrences(&statements[0], topology);
    let mut copies = copies_of(&occurrences, topology).ok()?;
    missing.extend(push_filters(
        rewritten,
        syntax,
        topology,
        &occurrences,
        &mut copies,
    ));
    let named = |table: &str| occurrences.iter().filter(|(t, _)| t == table).count();
    let narrowings = crate::copy_narrowing::narrowings(rewritten, &derived, &copies, named);
    Some(OverDerived {
        derived,
        sql,
        copies,
        narrowings,
    })
}

fn materialized(
    copies: Vec<TableCopy>,
    over_derived: Option<OverDerived>,
    topology: &Topology,
) -> Plan {
    let plan = MaterializePlan {
        copies,
        over_derived,
        compute_shard: topology.default_shard,
        uncached: Vec::new(),
    };
    Plan::new(StatementKind::Read, Route::Materialize(Box::new(plan)))
}

/// One copy per sharded table of `occurrences`, each from every shard.
fn copies_of(
    occurrences: &[(String, Option<String>)],
    topology: &Topology,
) -> Result<Vec<TableCopy>, RouteError> {
    let mut copies: Vec<TableCopy> = Vec::new();
    for (table, database) in occurrences {
        match copies.iter().find(|c| &c.table == table) {
            Some(copy) if copy.database.as_ref().map(|d| d.to_ascii_lowercase())
                != database.as_ref().map(|d| d.to_ascii_lowercase()) =>
            {
                return Err(RouteError::NotSupported(format!(
                    "sharded table `{table}` named both with and without its database (or with two databases) in one statement answered across shards is not supported by shardgate; name it one way"
                )))
            }
            Some(_) => {}
            None => copies.push(TableCopy {
                table: table.clone(),
                database: database.clone(),
                shards: (0..topology.shards.len()).collect(),
                filter: None,
            }),
        }
    }
    Ok(copies)
}

/// What keeps a statement from being answered from copies of its tables.
enum NotFromCopies {
    /// `FOR UPDATE` / `LOCK IN SHARE MODE` anywhere: the copies would not hold the shards' locks.
    Locks,
    /// `SELECT … INTO`, or a `FOR` clause of another dialect.
    Writes,
}

fn not_from_copies(query: &Query) -> Option<NotFromCopies> {
    struct Finder;
    impl Visitor for Finder {
        type Break = NotFromCopies;
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<NotFromCopies> {
            if !query.locks.is_empty() {
                return ControlFlow::Break(NotFromCopies::Locks);
            }
            if query.for_clause.is_some() || selects(&query.body).any(|s| s.into.is_some()) {
                return ControlFlow::Break(NotFromCopies::Writes);
            }
            ControlFlow::Continue(())
        }
    }
    match query.visit(&mut Finder) {
        ControlFlow::Break(why) => Some(why),
        ControlFlow::Continue(()) => None,
    }
}

/// The SELECT blocks of a query body (the branches of its set operations).
fn selects(body: &SetExpr) -> Box<dyn Iterator<Item = &Select> + '_> {
    match body {
        SetExpr::Select(s) => Box::new(std::iter::once(s.as_ref())),
        SetExpr::SetOperation { left, right, .. } => Box::new(selects(left).chain(selects(right))),
        _ => Box::new(std::iter::empty()),
    }
}

/// Every reference to a sharded (not reference) table, in text order: the configured name
/// and the database it is qualified with.
pub(crate) fn sharded_occurrences(
    stmt: &Statement,
    topology: &Topology,
) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let _ = sqlparser::ast::visit_relations(stmt, |name| {
        if let Some(rule) = base_name(name).and_then(|t| topology.table(&t)) {
            let database = match name.0.as_slice() {
                [ObjectNamePart::Identifier(db), _] => Some(db.value.clone()),
                _ => None,
            };
            found.push((rule.name.clone(), database));
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// Adds to each copy the WHERE conjuncts that may filter its rows, and prunes its shards by
/// their shard-key values (see the module's comment for when that is safe). Gives the tables
/// whose columns an unqualified name needed and the schema cache lacks.
fn push_filters(
    query: &Query,
    syntax: Syntax,
    topology: &Topology,
    occurrences: &[(String, Option<String>)],
    copies: &mut [TableCopy],
) -> Vec<String> {
    let mut missing = Vec::new();
    let mut named: BTreeMap<&str, usize> = BTreeMap::new();
    for (table, _) in occurrences {
        *named.entry(table.as_str()).or_default() += 1;
    }
    let mut blocks = Vec::new();
    walk_blocks(query, &mut blocks);
    let schema = topology.schema.current();
    let ctes = crate::block_scope::cte_names(query);
    for select in blocks {
        let conditions = row_conditions(select);
        if conditions.is_empty() {
            continue;
        }
        let scope = BlockScope::of(select, &ctes);
        let mut copied = Vec::new();
        for (factor, preserved) in factors(&select.from) {
            let TableFactor::Table { name, alias, .. } = factor else {
                continue;
            };
            let Some(this) = scope.position(factor).filter(|&i| scope.table(i).is_some()) else {
                continue;
            };
            let Some(rule) = base_name(name).and_then(|t| topology.table(&t)) else {
                continue;
            };
            if !preserved || named.get(rule.name.as_str()) != Some(&1) {
                continue;
            }
            let Some(copy) = copies.iter_mut().find(|c| c.table == rule.name) else {
                continue;
            };
            let table = TableRef::new(
                rule,
                base_name(name).unwrap_or_default(),
                alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
                topology,
            );
            let only_table = select.from.len() == 1 && select.from[0].joins.is_empty();
            let own = |e: &Expr| scope.owner(e, topology, &schema) == Some(this);
            let (parts, others): (Vec<&Expr>, Vec<&Expr>) =
                (conditions.iter()).partition(|part| pushable(part, &own));
            let keyed = Keyed {
                table: &table,
                only_table,
                written: Some(syntax),
            };
            if let Some(shards) = shards_of(&parts, &[keyed]) {
                copy.shards.retain(|s| shards.contains(s));
            }
            let mut rendered: Vec<String> = parts
                .iter()
                .map(|p| format!("({})", unqualified(p, &table)))
                .collect();
            rendered.extend(others.iter().filter_map(|part| {
                implied_by_disjunction(part, &own, &|e| unqualified(e, &table))
            }));
            rendered.extend(reference_semijoins(
                &conditions,
                &scope,
                &ctes,
                this,
                &|e| unqualified(e, &table),
                topology,
                &schema,
            ));
            copied.push(Filtered {
                position: this,
                quoted_name: copy.quoted_name(),
                table,
                conditions: rendered,
            });
        }
        // Then each copy reads only the rows joining a co-located copy's own.
        let narrowed: Vec<Vec<String>> = (copied.iter())
            .map(|this| {
                colocated_semijoins(
                    select,
                    &scope,
                    this,
                    &copied,
                    &unqualified,
                    topology,
                    &schema,
                )
            })
            .collect();
        for (filtered, narrowed) in copied.into_iter().zip(narrowed) {
            let conditions: Vec<String> = filtered.conditions.into_iter().chain(narrowed).collect();
            let copy = copies
                .iter_mut()
                .find(|c| c.table == filtered.table.rule.name);
            if let (Some(copy), false) = (copy, conditions.is_empty()) {
                copy.filter = Some(conditions.join(" AND "));
            }
        }
        missing.extend(scope.missing());
    }
    missing
}

/// Every SELECT block of `query`: its CTEs', derived tables' and (some) subqueries' too.
fn walk_blocks<'q>(query: &'q Query, out: &mut Vec<&'q Select>) {
    if let Some(with) = &query.with {
        for cte in &with.cte_tables {
            walk_blocks(&cte.query, out);
        }
    }
    walk_body(&query.body, out);
}

fn walk_body<'q>(body: &'q SetExpr, out: &mut Vec<&'q Select>) {
    match body {
        SetExpr::Select(select) => {
            out.push(select);
            for from in &select.from {
                walk_factor(&from.relation, out);
                for join in &from.joins {
                    walk_factor(&join.relation, out);
                }
            }
            let mut subqueries = Vec::new();
            for expr in select_exprs(select) {
                expr_subqueries(expr, &mut subqueries);
            }
            for q in subqueries {
                walk_blocks(q, out);
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            walk_body(left, out);
            walk_body(right, out);
        }
        SetExpr::Query(q) => walk_blocks(q, out),
        _ => {}
    }
}

fn walk_factor<'q>(factor: &'q TableFactor, out: &mut Vec<&'q Select>) {
    match factor {
        TableFactor::Derived { subquery, .. } => walk_blocks(subquery, out),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            walk_factor(&table_with_joins.relation, out);
            for join in &table_with_joins.joins {
                walk_factor(&join.relation, out);
            }
        }
        _ => {}
    }
}

/// The expressions of a block that may hold subqueries.
fn select_exprs(select: &Select) -> Vec<&Expr> {
    let mut exprs: Vec<&Expr> = Vec::new();
    exprs.extend(select.selection.as_ref());
    exprs.extend(select.having.as_ref());
    for item in &select.projection {
        match item {
            sqlparser::ast::SelectItem::UnnamedExpr(e)
            | sqlparser::ast::SelectItem::ExprWithAlias { expr: e, .. } => exprs.push(e),
            _ => {}
        }
    }
    exprs
}

/// The subqueries directly inside `expr` (not those inside them).
fn expr_subqueries<'q>(expr: &'q Expr, out: &mut Vec<&'q Query>) {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Subquery(q) | Expr::Exists { subquery: q, .. } => out.push(q),
            Expr::InSubquery { expr, subquery, .. } => {
                stack.push(expr);
                out.push(subquery);
            }
            Expr::BinaryOp { left, right, .. } => {
                stack.push(left);
                stack.push(right);
            }
            Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => stack.push(expr),
            _ => {}
        }
    }
}

/// The table factors of a FROM list at its top level, each with whether its rows are
/// preserved (not NULL-extended by an outer join). Factors of nested joins are not listed.
pub(crate) fn factors(from: &[TableWithJoins]) -> Vec<(&TableFactor, bool)> {
    let mut out = Vec::new();
    for chain in from {
        // A RIGHT or FULL join NULL-extends everything to its left.
        let last_right = chain
            .joins
            .iter()
            .rposition(|j| extends_left(&j.join_operator));
        out.push((&chain.relation, last_right.is_none()));
        for (i, join) in chain.joins.iter().enumerate() {
            let extended = extends_right(&join.join_operator)
                || last_right.is_some_and(|r| r > i)
                || !known_join(&join.join_operator);
            out.push((&join.relation, !extended));
        }
    }
    out
}

fn extends_left(op: &JoinOperator) -> bool {
    matches!(
        op,
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) | JoinOperator::FullOuter(_)
    ) || !known_join(op)
}

fn extends_right(op: &JoinOperator) -> bool {
    matches!(
        op,
        JoinOperator::Left(_) | JoinOperator::LeftOuter(_) | JoinOperator::FullOuter(_)
    )
}

/// Joins whose NULL extension is understood here; any other keeps every condition home.
fn known_join(op: &JoinOperator) -> bool {
    matches!(
        op,
        JoinOperator::Join(_)
            | JoinOperator::Inner(_)
            | JoinOperator::Left(_)
            | JoinOperator::LeftOuter(_)
            | JoinOperator::Right(_)
            | JoinOperator::RightOuter(_)
            | JoinOperator::FullOuter(_)
            | JoinOperator::CrossJoin(_)
            | JoinOperator::StraightJoin(_)
    )
}

/// `expr` with the table's alias qualifiers replaced by nothing, for the copy's own `WHERE`
/// (which reads the table under its own name, without the statement's alias).
fn unqualified(expr: &Expr, table: &TableRef<'_>) -> String {
    let mut expr = expr.clone();
    let _ = sqlparser::ast::visit_expressions_mut(&mut expr, |e| {
        if let Expr::CompoundIdentifier(parts) = e {
            if parts.len() == 2 && table.is_named(&parts[0]) {
                *e = Expr::Identifier(parts[1].clone());
            }
        }
        ControlFlow::<()>::Continue(())
    });
    expr.to_string()
}

#[cfg(test)]
mod tests {
    use crate::{plan_sql, Route, Syntax};
    use shardgate_config::Topology;

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    fn materialized(sql: &str) -> crate::MaterializePlan {
        match plan_sql(sql, &topology(), Syntax::DEFAULT) {
            Ok(plan) => match plan.route {
                Route::Materialize(m) => *m,
                other => panic!("{sql}: planned as {other:?}"),
            },
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    #[test]
    fn a_join_across_shards_copies_both_tables() {
        let m =
            materialized("SELECT u.name, o.amount FROM users u JOIN orders o ON o.amount = u.id");
        let tables: Vec<&str> = m.copies.iter().map(|c| c.table.as_str()).collect();
        assert_eq!(tables, ["users", "orders"]);
        assert!(m.copies.iter().all(|c| c.filter.is_none()));
    }

    #[test]
    fn conditions_on_one_table_are_pushed_and_prune_by_key() {
        let m = materialized(
            "SELECT * FROM users u JOIN orders o ON o.amount = u.id WHERE u.id IN (1, 2) AND o.amount > 5 AND o.amount < u.id",
        );
        let users = &m.copies[0];
        assert_eq!(users.filter.as_deref(), Some("(id IN (1, 2))"));
        assert!(users.shards.len() <= 2);
        assert_eq!(m.copies[1].filter.as_deref(), Some("(amount > 5)"));
    }

    #[test]
    fn nothing_is_pushed_to_the_null_extended_side_or_a_table_named_twice() {
        let m = materialized(
            "SELECT * FROM users u LEFT JOIN orders o ON o.amount = u.id WHERE o.amount IS NULL AND u.id > 3",
        );
        assert_eq!(m.copies[0].filter.as_deref(), Some("(id > 3)"));
        assert_eq!(m.copies[1].filter, None);
        let m =
            materialized("SELECT * FROM users a JOIN users b ON a.name = b.name WHERE a.id = 1");
        assert_eq!(m.copies.len(), 1);
        assert_eq!(m.copies[0].filter, None);
    }

    #[test]
    fn functions_variables_and_subqueries_stay_home() {
        let m = materialized(
            "SELECT * FROM users u JOIN orders o ON o.amount = u.id WHERE u.id = @x AND RAND() < u.id AND u.id IN (SELECT 1)",
        );
        assert_eq!(m.copies[0].filter, None);
        // A deterministic function of the row's columns and constants goes with the copy.
        let m = materialized(
            "SELECT * FROM users u JOIN orders o ON o.amount = u.id WHERE u.id = @x AND UPPER(u.name) = CONCAT('a', 'b')",
        );
        assert_eq!(
            m.copies[0].filter.as_deref(),
            Some("(UPPER(name) = CONCAT('a', 'b'))")
        );
    }

    #[test]
    fn locking_reads_and_writes_keep_their_refusal() {
        for sql in [
            "SELECT * FROM users u JOIN orders o ON o.amount = u.id FOR UPDATE",
            "SELECT u.id INTO @v FROM users u JOIN orders o ON o.amount = u.id LIMIT 1",
            "UPDATE users SET name = 'x' WHERE id IN (SELECT amount FROM orders)",
        ] {
            let planned = plan_sql(sql, &topology(), Syntax::DEFAULT);
            assert!(
                !matches!(&planned, Ok(p) if matches!(p.route, Route::Materialize(_))),
                "{sql}: {planned:?}"
            );
        }
    }

    #[test]
    fn the_plan_prints_as_a_tree() {
        let plan = plan_sql(
            "SELECT * FROM users u JOIN orders o ON o.amount = u.id WHERE o.amount > 5",
            &topology(),
            Syntax::DEFAULT,
        )
        .unwrap();
        let printed = plan.display(&topology()).to_string();
        let lines: Vec<&str> = printed.lines().collect();
        assert!(
            lines[0].starts_with("read → materialize: the statement runs on s"),
            "{printed}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("  Copy `users` into a temporary table on")),
            "{printed}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("SELECT <its columns> FROM `orders` WHERE (amount > 5)")),
            "{printed}"
        );
        assert!(lines.last().unwrap().starts_with("  Route s"), "{printed}");
    }
}
