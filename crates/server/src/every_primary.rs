//! Server administration through the proxy: account management (users, roles, grants,
//! passwords, `FLUSH PRIVILEGES`) and `SET GLOBAL`. One rule for all of them: an admin user's
//! statement runs on every shard's primary, so every shard knows the same accounts and
//! settings; any other user gets the error MariaDB gives an account without the privilege
//! (1227). The shards run it one after another, the default shard first: a statement MariaDB
//! refuses there (a syntax error, an existing user) changes nothing anywhere and comes back as
//! MariaDB's own error; one that fails on a later shard is reported naming the shards that
//! applied it (they keep it: account management cannot be rolled back). A `SET` of global
//! and session values runs on the other primaries first, then as the session's own `SET` on the
//! default shard, whose answer is the statement's.
//!
//! A session logged in as one of the servers' own accounts (pass-through authentication) runs
//! them as that account: MariaDB's privileges decide, on every primary.

use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;
use shardgate_router::StatementKind;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{Session, Step};

impl Session {
    /// Runs `text` on every shard's primary for an admin user (see the module).
    pub(crate) async fn on_every_primary(
        &mut self,
        runtime: &Runtime,
        kind: StatementKind,
        privilege: &str,
        text: &[u8],
    ) -> Step {
        if !self.may_administer(runtime) {
            return self.send_error(lacks_privilege(privilege)).await;
        }
        // MariaDB commits the open transaction before account management; the proxy's runs on
        // connections of its own and would leave it open.
        if kind == StatementKind::Ddl && !self.pins.txn_shards().is_empty() {
            let e = ClientError::new(
                1235,
                b"42000",
                "account management inside a transaction is not supported by shardgate: commit first",
            );
            return self.send_error(e).await;
        }
        let default = runtime.topology.default_shard;
        let others = (0..runtime.topology.shards.len()).filter(|s| *s != default);
        let order: Vec<ShardId> = std::iter::once(default).chain(others).collect();
        let (affected_rows, warnings) = match self.run_on_primaries(runtime, &order, text).await {
            Ok(answer) => answer,
            Err(e) => return self.send_error(e).await,
        };
        if kind == StatementKind::Session {
            forget_global_values(self, runtime);
        }
        self.send_ok(affected_rows, warnings).await
    }

    /// A `SET` of global and session values, for an admin user: the text runs on every
    /// primary but the default shard's, whose run is the session's own `SET` (the caller's,
    /// answered as any). `false`: refused or failed there, and answered.
    pub(crate) async fn set_globals_elsewhere(
        &mut self,
        runtime: &Runtime,
        text: &[u8],
    ) -> Result<bool, crate::session::End> {
        if !self.may_administer(runtime) {
            self.send_error(lacks_privilege("SUPER")).await?;
            return Ok(false);
        }
        let default = runtime.topology.default_shard;
        let others: Vec<ShardId> = (0..runtime.topology.shards.len())
            .filter(|s| *s != default)
            .collect();
        if let Err(e) = self.run_on_primaries(runtime, &others, text).await {
            self.send_error(e).await?;
            return Ok(false);
        }
        forget_global_values(self, runtime);
        Ok(true)
    }

    /// Runs `text` on the primaries of `shards`, in turn, each on a pooled connection: the
    /// first one's affected rows and warnings (and conditions, for `SHOW WARNINGS`), or the
    /// error of the first that failed, naming the shards that applied it before.
    async fn run_on_primaries(
        &mut self,
        runtime: &Runtime,
        shards: &[ShardId],
        text: &[u8],
    ) -> Result<(u64, u16), ClientError> {
        let topology = &runtime.topology;
        let mut applied: Vec<&str> = Vec::new();
        let mut answer = (0, 0);
        for &shard in shards {
            let name = topology.shards[shard].name.as_str();
            let first = applied.is_empty();
            let outcome = async {
                let mut conn = self.checkout(runtime, shard).await?;
                let finish = conn.execute(Command::COM_QUERY, text).await?;
                // The first shard's conditions are the statement's (`SHOW WARNINGS`).
                let conditions = match first {
                    true => crate::diagnostics::after(&mut conn, &finish).await,
                    false => None,
                };
                // What the text set for its session stays on this connection, not the
                // session's: it is reset before it serves again.
                conn.vars_fingerprint = crate::state::DIRTY;
                Ok::<_, shardgate_backend::BackendError>((finish, conditions))
            };
            let failure = match outcome.await {
                Ok((
                    Finish::Ok {
                        affected_rows,
                        warnings,
                        ..
                    },
                    conditions,
                )) => {
                    if first {
                        answer = (affected_rows, warnings);
                        if let Some(d) = conditions {
                            self.diagnostics = d;
                            self.diagnostics_read = true;
                        }
                    }
                    applied.push(name);
                    continue;
                }
                Ok((Finish::Err(e), _)) => ClientError::from(e),
                Ok((Finish::LocalInfile, _)) => {
                    ClientError::new(1148, b"42000", "LOAD DATA LOCAL is not supported")
                }
                Err(e) => ClientError::from(&e),
            };
            if applied.is_empty() {
                return Err(failure);
            }
            return Err(ClientError {
                message: format!(
                    "shard {name}: {}; applied on [{}] before it failed and kept there (shardgate runs administrative statements on each primary in turn)",
                    failure.message,
                    applied.join(", ")
                ),
                ..failure
            });
        }
        Ok(answer)
    }
}

impl Session {
    /// Whether the session may run administration through the proxy: an admin user, or one of
    /// the servers' accounts, whose own privileges the servers check.
    fn may_administer(&self, runtime: &Runtime) -> bool {
        self.pass_through.is_some() || self.is_admin(runtime)
    }
}

/// MariaDB's error for an account without `privilege`.
fn lacks_privilege(privilege: &str) -> ClientError {
    ClientError::new(
        1227,
        b"42000",
        format!("Access denied; you need (at least one of) the {privilege} privilege(s) for this operation"),
    )
}

/// A new global value reaches the sessions that start afterwards: pooled connections opened
/// before it would keep the old one, and the timeouts of login are read again.
fn forget_global_values(session: &Session, runtime: &Runtime) {
    for shard in 0..runtime.topology.shards.len() {
        runtime.primary(shard).discard_idle();
    }
    session.proxy.sessions.forget_timeouts();
}
