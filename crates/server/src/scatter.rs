//! Runs a scatter plan: the same SELECT on several shards at once, their rows merged as the
//! plan says and streamed to the client as they are produced.
//!
//! Each shard's rows come from a task of its own through a small bounded channel, so a
//! slow client or a merge waiting on another shard holds back the shards instead of buffering
//! their rows; only operators that must hold rows (a sort, hash grouping) do, under the
//! configured memory bound. A failing shard fails the whole statement, named in the error.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use shardgate_backend::{BackendError, PooledConn, QueryHead};
use shardgate_config::TransactionMode;
use shardgate_merge::{
    Aggregate, BinaryRowEncoder, ColumnMeta, Limit, MemoryLimit, MergeError, MergeSort, Pipeline,
    RowOperator, WindowFunction,
};
use shardgate_protocol::response::Finish;
use shardgate_router::{MergeSettings, ScatterPlan};
use shardgate_wire::packets;
use tokio::sync::mpsc;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};
use crate::statement_clock::under_settings;

/// A scatter the merge cannot answer exactly (a collation it does not reproduce, a session
/// setting it would not honour): the refusal, sent to no one yet, so that the statement can be
/// answered another way (`Session::materialize_instead`).
pub(crate) struct Inexact(pub(crate) ClientError);

impl Inexact {
    /// A refusal of the checks that precede the merge: 1235 only (other errors are a failing
    /// backend's, answered as they are).
    pub(crate) fn of(e: ClientError) -> Result<ClientError, Inexact> {
        match e.code {
            1235 => Err(Inexact(e)),
            _ => Ok(e),
        }
    }
}

/// Where a scatter's merged answer goes.
pub(crate) enum Sink {
    /// To the client: column definitions, rows (binary-protocol rows for a prepared
    /// statement's execution), the end.
    Client { binary: bool },
    /// Kept by the proxy for another statement (`Session::scatter_rows`).
    Kept(KeptRows),
}

/// A scatter's merged rows, kept by the proxy.
pub(crate) struct KeptRows {
    /// The column definitions of the rows.
    pub(crate) definitions: Vec<Vec<u8>>,
    /// Text-protocol rows.
    pub(crate) rows: Vec<Bytes>,
    /// The rows and bytes still allowed (`merge_max_rows`, `merge_max_bytes`).
    room: (u64, u64),
    /// Why the rows could not all be read.
    pub(crate) failed: Option<ClientError>,
    /// The conditions the shards raised.
    pub(crate) diagnostics: Diagnostics,
}

impl KeptRows {
    /// No rows yet, room for the server's `merge_max_rows` / `merge_max_bytes`.
    pub(crate) fn within(settings: &shardgate_config::ServerSettings) -> Self {
        KeptRows {
            definitions: Vec::new(),
            rows: Vec::new(),
            room: (settings.merge_max_rows, settings.merge_max_bytes),
            failed: None,
            diagnostics: Diagnostics::default(),
        }
    }

    /// Keeps `rows`, or 1038 when they pass the room left.
    pub(crate) fn keep(&mut self, rows: &mut Vec<Bytes>) -> Result<(), ClientError> {
        for row in rows.drain(..) {
            let (left, bytes) = &mut self.room;
            if *left == 0 || *bytes < row.len() as u64 {
                return Err(crate::select_rows::too_many_rows(
                    "the SELECT whose rows the statement takes",
                ));
            }
            *left -= 1;
            *bytes -= row.len() as u64;
            self.rows.push(row);
        }
        Ok(())
    }
}

