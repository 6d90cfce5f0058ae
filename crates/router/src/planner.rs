//! Builds the [`Plan`] for a statement.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use shardgate_config::Topology;
use sqlparser::ast::{
    AssignmentTarget, Delete, Expr, FromTable, Ident, Insert, ObjectName, ObjectType, OnInsert,
    Query, SelectItem, SetExpr, Statement, TableFactor, TableObject, TableWithJoins, Update, Use,
};
use sqlparser::tokenizer::Token;

use crate::connection_state::{self, ConnectionState};
use crate::shard_key::{
    base_name, constraint_in_where, key_source, shard_names, Constraint, KeySource, TableRef,
};
use crate::{
    session, DeferredRoute, Plan, Route, RouteError, SqlMode, StatementKind, Syntax, TxnCommand,
};

/// Plans a COM_QUERY text, which may hold several statements.
///
/// Text the parser does not understand goes to the default shard as-is (the backend then
/// reports its own syntax error, or runs MariaDB syntax we don't model) unless it names a
/// sharded table, in which case it cannot be routed safely.
///
/// `syntax` says how the session reads text: its `sql_mode` and the server version that
/// decides which executable comments run (see [`crate::lex`]).
pub fn plan_sql(sql: &str, topology: &Topology, syntax: Syntax) -> Result<Plan, RouteError> {
    let mut plan = plan_statement_text(sql, topology, syntax)?;
    plan.traits = crate::StatementTraits::of(sql.as_bytes(), syntax);
    Ok(plan)
}

fn plan_statement_text(sql: &str, topology: &Topology, syntax: Syntax) -> Result<Plan, RouteError> {
    let text = crate::lex::resolve_comments(sql, syntax);
    let sql = text.as_ref();
    if let Some((inner, placeholders)) = crate::set_statement::inner_statement(sql, syntax) {
        return crate::set_statement::plan(sql, inner, placeholders, topology, syntax);
    }
    if syntax.sql_mode.contains(SqlMode::ORACLE) && !is_set(sql) {
        return Err(RouteError::NotSupported(
            "sql_mode ORACLE is not supported by shardgate: its grammar is not MariaDB's default one; SET sql_mode to another value".into(),
        ));
    }
    if let Some(plan) = crate::administrative::plan_administrative(sql, syntax) {
        return plan;
    }
    if let Some(plan) = crate::transaction_end::plan_transaction_end(sql) {
        return plan;
    }
    // The session writes these values into text statements (`with_previous_statement`); what
    // reaches the planner still reading them is a prepared statement's text. A routine, view,
    // trigger or event reads them when it runs, on the server.
    if let Some(what) = crate::text::previous_statement_diagnostic(sql, syntax)
        .filter(|_| !defines_stored_code(sql))
    {
        return Err(RouteError::NotSupported(format!(
            "{what} in a prepared statement describes what the previous statement left on its backend connection, and through shardgate's pool that may be another connection: not supported by shardgate (send the statement as text)"
        )));
    }
    if let Some(plan) = connection_state::plan_lock_tables(sql, syntax, topology) {
        return plan;
    }
    if let Some(plan) = crate::explain::plan(sql, topology, syntax) {
        return plan;
    }
    let mut plan = plan_large_or_small(sql, topology, syntax)?;
    plan.lists_server_threads = crate::administrative::names_server_processlist(sql, syntax);
    plan.assigns = crate::text::assigned_user_variables(sql, syntax);
    if connection_state::mentions_named_locks(sql.as_bytes()) && plan.connection_state.is_none() {
        if let Some(calls) = connection_state::named_lock_calls(sql, syntax) {
            connection_state::attach_named_locks(&mut plan, calls, topology)?;
        }
    }
    // A SET's assignments, also those inside its values (`SET @a = @b := 5`), are read back
    // by the session from the connection that ran it (`Route::Set`).
    if let Route::Set { vars, .. } = &mut plan.route {
        for name in std::mem::take(&mut plan.assigns) {
            if !vars.iter().any(|v| v.name == name) {
                vars.push(crate::SessionVar {
                    name,
                    sql: sql.trim().trim_end_matches(';').trim_end().to_owned(),
                    computed: true,
                });
            }
        }
    }
    if !plan.assigns.is_empty() && !matches!(plan.route, Route::Shard(_) | Route::Deferred(_)) {
        return Err(RouteError::NotSupported(
            "assigning user variables inside a statement (`@v := …`, `INTO @v`) that runs on several shards is not supported by shardgate: each shard would assign its own value".into(),
        ));
    }
    if syntax.sql_mode.contains(SqlMode::HIGH_NOT_PRECEDENCE)
        && matches!(plan.route, Route::Scatter(_))
        && crate::lex::tokenize(sql, syntax, true).is_ok_and(|t| crate::lex::has_prefix_not(&t))
    {
        return Err(RouteError::NotSupported(
            "a prefix NOT under sql_mode HIGH_NOT_PRECEDENCE in a statement merged across shards is not supported by shardgate".into(),
        ));
    }
    Ok(plan)
}

