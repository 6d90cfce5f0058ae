//! Statements that run on several shards at once and are answered with one combined OK:
//! DDL on sharded tables (the same text everywhere) and multi-row INSERTs split by shard.

use shardgate_backend::{BackendError, PooledConn};
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, StatusFlags};
use shardgate_ring::ShardId;
use shardgate_router::StatementKind;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::returning::{read_returned, Returned, Returning};
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};
use crate::state::expect_ok;
use crate::statement_clock::under_setting_bytes;
use shardgate_config::TransactionMode;

/// What one shard's part came to.
type PartResult = Result<(Finish, Option<PooledConn>), BackendError>;

/// How the parts' OKs become the one OK the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combine {
    /// Each part wrote its own rows: affected rows and warnings add up; the first generated id.
    Sum,
    /// Each part wrote a copy of the same rows (a reference table): one copy's answer, and
    /// every copy must give the same one, or the write is undone everywhere.
    Copies,
}

/// The combined OK of the parts so far.
struct Totals {
    combine: Combine,
    parts: usize,
    affected: u64,
    last_insert_id: u64,
    warnings: u16,
    /// Copies that answered differently: they no longer hold the same rows.
    copies_differ: bool,
}

impl Totals {
    fn new(combine: Combine) -> Self {
        Totals {
            combine,
            parts: 0,
            affected: 0,
            last_insert_id: 0,
            warnings: 0,
            copies_differ: false,
        }
    }

    fn add(&mut self, affected: u64, last_insert_id: u64, warnings: u16) {
        self.parts += 1;
        match self.combine {
            Combine::Sum => {
                self.affected += affected;
                self.warnings = self.warnings.saturating_add(warnings);
                if self.last_insert_id == 0 {
                    self.last_insert_id = last_insert_id;
                }
            }
            Combine::Copies if self.parts == 1 => {
                (self.affected, self.last_insert_id, self.warnings) =
                    (affected, last_insert_id, warnings);
            }
            Combine::Copies => {
                self.copies_differ |=
                    (affected, last_insert_id) != (self.affected, self.last_insert_id);
            }
        }
    }

    /// The error for copies that answered differently (the write was undone).
    fn copies_differ_error() -> ClientError {
        ClientError::new(
            1105,
            b"HY000",
            "the copies of the reference table answered this write differently (their rows differ); it was undone on every shard: compare and repair the copies",
        )
    }
}

