//! `CREATE` / `ALTER` / `DROP` of a stored function, procedure or trigger
//! (`Route::StoredProgram`, `router/src/stored_program.rs`): on the default shard, whose answer
//! is the statement's (a statement MariaDB refuses there changes nothing anywhere), then on
//! every other shard's primary in turn; one failing on a later shard is reported naming the
//! shards that applied it (DDL cannot be rolled back).

use shardgate_ring::ShardId;

use crate::runtime::Runtime;
use crate::session::{Session, Step};

impl Session {
    /// Runs `text` on the default shard, then `elsewhere` (or `text`) on the others.
    pub(crate) async fn stored_program(
        &mut self,
        runtime: &Runtime,
        text: &[u8],
        elsewhere: Option<&str>,
    ) -> Step {
        if let Err(e) = self.outside_transaction("CREATE / ALTER / DROP of a stored program") {
            return self.send_error(e).await;
        }
        let default = runtime.topology.default_shard;
        let others = (0..runtime.topology.shards.len()).filter(|s| *s != default);
        let elsewhere = elsewhere.map_or(text, str::as_bytes);
        let parts: Vec<(ShardId, &[u8])> = std::iter::once((default, text))
            .chain(others.map(|s| (s, elsewhere)))
            .collect();
        match self.run_on_primaries(runtime, &parts).await {
            Ok((affected_rows, warnings)) => self.send_ok(affected_rows, warnings).await,
            Err(e) => self.send_error(e).await,
        }
    }
}
