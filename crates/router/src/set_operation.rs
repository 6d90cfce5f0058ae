//! `UNION` / `INTERSECT` / `EXCEPT` whose branches no one shard answers together: each
//! branch planned on its own as any SELECT (one shard, a scatter with its merge, a nested
//! parenthesised set operation), the branches' rows combined in the proxy
//! ([`shardgate_merge::combine`]), the whole's ORDER BY / LIMIT applied after. Planned only
//! where pushing the statement down whole was refused, so single-shard statements pay nothing.
//!
//! The result's column definitions are MariaDB's own: the executor runs the whole statement
//! with `LIMIT 0` on the default shard (which has every table) and converts each branch's
//! cells to them ([`shardgate_merge::Widening`]).

use std::fmt;

use shardgate_config::Topology;
use shardgate_merge::SetOperator;
use shardgate_ring::ShardId;
use sqlparser::ast::{
    Expr, LimitClause, OrderByKind, OrderBySort, Query, SetExpr, SetOperator as ParsedOperator,
    SetQuantifier, Statement, Value,
};

use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// A set operation run in the proxy over branches planned on their own.
#[derive(Debug, Clone, PartialEq)]
pub struct SetOperationPlan {
    pub tree: SetNode,
    /// The whole statement reading no rows (see `metadata_sql`), run on `metadata_shard` for
    /// the result's column definitions.
    pub metadata_sql: String,
    /// The same without the whole's ORDER BY: the body of the query that asks the result
    /// columns' collations (an ORDER BY by name would not survive renaming its columns).
    pub unordered_sql: String,
    pub metadata_shard: ShardId,
    /// The whole's ORDER BY, over result columns.
    pub order_by: Vec<WholeOrderKey>,
    pub offset: u64,
    pub limit: Option<u64>,
}

/// A node of the operator tree.
#[derive(Debug, Clone, PartialEq)]
pub enum SetNode {
    /// One branch: a SELECT (or parenthesised query) with its own plan.
    Branch { sql: String, plan: Box<Plan> },
    Combine {
        op: SetOperator,
        /// `ALL`: duplicates kept (counted, for INTERSECT / EXCEPT).
        all: bool,
        left: Box<SetNode>,
        right: Box<SetNode>,
    },
}

/// A column of the result the whole's ORDER BY names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderTarget {
    /// `ORDER BY 2` (1-based as written).
    Position(u64),
    /// `ORDER BY name`: a column name (or alias) of the first branch.
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeOrderKey {
    pub target: OrderTarget,
    pub descending: bool,
}

/// Whether `stmt` is a set operation this module may plan after pushdown refused it with `why`.
pub(crate) fn applies(stmt: &Statement, why: &RouteError) -> bool {
    let Statement::Query(q) = stmt else {
        return false;
    };
    matches!(q.body.as_ref(), SetExpr::SetOperation { .. })
        && matches!(
            why,
            RouteError::NoShardKey { .. }
                | RouteError::KeySpansShards { .. }
                | RouteError::CrossShard { .. }
                | RouteError::NotSupported(_)
                | RouteError::Unsupported { .. }
        )
}

fn refuse(what: impl fmt::Display) -> RouteError {
    RouteError::NotSupported(format!(
        "cannot run this set operation (UNION / INTERSECT / EXCEPT) across shards: {what}"
    ))
}

/// Plans the set operation of `stmt`, the only statement of `sql`, branch by branch.
pub(crate) fn plan(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let Statement::Query(q) = stmt else {
        return Err(refuse("not a query"));
    };
    if q.with.is_some() {
        return Err(refuse(
            "a WITH clause over the whole; put the CTE inside each branch",
        ));
    }
    if !q.locks.is_empty() {
        return Err(crate::scatter::locking_read_refused());
    }
    if q.fetch.is_some() || q.for_clause.is_some() || has_placeholder(stmt) {
        return Err(refuse(
            "FETCH, FOR or parameters (prepare it with its values written in)",
        ));
    }
    // Branch texts are rendered from a tree that keeps string escapes as written.
    let verbatim = crate::lex::parse_verbatim(sql, syntax).unwrap_or_default();
    let [Statement::Query(vq)] = verbatim.as_slice() else {
        return Err(refuse("the statement could not be re-read"));
    };
    let tree = node(&vq.body, syntax, topology)?;
    let order_by = order_keys(vq)?;
    let (offset, limit) = limit_of(vq)?;
    let table = first_table(&tree);
    let mut plan = Plan::new(
        StatementKind::Read,
        Route::SetOperation(Box::new(SetOperationPlan {
            tree,
            metadata_sql: metadata_sql(vq, true),
            unordered_sql: metadata_sql(vq, false),
            metadata_shard: topology.default_shard,
            order_by,
            offset,
            limit,
        })),
    );
    plan.table = table;
    Ok(plan)
}

