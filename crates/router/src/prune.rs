//! Shard pruning: the shards a WHERE clause's shard-key conditions leave a statement that no
//! single key pins.
//!
//! `key = v`, `key IN (…)` and OR-ed alternatives of those give the shards of their values; on
//! a `range` table, `<`, `<=`, `>`, `>=` and BETWEEN on the key give the shards whose ranges
//! overlap. AND intersects. Anything else (and values that do not place) says nothing.

use std::collections::BTreeSet;

use shardgate_config::Topology;
use shardgate_ring::{KeyValue, ShardId, Sharder};
use sqlparser::ast::{BinaryOperator, Expr};

use crate::shard_key::{literal, row_key_values, TableRef};

pub(crate) type Shards = BTreeSet<ShardId>;

/// A sharded table whose shard-key conditions prune.
#[derive(Clone, Copy)]
pub(crate) struct Keyed<'a> {
    pub table: &'a TableRef<'a>,
    /// Unqualified column names refer to this table (it is the statement's only one).
    pub only_table: bool,
    /// The statement's strings are as written (a tree parsed verbatim, for cutting its text):
    /// they are unescaped for this syntax before they place a row.
    pub written: Option<crate::Syntax>,
}

impl Keyed<'_> {
    /// Whether `expr` is the table's shard-key column.
    pub fn is_key(&self, expr: &Expr) -> bool {
        self.table.is_key_column(expr, self.only_table)
    }

    /// The shard of a literal shard-key value; `None` when it does not place.
    pub fn value_shard(&self, value: &Expr) -> Option<ShardId> {
        if let (Some(syntax), Expr::Value(v)) = (self.written, value) {
            let backslash = !syntax
                .sql_mode
                .contains(crate::SqlMode::NO_BACKSLASH_ESCAPES);
            let unescaped = match &v.value {
                sqlparser::ast::Value::SingleQuotedString(s) => {
                    crate::lex::unescape_string(s, '\'', backslash)
                }
                sqlparser::ast::Value::DoubleQuotedString(s) => {
                    crate::lex::unescape_string(s, '"', backslash)
                }
                _ => return self.shard_of_literal(value),
            };
            let value = Expr::value(sqlparser::ast::Value::SingleQuotedString(unescaped));
            return self.shard_of_literal(&value);
        }
        self.shard_of_literal(value)
    }

    fn shard_of_literal(&self, value: &Expr) -> Option<ShardId> {
        let value = literal(value)?;
        let string_key = self.table.rule.key_type == shardgate_config::ShardKeyType::String;
        // Compared as a number (`'042' = 42`).
        if string_key && !matches!(value, KeyValue::Str(_)) {
            return None;
        }
        self.table.shard_of(&value).ok()
    }
}

/// The operands of a chain of `op` (`a AND b AND c`), parentheses removed. Iterative: a chain
/// of thousands of terms must not exhaust the stack.
pub(crate) fn chain<'e>(expr: &'e Expr, op: &BinaryOperator) -> Vec<&'e Expr> {
    let mut out = Vec::new();
    let mut pending = vec![expr];
    while let Some(e) = pending.pop() {
        match e {
            Expr::BinaryOp { left, op: o, right } if o == op => {
                pending.push(right);
                pending.push(left);
            }
            Expr::Nested(inner) => pending.push(inner),
            other => out.push(other),
        }
    }
    out
}

