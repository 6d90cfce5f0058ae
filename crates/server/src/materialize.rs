//! Runs a `Route::Materialize` plan (`shardgate_router::MaterializePlan`): on one compute
//! connection of the default shard — the session's own there when it keeps one (its
//! transaction's: the copies then read its uncommitted writes), else a pooled one — each
//! sharded table the statement names becomes a temporary table of the same name and
//! definition (its engine too, so MariaDB plans over it as over the table), which shadows the
//! base table; its rows are copied in:
//! the compute shard's own rows by the server itself (`CREATE TEMPORARY TABLE … AS SELECT`
//! into a staging table first, as the base table is out of reach once shadowed), every other
//! shard's read in the text protocol and written back as exact literals
//! (`shardgate_router::Transport`) in `INSERT`s of at most `BATCH_BYTES`. Then the client's
//! statement runs there unchanged (a prepared statement's execution: prepared there with its
//! values written in) and its answer is forwarded as a single shard's is. The
//! temporary tables are dropped when it ends; a statement cancelled with tables left closes
//! its compute connection instead of pooling it (which drops them).

use std::sync::Arc;

use bytes::BytesMut;

use shardgate_backend::{PooledConn, QueryHead};
use shardgate_protocol::response::Finish;
use shardgate_protocol::stmt::ExecuteRequest;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;
use shardgate_router::{
    quote_identifier, string_literal, temporary_definition, MaterializePlan, OverDerived, Plan,
    Route, SqlMode, StatementKind, TableCopy, Transport,
};

use crate::copy_narrowing::{narrowed_copies, narrowed_reads, NarrowedCopy};
use crate::derived_rows::{fill_derived, OverDerivedWork};
use crate::errors::{copy_duplicate, materialize_bound, ClientError};
use crate::executor::{run_work, Execution, Work};
use crate::runtime::Runtime;
use crate::select_rows::{read_rows, Bound, RowsOf, Selected};
use crate::session::{Session, Step};
use crate::statement_clock::under_settings;

/// The largest `INSERT` text a copy sends (well below MariaDB's default `max_allowed_packet`
/// of 16 MiB); the proxy holds at most one such batch.
pub(crate) const BATCH_BYTES: usize = 1024 * 1024;

/// The compute connection and the temporary tables made on it. Dropped with tables left (a
/// statement cancelled: the client went away, or a KILL), the connection is closed, never
/// pooled, so no other statement sees them.
pub(crate) struct Compute {
    conn: Option<PooledConn>,
    shard: ShardId,
    pinned: bool,
    /// Quoted names of the temporary tables on it.
    pub(crate) temporary: Vec<String>,
}

impl Compute {
    pub(crate) fn conn(&mut self) -> &mut PooledConn {
        self.conn.as_mut().expect("held until the statement ends")
    }

