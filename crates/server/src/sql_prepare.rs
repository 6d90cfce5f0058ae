//! SQL-level prepared statements. A statement that runs whole on the default shard, as
//! written (`router::prepared_on_server`: every statement of an unsharded topology, and those
//! on unsharded tables), is prepared by that shard's server itself, on a connection the
//! session keeps (`Pins::prepared_statements`) until it is deallocated: its PREPARE, EXECUTE
//! and DEALLOCATE go there as the client wrote them, so MariaDB parses it at PREPARE (under
//! that time's `sql_mode`, with its warnings), re-prepares it after DDL, and a stored procedure
//! may `EXECUTE` it. Any other statement is run by the proxy (Vitess does the same), so that no
//! backend connection keeps it and none has to be pinned to the session:
//!
//! - `PREPARE name FROM 'text' | expression` keeps the text in the session, once the default
//!   shard's server has prepared it (and closed it again): a statement it refuses gets the
//!   server's own error. An expression (`@var`, `CONCAT(…)`) is evaluated on a connection
//!   holding the session's variables.
//! - `EXECUTE name [USING value, …]` writes the values in for the text's `?` (user variables
//!   by reference, which every connection has; literals as written) and runs the result as a
//!   text statement, so a shard key in it routes it to one shard. There the server itself runs
//!   it as `EXECUTE IMMEDIATE 'text' USING …`, so the answer is the server's own (a `?` in the
//!   select list is a column named `?`).
//! - `EXECUTE IMMEDIATE`, `DEALLOCATE PREPARE` / `DROP PREPARE` likewise.
//!
//! A `SET` (of session values) is run by the session, which keeps the variables; the default
//! shard's server prepares it as well, on the kept connection, so that a stored procedure
//! that `EXECUTE`s it finds it there.
//!
//! Names are case-insensitive; COM_RESET_CONNECTION and COM_CHANGE_USER drop them all.

use std::collections::HashMap;

use shardgate_backend::{BackendConn, BackendError, QueryHead};
use shardgate_protocol::response::Finish;
use shardgate_protocol::{interpolate, Command, ProtocolError, ServerErr};
use shardgate_router::{
    prepared_on_server, sql_prepared_statement, Plan, PrepareSource, Route, RouteError, SqlMode,
    SqlPrepared, StatementKind, StatementName,
};
use shardgate_wire::packets::{self, OkInfo};

use crate::errors::ClientError;
use crate::executor::Work;
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};
use crate::state::expect_ok;

/// A statement `PREPARE` named: its text and the offsets of its `?` placeholders.
#[derive(Debug)]
struct NamedStatement {
    text: String,
    placeholders: Vec<usize>,
    /// The default shard's server prepared it under its name, on the connection the session
    /// keeps there while `Pins::prepared_statements` has the name.
    on_server: bool,
}

/// The session's SQL-level prepared statements, by lower-cased name.
#[derive(Debug, Default)]
pub(crate) struct NamedStatements(HashMap<String, NamedStatement>);

impl NamedStatements {
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

impl Session {
    /// Runs `PREPARE`, `EXECUTE`, `EXECUTE IMMEDIATE` or `DEALLOCATE PREPARE` (its text `arg`).
    pub(crate) async fn sql_prepared(
        &mut self,
        runtime: &Runtime,
        statement: SqlPrepared,
        arg: &[u8],
    ) -> Step {
        self.sql_prepared_under(runtime, statement, arg, "").await
    }

    /// `SET STATEMENT var = value … FOR <statement>`, the statement starting at byte `inner` of
    /// `sql` being one the session runs itself: an `EXECUTE` runs its statement with the same
    /// `SET STATEMENT … FOR` in front, so the variables hold for it, as on MariaDB.
    pub(crate) async fn sql_prepared_under_set_statement(
        &mut self,
        runtime: &Runtime,
        sql: &str,
        inner: usize,
    ) -> Step {
        let (prefix, body) = sql.split_at(inner);
        match sql_prepared_statement(body, self.syntax) {
            Some(
                statement @ (SqlPrepared::Execute { .. } | SqlPrepared::ExecuteImmediate { .. }),
            ) => {
                self.sql_prepared_under(runtime, statement, body.as_bytes(), prefix)
                    .await
            }
            _ => {
                let e = RouteError::NotSupported(
                    "SET STATEMENT … FOR PREPARE or DEALLOCATE PREPARE is not supported by shardgate: the variables would hold for no statement it runs; SET them around it".into(),
                );
                self.send_error(ClientError::from(&e)).await
            }
        }
    }

