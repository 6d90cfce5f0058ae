//! An UPDATE that changes the shard key of its rows (`router/src/moving_update.rs`): its rows
//! read and locked first, updated where they are, read back, and those whose new key belongs
//! to another shard deleted there and inserted on that shard, all in one transaction over the
//! shards it touches. Outside the client's transaction the proxy opens one for the statement
//! (`Txn::for_statement`) and commits it on every shard; inside the client's, each shard it
//! writes on takes a savepoint first, so a failure takes the statement back on all of them and
//! the transaction goes on, as on one server.

use std::collections::BTreeMap;

use shardgate_backend::{BackendConn, PooledConn, QueryHead};
use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;
use shardgate_router::{LookupEntry, MovingUpdate, NamedRow};

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::fan_out::STATEMENT_SAVEPOINT;
use crate::pins::Txn;
use crate::runtime::Runtime;
use crate::select_rows::{too_many_rows, RowsOf};
use crate::session::{Session, Step};
use crate::state::expect_ok;

/// What the UPDATE came to.
#[derive(Default)]
struct Updated {
    affected: u64,
    warnings: u16,
    conditions: Diagnostics,
    /// The last shard whose UPDATE changed rows (where `LAST_INSERT_ID(expr)` ran).
    changed: Option<ShardId>,
}

/// The rows leaving one shard.
#[derive(Default)]
struct Leaving {
    /// Their primary keys, as literals (`MovingUpdate::primary_literal`), comma-separated.
    primary: String,
    count: u64,
}

