//! Runs a `Route::Join` plan (`shardgate_router::JoinPlan`): two sharded tables joined in the
//! proxy from each side's rows.
//!
//! - **Batched lookup**: the outer side's shards are read one after the other, streaming; every
//!   `LOOKUP_BATCH` outer rows, the batch's distinct key values are sent to the inner table's
//!   owning shards (`… AND key IN (…)`, each shard its own values) and the batch is joined
//!   with the rows they return (`shardgate_merge::BatchedLookup`).
//! - **Hash join**: the inner side's rows are read from all its shards into a hash table
//!   (`shardgate_merge::HashJoin`, bounded by `merge_max_rows` / `merge_max_bytes`: 1038
//!   beyond, never an unbounded allocation), then the outer side streams through it.
//!
//! Joined rows go through ORDER BY (a bounded sort), LIMIT and the select list's projection
//! to the client as they come. The column definitions are the shards' own, a LEFT join's
//! inner columns made nullable, as MariaDB describes them. A grouping statement's projected
//! rows (its group columns and aggregate arguments) are sorted by the group columns (bounded)
//! and go through the merge's aggregate, ORDER BY and LIMIT (`MergeSpec::output`), which
//! describes the aggregates' columns.
//!
//! Where the proxy cannot answer exactly as one server — inside a transaction or with
//! connections the session keeps (the sides would not see its writes), a prepared
//! execution's binary rows, a session `sql_select_limit`, extended metadata, compared strings
//! not in UTF-8 — the statement is answered by the plan's materialize fallback instead.

use bytes::{Bytes, BytesMut};
use shardgate_backend::{PooledConn, QueryHead};
use shardgate_merge::{
    Aggregate, BatchedLookup, ColumnFlags, ColumnMeta, HashJoin, JoinKeys, JoinKind, Limit,
    Pipeline, Project, ProjectItem, RowOperator, Sort, SortKey, ValueKind,
};
use shardgate_protocol::response::Finish;
use shardgate_ring::ShardId;
use shardgate_router::{
    JoinPlan, JoinSide, JoinStrategy, MergeSettings, ResultSource, StatementKind, LOOKUP_BATCH,
};
use shardgate_wire::packets;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::scatter::{merge_error, KeptRows};
use crate::session::{End, Session, Step};

/// How a join attempt ended.
enum Outcome {
    /// Answered (rows or an error) to the client.
    Answered(Step),
    /// Nothing was written: the fallback answers.
    Fallback,
}

/// One side's answer on one shard: the connection positioned at its rows, and its columns.
struct Reading {
    conn: PooledConn,
    heads: Vec<BytesMut>,
    shard: String,
}