    /// [`Session::sql_prepared`], the statement an EXECUTE runs written after `prefix` (a
    /// `SET STATEMENT … FOR`, or nothing).
    async fn sql_prepared_under(
        &mut self,
        runtime: &Runtime,
        statement: SqlPrepared,
        arg: &[u8],
        prefix: &str,
    ) -> Step {
        match statement {
            SqlPrepared::Malformed => self.malformed(runtime, arg).await,
            SqlPrepared::Prepare { name, source } => {
                self.sql_prepare(runtime, name, source, arg).await
            }
            SqlPrepared::Execute { name, args } => {
                let Some(named) = self.statements.named.0.get(&name.key) else {
                    let e = crate::errors::unknown_statement_name(&name.written, "EXECUTE");
                    return self.send_error(e).await;
                };
                let (text, placeholders) = (named.text.clone(), named.placeholders.clone());
                if named.on_server {
                    return self
                        .execute_on_server(runtime, &name, prefix, arg, &text, &placeholders, &args)
                        .await;
                }
                self.sql_execute(runtime, prefix, &text, &placeholders, &args)
                    .await
            }
            SqlPrepared::ExecuteImmediate { source, args } => {
                let text = match self.checked_text(runtime, &source).await {
                    Ok(text) => text,
                    // Checked with the server's PREPARE: its ER_SUBQUERIES_NOT_SUPPORTED names
                    // the statement.
                    Err(mut e) if e.code == 1970 => {
                        e.message = e.message.replacen("PREPARE..FROM", "EXECUTE IMMEDIATE", 1);
                        return self.send_error(e).await;
                    }
                    Err(e) => return self.send_error(e).await,
                };
                let placeholders =
                    interpolate::placeholders(text.as_bytes(), self.no_backslash_escapes());
                self.sql_execute(runtime, prefix, &text, &placeholders, &args)
                    .await
            }
            SqlPrepared::Deallocate { name } => match self.statements.named.0.remove(&name.key) {
                Some(named) if named.on_server => {
                    self.deallocate_on_server(runtime, &name, arg).await
                }
                Some(_) => self.send_ok(0, 0).await,
                None => {
                    let e =
                        crate::errors::unknown_statement_name(&name.written, "DEALLOCATE PREPARE");
                    self.send_error(e).await
                }
            },
        }
    }

    /// `PREPARE name FROM source`, the statement's text `arg`.
    async fn sql_prepare(
        &mut self,
        runtime: &Runtime,
        name: StatementName,
        source: PrepareSource,
        arg: &[u8],
    ) -> Step {
        // As in MariaDB, the statement of that name goes first, even if the new one fails.
        self.statements.named.0.remove(&name.key);
        if self.statements.named.0.len() >= crate::prepared::MAX_STATEMENTS_PER_SESSION {
            let e = ClientError::new(
                1461,
                b"42000",
                format!(
                    "Can't create more than max_prepared_stmt_count statements (current value: {})",
                    crate::prepared::MAX_STATEMENTS_PER_SESSION
                ),
            );
            return self.send_error(e).await;
        }
        // A text is read as written; an expression is evaluated (and checked) by the server.
        let unchecked = match &source {
            PrepareSource::Text(text) => Some(text.clone()),
            PrepareSource::Expression(_) => None,
        };
        let text = match unchecked {
            Some(text) => text,
            None => match self.checked_text(runtime, &source).await {
                Ok(text) => text,
                Err(e) => return self.failed_prepare(runtime, &name, e).await,
            },
        };
        let placeholders = interpolate::placeholders(text.as_bytes(), self.no_backslash_escapes());
        let default = runtime.topology.default_shard;
        // A SET is run by the session (it keeps the variables), but prepared by the server
        // too: a stored procedure may `EXECUTE` it there (MariaDB's ctype_utf32_uca does).
        let planned = crate::schema_loader::plan_knowing_views(runtime, &text, self.syntax).await;
        let on_server = planned.is_ok_and(|plan| {
            prepared_on_server(&plan, default)
                || matches!(plan.route, Route::Set { globals: false, .. })
        });
        if on_server {
            return self
                .prepare_on_server(runtime, name, arg, text, placeholders)
                .await;
        }
        if matches!(source, PrepareSource::Text(_)) {
            if let Err(e) = self.checked_text(runtime, &source).await {
                return self.failed_prepare(runtime, &name, e).await;
            }
        }
        if let Err(e) = self.forget_on_server(runtime, &name).await {
            return self.send_error(e).await;
        }
        let named = NamedStatement {
            text,
            placeholders,
            on_server: false,
        };
        self.statements.named.0.insert(name.key, named);
        let ok = packets::ok(&OkInfo {
            status: self.status(),
            info: b"Statement prepared".to_vec(),
            ..OkInfo::default()
        });
        self.client.write_packet(&ok).await.map_err(End::Client)
    }

