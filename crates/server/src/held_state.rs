//! Statements that create or end state on their backend connection (`router::ConnectionState`):
//! temporary tables, named locks, `LOCK TABLES`, handlers. They run on a connection the
//! session keeps (`pins.rs`) until the state is gone; then it returns to the pool.

use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;
use shardgate_router::{ConnectionState, HandlerAction, Plan, Route, StatementKind};

use crate::errors::ClientError;
use crate::executor::{AfterWrite, Work};
use crate::runtime::Runtime;
use crate::session::{Session, Step};
use crate::state::expect_ok;

impl Session {
    /// Whether a statement planned with `state` concerns state the session keeps: a
    /// `DROP TABLE` of none of its temporary tables is an ordinary one.
    pub(crate) fn concerns_kept_state(&self, state: &ConnectionState) -> bool {
        match state {
            ConnectionState::DropsTables(names) => {
                names.iter().any(|n| self.pins.temporary_tables.contains(n))
            }
            _ => true,
        }
    }

    /// Runs a statement planned with `state` and keeps what it left on its connection.
    pub(crate) async fn with_connection_state(
        &mut self,
        runtime: &Runtime,
        plan: &Plan,
        state: &ConnectionState,
        text: &[u8],
    ) -> Step {
        let default = runtime.topology.default_shard;
        match state {
            ConnectionState::LocksTables { shards, others_sql } => {
                self.lock_tables(runtime, shards, others_sql.as_deref(), text)
                    .await
            }
            ConnectionState::UnlocksTables => self.unlock_tables_statement(runtime, text).await,
            _ => {
                let Route::Shard(shard) = plan.route else {
                    unreachable!("the planner puts connection state on one shard")
                };
                let work = Work::Command(Command::COM_QUERY, text);
                let finish = self
                    .on_pinned_finish(runtime, shard, plan.kind, work)
                    .await?;
                if let Some(Finish::Ok { .. } | Finish::Err(_)) = &finish {
                    self.keep_state(runtime, state, matches!(finish, Some(Finish::Ok { .. })))
                        .await;
                }
                self.pins.release_unneeded(default);
                Ok(())
            }
        }
    }