/// The shards a statement over `tables` runs on: those pruning leaves, or all.
pub(crate) fn target_shards(
    selection: Option<&Expr>,
    tables: &[Keyed<'_>],
    topology: &Topology,
) -> Vec<ShardId> {
    match selection.and_then(|s| shards_of(&chain(s, &BinaryOperator::And), tables)) {
        Some(shards) => shards.into_iter().collect(),
        None => (0..topology.shards.len()).collect(),
    }
}

/// The shards that may hold rows matching all of `parts` (AND-ed conditions); `None`: any.
/// Every table's conditions narrow: a row of a co-located join lives where each of its
/// tables' rows lives.
pub(crate) fn shards_of(parts: &[&Expr], tables: &[Keyed<'_>]) -> Option<Shards> {
    let mut known = None;
    for table in tables {
        if let Some(shards) = conjunction(parts, table) {
            known = Some(intersect(known, shards));
        }
    }
    known
}

fn conjunction(parts: &[&Expr], table: &Keyed<'_>) -> Option<Shards> {
    let mut known: Option<Shards> = None;
    let mut bounds: Option<(Option<i128>, Option<i128>)> = None;
    for part in parts {
        if let Some((lo, hi)) = key_range(part, table) {
            let (l, h) = bounds.unwrap_or((None, None));
            bounds = Some((max_bound(l, lo), min_bound(h, hi)));
        } else if let Some(shards) = predicate_shards(part, table) {
            known = Some(intersect(known, shards));
        }
    }
    if let Some((lo, hi)) = bounds {
        if let Some(shards) = table.table.rule.sharder.shards_for_key_range(lo, hi) {
            known = Some(intersect(known, shards.into_iter().collect()));
        }
    }
    known
}

fn intersect(known: Option<Shards>, shards: Shards) -> Shards {
    match known {
        None => shards,
        Some(prev) => prev.intersection(&shards).copied().collect(),
    }
}

fn max_bound(a: Option<i128>, b: Option<i128>) -> Option<i128> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_bound(a: Option<i128>, b: Option<i128>) -> Option<i128> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The shards of one AND-ed condition: an equality, an IN list, or an OR of conditions.
fn predicate_shards(part: &Expr, table: &Keyed<'_>) -> Option<Shards> {
    match part {
        Expr::BinaryOp {
            op: BinaryOperator::Or,
            ..
        } => {
            let mut all = Shards::new();
            for alternative in chain(part, &BinaryOperator::Or) {
                all.extend(conjunction(
                    &chain(alternative, &BinaryOperator::And),
                    table,
                )?);
            }
            Some(all)
        }
        Expr::BinaryOp {
            op: BinaryOperator::And,
            ..
        } => conjunction(&chain(part, &BinaryOperator::And), table),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            let value = if table.is_key(left) {
                right
            } else if table.is_key(right) {
                left
            } else {
                // `(a, key) = (1, 7)`
                let is_key = |c: &Expr| table.is_key(c);
                let values = (row_key_values(left, [&**right], is_key))
                    .or_else(|| row_key_values(right, [&**left], is_key))?;
                let [value] = values[..] else { return None };
                value
            };
            table.value_shard(value).map(|s| Shards::from([s]))
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } if table.is_key(expr) => list.iter().map(|v| table.value_shard(v)).collect(),
        // `(a, key) IN ((1, 7), (2, 8))`
        Expr::InList {
            expr,
            list,
            negated: false,
        } => {
            let values = row_key_values(expr, list, |c| table.is_key(c))?;
            values.iter().map(|v| table.value_shard(v)).collect()
        }
        _ => None,
    }
}

/// The key interval (inclusive bounds) a range condition on a `range` table's key allows.
fn key_range(part: &Expr, table: &Keyed<'_>) -> Option<(Option<i128>, Option<i128>)> {
    if !matches!(*table.table.rule.sharder, Sharder::Range(_)) {
        return None;
    }
    let int = |e: &Expr| -> Option<i128> {
        match literal(e)? {
            KeyValue::Int(i) => Some(i),
            KeyValue::Str(_) => None,
        }
    };
    match part {
        Expr::BinaryOp { left, op, right } => {
            let (op, value) = if table.is_key(left) {
                (op.clone(), int(right)?)
            } else if table.is_key(right) {
                let flipped = match op {
                    BinaryOperator::Lt => BinaryOperator::Gt,
                    BinaryOperator::LtEq => BinaryOperator::GtEq,
                    BinaryOperator::Gt => BinaryOperator::Lt,
                    BinaryOperator::GtEq => BinaryOperator::LtEq,
                    _ => return None,
                };
                (flipped, int(left)?)
            } else {
                return None;
            };
            match op {
                BinaryOperator::Gt => Some((Some(value.checked_add(1)?), None)),
                BinaryOperator::GtEq => Some((Some(value), None)),
                BinaryOperator::Lt => Some((None, Some(value.checked_sub(1)?))),
                BinaryOperator::LtEq => Some((None, Some(value))),
                _ => None,
            }
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } if table.is_key(expr) => Some((Some(int(low)?), Some(int(high)?))),
        _ => None,
    }
}
