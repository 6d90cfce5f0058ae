//! Runs a `CREATE TABLE … SELECT` across shards (`router/src/create_from_select.rs`): the table
//! created on the default shard as the SELECT describes its columns, then filled by an `INSERT
//! … SELECT` the session runs like any statement (by rows); when that fails, the table is
//! dropped, as MariaDB leaves no table behind a failed CREATE … SELECT.

use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_router::CreateFromSelect;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{Session, Step};

impl Session {
    /// Answers `request` with the fill's answer (its rows counted as MariaDB counts them).
    pub(crate) async fn create_from_select(
        &mut self,
        runtime: &Runtime,
        request: &CreateFromSelect,
    ) -> Step {
        if self.in_transaction() {
            let what = "CREATE TABLE … SELECT across shards";
            return self
                .send_error(crate::errors::implicit_commit_refused(what))
                .await;
        }
        match self.on_default_shard(runtime, &request.create).await {
            Ok(Finish::Err(e)) => return self.send_error(ClientError::from(e)).await,
            Ok(_) => {}
            Err(e) => return self.send_error(e).await,
        }
        let answered_error = std::mem::take(&mut self.answered_error);
        let step = Box::pin(self.run_rewritten(runtime, request.insert.as_bytes())).await;
        if self.answered_error {
            if let Err(e) = self.on_default_shard(runtime, &request.drop_table()).await {
                tracing::warn!(table = %request.table, error = %e.message, "the table a failed CREATE … SELECT created could not be dropped");
            }
        }
        self.answered_error |= answered_error;
        step
    }

    /// Runs `sql` on the session's connection to the default shard (its own, or a pooled one).
    async fn on_default_shard(
        &mut self,
        runtime: &Runtime,
        sql: &str,
    ) -> Result<Finish, ClientError> {
        let shard = runtime.topology.default_shard;
        let mut lent = (self.lend_conn(runtime, shard).await).map_err(|e| ClientError::from(&e))?;
        let finished = lent.conn.execute(Command::COM_QUERY, sql.as_bytes()).await;
        self.give_back_lent(shard, lent);
        finished.map_err(|e| ClientError::from(&e))
    }
}
