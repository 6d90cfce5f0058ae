//! `EXPLAIN` of a statement that does not run on one shard: the proxy's plan tree as rows, the
//! rows of `SHOW SHARDGATE ROUTE FOR` (one per operator, with the shard and the text it sends
//! there); in binary-protocol rows for a prepared statement's execution.
//!
//! A scatter whose merge would not be exact for this session (its settings) or for the
//! columns its shards describe (a collation the merge does not reproduce, an ENUM ordered by
//! index) runs from copies of its tables instead (`materialize_instead.rs`): its EXPLAIN
//! shows that plan, asking the first shard to describe the columns (prepared, never run).

use shardgate_router::{Explained, Plan, PlanTree, Route, ScatterPlan};
use shardgate_wire::column_definition::ColumnDef;

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
        let instead = (self.runs_instead(runtime, &explained.plan, &explained.sql, binary)).await;
        let plan = instead.as_ref().unwrap_or(&explained.plan);
        let tree = PlanTree::of(plan, &runtime.topology);
        let rows = plan_rows(&tree, runtime, &explained.sql);
        let columns: Vec<ColumnDef> = PLAN_COLUMNS.iter().map(|c| ColumnDef::varchar(c)).collect();
        self.send_proxy_rows(&columns, &rows, binary).await
    }

    /// The plan the session runs instead of `plan` (of `sql`), if any: copies of its tables for
    /// a scatter the merge would not answer exactly (see the module). `EXPLAIN` and `SHOW
    /// SHARDGATE ROUTE FOR` print that one.
    pub(crate) async fn runs_instead(
        &self,
        runtime: &Runtime,
        plan: &Plan,
        sql: &str,
        binary: bool,
    ) -> Option<Plan> {
        let Route::Scatter(scatter) = &plan.route else {
            return None;
        };
        if !self.answered_from_copies(runtime, scatter, binary).await {
            return None;
        }
        let copies = shardgate_router::materialized(sql, self.syntax, &runtime.topology)?;
        Some(Plan {
            route: Route::Materialize(Box::new(copies)),
            ..plan.clone()
        })
    }

    /// Whether the scatter `plan` would be answered from copies of its tables (see the
    /// module). A shard that cannot describe the columns leaves the scatter shown.
    async fn answered_from_copies(
        &self,
        runtime: &Runtime,
        plan: &ScatterPlan,
        binary: bool,
    ) -> bool {
        if self.unmergeable_session(plan).is_some() || (binary && plan.merge.computes_variance()) {
            return true;
        }
        if !plan.merge.compares_columns() {
            return false;
        }
        let Some(&shard) = plan.shards.first() else {
            return false;
        };
        let described = async {
            let mut conn = self.checkout(runtime, shard).await.ok()?;
            let head = conn.describe(plan.sql_for(0).as_bytes()).await.ok()?.ok()?;
            match self.flavor.extended_metadata() {
                true => crate::extended_metadata::split(&head)
                    .ok()
                    .map(|(plain, _)| plain),
                false => Some(head),
            }
        };
        let Some(head) = described.await else {
            return false;
        };
        matches!(self.merge_columns(runtime, plan, &head).await, Err(e) if e.code == 1235)
    }
}