/// Whether the text is a `CREATE` or `ALTER` statement (of a routine, view, trigger, event: its
/// body runs later, on the server).
fn defines_stored_code(sql: &str) -> bool {
    let head = sql.trim_start();
    ["create", "alter"].iter().any(|w| {
        head.get(..w.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(w))
            && !head
                .as_bytes()
                .get(w.len())
                .is_some_and(u8::is_ascii_alphanumeric)
    })
}

/// Whether the text is a `SET` statement.
fn is_set(sql: &str) -> bool {
    let head = sql.trim_start();
    head.len() > 3
        && head.as_bytes()[..3].eq_ignore_ascii_case(b"set")
        && !head.as_bytes()[3].is_ascii_alphanumeric()
}

fn plan_large_or_small(sql: &str, topology: &Topology, syntax: Syntax) -> Result<Plan, RouteError> {
    if sql.len() <= LARGE_STATEMENT {
        return plan_text(sql, topology, syntax);
    }
    // Parsing, walking and dropping a syntax tree recurse once per nesting level, and a flat
    // chain `a AND b AND …` nests once per term: bound the chain, and plan on a stack sized
    // for that bound, so no statement can overflow the thread's stack.
    let operators = chaining_operators(sql, syntax);
    if operators > MAX_CHAINED_OPERATORS {
        return Err(RouteError::TooComplex {
            operators,
            limit: MAX_CHAINED_OPERATORS,
        });
    }
    stacker::grow(LARGE_STATEMENT_STACK, || plan_text(sql, topology, syntax))
}

/// Statements longer than this are checked for depth and planned on a dedicated stack.
pub(crate) const LARGE_STATEMENT: usize = 8 * 1024;
/// Most binary operators (each one nesting level) a statement may chain.
const MAX_CHAINED_OPERATORS: usize = 100_000;
/// Stack for planning a large statement: ample for `MAX_CHAINED_OPERATORS` levels.
pub(crate) const LARGE_STATEMENT_STACK: usize = 256 * 1024 * 1024;

/// Binary operators in `sql` (AND, OR, XOR, arithmetic, comparison), each a nesting level.
fn chaining_operators(sql: &str, syntax: Syntax) -> usize {
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, true) else {
        return 0; // not parseable either: nothing deep gets built
    };
    let mut count = 0;
    let mut after_operand = false;
    for token in tokens {
        let (operator, operand) = match &token.token {
            Token::Whitespace(_) => continue,
            Token::Word(w) => {
                let keyword = ["and", "or", "xor"]
                    .iter()
                    .any(|k| w.value.eq_ignore_ascii_case(k));
                (keyword && w.quote_style.is_none(), !keyword)
            }
            // A minus after an operand subtracts; elsewhere it negates a literal.
            Token::Minus => (after_operand, false),
            Token::Plus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::StringConcat
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret => (true, false),
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::RParen => (false, true),
            _ => (false, false),
        };
        count += usize::from(operator);
        after_operand = operand;
    }
    count
}

