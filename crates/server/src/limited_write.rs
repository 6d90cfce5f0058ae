//! An UPDATE / DELETE with LIMIT whose rows may lie on several shards
//! (`router/src/limited_write.rs`): the rows it would change are read first (`select_rows.rs`:
//! the locking SELECT, merged and limited across shards), then the write runs narrowed to
//! exactly those rows, planned as any write.

use shardgate_router::LimitedWrite;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::select_rows::RowsOf;
use crate::session::{Session, Step};

impl Session {
    /// Runs `request`: its SELECT, then its write of the rows selected.
    pub(crate) async fn write_limited(
        &mut self,
        runtime: &Runtime,
        request: &LimitedWrite,
    ) -> Step {
        let rows_of = RowsOf {
            select: &request.select,
            purpose: format!("{} with LIMIT on `{}`", request.verb, request.table),
            columns: None,
            wrong_columns: crate::errors::operand_columns,
            over_copies: true,
        };
        let rows = match self.select_rows(runtime, &rows_of).await {
            Ok(rows) => rows,
            Err(e) => return self.send_error(e).await,
        };
        if rows.is_empty() {
            return self.send_ok(0, 0).await;
        }
        let text = match request.with_rows(&rows) {
            Ok(text) => text,
            Err(why) => {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    format!(
                        "{} with LIMIT across shards: {why}; this is not supported by shardgate",
                        request.verb
                    ),
                );
                return self.send_error(e).await;
            }
        };
        Box::pin(self.run_rewritten(runtime, &text)).await
    }
}
