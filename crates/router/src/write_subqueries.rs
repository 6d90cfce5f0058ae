//! `UPDATE` / `DELETE` / `INSERT … VALUES`, and a `SELECT`'s `WHERE` / `HAVING`, with
//! uncorrelated subqueries over sharded tables no shard answers alone (issue #13: "subquery
//! first, then route"): the proxy runs each subquery as a SELECT of
//! its own and writes its answer into the statement — `x IN (SELECT …)` becomes
//! `x IN (1, 2, 3)`, an empty answer `(0 = 1)` (and `(1 = 1)` for `NOT IN`, which an empty
//! list makes true whatever `x` is); `[NOT] EXISTS (SELECT …)` becomes `(1 = 1)` or `(0 = 1)`;
//! a scalar `(SELECT …)` its one value (`NULL` for no row, MariaDB's 1242 for more) — and
//! plans the result as any write: broadcast, or routed by its shard key when the text names it
//! (a SELECT: scattered, pruned by the list when it names the shard key, joined in the proxy,
//! or answered from copies for what else it holds). A SELECT's subquery must itself run on
//! one shard or on shards the proxy merges (not a join across shards), and the SELECT must not
//! lock rows; its correlated subqueries, and those it cannot read, stay as written (TPC-H
//! Q22: the average first, then the anti-join); those of its derived tables' WHERE and HAVING
//! count as its own (a derived table reads nothing of the outer row); subqueries in a select
//! list are left to the copies (their values there would change the result's column types).
//!
//! Taken only where it means what MariaDB means: the statement writes one table (no joins,
//! no `USING`; an INSERT neither reading the table it writes in a subquery, MariaDB's 1093,
//! nor with `ON DUPLICATE KEY UPDATE`); the subquery, in the WHERE clause, an UPDATE's values
//! or an INSERT's rows, is a plain `SELECT`
//! (of one column for `IN` and a value, else MariaDB's 1241; no set operation, no nested
//! subquery, no `LIMIT`, no locking clause) whose every column belongs to a table of its own
//! `FROM` (qualified by one of them, or found in exactly one by the schema cache), so it reads
//! nothing of the outer row. Otherwise the planner's refusal stands.

use shardgate_config::Topology;
use sqlparser::ast::{
    Delete, Expr, FromTable, Insert, Query, Select, SelectItem, SetExpr, Spanned, Statement,
    TableFactor, TableObject, Update, Visit, Visitor,
};

use crate::column_owner::{owner, Columns, Owner};
use crate::rewrite::{closing_paren, Offsets};
use crate::shard_key::base_name;
use crate::{RouteError, SqlMode, Syntax};

/// A write to run after its subqueries: their SELECTs, and the text around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubqueriesFirst {
    /// `UPDATE`, `DELETE`, `INSERT`, `REPLACE` or `SELECT`.
    pub verb: &'static str,
    /// The statement as written.
    pub sql: String,
    /// The statement's text between the subqueries: one more piece than subqueries.
    pub pieces: Vec<String>,
    pub subqueries: Vec<WriteSubquery>,
}

/// One subquery of the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSubquery {
    pub used: SubqueryUse,
    /// The SELECT, as written.
    pub select: String,
}

/// What a subquery stands for in the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubqueryUse {
    /// `x [NOT] IN (SELECT …)`, `x` as written: its values, as a list.
    In { operand: String, negated: bool },
    /// `[NOT] EXISTS (SELECT …)`: whether it has a row.
    Exists { negated: bool },
    /// `(SELECT …)` as a value: its one value.
    Scalar,
}

impl SubqueriesFirst {
    /// Why a SELECT with `values` written in (as [`Self::with_values`] takes them) would not
    /// mean what MariaDB's SELECT means, if it would not (then the copies answer it). MariaDB's
    /// `x [NOT] IN (SELECT c …)` with a NULL among the values is not the list's: a value `x`
    /// that does not fit `c`'s type is definitely not in it (`NOT IN` true), where `x NOT IN
    /// (…, NULL)` is NULL. And strings and temporal values compare with the subquery column's
    /// collation and type, which a literal does not carry; numbers compare alike. (A write
    /// keeps the list: refusing it would refuse the common case, `NOT IN` with a NULL matching
    /// no row, for the rare value out of the column's range; see the README.)
    pub fn inexact(&self, values: &[Vec<Vec<u8>>]) -> Option<String> {
        if self.verb != "SELECT" && self.verb != "SET" {
            return None;
        }
        for (subquery, values) in self.subqueries.iter().zip(values) {
            let what = || format!("the subquery `{}`", subquery.select);
            match &subquery.used {
                SubqueryUse::Exists { .. } => {}
                // Typed as the column types a variable (`SubqueriesFirst::typed`).
                SubqueryUse::Scalar if self.typed() => {}
                SubqueryUse::In { .. } if values.iter().any(|v| v == b"NULL") => {
                    return Some(format!(
                        "{} answers NULL among its values, where MariaDB's IN decides by the subquery column's type",
                        what()
                    ))
                }
                _ if !values.iter().all(|v| v == b"NULL" || is_number_literal(v)) => {
                    return Some(format!(
                        "{} answers strings or temporal values, which MariaDB compares by the subquery column's collation and type",
                        what()
                    ))
                }
                _ => {}
            }
        }
        None
    }

