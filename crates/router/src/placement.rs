//! Where each sharded table reference of a statement takes its rows from: the walk behind
//! pushing a whole statement down to one shard ([`crate::pushdown`]).
//!
//! Every sharded table named anywhere in the statement (FROM lists, joins, subqueries, derived
//! tables, CTE bodies, set-operation branches) is an [`Instance`]. An instance is pinned by
//! its own shard-key literals ([`Instance::literal`]) or follows another instance through an
//! [`Edge`]: a proof that every row of it that can change the answer has the same shard key as
//! a row of the other. Edges come from equalities of shard keys placed by one sharder:
//!
//! - a top-level WHERE conjunct relates rows of every result row: both ways;
//! - a join's ON conjunct restricts the rows of its non-preserved side (both sides of an inner
//!   join, the right of a LEFT JOIN, the left of a RIGHT JOIN): that side follows the other,
//!   never the preserved side (its rows are kept whatever ON says);
//! - a correlated conjunct in a subquery's WHERE (`o.user_id = u.id`): the inner table follows
//!   the outer one, whatever the subquery is used for; the outer one follows the inner one only
//!   when the subquery is a positive top-level `EXISTS` / `IN` conjunct of the outer WHERE (a
//!   chain of them) and a plain SELECT (no aggregate, LIMIT or UNION; GROUP BY columns and
//!   HAVING allowed, as a group exists only where its rows do), so that an outer row exists
//!   only next to a matching inner row;
//! - `u.id IN (SELECT o.user_id FROM orders o …)` as a positive top-level conjunct, the
//!   subquery such a SELECT (grouped, then by the column it selects, so that each group's rows
//!   share one key and live on one shard): both ways (NULL and FALSE both reject a row there).
//!
//! Names are resolved as MariaDB does: a qualifier names the innermost table or alias of that
//! name (a subquery's alias shadows the outer one), a CTE name shadows a table of that name,
//! an unqualified column belongs to the one table of the innermost block that has it (its
//! block's only table for its shard key; otherwise by the schema cache, see
//! [`crate::column_owner`]). Whatever the walk cannot follow exactly is noted as a problem and
//! the statement refused.

use std::cell::{OnceCell, RefCell};
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use shardgate_config::Topology;
use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, JoinConstraint, JoinOperator, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, TableWithJoins, Visit, Visitor,
};

use crate::column_owner::{owner, Columns, Owner};
use crate::shard_key::{base_name, constraint_in_where, Constraint, TableRef};
use crate::RouteError;

/// Where in the statement a table reference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The FROM list of the statement's own query (or its UPDATE / DELETE tables).
    Outer,
    Subquery,
    DerivedTable,
    Cte,
    /// A branch of UNION / INTERSECT / EXCEPT.
    SetBranch,
    /// The SELECT of an `INSERT … SELECT`.
    InsertSource,
}

impl Place {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Place::Outer => "the statement's FROM list",
            Place::Subquery => "a subquery",
            Place::DerivedTable => "a derived table",
            Place::Cte => "a common table expression (WITH)",
            Place::SetBranch => "a UNION / INTERSECT / EXCEPT branch",
            Place::InsertSource => "the SELECT of INSERT … SELECT",
        }
    }
}

/// One reference to a sharded table.
#[derive(Debug)]
pub(crate) struct Instance<'t> {
    pub table: TableRef<'t>,
    pub place: Place,
    /// In the FROM list (or the target tables) of the statement itself: what a scatter or a
    /// broadcast runs over.
    pub top: bool,
    /// What its own shard-key literals allow (WHERE, and ON of its non-preserved side).
    pub literal: Option<Constraint>,
    /// The conditions behind `literal`, as written.
    pub literal_why: Vec<String>,
    block: usize,
}

impl Instance<'_> {
    /// `users` or `users u`, for messages.
    pub(crate) fn label(&self) -> String {
        match &self.table.alias {
            Some(a) if *a != self.table.name => format!("`{}` {a}", self.table.rule.name),
            _ => format!("`{}`", self.table.rule.name),
        }
    }
}

/// `from` takes its rows from the shard of `to`'s rows.
#[derive(Debug)]
pub(crate) struct Edge {
    pub from: usize,
    pub to: usize,
    /// The condition that proves it, as written.
    pub why: String,
}

/// The result of the walk.
#[derive(Debug, Default)]
pub(crate) struct Pinning<'t> {
    pub instances: Vec<Instance<'t>>,
    pub edges: Vec<Edge>,
    /// An unsharded table the statement reads (only the default shard has it).
    pub unsharded: Option<String>,
    /// A construct the walk cannot follow exactly: the statement must not be pushed down.
    pub problem: Option<String>,
    /// A shard-key literal that places no row (a key outside every range): the client's error.
    pub error: Option<RouteError>,
    /// For `INSERT … SELECT` into a sharded table: where the inserted shard key comes from.
    pub insert_key: Option<InsertKey>,
    /// Tables the schema cache lacks whose columns would tell whose an unqualified column is:
    /// worth reading before refusing the statement.
    pub schema_needed: Vec<String>,
}