/// Where `merge_rows` puts finished rows.
enum RowsTo<'a> {
    Client(Option<&'a BinaryRowEncoder>),
    Kept(&'a mut KeptRows),
}

/// Rows a shard may send ahead of the merge.
const ROWS_IN_FLIGHT: usize = 256;
/// Client output buffered before a flush.
const FLUSH_AT: usize = 64 * 1024;

/// What a shard's task reports.
enum FromShard {
    Head(Vec<BytesMut>),
    Row(Bytes),
    /// The shard's answer ended; the conditions it raised, read from its connection.
    End {
        warnings: u16,
        diagnostics: Option<Diagnostics>,
    },
    Failed(ClientError),
}

/// A shard's answer as the merge reads it: its messages in order, the next one possibly
/// looked at ahead (whether the shard answers rows) and still to come.
struct ShardInput {
    rx: mpsc::Receiver<FromShard>,
    peeked: Option<FromShard>,
}

impl ShardInput {
    fn new(rx: mpsc::Receiver<FromShard>) -> Self {
        ShardInput { rx, peeked: None }
    }

    async fn recv(&mut self) -> Option<FromShard> {
        match self.peeked.take() {
            Some(message) => Some(message),
            None => self.rx.recv().await,
        }
    }

    /// Whether the shard's next message (after its column definitions) is a row.
    async fn has_rows(&mut self) -> bool {
        if self.peeked.is_none() {
            self.peeked = self.rx.recv().await;
        }
        matches!(self.peeked, Some(FromShard::Row(_)))
    }
}

pub(crate) fn merge_error(e: &MergeError) -> ClientError {
    let (code, state) = e.mysql_code();
    let mut s = [0u8; 5];
    s.copy_from_slice(&state.as_bytes()[..5]);
    ClientError::new(code, &s, e.to_string())
}

/// A shard's server refusing its part: MariaDB's own error, as one server gives it (the
/// shard only logged).
pub(crate) fn server_error(shard: &str, e: shardgate_protocol::ServerErr) -> ClientError {
    tracing::debug!(shard, code = e.code, message = %e.message, "a shard refused its part of a statement");
    ClientError::from(e)
}

/// A failure of the proxy's own on `shard` (its connection, its time bound): named.
fn shard_error(shard: &str, e: ClientError) -> ClientError {
    ClientError {
        message: format!("shard {shard}: {}", e.message),
        ..e
    }
}

/// Reads the rest of an answer nobody wants any more, so that the connection stays usable
/// (a transaction's); a connection that cannot be read to the end is marked broken.
async fn drain(conn: &mut PooledConn, deadline: tokio::time::Instant) {
    loop {
        match tokio::time::timeout_at(deadline, conn.next_row()).await {
            Ok(Ok(Ok(_))) => continue,
            Ok(Ok(Err(Finish::Ok { .. } | Finish::Err(_)))) => return,
            _ => {
                conn.broken = true;
                return;
            }
        }
    }
}

/// Reads one shard's answer into `tx` until it ends, fails, times out or nobody listens.
/// With `keep_conn` (a transaction's connection), an answer nobody listens to any more is
/// read to its end instead of abandoned.
async fn pump(
    conn: &mut PooledConn,
    sql: Arc<str>,
    shard: String,
    timeout: Duration,
    tx: mpsc::Sender<FromShard>,
    keep_conn: bool,
) {
    // Counts only time spent waiting on the shard: `send` moves it on by the time the merge
    // (held back by its client) kept the shard's rows waiting.
    let mut deadline = tokio::time::Instant::now() + timeout;
    let timed_out = |shard: &str| {
        ClientError::new(
            1969,
            b"70100",
            format!(
                "shard {shard} did not answer within {} ms (scatter_timeout_ms)",
                timeout.as_millis()
            ),
        )
    };
    let failed = |e: &BackendError| shard_error(&shard, ClientError::from(e));
    let head = match tokio::time::timeout_at(deadline, conn.query_rows(sql.as_bytes())).await {
        Err(_) => {
            conn.broken = true;
            let _ = tx.send(FromShard::Failed(timed_out(&shard))).await;
            return;
        }
        Ok(Err(e)) => {
            let _ = tx.send(FromShard::Failed(failed(&e))).await;
            return;
        }
        Ok(Ok(QueryHead::Done(Finish::Err(e)))) => {
            let _ = tx.send(FromShard::Failed(server_error(&shard, e))).await;
            return;
        }
        Ok(Ok(QueryHead::Done(_))) => {
            let e = ClientError::new(
                1105,
                b"HY000",
                format!("shard {shard} answered without a result set"),
            );
            let _ = tx.send(FromShard::Failed(e)).await;
            return;
        }
        Ok(Ok(QueryHead::Columns(columns))) => columns,
    };
    if send(&tx, FromShard::Head(head), &mut deadline)
        .await
        .is_err()
    {
        if keep_conn {
            drain(conn, deadline).await;
        } else {
            conn.broken = true; // the rest of the answer is unread
        }
        return;
    }
    loop {
        let message = match tokio::time::timeout_at(deadline, conn.next_row()).await {
            Err(_) => {
                conn.broken = true;
                FromShard::Failed(timed_out(&shard))
            }
            Ok(Err(e)) => FromShard::Failed(failed(&e)),
            Ok(Ok(Ok(row))) => FromShard::Row(row),
            Ok(Ok(Err(finish @ Finish::Ok { warnings, .. }))) => FromShard::End {
                warnings,
                diagnostics: crate::diagnostics::after(conn, &finish).await,
            },
            Ok(Ok(Err(Finish::Err(e)))) => FromShard::Failed(server_error(&shard, e)),
            Ok(Ok(Err(Finish::LocalInfile))) => {
                FromShard::Failed(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"))
            }
        };
        let last = !matches!(message, FromShard::Row(_));
        if send(&tx, message, &mut deadline).await.is_err() {
            if keep_conn && !last {
                drain(conn, deadline).await;
            } else if !last {
                conn.broken = true;
            }
            return;
        }
        if last {
            return;
        }
    }
}

/// Hands `message` to the merge. Time spent waiting for room (a merge held back by a client
/// that reads slowly) moves `deadline` on: `scatter_timeout_ms` bounds the shard, not the
/// client, whose own bound is `client_write_timeout_ms`.
async fn send(
    tx: &mpsc::Sender<FromShard>,
    message: FromShard,
    deadline: &mut tokio::time::Instant,
) -> Result<(), ()> {
    match tx.try_send(message) {
        Ok(()) => Ok(()),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        Err(mpsc::error::TrySendError::Full(message)) => {
            let waited = tokio::time::Instant::now();
            let sent = tx.send(message).await;
            *deadline += waited.elapsed();
            sent.map_err(drop)
        }
    }
}

fn locking_read_in_single_mode() -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        "a locking read (FOR UPDATE, LOCK IN SHARE MODE) on several shards inside a transaction is not supported in transaction_mode \"single\", where a transaction writes and locks rows on one shard: add the shard key to its WHERE clause, or use transaction_mode \"multi\"",
    )
}