    /// Runs `sql` (a statement answering OK) and gives its affected rows.
    pub(crate) async fn run(&mut self, sql: &str) -> Result<u64, ClientError> {
        let conn = self.conn();
        match conn.execute(Command::COM_QUERY, sql.as_bytes()).await {
            Ok(Finish::Ok { affected_rows, .. }) => Ok(affected_rows),
            Ok(Finish::Err(e)) => Err(ClientError::from(e)),
            Ok(Finish::LocalInfile) => {
                conn.broken = true;
                Err(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"))
            }
            Err(e) => Err(ClientError::from(&e)),
        }
    }

    /// Drops the temporary tables; a connection that cannot is not used again.
    async fn drop_tables(&mut self) {
        if self.temporary.is_empty() {
            return;
        }
        let sql = format!(
            "DROP TEMPORARY TABLE IF EXISTS {}",
            self.temporary.join(", ")
        );
        if self.run(&sql).await.is_err() {
            self.conn().broken = true;
        }
        self.temporary.clear();
    }

    /// The connection, its tables dropped.
    fn into_conn(mut self) -> PooledConn {
        self.conn.take().expect("held until the statement ends")
    }
}

impl Drop for Compute {
    fn drop(&mut self) {
        if let (Some(conn), false) = (self.conn.as_mut(), self.temporary.is_empty()) {
            conn.broken = true;
        }
    }
}

/// One column of a copied table: its name, quoted name, how its values travel, and whether
/// it holds integers.
pub(crate) struct CopyColumn {
    pub(crate) name: String,
    pub(crate) quoted: String,
    transport: Transport,
    pub(crate) integer: bool,
}

/// The rows and bytes the statement's copies read so far, against `merge_max_rows` /
/// `merge_max_bytes`.
struct Copied {
    rows: u64,
    bytes: u64,
    max_rows: u64,
    max_bytes: u64,
}

impl Copied {
    fn add(&mut self, rows: u64, bytes: u64) -> Result<(), ClientError> {
        self.rows += rows;
        self.bytes += bytes;
        if self.rows > self.max_rows {
            return Err(materialize_bound("merge_max_rows", self.max_rows, "rows"));
        }
        if self.bytes > self.max_bytes {
            return Err(materialize_bound(
                "merge_max_bytes",
                self.max_bytes,
                "bytes",
            ));
        }
        Ok(())
    }
}

impl Session {
    /// `plan` again, once the schema cache holds the tables whose columns would narrow its
    /// copies or plan the Join primitive (`MaterializePlan::uncached`: created, or changed by
    /// DDL, since the cache was read): another materialize plan, or a join across shards in
    /// the proxy; `None` keeps it (nothing to read, or the read failed).
    pub(crate) async fn planned_with_columns(
        &self,
        runtime: &Runtime,
        plan: &MaterializePlan,
        text: &[u8],
    ) -> Option<Route> {
        if plan.uncached.is_empty() {
            return None;
        }
        let sql = std::str::from_utf8(text).ok()?;
        let schema = runtime.topology.schema.current();
        if plan.uncached.iter().any(|t| schema.agreed(t).is_none()) {
            crate::schema_loader::load_tables(runtime, &plan.uncached)
                .await
                .ok()?;
        }
        match crate::schema_loader::plan_knowing_views(runtime, sql, self.syntax).await {
            Ok(Plan {
                route: route @ (Route::Materialize(_) | Route::Join(_)),
                ..
            }) => Some(route),
            _ => None,
        }
    }

    /// Runs `plan` for the statement `text` (see the module's comment).
    pub(crate) async fn materialize(
        &mut self,
        runtime: &Runtime,
        plan: &MaterializePlan,
        text: &[u8],
        kind: StatementKind,
        binary: bool,
    ) -> Step {
        let compute_shard = plan.compute_shard;
        let (mut compute, over_derived) =
            match Box::pin(self.materialized_compute(runtime, plan, text, binary)).await {
                Ok(prepared) => prepared,
                Err(e) => return self.send_error(e).await,
            };
        // A prepared statement's execution (its values written in) answers in binary rows:
        // prepared and executed, without parameters, on the compute connection.
        let execution = binary.then(|| Execution {
            sql: Arc::from(text),
            request: ExecuteRequest {
                statement_id: 0,
                flags: 0,
                null_bitmap: &[],
                types: None,
                values: &[],
            },
            types: None,
            long_data: Vec::new(),
        });
        let work = match &execution {
            Some(execution) => Work::Execute(execution),
            None => Work::Command(Command::COM_QUERY, text),
        };
        let meter = runtime.instruments.primary(compute_shard);
        let result = match &over_derived {
            Some((over, described)) => {
                let work = OverDerivedWork {
                    sql: over.sql.as_bytes(),
                    described,
                    over,
                    status: self.status(),
                    capabilities: self.capabilities,
                    binary,
                };
                run_work!(self, compute.conn(), meter, kind, &work)
            }
            None => run_work!(self, compute.conn(), meter, kind, &work),
        };
        compute.drop_tables().await;
        let pool = compute.conn().pool().clone();
        self.give_back_compute(runtime, compute);
        self.forwarded(result, &pool).await
    }