impl Session {
    /// Runs `parts` (shard, statement) at once. With `atomic`, each part runs in a transaction
    /// of its own and all commit only if every part succeeded (otherwise all roll back); DDL,
    /// which MariaDB commits by itself, runs without.
    /// With `returning`, the parts answer rows (`RETURNING`), answered in its order.
    pub(crate) async fn fan_out(
        &mut self,
        runtime: &Runtime,
        parts: Vec<(ShardId, &[u8])>,
        atomic: bool,
        combine: Combine,
        returning: Option<&Returning>,
    ) -> Step {
        // Rows written on several shards read one clock (DDL has no rows).
        let clock = self.statement_clock().filter(|_| atomic);
        let timed: Vec<Vec<u8>> = match &clock {
            Some(clock) => (parts.iter())
                .map(|(_, sql)| under_setting_bytes(sql, clock))
                .collect(),
            None => Vec::new(),
        };
        let parts: Vec<(ShardId, &[u8])> = match clock {
            Some(_) => (parts.iter().zip(&timed))
                .map(|((shard, _), sql)| (*shard, sql.as_slice()))
                .collect(),
            None => parts,
        };
        let multi = runtime.topology.server.transaction_mode == TransactionMode::Multi;
        if atomic && multi && self.in_transaction() {
            return self
                .fan_out_in_txn(runtime, parts, combine, returning)
                .await;
        }
        // Rows written on several shards cannot join a single-shard transaction.
        if atomic && self.in_transaction() {
            let e = ClientError::new(
                1235,
                b"42000",
                "a statement for several shards cannot run inside a transaction (transaction_mode \"single\"); commit first, run it with autocommit, or set transaction_mode = \"multi\"",
            );
            return self.send_error(e).await;
        }
        // DDL commits the open transaction first, as MariaDB does.
        if !atomic && self.pins.txn().is_some() {
            if let Err(e) = self.commit_others(runtime, None).await {
                return self.send_error(e).await;
            }
        }
        // Atomic parts are rows written on several shards; the others DDL.
        let kind = if atomic {
            StatementKind::Write
        } else {
            StatementKind::Ddl
        };
        let pinned_shards: Vec<ShardId> = parts
            .iter()
            .map(|&(s, _)| s)
            .filter(|s| self.pins.has(*s))
            .collect();
        // Connections the session keeps (holding its temporary tables, locks) run their
        // shard's part and come back; under LOCK TABLES a part runs without a transaction of
        // its own, as BEGIN would release the locks.
        let lent: Vec<Option<PooledConn>> = parts.iter().map(|&(s, _)| self.pins.take(s)).collect();
        let table_locks = self.pins.table_locks.clone();
        let this = &*self;
        let runs = parts.iter().zip(lent).map(|(&(shard, sql), lent)| {
            let transactional = atomic && !table_locks.contains(&shard);
            async move {
                let (mut conn, pinned) = match lent {
                    Some(conn) => (conn, true),
                    None => (this.checkout(runtime, shard).await?, false),
                };
                // A kept connection follows a USE since it was pinned: a DROP DATABASE of the
                // database it was left in would otherwise look like the session's own.
                if pinned && !this.state.database.is_empty() {
                    this.state.sync_database(&mut conn).await?;
                }
                let meter = runtime.instruments.primary(shard);
                let mut rows = None;
                let finish = async {
                    if transactional {
                        expect_ok(&mut conn, Command::COM_QUERY, b"BEGIN").await?;
                    }
                    let _timed = meter.time(kind);
                    match returning {
                        Some(_) => {
                            let (finish, returned) = read_returned(&mut conn, sql).await?;
                            rows = returned;
                            Ok(finish)
                        }
                        None => conn.execute(Command::COM_QUERY, sql).await,
                    }
                }
                .await;
                let diagnostics = match &finish {
                    Ok(f) => crate::diagnostics::after(&mut conn, f).await,
                    Err(_) => None,
                };
                // MariaDB flags any DROP DATABASE's OK with SERVER_STATUS_DB_DROPPED, that of
                // another database (or of none, with IF EXISTS) too: the connection tells.
                let finish = match finish {
                    Ok(Finish::Ok { status, .. })
                        if status.contains(StatusFlags::SERVER_STATUS_DB_DROPPED) =>
                    {
                        let finish = finish.expect("matched as Ok");
                        (crate::database_name::current_utf8(&mut conn).await)
                            .map(|still_in| dropped_elsewhere(finish, &still_in))
                    }
                    other => other,
                };
                Ok::<_, BackendError>((finish, transactional, pinned, conn, diagnostics, rows))
            }
        });
        let mut conditions = Diagnostics::default();
        let mut kept: Vec<(ShardId, PooledConn)> = Vec::new();
        let mut untransacted: Vec<&str> = Vec::new();
        let mut results: Vec<PartResult> = Vec::with_capacity(parts.len());
        let mut returned: Vec<Option<Returned>> = Vec::with_capacity(parts.len());
        for (run, &(shard, _)) in futures_util::future::join_all(runs)
            .await
            .into_iter()
            .zip(&parts)
        {
            let (finish, transactional, pinned, mut conn, diagnostics, rows) = match run {
                Ok(run) => run,
                Err(e) => {
                    results.push(Err(e));
                    returned.push(None);
                    continue;
                }
            };
            returned.push(rows);
            // Copies of a reference table raise the same conditions: the first one's stand.
            if let Some(d) =
                diagnostics.filter(|_| combine == Combine::Sum || conditions.is_empty())
            {
                conditions.extend(d);
            }
            if finish.is_err() && pinned {
                // Its state is in an unknown condition: never back to the pool.
                conn.broken = true;
            }
            if atomic && !transactional && matches!(finish, Ok(Finish::Ok { .. })) {
                untransacted.push(runtime.topology.shards[shard].name.as_str());
            }
            let conn = match (transactional, pinned) {
                (true, _) => Some(conn),
                (false, true) => {
                    kept.push((shard, conn));
                    None
                }
                (false, false) => None,
            };
            results.push(finish.map(|f| (f, conn)));
        }
        let all_ok = results
            .iter()
            .all(|r| matches!(r, Ok((Finish::Ok { .. }, _))));
        let mut totals = Totals::new(combine);
        // Each failure: the shard's name, its error, and whether that is the server's own.
        let mut failures: Vec<(String, ClientError, bool)> = Vec::new();
        let mut open: Vec<(ShardId, PooledConn)> = Vec::new();
        // Shards whose part changed rows: where `LAST_INSERT_ID(expr)` was evaluated.
        let mut changed: Vec<ShardId> = Vec::new();
        let mut dropped_database = false;
        for (&(shard, _), result) in parts.iter().zip(results) {
            let name = runtime.topology.shards[shard].name.clone();
            match result {
                Ok((finish, conn)) => {
                    if let Some(conn) = conn {
                        open.push((shard, conn));
                    }
                    match finish {
                        Finish::Ok {
                            affected_rows,
                            last_insert_id: id,
                            warnings: w,
                            status,
                            ..
                        } => {
                            dropped_database |=
                                status.contains(StatusFlags::SERVER_STATUS_DB_DROPPED);
                            if affected_rows > 0 {
                                changed.push(shard);
                            }
                            totals.add(affected_rows, id, w)
                        }
                        Finish::Err(e) => failures.push((name, ClientError::from(e), true)),
                        Finish::LocalInfile => failures.push((
                            name,
                            ClientError::new(1148, b"42000", "LOAD DATA LOCAL is not supported"),
                            false,
                        )),
                    }
                }
                Err(e) => failures.push((name, ClientError::from(&e), false)),
            }
        }
        if all_ok && totals.copies_differ {
            failures.push(("every shard".into(), Totals::copies_differ_error(), false));
        }
        let all_ok = all_ok && !totals.copies_differ;
        // Ids the proxy generated: the statement's first one (see `generated_ids`).
        totals.last_insert_id = self.client.insert_id().unwrap_or(totals.last_insert_id);
        let unsure = all_ok && self.settle_reported_id(totals.last_insert_id);
        self.statement_id_unsure = unsure;
        if all_ok && (self.statement_reads_last_insert_id || unsure) {
            // `LAST_INSERT_ID(expr)` in a write sets the session's value, and an id the parts
            // reported may have been given: read it from a part that changed rows.
            let at = read_back_part(open.iter().map(|(s, _)| *s), &changed);
            if let Some((_, conn)) = at.and_then(|i| open.get_mut(i)) {
                match crate::state::read_back(conn, true, &[]).await {
                    Ok(back) => self.adopt_read_id(back.last_insert_id.unwrap_or_default()),
                    Err(e) => {
                        failures.push(("the first shard".into(), ClientError::from(&e), false))
                    }
                }
            }
        }
        // Returned rows that cannot be put back in order: the statement is taken back.
        let mut answer = None;
        if let Some(returning) = returning.filter(|_| all_ok && failures.is_empty()) {
            match returning.in_order(std::mem::take(&mut returned)) {
                Ok(rows) => answer = Some(Ok(rows)),
                Err(e) => answer = Some(Err(e)),
            }
        }
        let refused = matches!(answer, Some(Err(_)));
        let all_ok = all_ok && failures.is_empty() && !refused;
        if !all_ok && self.statement_insert.is_some() {
            // A part may have moved LAST_INSERT_ID() before failing (see `Session`).
            self.last_insert_id_unknown = true;
        }
        // Finish the transactions: all commit, or all roll back.
        let end: &[u8] = if all_ok { b"COMMIT" } else { b"ROLLBACK" };
        let ends = open.iter_mut().map(|(shard, conn)| async move {
            (*shard, expect_ok(conn, Command::COM_QUERY, end).await)
        });
        let mut committed = Vec::new();
        let ends = crate::statement_time::cleanup(futures_util::future::join_all(ends));
        for (shard, result) in ends.await {
            let name = runtime.topology.shards[shard].name.clone();
            match result {
                Ok(()) => committed.push(name),
                Err(e) => failures.push((name, ClientError::from(&e), false)),
            }
        }
        for (shard, conn) in open.into_iter().chain(kept) {
            if pinned_shards.contains(&shard) {
                self.pins.give_back(shard, conn);
            }
        }
        self.pins.release_unneeded(runtime.topology.default_shard);
        let Some(((name, first, from_server), rest)) = failures.split_first() else {
            match answer {
                Some(Err(e)) => return self.send_error(e).await,
                Some(Ok(rows)) => {
                    let binary = returning.is_some_and(|r| r.binary);
                    return self
                        .write_rows_returned(rows, binary, totals.warnings, conditions)
                        .await;
                }
                None => {}
            }
            if totals.warnings > 0 {
                self.diagnostics = conditions;
                self.diagnostics_read = true;
            }
            if dropped_database {
                return self
                    .send_database_dropped(totals.affected, totals.warnings)
                    .await;
            }
            return self
                .send_ok_with_id(totals.affected, totals.last_insert_id, totals.warnings)
                .await;
        };
        let mut e = first.clone();
        let others: Vec<&str> = rest.iter().map(|(n, _, _)| n.as_str()).collect();
        // Every shard answered the same error (on one shard, always): it is the server's own.
        let unanimous = failures.len() == parts.len()
            && rest
                .iter()
                .all(|(_, r, _)| r.code == first.code && r.message == first.message);
        // One part failed on its server and none kept a row: the statement failed as on one
        // server, with that server's error (SHOW WARNINGS lists it as MariaDB would).
        let alone = *from_server && others.is_empty() && atomic && !all_ok;
        if (unanimous && committed.is_empty() || alone) && untransacted.is_empty() {
            return self.send_error(e).await;
        }
        e.message = format!("shard {name}: {}", e.message);
        if !others.is_empty() {
            e.message
                .push_str(&format!(" (also failed on {})", others.join(", ")));
        }
        if all_ok && !committed.is_empty() {
            // A commit failed after others succeeded: say exactly what happened.
            e.message.push_str(&format!(
                "; the parts on {} were committed",
                committed.join(", ")
            ));
        } else if !untransacted.is_empty() {
            // Under LOCK TABLES the parts ran without a transaction.
            e.message.push_str(&format!(
                "; under LOCK TABLES each shard's part commits by itself: the parts on {} were kept",
                untransacted.join(", ")
            ));
        } else if atomic {
            e.message.push_str("; no shard kept any of its rows");
        }
        self.send_error(e).await
    }