impl Reading {
    /// The next row; `None` at the end of the answer.
    async fn next(&mut self) -> Result<Option<Bytes>, ClientError> {
        let named = |e: ClientError, shard: &str| ClientError {
            message: format!("shard {shard}: {}", e.message),
            ..e
        };
        match self.conn.next_row().await {
            Ok(Ok(row)) => Ok(Some(row)),
            Ok(Err(Finish::Ok { .. })) => Ok(None),
            Ok(Err(Finish::Err(e))) => Err(named(ClientError::from(e), &self.shard)),
            Ok(Err(Finish::LocalInfile)) => {
                self.conn.broken = true;
                Err(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"))
            }
            Err(e) => Err(named(ClientError::from(&e), &self.shard)),
        }
    }

    /// Gives the connection up with its answer unread: it is closed, not pooled.
    fn abandon(mut self) {
        self.conn.broken = true;
    }
}

/// The joined rows' way out: the pipeline after the join, the definitions written once, rows
/// flushed to the client as they fill the buffer, or kept.
struct Emitter {
    pipeline: Pipeline,
    /// Rows written so far.
    rows: u64,
}

/// Where a join's answer goes.
pub(crate) enum JoinTo {
    /// To the client: column definitions, rows, the end (or an error packet).
    Client,
    /// Kept by the proxy for another statement (`Session::joined_rows`): the definitions and
    /// rows, within their room, or why they could not all be had.
    Kept(KeptRows),
}

impl Session {
    /// Runs `plan` (planned for `text`), or its materialize fallback where the join would not
    /// answer as one server.
    pub(crate) async fn join(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
        text: &[u8],
        kind: StatementKind,
        binary: bool,
    ) -> Step {
        if !binary && self.joins_here(plan) {
            // The shards run other statements than the client's: MariaDB's parser and name
            // resolution judge the client's first (`COUNT (*)` without IGNORE_SPACE is 1064).
            match self.prepared_on_default_shard(runtime, text).await {
                Ok(None) => {}
                Ok(Some(e)) => return self.send_error(ClientError::from(e)).await,
                Err(e) => return self.send_error(ClientError::from(&e)).await,
            }
            let mut settings = self.merge_settings(runtime);
            if plan.grouping.is_some() || !plan.order_by.is_empty() {
                let grouping = plan.grouping.as_ref();
                settings.result_source = self.result_source(runtime, text, grouping).await;
            }
            let mut to = JoinTo::Client;
            if let Outcome::Answered(step) = self.join_into(runtime, plan, settings, &mut to).await
            {
                return step;
            }
        }
        self.materialize(runtime, &plan.fallback, text, kind, binary)
            .await
    }

    /// The rows of `plan` joined in the proxy, for another statement (a derived table's rows);
    /// `None` where the join would not answer as one server (see `join`), or declines.
    pub(crate) async fn joined_rows(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
    ) -> Option<Result<KeptRows, ClientError>> {
        if !self.joins_here(plan) {
            return None;
        }
        let settings = self.merge_settings(runtime);
        let mut to = JoinTo::Kept(KeptRows::within(&runtime.topology.server));
        match self.join_into(runtime, plan, settings, &mut to).await {
            Outcome::Fallback => None,
            // Kept rows write nothing to the client, whose failure this would be.
            Outcome::Answered(Err(_)) => Some(Err(ClientError::new(
                1105,
                b"HY000",
                "a join's rows could not be read",
            ))),
            Outcome::Answered(Ok(())) => match to {
                JoinTo::Kept(mut kept) => Some(match kept.failed.take() {
                    Some(e) => Err(e),
                    None => Ok(kept),
                }),
                JoinTo::Client => None,
            },
        }
    }

    /// Whether the proxy joins `plan` as one server would answer it (text rows): not inside a
    /// transaction or with kept connections (the sides would not see its writes), not under a
    /// session `sql_select_limit` or extended metadata, and dividing with MariaDB's default
    /// precision only.
    fn joins_here(&self, plan: &JoinPlan) -> bool {
        let divides = (plan.grouping.iter())
            .flat_map(|g| g.aggregate.iter().flat_map(|a| &a.outputs))
            .any(Aggregate::uses_div_precision_increment);
        let precision_kept =
            !divides || (self.state.var_number("div_precision_increment")).is_none_or(|n| n == 4);
        !self.in_transaction()
            && self.pins.is_empty()
            && !self.state.select_limit_set()
            && !self.flavor.extended_metadata()
            && precision_kept
    }

    /// Runs the join of `plan` by its strategy, its answer to `to`.
    async fn join_into(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
        settings: MergeSettings,
        to: &mut JoinTo,
    ) -> Outcome {
        match plan.strategy {
            JoinStrategy::Hash => self.hash_join(runtime, plan, settings, to).await,
            JoinStrategy::BatchedLookup => self.batched_join(runtime, plan, settings, to).await,
        }
    }