/// Names each `?` placeholder by its position in the text (`?0`, `?1`, …), the order in which
/// COM_STMT_EXECUTE binds parameters. Positions count every `?` of the text's tokens, also
/// those the tree holds somewhere else than an expression (`{ts ?}`).
pub(crate) fn number_placeholders(statements: &mut Vec<Statement>, sql: &str, syntax: Syntax) {
    let is_unnumbered = |v: &sqlparser::ast::ValueWithSpan| matches!(&v.value, sqlparser::ast::Value::Placeholder(p) if p == "?");
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, false) else {
        return;
    };
    let positions: Vec<(u64, u64)> = tokens
        .iter()
        .filter(|t| matches!(&t.token, Token::Placeholder(p) if p == "?"))
        .map(|t| (t.span.start.line, t.span.start.column))
        .collect();
    let _ = sqlparser::ast::visit_expressions_mut(statements, |e| {
        if let Expr::Value(v) = e {
            if is_unnumbered(v) {
                let index = positions
                    .binary_search(&(v.span.start.line, v.span.start.column))
                    .unwrap_or_default();
                v.value = sqlparser::ast::Value::Placeholder(format!("?{index}"));
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

fn plan_text(sql: &str, topology: &Topology, syntax: Syntax) -> Result<Plan, RouteError> {
    let statements = match crate::lex::parse(sql, syntax) {
        Ok(s) => s,
        Err(e) => {
            // MySQL's older spelling of FOR SHARE, which the parser does not know.
            if let Some(head) = strip_lock_in_share_mode(sql) {
                match plan_text(head, topology, syntax) {
                    Ok(plan)
                        if matches!(
                            plan.route,
                            Route::Scatter(_) | Route::Materialize(_) | Route::Join(_)
                        ) =>
                    {
                        return Err(crate::scatter::locking_read_refused())
                    }
                    Ok(mut plan) if plan.kind == StatementKind::Read => {
                        plan.kind = StatementKind::LockingRead;
                        plan.rewritten = None;
                        return Ok(plan);
                    }
                    // The statement parses but cannot be routed: say why, not "cannot parse".
                    Err(e) if !matches!(e, RouteError::Unparsed { .. }) => return Err(e),
                    _ => {}
                }
            }
            return unparsed(sql, topology, syntax, e.to_string());
        }
    };
    let mut statements = statements;
    if sql.contains('?') {
        number_placeholders(&mut statements, sql, syntax);
    }
    if let [Statement::Insert(ins)] = statements.as_slice() {
        crate::insert_select::check(ins, sql, topology)?;
        crate::auto_increment::check(ins, sql, topology, syntax)?;
    }
    let uses_tables = statements.iter().any(names_a_table);
    let mut plans = statements.iter().map(|s| plan_statement(s, topology));
    let Some(first) = plans.next() else {
        // Empty text: let the backend answer "Query was empty".
        return Ok(Plan::new(
            StatementKind::Read,
            Route::Shard(topology.default_shard),
        ));
    };
    if statements.len() == 1 {
        let planned = match first {
            // Its SELECT reads other shards than its rows go to: run by rows.
            Err(e)
                if matches!(statements[0], Statement::Insert(_))
                    && !matches!(e, RouteError::InsertSpansShards { .. }) =>
            {
                let Statement::Insert(ins) = &statements[0] else {
                    unreachable!()
                };
                Err(crate::insert_select::across_shards(ins, sql, topology, e))
            }
            Err(RouteError::InsertSpansShards { .. })
                if matches!(statements[0], Statement::Insert(_)) =>
            {
                let Statement::Insert(ins) = &statements[0] else {
                    unreachable!()
                };
                match crate::rewrite::split_insert(sql, ins, topology)? {
                    Some(parts) => Ok(Plan::new(StatementKind::Write, Route::Split(parts))),
                    None => first,
                }
            }
            // Branches of a set operation on different shards: combined in the proxy.
            Err(e) if crate::set_operation::applies(&statements[0], &e) => {
                crate::set_operation::plan(sql, syntax, &statements[0], topology)
            }
            // No shard key pins one shard: scatter a SELECT, broadcast an UPDATE / DELETE.
            Err(e @ (RouteError::NoShardKey { .. } | RouteError::KeySpansShards { .. })) => {
                crate::scatter::plan_without_shard_key(sql, syntax, &statements[0], topology, e)
            }
            Ok(mut plan) if plan.rewritten.is_some() => {
                // Re-render from a tree that keeps string escapes as written.
                plan.rewritten = crate::lex::parse_verbatim(sql, syntax)
                    .and_then(|s| s.first().and_then(hide_socket));
                Ok(plan)
            }
            // SET values are replayed on other connections: keep their text as written.
            Ok(plan) if matches!(plan.route, Route::Set { .. }) => {
                match crate::lex::parse_verbatim(sql, syntax).as_deref() {
                    Some([Statement::Set(set)]) => session::plan_set(set),
                    _ => Ok(plan),
                }
            }
            other => other,
        };
        // Refused SELECTs over sharded tables: answered from copies on one connection.
        let planned = planned
            .map_err(|e| crate::write_subqueries::first(sql, syntax, &statements[0], topology, e))
            .or_else(|e| crate::materialize::fallback(sql, syntax, &statements[0], topology, e))
            .map(|plan| crate::join_plan::prefer(sql, syntax, topology, plan));
        let mut plan = planned?;
        plan.uses_tables = uses_tables;
        if topology.has_lookups {
            crate::lookup::attach(&statements[0], sql, topology, &mut plan)?;
        }
        return Ok(plan);
    }
    let mut plan = first?;
    if topology.has_lookups {
        crate::lookup::refuse_writes_in_multi_statement(&statements, sql, topology)?;
    }
    if plan.rewritten.is_some() {
        plan.rewritten = None;
    }
    for next in plans {
        let next = next?;
        match (&plan.route, &next.route) {
            (Route::Shard(a), Route::Shard(b)) if a == b => {
                if next.kind != StatementKind::Read {
                    plan.kind = next.kind;
                }
            }
            _ => {
                return Err(RouteError::NotSupported(
                    "a multi-statement text whose statements do not all run on one shard has no single plan: plan its statements one by one (a client session runs each on its own)".into(),
                ))
            }
        }
    }
    Ok(plan)
}

/// Whether the statement names a table (`dual` is none).
fn names_a_table(stmt: &Statement) -> bool {
    sqlparser::ast::visit_relations(stmt, |name| match base_name(name) {
        Some(t) if t == "dual" => ControlFlow::Continue(()),
        _ => ControlFlow::Break(()),
    })
    .is_break()
}

/// `SELECT … LOCK IN SHARE MODE` without its suffix.
fn strip_lock_in_share_mode(sql: &str) -> Option<&str> {
    let trimmed = sql.trim_end().trim_end_matches(';').trim_end();
    let mut rest = trimmed;
    for word in ["mode", "share", "in", "lock"] {
        let cut = rest.len().checked_sub(word.len())?;
        if !rest.is_char_boundary(cut) || !rest[cut..].eq_ignore_ascii_case(word) {
            return None;
        }
        rest = &rest[..cut];
        if word != "lock" {
            let before = rest.trim_end();
            if before.len() == rest.len() {
                return None;
            }
            rest = before;
        }
    }
    rest.ends_with(char::is_whitespace).then_some(rest)
}

fn unparsed(
    sql: &str,
    topology: &Topology,
    syntax: Syntax,
    message: String,
) -> Result<Plan, RouteError> {
    let tokens = crate::lex::tokenize(sql, syntax, true)
        .map(|t| t.into_iter().map(|t| t.token).collect::<Vec<_>>());
    // Text the tokenizer rejects (an unterminated quote) may still run up to that point on
    // the backend, as a multi-statement text: look for table names in every word of it.
    let words: Vec<String> = match &tokens {
        Ok(tokens) => tokens
            .iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.value.clone()),
                _ => None,
            })
            .collect(),
        Err(_) => sql
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("handler"))
    {
        return connection_state::plan_handler(&words, topology);
    }
    // `ALTER TABLE t DISABLE | ENABLE KEYS` (in mariadb-dump's output): DDL where t lives.
    if let [alter, table_word, name, toggle, keys] = words.as_slice() {
        let is = |w: &String, k: &str| w.eq_ignore_ascii_case(k);
        if is(alter, "alter")
            && is(table_word, "table")
            && (is(toggle, "disable") || is(toggle, "enable"))
            && is(keys, "keys")
        {
            let name = name.to_ascii_lowercase();
            let route = match topology.table(&name).is_some() || topology.is_reference(&name) {
                true => Route::AllShards,
                false => Route::Shard(topology.default_shard),
            };
            return Ok(Plan::new(StatementKind::Ddl, route));
        }
    }
    if let Some(load) = tokens
        .as_deref()
        .ok()
        .and_then(crate::load_data::load_statement)
    {
        crate::load_data::check_target(&load, topology)?;
    }
    for word in &words {
        if let Some(rule) = topology.table(word) {
            return Err(RouteError::Unparsed {
                table: rule.name.clone(),
                message,
            });
        }
    }
    let first = words
        .first()
        .map(|w| w.to_ascii_lowercase())
        .unwrap_or_default();
    match first.as_str() {
        "unlock" => return Err(connection_state(&first.to_ascii_uppercase())),
        "prepare" | "execute" | "deallocate" => return Err(crate::sql_prepare::not_planned()),
        "xa" => {
            return Err(RouteError::NotSupported(format!(
                "{} through shardgate is not supported",
                first.to_ascii_uppercase()
            )))
        }
        // `SET CHARACTER SET …`, which the parser does not know: kept and replayed like any
        // session variable (MariaDB validates it when it is first run).
        "set"
            if words.get(1).is_some_and(|w| {
                ["character", "charset", "names"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
            }) =>
        {
            let sql = sql.trim().trim_end_matches(';').trim_end().to_owned();
            return Ok(Plan::new(
                StatementKind::Session,
                Route::Set {
                    vars: vec![crate::SessionVar {
                        name: sql.to_ascii_lowercase(),
                        sql,
                        computed: false,
                    }],
                    autocommit: None,
                    globals: false,
                },
            ));
        }
        // `SET @a := …`, `SET @s = _latin1 0x…`: user variables only, assigned by MariaDB on
        // the default shard and kept by the values they got (`Session::set` reads them back).
        "set" => {
            if let Some(vars) = tokens
                .as_deref()
                .ok()
                .and_then(|t| user_variable_set(t, sql))
            {
                return Ok(Plan::new(
                    StatementKind::Session,
                    Route::Set {
                        vars,
                        autocommit: None,
                        globals: false,
                    },
                ));
            }
            return Err(RouteError::NotSupported(format!(
                "`{}` is not supported by shardgate",
                sql.trim().trim_end_matches(';').trim_end()
            )));
        }
        _ => {}
    }
    // `START TRANSACTION WITH CONSISTENT SNAPSHOT`, which the parser does not know: a
    // transaction all the same (its text is replayed when the transaction opens).
    if words.len() >= 2
        && words[0].eq_ignore_ascii_case("start")
        && words[1].eq_ignore_ascii_case("transaction")
    {
        return Ok(txn(TxnCommand::Begin));
    }
    // Only one statement may be a read: `SELECT 1; DELETE …` writes.
    let one_statement = tokens.is_ok_and(|tokens| {
        !tokens
            .iter()
            .skip_while(|t| **t != Token::SemiColon)
            .any(|t| !matches!(t, Token::SemiColon | Token::Whitespace(_) | Token::EOF))
    });
    let first_word = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    let kind = if one_statement
        && ["select", "show", "describe", "desc", "explain"]
            .iter()
            .any(|w| first_word.eq_ignore_ascii_case(w))
    {
        StatementKind::Read
    } else {
        StatementKind::Write
    };
    Ok(Plan::new(kind, Route::Shard(topology.default_shard)))
}

/// The user variables a `SET` assigns, when it assigns nothing else (each top-level item
/// starts with `@name =` or `@name :=`).
fn user_variable_set(tokens: &[Token], sql: &str) -> Option<Vec<crate::SessionVar>> {
    let tokens: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF | Token::SemiColon))
        .collect();
    let mut vars = Vec::new();
    let mut depth = 0usize;
    let mut at_item = true;
    for (i, token) in tokens.iter().enumerate().skip(1) {
        if at_item {
            let Token::Word(w) = token else { return None };
            if !w.value.starts_with('@') || w.value.starts_with("@@") {
                return None;
            }
            if !matches!(tokens.get(i + 1), Some(Token::Eq | Token::Assignment)) {
                return None;
            }
            vars.push(crate::SessionVar {
                name: w.value.to_ascii_lowercase(),
                sql: sql.trim().trim_end_matches(';').trim_end().to_owned(),
                computed: true,
            });
            at_item = false;
            continue;
        }
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => at_item = true,
            _ => {}
        }
    }
    (!vars.is_empty() && !at_item).then_some(vars)
}

