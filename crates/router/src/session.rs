//! `SET` statements: which session variables they assign, normalized for replay.

use sqlparser::ast::{ContextModifier, Expr, ObjectName, Set, Value};

use crate::{Plan, Route, RouteError, SessionVar, StatementKind};

/// Plans a `SET` statement as session variables to keep.
pub(crate) fn plan_set(set: &Set) -> Result<Plan, RouteError> {
    if let Some(plan) = consistency_setting(set)? {
        return Ok(plan);
    }
    let mut vars = Vec::new();
    let mut autocommit = None;
    // How many assignments are to global values.
    let mut globals = 0;
    match set {
        Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        } => {
            let [value] = values.as_slice() else {
                return Err(RouteError::NotSupported(format!(
                    "SET {variable} with several values"
                )));
            };
            let scope = assign(scope.as_ref(), variable, value, &mut vars, &mut autocommit)?;
            globals += usize::from(scope == Scope::Global);
        }
        Set::MultipleAssignments { assignments } => {
            for a in assignments {
                let scope = assign(
                    a.scope.as_ref(),
                    &a.name,
                    &a.value,
                    &mut vars,
                    &mut autocommit,
                )?;
                globals += usize::from(scope == Scope::Global);
            }
            if globals > 0 && globals < assignments.len() {
                // Both: the session keeps its values, and the text runs on every primary.
                return Ok(Plan::new(
                    StatementKind::Session,
                    Route::Set {
                        vars,
                        autocommit,
                        globals: true,
                    },
                ));
            }
        }
        Set::SetNames { .. } | Set::SetNamesDefault {} => vars.push(SessionVar {
            name: "names".into(),
            sql: set.to_string(),
            computed: false,
        }),
        Set::SetTimeZone { value, .. } => vars.push(SessionVar {
            name: "time_zone".into(),
            sql: format!("SET SESSION time_zone = {value}"),
            computed: false,
        }),
        Set::SetTransaction { modes, .. } => {
            // Kept for the session: through a pool, "next transaction only" has no connection to stick to.
            let modes: Vec<String> = modes.iter().map(ToString::to_string).collect();
            vars.push(SessionVar {
                name: "transaction".into(),
                sql: format!("SET SESSION TRANSACTION {}", modes.join(", ")),
                computed: false,
            });
        }
        other => {
            return Err(RouteError::NotSupported(format!(
                "`{other}` is not supported by shardgate"
            )))
        }
    }
    if globals > 0 {
        // Server administration: run on every primary, for admin users (see `administrative`).
        return Ok(Plan::new(
            StatementKind::Session,
            Route::EveryPrimary { privilege: "SUPER" },
        ));
    }
    Ok(Plan::new(
        StatementKind::Session,
        Route::Set {
            vars,
            autocommit,
            globals: false,
        },
    ))
}

/// Whether an assignment sets the session's value or the server's global one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Session,
    Global,
}

fn assign(
    scope: Option<&ContextModifier>,
    variable: &ObjectName,
    value: &Expr,
    vars: &mut Vec<SessionVar>,
    autocommit: &mut Option<bool>,
) -> Result<Scope, RouteError> {
    let raw = variable.to_string();
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with('@') && !lower.starts_with("@@") {
        vars.push(SessionVar {
            name: lower,
            sql: format!("SET {raw} = {value}"),
            computed: false,
        });
        return Ok(Scope::Session);
    }
    let name = lower.trim_start_matches("@@");
    let global = matches!(scope, Some(ContextModifier::Global)) || name.starts_with("global.");
    if global && name.trim_start_matches("global.") == "shardgate_consistency" {
        return Err(RouteError::SessionOnly("shardgate_consistency".into()));
    }
    if name.trim_start_matches("session.") == "shardgate_consistency" {
        return Err(RouteError::NotSupported(
            "SET shardgate_consistency must be a statement of its own".into(),
        ));
    }
    if global {
        return Ok(Scope::Global);
    }
    let name = name
        .strip_prefix("session.")
        .or_else(|| name.strip_prefix("local."))
        .unwrap_or(name);
    if name == "password" {
        // Run as written to validate it, `SET PASSWORD = …` would change the password of
        // shardgate's own backend account.
        return Err(RouteError::NotSupported(
            "SET PASSWORD through shardgate is not supported: it would change shardgate's own backend account; change passwords on each MariaDB server".into(),
        ));
    }
    if name == "completion_type" && !no_chain(value) {
        // CHAIN would open transactions the proxy does not see on pooled connections, and
        // RELEASE would make the servers close them at every COMMIT.
        return Err(RouteError::NotSupported(format!(
            "SET completion_type = {value} through shardgate is not supported: only NO_CHAIN (0); end a transaction with COMMIT [RELEASE] and BEGIN again"
        )));
    }
    if name == "autocommit" {
        *autocommit = Some(truthy(value).ok_or_else(|| {
            RouteError::NotSupported(format!("SET autocommit = {value}: use 0, 1, ON or OFF"))
        })?);
    }
    vars.push(SessionVar {
        name: name.to_owned(),
        sql: format!("SET SESSION {name} = {value}"),
        computed: !is_constant(value) || merges_flags(name),
    });
    Ok(Scope::Session)
}