    /// Whether a scalar subquery's value is written typed as the column it comes from: for a
    /// `SET`, whose variables take the value's type.
    pub fn typed(&self) -> bool {
        self.verb == "SET"
    }

    /// The statement with each subquery's values (SQL literals, in order; for `EXISTS`, any
    /// one value when it has a row) written in.
    pub fn with_values(&self, values: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            out.extend_from_slice(piece.as_bytes());
            let (Some(subquery), Some(values)) = (self.subqueries.get(i), values.get(i)) else {
                continue;
            };
            let truth = |holds: bool| -> &'static [u8] {
                if holds {
                    b"(1 = 1)"
                } else {
                    b"(0 = 1)"
                }
            };
            let (operand, negated) = match &subquery.used {
                SubqueryUse::Exists { negated } => {
                    out.extend_from_slice(truth(values.is_empty() == *negated));
                    continue;
                }
                SubqueryUse::Scalar => {
                    out.push(b'(');
                    match values.first() {
                        Some(value) => out.extend_from_slice(value),
                        None => out.extend_from_slice(b"NULL"),
                    }
                    out.push(b')');
                    continue;
                }
                SubqueryUse::In { operand, negated } => (operand, *negated),
            };
            if values.is_empty() {
                out.extend_from_slice(truth(negated));
                continue;
            }
            out.push(b'(');
            out.extend_from_slice(operand.as_bytes());
            out.extend_from_slice(if negated { b") NOT IN (" } else { b") IN (" });
            for (j, value) in values.iter().enumerate() {
                if j > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value);
            }
            out.push(b')');
        }
        out
    }
}

impl std::fmt::Display for SubqueriesFirst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} after its subqueries: first", self.verb)?;
        for (i, s) in self.subqueries.iter().enumerate() {
            let sep = if i == 0 { "" } else { ";" };
            write!(f, "{sep} `{}`", s.select)?;
        }
        write!(
            f,
            " (on their one shard, or on every shard they read, merged in the proxy where they must be; at most merge_max_rows values), then the {} with their answers written in (`IN (…)` lists, `(1 = 1)` / `(0 = 1)` for EXISTS, a value), planned as any {}",
            self.verb, self.verb
        )
    }
}

