//! Statements on a table with `lookups` (lookup indexes): which lookup a SELECT can be routed
//! by, and which lookup rows an INSERT or UPDATE must write before its rows.
//!
//! Values are kept as the literal text the statement holds: the proxy writes and reads the
//! lookup table (whose column has the data column's type and collation) with the same text,
//! on a connection with the session's variables, so MariaDB converts and compares the value
//! exactly as it does for the data row.

use shardgate_config::{Lookup, TableRule, Topology};
use shardgate_schema::ColumnDefault;
use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Expr, Insert, OnInsert, Query, SetExpr, Spanned, Statement,
    TableFactor, TableObject, UnaryOperator, Update, Value,
};

use std::ops::ControlFlow;

use crate::rewrite::Offsets;
use crate::shard_key::{base_name, conjuncts};
use crate::{Plan, Route, RouteError};

/// What a statement does with a table's lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupPlan {
    /// A SELECT whose WHERE clause pins a lookup column: its rows are on the shards the
    /// lookup maps the values to.
    Read(LookupRead),
    /// An INSERT or an UPDATE of lookup columns: lookup rows to write first.
    Write(LookupWrite),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRead {
    /// The data table, as the config names it, and its shard key.
    pub table: String,
    pub shard_key: String,
    pub lookup: Lookup,
    /// The values compared with the column, as written (literals).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupWrite {
    pub table: String,
    pub shard_key: String,
    /// One per row and lookup column given a value (not NULL).
    pub entries: Vec<LookupEntry>,
    /// Some value is a parameter (`?`): a prepared statement runs each execution as text
    /// with its values written in, which is planned again.
    pub has_params: bool,
    /// An UPDATE whose rows are not named by shard key: their keys are found first.
    pub locate: Option<RowsToLocate>,
}

/// How an UPDATE of lookup columns finds the keys of the rows it changes (after Vitess's owned
/// lookup vindexes): on each shard it runs on, in a transaction, `select` locks the rows and
/// gives their keys; then each key gets a lookup row of each value, then the UPDATE runs in
/// that transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsToLocate {
    /// `SELECT <shard key> FROM <table> WHERE … FOR UPDATE`.
    pub select: String,
    /// The lookups the UPDATE sets, with their values (literals, as written).
    pub values: Vec<(Lookup, String)>,
}

/// One lookup row: `value` of `lookup.column` belongs to the row with shard key `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupEntry {
    pub lookup: Lookup,
    /// Literals, as written.
    pub value: String,
    pub key: String,
}

impl std::fmt::Display for LookupPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupPlan::Read(r) => write!(
                f,
                "by lookup {} (`{}`.`{}`{}): the shards of the rows holding {}; no row → the default shard alone",
                r.lookup.table,
                r.table,
                r.lookup.column,
                if r.lookup.unique { ", unique" } else { "" },
                r.values.join(", ")
            ),
            LookupPlan::Write(LookupWrite {
                locate: Some(locate),
                ..
            }) => {
                let mut tables: Vec<&str> =
                    locate.values.iter().map(|(l, _)| l.table.as_str()).collect();
                tables.dedup();
                write!(
                    f,
                    "lookup rows first: the rows' keys from `{}` on each shard (locked), then one row per key into {}",
                    locate.select,
                    tables.join(", ")
                )
            }
            LookupPlan::Write(w) => {
                let mut tables: Vec<&str> =
                    w.entries.iter().map(|e| e.lookup.table.as_str()).collect();
                tables.dedup();
                write!(
                    f,
                    "lookup rows first: {} row(s) into {}",
                    w.entries.len(),
                    tables.join(", ")
                )
            }
        }
    }
}