    /// Sends `sql` to `shard` on a pooled connection; its answer's rows follow.
    async fn join_read(
        &self,
        runtime: &Runtime,
        shard: ShardId,
        sql: &str,
    ) -> Result<Reading, ClientError> {
        let name = runtime.topology.shards[shard].name.clone();
        let named = |e: ClientError| ClientError {
            message: format!("shard {name}: {}", e.message),
            ..e
        };
        let mut conn = self
            .checkout(runtime, shard)
            .await
            .map_err(|e| ClientError::from(&e))?;
        match conn.query_rows(sql.as_bytes()).await {
            Ok(QueryHead::Columns(heads)) => Ok(Reading {
                conn,
                heads,
                shard: name,
            }),
            Ok(QueryHead::Done(Finish::Err(e))) => Err(named(ClientError::from(e))),
            Ok(QueryHead::Done(_)) => Err(ClientError::new(
                1105,
                b"HY000",
                format!("shard {name} answered without a result set"),
            )),
            Err(e) => Err(named(ClientError::from(&e))),
        }
    }

    /// A side's column definitions (no rows read): on its first shard, or the default one.
    async fn join_side_heads(
        &self,
        runtime: &Runtime,
        side: &JoinSide,
    ) -> Result<Vec<BytesMut>, ClientError> {
        let shard = (side.shards.first().copied()).unwrap_or(runtime.topology.default_shard);
        let mut reading = self.join_read(runtime, shard, &side.metadata_sql()).await?;
        while reading.next().await?.is_some() {}
        Ok(reading.heads)
    }