/// `refusal` of `stmt` (text `sql`), or the request to run its subqueries first when they are
/// what kept it from one plan.
pub(crate) fn first(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
    refusal: RouteError,
) -> RouteError {
    let backslash = !syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
    if matches!(
        refusal,
        RouteError::ShardKeyUpdate { .. } | RouteError::MovingUpdate(_)
    ) {
        return refusal;
    }
    let mut found = Found::default();
    let verb = match stmt {
        Statement::Update(Update {
            table,
            assignments,
            selection,
            ..
        }) if table.joins.is_empty() && matches!(table.relation, TableFactor::Table { .. }) => {
            // In the order of the text: the values, then WHERE.
            for assignment in assignments {
                let _ = assignment.value.visit(&mut found);
            }
            let _ = selection.visit(&mut found);
            "UPDATE"
        }
        Statement::Delete(Delete {
            from: FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from),
            using: None,
            selection,
            ..
        }) if from.len() == 1 && from[0].joins.is_empty() => {
            let _ = selection.visit(&mut found);
            "DELETE"
        }
        // `INSERT … VALUES` whose values hold subqueries; not one whose subqueries read the
        // table it writes (MariaDB's 1093), nor one with `ON DUPLICATE KEY UPDATE`.
        Statement::Insert(Insert {
            table: TableObject::TableName(target),
            source: Some(source),
            on: None,
            replace_into,
            ..
        }) => {
            let SetExpr::Values(values) = source.body.as_ref() else {
                return refusal;
            };
            for row in &values.rows {
                let _ = row.visit(&mut found);
            }
            let Some(target) = base_name(target) else {
                return refusal;
            };
            if found
                .subqueries
                .iter()
                .any(|(_, q, _)| names_table(q, &target))
            {
                return refusal;
            }
            match replace_into {
                true => "REPLACE",
                false => "INSERT",
            }
        }
        // `SET @v = (SELECT …)`: the variables take the values, typed as MariaDB types them
        // (`server/src/select_into.rs`).
        Statement::Set(set) => {
            let _ = set.visit(&mut found);
            "SET"
        }
        Statement::Query(q) if q.locks.is_empty() && q.with.is_none() => {
            let SetExpr::Select(select) = q.body.as_ref() else {
                return refusal;
            };
            found.select_conditions(select);
            "SELECT"
        }
        _ => return refusal,
    };
    if found.subqueries.is_empty() || found.others {
        return refusal;
    }
    // The proxy reads a SELECT's subquery's rows itself: from one shard, from shards whose
    // rows it merges (`select_rows`), or over the rows of its derived tables when they need no
    // copy of a whole table (a decorrelated aggregate: TPC-H Q20's `IN` subquery), which cost
    // less than the copies the whole statement would make; a write's that it cannot read
    // fails as the write would.
    let readable = |q: &Query| match crate::plan_sql(&q.to_string(), topology, syntax) {
        Ok(plan) => match plan.route {
            crate::Route::Shard(_) | crate::Route::Scatter(_) => true,
            crate::Route::Materialize(m) => m.over_derived.is_some_and(|o| o.copies.is_empty()),
            _ => false,
        },
        Err(_) => false,
    };
    let mut offsets = Offsets::new(sql);
    let mut pieces = Vec::new();
    let mut subqueries = Vec::new();
    let mut from = 0;
    for (expr, subquery, found_use) in &found.subqueries {
        // A scalar subquery may pick its row (`ORDER BY … LIMIT 1`); MariaDB refuses LIMIT in
        // `IN`, and EXISTS is read with a LIMIT of its own.
        let ordered = matches!(found_use, FoundUse::Scalar);
        if !uncorrelated(subquery, topology, ordered) {
            let missing = unread_tables(subquery, topology);
            if !missing.is_empty() {
                // Unqualified columns need the tables' columns: read them, then plan again.
                return RouteError::SchemaNeeded { tables: missing };
            }
            // A SELECT keeps its correlated subqueries as written (the statement with the
            // others' values is planned as any: a semi-join, say); a write runs only whole.
            match verb {
                "SELECT" => continue,
                _ => return refusal,
            }
        }
        if verb == "SELECT" && !readable(subquery) {
            continue;
        }
        let spans = (|| {
            let select_start = offsets.at(subquery.span().start)?;
            // The parentheses around the subquery (spans do not cover them).
            let open = sql[..select_start].trim_end().strip_suffix('(')?.len();
            let close = closing_paren(sql.as_bytes(), open, backslash)?;
            let (start, used) = match found_use {
                FoundUse::In { operand, negated } => {
                    let start = offsets.at(expr.span().start)?;
                    let operand_end = offsets.at(operand.span().end)?;
                    let operand = sql.get(start..operand_end)?.to_owned();
                    let negated = *negated;
                    (start, SubqueryUse::In { operand, negated })
                }
                // Spans do not cover `[NOT] EXISTS` either.
                FoundUse::Exists { negated } => {
                    let before = strip_word(&sql[..open], "exists")?;
                    let before = match negated {
                        true => strip_word(before, "not")?,
                        false => before,
                    };
                    let negated = *negated;
                    (before.len(), SubqueryUse::Exists { negated })
                }
                FoundUse::Scalar => (open, SubqueryUse::Scalar),
            };
            Some((start, used, select_start, close, close + 1))
        })();
        let Some((start, used, select_start, select_end, end)) = spans else {
            return refusal;
        };
        if start < from {
            return refusal;
        }
        pieces.push(sql[from..start].to_owned());
        subqueries.push(WriteSubquery {
            used,
            select: sql[select_start..select_end].trim().to_owned(),
        });
        from = end;
    }
    if subqueries.is_empty() {
        return refusal;
    }
    pieces.push(sql[from..].to_owned());
    RouteError::SubqueriesFirst(Box::new(SubqueriesFirst {
        verb,
        sql: sql.to_owned(),
        pieces,
        subqueries,
    }))
}

/// Whether `v` is a number as a cell is written back (bare: `12`, `-1.5`, `1e20`).
fn is_number_literal(v: &[u8]) -> bool {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    digits
        .first()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
}

