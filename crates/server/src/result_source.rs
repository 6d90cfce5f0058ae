//! Where MariaDB's plan of a grouping or sorted statement the proxy computes would read its
//! result from (its items, or a temporary table), asked of the default shard with `EXPLAIN`:
//! the column definitions follow it (`shardgate_merge::TemporaryTable`). The shard holds the
//! same tables with a part of the rows; its plan is taken as one server's.

use shardgate_merge::{ExplainRow, TemporaryTable};
use shardgate_router::{MergeSpec, ResultSource};

use crate::runtime::Runtime;
use crate::session::Session;

/// The columns of MariaDB's tabular `EXPLAIN`.
const EXPLAIN_COLUMNS: usize = 10;

impl Session {
    /// How MariaDB would describe the result of `text` (grouped by `grouping`, or sorted);
    /// `Unasked` when the shard does not explain it (the merge's own description stands).
    pub(crate) async fn result_source(
        &self,
        runtime: &Runtime,
        text: &[u8],
        grouping: Option<&MergeSpec>,
    ) -> ResultSource {
        let Ok(text) = std::str::from_utf8(text) else {
            return ResultSource::Unasked;
        };
        let pool = runtime.primary_of(self.pass_through.as_ref(), runtime.topology.default_shard);
        let Ok(mut conn) = pool.get(self.flavor).await else {
            return ResultSource::Unasked;
        };
        if self.state.sync(&mut conn).await.is_err() {
            return ResultSource::Unasked;
        }
        let explain = format!("EXPLAIN {text}");
        let rows = match crate::own_tables::rows_of(&mut conn, &explain, EXPLAIN_COLUMNS).await {
            Ok(Ok(rows)) => rows,
            _ => return ResultSource::Unasked,
        };
        let text = |cell: &Option<Vec<u8>>| {
            String::from_utf8_lossy(cell.as_deref().unwrap_or_default()).into_owned()
        };
        let rows: Vec<ExplainRow> = rows
            .iter()
            .map(|row| ExplainRow {
                id: text(&row[0]).parse().ok(),
                access: text(&row[3]),
                extra: text(&row[9]),
            })
            .collect();
        match TemporaryTable::from_explain(
            &rows,
            grouping.is_some_and(MergeSpec::has_sorted_aggregates),
            grouping.is_some_and(MergeSpec::sorts_by_aggregate),
        ) {
            Some(table) => ResultSource::Table(table),
            None => ResultSource::Items,
        }
    }
}