/// The binary protocol sends MariaDB's double whole, not rounded to the result's decimals: its
/// last bits come from MariaDB's running computation in its row order, which the merge cannot
/// reproduce (the text protocol's rounded digits it does).
fn variance_in_binary() -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        "STDDEV/VARIANCE across shards in a prepared statement is not supported: the binary protocol shows the last bits of MariaDB's double, which depend on its row order; run it as a text query",
    )
}

impl Session {
    /// The merge's memory bound and the session settings its answer depends on.
    pub(crate) fn merge_settings(&self, runtime: &Runtime) -> MergeSettings {
        let server = &runtime.topology.server;
        MergeSettings {
            memory: MemoryLimit {
                max_rows: Some(server.merge_max_rows),
                max_bytes: Some(server.merge_max_bytes),
            },
            group_concat_max_len: self.group_concat_max_len(),
            connection_binsort: self.connection_binsort(),
            result_source: shardgate_router::ResultSource::Unasked,
            max_sort_length: self.max_sort_length(),
        }
    }

    /// Whether the session's `collation_connection` sorts by binary (`_bin`), set by itself or
    /// by `SET NAMES … COLLATE`.
    fn connection_binsort(&self) -> bool {
        ["collation_connection", "names"].iter().any(|var| {
            self.state
                .var_string(var)
                .or_else(|| {
                    let text = self.state.var_text(var)?;
                    Some(String::from_utf8_lossy(text).into_owned())
                })
                .is_some_and(|v| v.to_ascii_lowercase().contains("_bin"))
        })
    }

    /// The session's `max_sort_length` (MariaDB's default when it set none), within the range
    /// MariaDB takes: the bytes of a string the shards sorted by, and so the merge.
    pub(crate) fn max_sort_length(&self) -> usize {
        let set = self.state.var_number("max_sort_length");
        set.map_or(shardgate_collation::DEFAULT_SORT_LENGTH, |n| {
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .clamp(64, 8_388_608)
        })
    }

    /// The session's `group_concat_max_len` (MariaDB's default when it set none).
    fn group_concat_max_len(&self) -> u64 {
        self.state
            .var_number("group_concat_max_len")
            .unwrap_or(1_048_576)
    }

    /// Runs `plan` and streams the merged answer, as binary-protocol rows with `binary` (a
    /// prepared statement's execution). Inside a transaction in transaction_mode "multi" it
    /// runs on the transaction's connections, joining the shards it has not reached yet.
    /// `Err` when the merge would not be exact, before anything reached the client.
    /// `text` is the client's statement: an error a shard raises before its rows (MariaDB's
    /// parser and name resolution judge the text the shards got) is MariaDB's judgement of
    /// `text` when it refuses that too.
    pub(crate) async fn scatter(
        &mut self,
        runtime: &Runtime,
        plan: &ScatterPlan,
        binary: bool,
        text: &[u8],
    ) -> Result<Step, Inexact> {
        self.scatter_into(runtime, plan, &mut Sink::Client { binary }, Some(text))
            .await
    }

    /// `e`, a shard's error before any row of a statement the proxy rewrote for it, or
    /// MariaDB's own error for the client's `text` when it refuses that as it prepares it with
    /// the same code (a syntax error quoting the text the client wrote, not the shard's; no
    /// shard named).
    async fn judged_as_written(
        &self,
        runtime: &Runtime,
        text: Option<&[u8]>,
        e: ClientError,
    ) -> ClientError {
        let Some(text) = text else {
            return e;
        };
        // The same error only: the default shard's fresh connection may lack what the
        // shards' had (a temporary table) and refuse the text for another reason.
        match self.prepared_on_default_shard(runtime, text).await {
            Ok(Some(refused)) if refused.code == e.code => ClientError::from(refused),
            _ => e,
        }
    }

    /// The merged rows of `plan`, kept by the proxy (a SELECT whose rows another statement
    /// takes: `select_rows.rs`), within `merge_max_rows` / `merge_max_bytes` (1038 beyond).
    /// Nothing reaches the client; the session's `sql_select_limit` does not apply.
    pub(crate) async fn merged_rows(
        &mut self,
        runtime: &Runtime,
        plan: &ScatterPlan,
    ) -> Result<KeptRows, ClientError> {
        let mut sink = Sink::Kept(KeptRows::within(&runtime.topology.server));
        match self.scatter_into(runtime, plan, &mut sink, None).await {
            Err(Inexact(e)) => return Err(e),
            Ok(Err(End::Client(e))) => return Err(ClientError::new(1158, b"08S01", e.to_string())),
            Ok(Err(End::BrokenAnswer(e))) => return Err(ClientError::new(1105, b"HY000", e)),
            Ok(Ok(())) => {}
        }
        let Sink::Kept(mut kept) = sink else {
            unreachable!("the sink stays what it was")
        };
        match kept.failed.take() {
            Some(e) => Err(e),
            None => Ok(kept),
        }
    }