    /// A PREPARE that failed with `e`: as on MariaDB, no statement of that name is left.
    async fn failed_prepare(
        &mut self,
        runtime: &Runtime,
        name: &StatementName,
        e: ClientError,
    ) -> Step {
        if let Err(e) = self.forget_on_server(runtime, name).await {
            return self.send_error(e).await;
        }
        self.send_error(e).await
    }

    /// Drops the statement `name` from the default shard's server, if it holds one of that
    /// name, and lets go of the connection if nothing else holds it.
    async fn forget_on_server(
        &mut self,
        runtime: &Runtime,
        name: &StatementName,
    ) -> Result<(), ClientError> {
        if !self.pins.prepared_statements.remove(&name.key) {
            return Ok(());
        }
        let default = runtime.topology.default_shard;
        if let Some(conn) = self.pins.conn(default) {
            let sql = format!("DEALLOCATE PREPARE `{}`", name.written.replace('`', "``"));
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, sql.as_bytes()).await {
                // Unknown what the server keeps: the connection is closed when let go.
                conn.broken = true;
                self.pins.release_unneeded(default);
                return Err(ClientError::from(&e));
            }
        }
        self.pins.release_unneeded(default);
        Ok(())
    }

    /// PREPARE (the client's text `arg`) on the default shard's server, on the connection the
    /// session keeps there; its answer (OK with its warnings, or its error) is the client's.
    async fn prepare_on_server(
        &mut self,
        runtime: &Runtime,
        name: StatementName,
        arg: &[u8],
        text: String,
        placeholders: Vec<usize>,
    ) -> Step {
        let default = runtime.topology.default_shard;
        let work = Work::Command(Command::COM_QUERY, arg);
        let finish = self
            .on_pinned_finish(runtime, default, StatementKind::Session, work)
            .await?;
        // The server dropped a statement of that name whatever the outcome.
        self.pins.prepared_statements.remove(&name.key);
        if let Some(Finish::Ok { .. }) = finish {
            self.pins.prepared_statements.insert(name.key.clone());
            let named = NamedStatement {
                text,
                placeholders,
                on_server: true,
            };
            self.statements.named.0.insert(name.key, named);
        }
        self.pins.release_unneeded(default);
        Ok(())
    }

    /// `EXECUTE name …` (the client's text `arg`, after `prefix`) of a statement the default
    /// shard's server prepared: run there as written, the session doing what it does around
    /// the statement's own text. One planned elsewhere now (a reload sharded its table) runs as
    /// the session runs its other prepared statements.
    #[allow(clippy::too_many_arguments)]
    async fn execute_on_server(
        &mut self,
        runtime: &Runtime,
        name: &StatementName,
        prefix: &str,
        arg: &[u8],
        text: &str,
        placeholders: &[usize],
        args: &[String],
    ) -> Step {
        let default = runtime.topology.default_shard;
        if !self.pins.prepared_statements.contains(&name.key) {
            // Lost with its connection (a statement cut off at its time bound closed it).
            self.statements.named.0.remove(&name.key);
            let e = crate::errors::unknown_statement_name(&name.written, "EXECUTE");
            return self.send_error(e).await;
        }
        let planned = crate::schema_loader::plan_knowing_views(runtime, text, self.syntax).await;
        let plan: Plan = match planned {
            Ok(plan) if prepared_on_server(&plan, default) => plan,
            _ => {
                return self
                    .sql_execute(runtime, prefix, text, placeholders, args)
                    .await
            }
        };
        if let Err(e) = self.begin_statement(&plan, text.as_bytes(), false) {
            return self.send_error(e).await;
        }
        let mut statement = prefix.as_bytes().to_vec();
        statement.extend_from_slice(arg);
        crate::instruments::record_load(runtime, &plan);
        self.execute(runtime, &plan, &statement, false).await
    }