/// Whether `query` reads table `name` (lower-cased) anywhere.
fn names_table(query: &Query, name: &str) -> bool {
    sqlparser::ast::visit_relations(query, |relation| match base_name(relation) {
        Some(n) if n == name => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// `text` up to its last word when that is `word` (any case; white space after it ignored).
fn strip_word<'t>(text: &'t str, word: &str) -> Option<&'t str> {
    let text = text.trim_end();
    let at = text.len().checked_sub(word.len())?;
    let ends_with = text.get(at..)?.eq_ignore_ascii_case(word);
    let bounded = !text[..at]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    (ends_with && bounded).then(|| &text[..at])
}

/// The subqueries of a write's values and WHERE clause (not those inside them, which
/// `uncorrelated` judges); `others` when one cannot be written as values.
#[derive(Default)]
struct Found {
    subqueries: Vec<(Expr, Query, FoundUse)>,
    others: bool,
    /// How many queries the walk is inside (a found subquery, and those in it).
    depth: usize,
}

impl Found {
    /// The subqueries of a SELECT's WHERE and HAVING, and of its derived tables' (which read
    /// nothing of the outer row), in the order of the text: FROM first.
    fn select_conditions(&mut self, select: &Select) {
        for (factor, _) in crate::materialize::factors(&select.from) {
            if let TableFactor::Derived {
                lateral: false,
                subquery,
                ..
            } = factor
            {
                if let (SetExpr::Select(inner), None) = (subquery.body.as_ref(), &subquery.with) {
                    self.select_conditions(inner);
                }
            }
        }
        let _ = select.selection.visit(self);
        let _ = select.having.visit(self);
    }
}

/// How a found subquery is used (`IN`'s operand as parsed).
enum FoundUse {
    In { operand: Box<Expr>, negated: bool },
    Exists { negated: bool },
    Scalar,
}

impl Visitor for Found {
    type Break = ();

    fn pre_visit_query(&mut self, _: &Query) -> std::ops::ControlFlow<()> {
        self.depth += 1;
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> std::ops::ControlFlow<()> {
        self.depth -= 1;
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> std::ops::ControlFlow<()> {
        if self.depth > 0 {
            return std::ops::ControlFlow::Continue(());
        }
        match expr {
            // `= ANY (SELECT …)`, `> ALL (…)`, `(a, b) IN (SELECT …)`: no list of values.
            Expr::AnyOp { .. } | Expr::AllOp { .. } => {
                self.others = true;
                std::ops::ControlFlow::Break(())
            }
            Expr::InSubquery { expr: operand, .. } if matches!(**operand, Expr::Tuple(_)) => {
                self.others = true;
                std::ops::ControlFlow::Break(())
            }
            Expr::InSubquery {
                expr: operand,
                subquery,
                negated,
            } => {
                let mut inner = Found::default();
                let _ = operand.visit(&mut inner);
                if !inner.subqueries.is_empty() || inner.others {
                    self.others = true;
                }
                let used = FoundUse::In {
                    operand: operand.clone(),
                    negated: *negated,
                };
                self.subqueries
                    .push((expr.clone(), (**subquery).clone(), used));
                std::ops::ControlFlow::Continue(())
            }
            Expr::Exists { subquery, negated } => {
                let used = FoundUse::Exists { negated: *negated };
                self.subqueries
                    .push((expr.clone(), (**subquery).clone(), used));
                std::ops::ControlFlow::Continue(())
            }
            Expr::Subquery(subquery) => {
                self.subqueries
                    .push((expr.clone(), (**subquery).clone(), FoundUse::Scalar));
                std::ops::ControlFlow::Continue(())
            }
            _ => std::ops::ControlFlow::Continue(()),
        }
    }
}

/// A plain SELECT over named tables and derived tables, one of them sharded or reading a
/// sharded table, whose columns all belong to its own tables. A derived table cannot read the
/// outer row (MariaDB has no `LATERAL`: 1054), so what it holds is its own plan's business.
fn uncorrelated(query: &Query, topology: &Topology, ordered: bool) -> bool {
    let plain = query.with.is_none()
        && (ordered || query.limit_clause.is_none())
        && query.fetch.is_none()
        && query.locks.is_empty()
        && (ordered || query.order_by.is_none());
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    // Of one column, or MariaDB's 1241 when its rows are read.
    if !plain {
        return false;
    }
    let Some(tables) = own_tables(select) else {
        return false;
    };
    // A sharded table in it, or in a subquery of it (reference tables whose rows a sharded
    // table's subquery filters, TPC-H Q20's `partsupp`).
    if !crate::derived_rows::names_sharded(query, topology) {
        return false;
    }
    let schema = topology.schema.current();
    reads_within(query, select, &[&tables], topology, &schema)
}

/// Whether every column the block `select` (the body of `query`) and the subqueries in it
/// read is one of a table of `chain`: the blocks from the write's subquery to this one, whose
/// own tables are last. A subquery in it must be a plain SELECT too (its derived tables, which
/// read no outer row, aside).
fn reads_within(
    query: &Query,
    select: &Select,
    chain: &[&[OwnTable]],
    topology: &Topology,
    schema: &shardgate_schema::SchemaStatus,
) -> bool {
    let mut columns = OwnColumns {
        chain,
        topology,
        schema,
        depth: 0,
        nested: Vec::new(),
        outer: false,
    };
    // Everything of the block but its derived tables' subqueries.
    let _ = select.projection.visit(&mut columns);
    for from in &select.from {
        for join in &from.joins {
            let _ = join.join_operator.visit(&mut columns);
        }
    }
    let _ = select.selection.visit(&mut columns);
    let _ = select.group_by.visit(&mut columns);
    let _ = select.having.visit(&mut columns);
    let _ = select.named_window.visit(&mut columns);
    let _ = select.qualify.visit(&mut columns);
    let _ = query.order_by.visit(&mut columns);
    let _ = query.limit_clause.visit(&mut columns);
    if columns.outer {
        return false;
    }
    columns.nested.iter().all(|nested| {
        let SetExpr::Select(inner) = nested.body.as_ref() else {
            return false;
        };
        let Some(tables) = own_tables(inner).filter(|_| nested.with.is_none()) else {
            return false;
        };
        let mut chain = chain.to_vec();
        chain.push(&tables);
        reads_within(nested, inner, &chain, topology, schema)
    })
}

/// The sharded tables a subquery reads whose columns the schema cache has not read.
fn unread_tables(query: &Query, topology: &Topology) -> Vec<String> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Vec::new();
    };
    let schema = topology.schema.current();
    (own_tables(select).unwrap_or_default().into_iter())
        .filter_map(|t| t.table)
        .filter(|name| topology.table(name).is_some())
        .filter(|name| schema.agreed(name).is_none() && schema.disagreement(name).is_none())
        .collect()
}

/// One table reference of a subquery's FROM.
struct OwnTable {
    /// A base table's lower-cased name; `None` for a derived table.
    table: Option<String>,
    /// What qualifies its columns, lower-cased: its alias, else its name.
    qualifier: String,
    /// A derived table's columns that its select list names (alias or column), with their
    /// positions.
    columns: Vec<(String, usize)>,
}

/// The references of a SELECT's FROM, when each is a named table or a derived table.
fn own_tables(select: &Select) -> Option<Vec<OwnTable>> {
    let mut tables = Vec::new();
    for from in &select.from {
        let factors = std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation));
        for factor in factors {
            let own = match factor {
                TableFactor::Table { name, alias, .. } => {
                    let table = base_name(name)?;
                    let qualifier = match alias {
                        Some(alias) => alias.name.value.to_ascii_lowercase(),
                        None => table.clone(),
                    };
                    OwnTable {
                        table: Some(table),
                        qualifier,
                        columns: Vec::new(),
                    }
                }
                TableFactor::Derived {
                    lateral: false,
                    subquery,
                    alias: Some(alias),
                    ..
                } => OwnTable {
                    table: None,
                    qualifier: alias.name.value.to_ascii_lowercase(),
                    columns: match alias.columns.is_empty() {
                        true => shown_columns(subquery),
                        false => (alias.columns.iter().enumerate())
                            .map(|(i, c)| (c.name.value.clone(), i))
                            .collect(),
                    },
                },
                _ => return None,
            };
            tables.push(own);
        }
    }
    (!tables.is_empty()).then_some(tables)
}