    /// `e` ends the scatter before any answer: the failure of rows the proxy keeps, or the
    /// client's error.
    async fn fail(&mut self, sink: &mut Sink, e: ClientError) -> Step {
        match sink {
            Sink::Kept(kept) => {
                kept.failed = Some(e);
                Ok(())
            }
            Sink::Client { .. } => self.send_error(e).await,
        }
    }

    async fn scatter_into(
        &mut self,
        runtime: &Runtime,
        plan: &ScatterPlan,
        sink: &mut Sink,
        client_text: Option<&[u8]>,
    ) -> Result<Step, Inexact> {
        let binary = matches!(sink, Sink::Client { binary: true });
        let kept = matches!(sink, Sink::Kept(_));
        // Inside a transaction the shards' reads join it (in transaction_mode "single" too:
        // reading on several shards commits nothing on them).
        let in_txn = self.in_transaction();
        if let Some(e) = self.unmergeable_session(plan) {
            return Err(Inexact(e));
        }
        if binary && plan.merge.computes_variance() {
            return Err(Inexact(variance_in_binary()));
        }
        if in_txn {
            // A locking read locks rows on every shard it reads: what transaction_mode
            // "single" keeps to one shard.
            let mode = runtime.topology.server.transaction_mode;
            if plan.locking
                && plan.shards.len() > 1
                && (self.pins.txn()).map_or(mode == TransactionMode::Single, |t| {
                    t.writes_one_shard(mode)
                })
            {
                return Ok(self.fail(sink, locking_read_in_single_mode()).await);
            }
            for &shard in &plan.shards {
                if let Err(e) = self.join_txn(runtime, shard, plan.locking).await {
                    return Ok(self.fail(sink, e).await);
                }
            }
        }
        // The connections the session keeps (its transaction's, or one holding its state) are
        // lent to the shards' tasks and come back afterwards; the other shards get pooled ones.
        let mut pinned: Vec<Option<PooledConn>> = Vec::with_capacity(plan.shards.len());
        for &shard in &plan.shards {
            let Some(mut conn) = self.pins.take(shard) else {
                pinned.push(None);
                continue;
            };
            let ready = self.before_statement(&mut conn).await;
            pinned.push(Some(conn));
            if let Err(e) = ready {
                for (&shard, conn) in plan.shards.iter().zip(pinned) {
                    if let Some(conn) = conn {
                        self.pins.give_back(shard, conn);
                    }
                }
                return Ok(self.fail(sink, ClientError::from(&e)).await);
            }
        }
        let this = &*self;
        let checkouts = plan
            .shards
            .iter()
            .zip(pinned)
            .map(|(&shard, pinned)| async move {
                match pinned {
                    Some(conn) => Ok((conn, true)),
                    None => this
                        .checkout(runtime, shard)
                        .await
                        .map(|conn| (conn, false))
                        .map_err(|e| ClientError::from(&e)),
                }
            });
        let conns: Vec<Result<(PooledConn, bool), ClientError>> =
            futures_util::future::join_all(checkouts).await;
        let settings = &runtime.topology.server;
        let mut inputs = Vec::with_capacity(conns.len());
        let mut lent = Vec::new();
        let mut refused = None;
        // Rows kept for another statement are all of them, as MariaDB's INSERT … SELECT reads.
        let unlimited = self.shards_unlimited(plan) || (kept && self.state.select_limit_set());
        let no_limit = format!("sql_select_limit = {}", u64::MAX);
        let clock = self.statement_clock();
        let statement_settings: Vec<&str> = (clock.as_deref().into_iter())
            .chain(unlimited.then_some(no_limit.as_str()))
            .collect();
        for (i, (&shard, conn)) in plan.shards.iter().zip(conns).enumerate() {
            let name = runtime.topology.shards[shard].name.clone();
            let (mut conn, kept) = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    refused.get_or_insert(shard_error(&name, e));
                    continue;
                }
            };
            let (tx, rx) = mpsc::channel(ROWS_IN_FLIGHT);
            // Each shard's own statement (its IN-list values only).
            let sql: Arc<str> = Arc::from(under_settings(plan.sql_for(i), &statement_settings));
            let timeout = settings.scatter_timeout;
            let meter = runtime.instruments.primary(shard).clone();
            // The shard's task keeps the statement's time bound.
            let bound = shardgate_protocol::deadline::current();
            let task = tokio::spawn(async move {
                let _timed = meter.time(shardgate_router::StatementKind::Read);
                let pumped = pump(&mut conn, sql, name, timeout, tx, kept);
                crate::statement_time::bounded(bound, pumped).await;
                conn
            });
            if kept {
                lent.push((shard, task));
            }
            inputs.push(ShardInput::new(rx));
        }
        let merged = match (refused, &mut *sink) {
            (Some(e), Sink::Kept(kept)) => {
                kept.failed = Some(e);
                Ok(Ok(()))
            }
            (Some(e), Sink::Client { .. }) => {
                drop(inputs);
                Ok(self.send_error(e).await)
            }
            (None, sink) => {
                self.merge_scatter(runtime, plan, inputs, sink, client_text)
                    .await
            }
        };
        // The kept connections come back once their shards' answers are read.
        let mut lost = None;
        for (shard, task) in lent {
            match task.await {
                Ok(conn) if !conn.broken => self.pins.give_back(shard, conn),
                Ok(conn) => {
                    self.pins.give_back(shard, conn);
                    lost = Some(runtime.topology.shards[shard].name.clone());
                }
                Err(_) => lost = Some(runtime.topology.shards[shard].name.clone()),
            }
        }
        if let Some(shard) = lost {
            self.pins = Default::default();
            if let Ok(Err(end)) = merged {
                return Ok(Err(end));
            }
            return Ok(Err(End::BrokenAnswer(format!(
                "shard {shard}: a pinned connection broke during a statement over several shards"
            ))));
        }
        merged
    }

    /// Reads the shards' answers from `inputs`, merges them and writes the result; `Err` when
    /// the shards' columns show that the merge would not be exact (nothing sent).
    async fn merge_scatter(
        &mut self,
        runtime: &Runtime,
        plan: &ScatterPlan,
        mut inputs: Vec<ShardInput>,
        sink: &mut Sink,
        client_text: Option<&[u8]>,
    ) -> Result<Step, Inexact> {
        let binary = matches!(sink, Sink::Client { binary: true });
        // Kept rows: errors are the caller's to answer.
        macro_rules! fail {
            ($e:expr) => {{
                let e = $e;
                match sink {
                    Sink::Kept(kept) => {
                        kept.failed = Some(e);
                        return Ok(Ok(()));
                    }
                    Sink::Client { .. } => return Ok(self.send_error(e).await),
                }
            }};
        }
        // Every shard's column definitions first: a shard that fails before its first row
        // fails the statement before anything reaches the client.
        let mut heads = Vec::with_capacity(inputs.len());
        for rx in &mut inputs {
            match rx.recv().await {
                Some(FromShard::Head(head)) => heads.push(head),
                Some(FromShard::Failed(e)) => {
                    fail!(self.judged_as_written(runtime, client_text, e).await)
                }
                _ => {
                    fail!(ClientError::new(
                        1105,
                        b"HY000",
                        "a shard ended its answer early",
                    ))
                }
            }
        }
        let disputed = crate::scatter_nullability::disputed(&heads);
        if !disputed.is_empty() {
            // Cut key lists: one server reads several keys, no shard's constant table counts.
            let mut voters = vec![true; heads.len()];
            if plan.shard_sql.is_empty() {
                for (input, votes) in inputs.iter_mut().zip(&mut voters) {
                    *votes = input.has_rows().await;
                }
                if !voters.contains(&true) {
                    voters.fill(true);
                }
            }
            crate::scatter_nullability::settle(&mut heads, &disputed, &voters);
        }
        if let Some(head) = heads.first_mut().filter(|_| !plan.null_extended.is_empty()) {
            crate::scatter_nullability::clear_null_extended(head, &plan.null_extended);
        }
        let Some(head) = heads.first() else {
            fail!(ClientError::new(1105, b"HY000", "no shard to ask"));
        };
        if let Some(e) = crate::schema_loader::stale_star(runtime, plan, &heads) {
            fail!(e);
        }
        // MariaDB's extended type information is taken out of the definitions for the merge
        // and put back into those the client gets.
        let (plain, extended) = match self.flavor.extended_metadata() {
            true => match crate::extended_metadata::split(head) {
                Ok((plain, columns)) => (Some(plain), Some(columns)),
                Err(e) => fail!(e),
            },
            false => (None, None),
        };
        let head = plain.as_deref().unwrap_or(head);
        let (delivered, metas) = match self.merge_columns(runtime, plan, head).await {
            Ok(columns) => columns,
            Err(e) => fail!(Inexact::of(e)?),
        };
        let merge_settings = self.merge_settings(runtime);
        // A merge it cannot build exactly (1235) goes to the copies, as above.
        let mut output = match plan.merge.output(head, &metas, &delivered, merge_settings) {
            Ok(output) => output,
            Err(e) => fail!(Inexact::of(merge_error(&e))?),
        };
        if let Sink::Kept(kept) = sink {
            kept.definitions = output.definitions.clone();
            let rows_to = RowsTo::Kept(kept);
            let merged =
                (self.merge_rows(plan, &metas, &mut output.pipeline, &mut inputs, rows_to)).await;
            if let Sink::Kept(kept) = sink {
                match merged {
                    Ok((_, diagnostics, _)) => kept.diagnostics = diagnostics,
                    Err(e) => {
                        kept.failed.get_or_insert(e);
                    }
                }
            }
            return Ok(Ok(()));
        }
        if plan.merge.limit.is_none() {
            // sql_select_limit applies to the whole answer (each shard applied it to its part).
            if let Some(limit) = self.state.var_number("sql_select_limit") {
                output.pipeline =
                    std::mem::take(&mut output.pipeline).then(Limit::new(0, Some(limit)));
            }
        }
        let encoder = if binary {
            let metas: Result<Vec<ColumnMeta>, _> = output
                .definitions
                .iter()
                .map(|d| ColumnMeta::from_definition(d))
                .collect();
            match metas {
                Ok(metas) => Some(BinaryRowEncoder::new(&metas)),
                Err(e) => fail!(merge_error(&e)),
            }
        } else {
            None
        };
        let status = self.status();
        match &extended {
            Some(columns) => {
                let metadata = crate::extended_metadata::of_outputs(&plan.merge, columns);
                let definitions = (output.definitions.iter().zip(&metadata))
                    .map(|(d, m)| shardgate_wire::column_definition::with_extended_metadata(d, m));
                (self.client).queue_result_head(definitions, self.capabilities, status);
            }
            None => (self.client).queue_result_head(
                output.definitions.iter(),
                self.capabilities,
                status,
            ),
        }
        match self
            .merge_rows(
                plan,
                &metas,
                &mut output.pipeline,
                &mut inputs,
                RowsTo::Client(encoder.as_ref()),
            )
            .await
        {
            Ok((warnings, diagnostics, sent)) => {
                if warnings > 0 {
                    self.diagnostics = diagnostics;
                    self.diagnostics_read = true;
                }
                self.previous.row_count = -1;
                if matches!(
                    self.statement_select,
                    shardgate_router::SelectKind::Plain | shardgate_router::SelectKind::Paged
                ) {
                    // With an offset, MariaDB counts the rows it skipped too.
                    self.set_found_rows(output.pipeline.found_rows().unwrap_or(sent));
                }
                let end = packets::result_terminator(self.capabilities, self.status(), warnings);
                self.client.queue_packet(&end);
            }
            // The header is out: an error packet in place of the next row tells the client.
            Err(e) => {
                self.answered_error = true;
                self.client.queue_packet(&e.encode())
            }
        }
        drop(inputs); // unfinished shards stop (their connections are closed, not reused)
        Ok(self.client.flush().await.map_err(End::Client))
    }

    /// The columns the shards' definitions `head` describe, as delivered and with the
    /// collations the merge compares by; `Err` (1235) when the merge would not compare them as
    /// MariaDB does (ENUM / SET order, collations it does not reproduce), or the error that
    /// kept them from being read.
    pub(crate) async fn merge_columns(
        &self,
        runtime: &Runtime,
        plan: &ScatterPlan,
        head: &[BytesMut],
    ) -> Result<(Vec<ColumnMeta>, Vec<ColumnMeta>), ClientError> {
        let metas: Result<Vec<ColumnMeta>, _> = head
            .iter()
            .map(|d| ColumnMeta::from_definition(d))
            .collect();
        let mut metas = metas.map_err(|e| merge_error(&e))?;
        // MariaDB orders ENUM and SET by their index, not their text: not mergeable here.
        let by_index = |c: usize| {
            metas.get(c).is_some_and(|m| {
                m.flags.intersects(
                    shardgate_merge::ColumnFlags::ENUM_FLAG
                        | shardgate_merge::ColumnFlags::SET_FLAG,
                )
            })
        };
        let keyed = plan.merge.merge_keys.iter().map(|k| k.column);
        let grouped = plan
            .merge
            .aggregate
            .iter()
            .flat_map(|a| a.group_by.iter().copied());
        if keyed.chain(grouped).any(by_index) {
            let e = ClientError::new(
                1235,
                b"42000",
                "ORDER BY / GROUP BY / DISTINCT on an ENUM or SET column across shards is not supported yet: order by CAST(col AS CHAR) or col+0",
            );
            return Err(e);
        }
        let delivered = metas.clone();
        self.resolve_collations(runtime, plan, head, &mut metas)
            .await?;
        Ok((delivered, metas))
    }

    /// Feeds the shards' rows through the merge and the pipeline, writing rows out as they come;
    /// returns the shards' warning count, their conditions, and the rows sent.
    async fn merge_rows(
        &mut self,
        plan: &ScatterPlan,
        metas: &[ColumnMeta],
        pipeline: &mut Pipeline,
        inputs: &mut [ShardInput],
        mut rows_to: RowsTo<'_>,
    ) -> Result<(u16, Diagnostics, u64), ClientError> {
        let mut warnings = (0u16, Diagnostics::default());
        let mut sent = 0u64;
        let mut out = Vec::new();
        let receive = |message: Option<FromShard>,
                       warnings: &mut (u16, Diagnostics)|
         -> Result<Option<Bytes>, ClientError> {
            match message {
                Some(FromShard::Row(row)) => Ok(Some(row)),
                Some(FromShard::End {
                    warnings: w,
                    diagnostics,
                }) => {
                    warnings.0 = warnings.0.saturating_add(w);
                    if let Some(d) = diagnostics {
                        warnings.1.extend(d);
                    }
                    Ok(None)
                }
                Some(FromShard::Failed(e)) => Err(e),
                Some(FromShard::Head(_)) | None => Err(ClientError::new(
                    1105,
                    b"HY000",
                    "a shard's answer broke off",
                )),
            }
        };
        if plan.merge.merge_keys.is_empty() {
            'shards: for rx in inputs.iter_mut() {
                while let Some(row) = receive(rx.recv().await, &mut warnings)? {
                    pipeline.push(row, &mut out).map_err(|e| merge_error(&e))?;
                    sent += out.len() as u64;
                    self.emit(&mut out, &mut rows_to).await?;
                    if pipeline.is_done() {
                        break 'shards;
                    }
                }
            }
        } else {
            let mut merge = MergeSort::new(inputs.len(), &plan.merge.merge_keys, metas)
                .map_err(|e| merge_error(&e))?
                .with_sort_length(self.max_sort_length());
            'merge: loop {
                while let Some((_, row)) = merge.pop() {
                    pipeline.push(row, &mut out).map_err(|e| merge_error(&e))?;
                    sent += out.len() as u64;
                    self.emit(&mut out, &mut rows_to).await?;
                    if pipeline.is_done() {
                        break 'merge;
                    }
                }
                if merge.is_done() {
                    break;
                }
                let waiting: Vec<usize> = merge.waiting().collect();
                for input in waiting {
                    match receive(inputs[input].recv().await, &mut warnings)? {
                        Some(row) => merge.push(input, row),
                        None => merge.finish(input),
                    }
                    .map_err(|e| merge_error(&e))?;
                }
            }
        }
        if pipeline.is_done() && plan.merge.shards_limited() {
            // The answer is complete, but the shards' ends carry the warnings they raised
            // (a truncated constant, which one server raises too; a strict INSERT … SELECT
            // fails on it): read to them — at most `LIMIT offset + count` rows each, and the
            // connections are kept instead of closed. A shard failing on rows the answer does
            // not hold fails nothing, as one server would not have read them.
            for rx in inputs.iter_mut() {
                while let Ok(Some(_)) = receive(rx.recv().await, &mut warnings) {}
            }
        }
        pipeline.finish(&mut out).map_err(|e| merge_error(&e))?;
        sent += out.len() as u64;
        self.emit(&mut out, &mut rows_to).await?;
        let (raised, count) = pipeline.warnings();
        if count > 0 {
            warnings.0 = warnings
                .0
                .saturating_add(u16::try_from(count).unwrap_or(u16::MAX));
            let raised: Vec<(u16, String)> =
                raised.into_iter().map(|w| (w.code, w.message)).collect();
            warnings.1.extend(Diagnostics::warnings(&raised, count));
        }
        Ok((warnings.0, warnings.1, sent))
    }

    /// Queues finished rows for the client (re-encoded with `encoder` for a binary result),
    /// flushing when enough are buffered; or keeps them, within their room.
    async fn emit(
        &mut self,
        rows: &mut Vec<Bytes>,
        rows_to: &mut RowsTo<'_>,
    ) -> Result<(), ClientError> {
        let encoder = match rows_to {
            RowsTo::Client(encoder) => *encoder,
            RowsTo::Kept(kept) => return kept.keep(rows),
        };
        let mut binary = Vec::new();
        for row in rows.drain(..) {
            match encoder {
                Some(encoder) => {
                    encoder
                        .encode(&row, &mut binary)
                        .map_err(|e| merge_error(&e))?;
                    self.client.queue_packet(&binary);
                }
                None => self.client.queue_packet(&row),
            }
        }
        if self.client.write_buffer().len() >= FLUSH_AT {
            // A client that went away ends the statement; the session ends at its next read.
            if let Err(e) = self.client.flush().await {
                return Err(ClientError::new(
                    1158,
                    b"08S01",
                    format!("client write failed: {e}"),
                ));
            }
        }
        Ok(())
    }
}

