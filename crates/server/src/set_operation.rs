//! Runs a set operation across shards (`shardgate_router::SetOperationPlan`): the result's
//! column definitions from the whole statement run with `LIMIT 0` on the default shard (so
//! names and widened types are MariaDB's), each branch run as planned (one shard, a scatter
//! merged by its own `MergeSpec`, a nested set operation) and its cells converted to those
//! types, the branches combined by `shardgate_merge::combine`, then the whole's ORDER BY and
//! LIMIT. Every row the operation holds counts against `merge_max_rows` / `merge_max_bytes`
//! (1038 beyond).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use shardgate_backend::{PooledConn, QueryHead};
use shardgate_merge::{
    BinaryRowEncoder, ColumnMeta, MemoryLimit, MergeSort, RowOperator, SetRows, Sort, SortKey,
    Widening,
};
use shardgate_protocol::response::Finish;
use shardgate_ring::ShardId;
use shardgate_router::{OrderTarget, Route, ScatterPlan, SetNode, SetOperationPlan};
use shardgate_wire::packets;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::scatter::{merge_error, server_error, Inexact};
use crate::session::{End, Session, Step};
use crate::statement_clock::under_settings;

/// A result: the column definitions as a shard sent them, the plain metadata, the rows.
pub(crate) struct Evaluated {
    pub(crate) heads: Vec<BytesMut>,
    pub(crate) metas: Vec<ColumnMeta>,
    pub(crate) rows: Vec<Bytes>,
    /// Rows before the whole's LIMIT: what MariaDB's `FOUND_ROWS()` counts after it.
    pub(crate) found: u64,
}

/// A shard's answer: its column definitions and rows.
type ShardAnswer = (Vec<BytesMut>, Vec<Bytes>);

/// Why a set operation gave no rows.
pub(crate) enum SetFailure {
    /// The statement's error.
    Error(ClientError),
    /// A connection the session keeps broke: the session ends.
    Lost(End),
}

/// The warnings the branches raised, counted, and their conditions (for `SHOW WARNINGS`).
pub(crate) type Conditions = (u16, Diagnostics);

fn refused(what: &str) -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        format!("{what} is not supported for a set operation across shards yet"),
    )
}

fn unknown_order_column(name: &str) -> ClientError {
    ClientError::new(
        1054,
        b"42S22",
        format!("Unknown column '{name}' in 'order clause'"),
    )
}

/// Runs `sql` on `conn` and reads its whole answer: column definitions and rows, each row
/// held under `held`.
async fn read_all(
    conn: &mut PooledConn,
    sql: &[u8],
    shard: &str,
    held: &Mutex<SetRows>,
    keep: bool,
    conditions: Option<&Mutex<Conditions>>,
) -> Result<ShardAnswer, ClientError> {
    let named = |e: ClientError| ClientError {
        message: format!("shard {shard}: {}", e.message),
        ..e
    };
    let heads = match conn.query_rows(sql).await {
        Ok(QueryHead::Columns(heads)) => heads,
        Ok(QueryHead::Done(Finish::Err(e))) => return Err(server_error(shard, e)),
        Ok(QueryHead::Done(_)) => {
            return Err(ClientError::new(
                1105,
                b"HY000",
                format!("shard {shard} answered without a result set"),
            ))
        }
        Err(e) => return Err(named(ClientError::from(&e))),
    };
    let mut rows = Vec::new();
    let mut failed = None;
    loop {
        match conn.next_row().await {
            // Past the bound: a kept connection (a transaction's) is read to the end of the
            // answer and stays usable; a pooled one is dropped with the rest unread.
            Ok(Ok(_)) if failed.is_some() => {}
            Ok(Ok(row)) => {
                if let Err(e) = lock(held).hold(&row) {
                    failed = Some(merge_error(&e));
                    rows = Vec::new();
                    if !keep {
                        conn.broken = true;
                        break;
                    }
                    continue;
                }
                rows.push(row);
            }
            Ok(Err(Finish::Ok { .. })) if failed.is_some() => break,
            Ok(Err(finish @ Finish::Ok { warnings, .. })) => {
                if let Some(conditions) = conditions {
                    let raised = crate::diagnostics::after(conn, &finish).await;
                    let mut kept = conditions.lock().unwrap_or_else(PoisonError::into_inner);
                    kept.0 = kept.0.saturating_add(warnings);
                    if let Some(raised) = raised {
                        kept.1.extend(raised);
                    }
                }
                return Ok((heads, rows));
            }
            Ok(Err(Finish::Err(e))) => return Err(server_error(shard, e)),
            Ok(Err(Finish::LocalInfile)) => {
                conn.broken = true;
                return Err(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"));
            }
            Err(e) => return Err(named(ClientError::from(&e))),
        }
    }
    Err(failed.unwrap_or_else(|| ClientError::new(1105, b"HY000", "a shard's answer broke off")))
}

/// The connections the session keeps (its transaction's, or ones holding temporary tables or
/// locks), lent to the set operation by shard; other shards get pooled connections.
struct Lent(Mutex<Vec<Option<PooledConn>>>);

impl Lent {
    fn take(&self, shard: ShardId) -> Option<PooledConn> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(shard)
            .and_then(Option::take)
    }

    fn give_back(&self, shard: ShardId, conn: PooledConn) {
        if let Some(slot) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(shard)
        {
            *slot = Some(conn);
        }
    }
}