    /// Records what a statement that ran on the default shard's pinned connection left there.
    async fn keep_state(&mut self, runtime: &Runtime, state: &ConnectionState, ok: bool) {
        let default = runtime.topology.default_shard;
        match state {
            ConnectionState::CreatesTemporaryTable(name) if ok => {
                self.pins.temporary_tables.insert(name.clone());
            }
            ConnectionState::DropsTables(names) if ok => {
                for name in names {
                    self.pins.temporary_tables.remove(name);
                }
            }
            ConnectionState::Handler { name, action } if ok => match action {
                HandlerAction::Open => {
                    self.pins.handlers.insert(name.clone());
                }
                HandlerAction::Close => {
                    self.pins.handlers.remove(name);
                }
                HandlerAction::Read => {}
            },
            ConnectionState::NamedLocks(calls) => {
                self.pins.named_locks.extend(calls.acquires.iter().cloned());
                self.pins.unnamed_locks |= calls.acquires_unnamed;
                if calls.releases_all && ok {
                    self.pins.unnamed_locks = false;
                }
                // Which of the names are still held: a GET_LOCK may have timed out, a
                // RELEASE_LOCK released one.
                if !self.pins.named_locks.is_empty()
                    && (calls.releases || !calls.acquires.is_empty())
                {
                    let names = self.pins.named_locks.clone();
                    let Some(conn) = self.pins.conn(default) else {
                        return;
                    };
                    match held_locks(conn, &names).await {
                        Ok(held) => self.pins.named_locks = held,
                        Err(e) => {
                            // Unknown: keep the connection as long as the session lives.
                            tracing::info!(error = %e, "could not check the session's named locks");
                            self.pins.unnamed_locks = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// `LOCK TABLES` on `shards` (the default shard runs `text`; the others `others_sql`, or
    /// `text`). Like MariaDB, it commits the open transaction and releases the session's
    /// earlier table locks; a failure on one shard releases the locks taken on the others.
    async fn lock_tables(
        &mut self,
        runtime: &Runtime,
        shards: &[ShardId],
        others_sql: Option<&str>,
        text: &[u8],
    ) -> Step {
        let default = runtime.topology.default_shard;
        if let Err(e) = self.end_txn_implicitly(runtime).await {
            return self.send_error(e).await;
        }
        if let Err(e) = self.unlock_tables(runtime).await {
            return self.send_error(e).await;
        }
        let mut locked = Vec::new();
        let mut failure = None;
        let mut warnings = 0;
        for &shard in shards {
            if let Err(e) = self.pin(runtime, shard, false).await {
                failure = Some(e);
                break;
            }
            let sql = match (shard == default, others_sql) {
                (false, Some(sql)) => sql.as_bytes(),
                _ => text,
            };
            let conn = self.pins.conn(shard).expect("pinned above");
            match crate::state::run_ok(conn, Command::COM_QUERY, sql).await {
                Ok(w) => {
                    warnings = warnings.max(w);
                    locked.push(shard);
                }
                Err(e) => {
                    let mut e = ClientError::from(&e);
                    if shards.len() > 1 {
                        e.message = format!(
                            "shard {}: {}",
                            runtime.topology.shards[shard].name, e.message
                        );
                    }
                    failure = Some(e);
                    break;
                }
            }
        }
        self.pins.table_locks = locked;
        if let Some(e) = failure {
            // All or nothing: the shards that locked release again.
            let undone = self.unlock_tables(runtime).await;
            self.send_error(e).await?;
            if let Err(e) = undone {
                tracing::warn!(error = %e.message, "could not release table locks after a failed LOCK TABLES");
            }
            return Ok(());
        }
        self.pins.release_unneeded(default);
        self.send_ok(0, warnings).await
    }

    /// `UNLOCK TABLES`: where the session holds table locks; anywhere (the default shard)
    /// when it holds none, for MariaDB's own answer.
    async fn unlock_tables_statement(&mut self, runtime: &Runtime, text: &[u8]) -> Step {
        if self.pins.table_locks.is_empty() {
            let work = Work::Command(Command::COM_QUERY, text);
            return self
                .forward(
                    runtime,
                    runtime.topology.default_shard,
                    StatementKind::Session,
                    work,
                    AfterWrite::Nothing,
                )
                .await;
        }
        // With table locks held, UNLOCK TABLES also commits the open transaction.
        let result = match self.unlock_tables(runtime).await {
            Ok(()) => self.end_txn_implicitly(runtime).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => self.send_ok(0, 0).await,
            Err(e) => self.send_error(e).await,
        }
    }

    /// Commits the open transaction on every shard it runs on (a statement that commits
    /// implicitly on one server).
    async fn end_txn_implicitly(&mut self, runtime: &Runtime) -> Result<(), ClientError> {
        let Some(txn) = self.pins.end_txn() else {
            return Ok(());
        };
        let mut failure = None;
        for shard in txn.shards() {
            let conn = self.pins.conn(shard).expect("joined shards are pinned");
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, b"COMMIT").await {
                conn.broken = true;
                failure.get_or_insert(ClientError::from(&e));
            }
        }
        self.pins.release_unneeded(runtime.topology.default_shard);
        failure.map_or(Ok(()), Err)
    }
}

/// Which of `names` the connection holds now (`IS_USED_LOCK` names its holder's thread).
async fn held_locks(
    conn: &mut shardgate_backend::PooledConn,
    names: &std::collections::BTreeSet<String>,
) -> Result<std::collections::BTreeSet<String>, shardgate_backend::BackendError> {
    let thread = conn.hello.connection_id;
    let checks: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "COALESCE(IS_USED_LOCK(CONVERT(X'{}' USING utf8mb4)) = {thread}, 0)",
                hex::encode_upper(name)
            )
        })
        .collect();
    // LIMIT: the session's sql_select_limit (0 hides every row) must not hide the answer.
    let sql = format!("SELECT CONCAT_WS(',', {}) LIMIT 1", checks.join(", "));
    let answer = crate::state::query_text(conn, sql.as_bytes()).await?;
    Ok(names
        .iter()
        .zip(answer.split(','))
        .filter(|(_, held)| *held == "1")
        .map(|(name, _)| name.clone())
        .collect())
}