    /// A statement for several shards inside a transaction (transaction_mode "multi"): each part
    /// runs on the transaction's connection to its shard behind a savepoint, so when one part
    /// fails the others are taken back and the transaction goes on as if the statement had
    /// not run, as on one server.
    async fn fan_out_in_txn(
        &mut self,
        runtime: &Runtime,
        parts: Vec<(ShardId, &[u8])>,
        combine: Combine,
        returning: Option<&Returning>,
    ) -> Step {
        let mut returned: Vec<Option<Returned>> = Vec::with_capacity(parts.len());
        let name = |shard: ShardId| runtime.topology.shards[shard].name.as_str();
        let mut ran: Vec<ShardId> = Vec::new();
        let mut changed: Vec<ShardId> = Vec::new();
        let mut conditions = Diagnostics::default();
        let mut totals = Totals::new(combine);
        let mut failure: Option<ClientError> = None;
        for &(shard, sql) in &parts {
            if let Err(e) = self.join_txn(runtime, shard, true).await {
                failure = Some(e);
                break;
            }
            let txn = self.pins.txn_mut().expect("joined above");
            txn.written.get_or_insert(shard);
            let conn = self.pins.conn(shard).expect("joined above");
            let named = |e: ClientError| ClientError {
                message: format!("shard {}: {}", name(shard), e.message),
                ..e
            };
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, STATEMENT_SAVEPOINT).await {
                failure = Some(named(ClientError::from(&e)));
                break;
            }
            ran.push(shard);
            let finish = match returning {
                Some(_) => match read_returned(conn, sql).await {
                    Ok((finish, rows)) => {
                        returned.push(rows);
                        Ok(finish)
                    }
                    Err(e) => Err(e),
                },
                None => conn.execute(Command::COM_QUERY, sql).await,
            };
            if let Ok(f) = &finish {
                if let Some(d) = crate::diagnostics::after(conn, f)
                    .await
                    .filter(|_| combine == Combine::Sum || conditions.is_empty())
                {
                    conditions.extend(d);
                }
            }
            match finish {
                Ok(Finish::Ok {
                    affected_rows,
                    last_insert_id: id,
                    warnings: w,
                    ..
                }) => {
                    if affected_rows > 0 {
                        changed.push(shard);
                    }
                    totals.add(affected_rows, id, w)
                }
                Ok(Finish::Err(e)) => {
                    // The server's own error: the statement is taken back as on one server.
                    failure.get_or_insert(ClientError::from(e));
                    // Copies all try the write, so each burns the same auto-increment values
                    // and their counters stay equal.
                    if combine == Combine::Sum {
                        break;
                    }
                }
                Ok(Finish::LocalInfile) => {
                    conn.broken = true;
                    failure = Some(ClientError::new(
                        1148,
                        b"42000",
                        "LOAD DATA LOCAL is not supported",
                    ));
                    break;
                }
                Err(e) => {
                    failure = Some(named(ClientError::from(&e)));
                    break;
                }
            }
        }
        if failure.is_none() && totals.copies_differ {
            failure = Some(Totals::copies_differ_error());
        }
        totals.last_insert_id = self.client.insert_id().unwrap_or(totals.last_insert_id);
        let unsure = failure.is_none() && self.settle_reported_id(totals.last_insert_id);
        self.statement_id_unsure = unsure;
        let at = read_back_part(ran.iter().copied(), &changed).map(|i| ran[i]);
        if let (None, true, Some(shard)) =
            (&failure, self.statement_reads_last_insert_id || unsure, at)
        {
            // `LAST_INSERT_ID(expr)` in a write sets the session's value: read it from a part
            // that changed rows.
            let conn = self.pins.conn(shard).expect("joined above");
            match crate::state::read_back(conn, true, &[]).await {
                Ok(back) => self.adopt_read_id(back.last_insert_id.unwrap_or_default()),
                Err(e) => failure = Some(ClientError::from(&e)),
            }
        }
        if let (None, Some(returning)) = (&failure, returning) {
            match returning.in_order(returned) {
                Ok(rows) => {
                    return self
                        .write_rows_returned(rows, returning.binary, totals.warnings, conditions)
                        .await
                }
                Err(e) => failure = Some(e),
            }
        }
        let Some(e) = failure else {
            if totals.warnings > 0 {
                self.diagnostics = conditions;
                self.diagnostics_read = true;
            }
            return self
                .send_ok_with_id(totals.affected, totals.last_insert_id, totals.warnings)
                .await;
        };
        if self.statement_insert.is_some() {
            self.last_insert_id_unknown = true;
        }
        self.fail_statement_in_txn(&ran, e).await
    }

    /// Answers `e` for a statement that failed inside the client's transaction after taking
    /// [`STATEMENT_SAVEPOINT`] on the `ran` shards: takes it back there first, so the
    /// transaction goes on as if it had not run, as on one server. When a shard cannot, part
    /// of the statement may have stayed there: the transaction cannot go on, nor the session.
    pub(crate) async fn fail_statement_in_txn(&mut self, ran: &[ShardId], e: ClientError) -> Step {
        let pins = &mut self.pins;
        let undo = async {
            let mut lost = false;
            for &shard in ran {
                let Some(conn) = pins.conn(shard) else {
                    lost = true;
                    continue;
                };
                if conn.cut_off {
                    // Stopped at its time bound: cleaned first, as MariaDB would stop it.
                    crate::cut_off::recover(conn).await;
                }
                let undone = !conn.broken
                    && expect_ok(
                        conn,
                        Command::COM_QUERY,
                        b"ROLLBACK TO SAVEPOINT shardgate_statement",
                    )
                    .await
                    .is_ok();
                lost |= !undone;
            }
            lost
        };
        let lost = crate::statement_time::cleanup(undo).await;
        self.send_error(e).await?;
        if lost {
            self.pins = Default::default();
            return Err(End::BrokenAnswer(
                "a statement over several shards could not be undone inside its transaction".into(),
            ));
        }
        Ok(())
    }
}