/// Whether a `completion_type` value is NO_CHAIN (0, `'NO_CHAIN'`, `DEFAULT`).
fn no_chain(value: &Expr) -> bool {
    let text = value.to_string().to_ascii_lowercase();
    matches!(text.trim_matches(['\'', '"']), "0" | "no_chain" | "default")
}

/// Whether `value` means the same on any connection at any time: a literal or a bare word
/// (`ON`, `DEFAULT`, a collation's name), not a user variable (`@x`, which a later SET may
/// change or a fresh connection may not have yet) nor an expression.
fn is_constant(value: &Expr) -> bool {
    match value {
        Expr::Value(_) => true,
        Expr::Identifier(id) => !id.value.starts_with('@'),
        _ => false,
    }
}

/// Whether `name` is one of MariaDB's flag-set variables, where `SET x = 'flag=on'` changes
/// that flag of the current value and keeps the others: replayed on its own, on another
/// connection, it would lose the flags earlier SETs changed, so it is kept by its value.
fn merges_flags(name: &str) -> bool {
    matches!(name, "optimizer_switch" | "optimizer_trace")
}

fn truthy(value: &Expr) -> Option<bool> {
    match value {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<i64>().ok().map(|n| n != 0),
            Value::Boolean(b) => Some(*b),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => on_off(s),
            _ => None,
        },
        Expr::Identifier(id) => on_off(&id.value),
        _ => None,
    }
}

fn on_off(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Some(true),
        "off" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// `SET [@@][session.]shardgate_consistency = 'strong' | 'read_your_writes' | 'eventual' | DEFAULT`:
/// answered by the proxy, never sent to MariaDB.
fn consistency_setting(set: &Set) -> Result<Option<Plan>, RouteError> {
    let (variable, value) = match set {
        Set::SingleAssignment {
            scope: Some(ContextModifier::Global),
            ..
        } => return Ok(None),
        Set::SingleAssignment {
            variable, values, ..
        } if values.len() == 1 => (variable.to_string(), &values[0]),
        Set::MultipleAssignments { assignments }
            if assignments.len() == 1
                && !matches!(assignments[0].scope, Some(ContextModifier::Global)) =>
        {
            (assignments[0].name.to_string(), &assignments[0].value)
        }
        _ => return Ok(None),
    };
    let name = variable.to_ascii_lowercase();
    let name = name.trim_start_matches("@@");
    let name = name.strip_prefix("session.").unwrap_or(name);
    if name != "shardgate_consistency" {
        return Ok(None);
    }
    let text = match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(id) => id.value.clone(),
        other => other.to_string(),
    };
    let level = if text.eq_ignore_ascii_case("default") {
        None
    } else {
        Some(
            text.to_ascii_lowercase()
                .parse()
                .map_err(RouteError::NotSupported)?,
        )
    };
    Ok(Some(Plan::new(
        StatementKind::Session,
        Route::SetConsistency(level),
    )))
}
