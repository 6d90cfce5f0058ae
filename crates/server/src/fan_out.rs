//! Statements that run on several shards at once and are answered with one combined OK:
//! DDL on sharded tables (the same text everywhere) and multi-row INSERTs split by shard.

use shardgate_backend::{BackendError, PooledConn};
use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{Session, Step};
use crate::state::expect_ok;

/// What one shard's part came to.
type PartResult = Result<(Finish, Option<PooledConn>), BackendError>;

impl Session {
    /// Runs `parts` (shard, statement) at once. With `atomic`, each part runs in a transaction
    /// of its own and all commit only if every part succeeded (otherwise all roll back); DDL,
    /// which MariaDB commits by itself, runs without.
    pub(crate) async fn fan_out(
        &mut self,
        runtime: &Runtime,
        parts: Vec<(ShardId, &[u8])>,
        atomic: bool,
    ) -> Step {
        // DDL commits implicitly anyway; rows written on several shards cannot join a
        // single-shard transaction.
        if (atomic && self.in_transaction()) || self.pinned_shard().is_some() {
            let e = ClientError::new(
                1235,
                b"42000",
                "a statement for several shards cannot run inside a transaction (transaction_mode \"single\"); commit first or run it with autocommit",
            );
            return self.send_error(e).await;
        }
        let this = &*self;
        let runs = parts.iter().map(|&(shard, sql)| async move {
            let mut conn = this.checkout(runtime, shard).await?;
            if atomic {
                expect_ok(&mut conn, Command::COM_QUERY, b"BEGIN").await?;
            }
            let finish = conn.execute(Command::COM_QUERY, sql).await?;
            Ok((finish, atomic.then_some(conn)))
        });
        let results: Vec<PartResult> = futures_util::future::join_all(runs).await;
        let all_ok = results
            .iter()
            .all(|r| matches!(r, Ok((Finish::Ok { .. }, _))));
        let mut affected = 0;
        let mut last_insert_id = 0;
        let mut warnings = 0u16;
        let mut failures: Vec<(String, ClientError)> = Vec::new();
        let mut open: Vec<(ShardId, PooledConn)> = Vec::new();
        for (&(shard, _), result) in parts.iter().zip(results) {
            let name = runtime.topology.shards[shard].name.clone();
            match result {
                Ok((finish, conn)) => {
                    if let Some(conn) = conn {
                        open.push((shard, conn));
                    }
                    match finish {
                        Finish::Ok {
                            affected_rows,
                            last_insert_id: id,
                            warnings: w,
                            ..
                        } => {
                            affected += affected_rows;
                            warnings = warnings.saturating_add(w);
                            if last_insert_id == 0 {
                                last_insert_id = id;
                            }
                        }
                        Finish::Err(e) => failures.push((name, ClientError::from(e))),
                        Finish::LocalInfile => failures.push((
                            name,
                            ClientError::new(1148, b"42000", "LOAD DATA LOCAL is not supported"),
                        )),
                    }
                }
                Err(e) => failures.push((name, ClientError::from(&e))),
            }
        }
        // Finish the transactions: all commit, or all roll back.
        let end: &[u8] = if all_ok { b"COMMIT" } else { b"ROLLBACK" };
        let ends = open.iter_mut().map(|(shard, conn)| async move {
            (*shard, expect_ok(conn, Command::COM_QUERY, end).await)
        });
        let mut committed = Vec::new();
        for (shard, result) in futures_util::future::join_all(ends).await {
            let name = runtime.topology.shards[shard].name.clone();
            match result {
                Ok(()) => committed.push(name),
                Err(e) => failures.push((name, ClientError::from(&e))),
            }
        }
        drop(open);
        let Some(((name, first), rest)) = failures.split_first() else {
            return self
                .send_ok_with_id(affected, last_insert_id, warnings)
                .await;
        };
        let mut e = first.clone();
        let others: Vec<&str> = rest.iter().map(|(n, _)| n.as_str()).collect();
        e.message = format!("shard {name}: {}", e.message);
        if !others.is_empty() {
            e.message
                .push_str(&format!(" (also failed on {})", others.join(", ")));
        }
        if all_ok && !committed.is_empty() {
            // A commit failed after others succeeded: say exactly what happened.
            e.message.push_str(&format!(
                "; the parts on {} were committed",
                committed.join(", ")
            ));
        } else if atomic {
            e.message.push_str("; no shard kept any of its rows");
        }
        self.send_error(e).await
    }
}