/// Taken on each shard a statement writes on inside the client's transaction, so that a
/// failure takes the statement back on all of them ([`Session::fail_statement_in_txn`]).
pub(crate) const STATEMENT_SAVEPOINT: &[u8] = b"SAVEPOINT shardgate_statement";

/// Which of the parts that ran (their shards, in order) to read `LAST_INSERT_ID()` back from:
/// the last that changed rows (only there did `LAST_INSERT_ID(expr)` run; across shards the
/// order of rows is the shards'), else the first. `None` when none ran.
fn read_back_part(ran: impl Iterator<Item = ShardId>, changed: &[ShardId]) -> Option<usize> {
    let ran: Vec<ShardId> = ran.collect();
    ran.iter()
        .rposition(|s| changed.contains(s))
        .or((!ran.is_empty()).then_some(0))
}

/// `finish`, the OK of a DROP DATABASE, without SERVER_STATUS_DB_DROPPED when the connection
/// is still in a database (`still_in`): another database was dropped.
fn dropped_elsewhere(mut finish: Finish, still_in: &str) -> Finish {
    if let Finish::Ok { status, .. } = &mut finish {
        if !still_in.is_empty() {
            status.remove(StatusFlags::SERVER_STATUS_DB_DROPPED);
        }
    }
    finish
}