impl Session {
    /// Session settings the merge would not honour: refused instead of answered differently.
    pub(crate) fn unmergeable_session(&self, plan: &ScatterPlan) -> Option<ClientError> {
        let refuse = |why: &str| {
            Some(ClientError::new(
                1235,
                b"42000",
                format!("{why} is not supported for a statement across shards yet"),
            ))
        };
        let divides = plan.merge.aggregate.as_ref().is_some_and(|a| {
            a.outputs
                .iter()
                .any(Aggregate::uses_div_precision_increment)
        }) || plan.merge.window.as_ref().is_some_and(|w| {
            w.functions.iter().any(|(_, f)| {
                matches!(f, WindowFunction::Aggregate(a) if a.uses_div_precision_increment())
            })
        });
        if divides
            && self
                .state
                .var_number("div_precision_increment")
                .is_some_and(|n| n != 4)
        {
            return refuse(
                "AVG(), STDDEV() or VARIANCE() with a div_precision_increment other than 4",
            );
        }
        // Grouping shards send every group (`shards_unlimited`), the merge limits the whole:
        // by a number it knows.
        if self.shards_unlimited(plan) && self.state.var_number("sql_select_limit").is_none() {
            return refuse(
                "GROUP BY, aggregates or DISTINCT under a session sql_select_limit that is not a number",
            );
        }
        None
    }