/// Plans one parsed statement.
pub fn plan_statement(stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    match stmt {
        Statement::Query(q) => plan_query(q, stmt, topology),
        Statement::Insert(ins) => plan_insert(ins, stmt, topology),
        Statement::Update(u) => plan_update(u, stmt, topology),
        Statement::Delete(d) => plan_delete(d, stmt, topology),
        Statement::Set(set) => {
            // SET runs on the default shard: a value read from a sharded table would be read
            // from that shard's rows only.
            if let Some(table) = sharded_relations(stmt, topology).first() {
                return Err(RouteError::Unsupported {
                    construct: "a subquery in SET".into(),
                    table: topology
                        .table(table)
                        .map_or_else(|| table.clone(), |r| r.name.clone()),
                });
            }
            session::plan_set(set)
        }
        Statement::Use(u) => match u {
            Use::Database(name) | Use::Schema(name) | Use::Object(name) => Ok(Plan::new(
                StatementKind::Session,
                Route::Use(base_name_raw(name).unwrap_or_default()),
            )),
            other => Err(RouteError::NotSupported(format!(
                "`{other}` is not supported by shardgate"
            ))),
        },
        Statement::StartTransaction { .. } => Ok(txn(TxnCommand::Begin)),
        Statement::Commit { chain: true, .. } | Statement::Rollback { chain: true, .. } => {
            Err(RouteError::NotSupported(
                "COMMIT/ROLLBACK AND CHAIN is not supported by shardgate; end the transaction and BEGIN again".into(),
            ))
        }
        Statement::CreateTable(ct) if ct.temporary => {
            connection_state::plan_temporary_table(ct, stmt, topology)
        }
        Statement::UnlockTables => Ok(connection_state::plan_unlock_tables(topology)),
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            temporary,
            ..
        } => {
            let mut plan = match temporary {
                // Only temporary tables: the session's, on the default shard.
                true => Plan::new(StatementKind::Write, Route::Shard(topology.default_shard)),
                false => plan_ddl(stmt, topology)?,
            };
            let names = names.iter().filter_map(base_name).collect();
            plan.connection_state = Some(ConnectionState::DropsTables(names));
            Ok(plan)
        }
        Statement::Prepare { .. } | Statement::Execute { .. } | Statement::Deallocate { .. } => {
            Err(crate::sql_prepare::not_planned())
        }
        // Planned on their own (`administrative`); here only inside a multi-statement text.
        Statement::Kill { .. }
        | Statement::Grant(_)
        | Statement::Revoke(_)
        | Statement::CreateUser(_)
        | Statement::AlterUser(_)
        | Statement::CreateRole(_) => Err(RouteError::NotSupported(
            "KILL and account management through shardgate must be statements of their own, not part of a multi-statement text".into(),
        )),
        Statement::Commit { .. } => Ok(txn(TxnCommand::Commit)),
        Statement::Rollback {
            savepoint: None, ..
        } => Ok(txn(TxnCommand::Rollback)),
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => Ok(txn(TxnCommand::RollbackTo(name.value.clone()))),
        Statement::Savepoint { name } => Ok(txn(TxnCommand::Savepoint(name.value.clone()))),
        Statement::ReleaseSavepoint { name } => {
            Ok(txn(TxnCommand::Release(name.value.clone())))
        }
        Statement::CreateDatabase { .. } | Statement::CreateSchema { .. } => {
            Ok(Plan::new(StatementKind::Ddl, Route::AllShards))
        }
        Statement::Drop {
            object_type: ObjectType::Schema | ObjectType::Database,
            ..
        } => Ok(Plan::new(StatementKind::Ddl, Route::AllShards)),
        Statement::CreateTable(_)
        | Statement::AlterTable(_)
        | Statement::Drop { .. }
        | Statement::Truncate(_)
        | Statement::CreateIndex(_)
        | Statement::RenameTable(_)
        | Statement::CreateView(_) => plan_ddl(stmt, topology),
        other => plan_other(other, topology),
    }
}