/// Every shard the tree reads, and the metadata shard.
fn shards_of(plan: &SetOperationPlan, out: &mut Vec<ShardId>) {
    fn walk(node: &SetNode, out: &mut Vec<ShardId>) {
        match node {
            SetNode::Combine { left, right, .. } => {
                walk(left, out);
                walk(right, out);
            }
            SetNode::Branch { plan, .. } => match &plan.route {
                Route::Shard(shard) => out.push(*shard),
                Route::Scatter(scatter) => out.extend(&scatter.shards),
                Route::SetOperation(inner) => shards_of(inner, out),
                _ => {}
            },
        }
    }
    out.push(plan.metadata_shard);
    walk(&plan.tree, out);
    out.sort_unstable();
    out.dedup();
}

/// The held rows' account: locked only between awaits, never across one.
fn lock(held: &Mutex<SetRows>) -> std::sync::MutexGuard<'_, SetRows> {
    held.lock().unwrap_or_else(PoisonError::into_inner)
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ClientError>> + Send + 'a>>;

/// What one execution shares across the tree: the session's runtime, the held rows' account
/// and the connections the session lends.
struct Run<'a> {
    runtime: &'a Runtime,
    held: Mutex<SetRows>,
    lent: Lent,
    conditions: Mutex<Conditions>,
    /// What every query runs under (`SET STATEMENT … FOR`): the statement's clock, and no
    /// row limit when the session limits SELECTs.
    settings: Vec<String>,
    /// No connection is lent: branches run at once, each on pooled connections (a lent
    /// connection serves one query at a time, so with one the branches run in turn).
    concurrent: bool,
}

impl Session {
    /// Runs `plan` and writes its answer (binary-protocol rows with `binary`). Inside a
    /// transaction the branches read on its connections, joining the shards it has not
    /// reached yet (as a scatter does); the session's other kept connections (temporary
    /// tables, locks) are used where it has them.
    /// A refusal of the proxy's own (1235: a collation it does not compare, …), sent to no
    /// one yet, comes back as `Inexact`: copies of the tables answer instead.
    pub(crate) async fn set_operation(
        &mut self,
        runtime: &Runtime,
        plan: &SetOperationPlan,
        binary: bool,
    ) -> Result<Step, Inexact> {
        // A session's sql_select_limit limits the whole, not its branches (MariaDB's rule).
        let session_limit = match self.state.select_limit_set() {
            false => None,
            true => match self.state.var_number("sql_select_limit") {
                Some(n) => Some(n),
                None => {
                    let e = refused("a session sql_select_limit that is not a number");
                    return Ok(self.send_error(e).await);
                }
            },
        };
        Ok(
            match self.set_operation_rows(runtime, plan, session_limit).await {
                Ok((result, conditions)) => self.write_result(result, conditions, binary).await,
                Err(SetFailure::Error(e)) => self.send_error(Inexact::of(e)?).await,
                Err(SetFailure::Lost(end)) => Err(end),
            },
        )
    }

