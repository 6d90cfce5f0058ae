//! INSERT and REPLACE: rows routed by their shard keys (split by shard when they span several), reference tables written on every shard.

use super::*;
use sqlparser::ast::{Function, FunctionArg, FunctionArgExpr, FunctionArguments};

/// A write to reference table `name`: the same statement on every shard, all or nothing.
/// Reading a sharded table in it would see one shard's rows only: refused.
pub(super) fn reference_write(
    name: &ObjectName,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Option<Plan>, RouteError> {
    let Some(table) = base_name(name).filter(|t| topology.is_reference(t)) else {
        return Ok(None);
    };
    if let Some(read) = sharded_relations(stmt, topology).first() {
        return Err(RouteError::Unsupported {
            construct: format!("writing reference table `{table}` from a read"),
            table: topology
                .table(read)
                .map_or_else(|| read.clone(), |r| r.name.clone()),
        });
    }
    let all = (0..topology.shards.len()).collect();
    Ok(Some(Plan::new(StatementKind::Write, Route::Copies(all))))
}

pub(super) fn plan_insert(
    ins: &Insert,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    if let TableObject::TableName(name) = &ins.table {
        if let Some(plan) = reference_write(name, stmt, topology)? {
            return Ok(plan);
        }
    }

    let rule = match &ins.table {
        TableObject::TableName(name) => base_name(name).and_then(|t| topology.table(&t)),
        _ => None,
    };
    let Some(rule) = rule else {
        // An unsharded table, on the default shard: what it reads must be there too.
        if !sharded_relations(stmt, topology).is_empty() {
            return crate::pushdown::plan(stmt, "INSERT", StatementKind::Write, None, topology);
        }
        return Ok(Plan::new(
            StatementKind::Write,
            Route::Shard(topology.default_shard),
        ));
    };
    let table = TableRef::new(rule, rule.name.to_ascii_lowercase(), None, topology);
    let is_key = |n: &ObjectName| base_name(n).is_some_and(|c| c == rule.shard_key);
    if let Some(OnInsert::DuplicateKeyUpdate(assignments)) = &ins.on {
        // `key = key` (the idiom for "ignore duplicates") leaves the row as it is; `key =
        // VALUES(key)` gives the duplicate row found on the inserted key's shard that key, so
        // it stays there (not with lookups: their rows would name the old key).
        let keeps_key = |value: &Expr| match value {
            Expr::Identifier(i) => i.value.eq_ignore_ascii_case(&rule.shard_key),
            // `t.key` of the written table, not of a table its SELECT reads.
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [.., table, column] => {
                    table.value.eq_ignore_ascii_case(&rule.name)
                        && column.value.eq_ignore_ascii_case(&rule.shard_key)
                }
                _ => false,
            },
            Expr::Function(f) if is_values_function(f) && rule.lookups.is_empty() => {
                match &f.args {
                    FunctionArguments::List(list) => matches!(
                        list.args.as_slice(),
                        [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(i)))]
                            if i.value.eq_ignore_ascii_case(&rule.shard_key)
                    ),
                    _ => false,
                }
            }
            _ => false,
        };
        if assignments.iter().any(|a| {
            matches!(&a.target, AssignmentTarget::ColumnName(n) if is_key(n))
                && !keeps_key(&a.value)
        }) {
            return Err(RouteError::ShardKeyUpdate {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
                how: "with INSERT … ON DUPLICATE KEY UPDATE: the row would have to move shards; change it with an UPDATE of that table alone",
            });
        }
    }
    let non_literal = |value: Option<&Expr>| {
        let given = value.map_or_else(String::new, |v| format!(", not `{v}`"));
        let plain = match rule.key_type {
            shardgate_config::ShardKeyType::Integer => " (a plain integer, in any string form)",
            shardgate_config::ShardKeyType::String => "",
        };
        let message = match given.contains('\u{FFFD}') {
            // `Charset::read_lossy`'s mark for bytes it has no character for.
            true => format!(
                "cannot route INSERT into sharded table `{}`: its shard key `{}` is given characters shardgate cannot read in the connection's character set (shown as U+FFFD: `{}`); send the statement in utf8mb4 (SET NAMES utf8mb4) or a character set shardgate reads",
                rule.name,
                rule.shard_key,
                value.map(ToString::to_string).unwrap_or_default()
            ),
            false => format!(
                "cannot route INSERT into sharded table `{}`: the shard key `{}` must be given as a literal value{plain} or a parameter{given}",
                rule.name, rule.shard_key
            ),
        };
        match value {
            Some(_) => RouteError::KeyExpression { message },
            None => RouteError::NotSupported(message),
        }
    };
    // `LAST_INSERT_ID()`: the session's value, which it writes in (`last_insert_id_key.rs`).
    let key_of = |expr: &Expr| match key_source(expr, rule.key_type) {
        Some(key) => Ok(key),
        // `DEFAULT`: the row takes the key's default, as when it leaves the key out.
        None if crate::omitted_key::is_default_keyword(expr) => {
            crate::omitted_key::omitted_key(rule, topology)
        }
        None if crate::last_insert_id_key::is_last_insert_id(expr) => {
            Err(RouteError::KeyFromLastInsertId {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
            })
        }
        None => Err(non_literal(Some(expr))),
    };
    let mut keys: Vec<KeySource> = Vec::new();
    if ins.columns.is_empty() && !ins.assignments.is_empty() {
        // INSERT … SET col = value
        let value = ins
            .assignments
            .iter()
            .find(|a| matches!(&a.target, AssignmentTarget::ColumnName(n) if is_key(n)))
            .map(|a| &a.value);
        keys.push(match value {
            Some(value) => key_of(value)?,
            None => crate::omitted_key::omitted_key(rule, topology)?,
        });
    } else {
        if ins.columns.is_empty() {
            return Err(RouteError::InsertWithoutColumns {
                table: rule.name.clone(),
            });
        }
        let rows = match ins.source.as_deref().map(|q| q.body.as_ref()) {
            Some(SetExpr::Values(values)) => &values.rows,
            // INSERT … SELECT: on the shard of the rows it reads, when they and the rows it
            // writes are all on one.
            _ => {
                return crate::pushdown::plan(
                    stmt,
                    "INSERT … SELECT",
                    StatementKind::Write,
                    None,
                    topology,
                )
            }
        };
        match ins.columns.iter().position(is_key) {
            Some(pos) => {
                for row in rows {
                    keys.push(
                        row.content
                            .get(pos)
                            .map(&key_of)
                            .unwrap_or_else(|| Err(non_literal(None)))?,
                    );
                }
            }
            // Every row takes the key's default.
            None => {
                let key = crate::omitted_key::omitted_key(rule, topology)?;
                keys.extend(rows.iter().map(|_| key.clone()));
            }
        }
    }
    if keys.iter().any(|k| matches!(k, KeySource::Param(_))) {
        if sharded_relations(stmt, topology).len() > 1 {
            return Err(RouteError::NotSupported(format!(
                "a subquery reading a sharded table in the values of a prepared INSERT into `{}` is not supported by shardgate: its shard is known only at execution (send it as text)",
                rule.name
            )));
        }
        let name = rule.name.to_ascii_lowercase();
        return Ok(Plan::new(
            StatementKind::Write,
            Route::Deferred(DeferredRoute {
                verb: "INSERT",
                keys: keys.into_iter().map(|k| (name.clone(), k)).collect(),
                fixed: None,
                unsharded: None,
            }),
        ));
    }
    let mut shards = BTreeSet::new();
    for key in &keys {
        if let KeySource::Value(v) = key {
            shards.insert(table.shard_of(&v.as_key())?);
        }
    }
    let shard = match shards.len() {
        1 => *shards.first().expect("one"),
        _ => {
            // Split by shard, a subquery in the values would read each part's shard only.
            let read = sharded_relations(stmt, topology)
                .into_iter()
                .nth(1)
                .or_else(|| has_unsharded_relation(stmt, topology));
            if let Some(read) = read {
                return Err(RouteError::NotSupported(format!(
                    "an INSERT into `{}` whose rows go to several shards ({}) with a subquery reading `{read}` is not supported by shardgate unless the proxy can run the subquery first (an uncorrelated SELECT): split by shard, each part would read one shard's rows",
                    rule.name,
                    shard_names(topology, &shards)
                )));
            }
            return Err(RouteError::InsertSpansShards {
                table: rule.name.clone(),
                shards: shard_names(topology, &shards),
            });
        }
    };
    // Subqueries in the values: other sharded tables may live elsewhere, unsharded ones do
    // unless the row goes to the default shard (the target itself is the first relation).
    if sharded_relations(stmt, topology).len() > 1 {
        return crate::pushdown::plan(
            stmt,
            "INSERT",
            StatementKind::Write,
            Some((shard, &rule.name)),
            topology,
        );
    }
    if shard != topology.default_shard {
        let unsharded = has_unsharded_relation(stmt, topology);
        crate::plan::unsharded_conflict(topology, unsharded.as_deref(), shard)?;
    }
    Ok(Plan::new(StatementKind::Write, Route::Shard(shard)))
}

/// Whether `f` is `VALUES(…)` / `VALUE(…)`: the value the INSERT gave a column.
fn is_values_function(f: &Function) -> bool {
    f.name.0.len() == 1
        && f.name.0[0].as_ident().is_some_and(|i| {
            ["values", "value"]
                .iter()
                .any(|k| i.value.eq_ignore_ascii_case(k))
        })
}
