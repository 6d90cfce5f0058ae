//! Builds the [`Plan`] for a statement.
//!
//! Here: the text's way in (`plan_sql`: comments, multi-statement texts, large statements on a
//! bigger stack, placeholders); then one file per statement kind (`select.rs`, `insert.rs`,
//! `write.rs`, `ddl.rs`, `statement.rs` for the rest), `relations.rs` for the tables a
//! statement names and `unparsed.rs` for text the parser does not read.

mod ddl;
mod insert;
mod relations;
mod select;
mod statement;
mod unparsed;
mod write;

use self::{ddl::*, insert::*, relations::*, select::*, statement::*, unparsed::*, write::*};
pub(crate) use relations::sharded_relations;
pub use statement::plan_statement;

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
        // Its statement's views read as their definitions, under the same variables.
        check_views(&sql[inner..], syntax, topology).map_err(|e| match e {
            RouteError::ReadsViews(text) => {
                RouteError::ReadsViews(format!("{}{text}", &sql[..inner]))
            }
            e => e,
        })?;
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
    check_views(sql, syntax, topology)?;
    if let Some(plan) = crate::maintenance::plan_maintenance(sql, syntax, topology) {
        return plan;
    }
    if let Some(plan) = crate::transaction_end::plan_transaction_end(sql) {
        return plan;
    }
    if starts_with_word(sql, &["create", "alter", "drop"]) {
        if let Some(plan) = crate::stored_program::plan(sql, syntax, topology) {
            return plan;
        }
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
    let planned = plan_large_or_small(sql, topology, syntax);
    if let Some(request) = crate::assigning_select::across_shards(sql, syntax, topology, &planned) {
        return Err(match request {
            Ok(request) => RouteError::AssigningSelect(Box::new(request)),
            Err(needed) => needed,
        });
    }
    let mut plan = planned?;
    // Another dialect's transaction statement: MariaDB's syntax error, from the default shard.
    if matches!(plan.route, Route::Transaction(_))
        && !crate::foreign_syntax::is_mariadb_transaction(sql, syntax)
    {
        return Ok(Plan::new(
            StatementKind::Read,
            Route::Shard(topology.default_shard),
        ));
    }
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
            "assigning user variables inside a statement (`@v := …`, `INTO @v`) that runs on several shards is not supported by shardgate in this form: each shard would assign its own value (the proxy assigns whole `@v := …` items of the outer select list whose variables the statement does not read, without DISTINCT, window functions, WITH ROLLUP, OFFSET or HAVING over groups)".into(),
        ));
    }
    let insert = || crate::starts_insert(sql.as_bytes(), syntax);
    if crate::seeded_rand::splits_sequences(&plan.route, insert)
        && crate::seeded_rand::holds(sql, syntax)
    {
        return Err(crate::seeded_rand::refusal());
    }
    let plan = crate::rownum::numbered_once(plan, sql, syntax, topology)?;
    // The proxy reads the conditions of these routes (merges, pruning, each side's or copy's
    // filter it writes): by sqlparser's precedence, not the session's.
    if syntax.sql_mode.contains(SqlMode::HIGH_NOT_PRECEDENCE)
        && matches!(
            plan.route,
            Route::Scatter(_) | Route::SetOperation(_) | Route::Materialize(_) | Route::Join(_)
        )
        && crate::lex::tokenize(sql, syntax, true).is_ok_and(|t| crate::lex::has_prefix_not(&t))
    {
        return Err(RouteError::NotSupported(
            "a prefix NOT under sql_mode HIGH_NOT_PRECEDENCE (which makes `NOT a = 1` mean `(NOT a) = 1`) in a statement the proxy runs across shards (merged, joined or over copies) is not supported by shardgate".into(),
        ));
    }
    Ok(plan)
}

/// Whether the text is a `CREATE` or `ALTER` statement (of a routine, view, trigger, event: its
/// body runs later, on the server).
fn defines_stored_code(sql: &str) -> bool {
    starts_with_word(sql, &["create", "alter"])
}

