//! Finding shard-key values in WHERE clauses and INSERT rows, and the shards they map to.

use std::collections::BTreeSet;

use shardgate_config::{TableRule, Topology};
use shardgate_ring::{KeyValue, ShardId};
use sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectName, ObjectNamePart, UnaryOperator, Value,
};

use crate::RouteError;

/// A sharded table as a statement refers to it.
#[derive(Debug)]
pub(crate) struct TableRef<'t> {
    pub rule: &'t TableRule,
    /// Name used in SQL (lower-cased), and alias if any.
    pub name: String,
    pub alias: Option<String>,
}

impl TableRef<'_> {
    /// Whether `qualifier` (the part before `.column`) names this table.
    fn is_named(&self, qualifier: &Ident) -> bool {
        match &self.alias {
            Some(a) => qualifier.value.eq_ignore_ascii_case(a),
            None => qualifier.value.eq_ignore_ascii_case(&self.name),
        }
    }

    /// Whether `expr` is this table's shard-key column; unqualified names count when
    /// the table is the only one in its query.
    fn is_key_column(&self, expr: &Expr, only_table: bool) -> bool {
        match expr {
            Expr::Identifier(id) => {
                only_table && id.value.eq_ignore_ascii_case(&self.rule.shard_key)
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                parts[parts.len() - 1]
                    .value
                    .eq_ignore_ascii_case(&self.rule.shard_key)
                    && self.is_named(&parts[parts.len() - 2])
            }
            Expr::Nested(inner) => self.is_key_column(inner, only_table),
            _ => false,
        }
    }

    pub fn shard_of(&self, value: &KeyValue<'_>) -> Result<ShardId, RouteError> {
        self.rule
            .shard_for(value)
            .map_err(|source| RouteError::BadKey {
                table: self.rule.name.clone(),
                key: self.rule.shard_key.clone(),
                source: Box::new(source),
            })
    }
}

/// The last part of an object name, lower-cased (`app.users` → `users`).
pub(crate) fn base_name(name: &ObjectName) -> Option<String> {
    match name.0.last()? {
        ObjectNamePart::Identifier(id) => Some(id.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// A literal usable as a shard-key value.
pub(crate) fn literal(expr: &Expr) -> Option<KeyValue<'_>> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n
                .parse::<i128>()
                .ok()
                .map(KeyValue::Int)
                .or(Some(KeyValue::Str(n.as_bytes()))),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                Some(KeyValue::Str(s.as_bytes()))
            }
            Value::Boolean(b) => Some(KeyValue::Int(i128::from(*b))),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            KeyValue::Int(i) => Some(KeyValue::Int(-i)),
            KeyValue::Str(_) => None,
        },
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

/// The top-level AND-ed conditions of `expr`, in order. Iterative: a chain of thousands of
/// ANDs must not exhaust the stack.
fn conjuncts<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                pending.push(right);
                pending.push(left);
            }
            Expr::Nested(inner) => pending.push(inner),
            other => out.push(other),
        }
    }
}

/// The shards a WHERE clause confines `table` to, from top-level AND-ed `key = literal` and
/// `key IN (literals)` conditions; `None` when it does not confine it.
pub(crate) fn shards_in_where(
    selection: Option<&Expr>,
    table: &TableRef<'_>,
    only_table: bool,
) -> Result<Option<BTreeSet<ShardId>>, RouteError> {
    let Some(selection) = selection else {
        return Ok(None);
    };
    let mut parts = Vec::new();
    conjuncts(selection, &mut parts);
    let mut result: Option<BTreeSet<ShardId>> = None;
    for part in parts {
        let shards = match part {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                let value = if table.is_key_column(left, only_table) {
                    literal(right)
                } else if table.is_key_column(right, only_table) {
                    literal(left)
                } else {
                    None
                };
                match value {
                    Some(v) => BTreeSet::from([table.shard_of(&v)?]),
                    None => continue,
                }
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } if table.is_key_column(expr, only_table) => {
                let values: Option<Vec<_>> = list.iter().map(literal).collect();
                match values {
                    Some(values) => values
                        .iter()
                        .map(|v| table.shard_of(v))
                        .collect::<Result<_, _>>()?,
                    None => continue,
                }
            }
            _ => continue,
        };
        result = Some(match result {
            None => shards,
            Some(prev) => prev.intersection(&shards).copied().collect(),
        });
    }
    Ok(result)
}

/// Names of shards, for messages.
pub(crate) fn shard_names(topology: &Topology, shards: &BTreeSet<ShardId>) -> String {
    shards
        .iter()
        .map(|s| topology.shards[*s].name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
