//! `INSERT … SELECT` into a table with lookups or generated ids (`router/src/insert_select.rs`):
//! the SELECT's rows are read by the proxy (`select_rows.rs`) and written as `INSERT … VALUES`
//! literals; that text is then planned and run as any INSERT (lookup rows first, ids from the
//! sequence, rows split by shard).
//!
//! Unlike MariaDB's one statement, the SELECT and the INSERT are two: outside a transaction,
//! rows written between them are not seen. Inside one, the SELECT reads in the transaction.

use shardgate_router::InsertFromSelect;

use crate::errors::ClientError;
use crate::previous_statement::FoundRowsUnknown;
use crate::runtime::Runtime;
use crate::select_rows::RowsOf;
use crate::session::{Session, Step};

impl Session {
    /// Runs INSERT … SELECT `request` as INSERT … VALUES of its SELECT's rows.
    pub(crate) async fn insert_from_select(
        &mut self,
        runtime: &Runtime,
        request: &InsertFromSelect,
    ) -> Step {
        // MariaDB's FOUND_ROWS() after it counts its SELECT's rows (and subqueries').
        self.found_rows_unknown = Some(FoundRowsUnknown::InWrite);
        let rows_of = RowsOf {
            select: &request.select,
            purpose: format!("INSERT … SELECT into `{}`", request.table),
            columns: Some(request.columns),
            wrong_columns: || {
                ClientError::new(
                    1136,
                    b"21S01",
                    "Column count doesn't match value count at row 1",
                )
            },
            over_copies: true,
        };
        let rows = match self.select_rows(runtime, &rows_of).await {
            Ok(rows) => rows,
            Err(e) => return self.send_error(e).await,
        };
        // MariaDB's FOUND_ROWS() after it is the rows its SELECT found: these, unless an
        // offset or a set operation counted others (it stays unknown then).
        let counted = shardgate_router::StatementTraits::of(request.select.as_bytes(), self.syntax)
            .select
            == shardgate_router::SelectKind::Plain;
        if rows.is_empty() {
            let step = self.send_ok(0, 0).await;
            if counted {
                self.set_found_rows(0);
            }
            return step;
        }
        let text = request.with_rows(&rows);
        let answered_error = std::mem::take(&mut self.answered_error);
        let step = Box::pin(self.run_rewritten(runtime, &text)).await;
        if step.is_ok() && !self.answered_error && counted {
            self.set_found_rows(rows.len() as u64);
        }
        self.answered_error |= answered_error;
        step
    }
}