/// Adds to `plan` (of `stmt`, parsed from `sql`) what it does with lookups, if anything.
pub(crate) fn attach(
    stmt: &Statement,
    sql: &str,
    topology: &Topology,
    plan: &mut Plan,
) -> Result<(), RouteError> {
    let lookup = match stmt {
        Statement::Query(q) if matches!(plan.route, Route::Scatter(_)) => {
            read(q, sql, topology).map(LookupPlan::Read)
        }
        Statement::Insert(ins) => insert(ins, sql, topology)?.map(LookupPlan::Write),
        Statement::Update(u) => update(u, sql, topology)?.map(LookupPlan::Write),
        _ => None,
    };
    plan.lookup = lookup.map(Box::new);
    Ok(())
}

/// A multi-statement text planned as one (not cut by the session) whose statements write
/// lookup rows: refused, as the lookup rows would not be written.
pub(crate) fn refuse_writes_in_multi_statement(
    statements: &[Statement],
    sql: &str,
    topology: &Topology,
) -> Result<(), RouteError> {
    for stmt in statements {
        let writes = match stmt {
            Statement::Insert(ins) => insert(ins, sql, topology)?.is_some(),
            Statement::Update(u) => update(u, sql, topology)?.is_some(),
            _ => false,
        };
        if writes {
            return Err(RouteError::NotSupported(
                "a multi-statement text that writes a table with lookups: send its statements one by one".into(),
            ));
        }
    }
    Ok(())
}

/// The rule of a table with lookups that `factor` names, and its alias.
fn table_with_lookups<'t>(
    factor: &TableFactor,
    topology: &'t Topology,
) -> Option<(&'t TableRule, Option<String>)> {
    let TableFactor::Table { name, alias, .. } = factor else {
        return None;
    };
    let rule = topology.table(&base_name(name)?)?;
    (!rule.lookups.is_empty()).then(|| (rule, alias.as_ref().map(|a| a.name.value.clone())))
}

/// Whether `expr` is `column` of the table (named `name`, or its alias).
fn is_column(expr: &Expr, column: &str, name: &str, alias: Option<&str>) -> bool {
    match expr {
        Expr::Identifier(id) => id.value.eq_ignore_ascii_case(column),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
            let qualifier = &parts[parts.len() - 2].value;
            parts[parts.len() - 1].value.eq_ignore_ascii_case(column)
                && qualifier.eq_ignore_ascii_case(alias.unwrap_or(name))
        }
        Expr::Nested(inner) => is_column(inner, column, name, alias),
        _ => false,
    }
}

/// What a value is, for a lookup.
enum Literal {
    Text(String),
    Null,
    Param,
}

/// `expr` as a literal's text in `sql`, if it is one.
fn literal(expr: &Expr, offsets: &mut Offsets<'_>) -> Option<Literal> {
    let plain = match expr {
        Expr::Value(v) => match &v.value {
            Value::Null => return Some(Literal::Null),
            Value::Placeholder(_) => return Some(Literal::Param),
            Value::Number(..)
            | Value::SingleQuotedString(_)
            | Value::DoubleQuotedString(_)
            | Value::HexStringLiteral(_)
            | Value::Boolean(_) => true,
            _ => false,
        },
        // The operator's span is its operand's: the sign is written back in.
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } if matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, Value::Number(..))) => {
            return match literal(expr, offsets)? {
                Literal::Text(text) => Some(Literal::Text(format!("-{text}"))),
                other => Some(other),
            };
        }
        Expr::Nested(inner) => return literal(inner, offsets),
        _ => false,
    };
    if !plain {
        return None;
    }
    let text = offsets.expr_text(expr)?;
    (!text.is_empty()).then(|| Literal::Text(text.to_owned()))
}