/// The columns of a derived table's select list (its first branch's) named by an alias or
/// a column: the others' names are not known here.
fn shown_columns(query: &Query) -> Vec<(String, usize)> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = q.body.as_ref(),
            _ => break,
        }
    }
    let SetExpr::Select(select) = body else {
        return Vec::new();
    };
    let mut columns = Vec::new();
    for (i, item) in select.projection.iter().enumerate() {
        let name = match item {
            SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
            SelectItem::UnnamedExpr(e) => match crate::scatter::column_names::column_ref(e) {
                Some(column) => column.to_owned(),
                None => continue,
            },
            // Its columns are not known without the tables'.
            _ => return Vec::new(),
        };
        columns.push((name, i));
    }
    columns
}

/// Walks one query block, resolving its columns along `chain` and collecting the subqueries
/// directly in it.
struct OwnColumns<'a> {
    chain: &'a [&'a [OwnTable]],
    topology: &'a Topology,
    schema: &'a shardgate_schema::SchemaStatus,
    /// How many queries deep the walk is: the columns of a subquery are its own block's.
    depth: usize,
    nested: Vec<Query>,
    /// A column that is not (or not known to be) one of the chain's tables'.
    outer: bool,
}

impl OwnColumns<'_> {
    /// Whether the block that names an unqualified `column` is one of the chain's (the
    /// innermost that has it, as MariaDB resolves it).
    fn resolves(&self, column: &str) -> bool {
        for tables in self.chain.iter().rev() {
            let scope: Vec<Columns<'_>> = (tables.iter())
                .map(|t| match &t.table {
                    Some(name) => Columns::Table(name),
                    None => Columns::Some(&t.columns),
                })
                .collect();
            let mut missing = Vec::new();
            match owner(column, &scope, self.topology, self.schema, &mut missing) {
                Owner::Table(_) => return true,
                Owner::Absent => continue,
                Owner::Unknown => return false,
            }
        }
        false
    }
}