/// The whole statement answering no rows without reading any: every branch's WHERE is `0`
/// (MariaDB sees an impossible WHERE and reads nothing; a `LIMIT 0` alone still fills the
/// union's temporary table) and the whole has `LIMIT 0`. Its column definitions are the
/// result's: types are fixed before the WHERE is looked at. (Wrapping the statement in
/// parentheses would make MariaDB name a derived table in them.)
fn metadata_sql(q: &Query, ordered: bool) -> String {
    let mut q = q.clone();
    if !ordered {
        q.order_by = None;
    }
    q.limit_clause = Some(LimitClause::LimitOffset {
        limit: Some(Expr::value(Value::Number("0".into(), false))),
        offset: None,
        limit_by: Vec::new(),
    });
    read_nothing(&mut q.body);
    q.to_string()
}

fn read_nothing(body: &mut SetExpr) {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            read_nothing(left);
            read_nothing(right);
        }
        SetExpr::Select(select) => {
            select.selection = Some(Expr::value(Value::Number("0".into(), false)));
        }
        SetExpr::Query(q) => read_nothing(&mut q.body),
        _ => {}
    }
}

fn has_placeholder(stmt: &Statement) -> bool {
    sqlparser::ast::visit_expressions(stmt, |e| match e {
        Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => {
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

fn first_table(node: &SetNode) -> Option<std::sync::Arc<str>> {
    match node {
        SetNode::Branch { plan, .. } => plan.table.clone(),
        SetNode::Combine { left, right, .. } => first_table(left).or_else(|| first_table(right)),
    }
}

fn node(body: &SetExpr, syntax: Syntax, topology: &Topology) -> Result<SetNode, RouteError> {
    match body {
        SetExpr::SetOperation {
            left,
            op,
            set_quantifier,
            right,
        } => {
            let op = match op {
                ParsedOperator::Union => SetOperator::Union,
                ParsedOperator::Intersect => SetOperator::Intersect,
                ParsedOperator::Except | ParsedOperator::Minus => SetOperator::Except,
            };
            let all = match set_quantifier {
                SetQuantifier::All => true,
                SetQuantifier::Distinct | SetQuantifier::None => false,
                other => return Err(refuse(format_args!("the quantifier {other}"))),
            };
            Ok(SetNode::Combine {
                op,
                all,
                left: Box::new(node(left, syntax, topology)?),
                right: Box::new(node(right, syntax, topology)?),
            })
        }
        SetExpr::Select(select) => branch(select.to_string(), syntax, topology),
        SetExpr::Query(query) => branch(query.to_string(), syntax, topology),
        other => Err(refuse(format_args!("the branch `{other}`"))),
    }
}

fn branch(sql: String, syntax: Syntax, topology: &Topology) -> Result<SetNode, RouteError> {
    let plan = crate::planner::plan_sql(&sql, topology, syntax)?;
    if plan.kind != StatementKind::Read {
        return Err(refuse(format_args!(
            "the branch `{sql}` is not a plain read"
        )));
    }
    match plan.route {
        Route::Shard(_) | Route::Scatter(_) | Route::SetOperation(_) => {}
        _ => {
            return Err(refuse(format_args!(
                "the branch `{sql}` has no single read plan"
            )))
        }
    }
    if plan.lookup.is_some() || plan.connection_state.is_some() || !plan.assigns.is_empty() {
        return Err(refuse(format_args!(
            "the branch `{sql}` routes by a lookup index or assigns variables"
        )));
    }
    Ok(SetNode::Branch {
        sql,
        plan: Box::new(plan),
    })
}

fn number(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

fn order_keys(q: &Query) -> Result<Vec<WholeOrderKey>, RouteError> {
    let Some(order_by) = &q.order_by else {
        return Ok(Vec::new());
    };
    let OrderByKind::Expressions(list) = &order_by.kind else {
        return Err(refuse("ORDER BY ALL"));
    };
    list.iter()
        .map(|o| {
            if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                return Err(refuse("NULLS FIRST / LAST or WITH FILL in the ORDER BY"));
            }
            let target = match &o.expr {
                Expr::Identifier(id) => OrderTarget::Name(id.value.clone()),
                e => match number(e) {
                    Some(n) => OrderTarget::Position(n),
                    None => {
                        return Err(refuse(format_args!(
                        "ORDER BY `{e}` on the whole: order by a result column's position or name"
                    )))
                    }
                },
            };
            Ok(WholeOrderKey {
                target,
                descending: o.options.sort == Some(OrderBySort::Desc),
            })
        })
        .collect()
}

fn limit_of(q: &Query) -> Result<(u64, Option<u64>), RouteError> {
    let num = |e: &Expr| number(e).ok_or_else(|| refuse("a LIMIT that is not given as numbers"));
    match &q.limit_clause {
        None => Ok((0, None)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => {
            let offset = offset.as_ref().map(|o| num(&o.value)).transpose()?;
            let limit = limit.as_ref().map(num).transpose()?;
            Ok((offset.unwrap_or(0), limit))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            Ok((num(offset)?, Some(num(limit)?)))
        }
        Some(_) => Err(refuse("this form of LIMIT")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    fn shown(sql: &str) -> String {
        let t = topology();
        match crate::plan_sql(sql, &t, Syntax::DEFAULT) {
            Ok(plan) => plan.display(&t).to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn branches_on_different_shards_become_a_tree() {
        let s = shown("SELECT id FROM users UNION SELECT user_id FROM orders WHERE user_id = 7");
        assert!(
            s.starts_with("read → set operation across shards\n  Union(distinct)\n    scatter to [s0, s1, s2]"),
            "{s}"
        );
        assert!(
            s.contains("\n    shard s1: `SELECT user_id FROM orders WHERE user_id = 7`"),
            "{s}"
        );
    }

    #[test]
    fn the_metadata_query_reads_no_rows() {
        let t = topology();
        let plan = crate::plan_sql(
            "SELECT id FROM users WHERE name > 'a' UNION (SELECT 1 ORDER BY 1 LIMIT 3) ORDER BY 1 LIMIT 2",
            &t,
            Syntax::DEFAULT,
        )
        .expect("planned");
        let Route::SetOperation(s) = plan.route else {
            panic!("{:?}", plan.route)
        };
        assert_eq!(
            s.metadata_sql,
            "SELECT id FROM users WHERE 0 UNION (SELECT 1 WHERE 0 ORDER BY 1 LIMIT 3) ORDER BY 1 LIMIT 0"
        );
        assert_eq!(
            s.unordered_sql,
            "SELECT id FROM users WHERE 0 UNION (SELECT 1 WHERE 0 ORDER BY 1 LIMIT 3) LIMIT 0"
        );
    }

    #[test]
    fn intersect_binds_tighter_than_union() {
        let s = shown(
            "SELECT id FROM users UNION SELECT id FROM users INTERSECT SELECT user_id FROM orders",
        );
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[1], "  Union(distinct)", "{s}");
        assert_eq!(lines[2], "    scatter to [s0, s1, s2]", "{s}");
        assert_eq!(lines[7], "    Intersect(distinct)", "{s}");
    }

    #[test]
    fn pinned_set_operations_still_go_whole_to_their_shard() {
        let s = shown("SELECT id FROM users WHERE id = 7 UNION SELECT id FROM users WHERE id = 3");
        assert_eq!(s.split(';').next(), Some("read → shard s1"), "{s}");
    }

    #[test]
    fn unsupported_forms_are_answered_from_copies_or_refused() {
        // What the proxy cannot combine runs on copies of the tables (`materialize.rs`).
        for sql in [
            "WITH t AS (SELECT 1) SELECT id FROM users UNION SELECT 1 FROM t",
            "SELECT id FROM users UNION SELECT id FROM orders ORDER BY id + 1",
        ] {
            assert!(shown(sql).starts_with("read → materialize"), "{sql}");
        }
        assert!(
            shown("SELECT id FROM users UNION SELECT id FROM orders FOR UPDATE")
                .starts_with("error")
        );
    }
}