impl Session {
    /// Runs shard-key UPDATE `request`.
    pub(crate) async fn update_moving_rows(
        &mut self,
        runtime: &Runtime,
        request: &MovingUpdate,
    ) -> Step {
        if let Err(e) = self.begin_statement(&request.plan(), &[], false) {
            return self.send_error(e).await;
        }
        let own = !self.in_transaction();
        if own {
            if let Some(&shard) = self.pins.table_locks.first() {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    format!(
                        "an UPDATE that moves rows to other shards runs in a transaction, which would end the session's LOCK TABLES on shard {}: UNLOCK TABLES first",
                        runtime.topology.shards[shard].name
                    ),
                );
                return self.send_error(e).await;
            }
            let began = self.proxy.cutover.transaction_begins();
            self.pins.begin_txn(Txn::for_statement(began));
        }
        let mut marked: Vec<ShardId> = Vec::new();
        let mut lookup_lock: Option<PooledConn> = None;
        let outcome = (self.move_rows(runtime, request, own, &mut marked, &mut lookup_lock)).await;
        let outcome = match (own, outcome) {
            (true, Ok(updated)) => {
                let joined = self.pins.end_txn().map(|t| t.shards()).unwrap_or_default();
                (self.end_each(runtime, joined, true, b"COMMIT").await).map(|()| updated)
            }
            (true, Err(e)) => {
                let joined = self.pins.end_txn().map(|t| t.shards()).unwrap_or_default();
                let undo = self.end_each(runtime, joined, false, b"ROLLBACK");
                // A failed ROLLBACK closes its connection, which rolls back too.
                let _ = crate::statement_time::cleanup(undo).await;
                Err(e)
            }
            (false, outcome) => outcome,
        };
        if let Some(mut lock) = lookup_lock {
            // The lookups' lock ends after the rows (see `lookups.rs`).
            let end: &[u8] = if outcome.is_ok() {
                b"COMMIT"
            } else {
                b"ROLLBACK"
            };
            if let Err(e) = expect_ok(&mut lock, Command::COM_QUERY, end).await {
                tracing::warn!(table = %request.table(), error = %e, "ending a lookup lock failed");
            }
        }
        let updated = match outcome {
            Ok(updated) => updated,
            Err(e) if own => return self.send_error(e).await,
            Err(e) => return self.fail_statement_in_txn(&marked, e).await,
        };
        if updated.warnings > 0 {
            self.diagnostics = updated.conditions;
            self.diagnostics_read = true;
        }
        self.send_ok(updated.affected, updated.warnings).await
    }

    /// The statement's steps (see the module), on the open transaction; `marked` gets each
    /// shard that took the statement's savepoint, `lookup_lock` the lookups' lock when the
    /// table has lookups (their rows written before the rows commit).
    async fn move_rows(
        &mut self,
        runtime: &Runtime,
        request: &MovingUpdate,
        own: bool,
        marked: &mut Vec<ShardId>,
        lookup_lock: &mut Option<PooledConn>,
    ) -> Result<Updated, ClientError> {
        let name = |shard: ShardId| runtime.topology.shards[shard].name.clone();
        let refused = |why: String| {
            ClientError::new(
                1235,
                b"42000",
                format!(
                    "UPDATE that changes the shard key of `{}`: {why}; this is not supported by shardgate",
                    request.table()
                ),
            )
        };
        // Step 1: the rows it changes, locked.
        let rows_of = RowsOf {
            select: &request.rows.select,
            purpose: format!("UPDATE of the shard key of `{}`", request.table()),
            columns: None,
            wrong_columns: crate::errors::operand_columns,
            over_copies: true,
        };
        let rows = self.select_rows(runtime, &rows_of).await?;
        let mut by_shard: BTreeMap<ShardId, Vec<NamedRow>> = BTreeMap::new();
        for row in rows {
            let shard = (request.source_shard(&runtime.topology, &row, self.syntax))
                .map_err(|why| refused(format!("a row to change has {why}")))?;
            by_shard.entry(shard).or_default().push(row);
        }
        let mut updated = Updated::default();
        let mut leaving: BTreeMap<ShardId, Leaving> = BTreeMap::new();
        let mut arriving: BTreeMap<ShardId, Vec<String>> = BTreeMap::new();
        let mut entries: Vec<LookupEntry> = Vec::new();
        let mut room = runtime.topology.server.merge_max_bytes;
        let no_backslash_escapes =
            (self.syntax.sql_mode).contains(shardgate_router::SqlMode::NO_BACKSLASH_ESCAPES);
        for (&shard, rows) in &by_shard {
            self.write_on(runtime, shard, own, marked).await?;
            let conn = self.pins.conn(shard).expect("joined above");
            let named = |e: ClientError| ClientError {
                message: format!("shard {}: {}", name(shard), e.message),
                ..e
            };
            // Step 2: the UPDATE of its rows there.
            let text = request.narrowed(rows).map_err(refused)?;
            let finish = (conn.execute(Command::COM_QUERY, &text).await)
                .map_err(|e| named(ClientError::from(&e)))?;
            if let Some(d) = crate::diagnostics::after(conn, &finish).await {
                updated.conditions.extend(d);
            }
            match finish {
                Finish::Ok {
                    affected_rows,
                    warnings,
                    ..
                } => {
                    updated.affected += affected_rows;
                    updated.warnings = updated.warnings.saturating_add(warnings);
                    if affected_rows > 0 {
                        updated.changed = Some(shard);
                    }
                }
                // One server's error: as it gave it.
                Finish::Err(e) => return Err(ClientError::from(e)),
                Finish::LocalInfile => {
                    conn.broken = true;
                    return Err(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"));
                }
            }
            // Step 3: the rows read back, those whose key now belongs elsewhere kept.
            let read = request.read_back(rows);
            let found = read_leaving(
                conn,
                &read,
                request,
                runtime,
                shard,
                &mut leaving,
                &mut arriving,
                &mut entries,
                &mut room,
            )
            .await
            .map_err(|e| match e {
                Unread::Backend(e) => named(e),
                Unread::Refused(why) => refused(why),
                Unread::TooMany => {
                    too_many_rows(&format!("UPDATE of the shard key of `{}`", request.table()))
                }
            })?;
            // A row not found again would stay where it is under a key of another shard.
            if found != rows.len() {
                return Err(ClientError::new(
                    1105,
                    b"HY000",
                    format!(
                        "UPDATE that changes the shard key of `{}`: {} of the {} rows it changed on shard {} were found again by their primary key (a primary-key column set to a value it does not store as written?); nothing was changed",
                        request.table(),
                        found,
                        rows.len(),
                        name(shard)
                    ),
                ));
            }
        }
        if self.statement_reads_last_insert_id {
            // `LAST_INSERT_ID(expr)` in the UPDATE set the value where it ran.
            if let Some(shard) = updated.changed {
                let conn = self.pins.conn(shard).expect("joined above");
                let back = crate::state::read_back(conn, true, &[])
                    .await
                    .map_err(|e| ClientError::from(&e))?;
                self.adopt_read_id(back.last_insert_id.unwrap_or_default());
            }
        }
        if !entries.is_empty() {
            let rule = (runtime.topology.table(request.table()))
                .ok_or_else(|| refused("it is no longer a sharded table".into()))?;
            let lock = self
                .lock_lookup_rows(runtime, rule, &entries, &mut [])
                .await;
            *lookup_lock = Some(lock.map_err(|e| ClientError::from(&e))?);
        }
        if leaving.is_empty() {
            return Ok(updated);
        }
        // What a DELETE and an INSERT would do that the UPDATE does not, on every shard rows
        // leave or reach.
        let query = request.dependents_query(no_backslash_escapes);
        for &shard in leaving.keys().chain(arriving.keys()) {
            self.write_on(runtime, shard, own, marked).await?;
            let conn = self.pins.conn(shard).expect("joined above");
            let dependents = crate::materialize::query_cells(conn, &query, 3).await?;
            let Some(row) = dependents.first() else {
                continue;
            };
            if let Some(keys) = &row[0] {
                return Err(refused(format!("rows would move to other shards, and foreign keys reference the table ({keys}): deleting them where they are would cascade or be refused")));
            }
            if let Some(triggers) = &row[1] {
                return Err(refused(format!("rows would move to other shards, which deletes and inserts them, and the table has INSERT or DELETE triggers ({triggers})")));
            }
            if row[2].as_deref() != Some(request.known_columns()) {
                let e = refused(format!(
                    "shard {} lists the table's columns as ({}), not as the proxy had read them ({}), and a moved row would lose values: the proxy has read them again, run the statement again",
                    name(shard),
                    row[2].as_deref().unwrap_or_default(),
                    request.known_columns()
                ));
                let table = [request.table().to_ascii_lowercase()];
                if let Err(reading) = crate::schema_loader::load_tables(runtime, &table).await {
                    tracing::warn!(error = %reading, "reading a table's columns again failed");
                }
                return Err(e);
            }
        }
        // Step 4: every leaving row deleted first (a primary key is unique per shard only: a
        // row arriving may take one a leaving row had), then inserted where it belongs.
        for (&shard, rows) in &leaving {
            let conn = self.pins.conn(shard).expect("joined above");
            let finish = (conn
                .execute(Command::COM_QUERY, request.delete(&rows.primary).as_bytes())
                .await)
                .map_err(|e| ClientError::from(&e))?;
            match finish {
                Finish::Ok { affected_rows, .. } if affected_rows == rows.count => {}
                Finish::Err(e) => return Err(ClientError::from(e)),
                _ => {
                    return Err(ClientError::new(
                        1105,
                        b"HY000",
                        format!(
                            "UPDATE that changes the shard key of `{}`: the rows to move could not all be found again by primary key on shard {}; nothing was changed",
                            request.table(),
                            name(shard)
                        ),
                    ))
                }
            }
        }
        for (&shard, batches) in &arriving {
            self.write_on(runtime, shard, own, marked).await?;
            let conn = self.pins.conn(shard).expect("joined above");
            for batch in batches {
                match conn.execute(Command::COM_QUERY, batch.as_bytes()).await {
                    Ok(Finish::Ok { .. }) => {}
                    // A duplicate key there is the UPDATE's duplicate on one server.
                    Ok(Finish::Err(e)) => return Err(ClientError::from(e)),
                    Ok(Finish::LocalInfile) => {
                        conn.broken = true;
                        return Err(ClientError::new(1105, b"HY000", "unexpected LOCAL INFILE"));
                    }
                    Err(e) => return Err(ClientError::from(&e)),
                }
            }
        }
        Ok(updated)
    }

    /// The open transaction runs on `shard` for a write; inside the client's transaction
    /// (`own` false) the shard takes the statement's savepoint first.
    async fn write_on(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        own: bool,
        marked: &mut Vec<ShardId>,
    ) -> Result<(), ClientError> {
        self.join_txn(runtime, shard, true).await?;
        let txn = self.pins.txn_mut().expect("joined above");
        txn.written.get_or_insert(shard);
        if !own && !marked.contains(&shard) {
            let conn = self.pins.conn(shard).expect("joined above");
            expect_ok(conn, Command::COM_QUERY, STATEMENT_SAVEPOINT)
                .await
                .map_err(|e| ClientError::from(&e))?;
            marked.push(shard);
        }
        Ok(())
    }
}

