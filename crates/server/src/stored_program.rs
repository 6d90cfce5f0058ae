//! `CREATE` / `ALTER` / `DROP` of a stored function, procedure or trigger
//! (`Route::StoredProgram`, `router/src/stored_program.rs`). The open transaction is committed
//! first, on every shard it spans, as MariaDB commits it before DDL. The other shards run the
//! statement first, in turn (a DROP with `IF EXISTS` added): one MariaDB refuses where it runs
//! first (a syntax error, an existing function) changes nothing and is answered with MariaDB's
//! error; a later shard's refusal names the shards that applied it. Then the default shard
//! runs it as any forwarded statement, whose answer — warnings, status counters — is the
//! statement's; with one shard that is all there is.

use shardgate_ring::ShardId;
use shardgate_router::Plan;

use crate::errors::ClientError;
use crate::executor::Work;
use crate::runtime::Runtime;
use crate::session::{Session, Step};

impl Session {
    /// Runs `text` (or `elsewhere`) on the other shards, then `text` on the default shard.
    pub(crate) async fn stored_program(
        &mut self,
        runtime: &Runtime,
        plan: &Plan,
        text: &[u8],
        elsewhere: Option<&str>,
    ) -> Step {
        // Only an open transaction: committing lets go of the connections the session keeps.
        if self.pins.txn().is_some() {
            if let Err(e) = self.commit_others(runtime, None).await {
                return self.send_error(e).await;
            }
        }
        let default = runtime.topology.default_shard;
        // The client's bytes, unless the planner wrote another text for the other shards.
        let elsewhere = elsewhere.map_or(text, str::as_bytes);
        let mut applied: Vec<&str> = Vec::new();
        let others: Vec<ShardId> = (0..runtime.topology.shards.len())
            .filter(|s| *s != default)
            .collect();
        for shard in others {
            let name = runtime.topology.shards[shard].name.as_str();
            if let Err(e) = self.run_own(runtime, shard, elsewhere).await {
                // Refused where it ran first, it changed nothing: MariaDB's own error.
                let e = match applied.is_empty() {
                    true => e,
                    false => {
                        let e = e.on_shard(name);
                        ClientError {
                            message: format!(
                                "{}; applied on [{}] before it failed and kept there (DDL cannot be rolled back)",
                                e.message,
                                applied.join(", ")
                            ),
                            ..e
                        }
                    }
                };
                return self.send_error(e).await;
            }
            applied.push(name);
        }
        let work = Work::Command(shardgate_protocol::Command::COM_QUERY, text);
        self.on_shard(runtime, default, plan, text, work).await
    }
}
