//! A scatter the merge would not answer exactly — ordering, grouping or DISTINCT on a string
//! column whose collation it does not reproduce (`utf8mb4_unicode_ci`, results not in UTF-8),
//! an ENUM / SET ordered by index, a session `div_precision_increment` or `sql_select_limit`
//! it would not honour, STDDEV / VARIANCE in binary rows — is answered from copies of its
//! tables on one compute connection instead (`materialize.rs`), where MariaDB computes it.
//! The merge finds out when the shards' column definitions arrive, before anything reaches the
//! client; the statement is then planned for materialization. What that cannot answer (a
//! locking read, a statement that is not one SELECT) gets the merge's refusal.

use shardgate_router::Plan;

use crate::runtime::Runtime;
use crate::scatter::Inexact;
use crate::session::{Session, Step};

impl Session {
    /// Answers `text` (planned as `plan`, a scatter the merge refused as `inexact`) from
    /// copies of its tables.
    pub(crate) async fn materialize_instead(
        &mut self,
        runtime: &Runtime,
        plan: &Plan,
        text: &[u8],
        binary: bool,
        inexact: Inexact,
    ) -> Step {
        let materialized = std::str::from_utf8(text)
            .ok()
            .and_then(|sql| shardgate_router::materialized(sql, self.syntax, &runtime.topology));
        match materialized {
            Some(m) => {
                shardgate_metrics::metrics().merges_from_copies_total.inc();
                tracing::debug!(reason = %inexact.0.message, "scatter answered from copies");
                Box::pin(self.materialize(runtime, &m, text, plan.kind, binary)).await
            }
            None => self.send_error(inexact.0).await,
        }
    }
}