/// Where the shard key of the rows an `INSERT … SELECT` writes comes from.
#[derive(Debug)]
pub(crate) enum InsertKey {
    /// A literal or parameter in the select list.
    Value(crate::KeySource),
    /// The shard key of a table it reads (same sharder and key type as the target): the rows
    /// go where that table's rows are.
    Column,
    /// Anything else: the rows' shards are unknown.
    Unknown(String),
}

/// A query block's names and what they stand for.
#[derive(Debug)]
struct Block {
    parent: Option<usize>,
    /// Table names and aliases it binds (lower-cased as written, `exact` kept for the case
    /// check), with the instance when the name is a sharded table.
    names: Vec<Binding>,
    /// Its only FROM item, when that is a sharded table: unqualified columns are its own.
    only: Option<usize>,
    factors: usize,
    /// A plain SELECT that is a positive top-level EXISTS / IN conjunct of its parent's WHERE:
    /// a parent row exists only next to one of its rows.
    semi: bool,
}

/// A CTE as its references see it: its name (lower-cased), the shard-key columns it shows,
/// and those whose rows follow their key (as a derived table's, `rows_by_key`), when the
/// statement names it once: its body's tables are walked once, so a key condition of one of
/// two references would pin the rows the other reads too.
struct CteKeys {
    name: String,
    key_columns: Vec<(String, usize)>,
    rows_by_key: Vec<usize>,
}

#[derive(Debug)]
struct Binding {
    exact: String,
    instance: Option<usize>,
    /// The base table it names (lower-cased), sharded or not; `None` for a derived table or CTE.
    table: Option<String>,
    /// For a derived table or CTE: its columns that carry a sharded table's shard key (name,
    /// instance). Their values are keys of that instance's rows, so a table equal to one
    /// follows the instance (the other way only for the instances of `rows_by_key`).
    key_columns: Vec<(String, usize)>,
    /// For a derived table: the instances of `key_columns` each of whose rows comes from rows
    /// of that instance with the key the row shows (see [`Walker::rows_by_key`]): a condition
    /// on the key column of the derived table's rows pins them.
    rows_by_key: Vec<usize>,
}

/// A column reference that is a shard key: of an instance's own rows (`direct`), or carried
/// out of a derived table or CTE.
#[derive(Debug, Clone, Copy)]
struct KeyRef {
    instance: usize,
    direct: bool,
    /// Carried out of a derived table whose rows follow the key's (`Binding::rows_by_key`):
    /// the block that binds it, and the binding's position there.
    via: Option<(usize, usize)>,
}

/// Walks `stmt` (a query, INSERT, UPDATE or DELETE).
pub(crate) fn analyze<'t>(stmt: &Statement, topology: &'t Topology) -> Pinning<'t> {
    let mut walker = Walker {
        topology,
        blocks: Vec::new(),
        ctes: Vec::new(),
        handled: HashSet::new(),
        schema: OnceCell::new(),
        schema_needed: RefCell::new(Vec::new()),
        out: Pinning::default(),
    };
    walker.statement(stmt);
    walker.out.schema_needed = walker.schema_needed.into_inner();
    walker.out
}

struct Walker<'t> {
    topology: &'t Topology,
    blocks: Vec<Block>,
    /// CTEs visible where the walk is.
    ctes: Vec<CteKeys>,
    /// Subqueries already walked (by address), which the generic scan must skip.
    handled: HashSet<usize>,
    /// The schema cache, read when an unqualified column must be resolved.
    schema: OnceCell<Arc<shardgate_schema::SchemaStatus>>,
    schema_needed: RefCell<Vec<String>>,
    out: Pinning<'t>,
}

fn address(q: &Query) -> usize {
    q as *const Query as usize
}

/// The top-level AND-ed conditions of `expr`.
fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    crate::prune::chain(expr, &BinaryOperator::And)
}

/// Whether `e` names a column (two of them make an equality that may join shard keys).
pub(crate) fn is_column(e: &Expr) -> bool {
    match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Nested(inner) => is_column(inner),
        _ => false,
    }
}

/// How a join keeps rows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JoinKind {
    Inner,
    Left,
    Right,
}

fn join_kind(operator: &JoinOperator) -> Option<(JoinKind, &JoinConstraint)> {
    use JoinOperator as J;
    Some(match operator {
        J::Join(c) | J::Inner(c) | J::CrossJoin(c) | J::StraightJoin(c) => (JoinKind::Inner, c),
        J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
        J::Right(c) | J::RightOuter(c) => (JoinKind::Right, c),
        _ => return None,
    })
}

/// Whether `s` is a SELECT for the semi-join rules: each of its rows stands for rows of its
/// FROM that pass its WHERE — one for one, or a group of them (GROUP BY without ROLLUP, with
/// HAVING or not; no aggregate in the select list, no window). An aggregate without GROUP BY
/// answers one row over no row at all.
fn semi_select(s: &Select) -> bool {
    let plain_item = |item: &SelectItem| match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => matches!(
            e,
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_)
        ),
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => true,
        SelectItem::ExprWithAliases { .. } => false,
    };
    let grouping = match &s.group_by {
        GroupByExpr::Expressions(e, m) => m.is_empty() && (!e.is_empty() || s.having.is_none()),
        GroupByExpr::All(_) => false,
    };
    grouping
        && s.named_window.is_empty()
        && s.qualify.is_none()
        && s.projection.iter().all(plain_item)
}