    /// Evaluates `plan` in the proxy: its rows (the whole limited by `session_limit`, a
    /// session's sql_select_limit, which its branches do not apply) and the conditions its
    /// branches raised.
    pub(crate) async fn set_operation_rows(
        &mut self,
        runtime: &Runtime,
        plan: &SetOperationPlan,
        session_limit: Option<u64>,
    ) -> Result<(Evaluated, Conditions), SetFailure> {
        let mut shards = Vec::new();
        shards_of(plan, &mut shards);
        if self.in_transaction() {
            for &shard in &shards {
                self.join_txn(runtime, shard, false)
                    .await
                    .map_err(SetFailure::Error)?;
            }
        }
        let mut lent: Vec<Option<PooledConn>> = Vec::new();
        lent.resize_with(runtime.topology.shards.len(), || None);
        let mut ready = Ok(());
        for &shard in &shards {
            if let Some(mut conn) = self.pins.take(shard) {
                if ready.is_ok() {
                    ready = self.before_statement(&mut conn).await;
                }
                lent[shard] = Some(conn);
            }
        }
        let settings = &runtime.topology.server;
        let memory = MemoryLimit {
            max_rows: Some(settings.merge_max_rows),
            max_bytes: Some(settings.merge_max_bytes),
        };
        let concurrent = lent.iter().all(Option::is_none);
        let run = Run {
            runtime,
            held: Mutex::new(SetRows::new(memory)),
            lent: Lent(Mutex::new(lent)),
            conditions: Mutex::new(Conditions::default()),
            settings: (self.statement_clock().into_iter())
                .chain(
                    (self.state.select_limit_set())
                        .then(|| format!("sql_select_limit = {}", u64::MAX)),
                )
                .collect(),
            concurrent,
        };
        let result = match ready {
            Ok(()) => self.evaluate_whole(&run, plan).await,
            Err(e) => Err(ClientError::from(&e)),
        };
        // The kept connections come back; one that broke ends the session's hold on them.
        let lent = run
            .lent
            .0
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let conditions = run
            .conditions
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut lost = None;
        for (shard, conn) in lent.into_iter().enumerate() {
            if let Some(conn) = conn {
                if conn.broken {
                    lost = Some(runtime.topology.shards[shard].name.clone());
                }
                self.pins.give_back(shard, conn);
            }
        }
        if let Some(shard) = lost {
            self.pins = Default::default();
            return Err(SetFailure::Lost(End::BrokenAnswer(format!(
                "shard {shard}: a pinned connection broke during a set operation across shards"
            ))));
        }
        let mut result = result.map_err(SetFailure::Error)?;
        if let (None, Some(n)) = (plan.limit, session_limit) {
            result
                .rows
                .truncate(usize::try_from(n).unwrap_or(usize::MAX));
        }
        Ok((result, conditions))
    }

    /// Writes rows the proxy holds as the statement's answer (binary rows for a prepared
    /// statement's execution), with its conditions.
    pub(crate) async fn write_result(
        &mut self,
        result: Evaluated,
        (warnings, raised): Conditions,
        binary: bool,
    ) -> Step {
        let encoder = binary.then(|| BinaryRowEncoder::new(&result.metas));
        let status = self.status();
        (self.client).queue_result_head(result.heads.iter(), self.capabilities, status);
        let mut buffer = Vec::new();
        for row in &result.rows {
            match &encoder {
                Some(encoder) => {
                    if let Err(e) = encoder.encode(row, &mut buffer) {
                        self.answered_error = true;
                        self.client.queue_packet(&merge_error(&e).encode());
                        return self.client.flush().await.map_err(End::Client);
                    }
                    self.client.queue_packet(&buffer);
                }
                None => self.client.queue_packet(row),
            }
            if self.client.write_buffer().len() >= 64 * 1024 {
                self.client.flush().await.map_err(End::Client)?;
            }
        }
        self.previous.row_count = -1;
        self.set_found_rows(result.found);
        if warnings > 0 {
            self.diagnostics = raised;
            self.diagnostics_read = true;
        }
        let end = packets::result_terminator(self.capabilities, self.status(), warnings);
        self.client.queue_packet(&end);
        self.client.flush().await.map_err(End::Client)
    }