    /// Whether the shards must run `plan`'s statement without the session's
    /// `sql_select_limit`: grouping shards send every group (a limit would cut groups the
    /// merge combines), a window's every row, and the merge applies the limit to the whole.
    fn shards_unlimited(&self, plan: &ScatterPlan) -> bool {
        (plan.merge.aggregate.is_some() || plan.merge.window.is_some() || plan.merge.distinct)
            && self.state.select_limit_set()
    }

    /// Gives string columns the merge compares their real collation: column definitions carry
    /// the connection's, so columns of tables are looked up in information_schema (once per
    /// column, cached), and what cannot be compared exactly is refused.
    pub(crate) async fn resolve_collations(
        &self,
        runtime: &Runtime,
        plan: &ScatterPlan,
        heads: &[BytesMut],
        metas: &mut [ColumnMeta],
    ) -> Result<(), ClientError> {
        for c in plan.merge.compared_columns(metas.len()) {
            let (Some(meta), Some(head)) = (metas.get(c), heads.get(c)) else {
                continue;
            };
            if !meta.holds_text() {
                continue;
            }
            let column: Option<mysql_common::packets::Column> =
                mysql_common::io::ParseBuf(head).parse(()).ok();
            let name = column
                .as_ref()
                .map_or_else(String::new, |c| c.name_str().into_owned());
            if !shardgate_merge::utf8_or_binary(meta.charset) {
                return Err(ClientError::new(
                    1235,
                    b"42000",
                    format!("comparing `{name}` across shards needs UTF-8 results: SET NAMES utf8mb4 first"),
                ));
            }
            // Over a derived table the definition names it, not the table beneath.
            let described = column.as_ref().filter(|_| !plan.over_derived);
            let origin = described.and_then(|col| {
                let table = col.org_table_str();
                (!table.is_empty()).then(|| {
                    (
                        col.schema_str().into_owned(),
                        table.into_owned(),
                        col.org_name_str().into_owned(),
                    )
                })
            });
            // MariaDB names no table for `MAX(col)`: the planner knows where it comes from.
            let origin = origin.or_else(|| match plan.origins.get(c) {
                Some(shardgate_router::ColumnOrigin::Column { table, column }) => {
                    Some((self.state.database.clone(), table.clone(), column.clone()))
                }
                _ => None,
            });
            let unknown = || {
                ClientError::new(
                    1235,
                    b"42000",
                    format!("comparing `{name}` across shards needs the collation of an expression whose columns differ in collation, or that sets one itself, which shardgate does not know yet; compare a plain column"),
                )
            };
            let derived = match (&origin, plan.origins.get(c)) {
                (None, Some(shardgate_router::ColumnOrigin::Expression)) => return Err(unknown()),
                (None, Some(shardgate_router::ColumnOrigin::Derived(columns))) => {
                    // MariaDB gives a function of columns of one collation that collation.
                    let mut ids = Vec::with_capacity(columns.len());
                    for (table, column) in columns {
                        let key = (self.state.database.clone(), table.clone(), column.clone());
                        let id = runtime
                            .column_collation(plan.shards[0], self.flavor, key)
                            .await
                            .map_err(|e| ClientError::from(&e))?;
                        ids.push(id);
                    }
                    match ids.first() {
                        Some(Some(first)) if ids.iter().all(|id| *id == Some(*first)) => {
                            Some(*first)
                        }
                        _ => return Err(unknown()),
                    }
                }
                _ => None,
            };
            let real = match (derived, origin) {
                (Some(id), _) => id,
                (None, Some(origin)) => runtime
                    .column_collation(plan.shards[0], self.flavor, origin)
                    .await
                    .map_err(|e| ClientError::from(&e))?
                    .unwrap_or(meta.charset),
                (None, None) => meta.charset,
            };
            if !shardgate_merge::compares_exactly(meta.charset, real) {
                let collation = mysql_common::collations::Collation::resolve(
                    mysql_common::collations::CollationId::from(real),
                );
                return Err(ClientError::new(
                    1235,
                    b"42000",
                    format!(
                        "ordering or grouping `{name}` across shards uses collation {}, which shardgate cannot compare exactly yet (general_ci, unicode_ci and bin of utf8mb4 and utf8mb3, latin1_swedish_ci under UTF-8 results, and binary work)",
                        collation.collation()
                    ),
                ));
            }
            metas[c].charset = real;
        }
        Ok(())
    }
}
