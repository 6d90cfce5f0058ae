//! `EXPLAIN` of a statement that does not run on one shard: the proxy's plan tree as rows, the
//! rows of `SHOW SHARDGATE ROUTE FOR` (one per operator, with the shard and the text it sends
//! there); in binary-protocol rows for a prepared statement's execution.

use shardgate_protocol::packets::ColumnDef;
use shardgate_router::{Explained, PlanTree};

use crate::admin::{plan_rows, PLAN_COLUMNS};
use crate::runtime::Runtime;
use crate::session::{Session, Step};

impl Session {
    /// Answers `EXPLAIN` of `explained` with its plan tree.
    pub(crate) async fn explain(
        &mut self,
        runtime: &Runtime,
        explained: &Explained,
        binary: bool,
    ) -> Step {
        let tree = PlanTree::of(&explained.plan, &runtime.topology);
        let rows = plan_rows(&tree, runtime, &explained.sql);
        let columns: Vec<ColumnDef> = PLAN_COLUMNS.iter().map(|c| ColumnDef::varchar(c)).collect();
        self.send_proxy_rows(&columns, &rows, binary).await
    }
}
