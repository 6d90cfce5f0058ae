//! INSERTs that leave a table's `auto_increment` column to the proxy (the planner answered
//! `InsertNeedsIds`, saying where the ids go): ids are taken from the table's sequence
//! (`sequences.rs`), written into the text (`GeneratedIds::fill`), and the text is planned
//! and run like any INSERT — on one shard, or split by shard. Its OK reports the statement's first generated
//! id, which becomes the session's `LAST_INSERT_ID()`, as MariaDB does for ids it generates.
//! After `SET insert_id = N` the ids are N, N + 1, … instead (what `mariadb-binlog` output
//! replays), and `insert_id` is spent, as MariaDB spends it. An INSERT giving ids of its own
//! moves the sequence past them first (`given_ids.rs` in the router).

use shardgate_router::{GeneratedIds, RowId};

use crate::errors::ClientError;
use crate::session::{Session, Step};

impl Session {
    /// Moves the sequence of the table INSERT `text` writes past the largest id it gives its
    /// `auto_increment` column (`shardgate_router::given_ids`), as MariaDB moves an
    /// AUTO_INCREMENT.
    pub(crate) async fn advance_past_given_ids(
        &self,
        runtime: &crate::runtime::Runtime,
        text: &[u8],
    ) -> Result<(), ClientError> {
        let Ok(sql) = std::str::from_utf8(text) else {
            return Ok(());
        };
        let Some(given) = shardgate_router::given_ids(sql, self.syntax, &runtime.topology) else {
            return Ok(());
        };
        let (table, ai) = (&given.table, &given.auto_increment);
        (self
            .proxy
            .sequences
            .advance(runtime, table, ai, given.max)
            .await)
            .map_err(|e| ClientError::from(&e))
    }

    /// The ids `request`'s rows take from the sequence, row after row as MariaDB gives them:
    /// an id a row gives moves the sequence past it before the rows after it take theirs
    /// (`(NULL), (1000), (NULL)`: the last row's id is above 1000).
    async fn take_in_row_order(
        &self,
        runtime: &std::sync::Arc<crate::runtime::Runtime>,
        request: &GeneratedIds,
    ) -> Result<Vec<u64>, crate::sequence_table::SequenceError> {
        let sequences = &self.proxy.sequences;
        let (table, ai) = (&request.table, &request.auto_increment);
        if !request.gives() {
            return sequences.take(runtime, table, ai, request.count()).await;
        }
        let mut ids = Vec::with_capacity(request.count());
        // Consecutive generated rows take their ids at once.
        for run in request
            .rows
            .chunk_by(|a, b| a == b && *a == RowId::Generated)
        {
            match run[0] {
                RowId::Generated => {
                    ids.extend(sequences.take(runtime, table, ai, run.len()).await?)
                }
                RowId::Given(Some(id)) => sequences.advance(runtime, table, ai, id).await?,
                RowId::Given(None) => {}
            }
        }
        Ok(ids)
    }

    /// Runs INSERT `sql` with ids generated where `request` (the planner's answer) says;
    /// `client_text` is the statement as the client sent it (a prepared one with its `?`),
    /// `binary` for an execution of a prepared statement.
    pub(crate) async fn insert_with_ids(
        &mut self,
        request: &GeneratedIds,
        sql: &str,
        client_text: &[u8],
        binary: bool,
    ) -> Step {
        let runtime = self.runtime();
        // `SET insert_id = N`: MariaDB gives the statement's first generated id N (the next
        // rows follow it), then forgets it.
        let given = self.state.var_number("insert_id").filter(|n| *n > 0);
        let taken = match given {
            Some(first) => Ok((first..).take(request.count()).collect()),
            None => self.take_in_row_order(&runtime, request).await,
        };
        let ids: Vec<u64> = match taken {
            Ok(ids) => ids,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        if given.is_some() {
            let spent = b"SET SESSION insert_id = 0".to_vec();
            self.state.apply([("insert_id".to_owned(), spent)]);
        }
        let text = request.fill(sql, &ids);
        // Rows of one shard: usually the session's cached plan of the statement's template.
        let cached = self.plans.plan(&text, &runtime.topology, self.syntax);
        let planned = match cached {
            Some(plan) => Ok(plan),
            // A table's lookups may need its columns' defaults.
            None => crate::schema_loader::plan_with_schema(&runtime, &text, self.syntax).await,
        };
        let mut plan = match planned {
            Ok(plan) => plan,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        // The ids other rows give moved the sequence as the rows were taken in turn.
        plan.gives_ids = false;
        // The client's text does not hold the generated ids: the id the OK reports is taken
        // as generated (see `settle_reported_id`).
        if let Err(e) = self.begin_statement(&plan, client_text, true) {
            return self.send_error(e).await;
        }
        crate::instruments::record_load(&runtime, &plan);
        let text = plan.rewritten.as_deref().unwrap_or(&text);
        let first = ids.first().copied();
        self.client.set_insert_id(first);
        let answered_error = std::mem::take(&mut self.answered_error);
        let step = self.execute(&runtime, &plan, text.as_bytes(), binary).await;
        self.client.set_insert_id(None);
        if self.statement_reads_last_insert_id && !self.answered_error {
            // Read back from its connection, LAST_INSERT_ID() is what the session gave it
            // (the shard was given the ids): the first generated one, as in MariaDB.
            self.last_insert_id = first.unwrap_or(self.last_insert_id);
            self.last_insert_id_unknown = false;
        }
        self.answered_error |= answered_error;
        step
    }
}