    /// The rows of `sql`, planned as `plan`, for `request` (`select_rows.rs`): read on the
    /// compute connection over the copies (or its derived tables' rows), within `bound`.
    pub(crate) async fn materialized_rows(
        &mut self,
        runtime: &Runtime,
        plan: &MaterializePlan,
        sql: &str,
        request: &RowsOf<'_>,
        bound: &mut Bound,
        selected: &mut Selected,
    ) -> Result<(), ClientError> {
        let (mut compute, over_derived) =
            Box::pin(self.materialized_compute(runtime, plan, sql.as_bytes(), false)).await?;
        // Over the rows of its derived tables when they could be read (their types are the
        // derived tables' own, so the rows read are those the statement gives).
        let sql = over_derived.map_or(sql, |(over, _)| over.sql.as_str());
        let sql = under_settings(sql, &Vec::from_iter(self.no_select_limit().as_deref()));
        let read = read_rows(compute.conn(), &sql, request, bound, selected).await;
        // A connection whose answer was left unread cannot drop its tables: it is closed.
        if !compute.conn().broken {
            compute.drop_tables().await;
        }
        self.give_back_compute(runtime, compute);
        read
    }

    /// The compute connection with `plan`'s copies made on it, and, when they can be read
    /// (`derived_rows.rs`), the rows of the statement's derived tables with the statement's
    /// description over them.
    async fn materialized_compute<'p>(
        &mut self,
        runtime: &Runtime,
        plan: &'p MaterializePlan,
        text: &[u8],
        binary: bool,
    ) -> Result<(Compute, Option<(&'p OverDerived, Vec<BytesMut>)>), ClientError> {
        let compute_shard = plan.compute_shard;
        // Over the rows of its derived tables (read first: the compute shard's connection
        // may serve them), when it has some (`derived_rows.rs`).
        let derived = match plan.over_derived.as_ref() {
            Some(over) => Box::pin(self.read_derived(runtime, over))
                .await
                .map(|tables| (over, tables)),
            None => None,
        };
        if self.in_transaction() {
            let mut shards: Vec<ShardId> = plan
                .copies
                .iter()
                .flat_map(|c| c.shards.iter().copied())
                .chain([compute_shard])
                .collect();
            shards.sort_unstable();
            shards.dedup();
            for shard in shards {
                self.join_txn(runtime, shard, false).await?;
            }
        }
        let (conn, pinned) = match self.pins.take(compute_shard) {
            Some(conn) => (conn, true),
            None => (
                (self.checkout(runtime, compute_shard).await).map_err(|e| ClientError::from(&e))?,
                false,
            ),
        };
        let mut compute = Compute {
            conn: Some(conn),
            shard: compute_shard,
            pinned,
            temporary: Vec::new(),
        };
        let prepared = match pinned {
            true => self.prepare_pinned(&mut compute).await,
            false => Ok(()),
        };
        let mut over_derived = None;
        let mut narrowed = Vec::new();
        if let (Ok(()), Some((over, tables))) = (&prepared, derived) {
            let narrowing = narrowed_copies(over, &tables);
            match fill_derived(&mut compute, over, tables, text, binary).await {
                Ok(described) => {
                    over_derived = Some((over, described));
                    narrowed = narrowing;
                }
                Err(_) => compute.drop_tables().await,
            }
        }
        if plan.over_derived.is_some() {
            let result = if over_derived.is_some() {
                "used"
            } else {
                "declined"
            };
            (shardgate_metrics::metrics().derived_rows_total)
                .with_label_values(&[result])
                .inc();
        }
        let copies = over_derived
            .as_ref()
            .map_or(&plan.copies, |(o, _)| &o.copies);
        let copied = match prepared {
            Ok(()) => {
                self.copy_tables(runtime, copies, &narrowed, &mut compute)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = copied {
            compute.drop_tables().await;
            self.give_back_compute(runtime, compute);
            return Err(e);
        }
        Ok((compute, over_derived))
    }

    /// A kept connection follows the session's database (a USE since it was pinned) and gets
    /// the ids the statement may read, as `on_pinned` does.
    async fn prepare_pinned(&self, compute: &mut Compute) -> Result<(), ClientError> {
        let conn = compute.conn();
        self.state.follow_database_pinned(conn).await?;
        self.before_statement(conn)
            .await
            .map_err(|e| ClientError::from(&e))
    }

    /// The compute connection goes back where it came from.
    fn give_back_compute(&mut self, runtime: &Runtime, compute: Compute) {
        let (shard, pinned) = (compute.shard, compute.pinned);
        let conn = compute.into_conn();
        if pinned {
            self.pins.give_back(shard, conn);
            self.pins.release_unneeded(runtime.topology.default_shard);
        }
    }

    /// Makes `copies` on the compute connection, those `narrowed` reading only the rows
    /// joining a derived table's.
    async fn copy_tables(
        &mut self,
        runtime: &Runtime,
        copies: &[TableCopy],
        narrowed: &[NarrowedCopy],
        compute: &mut Compute,
    ) -> Result<(), ClientError> {
        let settings = &runtime.topology.server;
        let mut copied = Copied {
            rows: 0,
            bytes: 0,
            max_rows: settings.merge_max_rows,
            max_bytes: settings.merge_max_bytes,
        };
        for (n, copy) in copies.iter().enumerate() {
            let narrowed = narrowed.iter().find(|x| x.copy == n);
            self.copy_table(runtime, copy, narrowed, n, compute, &mut copied)
                .await?;
        }
        Ok(())
    }

    /// One table's copy: its definition and columns read on the compute connection, its
    /// temporary table made and filled.
    async fn copy_table(
        &mut self,
        runtime: &Runtime,
        copy: &TableCopy,
        narrowed: Option<&NarrowedCopy>,
        n: usize,
        compute: &mut Compute,
        copied: &mut Copied,
    ) -> Result<(), ClientError> {
        let name = copy.quoted_name();
        let shown = query_cells(compute.conn(), &format!("SHOW CREATE TABLE {name}"), 2).await?;
        let definition = shown
            .first()
            .and_then(|row| row.get(1).cloned().flatten())
            .ok_or_else(|| copy_failed(&copy.table, "SHOW CREATE TABLE gave no definition"))?;
        let columns = self.copy_columns(compute, copy).await?;
        let list: Vec<&str> = columns.iter().map(|c| c.quoted.as_str()).collect();
        let list = list.join(", ");
        let (filter, shards) = narrowed_reads(runtime, copy, narrowed, &columns);
        let filter = filter.map_or_else(String::new, |f| format!(" WHERE {f}"));
        let insert_head = format!(
            "SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00' FOR INSERT INTO {name} ({list}) "
        );
        let duplicate = |e: ClientError| match e.code {
            1062 => copy_duplicate(&copy.table, &e.message),
            _ => e,
        };
        // The compute shard's own rows, copied by the server before the base table is shadowed.
        let staged = shards.contains(&compute.shard).then(|| {
            let stage = quote_identifier(&format!("shardgate_copy_{n}"));
            match &copy.database {
                Some(db) => format!("{}.{stage}", quote_identifier(db)),
                None => stage,
            }
        });
        if let Some(stage) = &staged {
            let sql = format!(
                "CREATE TEMPORARY TABLE {stage} ENGINE=Aria TRANSACTIONAL=0 AS SELECT {list} FROM {name}{filter}{ALL_ROWS}"
            );
            compute.temporary.push(stage.clone());
            let rows = compute.run(&sql).await?;
            copied.add(rows, 0)?;
        }
        let temporary = temporary_definition(&definition, &name)
            .ok_or_else(|| copy_failed(&copy.table, "its definition is not a CREATE TABLE"))?;
        compute.temporary.push(name.clone());
        compute.run(&temporary).await?;
        if let Some(stage) = staged {
            let sql = format!("{insert_head}SELECT * FROM {stage}");
            compute.run(&sql).await.map_err(duplicate)?;
            compute
                .run(&format!("DROP TEMPORARY TABLE {stage}"))
                .await?;
            compute.temporary.retain(|t| *t != stage);
        }
        let reads: Vec<String> = columns
            .iter()
            .map(|c| c.transport.read_expr(&c.quoted))
            .collect();
        let read = format!("SELECT {} FROM {name}{filter}{ALL_ROWS}", reads.join(", "));
        let compute_shard = compute.shard;
        for &shard in shards.iter().filter(|s| **s != compute_shard) {
            let insert = format!("{insert_head}VALUES ");
            self.copy_from(runtime, shard, &read, &insert, &columns, compute, copied)
                .await
                .map_err(duplicate)?;
        }
        Ok(())
    }

    /// The columns a copy reads and writes: every column of the table but generated ones
    /// (recomputed by the copy), invisible ones included, in table order.
    async fn copy_columns(
        &self,
        compute: &mut Compute,
        copy: &TableCopy,
    ) -> Result<Vec<CopyColumn>, ClientError> {
        let no_backslash = self.syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
        let schema = match &copy.database {
            Some(db) => string_literal(db, no_backslash),
            None => "DATABASE()".to_owned(),
        };
        let sql = format!(
            "SELECT COLUMN_NAME, DATA_TYPE, IS_GENERATED FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION{ALL_ROWS}",
            string_literal(&copy.table, no_backslash)
        );
        let rows = query_cells(compute.conn(), &sql, 3).await?;
        let columns: Vec<CopyColumn> = rows
            .into_iter()
            .filter(|row| row[2].as_deref() == Some("NEVER"))
            .filter_map(|row| {
                let name = row[0].as_deref()?;
                let data_type = row[1].as_deref()?.to_ascii_lowercase();
                Some(CopyColumn {
                    name: name.to_owned(),
                    quoted: quote_identifier(name),
                    transport: Transport::of(&data_type),
                    integer: matches!(
                        data_type.as_str(),
                        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                    ),
                })
            })
            .collect();
        match columns.is_empty() {
            true => Err(copy_failed(
                &copy.table,
                "information_schema lists no columns",
            )),
            false => Ok(columns),
        }
    }

    /// Reads `read` on `shard` (the session's connection there if it keeps one, else a pooled
    /// one) and writes its rows into the copy in batches of `insert` statements.
    #[allow(clippy::too_many_arguments)]
    async fn copy_from(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        read: &str,
        insert: &str,
        columns: &[CopyColumn],
        compute: &mut Compute,
        copied: &mut Copied,
    ) -> Result<(), ClientError> {
        let shard_name = runtime.topology.shards[shard].name.clone();
        let named = |e: ClientError| ClientError {
            message: format!("shard {shard_name}: {}", e.message),
            ..e
        };
        let (mut source, kept) = match self.pins.take(shard) {
            Some(conn) => (conn, true),
            None => (
                self.checkout(runtime, shard)
                    .await
                    .map_err(|e| named(ClientError::from(&e)))?,
                false,
            ),
        };
        if kept {
            if let Err(e) = self.before_statement(&mut source).await {
                self.pins.give_back(shard, source);
                return Err(named(ClientError::from(&e)));
            }
        }
        let outcome = stream_rows(&mut source, read, insert, columns, compute, copied, kept).await;
        if kept {
            self.pins.give_back(shard, source);
        }
        outcome.map_err(|(e, from_source)| if from_source { named(e) } else { e })
    }
}

/// Streams `read`'s rows from `source` into `compute` as `insert` batches. An error says
/// whether the source (`true`) or the copy failed. Past a failure, a kept source is read to
/// the end of its answer (it stays usable); a pooled one is closed.
async fn stream_rows(
    source: &mut PooledConn,
    read: &str,
    insert: &str,
    columns: &[CopyColumn],
    compute: &mut Compute,
    copied: &mut Copied,
    kept: bool,
) -> Result<(), (ClientError, bool)> {
    match source.query_rows(read.as_bytes()).await {
        Ok(QueryHead::Columns(_)) => {}
        Ok(QueryHead::Done(Finish::Err(e))) => return Err((ClientError::from(e), true)),
        Ok(QueryHead::Done(_)) => {
            return Err((
                ClientError::new(1105, b"HY000", "answered without a result set"),
                true,
            ))
        }
        Err(e) => return Err((ClientError::from(&e), true)),
    }
    let mut batch = String::new();
    let mut failed: Option<(ClientError, bool)> = None;
    loop {
        let row = match source.next_row().await {
            Ok(Ok(row)) => row,
            Ok(Err(Finish::Ok { .. })) => break,
            Ok(Err(Finish::Err(e))) => {
                failed.get_or_insert((ClientError::from(e), true));
                break;
            }
            Ok(Err(Finish::LocalInfile)) => {
                source.broken = true;
                let e = ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE");
                failed.get_or_insert((e, true));
                break;
            }
            Err(e) => {
                failed.get_or_insert((ClientError::from(&e), true));
                break;
            }
        };
        if failed.is_some() {
            continue;
        }
        let added = copied
            .add(1, row.len() as u64)
            .and_then(|()| append_row(&mut batch, insert, &row, columns));
        let sent = match added {
            Ok(()) if batch.len() >= BATCH_BYTES => {
                let sent = compute.run(&batch).await.map(drop);
                batch.clear();
                sent
            }
            other => other,
        };
        if let Err(e) = sent {
            failed = Some((e, false));
            if !kept {
                source.broken = true;
                break;
            }
        }
    }
    if let Some(failure) = failed {
        return Err(failure);
    }
    if !batch.is_empty() {
        compute.run(&batch).await.map_err(|e| (e, false))?;
    }
    Ok(())
}

/// Appends one row's literals to `batch` (started with `insert` when empty).
fn append_row(
    batch: &mut String,
    insert: &str,
    row: &[u8],
    columns: &[CopyColumn],
) -> Result<(), ClientError> {
    if batch.is_empty() {
        batch.push_str(insert);
    } else {
        batch.push(',');
    }
    batch.push('(');
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            batch.push(',');
        }
        let cell = shardgate_wire::text_row::text_cell(row, i)
            .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?;
        column
            .transport
            .write_literal(cell, batch)
            .map_err(|what| ClientError::new(1105, b"HY000", format!("copying a row: {what}")))?;
    }
    batch.push(')');
    Ok(())
}

/// Written after the proxy's own reads on the compute connection and the shards': an explicit
/// `LIMIT` overrides the session's `sql_select_limit`, which would otherwise cut the column list
/// and the copies short (the randomized differential test found answers differing that way).
const ALL_ROWS: &str = " LIMIT 18446744073709551615";

/// The rows of a small query's answer, `width` cells each (lossy text).
pub(crate) async fn query_cells(
    conn: &mut PooledConn,
    sql: &str,
    width: usize,
) -> Result<Vec<Vec<Option<String>>>, ClientError> {
    match conn.query_rows(sql.as_bytes()).await {
        Ok(QueryHead::Columns(_)) => {}
        Ok(QueryHead::Done(Finish::Err(e))) => return Err(ClientError::from(e)),
        Ok(QueryHead::Done(_)) => {
            return Err(ClientError::new(
                1105,
                b"HY000",
                format!("`{sql}` gave no rows"),
            ))
        }
        Err(e) => return Err(ClientError::from(&e)),
    }
    let mut rows = Vec::new();
    loop {
        match conn.next_row().await {
            Ok(Ok(row)) => rows.push(
                (0..width)
                    .map(|i| {
                        shardgate_wire::text_row::text_cell(&row, i)
                            .ok()
                            .flatten()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                    })
                    .collect(),
            ),
            Ok(Err(Finish::Ok { .. })) => return Ok(rows),
            Ok(Err(Finish::Err(e))) => return Err(ClientError::from(e)),
            Ok(Err(Finish::LocalInfile)) => {
                conn.broken = true;
                return Err(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"));
            }
            Err(e) => return Err(ClientError::from(&e)),
        }
    }
}

fn copy_failed(table: &str, why: &str) -> ClientError {
    ClientError::new(
        1105,
        b"HY000",
        format!("cannot copy sharded table `{table}` to answer the statement across shards: {why}"),
    )
}