/// Whether the text's first word is one of `words` (lower-case).
fn starts_with_word(sql: &str, words: &[&str]) -> bool {
    let head = sql.trim_start();
    words.iter().any(|w| {
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

/// The views check (`views.rs`), which parses the text: on the stack planning gets (one too
/// deep to plan is refused by planning).
fn check_views(sql: &str, syntax: Syntax, topology: &Topology) -> Result<(), RouteError> {
    if topology.schema.views.known() == shardgate_schema::ViewsKnown::None {
        return Ok(());
    }
    on_planning_stack(sql, syntax, || crate::views::check(sql, syntax, topology)).unwrap_or(Ok(()))
}

fn plan_large_or_small(sql: &str, topology: &Topology, syntax: Syntax) -> Result<Plan, RouteError> {
    on_planning_stack(sql, syntax, || plan_text(sql, topology, syntax)).unwrap_or_else(
        |operators| {
            Err(RouteError::TooComplex {
                operators,
                limit: MAX_CHAINED_OPERATORS,
            })
        },
    )
}

/// `read(sql)`, which parses it: a large statement on a stack sized for the deepest one
/// planned, `Err` with its operator count when it chains more than that.
fn on_planning_stack<T>(sql: &str, syntax: Syntax, read: impl FnOnce() -> T) -> Result<T, usize> {
    if sql.len() <= LARGE_STATEMENT {
        return Ok(read());
    }
    // Parsing, walking and dropping a syntax tree recurse once per nesting level, and a flat
    // chain `a AND b AND …` nests once per term: bound the chain, and parse on a stack sized
    // for that bound, so no statement can overflow the thread's stack.
    let operators = chaining_operators(sql, syntax);
    if operators > MAX_CHAINED_OPERATORS {
        return Err(operators);
    }
    Ok(stacker::grow(LARGE_STATEMENT_STACK, read))
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
            if let Some(head) = crate::text::without_trailing_lock_in_share_mode(sql, syntax) {
                match plan_text(head, topology, syntax) {
                    Ok(Plan {
                        route: Route::Materialize(_) | Route::Join(_),
                        ..
                    }) => return Err(crate::scatter::locking_read_refused()),
                    Ok(mut plan) if plan.kind == StatementKind::Read => {
                        if let Route::Scatter(scatter) = &mut plan.route {
                            // Every shard's statement locks what it reads.
                            for sql in
                                std::iter::once(&mut scatter.sql).chain(&mut scatter.shard_sql)
                            {
                                // On a line of its own: a `-- comment` ending the text
                                // must not swallow it.
                                sql.push_str("\nLOCK IN SHARE MODE");
                            }
                            scatter.locking = true;
                        }
                        plan.kind = StatementKind::LockingRead;
                        plan.rewritten = None;
                        return Ok(plan);
                    }
                    // The statement parses but cannot be routed: say why, not "cannot parse".
                    Err(e) if !matches!(e, RouteError::Unparsed { .. }) => return Err(e),
                    _ => {}
                }
            }
            // `GROUP BY a DESC WITH ROLLUP`, whose directions the parser does not read: on the
            // one shard the text without them is routed to, sent as written; over several
            // (where the merge would order the groups and their rollup rows ascending) as
            // written over copies of its tables, planned by that text too.
            if let Some(plain) = crate::group_by_direction::without_rollup_directions(sql, syntax) {
                return match plan_text(&plain, topology, syntax) {
                    Ok(mut plan)
                        if plan.kind == StatementKind::Read
                            && matches!(plan.route, Route::Shard(_) | Route::Deferred(_)) =>
                    {
                        plan.rewritten = None;
                        Ok(plan)
                    }
                    Ok(plan) if plan.kind == StatementKind::Read => {
                        match crate::exact_fallback::materialized(&plain, syntax, topology) {
                            // Its derived tables' rows and other rewrites are the plain text's.
                            Some(copies) => Ok(Plan::new(
                                StatementKind::Read,
                                Route::Materialize(Box::new(crate::MaterializePlan {
                                    over_derived: None,
                                    ..copies
                                })),
                            )),
                            None => Err(RouteError::NotSupported(
                                "GROUP BY … ASC / DESC WITH ROLLUP over several shards is not supported by shardgate here: add a shard key condition".into(),
                            )),
                        }
                    }
                    Ok(_) => Err(RouteError::NotSupported(
                        "GROUP BY … ASC / DESC WITH ROLLUP outside a SELECT is not supported by shardgate".into(),
                    )),
                    Err(e) => Err(e),
                };
            }
            // `… INTO @a, @b` after the rest of the SELECT, which the parser does not read:
            // planned by the rest; the whole text runs on one shard (the session reads the
            // variables back, `Plan::assigns`), or the rest first, through the proxy.
            if let Some(head) = crate::text::without_trailing_into(sql, syntax) {
                match plan_text(head, topology, syntax) {
                    Ok(mut plan)
                        if plan.kind == StatementKind::Read
                            && matches!(plan.route, Route::Shard(_) | Route::Deferred(_)) =>
                    {
                        plan.rewritten = None;
                        return Ok(plan);
                    }
                    Err(
                        e @ (RouteError::SchemaNeeded { .. } | RouteError::SchemaDisagrees { .. }),
                    ) => return Err(e),
                    Err(RouteError::Unparsed { .. }) => {}
                    Ok(plan) if plan.kind != StatementKind::Read => {}
                    _ => {
                        let vars = crate::text::assigned_user_variables(&sql[head.len()..], syntax);
                        let select = head.trim_end().to_owned();
                        return Err(RouteError::IntoVariables(Box::new(
                            crate::IntoVariables::new(select, vars, syntax),
                        )));
                    }
                }
            }
            return unparsed(sql, topology, syntax, e.to_string());
        }
    };
    // Another dialect's LIMIT: MariaDB's syntax error, from the default shard.
    if crate::foreign_syntax::has_foreign_limit(&statements, sql, syntax) {
        return Ok(Plan::new(
            StatementKind::Read,
            Route::Shard(topology.default_shard),
        ));
    }
    let mut statements = statements;
    if sql.contains('?') {
        number_placeholders(&mut statements, sql, syntax);
    }
    if let [Statement::CreateTable(ct)] = statements.as_slice() {
        crate::create_from_select::check(ct, sql, syntax, topology)?;
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
            // A shard-key UPDATE: routed as if it kept its keys, then its rows moved.
            Err(RouteError::ShardKeyUpdate { .. }) if matches!(&statements[0], Statement::Update(u) if crate::moving_update::single_table(u)) =>
            {
                let Statement::Update(u) = &statements[0] else {
                    unreachable!()
                };
                let routed = match plan_update_rows(u, &statements[0], topology) {
                    Err(
                        e @ (RouteError::NoShardKey { .. } | RouteError::KeySpansShards { .. }),
                    ) => crate::scatter::plan_without_shard_key(
                        sql,
                        syntax,
                        &statements[0],
                        topology,
                        e,
                    ),
                    other => other,
                };
                crate::moving_update::plan(sql, syntax, &statements[0], topology, routed)
                    .unwrap_or(first)
            }
            // A new table of the default shard from a SELECT across shards: created, then
            // filled by rows.
            Err(e @ RouteError::NotSupported(_))
                if matches!(statements[0], Statement::CreateTable(_)) =>
            {
                let Statement::CreateTable(ct) = &statements[0] else {
                    unreachable!()
                };
                Err(
                    crate::create_from_select::request(ct, sql, syntax, topology)
                        .map_or(e, |r| RouteError::CreateFromSelect(Box::new(r))),
                )
            }
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
            // A SELECT over one derived table: scattered when its rows partition over the
            // shards (the error stands otherwise).
            Err(e)
                if !matches!(e, RouteError::SchemaNeeded { .. })
                    && crate::scatter::selects_from_derived(&statements[0]) =>
            {
                crate::scatter::plan_without_shard_key(sql, syntax, &statements[0], topology, e)
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
        // Refused SELECTs over sharded tables: answered from copies on one connection, or
        // joined in the proxy; what would be copies goes after its subqueries when they are
        // what kept it from a plan (a write: whenever they are).
        let is_select = matches!(statements[0], Statement::Query(_));
        let subqueries_first = |e| {
            let e = crate::write_subqueries::first(sql, syntax, &statements[0], topology, e);
            crate::key_expression::first(sql, syntax, &statements[0], topology, e)
        };
        let planned = planned
            .map_err(|e| if is_select { e } else { subqueries_first(e) })
            .or_else(|e| crate::materialize::fallback(sql, syntax, &statements[0], topology, e))
            .map(|plan| crate::join_plan::prefer(sql, syntax, topology, plan))
            .and_then(|plan| match plan.route {
                Route::Materialize(_) if is_select => {
                    match subqueries_first(RouteError::NotSupported(String::new())) {
                        e @ RouteError::SubqueriesFirst(_) => Err(e),
                        _ => Ok(plan),
                    }
                }
                _ => Ok(plan),
            });
        // A SELECT … INTO @v no shard answers alone: its SELECT first, through the proxy.
        let planned = planned.map_err(|e| match e {
            RouteError::SchemaNeeded { .. } | RouteError::SchemaDisagrees { .. } => e,
            e if is_select => crate::select_into::request(sql, syntax, &statements[0])
                .map_or(e, |r| RouteError::IntoVariables(Box::new(r))),
            e => e,
        });
        let mut plan = planned?;
        plan.uses_tables = uses_tables;
        if let Statement::Insert(ins) = &statements[0] {
            plan.gives_ids = crate::given_ids::may_give(ins, topology);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefix NOT whose meaning HIGH_NOT_PRECEDENCE changes is refused on every route whose
    /// conditions the proxy reads, and runs where its meaning is the same or a server reads it.
    #[test]
    fn high_not_precedence_refuses_what_the_proxy_would_read_otherwise() {
        let topology = crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"id\"\nstrategy = \"hash_mod\"\n",
        );
        let syntax = Syntax {
            sql_mode: SqlMode::parse("STRICT_TRANS_TABLES,HIGH_NOT_PRECEDENCE"),
            ..Syntax::DEFAULT
        };
        let plan = |sql: &str| plan_sql(sql, &topology, syntax);
        for refused in [
            "SELECT id FROM users WHERE NOT name = 'x'",
            "SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id WHERE NOT o.note = 'x'",
            "SELECT id FROM users WHERE NOT name = 'x' UNION SELECT id FROM orders",
        ] {
            let e = plan(refused).unwrap_err().to_string();
            assert!(e.contains("HIGH_NOT_PRECEDENCE"), "{refused}: {e}");
        }
        for runs in [
            "SELECT id FROM users WHERE id = 7 AND NOT name = 'x'",
            "SELECT id FROM users WHERE NOT (name = 'x') AND id > 2 ORDER BY id",
            "UPDATE users SET name = 'y' WHERE NOT name = 'x'",
        ] {
            assert!(plan(runs).is_ok(), "{runs}: {:?}", plan(runs));
        }
    }
}