/// What `condition`'s shard-key literals allow `table` (`only`: unqualified columns are its
/// own), with the conjuncts that say so.
fn literal_pins_of(
    condition: &Expr,
    table: &TableRef<'_>,
    only: bool,
) -> Result<Option<(Constraint, Vec<String>)>, RouteError> {
    let Some(constraint) = constraint_in_where(Some(condition), table, only)? else {
        return Ok(None);
    };
    let why = conjuncts(condition)
        .into_iter()
        .filter(|c| matches!(constraint_in_where(Some(c), table, only), Ok(Some(_))))
        .map(|c| c.to_string())
        .collect();
    Ok(Some((constraint, why)))
}

/// How many table references in `q` are named `name` (one part, any letter case): a CTE's
/// references, and tables of its name that a scope hides it from (counted too: it is a bound).
fn names_of(q: &Query, name: &str) -> usize {
    let mut n = 0;
    let _ = sqlparser::ast::visit_relations(q, |relation| {
        if relation.0.len() == 1 && base_name(relation).as_deref() == Some(name) {
            n += 1;
        }
        ControlFlow::<()>::Continue(())
    });
    n
}

impl<'t> Walker<'t> {
    fn problem(&mut self, what: impl Into<String>) {
        self.out.problem.get_or_insert_with(|| what.into());
    }

    fn statement(&mut self, stmt: &Statement) {
        match stmt {
            Statement::Query(q) => {
                self.query(q, None, Place::Outer, false, true);
            }
            Statement::Insert(ins) => self.insert(ins),
            Statement::Update(u) => {
                if u.from.is_some() {
                    self.problem("UPDATE … FROM");
                }
                let b = self.block(None, false);
                self.join_list(&u.table, b, Place::Outer, true);
                self.finish_from(b);
                self.conditions(b, u.selection.as_ref());
                self.scan(stmt, Some(b));
            }
            Statement::Delete(d) => {
                let b = self.block(None, false);
                let (sqlparser::ast::FromTable::WithFromKeyword(from)
                | sqlparser::ast::FromTable::WithoutKeyword(from)) = &d.from;
                for twj in from.iter().chain(d.using.iter().flatten()) {
                    self.join_list(twj, b, Place::Outer, true);
                }
                self.finish_from(b);
                self.conditions(b, d.selection.as_ref());
                self.scan(stmt, Some(b));
            }
            _ => self.problem("this kind of statement"),
        }
    }

    fn insert(&mut self, ins: &sqlparser::ast::Insert) {
        let target = match &ins.table {
            sqlparser::ast::TableObject::TableName(name) => base_name(name),
            _ => None,
        };
        let rule = target.as_deref().and_then(|t| self.topology.table(t));
        if rule.is_none() {
            if let Some(t) = target.filter(|t| !self.topology.is_reference(t)) {
                self.out.unsharded = Some(t);
            }
        }
        if let Some(source) = &ins.source {
            self.handled.insert(address(source));
            let block = self.query(source, None, Place::InsertSource, false, false);
            if let Some(rule) = rule {
                self.out.insert_key = Some(self.insert_key(ins, rule, source, block));
            }
        }
        self.scan(ins, None);
    }