/// A SELECT from one table with lookups whose WHERE clause has `column = literal` or
/// `column IN (literals)` among its top-level AND-ed conditions.
fn read(q: &Query, sql: &str, topology: &Topology) -> Option<LookupRead> {
    if q.with.is_some() {
        return None;
    }
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let (rule, alias) = table_with_lookups(&from.relation, topology)?;
    let TableFactor::Table { name, .. } = &from.relation else {
        return None;
    };
    let name = base_name(name)?;
    let mut parts = Vec::new();
    conjuncts(select.selection.as_ref()?, &mut parts);
    let mut offsets = Offsets::new(sql);
    for lookup in rule.lookups.iter().filter(|l| !l.write_only) {
        let names = |e: &Expr| is_column(e, &lookup.column, &name, alias.as_deref());
        for part in &parts {
            let candidates: Vec<&Expr> = match part {
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } if names(left) => vec![right],
                Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } if names(right) => vec![left],
                Expr::InList {
                    expr,
                    list,
                    negated: false,
                } if names(expr) => list.iter().collect(),
                _ => continue,
            };
            let mut values = Vec::with_capacity(candidates.len());
            for candidate in candidates {
                match literal(candidate, &mut offsets) {
                    Some(Literal::Text(text)) => values.push(text),
                    // NULL matches no row.
                    Some(Literal::Null) => {}
                    _ => {
                        values.clear();
                        break;
                    }
                }
            }
            if !values.is_empty() {
                return Some(LookupRead {
                    table: rule.name.clone(),
                    shard_key: rule.shard_key.clone(),
                    lookup: lookup.clone(),
                    values,
                });
            }
        }
    }
    None
}

/// The lookup rows of an INSERT's rows.
fn insert(ins: &Insert, sql: &str, topology: &Topology) -> Result<Option<LookupWrite>, RouteError> {
    let TableObject::TableName(name) = &ins.table else {
        return Ok(None);
    };
    let Some(rule) = base_name(name)
        .and_then(|n| topology.table(&n))
        .filter(|r| !r.lookups.is_empty())
    else {
        return Ok(None);
    };
    let refuse = |why: String| {
        RouteError::NotSupported(format!(
            "INSERT into `{}`, which has lookups: {why}",
            rule.name
        ))
    };
    // (column, value) per row.
    let rows: Vec<Vec<(String, &Expr)>> = if ins.columns.is_empty() && !ins.assignments.is_empty() {
        let row = ins
            .assignments
            .iter()
            .filter_map(|a| match &a.target {
                AssignmentTarget::ColumnName(n) => Some((base_name(n)?, &a.value)),
                AssignmentTarget::Tuple(_) => None,
            })
            .collect();
        vec![row]
    } else {
        match ins.source.as_deref().map(|q| q.body.as_ref()) {
            Some(SetExpr::Values(values)) => {
                let columns: Vec<String> = ins
                    .columns
                    .iter()
                    .map(|c| base_name(c).unwrap_or_default())
                    .collect();
                values
                    .rows
                    .iter()
                    .map(|row| columns.iter().cloned().zip(row.content.iter()).collect())
                    .collect()
            }
            _ => return Err(refuse("only INSERT … VALUES and INSERT … SET write its lookup rows; insert the rows with their values".into())),
        }
    };
    if let Some(OnInsert::DuplicateKeyUpdate(assignments)) = &ins.on {
        let sets_lookup = assignments.iter().any(|a| match &a.target {
            AssignmentTarget::ColumnName(n) => {
                base_name(n).is_some_and(|c| rule.lookups.iter().any(|l| l.column == c))
            }
            AssignmentTarget::Tuple(_) => true,
        });
        if sets_lookup {
            return Err(refuse(
                "ON DUPLICATE KEY UPDATE of a lookup column; run an UPDATE".into(),
            ));
        }
    }
    let mut offsets = Offsets::new(sql);
    let mut write = LookupWrite {
        table: rule.name.clone(),
        shard_key: rule.shard_key.clone(),
        entries: Vec::new(),
        has_params: false,
        locate: None,
    };
    for row in &rows {
        let value_of = |column: &str| row.iter().find(|(c, _)| c == column).map(|(_, e)| *e);
        let given =
            value_of(&rule.shard_key).filter(|e| !crate::omitted_key::is_default_keyword(e));
        let key = match given.map(|e| literal(e, &mut offsets)) {
            // Placed by the key's default (`omitted_key.rs`), which its lookup rows would need.
            None => {
                return Err(refuse(format!(
                    "it leaves the shard key `{}` out (or gives DEFAULT); give its value",
                    rule.shard_key
                )))
            }
            Some(Some(Literal::Text(key))) => key,
            Some(Some(Literal::Param)) => {
                write.has_params = true;
                continue;
            }
            // The planner says why a row without a literal key cannot go in.
            _ => return Ok(None),
        };
        for lookup in &rule.lookups {
            match value_of(&lookup.column).map(|e| literal(e, &mut offsets)) {
                // NULL is in no lookup.
                Some(Some(Literal::Null)) => {}
                // Left out: the row takes the column's default.
                None => match column_default(rule, &lookup.column, topology)? {
                    ColumnDefault::Null => {}
                    ColumnDefault::Literal(value) => write.entries.push(LookupEntry {
                        lookup: lookup.clone(),
                        value,
                        key: key.clone(),
                    }),
                    ColumnDefault::Computed(what) | ColumnDefault::Generated(what) => {
                        return Err(refuse(format!(
                            "lookup column `{}` is left out and its default `{what}` is computed for each row, so its value is not known before the row is written: give the value",
                            lookup.column
                        )))
                    }
                    ColumnDefault::Missing => {
                        return Err(refuse(format!(
                            "lookup column `{}` is left out and has no default: give the value",
                            lookup.column
                        )))
                    }
                    ColumnDefault::AutoIncrement => {
                        return Err(refuse(format!(
                            "lookup column `{}` is left out and is generated by AUTO_INCREMENT on its shard, so its value is not known before the row is written: give the value",
                            lookup.column
                        )))
                    }
                },
                Some(Some(Literal::Text(value))) => write.entries.push(LookupEntry {
                    lookup: lookup.clone(),
                    value,
                    key: key.clone(),
                }),
                Some(Some(Literal::Param)) => write.has_params = true,
                Some(None) => {
                    return Err(refuse(format!(
                        "the value of lookup column `{}` must be a literal",
                        lookup.column
                    )))
                }
            }
        }
    }
    Ok((write.has_params || !write.entries.is_empty()).then_some(write))
}

