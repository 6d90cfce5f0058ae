//! Server administration through the proxy: account management (users, roles, grants,
//! passwords, `FLUSH PRIVILEGES`) and `SET GLOBAL`. One rule for all of them: an admin user's
//! statement runs on every shard's primary, so every shard knows the same accounts and
//! settings; any other user gets the error MariaDB gives an account without the privilege
//! (1227). The shards run it one after another, the default shard first: a statement MariaDB
//! refuses there (a syntax error, an existing user) changes nothing anywhere and comes back as
//! MariaDB's own error; one that fails on a later shard is reported naming the shards that
//! applied it (they keep it: account management cannot be rolled back).

use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
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
        if !self.is_admin(runtime) {
            let e = ClientError::new(
                1227,
                b"42000",
                format!("Access denied; you need (at least one of) the {privilege} privilege(s) for this operation"),
            );
            return self.send_error(e).await;
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
        let topology = &runtime.topology;
        let default = topology.default_shard;
        let order =
            std::iter::once(default).chain((0..topology.shards.len()).filter(|s| *s != default));
        let mut applied: Vec<&str> = Vec::new();
        let mut answer = (0, 0);
        for shard in order {
            let name = topology.shards[shard].name.as_str();
            let outcome = async {
                let mut conn = self.checkout(runtime, shard).await?;
                let finish = conn.execute(Command::COM_QUERY, text).await?;
                // The default shard's conditions are the statement's (`SHOW WARNINGS`).
                let conditions = match shard == default {
                    true => crate::diagnostics::after(&mut conn, &finish).await,
                    false => None,
                };
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
                    if applied.is_empty() {
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
                return self.send_error(failure).await;
            }
            let e = ClientError {
                message: format!(
                    "shard {name}: {}; applied on [{}] before it failed and kept there (shardgate runs administrative statements on each primary in turn)",
                    failure.message,
                    applied.join(", ")
                ),
                ..failure
            };
            return self.send_error(e).await;
        }
        if kind == StatementKind::Session {
            // A new global value reaches the sessions that start afterwards: pooled connections
            // opened before it would keep the old one, and the timeouts of login are read again.
            for shard in 0..topology.shards.len() {
                runtime.primary(shard).discard_idle();
            }
            self.proxy.sessions.forget_timeouts();
        }
        self.send_ok(answer.0, answer.1).await
    }
}