    /// `DEALLOCATE PREPARE name` (the client's text `arg`) of a statement the default shard's
    /// server prepared: the server answers.
    async fn deallocate_on_server(
        &mut self,
        runtime: &Runtime,
        name: &StatementName,
        arg: &[u8],
    ) -> Step {
        let default = runtime.topology.default_shard;
        if !self.pins.prepared_statements.remove(&name.key) {
            let e = crate::errors::unknown_statement_name(&name.written, "DEALLOCATE PREPARE");
            return self.send_error(e).await;
        }
        let work = Work::Command(Command::COM_QUERY, arg);
        self.on_pinned(runtime, default, StatementKind::Session, work)
            .await
    }

    /// The text `source` stands for, once the default shard's server has prepared it: its
    /// refusal (a syntax error, an unknown table) is the error.
    async fn checked_text(
        &mut self,
        runtime: &Runtime,
        source: &PrepareSource,
    ) -> Result<String, ClientError> {
        let shard = runtime.topology.default_shard;
        // On the transaction's connection there, if it has one (its tables, its variables).
        let checked = match self.pins.conn(shard) {
            Some(conn) => check_text(conn, source).await,
            None => match self.checkout(runtime, shard).await {
                Ok(mut conn) => check_text(&mut conn, source).await,
                Err(e) => Err(e),
            },
        };
        match checked {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(refused)) => Err(ClientError::from(refused)),
            Err(e) => Err(ClientError::from(&e)),
        }
    }

    /// Runs prepared `text` with `args` written in for its `placeholders`, after `prefix`.
    async fn sql_execute(
        &mut self,
        runtime: &Runtime,
        prefix: &str,
        text: &str,
        placeholders: &[usize],
        args: &[String],
    ) -> Step {
        if args.len() != placeholders.len() {
            return self
                .send_error(crate::errors::wrong_execute_arguments())
                .await;
        }
        let literals: Vec<Vec<u8>> = args.iter().map(|a| a.clone().into_bytes()).collect();
        let statement = interpolate::interpolate(text.as_bytes(), placeholders, &literals);
        let statement = String::from_utf8_lossy(&statement).into_owned();
        if sql_prepared_statement(&statement, self.syntax).is_some() {
            return self.send_error(crate::errors::not_preparable()).await;
        }
        let statement = format!("{prefix}{statement}");
        if !args.is_empty() {
            let planned =
                crate::schema_loader::plan_knowing_views(runtime, &statement, self.syntax).await;
            if let Ok(plan) = planned {
                if matches!(plan.route, Route::Shard(_)) && plan.rewritten.is_none() {
                    // The server runs it as a prepared statement: its answer is the server's.
                    let immediate = format!(
                        "{prefix}{}",
                        execute_immediate(text, args, self.no_backslash_escapes())
                    );
                    if let Err(e) = self.begin_statement(&plan, statement.as_bytes(), true) {
                        return self.send_error(e).await;
                    }
                    crate::instruments::record_load(runtime, &plan);
                    return self
                        .execute(runtime, &plan, immediate.as_bytes(), false)
                        .await;
                }
            }
        }
        // Any other route, or an error, as the text statement would have it.
        Box::pin(self.statement(statement.as_bytes())).await
    }

    /// A text that starts like PREPARE / EXECUTE / DEALLOCATE but that we do not read: the
    /// server says what is wrong with it (checked by preparing it, never run).
    async fn malformed(&mut self, runtime: &Runtime, arg: &[u8]) -> Step {
        let pool = runtime.primary_of(self.pass_through.as_ref(), runtime.topology.default_shard);
        let verdict = async {
            let mut conn = pool.get(self.flavor).await?;
            self.state.sync(&mut conn).await?;
            conn.vars_fingerprint = crate::state::DIRTY;
            conn.prepare_check(arg).await
        };
        let error = match verdict.await {
            Ok(Some(syntax_error)) if syntax_error.code == 1064 => ClientError::from(syntax_error),
            Ok(_) => ClientError::new(
                1235,
                b"42000",
                "shardgate does not read this form of PREPARE, EXECUTE or DEALLOCATE PREPARE",
            ),
            Err(e) => ClientError::from(&e),
        };
        self.send_error(error).await
    }

    fn no_backslash_escapes(&self) -> bool {
        self.syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES)
    }
}