/// The default of `column` of `rule`'s table, from the schema cache; a table the cache lacks
/// is read first (`SchemaNeeded`).
fn column_default(
    rule: &TableRule,
    column: &str,
    topology: &Topology,
) -> Result<ColumnDefault, RouteError> {
    let schema = topology.schema.current();
    let refuse = |why: &str| {
        RouteError::NotSupported(format!(
            "INSERT into `{}` leaves lookup column `{column}` out, and {why}: give its value",
            rule.name
        ))
    };
    if let Some(d) = schema.disagreement(&rule.name) {
        return Err(refuse(&format!(
            "the shards define the table differently ({}), so its default is not known",
            d.what
        )));
    }
    let Some(table) = schema.schema.table(&rule.name) else {
        return Err(RouteError::SchemaNeeded {
            tables: vec![rule.name.to_ascii_lowercase()],
        });
    };
    match table.column(column) {
        Some(c) => Ok(c.default.clone()),
        None => Err(refuse("the table has no such column on the shards")),
    }
}

/// The lookup rows of an UPDATE that sets lookup columns. When its WHERE clause names the rows
/// by their shard keys, the entries are those keys'; otherwise (or when a unique value may go
/// to several rows) the executor finds the rows' keys first ([`RowsToLocate`]).
fn update(u: &Update, sql: &str, topology: &Topology) -> Result<Option<LookupWrite>, RouteError> {
    let Some((rule, alias)) = table_with_lookups(&u.table.relation, topology) else {
        return Ok(None);
    };
    let TableFactor::Table {
        name: table_name, ..
    } = &u.table.relation
    else {
        return Ok(None);
    };
    let name = base_name(table_name).unwrap_or_default();
    let sets: Vec<(&Lookup, &Expr)> = u
        .assignments
        .iter()
        .filter_map(|a| match &a.target {
            AssignmentTarget::ColumnName(n) => {
                let column = base_name(n)?;
                let lookup = rule.lookups.iter().find(|l| l.column == column)?;
                Some((lookup, &a.value))
            }
            AssignmentTarget::Tuple(_) => None,
        })
        .collect();
    // Setting NULL writes no lookup row (the old value's row goes stale).
    let mut probe = Offsets::new(sql);
    if sets
        .iter()
        .all(|(_, value)| matches!(literal(value, &mut probe), Some(Literal::Null)))
    {
        return Ok(None);
    }
    let first_column = sets[0].0.column.clone();
    let refuse = |why: String| {
        RouteError::NotSupported(format!(
            "UPDATE of lookup column `{first_column}` of `{}`: {why}",
            rule.name
        ))
    };
    if !u.table.joins.is_empty() || u.from.is_some() {
        return Err(refuse("update one table at a time".into()));
    }
    let mut write = LookupWrite {
        table: rule.name.clone(),
        shard_key: rule.shard_key.clone(),
        entries: Vec::new(),
        has_params: false,
        locate: None,
    };
    // A prepared UPDATE runs each execution as text with its values written in.
    if has_placeholder(u) {
        write.has_params = true;
        return Ok(Some(write));
    }
    let mut offsets = Offsets::new(sql);
    let mut values = Vec::new();
    for (lookup, value) in sets {
        match literal(value, &mut offsets) {
            Some(Literal::Text(value)) => values.push((lookup.clone(), value)),
            Some(Literal::Null) => {}
            Some(Literal::Param) => unreachable!("no placeholder, checked above"),
            None => return Err(refuse("set it to a literal".into())),
        }
    }
    let keys = keys_named(u, rule, &name, alias.as_deref(), &mut offsets);
    let unique = values.iter().any(|(lookup, _)| lookup.unique);
    match keys {
        Some(keys) if !(unique && keys.len() > 1) => {
            for (lookup, value) in values {
                for key in &keys {
                    write.entries.push(LookupEntry {
                        lookup: lookup.clone(),
                        value: value.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
        _ => {
            let select = locking_select(u, sql, rule, table_name, &mut offsets).ok_or_else(|| {
                refuse("shardgate cannot find its WHERE clause in the text to lock the rows first: name the rows by their shard key".into())
            })?;
            write.locate = Some(RowsToLocate { select, values });
        }
    }
    Ok((write.locate.is_some() || !write.entries.is_empty()).then_some(write))
}

/// The shard keys the WHERE clause of `u` names among its top-level AND-ed conditions
/// (`key = literal`, `key IN (literals)`), if it names them.
fn keys_named(
    u: &Update,
    rule: &TableRule,
    name: &str,
    alias: Option<&str>,
    offsets: &mut Offsets<'_>,
) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    conjuncts(u.selection.as_ref()?, &mut parts);
    let names_key = |e: &Expr| is_column(e, &rule.shard_key, name, alias);
    for part in parts {
        let candidates: Vec<&Expr> = match part {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } if names_key(left) => vec![right],
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } if names_key(right) => vec![left],
            Expr::InList {
                expr,
                list,
                negated: false,
            } if names_key(expr) => list.iter().collect(),
            _ => continue,
        };
        let mut found = Vec::new();
        for c in candidates {
            match literal(c, offsets) {
                Some(Literal::Text(text)) => found.push(text),
                Some(Literal::Null) => {}
                _ => {
                    found.clear();
                    break;
                }
            }
        }
        if !found.is_empty() {
            return Some(found);
        }
    }
    None
}

/// `SELECT <shard key> FROM <table> <WHERE … ORDER BY … LIMIT …> FOR UPDATE`: the rows `u`
/// changes, locked, with their keys. The clauses after the SET list are taken as written.
fn locking_select(
    u: &Update,
    sql: &str,
    rule: &TableRule,
    table_name: &sqlparser::ast::ObjectName,
    offsets: &mut Offsets<'_>,
) -> Option<String> {
    let TableFactor::Table { alias, .. } = &u.table.relation else {
        return None;
    };
    // The first clause after the SET list starts with its keyword, just before its first
    // expression (the SET list's own end is not used: an expression's span may stop short of
    // a closing parenthesis).
    let first = match (&u.selection, u.order_by.first(), &u.limit) {
        (Some(e), _, _) => Some((e.span().start, &["WHERE"][..])),
        (None, Some(o), _) => Some((o.expr.span().start, &["ORDER", "BY"][..])),
        (None, None, Some(l)) => Some((l.span().start, &["LIMIT"][..])),
        (None, None, None) => None,
    };
    let rest = match first {
        None => "",
        Some((at, words)) => {
            let keyword_start = crate::rewrite::clause_start(sql, offsets.at(at)?, words)?;
            sql[keyword_start..]
                .trim_end()
                .trim_end_matches(';')
                .trim_end()
        }
    };
    let alias = alias
        .as_ref()
        .map(|a| format!(" AS {}", a.name))
        .unwrap_or_default();
    // `rest` ends its line: a `-- comment` it ends with must not swallow the lock.
    Some(format!(
        "SELECT `{}` FROM {table_name}{alias} {rest}\nFOR UPDATE",
        rule.shard_key
    ))
}

/// Whether the statement holds a parameter (`?`).
fn has_placeholder(u: &Update) -> bool {
    sqlparser::ast::visit_expressions(u, |e| match e {
        Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
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
lookups = [{ column = "email", unique = true }, { column = "phone" }]
[[tables]]
name = "plain"
shard_key = "id"
"#,
        )
    }

    fn lookup(sql: &str) -> Option<LookupPlan> {
        crate::plan_sql(sql, &topology(), Syntax::DEFAULT)
            .unwrap()
            .lookup
            .map(|l| *l)
    }

    fn read_values(sql: &str) -> Option<(String, Vec<String>)> {
        match lookup(sql)? {
            LookupPlan::Read(r) => Some((r.lookup.column, r.values)),
            LookupPlan::Write(_) => None,
        }
    }

    fn entries(sql: &str) -> Vec<(String, String, String)> {
        match lookup(sql) {
            Some(LookupPlan::Write(w)) => w
                .entries
                .into_iter()
                .map(|e| (e.lookup.column, e.value, e.key))
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn reads_by_a_lookup_column() {
        assert_eq!(
            read_values("SELECT * FROM users WHERE email = 'a@x'"),
            Some(("email".into(), vec!["'a@x'".into()]))
        );
        assert_eq!(
            read_values("select name from users u where u.email in ('a', \"b\") and name > 'c' order by name limit 2"),
            Some(("email".into(), vec!["'a'".into(), "\"b\"".into()]))
        );
        assert_eq!(
            read_values("SELECT COUNT(*) FROM users WHERE 5 = phone"),
            Some(("phone".into(), vec!["5".into()]))
        );
    }

    #[test]
    fn reads_that_need_no_lookup_or_cannot_use_one() {
        // The shard key decides.
        assert_eq!(
            read_values("SELECT * FROM users WHERE id = 3 AND email = 'a'"),
            None
        );
        assert_eq!(
            read_values("SELECT * FROM users WHERE email = 'a' OR id = 3"),
            None
        );
        assert_eq!(
            read_values("SELECT * FROM users WHERE email LIKE 'a%'"),
            None
        );
        assert_eq!(
            read_values("SELECT * FROM users WHERE email = LOWER('A')"),
            None
        );
        assert_eq!(read_values("SELECT * FROM plain WHERE email = 'a'"), None);
        assert_eq!(
            read_values("SELECT * FROM users WHERE email NOT IN ('a')"),
            None
        );
    }

    #[test]
    fn inserts_write_one_entry_per_row_and_lookup() {
        assert_eq!(
            entries("INSERT INTO users (id, email, phone) VALUES (1, 'a', 5), (2, 'b', NULL)"),
            vec![
                ("email".into(), "'a'".into(), "1".into()),
                ("phone".into(), "5".into(), "1".into()),
                ("email".into(), "'b'".into(), "2".into()),
            ]
        );
        assert_eq!(
            entries("INSERT INTO users SET email = 'a', id = 7, phone = NULL"),
            vec![("email".into(), "'a'".into(), "7".into())]
        );
        assert!(entries("INSERT INTO plain (id, email) VALUES (1, 'a')").is_empty());
        assert_eq!(
            entries("INSERT INTO users (id, email, phone) VALUES (-8, 'n', - 3)"),
            vec![
                ("email".into(), "'n'".into(), "-8".into()),
                ("phone".into(), "-3".into(), "-8".into()),
            ]
        );
    }

    #[test]
    fn prepared_values_are_written_in_at_each_execution() {
        match lookup("INSERT INTO users (id, email, phone) VALUES (?, ?, ?)") {
            Some(LookupPlan::Write(w)) => assert!(w.has_params),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn updates_of_a_lookup_column_name_their_rows() {
        assert_eq!(
            entries("UPDATE users SET email = 'n' WHERE id = 4"),
            vec![("email".into(), "'n'".into(), "4".into())]
        );
        assert!(entries("UPDATE users SET name = 'n' WHERE email = 'x'").is_empty());
        assert!(entries("UPDATE users SET email = NULL WHERE id = 1 OR id = 2").is_empty());
        let refused = |sql: &str| {
            matches!(
                crate::plan_sql(sql, &topology(), Syntax::DEFAULT),
                Err(RouteError::NotSupported(_))
            )
        };
        assert!(refused(
            "UPDATE users SET email = CONCAT(email, 'x') WHERE id = 1"
        ));
        assert!(refused(
            "INSERT INTO users (id, email) VALUES (1, UPPER('a'))"
        ));
        // The default of a left-out column is read from the shards first.
        assert!(matches!(
            crate::plan_sql(
                "INSERT INTO users (id, name) VALUES (1, 'no email')",
                &topology(),
                Syntax::DEFAULT
            ),
            Err(RouteError::SchemaNeeded { .. })
        ));
        assert!(refused(
            "INSERT INTO users (id, email) VALUES (1, 'a') ON DUPLICATE KEY UPDATE email = 'b'"
        ));
        // The session runs the SELECT and inserts its rows as VALUES.
        assert!(matches!(
            crate::plan_sql(
                "INSERT INTO users (id, email) SELECT id, email FROM plain",
                &topology(),
                Syntax::DEFAULT
            ),
            Err(RouteError::InsertFromSelect(_))
        ));
    }

    fn located(sql: &str) -> Option<RowsToLocate> {
        match lookup(sql) {
            Some(LookupPlan::Write(w)) => w.locate,
            _ => None,
        }
    }

    #[test]
    fn updates_not_naming_their_rows_lock_them_first() {
        let locate =
            located("UPDATE users SET email = 'n', name = 'x' WHERE name = 'o' ORDER BY id;")
                .unwrap();
        assert_eq!(
            locate.select,
            "SELECT `id` FROM users WHERE name = 'o' ORDER BY id\nFOR UPDATE"
        );
        assert_eq!(locate.values.len(), 1);
        assert_eq!(locate.values[0].1, "'n'");
        let locate = located(
            "UPDATE users SET email = 'n', name = IF(LAST_INSERT_ID(7), name, name) WHERE (name = 'o')",
        )
        .unwrap();
        assert_eq!(
            locate.select,
            "SELECT `id` FROM users WHERE (name = 'o')\nFOR UPDATE"
        );
        let locate = located("UPDATE users SET email = 'n' ORDER  BY name").unwrap();
        assert_eq!(
            locate.select,
            "SELECT `id` FROM users ORDER  BY name\nFOR UPDATE"
        );
        let locate = located("update app.users as u set u.email = 'n'").unwrap();
        assert_eq!(
            locate.select,
            "SELECT `id` FROM app.users AS u \nFOR UPDATE"
        );
        // A unique value for several named rows: MariaDB decides which rows exist.
        let locate = located("UPDATE users SET email = 'n' WHERE id IN (1, 2)").unwrap();
        assert!(
            locate.select.ends_with("WHERE id IN (1, 2)\nFOR UPDATE"),
            "{}",
            locate.select
        );
        // A non-unique value for named rows needs no lookup of the keys.
        assert!(located("UPDATE users SET phone = 5 WHERE id IN (1, 2)").is_none());
        assert_eq!(
            entries("UPDATE users SET phone = 5 WHERE id IN (1, 2)").len(),
            2
        );
        // Prepared: planned again with its values at each execution.
        match lookup("UPDATE users SET email = ? WHERE name = ?") {
            Some(LookupPlan::Write(w)) => assert!(w.has_params && w.locate.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_left_out_lookup_column_takes_its_default() {
        use shardgate_schema::{ColumnRow, Schema, SchemaStatus};
        let t = topology();
        let column = |name: &str, ordinal: u64, default: ColumnDefault| ColumnRow {
            table: "users".into(),
            column: name.into(),
            ordinal,
            column_type: if name == "id" {
                "bigint(20)"
            } else {
                "varchar(20)"
            }
            .into(),
            collation: None,
            default,
            primary_key: name == "id",
        };
        let install = |phone: ColumnDefault| {
            let ticket = t.schema.begin_load();
            t.schema.install_all(
                ticket,
                SchemaStatus {
                    schema: Schema::from_rows([
                        column("id", 1, ColumnDefault::Missing),
                        column("email", 2, ColumnDefault::Literal("'none'".into())),
                        column("phone", 3, phone),
                    ]),
                    disagreements: Vec::new(),
                    generation: 0,
                },
            );
        };
        let planned = |sql: &str| match crate::plan_sql(sql, &t, Syntax::DEFAULT) {
            Ok(plan) => match plan.lookup.map(|l| *l) {
                Some(LookupPlan::Write(w)) => Ok(w
                    .entries
                    .into_iter()
                    .map(|e| (e.lookup.column, e.value))
                    .collect::<Vec<_>>()),
                _ => Ok(Vec::new()),
            },
            Err(e) => Err(e),
        };
        install(ColumnDefault::Null);
        let none = || ("email".to_owned(), "'none'".to_owned());
        assert_eq!(
            planned("INSERT INTO users (id) VALUES (1), (2)").unwrap(),
            [none(), none()]
        );
        assert_eq!(
            planned("INSERT INTO users SET id = 1, email = 'a'").unwrap(),
            [("email".to_owned(), "'a'".to_owned())]
        );
        install(ColumnDefault::Computed("uuid()".into()));
        assert!(matches!(
            planned("INSERT INTO users (id, email) VALUES (1, 'a')"),
            Err(RouteError::NotSupported(m)) if m.contains("uuid()")
        ));
        install(ColumnDefault::Missing);
        assert!(matches!(
            planned("INSERT INTO users (id, email) VALUES (1, 'a')"),
            Err(RouteError::NotSupported(m)) if m.contains("no default")
        ));
        // Rows the shard key's default places: their lookup rows would need it.
        for sql in [
            "INSERT INTO users (email, phone) VALUES ('a', 'b')",
            "INSERT INTO users (id, email, phone) VALUES (DEFAULT, 'a', 'b')",
        ] {
            assert!(
                matches!(
                    planned(sql),
                    Err(RouteError::NotSupported(m)) if m.contains("leaves the shard key `id` out")
                ),
                "{sql}: {:?}",
                planned(sql)
            );
        }
    }

    #[test]
    fn a_multi_statement_text_with_lookup_writes_is_refused() {
        let planned = crate::plan_sql(
            "INSERT INTO users (id, email, phone) VALUES (1, 'a', NULL); SELECT 1",
            &topology(),
            Syntax::DEFAULT,
        );
        assert!(
            matches!(planned, Err(RouteError::NotSupported(_))),
            "{planned:?}"
        );
    }

    #[test]
    fn the_plan_names_the_lookup() {
        let t = topology();
        let plan =
            crate::plan_sql("SELECT * FROM users WHERE email = 'a'", &t, Syntax::DEFAULT).unwrap();
        let shown = plan.display(&t).to_string();
        assert!(shown.contains("by lookup users_email_lookup"), "{shown}");
    }
}