    /// Where the shard key of the rows `INSERT … SELECT` writes comes from.
    fn insert_key(
        &self,
        ins: &sqlparser::ast::Insert,
        rule: &shardgate_config::TableRule,
        source: &Query,
        block: Option<usize>,
    ) -> InsertKey {
        let unknown = |why: &str| InsertKey::Unknown(why.to_owned());
        let Some(pos) = ins
            .columns
            .iter()
            .position(|c| base_name(c).is_some_and(|c| c == rule.shard_key))
        else {
            return unknown("the column list does not name the shard key");
        };
        let (Some(block), SetExpr::Select(select)) = (block, source.body.as_ref()) else {
            return unknown("the rows come from a UNION or a parenthesized query");
        };
        let item = if select.projection.iter().take(pos + 1).any(|i| {
            !matches!(
                i,
                SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }
            )
        }) {
            None
        } else {
            select.projection.get(pos)
        };
        let (Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }),) =
            (item,)
        else {
            return unknown("a `*` in the select list hides where the shard key is");
        };
        if let Some(value) = crate::shard_key::key_source(e, rule.key_type) {
            return InsertKey::Value(value);
        }
        match self.key_ref(block, e) {
            Some(KeyRef { instance: i, .. })
                if self.out.instances[i].table.keys_exact
                    && Arc::ptr_eq(&self.out.instances[i].table.rule.sharder, &rule.sharder)
                    && self.out.instances[i].table.rule.key_kind() == rule.key_kind() =>
            {
                InsertKey::Column
            }
            _ => unknown("the shard key's value is neither a literal nor the shard key of a table placed like the target"),
        }
    }

    fn block(&mut self, parent: Option<usize>, semi: bool) -> usize {
        self.blocks.push(Block {
            parent,
            names: Vec::new(),
            only: None,
            factors: 0,
            semi,
        });
        self.blocks.len() - 1
    }

    /// Walks a query; returns its block when its body is one SELECT.
    fn query(
        &mut self,
        q: &Query,
        parent: Option<usize>,
        place: Place,
        semi: bool,
        top: bool,
    ) -> Option<usize> {
        let mark = self.ctes.len();
        if let Some(with) = &q.with {
            let name = |c: &sqlparser::ast::Cte| c.alias.name.value.to_ascii_lowercase();
            if with.recursive {
                // Rows of a recursive CTE come from several branches: no key columns.
                self.ctes.extend(with.cte_tables.iter().map(|c| CteKeys {
                    name: name(c),
                    key_columns: Vec::new(),
                    rows_by_key: Vec::new(),
                }));
            }
            for cte in &with.cte_tables {
                self.handled.insert(address(&cte.query));
                let block = self.query(&cte.query, parent, Place::Cte, false, false);
                if !with.recursive {
                    let renamed: Vec<String> = cte
                        .alias
                        .columns
                        .iter()
                        .map(|c| c.name.value.clone())
                        .collect();
                    let key_columns = self.key_columns(&cte.query, block, &renamed);
                    let named_once = names_of(q, &name(cte)) == 1;
                    let rows_by_key = (key_columns.iter())
                        .map(|&(_, i)| i)
                        .filter(|&i| {
                            named_once && block.is_some_and(|d| self.rows_by_key(&cte.query, d, i))
                        })
                        .collect();
                    self.ctes.push(CteKeys {
                        name: name(cte),
                        key_columns,
                        rows_by_key,
                    });
                }
            }
        }
        let semi = semi && q.limit_clause.is_none() && q.fetch.is_none();
        let block = match q.body.as_ref() {
            SetExpr::Select(s) => Some(self.select(s, parent, place, semi, top)),
            SetExpr::Query(inner) => {
                self.handled.insert(address(inner));
                self.query(inner, parent, place, false, false);
                None
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.set_branch(left, parent);
                self.set_branch(right, parent);
                None
            }
            SetExpr::Values(values) => {
                self.scan(values, parent);
                None
            }
            SetExpr::Insert(stmt) | SetExpr::Update(stmt) | SetExpr::Delete(stmt) => {
                self.statement(stmt);
                None
            }
            _ => {
                self.problem("this form of query");
                None
            }
        };
        // ORDER BY / LIMIT of the whole: subqueries there read the body's columns.
        let scope = block.or(parent);
        if let Some(order_by) = &q.order_by {
            self.scan(order_by, scope);
        }
        if let Some(limit) = &q.limit_clause {
            self.scan(limit, scope);
        }
        self.ctes.truncate(mark);
        block
    }

    fn set_branch(&mut self, branch: &SetExpr, parent: Option<usize>) {
        match branch {
            SetExpr::Select(s) => {
                self.select(s, parent, Place::SetBranch, false, false);
            }
            SetExpr::Query(q) => {
                self.handled.insert(address(q));
                self.query(q, parent, Place::SetBranch, false, false);
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.set_branch(left, parent);
                self.set_branch(right, parent);
            }
            SetExpr::Values(values) => self.scan(values, parent),
            _ => self.problem("this form of set operation"),
        }
    }

    fn select(
        &mut self,
        s: &Select,
        parent: Option<usize>,
        place: Place,
        semi: bool,
        top: bool,
    ) -> usize {
        let b = self.block(parent, semi && semi_select(s));
        for twj in &s.from {
            self.join_list(twj, b, place, top);
        }
        self.finish_from(b);
        self.conditions(b, s.selection.as_ref());
        self.scan(s, Some(b));
        b
    }

    /// One FROM item with its joins; returns the instances it holds.
    fn join_list(&mut self, twj: &TableWithJoins, b: usize, place: Place, top: bool) -> Vec<usize> {
        // An ON clause sees the tables of its own join (MariaDB's comma binds looser than JOIN).
        let first_binding = self.blocks[b].names.len();
        let mut left = self.factor(&twj.relation, b, place, top);
        for join in &twj.joins {
            let right_first = self.blocks[b].names.len();
            let right = self.factor(&join.relation, b, place, top);
            let Some((kind, constraint)) = join_kind(&join.join_operator) else {
                self.problem("this kind of join");
                left.extend(right);
                continue;
            };
            let non_preserved: Vec<usize> = match kind {
                JoinKind::Inner => left.iter().chain(&right).copied().collect(),
                JoinKind::Left => right.clone(),
                JoinKind::Right => left.clone(),
            };
            // The same sides by the positions of their names (derived tables have no instance).
            let (right_from, right_to) = (right_first, self.blocks[b].names.len());
            let non_preserved_bindings = match kind {
                JoinKind::Inner => first_binding..right_to,
                JoinKind::Left => right_from..right_to,
                JoinKind::Right => first_binding..right_from,
            };
            if let JoinConstraint::On(on) = constraint {
                let sides = (non_preserved.as_slice(), non_preserved_bindings);
                self.on_condition(b, on, sides, first_binding);
            }
            left.extend(right);
        }
        left
    }

    fn factor(&mut self, factor: &TableFactor, b: usize, place: Place, top: bool) -> Vec<usize> {
        self.blocks[b].factors += 1;
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    self.problem("a table-valued function");
                }
                let Some(base) = base_name(name) else {
                    self.problem("this form of table name");
                    return Vec::new();
                };
                let exact = alias.as_ref().map_or_else(
                    || name.0.last().map(|p| p.to_string()).unwrap_or_default(),
                    |a| a.name.value.clone(),
                );
                let exact = exact.trim_matches('`').to_owned();
                let cte = (name.0.len() == 1)
                    .then(|| self.ctes.iter().rev().find(|c| c.name == base))
                    .flatten()
                    .map(|c| (c.key_columns.clone(), c.rows_by_key.clone()));
                let is_cte = cte.is_some();
                let rule = if is_cte {
                    None
                } else {
                    self.topology.table(&base)
                };
                let Some(rule) = rule else {
                    if !is_cte && base != "dual" && !self.topology.is_reference(&base) {
                        self.out.unsharded.get_or_insert(base.clone());
                    }
                    let table = (!is_cte).then_some(base);
                    let (key_columns, rows_by_key) = cte.unwrap_or_default();
                    self.bind(b, exact, None, table, key_columns, rows_by_key);
                    return Vec::new();
                };
                let id = self.out.instances.len();
                self.out.instances.push(Instance {
                    table: TableRef::new(
                        rule,
                        base,
                        alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
                        self.topology,
                    ),
                    place,
                    top,
                    literal: None,
                    literal_why: Vec::new(),
                    block: b,
                });
                self.bind(b, exact, Some(id), None, Vec::new(), Vec::new());
                vec![id]
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if *lateral {
                    self.problem("a LATERAL derived table");
                }
                self.handled.insert(address(subquery));
                // A derived table does not see the other tables of its FROM list.
                let parent = self.blocks[b].parent;
                let block = self.query(subquery, parent, Place::DerivedTable, false, false);
                if let Some(alias) = alias {
                    let renamed: Vec<String> =
                        alias.columns.iter().map(|c| c.name.value.clone()).collect();
                    let columns = self.key_columns(subquery, block, &renamed);
                    let rows_by_key = (columns.iter())
                        .map(|&(_, i)| i)
                        .filter(|&i| block.is_some_and(|d| self.rows_by_key(subquery, d, i)))
                        .collect();
                    self.bind(
                        b,
                        alias.name.value.clone(),
                        None,
                        None,
                        columns,
                        rows_by_key,
                    );
                }
                Vec::new()
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias.is_some() {
                    self.problem("an alias on a parenthesized join");
                }
                // Counted by its own tables.
                self.blocks[b].factors -= 1;
                self.join_list(table_with_joins, b, place, top)
            }
            _ => {
                self.problem("this kind of table reference");
                Vec::new()
            }
        }
    }

    /// Binds `exact` in block `b`. Aliases that differ only in letter case are different
    /// names to MariaDB (on case-sensitive file systems) and one to the routing: refused.
    fn bind(
        &mut self,
        b: usize,
        exact: String,
        instance: Option<usize>,
        table: Option<String>,
        key_columns: Vec<(String, usize)>,
        rows_by_key: Vec<usize>,
    ) {
        let mut scope = Some(b);
        while let Some(s) = scope {
            if self.blocks[s]
                .names
                .iter()
                .any(|n| n.exact.eq_ignore_ascii_case(&exact) && n.exact != exact)
            {
                self.problem("table names or aliases that differ only in letter case");
            }
            scope = self.blocks[s].parent;
        }
        self.blocks[b].names.push(Binding {
            exact,
            instance,
            table,
            key_columns,
            rows_by_key,
        });
    }

    fn finish_from(&mut self, b: usize) {
        let block = &mut self.blocks[b];
        if block.factors == 1 {
            if let [Binding {
                instance: Some(i), ..
            }] = block.names.as_slice()
            {
                block.only = Some(*i);
            }
        }
    }

    /// The shard-key columns a derived table or CTE with body `q` (block `block` when one
    /// SELECT) shows, under its names (`renamed`: a column list given with its alias).
    fn key_columns(
        &self,
        q: &Query,
        block: Option<usize>,
        renamed: &[String],
    ) -> Vec<(String, usize)> {
        let (Some(block), SetExpr::Select(select)) = (block, q.body.as_ref()) else {
            return Vec::new();
        };
        let mut columns = Vec::new();
        for (n, item) in select.projection.iter().enumerate() {
            let (expr, alias) = match item {
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(&alias.value)),
                // `*` over one table shows its key column under the key's name.
                SelectItem::Wildcard(_) if select.projection.len() == 1 && renamed.is_empty() => {
                    if let Some(i) = self.blocks[block].only {
                        let key = self.out.instances[i].table.rule.shard_key.clone();
                        columns.push((key, i));
                    }
                    continue;
                }
                _ => return columns,
            };
            let Some(KeyRef {
                instance,
                direct: true,
                ..
            }) = self.key_ref(block, expr)
            else {
                continue;
            };
            if self.out.instances[instance].block != block {
                continue;
            }
            let name = match (renamed.get(n), alias, expr) {
                (Some(r), _, _) => r.clone(),
                (None, Some(a), _) => a.clone(),
                (None, None, Expr::Identifier(id)) => id.value.clone(),
                (None, None, Expr::CompoundIdentifier(parts)) => {
                    parts.last().map(|p| p.value.clone()).unwrap_or_default()
                }
                _ => continue,
            };
            columns.push((name, instance));
        }
        columns
    }

    /// Whether each row of derived table body `q` (block `block`) comes from rows of
    /// `instance` that have the shard key the row shows: one SELECT without LIMIT, window
    /// functions or other row-order reads, grouped by that key if it groups or aggregates at
    /// all. Then only the rows of `instance` with a key make the derived rows with that key.
    fn rows_by_key(&self, q: &Query, block: usize, instance: usize) -> bool {
        let SetExpr::Select(select) = q.body.as_ref() else {
            return false;
        };
        if q.limit_clause.is_some()
            || q.fetch.is_some()
            || !select.named_window.is_empty()
            || select.qualify.is_some()
        {
            return false;
        }
        // Window functions, `ROWNUM()` and `@v := …` read the rows of every key before it.
        let (mut by_order, mut aggregate) = (false, false);
        let _ = sqlparser::ast::visit_expressions(select, |e| {
            match e {
                Expr::Function(f) => {
                    by_order |= f.over.is_some() || base_name(&f.name).as_deref() == Some("rownum");
                    aggregate |= crate::derived_rows::is_aggregate(&f.name);
                }
                Expr::BinaryOp {
                    op: BinaryOperator::Assignment,
                    ..
                } => by_order = true,
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        let by_key = |g: &Expr| matches!(self.key_ref(block, g), Some(KeyRef { instance: i, direct: true, .. }) if i == instance);
        let grouped = match &select.group_by {
            GroupByExpr::Expressions(groups, modifiers) if !groups.is_empty() => {
                modifiers.is_empty() && groups.iter().any(by_key)
            }
            GroupByExpr::Expressions(..) => !aggregate && select.having.is_none(),
            GroupByExpr::All(_) => false,
        };
        grouped && !by_order
    }

    /// The shard key `e` is, read in block `b`.
    fn key_ref(&self, b: usize, e: &Expr) -> Option<KeyRef> {
        self.key_ref_in(b, e, None)
    }

    /// The shard key `e` is, read in block `b`; `on_from`: read in an ON clause of `b`, which
    /// sees `b`'s bindings from this one on.
    fn key_ref_in(&self, b: usize, e: &Expr, on_from: Option<usize>) -> Option<KeyRef> {
        let direct = |instance| {
            Some(KeyRef {
                instance,
                direct: true,
                via: None,
            })
        };
        let (qualifier, column, qualified_by_db) = match e {
            Expr::Nested(inner) => return self.key_ref_in(b, inner, on_from),
            Expr::Identifier(id) => return self.unqualified(b, &id.value, on_from),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => (
                &parts[parts.len() - 2].value,
                &parts[parts.len() - 1].value,
                parts.len() > 2,
            ),
            _ => return None,
        };
        let mut scope = Some(b);
        while let Some(s) = scope {
            if let Some((k, binding)) = (self.blocks[s].names.iter().enumerate())
                .find(|(_, n)| n.exact.eq_ignore_ascii_case(qualifier))
            {
                let Some(i) = binding.instance else {
                    let (_, i) = binding
                        .key_columns
                        .iter()
                        .find(|(c, _)| c.eq_ignore_ascii_case(column))?;
                    return Some(KeyRef {
                        instance: *i,
                        direct: false,
                        via: binding.rows_by_key.contains(i).then_some((s, k)),
                    });
                };
                let table = &self.out.instances[i].table;
                let by_name = !qualified_by_db || table.alias.is_none();
                return if by_name && column.eq_ignore_ascii_case(&table.rule.shard_key) {
                    direct(i)
                } else {
                    None
                };
            }
            scope = self.blocks[s].parent;
        }
        None
    }

    /// The shard key the unqualified column `name` is, read in block `b` (`on_from`: see
    /// [`Self::key_ref_in`]).
    fn unqualified(&self, b: usize, name: &str, on_from: Option<usize>) -> Option<KeyRef> {
        let is_key = |n: &Binding| match n.instance {
            Some(i) => name.eq_ignore_ascii_case(&self.out.instances[i].table.rule.shard_key),
            None => n
                .key_columns
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(name)),
        };
        // Most names are no shard key of any table in sight: nothing to resolve.
        let mut scope = Some(b);
        let mut sighted = false;
        while let Some(s) = scope {
            sighted |= self.blocks[s].names.iter().any(is_key);
            scope = self.blocks[s].parent;
        }
        if !sighted {
            return None;
        }
        let (mut scope, mut on_from) = (Some(b), on_from);
        while let Some(s) = scope {
            let block = &self.blocks[s];
            if let Some(i) = block.only {
                if name.eq_ignore_ascii_case(&self.out.instances[i].table.rule.shard_key) {
                    return Some(KeyRef {
                        instance: i,
                        direct: true,
                        via: None,
                    });
                }
            }
            let columns: Vec<Columns<'_>> = block
                .names
                .iter()
                .map(|n| match (n.instance, &n.table) {
                    (Some(i), _) => Columns::Table(&self.out.instances[i].table.name),
                    (None, Some(table)) => Columns::Table(table),
                    (None, None) => Columns::Some(&n.key_columns),
                })
                .collect();
            let schema = self.schema.get_or_init(|| self.topology.schema.current());
            let mut missing = self.schema_needed.borrow_mut();
            match owner(name, &columns, self.topology, schema, &mut missing) {
                // Seen by the statement but not by this ON clause: not followed.
                Owner::Table(k) if on_from.is_some_and(|first| k < first) => return None,
                Owner::Table(k) => {
                    let binding = &block.names[k];
                    return match binding.instance {
                        Some(i) if is_key(binding) => Some(KeyRef {
                            instance: i,
                            direct: true,
                            via: None,
                        }),
                        Some(_) => None,
                        None => binding
                            .key_columns
                            .iter()
                            .find(|(c, _)| c.eq_ignore_ascii_case(name))
                            .map(|&(_, instance)| KeyRef {
                                instance,
                                direct: false,
                                via: binding.rows_by_key.contains(&instance).then_some((s, k)),
                            }),
                    };
                }
                Owner::Absent => {
                    scope = block.parent;
                    on_from = None;
                }
                Owner::Unknown => return None,
            }
        }
        None
    }

    fn colocated(&self, a: usize, b: usize) -> bool {
        let (a, b) = (&self.out.instances[a].table, &self.out.instances[b].table);
        a.keys_exact
            && b.keys_exact
            && Arc::ptr_eq(&a.rule.sharder, &b.rule.sharder)
            && a.rule.key_kind() == b.rule.key_kind()
    }

    /// Whether a row of block `from` exists only next to a row of block `to` that matches it:
    /// `from` is `to`, or a chain of semi-join subqueries leads from it up to `to`.
    fn semi_reaches(&self, from: usize, to: usize) -> bool {
        let mut at = from;
        loop {
            if at == to {
                return true;
            }
            if !self.blocks[at].semi {
                return false;
            }
            match self.blocks[at].parent {
                Some(p) => at = p,
                None => return false,
            }
        }
    }

    fn edge(&mut self, from: usize, to: usize, why: &Expr) {
        self.out.edges.push(Edge {
            from,
            to,
            why: why.to_string(),
        });
    }

    fn add_literal(&mut self, i: usize, constraint: Constraint, why: Vec<String>) {
        let instance = &mut self.out.instances[i];
        instance.literal = Some(match (instance.literal.take(), constraint) {
            (None, c) => c,
            (Some(Constraint::Shards(a)), Constraint::Shards(b)) => {
                Constraint::Shards(a.intersection(&b).copied().collect())
            }
            (Some(s @ Constraint::Shards(_)), Constraint::Deferred(_))
            | (Some(Constraint::Deferred(_)), s @ Constraint::Shards(_)) => s,
            (Some(d @ Constraint::Deferred(_)), Constraint::Deferred(_)) => d,
        });
        instance.literal_why.extend(why);
    }

    /// The literal pins `condition` puts on instance `i` (read in its own block), with the
    /// conjuncts that make them.
    fn literal_pins(&mut self, i: usize, condition: &Expr, only: bool) {
        let pins = literal_pins_of(condition, &self.out.instances[i].table, only);
        self.add_pins(i, pins);
    }

    fn add_pins(&mut self, i: usize, pins: Result<Option<(Constraint, Vec<String>)>, RouteError>) {
        match pins {
            Ok(Some((constraint, why))) => self.add_literal(i, constraint, why),
            Ok(None) => {}
            Err(e) => {
                self.out.error.get_or_insert(e);
            }
        }
    }

    /// A join's ON: literal pins and key equalities of its non-preserved side (`sides`: its
    /// instances, and the positions of its names in block `b`, for derived tables' rows).
    fn on_condition(
        &mut self,
        b: usize,
        on: &Expr,
        sides: (&[usize], std::ops::Range<usize>),
        first_binding: usize,
    ) {
        let (non_preserved, non_preserved_bindings) = sides;
        for &i in non_preserved {
            self.literal_pins(i, on, false);
        }
        for c in conjuncts(on) {
            let Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = c
            else {
                continue;
            };
            if !is_column(left) || !is_column(right) {
                continue;
            }
            let (Some(x), Some(y)) = (
                self.key_ref_in(b, left, Some(first_binding)),
                self.key_ref_in(b, right, Some(first_binding)),
            ) else {
                continue;
            };
            if x.instance == y.instance || !self.colocated(x.instance, y.instance) {
                continue;
            }
            for (a, z) in [(x, y), (y, x)] {
                let follows = match a.direct {
                    true => non_preserved.contains(&a.instance),
                    false => a.via.is_some_and(|(block, binding)| {
                        block == b && non_preserved_bindings.contains(&binding)
                    }),
                };
                if follows {
                    self.edge(a.instance, z.instance, c);
                }
            }
        }
    }

    /// Block `b`'s WHERE: literal pins of its tables, equalities of shard keys (between its
    /// tables, or correlated with enclosing ones), semi-join subqueries.
    fn conditions(&mut self, b: usize, selection: Option<&Expr>) {
        let Some(selection) = selection else { return };
        let own: Vec<usize> = self.blocks[b]
            .names
            .iter()
            .filter_map(|n| n.instance)
            .collect();
        for &i in &own {
            let only = self.blocks[b].only == Some(i);
            self.literal_pins(i, selection, only);
        }
        // The key column of a derived table whose rows follow its key, under the name the
        // derived table shows it by (`SELECT user_id AS uid …`): its values pin them.
        let only = self.blocks[b].factors == 1;
        let through_derived: Vec<(usize, String, String)> = (self.blocks[b].names.iter())
            .flat_map(|n| {
                (n.key_columns.iter())
                    .filter(|(_, i)| n.rows_by_key.contains(i))
                    .map(|(c, i)| (*i, n.exact.to_ascii_lowercase(), c.to_ascii_lowercase()))
            })
            .collect();
        for (i, alias, column) in through_derived {
            let mut rule = self.out.instances[i].table.rule.clone();
            rule.shard_key = column;
            let derived = TableRef::new(&rule, alias.clone(), Some(alias), self.topology);
            let pins = literal_pins_of(selection, &derived, only);
            self.add_pins(i, pins);
        }
        for c in conjuncts(selection) {
            match c {
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } => self.equality(b, left, right, c),
                Expr::Exists {
                    subquery,
                    negated: false,
                } => {
                    self.handled.insert(address(subquery));
                    self.query(subquery, Some(b), Place::Subquery, true, false);
                }
                Expr::InSubquery {
                    expr,
                    subquery,
                    negated: false,
                } => self.semi_join(b, expr, subquery, c),
                _ => {}
            }
        }
    }

    fn equality(&mut self, b: usize, left: &Expr, right: &Expr, c: &Expr) {
        if !is_column(left) || !is_column(right) {
            return;
        }
        let (Some(x), Some(y)) = (self.key_ref(b, left), self.key_ref(b, right)) else {
            return;
        };
        if x.instance == y.instance || !self.colocated(x.instance, y.instance) {
            return;
        }
        // Rows of this block's tables all meet the condition; an enclosing table's rows only
        // when this block's rows must exist for them. A key carried out of a derived table or
        // CTE is followed, and follows only where the derived table's rows follow the key's
        // (otherwise its body may read other rows).
        for (a, z) in [(x, y), (y, x)] {
            let rows = match a.direct {
                true => Some(self.out.instances[a.instance].block),
                false => a.via.map(|(block, _)| block),
            };
            if rows.is_some_and(|rows| self.semi_reaches(b, rows)) {
                self.edge(a.instance, z.instance, c);
            }
        }
    }

    fn semi_join(&mut self, b: usize, expr: &Expr, subquery: &Query, c: &Expr) {
        self.handled.insert(address(subquery));
        let Some(sb) = self.query(subquery, Some(b), Place::Subquery, true, false) else {
            return;
        };
        let (Some(outer), true) = (self.key_ref(b, expr), self.blocks[sb].semi) else {
            return;
        };
        let SetExpr::Select(select) = subquery.body.as_ref() else {
            return;
        };
        let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
            select.projection.as_slice()
        else {
            return;
        };
        let Some(KeyRef {
            instance: inner,
            direct: true,
            ..
        }) = self.key_ref(sb, item)
        else {
            return;
        };
        if self.out.instances[inner].block != sb || !self.colocated(inner, outer.instance) {
            return;
        }
        // Grouped: by the selected key, or a group's rows could span shards.
        if let GroupByExpr::Expressions(groups, _) = &select.group_by {
            let by_key = |g: &Expr| matches!(self.key_ref(sb, g), Some(KeyRef { instance, direct: true, .. }) if instance == inner);
            if !groups.is_empty() && !groups.iter().any(by_key) {
                return;
            }
        }
        self.edge(inner, outer.instance, c);
        if outer.direct && self.semi_reaches(b, self.out.instances[outer.instance].block) {
            self.edge(outer.instance, inner, c);
        }
    }

    /// Walks the subqueries in `node` not walked yet, as children of block `scope`; a query
    /// anywhere else (a table function's argument …) is a problem.
    fn scan<V: Visit + ?Sized>(&mut self, node: &V, scope: Option<usize>) {
        let mut finder = Finder {
            walker: self,
            scope,
            depth: 0,
        };
        let _ = node.visit(&mut finder);
    }
}

struct Finder<'w, 't> {
    walker: &'w mut Walker<'t>,
    scope: Option<usize>,
    /// Queries entered below the scanned node: theirs are walked by their own scan.
    depth: usize,
}

impl Visitor for Finder<'_, '_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            let subquery = match e {
                Expr::Subquery(q) => Some(q),
                Expr::Exists { subquery, .. } | Expr::InSubquery { subquery, .. } => Some(subquery),
                _ => None,
            };
            if let Some(q) = subquery {
                if self.walker.handled.insert(address(q)) {
                    self.walker
                        .query(q, self.scope, Place::Subquery, false, false);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.depth == 0 && !self.walker.handled.contains(&address(q)) {
            self.walker.problem("a query in this position");
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}