/// Why step 3 stopped.
enum Unread {
    Backend(ClientError),
    Refused(String),
    /// Past `merge_max_bytes`.
    TooMany,
}

/// Step 3 on `shard`: reads `read` on `conn` and keeps each row whose new key belongs to
/// another shard: its primary key in `leaving`, its INSERT in `arriving` (batches of at most
/// `materialize::BATCH_BYTES`), within `room` bytes; and every row's lookup rows in `entries`.
/// The number of rows read.
#[allow(clippy::too_many_arguments)]
async fn read_leaving(
    conn: &mut BackendConn,
    read: &str,
    request: &MovingUpdate,
    runtime: &Runtime,
    shard: ShardId,
    leaving: &mut BTreeMap<ShardId, Leaving>,
    arriving: &mut BTreeMap<ShardId, Vec<String>>,
    entries: &mut Vec<LookupEntry>,
    room: &mut u64,
) -> Result<usize, Unread> {
    let backend = |e: &shardgate_backend::BackendError| Unread::Backend(ClientError::from(e));
    match conn
        .query_rows(read.as_bytes())
        .await
        .map_err(|e| backend(&e))?
    {
        QueryHead::Columns(_) => {}
        QueryHead::Done(Finish::Err(e)) => return Err(Unread::Backend(ClientError::from(e))),
        QueryHead::Done(_) => {
            return Err(Unread::Refused("reading its rows back gave no rows".into()))
        }
    }
    let mut failed = None;
    let mut read = 0;
    loop {
        let row = match conn.next_row().await.map_err(|e| backend(&e))? {
            Ok(row) => row,
            Err(Finish::Err(e)) => return Err(Unread::Backend(ClientError::from(e))),
            Err(_) => break,
        };
        read += 1;
        if failed.is_some() {
            // Read to the end: the connection serves the transaction's next statement.
            continue;
        }
        let cell =
            |i: usize| shardgate_wire::text_row::text_cell(&row, i).map_err(|e| e.to_string());
        let kept = (|| -> Result<(), Unread> {
            let key = cell(0).map_err(Unread::Refused)?;
            let target = (request.new_shard(&runtime.topology, key))
                .map_err(|why| Unread::Refused(format!("a changed row cannot be placed: {why}")))?;
            if request.has_lookups() {
                entries.extend(request.lookup_entries(cell).map_err(Unread::Refused)?);
            }
            if target == shard {
                return Ok(());
            }
            *room = room.checked_sub(row.len() as u64).ok_or(Unread::TooMany)?;
            let from = leaving.entry(shard).or_default();
            if from.count > 0 {
                from.primary.push(',');
            }
            from.count += 1;
            request
                .primary_literal(cell, &mut from.primary)
                .map_err(Unread::Refused)?;
            let batches = arriving.entry(target).or_default();
            if batches
                .last()
                .is_none_or(|b| b.len() >= crate::materialize::BATCH_BYTES)
            {
                batches.push(request.insert_head());
            } else {
                batches.last_mut().expect("pushed above").push(',');
            }
            let batch = batches.last_mut().expect("pushed above");
            request.insert_row(cell, batch).map_err(Unread::Refused)
        })();
        if let Err(e) = kept {
            failed = Some(e);
        }
    }
    failed.map_or(Ok(read), Err)
}