    /// Runs `sql` on `shard` (the lent connection if the session keeps one there) and reads
    /// the whole answer.
    /// `branch`: a branch's rows, whose warnings are the statement's.
    async fn read_on(
        &self,
        run: &Run<'_>,
        shard: ShardId,
        sql: &str,
        branch: bool,
    ) -> Result<ShardAnswer, ClientError> {
        let name = &run.runtime.topology.shards[shard].name;
        let conditions = branch.then_some(&run.conditions);
        let settings: Vec<&str> = run.settings.iter().map(String::as_str).collect();
        let under = under_settings(sql, &settings);
        let sql = under.as_str();
        match run.lent.take(shard) {
            Some(mut conn) => {
                let answer =
                    read_all(&mut conn, sql.as_bytes(), name, &run.held, true, conditions).await;
                run.lent.give_back(shard, conn);
                answer
            }
            None => {
                let mut conn = self
                    .checkout(run.runtime, shard)
                    .await
                    .map_err(|e| ClientError::from(&e))?;
                read_all(
                    &mut conn,
                    sql.as_bytes(),
                    name,
                    &run.held,
                    false,
                    conditions,
                )
                .await
            }
        }
    }

    /// The whole's result: its columns from the metadata shard, its rows combined, ordered
    /// and limited.
    fn evaluate_whole<'a>(
        &'a self,
        run: &'a Run<'a>,
        plan: &'a SetOperationPlan,
    ) -> Boxed<'a, Evaluated> {
        Box::pin(async move {
            let shard = plan.metadata_shard;
            let (heads, _) = self.read_on(run, shard, &plan.metadata_sql, false).await?;
            let mut metas = self.plain_metas(&heads)?;
            if compares(&plan.tree) || !plan.order_by.is_empty() {
                self.real_collations(run, plan, &mut metas).await?;
            }
            let rows = self.evaluate(run, &plan.tree, &metas).await?;
            let found = rows.len() as u64;
            let sort_length = self.max_sort_length();
            let rows = order_and_limit(plan, &heads, &metas, rows, sort_length)?;
            Ok(Evaluated {
                heads,
                metas,
                rows,
                found,
            })
        })
    }

    /// Column metadata without MariaDB's extended type information.
    pub(crate) fn plain_metas(&self, heads: &[BytesMut]) -> Result<Vec<ColumnMeta>, ClientError> {
        let plain;
        let heads = match self.flavor.extended_metadata() {
            true => {
                plain = crate::extended_metadata::split(heads)?.0;
                &plain[..]
            }
            false => heads,
        };
        heads
            .iter()
            .map(|d| ColumnMeta::from_definition(d).map_err(|e| merge_error(&e)))
            .collect()
    }

    /// Gives the result's string columns their real collation (definitions carry the
    /// connection's), asked of MariaDB over the whole statement; refuses collations the
    /// proxy does not compare exactly.
    async fn real_collations(
        &self,
        run: &Run<'_>,
        plan: &SetOperationPlan,
        metas: &mut [ColumnMeta],
    ) -> Result<(), ClientError> {
        let strings: Vec<usize> = (0..metas.len())
            .filter(|&c| metas[c].holds_text())
            .collect();
        if strings.is_empty() {
            return Ok(());
        }
        if let Some(&c) = strings
            .iter()
            .find(|&&c| !shardgate_merge::utf8_or_binary(metas[c].charset))
        {
            return Err(refused(&format!(
                "comparing column {} of a result not in UTF-8 (SET NAMES utf8mb4 first)",
                c + 1
            )));
        }
        let names: Vec<String> = (1..=metas.len()).map(|i| format!("c{i}")).collect();
        let asked: Vec<String> = strings
            .iter()
            .map(|c| format!("COLLATION(t.c{})", c + 1))
            .collect();
        // LIMIT: the session's sql_select_limit (0 hides every row) must not hide the answer.
        let sql = format!(
            "WITH t ({}) AS ({}) SELECT {} FROM (SELECT 1) AS d LEFT JOIN t ON 1 LIMIT 1",
            names.join(", "),
            plan.unordered_sql,
            asked.join(", ")
        );
        let (_, rows) = self.read_on(run, plan.metadata_shard, &sql, false).await?;
        let row = rows.first().ok_or_else(|| {
            ClientError::new(
                1105,
                b"HY000",
                "no collations for the set operation's columns",
            )
        })?;
        let row = shardgate_merge::TextRow::parse(row.clone(), strings.len())
            .map_err(|e| merge_error(&e))?;
        for (i, &c) in strings.iter().enumerate() {
            let name = std::str::from_utf8(row.cell(i).unwrap_or_default()).unwrap_or_default();
            let id = shardgate_merge::collation_id(name)
                .ok_or_else(|| refused(&format!("column {} in collation {name}", c + 1)))?;
            if !shardgate_merge::compares_exactly(metas[c].charset, id) {
                return Err(refused(&format!(
                    "comparing column {} in collation {name} (general_ci, unicode_ci and bin of utf8mb4 and utf8mb3, latin1_swedish_ci under UTF-8 results, and binary work)",
                    c + 1
                )));
            }
            metas[c].charset = id;
        }
        Ok(())
    }

    /// The rows of `node`, in the whole's types (`metas`).
    fn evaluate<'a>(
        &'a self,
        run: &'a Run<'a>,
        node: &'a SetNode,
        metas: &'a [ColumnMeta],
    ) -> Boxed<'a, Vec<Bytes>> {
        Box::pin(async move {
            match node {
                SetNode::Combine {
                    op,
                    all,
                    left,
                    right,
                } => {
                    let (left, right) = match run.concurrent {
                        // Both sides run to their end even when one fails: a side dropped
                        // halfway would leave its pooled connections' answers unread.
                        true => {
                            let (left, right) = futures_util::future::join(
                                self.evaluate(run, left, metas),
                                self.evaluate(run, right, metas),
                            )
                            .await;
                            (left?, right?)
                        }
                        false => (
                            self.evaluate(run, left, metas).await?,
                            self.evaluate(run, right, metas).await?,
                        ),
                    };
                    shardgate_merge::combine(*op, *all, left, right, metas, &mut lock(&run.held))
                        .map_err(|e| merge_error(&e))
                }
                SetNode::Branch { sql, plan } => {
                    let branch = match &plan.route {
                        Route::Shard(shard) => {
                            let text = plan.rewritten.as_deref().unwrap_or(sql);
                            let (heads, rows) = self.read_on(run, *shard, text, true).await?;
                            let metas = self.plain_metas(&heads)?;
                            let found = rows.len() as u64;
                            Evaluated {
                                heads,
                                metas,
                                rows,
                                found,
                            }
                        }
                        Route::Scatter(scatter) => self.scatter_rows(run, scatter).await?,
                        Route::SetOperation(inner) => self.evaluate_whole(run, inner).await?,
                        _ => return Err(refused("a branch of this kind")),
                    };
                    let widening =
                        Widening::new(&branch.metas, metas).map_err(|e| merge_error(&e))?;
                    branch
                        .rows
                        .into_iter()
                        .map(|row| {
                            let before = row.len();
                            let row = widening
                                .apply(row, &branch.metas)
                                .map_err(|e| merge_error(&e))?;
                            if row.len() > before {
                                let grown = Bytes::from(vec![0; row.len() - before]);
                                lock(&run.held).hold(&grown).map_err(|e| merge_error(&e))?;
                            }
                            Ok(row)
                        })
                        .collect()
                }
            }
        })
    }

    /// A scatter branch: every shard's rows read whole, merged by the branch's own plan.
    async fn scatter_rows(
        &self,
        run: &Run<'_>,
        plan: &ScatterPlan,
    ) -> Result<Evaluated, ClientError> {
        let runtime = run.runtime;
        if let Some(e) = self.unmergeable_session(plan) {
            return Err(e);
        }
        let reads = (plan.shards.iter().enumerate())
            .map(|(i, &shard)| self.read_on(run, shard, plan.sql_for(i), true));
        let answers: Vec<Result<ShardAnswer, ClientError>> =
            futures_util::future::join_all(reads).await;
        let mut heads = Vec::with_capacity(answers.len());
        let mut inputs = Vec::with_capacity(answers.len());
        for answer in answers {
            let (head, rows) = answer?;
            heads.push(head);
            inputs.push(rows);
        }
        if let Some(e) = crate::schema_loader::stale_star(runtime, plan, &heads) {
            return Err(e);
        }
        let head = heads
            .first()
            .ok_or_else(|| ClientError::new(1105, b"HY000", "no shard to ask"))?;
        let plain = match self.flavor.extended_metadata() {
            true => crate::extended_metadata::split(head)?.0,
            false => head.clone(),
        };
        let mut metas = self.plain_metas(head)?;
        let delivered = metas.clone();
        self.resolve_collations(runtime, plan, &plain, &mut metas)
            .await?;
        let mut output = (plan.merge)
            .output(&plain, &metas, &delivered, self.merge_settings(runtime))
            .map_err(|e| merge_error(&e))?;
        let mut rows = Vec::new();
        let mut out = Vec::new();
        let fail = |e: shardgate_merge::MergeError| merge_error(&e);
        if plan.merge.merge_keys.is_empty() {
            'inputs: for input in inputs {
                for row in input {
                    output.pipeline.push(row, &mut out).map_err(fail)?;
                    rows.append(&mut out);
                    if output.pipeline.is_done() {
                        break 'inputs;
                    }
                }
            }
        } else {
            let mut merge = MergeSort::new(inputs.len(), &plan.merge.merge_keys, &metas)
                .map_err(fail)?
                .with_sort_length(self.max_sort_length());
            let mut inputs: Vec<std::vec::IntoIter<Bytes>> =
                inputs.into_iter().map(Vec::into_iter).collect();
            'merge: loop {
                while let Some((_, row)) = merge.pop() {
                    output.pipeline.push(row, &mut out).map_err(fail)?;
                    rows.append(&mut out);
                    if output.pipeline.is_done() {
                        break 'merge;
                    }
                }
                if merge.is_done() {
                    break;
                }
                let waiting: Vec<usize> = merge.waiting().collect();
                for input in waiting {
                    match inputs[input].next() {
                        Some(row) => merge.push(input, row),
                        None => merge.finish(input),
                    }
                    .map_err(fail)?;
                }
            }
        }
        output.pipeline.finish(&mut out).map_err(fail)?;
        rows.append(&mut out);
        let metas = output
            .definitions
            .iter()
            .map(|d| ColumnMeta::from_definition(d).map_err(|e| merge_error(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        let heads = output
            .definitions
            .iter()
            .map(|d| BytesMut::from(&d[..]))
            .collect();
        let found = rows.len() as u64;
        Ok(Evaluated {
            heads,
            metas,
            rows,
            found,
        })
    }
}

/// The id of the collation MariaDB names `name`.
/// Whether any node compares rows (every form but `UNION ALL`).
fn compares(node: &SetNode) -> bool {
    match node {
        SetNode::Branch { .. } => false,
        SetNode::Combine {
            op,
            all,
            left,
            right,
        } => {
            !(*all && *op == shardgate_merge::SetOperator::Union)
                || compares(left)
                || compares(right)
        }
    }
}

/// The whole's ORDER BY (by position, or by a column name of the result) and LIMIT.
fn order_and_limit(
    plan: &SetOperationPlan,
    heads: &[BytesMut],
    metas: &[ColumnMeta],
    rows: Vec<Bytes>,
    sort_length: usize,
) -> Result<Vec<Bytes>, ClientError> {
    let mut rows = rows;
    if !plan.order_by.is_empty() {
        let names: Vec<String> = heads
            .iter()
            .map(|d| {
                shardgate_wire::column_definition::column_name(d)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let keys = plan
            .order_by
            .iter()
            .map(|k| {
                let column = match &k.target {
                    OrderTarget::Position(n) => usize::try_from(*n)
                        .ok()
                        .filter(|&n| n >= 1 && n <= metas.len())
                        .map(|n| n - 1)
                        .ok_or_else(|| unknown_order_column(&n.to_string()))?,
                    OrderTarget::Name(name) => names
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(name))
                        .ok_or_else(|| unknown_order_column(name))?,
                };
                Ok(if k.descending {
                    SortKey::desc(column)
                } else {
                    SortKey::asc(column)
                })
            })
            .collect::<Result<Vec<_>, ClientError>>()?;
        let mut sort = Sort::new(&keys, metas, MemoryLimit::UNLIMITED)
            .map_err(|e| merge_error(&e))?
            .with_sort_length(sort_length);
        for row in rows {
            sort.push_row(row).map_err(|e| merge_error(&e))?;
        }
        rows = sort.finish_rows();
    }
    let skip = usize::try_from(plan.offset).unwrap_or(usize::MAX);
    let take = plan
        .limit
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(rows.into_iter().skip(skip).take(take).collect())
}