impl Visitor for OwnColumns<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> std::ops::ControlFlow<()> {
        if self.depth == 0 {
            self.nested.push(query.clone());
        }
        self.depth += 1;
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> std::ops::ControlFlow<()> {
        self.depth -= 1;
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> std::ops::ControlFlow<()> {
        if self.depth > 0 {
            return std::ops::ControlFlow::Continue(());
        }
        match expr {
            // A user or system variable (`@b`, `@@sql_mode`): the session's, which the
            // connection that reads the subquery has too.
            Expr::Identifier(id) if id.value.starts_with('@') => {}
            Expr::CompoundIdentifier(parts) if parts[0].value.starts_with('@') => {}
            Expr::Identifier(id) if !self.resolves(&id.value) => self.outer = true,
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                let own = (self.chain.iter())
                    .any(|tables| tables.iter().any(|t| t.qualifier == qualifier));
                if !own {
                    self.outer = true;
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Syntax;

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
"#,
        )
    }

    fn first_of(sql: &str) -> Result<crate::Plan, RouteError> {
        crate::plan_sql(sql, &topology(), Syntax::DEFAULT)
    }

    fn request(sql: &str) -> SubqueriesFirst {
        match first_of(sql) {
            Err(RouteError::SubqueriesFirst(r)) => *r,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn a_selects_uncorrelated_subqueries_run_first_unless_their_values_would_differ() {
        let r = request(
            "SELECT COUNT(*) FROM orders WHERE sku IN (SELECT p.sku FROM products p WHERE p.gone = 1) AND qty > (SELECT MAX(p.qty) FROM products p)",
        );
        assert_eq!(r.verb, "SELECT");
        assert_eq!(r.subqueries.len(), 2);
        let values = |v: &[&str]| v.iter().map(|v| v.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(
            String::from_utf8(r.with_values(&[values(&["1", "2"]), values(&["7"])])).unwrap(),
            "SELECT COUNT(*) FROM orders WHERE (sku) IN (1, 2) AND qty > (7)"
        );
        assert_eq!(
            r.inexact(&[values(&["1", "-2.5"]), values(&["1e20"])]),
            None
        );
        // NULL among an IN's values: MariaDB decides by the subquery column's type.
        assert!(r
            .inexact(&[values(&["1", "NULL"]), values(&["7"])])
            .is_some());
        // Strings compare by the subquery column's collation.
        assert!(r.inexact(&[values(&["'a'"]), values(&["7"])]).is_some());
        assert!(r
            .inexact(&[values(&["1"]), values(&["'2024-01-01'"])])
            .is_some());
        // A scalar NULL compares as NULL either way.
        assert_eq!(r.inexact(&[values(&["1"]), values(&["NULL"])]), None);
        // A write keeps its list.
        let w = request("DELETE FROM orders WHERE sku NOT IN (SELECT p.sku FROM products p)");
        assert_eq!(w.inexact(&[values(&["1", "NULL"])]), None);
        // No list of values: the refusal stands (the copies answer).
        for sql in [
            "SELECT COUNT(*) FROM orders WHERE qty = ANY (SELECT p.qty FROM products p)",
            "SELECT COUNT(*) FROM orders WHERE qty > ALL (SELECT p.qty FROM products p)",
            "SELECT COUNT(*) FROM orders WHERE (sku, qty) IN (SELECT p.sku, p.qty FROM products p)",
            "SELECT COUNT(*) FROM orders WHERE sku IN (SELECT p.sku FROM products p) FOR UPDATE",
        ] {
            assert!(
                !matches!(first_of(sql), Err(RouteError::SubqueriesFirst(_))),
                "{sql}"
            );
        }
    }

    #[test]
    fn an_in_subquery_of_another_placement_runs_first_and_its_values_are_written_in() {
        let r = request("DELETE FROM orders WHERE sku IN (SELECT p.sku FROM products p WHERE p.gone = 1) AND qty > 2");
        assert_eq!(r.verb, "DELETE");
        assert_eq!(r.subqueries.len(), 1);
        assert_eq!(
            r.subqueries[0].select,
            "SELECT p.sku FROM products p WHERE p.gone = 1"
        );
        assert_eq!(
            r.subqueries[0].used,
            SubqueryUse::In {
                operand: "sku".into(),
                negated: false
            }
        );
        let text = r.with_values(&[vec![b"'a'".to_vec(), b"'b'".to_vec()]]);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "DELETE FROM orders WHERE (sku) IN ('a', 'b') AND qty > 2"
        );
        assert_eq!(
            String::from_utf8(r.with_values(&[vec![]])).unwrap(),
            "DELETE FROM orders WHERE (0 = 1) AND qty > 2"
        );
    }

    #[test]
    fn parentheses_and_quotes_inside_the_subquery_stay_its_own() {
        let r = request("DELETE FROM orders WHERE sku IN (SELECT p.sku FROM products p WHERE p.tag IN ('a)', 'b') /* ) */) AND (qty > 2)");
        assert_eq!(
            r.subqueries[0].select,
            "SELECT p.sku FROM products p WHERE p.tag IN ('a)', 'b') /* ) */"
        );
        assert_eq!(
            String::from_utf8(r.with_values(&[vec![b"1".to_vec()]])).unwrap(),
            "DELETE FROM orders WHERE (sku) IN (1) AND (qty > 2)"
        );
    }

    #[test]
    fn not_in_with_no_values_is_true() {
        let r =
            request("UPDATE users SET score = 0 WHERE id NOT IN (SELECT o.user_id FROM orders o)");
        assert_eq!(
            String::from_utf8(r.with_values(&[vec![]])).unwrap(),
            "UPDATE users SET score = 0 WHERE (1 = 1)"
        );
        assert_eq!(
            String::from_utf8(r.with_values(&[vec![b"7".to_vec()]])).unwrap(),
            "UPDATE users SET score = 0 WHERE (id) NOT IN (7)"
        );
    }

    #[test]
    fn correlated_nested_or_limited_subqueries_keep_the_refusal() {
        for sql in [
            // Correlated: `o.user_id = u.id` reads the outer row.
            "UPDATE users u SET score = 0 WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.sku = u.name)",
            // A nested subquery reading the written row.
            "UPDATE orders SET qty = 0 WHERE sku IN (SELECT p.sku FROM products p WHERE p.qty IN (SELECT o2.qty FROM orders o2 WHERE o2.id = orders.id))",
            "DELETE FROM orders WHERE sku IN (SELECT p.sku FROM products p WHERE EXISTS (SELECT 1 FROM users u WHERE u.name = qty))",
            // Columns of a derived table its select list does not name.
            "DELETE FROM orders WHERE sku IN (SELECT sku FROM (SELECT * FROM products) AS d)",
            "DELETE FROM orders WHERE sku IN (SELECT sku FROM (SELECT UPPER(p.sku) FROM products p) AS d)",
            "DELETE FROM orders WHERE sku IN (SELECT sku FROM products LIMIT 3)",
            "DELETE FROM orders WHERE EXISTS (SELECT 1 FROM products p WHERE p.sku = orders.sku)",
            "UPDATE orders SET qty = (SELECT MAX(p.qty) FROM products p WHERE p.sku = orders.sku)",
        ] {
            assert!(
                !matches!(first_of(sql), Err(RouteError::SubqueriesFirst(_))),
                "{sql}"
            );
        }
    }

    #[test]
    fn a_select_keeps_its_correlated_subqueries_and_runs_the_others_first() {
        // TPC-H Q22's shape: an uncorrelated scalar beside a correlated NOT EXISTS, in a
        // derived table; the correlated one stays as written.
        let int = |c| (c, "int(11)", None);
        let text = |c| (c, "varchar(20)", Some("utf8mb4_general_ci"));
        let topology = crate::test_topology::with_columns(
            topology(),
            "users",
            &[int("id"), text("name"), int("score")],
        );
        let topology =
            crate::test_topology::with_columns(topology, "products", &[text("sku"), int("qty")]);
        let first_of = |sql: &str| crate::plan_sql(sql, &topology, Syntax::DEFAULT);
        let sql = "SELECT c, COUNT(*) FROM (SELECT u.name AS c FROM users u WHERE u.score > (SELECT AVG(p.qty) FROM products p) AND NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = u.name)) AS t GROUP BY c";
        let Err(RouteError::SubqueriesFirst(r)) = first_of(sql) else {
            panic!("{sql}: {:?}", first_of(sql));
        };
        assert_eq!(r.verb, "SELECT");
        assert_eq!(r.subqueries.len(), 1);
        assert_eq!(r.subqueries[0].select, "SELECT AVG(p.qty) FROM products p");
        let values = vec![vec![b"7.5".to_vec()]];
        assert_eq!(
            String::from_utf8(r.with_values(&values)).unwrap(),
            "SELECT c, COUNT(*) FROM (SELECT u.name AS c FROM users u WHERE u.score > (7.5) AND NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = u.name)) AS t GROUP BY c"
        );
        // Only correlated ones: nothing runs first.
        let sql = "SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = u.name)";
        assert!(!matches!(
            first_of(sql),
            Err(RouteError::SubqueriesFirst(_))
        ));
    }

    #[test]
    fn derived_tables_and_subqueries_inside_a_subquery_are_read_with_it() {
        for (sql, select) in [
            (
                "DELETE FROM orders WHERE sku IN (SELECT d.sku FROM (SELECT p.sku FROM products p ORDER BY p.qty LIMIT 5) AS d)",
                "SELECT d.sku FROM (SELECT p.sku FROM products p ORDER BY p.qty LIMIT 5) AS d",
            ),
            // An unqualified name the derived table's select list shows.
            (
                "DELETE FROM orders WHERE sku IN (SELECT sku FROM (SELECT p.sku FROM products p) d)",
                "SELECT sku FROM (SELECT p.sku FROM products p) d",
            ),
            (
                "UPDATE users SET score = (SELECT MAX(c) FROM (SELECT COUNT(*) AS c FROM orders o GROUP BY o.sku) g) WHERE id = 3",
                "SELECT MAX(c) FROM (SELECT COUNT(*) AS c FROM orders o GROUP BY o.sku) g",
            ),
            (
                "DELETE FROM orders WHERE sku IN (SELECT p.sku FROM products p WHERE p.qty > (SELECT AVG(p2.qty) FROM products p2))",
                "SELECT p.sku FROM products p WHERE p.qty > (SELECT AVG(p2.qty) FROM products p2)",
            ),
            // User variables are the session's.
            (
                "DELETE FROM orders WHERE sku IN (SELECT p.sku FROM products p WHERE p.qty > @min)",
                "SELECT p.sku FROM products p WHERE p.qty > @min",
            ),
            // The nested subquery reads the subquery's row, not the write's.
            (
                "UPDATE users SET score = 0 WHERE id IN (SELECT o.user_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = o.sku))",
                "SELECT o.user_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = o.sku)",
            ),
        ] {
            let r = request(sql);
            assert_eq!(r.subqueries.len(), 1, "{sql}");
            assert_eq!(r.subqueries[0].select, select);
        }
    }

    #[test]
    fn exists_and_scalar_subqueries_run_first_and_their_answers_are_written_in() {
        let r = request("DELETE FROM orders WHERE NOT EXISTS (SELECT * FROM products p WHERE p.gone = 0) AND qty > 2");
        assert_eq!(r.subqueries[0].used, SubqueryUse::Exists { negated: true });
        assert_eq!(
            r.subqueries[0].select,
            "SELECT * FROM products p WHERE p.gone = 0"
        );
        let text = |values: &[Vec<Vec<u8>>]| String::from_utf8(r.with_values(values)).unwrap();
        assert_eq!(
            text(&[vec![]]),
            "DELETE FROM orders WHERE (1 = 1) AND qty > 2"
        );
        assert_eq!(
            text(&[vec![b"1".to_vec()]]),
            "DELETE FROM orders WHERE (0 = 1) AND qty > 2"
        );
        let r = request("UPDATE users SET score = (SELECT MAX(p.qty) FROM products p), name = 'x' WHERE id IN (SELECT o.user_id FROM orders o WHERE o.sku = 'a') OR exists(select 1 from products)");
        let used: Vec<&SubqueryUse> = r.subqueries.iter().map(|s| &s.used).collect();
        assert_eq!(
            used,
            [
                &SubqueryUse::Scalar,
                &SubqueryUse::In {
                    operand: "id".into(),
                    negated: false
                },
                &SubqueryUse::Exists { negated: false }
            ]
        );
        assert_eq!(
            String::from_utf8(r.with_values(&[vec![], vec![b"3".to_vec()], vec![b"1".to_vec()]]))
                .unwrap(),
            "UPDATE users SET score = (NULL), name = 'x' WHERE (id) IN (3) OR (1 = 1)"
        );
        assert_eq!(
            String::from_utf8(r.with_values(&[vec![b"7".to_vec()], vec![], vec![]])).unwrap(),
            "UPDATE users SET score = (7), name = 'x' WHERE (0 = 1) OR (0 = 1)"
        );
    }

    #[test]
    fn insert_values_with_subqueries_run_them_first() {
        let r = request("INSERT INTO users (id, name, score) VALUES (7, 'n', (SELECT COUNT(*) FROM orders o WHERE o.qty > 1)), (8, 'm', 2 + (SELECT MAX(p.qty) FROM products p))");
        assert_eq!(r.verb, "INSERT");
        assert_eq!(r.subqueries.len(), 2);
        let text = r.with_values(&[vec![b"3".to_vec()], vec![]]);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "INSERT INTO users (id, name, score) VALUES (7, 'n', (3)), (8, 'm', 2 + (NULL))"
        );
        assert_eq!(
            request("REPLACE INTO users (id, score) VALUES (7, (SELECT MIN(o.qty) FROM orders o))")
                .verb,
            "REPLACE"
        );
        // The rewritten text is planned as any INSERT: routed by its shard key.
        let planned = first_of("INSERT INTO users (id, score) VALUES (7, (3))").unwrap();
        assert!(
            matches!(planned.route, crate::Route::Shard(_)),
            "{planned:?}"
        );
        for sql in [
            // Its subquery reads the table it writes: MariaDB's 1093.
            "INSERT INTO orders (user_id, qty) VALUES (7, (SELECT MAX(o.qty) FROM orders o))",
            "INSERT INTO users (id, score) VALUES (7, (SELECT COUNT(*) FROM orders)) ON DUPLICATE KEY UPDATE score = 1",
            "INSERT INTO users (id, score) SELECT 7, (SELECT COUNT(*) FROM orders)",
        ] {
            assert!(
                !matches!(first_of(sql), Err(RouteError::SubqueriesFirst(_))),
                "{sql}"
            );
        }
    }
}