/// Statements that leave state on the backend connection beyond the session variables the
/// proxy tracks: a pooled connection would carry it to another client.
fn connection_state(what: &str) -> RouteError {
    RouteError::NotSupported(format!(
        "{what} is not supported by shardgate: it would leave state on a pooled backend connection"
    ))
}

fn txn(cmd: TxnCommand) -> Plan {
    Plan::new(StatementKind::Transaction, Route::Transaction(cmd))
}

fn base_name_raw(name: &ObjectName) -> Option<String> {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|id| id.value.clone())
}

/// Sharded tables a statement mentions anywhere (including subqueries), lower-cased, in order.
pub(crate) fn sharded_relations(stmt: &Statement, topology: &Topology) -> Vec<String> {
    let mut found = Vec::new();
    let _ = sqlparser::ast::visit_relations(stmt, |name| {
        if let Some(table) = base_name(name).filter(|t| topology.table(t).is_some()) {
            found.push(table);
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

fn has_unsharded_relation(stmt: &Statement, topology: &Topology) -> Option<String> {
    let mut found = None;
    let _ = sqlparser::ast::visit_relations(stmt, |name| match base_name(name) {
        // `dual` is no table, and reference tables are on every shard.
        Some(t) if t != "dual" && topology.table(&t).is_none() && !topology.is_reference(&t) => {
            found = Some(t);
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    });
    found
}

fn plan_ddl(stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    let mut names: Vec<&ObjectName> = Vec::new();
    match stmt {
        Statement::CreateTable(ct) => names.push(&ct.name),
        Statement::AlterTable(at) => names.push(&at.name),
        // `DROP INDEX i ON t` names the index; the table is what places it.
        Statement::Drop { table: Some(t), .. } => names.push(t),
        Statement::Drop { names: n, .. } => names.extend(n),
        Statement::CreateIndex(ci) => names.push(&ci.table_name),
        Statement::RenameTable(r) => {
            names.extend(r.iter().flat_map(|r| [&r.old_name, &r.new_name]))
        }
        _ => {}
    }
    // Sharded and reference tables both exist on every shard.
    let everywhere = |t: &String| topology.table(t).is_some() || topology.is_reference(t);
    let mut sharded: Vec<String> = names
        .iter()
        .filter_map(|n| base_name(n))
        .filter(everywhere)
        .collect();
    sharded.extend(sharded_relations(stmt, topology));
    let unsharded = names
        .iter()
        .filter_map(|n| base_name(n))
        .find(|t| !everywhere(t))
        .or_else(|| has_unsharded_relation(stmt, topology));
    match (sharded.first(), unsharded) {
        (None, _) => Ok(Plan::new(StatementKind::Ddl, Route::Shard(topology.default_shard))),
        (Some(_), None) => Ok(Plan::new(StatementKind::Ddl, Route::AllShards)),
        (Some(s), Some(u)) => Err(RouteError::NotSupported(format!(
            "DDL naming both sharded table `{s}` and unsharded table `{u}` is not supported by shardgate; run it per table"
        ))),
    }
}

fn plan_other(stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    let read = matches!(
        stmt,
        Statement::ShowVariable { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowCollation { .. }
            | Statement::ExplainTable { .. }
            | Statement::Explain { .. }
    );
    let sharded = sharded_relations(stmt, topology);
    if let Some(table) = sharded.first() {
        // SHOW COLUMNS / DESCRIBE / SHOW CREATE of a sharded table: every shard has the same one.
        if read && !matches!(stmt, Statement::Explain { .. }) {
            return Ok(Plan::new(
                StatementKind::Read,
                Route::Shard(topology.default_shard),
            ));
        }
        if let Statement::Explain { statement, .. } = stmt {
            let inner = plan_statement(statement, topology)?;
            return Ok(Plan::new(StatementKind::Read, inner.route));
        }
        let construct = stmt
            .to_string()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        return Err(RouteError::Unsupported {
            construct,
            table: topology
                .table(table)
                .map_or_else(|| table.clone(), |r| r.name.clone()),
        });
    }
    let kind = if read {
        StatementKind::Read
    } else {
        StatementKind::Write
    };
    Ok(Plan::new(kind, Route::Shard(topology.default_shard)))
}

/// The sharded tables in a FROM list (with joins), as `TableRef`s, and the number of tables in it.
fn from_tables<'t>(from: &[TableWithJoins], topology: &'t Topology) -> (Vec<TableRef<'t>>, usize) {
    let mut refs = Vec::new();
    let mut count = 0;
    let factors = from.iter().flat_map(|twj| {
        std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation))
    });
    for factor in factors {
        count += 1;
        if let TableFactor::Table { name, alias, .. } = factor {
            if let Some(rule) = base_name(name).and_then(|t| topology.table(&t)) {
                refs.push(TableRef {
                    rule,
                    name: base_name(name).unwrap_or_default(),
                    alias: alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
                });
            }
        }
    }
    (refs, count)
}

/// Routes a statement by the shard keys of its sharded tables. One table constrained by
/// `selection` (the point statement) is routed here; joins, subqueries, derived tables, CTEs
/// and set operations by every sharded reference in them (`pushdown`).
fn route_by_where(
    verb: &'static str,
    kind: StatementKind,
    stmt: &Statement,
    from: &[TableWithJoins],
    selection: Option<&Expr>,
    topology: &Topology,
) -> Result<Plan, RouteError> {
    let mentioned = sharded_relations(stmt, topology);
    if mentioned.is_empty() {
        return Ok(Plan::new(kind, Route::Shard(topology.default_shard)));
    }
    let (tables, count) = from_tables(from, topology);
    let [table] = tables.as_slice() else {
        return crate::pushdown::plan(stmt, verb, kind, None, topology);
    };
    if count != 1 || mentioned.len() != 1 {
        return crate::pushdown::plan(stmt, verb, kind, None, topology);
    }
    let name = || table.rule.name.to_ascii_lowercase();
    let constraint =
        constraint_in_where(selection, table, true)?.ok_or_else(|| RouteError::NoShardKey {
            verb,
            table: table.rule.name.clone(),
            key: table.rule.shard_key.clone(),
        })?;
    // A name that is no sharded or reference table may be a CTE's: the walk tells them apart.
    let unsharded = || has_unsharded_relation(stmt, topology);
    let shards = match constraint {
        Constraint::Shards(shards) => shards,
        Constraint::Deferred(_) if unsharded().is_some() => {
            return crate::pushdown::plan(stmt, verb, kind, None, topology)
        }
        Constraint::Deferred(keys) => {
            let mut plan = Plan::new(
                kind,
                Route::Deferred(DeferredRoute {
                    verb,
                    keys: keys.into_iter().map(|k| (name(), k)).collect(),
                    fixed: None,
                    unsharded: None,
                }),
            );
            plan.table = Some(name().into());
            return Ok(plan);
        }
    };
    let shard = match shards.len() {
        // Contradictory conditions (`id = 1 AND id = 2`): no row matches; any shard answers that.
        0 => topology.default_shard,
        1 => *shards.first().expect("one shard"),
        _ => {
            return Err(RouteError::KeySpansShards {
                verb,
                table: table.rule.name.clone(),
                key: table.rule.shard_key.clone(),
                shards: shard_names(topology, &shards),
            })
        }
    };
    if shard != topology.default_shard && unsharded().is_some() {
        return crate::pushdown::plan(stmt, verb, kind, None, topology);
    }
    let mut plan = Plan::new(kind, Route::Shard(shard));
    plan.table = Some(name().into());
    Ok(plan)
}

fn plan_query(q: &Query, stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    let kind = if matches!(
        q.body.as_ref(),
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_)
    ) {
        // `WITH … UPDATE …`
        StatementKind::Write
    } else if q.locks.is_empty() {
        StatementKind::Read
    } else {
        StatementKind::LockingRead
    };
    match q.body.as_ref() {
        SetExpr::Select(select) => {
            if select.from.is_empty() && sharded_relations(stmt, topology).is_empty() {
                let mut plan = Plan::new(kind, Route::Shard(topology.default_shard));
                plan.rewritten = hide_socket(stmt);
                return Ok(plan);
            }
            route_by_where(
                "SELECT",
                kind,
                stmt,
                &select.from,
                select.selection.as_ref(),
                topology,
            )
        }
        _ => route_by_where("SELECT", kind, stmt, &[], None, topology),
    }
}

/// `SELECT @@socket` must not hand a backend's Unix socket path to a client, which would then
/// connect to the backend directly (mysql_async does). Rewrites it to NULL under the same name.
fn hide_socket(stmt: &Statement) -> Option<String> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    let is_socket = |e: &Expr| match e {
        Expr::Identifier(id) => {
            let v = id.value.to_ascii_lowercase();
            v == "@@socket" || v == "@@global.socket" || v == "@@session.socket"
        }
        Expr::CompoundIdentifier(parts) => {
            parts
                .last()
                .is_some_and(|p| p.value.eq_ignore_ascii_case("socket"))
                && parts.first().is_some_and(|p| p.value.starts_with("@@"))
        }
        _ => false,
    };
    if !select.projection.iter().any(|item| matches!(item, SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } if is_socket(e))) {
        return None;
    }
    let mut rewritten = stmt.clone();
    if let Statement::Query(q) = &mut rewritten {
        if let SetExpr::Select(select) = q.body.as_mut() {
            for item in &mut select.projection {
                let replacement = match item {
                    SelectItem::UnnamedExpr(e) if is_socket(e) => {
                        Some((e.to_string(), Ident::with_quote('`', e.to_string())))
                    }
                    SelectItem::ExprWithAlias { expr, alias } if is_socket(expr) => {
                        Some((expr.to_string(), alias.clone()))
                    }
                    _ => None,
                };
                if let Some((_, alias)) = replacement {
                    *item = SelectItem::ExprWithAlias {
                        expr: Expr::value(sqlparser::ast::Value::Null),
                        alias,
                    };
                }
            }
        }
    }
    Some(rewritten.to_string())
}