/// The text `source` stands for, evaluated on `conn` if it is an expression, and whether the
/// server prepares it (`Err`: its refusal). Preparing creates the user variables the text
/// assigns (typed, NULL), so the connection is reset before it serves anyone again.
async fn check_text(
    conn: &mut BackendConn,
    source: &PrepareSource,
) -> Result<Result<String, ServerErr>, BackendError> {
    conn.vars_fingerprint = crate::state::DIRTY;
    let text = match source {
        PrepareSource::Text(text) => text.clone(),
        PrepareSource::Expression(expression) => {
            // The server's own PREPARE of the expression first: its refusal is the answer (a
            // string not valid in the connection's character set, a subquery), which the text
            // read back below, converted for the client, would no longer show. The reset
            // before the connection serves anyone again drops the statement.
            let check = format!("PREPARE shardgate_check FROM ({expression})");
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, check.as_bytes()).await {
                return match e.server_error() {
                    Some(refused) => Ok(Err(refused.clone())),
                    None => Err(e),
                };
            }
            // NULL reads as the word, as in MariaDB (which then reports a syntax error near 'NULL').
            let sql = format!("SELECT COALESCE(({expression}), 'NULL') LIMIT 1");
            return evaluate(conn, sql.as_bytes()).await;
        }
    };
    Ok(match conn.prepare_check(text.as_bytes()).await? {
        Some(refused) => Err(refused),
        None => Ok(text),
    })
}

/// The one value a one-row query answers, or the server's error.
pub(crate) async fn evaluate(
    conn: &mut BackendConn,
    sql: &[u8],
) -> Result<Result<String, ServerErr>, BackendError> {
    let unexpected = |conn: &mut BackendConn| {
        conn.broken = true;
        BackendError::Protocol {
            endpoint: conn.endpoint().to_owned(),
            source: ProtocolError::malformed("unexpected answer evaluating an expression"),
        }
    };
    match conn.query_rows(sql).await? {
        QueryHead::Columns(_) => {}
        QueryHead::Done(Finish::Err(refused)) => return Ok(Err(refused)),
        QueryHead::Done(_) => return Err(unexpected(conn)),
    }
    let row = match conn.next_row().await? {
        Ok(row) => row,
        Err(Finish::Err(refused)) => return Ok(Err(refused)),
        Err(_) => return Err(unexpected(conn)),
    };
    if !matches!(conn.next_row().await?, Err(Finish::Ok { .. })) {
        return Err(unexpected(conn));
    }
    match shardgate_wire::text_row::text_cell(&row, 0) {
        Ok(cell) => Ok(Ok(
            String::from_utf8_lossy(cell.unwrap_or_default()).into_owned()
        )),
        Err(_) => Err(unexpected(conn)),
    }
}

/// `EXECUTE IMMEDIATE '<text>' USING <args>`, the text quoted as a string of the session's
/// `sql_mode`.
fn execute_immediate(text: &str, args: &[String], no_backslash_escapes: bool) -> String {
    let mut sql = String::with_capacity(text.len() + 32);
    sql.push_str("EXECUTE IMMEDIATE '");
    for c in text.chars() {
        match c {
            '\'' => sql.push_str("''"),
            '\\' if !no_backslash_escapes => sql.push_str("\\\\"),
            c => sql.push(c),
        }
    }
    sql.push_str("' USING ");
    sql.push_str(&args.join(", "));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_text_quotes_for_the_sql_mode() {
        let args = ["@a".to_owned(), "'x'".to_owned()];
        assert_eq!(
            execute_immediate(r"SELECT 'it''s', 'a\b', ?, ?", &args, false),
            r"EXECUTE IMMEDIATE 'SELECT ''it''''s'', ''a\\b'', ?, ?' USING @a, 'x'"
        );
        assert_eq!(
            execute_immediate(r"SELECT 'a\b', ?", &args[..1], true),
            r"EXECUTE IMMEDIATE 'SELECT ''a\b'', ?' USING @a"
        );
    }
}