    /// The joined rows' columns, asked of both sides with no rows (`… WHERE 0`), the header
    /// written; `Fallback` when the proxy would not compare their strings exactly.
    async fn join_prepare(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
        settings: MergeSettings,
        to: &mut JoinTo,
    ) -> Result<(Emitter, JoinKeys), Outcome> {
        let heads = match self.join_side_heads(runtime, &plan.outer).await {
            Ok(outer) => match self.join_side_heads(runtime, &plan.inner).await {
                Ok(inner) => Ok((outer, inner)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (outer_heads, inner_heads) = match heads {
            Ok(heads) => heads,
            Err(e) => return Err(self.join_fail(to, e).await),
        };
        let metas = plain_metas(&outer_heads).and_then(|o| Ok((o, plain_metas(&inner_heads)?)));
        let (mut outer, mut inner) = match metas {
            Ok(metas) => metas,
            Err(e) => return Err(self.join_fail(to, e).await),
        };
        if !comparable(plan, &outer, &inner) {
            return Err(Outcome::Fallback);
        }
        let width = outer.len();
        let compared = compared_columns(plan, width);
        let (outer_compared, inner_compared): (Vec<usize>, Vec<usize>) =
            compared.iter().partition(|&&c| c < width);
        let inner_compared: Vec<usize> = inner_compared.iter().map(|c| c - width).collect();
        let sides = [
            (&plan.outer, &outer_heads, &mut outer, outer_compared),
            (&plan.inner, &inner_heads, &mut inner, inner_compared),
        ];
        for (side, heads, metas, columns) in sides {
            match (self.join_side_collations(runtime, side, heads, metas, &columns)).await {
                Ok(true) => {}
                Ok(false) => return Err(Outcome::Fallback),
                Err(e) => return Err(self.join_fail(to, e).await),
            }
        }
        // MariaDB compares two columns of different collations under a coercion of them
        // (`_bin` wins, or error 1267): the copies answer that.
        let key_collations_differ = (plan.outer.keys.iter().zip(&plan.inner.keys)).any(|(o, i)| {
            let (o, i) = (&outer[*o], &inner[*i]);
            o.kind() == ValueKind::Bytes && i.kind() == ValueKind::Bytes && o.charset != i.charset
        });
        if key_collations_differ {
            return Err(Outcome::Fallback);
        }
        let keys = match JoinKeys::new(&plan.outer.keys, &outer, &plan.inner.keys, &inner) {
            Ok(keys) => keys,
            Err(e) => return Err(self.join_fail(to, merge_error(&e)).await),
        };
        match self
            .join_header(plan, &outer_heads, &inner_heads, settings, to)
            .await
        {
            Ok(emitter) => Ok((emitter, keys)),
            Err(outcome) => Err(outcome),
        }
    }

    /// Gives the string columns `columns` of a side the collations of the table columns
    /// they are (column definitions carry the connection's); `false` when one is not a
    /// table column or has a collation the merge does not compare exactly.
    async fn join_side_collations(
        &self,
        runtime: &Runtime,
        side: &JoinSide,
        heads: &[BytesMut],
        metas: &mut [ColumnMeta],
        columns: &[usize],
    ) -> Result<bool, ClientError> {
        let shard = (side.shards.first().copied()).unwrap_or(runtime.topology.default_shard);
        for &c in columns {
            let (Some(meta), Some(head)) = (metas.get(c), heads.get(c)) else {
                return Ok(false);
            };
            if !meta.holds_text() {
                continue;
            }
            let column: Option<mysql_common::packets::Column> =
                mysql_common::io::ParseBuf(head).parse(()).ok();
            let Some(column) = column.filter(|c| !c.org_table_ref().is_empty()) else {
                return Ok(false);
            };
            let origin = (
                column.schema_str().into_owned(),
                column.org_table_str().into_owned(),
                column.org_name_str().into_owned(),
            );
            let real = runtime
                .column_collation(shard, self.flavor, origin)
                .await
                .map_err(|e| ClientError::from(&e))?;
            match real {
                Some(id) if shardgate_merge::compares_exactly(metas[c].charset, id) => {
                    metas[c].charset = id
                }
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    async fn hash_join(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
        settings: MergeSettings,
        to: &mut JoinTo,
    ) -> Outcome {
        let memory = settings.memory;
        let (mut out, keys) = match self.join_prepare(runtime, plan, settings, to).await {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        // The build side: every inner row, bounded.
        let mut join = HashJoin::new(keys, plan.kind, memory);
        let inner_sql = plan.inner.sql();
        for &shard in &plan.inner.shards {
            let mut reading = match self.join_read(runtime, shard, &inner_sql).await {
                Ok(reading) => reading,
                Err(e) => return self.join_fail(to, e).await,
            };
            loop {
                let row = match reading.next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => return self.join_fail(to, e).await,
                };
                if let Err(e) = join.build(row) {
                    reading.abandon();
                    return self.join_fail(to, merge_error(&e)).await;
                }
            }
        }
        // The probe side, streamed.
        let outer_sql = plan.outer.sql();
        let mut joined = Vec::new();
        for &shard in &plan.outer.shards {
            let mut reading = match self.join_read(runtime, shard, &outer_sql).await {
                Ok(reading) => reading,
                Err(e) => return self.join_fail(to, e).await,
            };
            loop {
                let row = match reading.next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => return self.join_fail(to, e).await,
                };
                if let Err(e) = join.probe(row, &mut joined) {
                    reading.abandon();
                    return self.join_fail(to, merge_error(&e)).await;
                }
                if let Err(e) = self
                    .join_emit(&mut out, std::mem::take(&mut joined), to)
                    .await
                {
                    reading.abandon();
                    return self.join_failed_emit(to, e).await;
                }
                if out.pipeline.is_done() {
                    reading.abandon();
                    return self.join_end(out, to).await;
                }
            }
        }
        self.join_end(out, to).await
    }

    async fn batched_join(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
        settings: MergeSettings,
        to: &mut JoinTo,
    ) -> Outcome {
        let memory = settings.memory;
        let (mut out, keys) = match self.join_prepare(runtime, plan, settings, to).await {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        let mut batch = match BatchedLookup::new(keys, plan.kind, LOOKUP_BATCH, memory) {
            Ok(batch) => batch,
            Err(e) => return self.join_fail(to, merge_error(&e)).await,
        };
        let outer_sql = plan.outer.sql();
        for &shard in &plan.outer.shards {
            let mut reading = match self.join_read(runtime, shard, &outer_sql).await {
                Ok(reading) => reading,
                Err(e) => return self.join_fail(to, e).await,
            };
            loop {
                let row = match reading.next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => return self.join_fail(to, e).await,
                };
                let full = match batch.push_outer(row) {
                    Ok(full) => full,
                    Err(e) => {
                        reading.abandon();
                        return self.join_fail(to, merge_error(&e)).await;
                    }
                };
                if !full {
                    continue;
                }
                if let Err(e) = self
                    .join_batch(runtime, plan, &mut batch, &mut out, to)
                    .await
                {
                    reading.abandon();
                    return self.join_failed_emit(to, e).await;
                }
                if out.pipeline.is_done() {
                    reading.abandon();
                    return self.join_end(out, to).await;
                }
            }
        }
        if batch.pending() > 0 {
            if let Err(e) = self
                .join_batch(runtime, plan, &mut batch, &mut out, to)
                .await
            {
                return self.join_failed_emit(to, e).await;
            }
        }
        self.join_end(out, to).await
    }

    /// Looks the pending batch up, joins it and sends its rows on.
    async fn join_batch(
        &mut self,
        runtime: &Runtime,
        plan: &JoinPlan,
        batch: &mut BatchedLookup,
        out: &mut Emitter,
        to: &mut JoinTo,
    ) -> Result<(), EmitError> {
        self.join_look_up(runtime, plan, batch)
            .await
            .map_err(EmitError::Merge)?;
        let mut joined = Vec::new();
        batch
            .finish_batch(&mut joined)
            .map_err(|e| EmitError::Merge(merge_error(&e)))?;
        self.join_emit(out, joined, to).await
    }

    /// Looks the pending batch up on the inner side's shards, feeding their rows to `batch`.
    async fn join_look_up(
        &self,
        runtime: &Runtime,
        plan: &JoinPlan,
        batch: &mut BatchedLookup,
    ) -> Result<(), ClientError> {
        let statements = plan.lookups(&runtime.topology, batch.lookup_values());
        for (shard, sql) in statements {
            let mut reading = self.join_read(runtime, shard, &sql).await?;
            while let Some(row) = reading.next().await? {
                if let Err(e) = batch.inner_row(row) {
                    reading.abandon();
                    return Err(merge_error(&e));
                }
            }
        }
        Ok(())
    }

    /// Writes the result's column definitions and builds the pipeline after the join.
    async fn join_header(
        &mut self,
        plan: &JoinPlan,
        outer_heads: &[BytesMut],
        inner_heads: &[BytesMut],
        settings: MergeSettings,
        to: &mut JoinTo,
    ) -> Result<Emitter, Outcome> {
        let built = output(plan, outer_heads, inner_heads, settings);
        let (pipeline, definitions) = match built {
            Ok(built) => built,
            Err(e) => return Err(self.join_fail(to, e).await),
        };
        match to {
            JoinTo::Client => {
                let status = self.status();
                (self.client).queue_result_head(definitions.iter(), self.capabilities, status);
            }
            JoinTo::Kept(kept) => kept.definitions = definitions,
        }
        Ok(Emitter { pipeline, rows: 0 })
    }

    /// Feeds joined rows through the pipeline on their way out.
    async fn join_emit(
        &mut self,
        out: &mut Emitter,
        joined: Vec<Bytes>,
        to: &mut JoinTo,
    ) -> Result<(), EmitError> {
        let mut ready = Vec::new();
        for row in joined {
            if out.pipeline.is_done() {
                break;
            }
            out.pipeline
                .push(row, &mut ready)
                .map_err(|e| EmitError::Merge(merge_error(&e)))?;
        }
        self.join_write_rows(out, ready, to).await
    }

    async fn join_write_rows(
        &mut self,
        out: &mut Emitter,
        mut rows: Vec<Bytes>,
        to: &mut JoinTo,
    ) -> Result<(), EmitError> {
        out.rows += rows.len() as u64;
        match to {
            JoinTo::Kept(kept) => kept.keep(&mut rows).map_err(EmitError::Merge),
            JoinTo::Client => {
                for row in rows {
                    self.client.queue_packet(&row);
                    if self.client.write_buffer().len() >= 64 * 1024 {
                        (self.client.flush().await)
                            .map_err(|e| EmitError::Client(End::Client(e)))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Ends the answer: what the pipeline still holds, then (to the client) the terminator.
    async fn join_end(&mut self, mut out: Emitter, to: &mut JoinTo) -> Outcome {
        let mut rest = Vec::new();
        if let Err(e) = out.pipeline.finish(&mut rest) {
            return self.join_fail(to, merge_error(&e)).await;
        }
        if let Err(e) = self.join_write_rows(&mut out, rest, to).await {
            return self.join_failed_emit(to, e).await;
        }
        if let JoinTo::Kept(_) = to {
            return Outcome::Answered(Ok(()));
        }
        self.previous.row_count = -1;
        self.set_found_rows(out.pipeline.found_rows().unwrap_or(out.rows));
        let end = packets::result_terminator(self.capabilities, self.status(), 0);
        self.client.queue_packet(&end);
        Outcome::Answered(self.client.flush().await.map_err(End::Client))
    }

    /// The join failed with `e`: to the client, an error packet ends the answer (after the
    /// column definitions and maybe rows, as MariaDB ends a result that fails midway); kept
    /// rows keep it as why they could not all be had.
    async fn join_fail(&mut self, to: &mut JoinTo, e: ClientError) -> Outcome {
        match to {
            JoinTo::Client => Outcome::Answered(self.send_error(e).await),
            JoinTo::Kept(kept) => {
                kept.failed = Some(e);
                Outcome::Answered(Ok(()))
            }
        }
    }

    async fn join_failed_emit(&mut self, to: &mut JoinTo, e: EmitError) -> Outcome {
        match e {
            EmitError::Merge(e) => self.join_fail(to, e).await,
            EmitError::Client(end) => Outcome::Answered(Err(end)),
        }
    }
}

/// What stopped the rows on their way out.
enum EmitError {
    /// The pipeline failed (a bound): an error packet ends the answer.
    Merge(ClientError),
    /// The client connection failed.
    Client(End),
}

/// Column metadata of a side's definitions.
fn plain_metas(heads: &[BytesMut]) -> Result<Vec<ColumnMeta>, ClientError> {
    heads
        .iter()
        .map(|d| ColumnMeta::from_definition(d).map_err(|e| merge_error(&e)))
        .collect()
}

/// Whether every string the proxy compares (join keys, ORDER BY, groups) arrives in UTF-8 or
/// binary, the only encodings whose collations the merge reproduces, and no floating-point
/// value is added up (MariaDB's sum of doubles depends on its order of rows).
/// The joined columns the proxy compares: join keys (inner ones after the outer side's
/// `width` columns), ORDER BY, groups.
fn compared_columns(plan: &JoinPlan, width: usize) -> Vec<usize> {
    let mut grouped = Vec::new();
    if let Some(grouping) = &plan.grouping {
        let raw = |c: usize| plan.output.get(c).copied().unwrap_or(usize::MAX);
        grouped.extend(
            grouping
                .compared_columns(plan.output.len())
                .into_iter()
                .map(raw),
        );
    }
    (plan.outer.keys.iter().copied())
        .chain(plan.inner.keys.iter().map(|k| k + width))
        .chain(plan.order_by.iter().map(|(c, _)| *c))
        .chain(grouped)
        .collect()
}

fn comparable(plan: &JoinPlan, outer: &[ColumnMeta], inner: &[ColumnMeta]) -> bool {
    let width = outer.len();
    let joined = |c: usize| {
        if c < width {
            outer.get(c)
        } else {
            inner.get(c - width)
        }
    };
    if let Some(grouping) = &plan.grouping {
        let raw = |c: usize| plan.output.get(c).copied().unwrap_or(usize::MAX);
        let summed = grouping.aggregate.iter().flat_map(|a| &a.outputs);
        for c in summed.filter_map(Aggregate::summed_column).map(raw) {
            match joined(c).map(ColumnMeta::kind) {
                Some(ValueKind::Float | ValueKind::Double) | None => return false,
                Some(_) => {}
            }
        }
    }
    for c in compared_columns(plan, width) {
        match joined(c) {
            Some(meta)
                if meta.kind() == ValueKind::Bytes
                    && !shardgate_merge::utf8_or_binary(meta.charset) =>
            {
                return false
            }
            Some(_) => {}
            None => return false,
        }
    }
    true
}

/// The pipeline after the join (sort, limit, projection; grouping) and the client's column
/// definitions.
fn output(
    plan: &JoinPlan,
    outer_heads: &[BytesMut],
    inner_heads: &[BytesMut],
    settings: MergeSettings,
) -> Result<(Pipeline, Vec<Vec<u8>>), ClientError> {
    let memory = settings.memory;
    let mut metas = plain_metas(outer_heads)?;
    let mut definitions: Vec<Vec<u8>> = outer_heads.iter().map(|h| h.to_vec()).collect();
    // A semi- or anti-join's rows are its outer rows alone.
    let inner_heads = if plan.kind.emits_inner() {
        inner_heads
    } else {
        &[]
    };
    for (head, mut meta) in inner_heads.iter().zip(plain_metas(inner_heads)?) {
        metas.push(meta);
        definitions.push(match plan.kind {
            // NULL-extended rows: MariaDB describes the inner columns as nullable.
            JoinKind::Left => {
                meta.flags.remove(ColumnFlags::NOT_NULL_FLAG);
                meta.rewrite_definition(head, None)
                    .map_err(|e| merge_error(&e))?
            }
            _ => head.to_vec(),
        });
    }
    let mut pipeline = Pipeline::default();
    let err = |e: shardgate_merge::MergeError| merge_error(&e);
    if !plan.order_by.is_empty() {
        let keys: Vec<SortKey> = (plan.order_by.iter())
            .map(|&(c, desc)| {
                if desc {
                    SortKey::desc(c)
                } else {
                    SortKey::asc(c)
                }
            })
            .collect();
        let mut sort = Sort::new(&keys, &metas, memory)
            .map_err(err)?
            .with_sort_length(settings.max_sort_length);
        if let Some(limit) = plan.limit {
            sort = sort
                .with_top(usize::try_from(plan.offset.saturating_add(limit)).unwrap_or(usize::MAX));
        }
        pipeline = pipeline.then(sort);
    }
    if plan.offset > 0 || plan.limit.is_some() {
        pipeline = pipeline.then(Limit::new(plan.offset, plan.limit));
    }
    let items = plan
        .output
        .iter()
        .map(|&c| ProjectItem::Column(c))
        .collect();
    pipeline = pipeline.then(Project::new(items, &metas).map_err(err)?);
    let shown: Vec<Vec<u8>> = plan
        .output
        .iter()
        .map(|&c| definitions.get(c).cloned().unwrap_or_default())
        .collect();
    let Some(grouping) = &plan.grouping else {
        // Sorted through a temporary table, MariaDB sends its fields: no key flags.
        let shown = match settings.result_source {
            ResultSource::Table(table) => (shown.iter())
                .map(|d| {
                    let meta = ColumnMeta::from_definition(d)?;
                    table.column(&meta, false).rewrite_definition(d, None)
                })
                .collect::<Result<_, _>>()
                .map_err(err)?,
            _ => shown,
        };
        return Ok((pipeline, shown));
    };
    // The raw rows, sorted by their groups, then merged as a scatter's raw rows.
    let raw: Vec<ColumnMeta> = plan.output.iter().map(|&c| metas[c]).collect();
    let sort = Sort::new(&grouping.merge_keys, &raw, memory)
        .map_err(err)?
        .with_sort_length(settings.max_sort_length);
    let merged = grouping.output(&shown, &raw, &raw, settings).map_err(err)?;
    Ok((
        pipeline.then(sort).then_all(merged.pipeline),
        merged.definitions,
    ))
}