/// A write to reference table `name`: the same statement on every shard, all or nothing.
/// Reading a sharded table in it would see one shard's rows only: refused.
fn reference_write(
    name: &ObjectName,
    stmt: &Statement,
    topology: &Topology,
) -> Result<Option<Plan>, RouteError> {
    let Some(table) = base_name(name).filter(|t| topology.is_reference(t)) else {
        return Ok(None);
    };
    if let Some(read) = sharded_relations(stmt, topology).first() {
        return Err(RouteError::Unsupported {
            construct: format!("writing reference table `{table}` from"),
            table: topology
                .table(read)
                .map_or_else(|| read.clone(), |r| r.name.clone()),
        });
    }
    let all = (0..topology.shards.len()).collect();
    Ok(Some(Plan::new(StatementKind::Write, Route::Copies(all))))
}

fn plan_insert(ins: &Insert, stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
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
    let table = TableRef {
        rule,
        name: rule.name.to_ascii_lowercase(),
        alias: None,
    };
    let is_key = |n: &ObjectName| base_name(n).is_some_and(|c| c == rule.shard_key);
    if let Some(OnInsert::DuplicateKeyUpdate(assignments)) = &ins.on {
        if assignments
            .iter()
            .any(|a| matches!(&a.target, AssignmentTarget::ColumnName(n) if is_key(n)))
        {
            return Err(RouteError::ShardKeyUpdate {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
            });
        }
    }
    let non_literal = || {
        RouteError::NotSupported(format!(
            "cannot route INSERT into sharded table `{}`: the shard key `{}` must be given as a literal value or a parameter",
            rule.name, rule.shard_key
        ))
    };
    let mut keys: Vec<KeySource> = Vec::new();
    if ins.columns.is_empty() && !ins.assignments.is_empty() {
        // INSERT … SET col = value
        let value = ins
            .assignments
            .iter()
            .find(|a| matches!(&a.target, AssignmentTarget::ColumnName(n) if is_key(n)))
            .map(|a| &a.value)
            .ok_or_else(|| RouteError::InsertWithoutKey {
                table: rule.name.clone(),
                key: rule.shard_key.clone(),
            })?;
        keys.push(key_source(value).ok_or_else(non_literal)?);
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
        let pos =
            ins.columns
                .iter()
                .position(is_key)
                .ok_or_else(|| RouteError::InsertWithoutKey {
                    table: rule.name.clone(),
                    key: rule.shard_key.clone(),
                })?;
        for row in rows {
            keys.push(
                row.content
                    .get(pos)
                    .and_then(key_source)
                    .ok_or_else(non_literal)?,
            );
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
            return Err(RouteError::InsertSpansShards {
                table: rule.name.clone(),
                shards: shard_names(topology, &shards),
            })
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

fn plan_update(u: &Update, stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    if let TableFactor::Table { name, .. } = &u.table.relation {
        if u.table.joins.is_empty() {
            if let Some(plan) = reference_write(name, stmt, topology)? {
                return Ok(plan);
            }
        }
    }

    let (tables, _) = from_tables(std::slice::from_ref(&u.table), topology);
    for t in &tables {
        let sets_key = u.assignments.iter().any(|a| match &a.target {
            AssignmentTarget::ColumnName(n) => {
                base_name(n).is_some_and(|c| c == t.rule.shard_key)
                    && (n.0.len() == 1
                        || n.0
                            .iter()
                            .rev()
                            .nth(1)
                            .and_then(|p| p.as_ident())
                            .is_some_and(|q| {
                                q.value
                                    .eq_ignore_ascii_case(t.alias.as_deref().unwrap_or(&t.name))
                            }))
            }
            AssignmentTarget::Tuple(_) => true,
        });
        if sets_key {
            return Err(RouteError::ShardKeyUpdate {
                table: t.rule.name.clone(),
                key: t.rule.shard_key.clone(),
            });
        }
    }
    route_by_where(
        "UPDATE",
        StatementKind::Write,
        stmt,
        std::slice::from_ref(&u.table),
        u.selection.as_ref(),
        topology,
    )
}

fn plan_delete(d: &Delete, stmt: &Statement, topology: &Topology) -> Result<Plan, RouteError> {
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
    if let [only] = from.as_slice() {
        if let TableFactor::Table { name, .. } = &only.relation {
            if only.joins.is_empty() && d.using.is_none() {
                if let Some(plan) = reference_write(name, stmt, topology)? {
                    return Ok(plan);
                }
            }
        }
    }

    let from = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    let mut all: Vec<TableWithJoins> = from.clone();
    if let Some(using) = &d.using {
        all.extend(using.iter().cloned());
    }
    route_by_where(
        "DELETE",
        StatementKind::Write,
        stmt,
        &all,
        d.selection.as_ref(),
        topology,
    )
}
