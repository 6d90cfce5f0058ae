//! Statements on the connections a session keeps (`pins.rs`), and transactions as the
//! session's own statements open and end them: `BEGIN`, `autocommit`, `COMMIT`/`ROLLBACK`,
//! savepoints, and the implicit commit of DDL. A backend's in-transaction flag never ends a
//! transaction here.

use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;
use shardgate_router::{StatementKind, TxnCommand};

use crate::errors::ClientError;
use crate::executor::{AfterWrite, Work};
use crate::pins::Txn;
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};
use crate::state::expect_ok;

impl Session {
    /// The pinned connections (but `except`'s, where they were set) take the user variables
    /// `assigned` (name, statement setting it): a reset would end their transaction or drop
    /// their state.
    pub(crate) async fn replay_on_pins(
        &mut self,
        assigned: &[(String, Vec<u8>)],
        except: Option<ShardId>,
    ) {
        if assigned.is_empty() {
            return;
        }
        let fingerprint = self.state.fingerprint();
        for (other, other_conn) in self.pins.conns_mut() {
            if Some(other) == except {
                continue;
            }
            for (_, sql) in assigned {
                if expect_ok(other_conn, Command::COM_QUERY, sql)
                    .await
                    .is_err()
                {
                    other_conn.broken = true;
                }
            }
            if other_conn.vars_fingerprint != crate::state::DIRTY {
                other_conn.vars_fingerprint = fingerprint;
            }
        }
    }

    /// Runs `work` on the connection the session keeps for `shard`: the transaction's (joining
    /// it first when the shard is new to it), or the one holding the session's state there
    /// (pinned now if the statement is about to create some).
    pub(crate) async fn on_pinned(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        kind: StatementKind,
        work: Work<'_>,
    ) -> Step {
        let finish = self.on_pinned_finish(runtime, shard, kind, work).await;
        self.pins.release_unneeded(runtime.topology.default_shard);
        finish.map(drop)
    }

    /// [`Session::on_pinned`], telling how the statement's answer ended (`None`: it never
    /// reached the backend). The connection stays pinned for the caller to record what the
    /// statement left on it; then `Pins::release_unneeded`.
    pub(crate) async fn on_pinned_finish(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        kind: StatementKind,
        work: Work<'_>,
    ) -> Result<Option<Finish>, End> {
        let local_files = self.local_files();
        let ids = self.statement_ids();
        let writes = !matches!(
            kind,
            StatementKind::Read | StatementKind::Transaction | StatementKind::Session
        );
        if let Err(e) = self.pin(runtime, shard, writes).await {
            return self.send_error(e).await.map(|()| None);
        }
        if let Some(txn) = self.pins.txn_mut().filter(|_| writes) {
            txn.written.get_or_insert(shard);
        }
        let conn = self.pins.conn(shard).expect("pinned above");
        if let Err(e) = self.state.follow_database_pinned(conn).await {
            return self.send_error(e).await.map(|()| None);
        }
        if ids.wanted() {
            if let Err(e) = ids.give(conn).await {
                return self.send_error(ClientError::from(&e)).await.map(|()| None);
            }
        }
        let meter = runtime.instruments.primary(shard);
        let result = {
            let _timed = meter.time(kind);
            work.run(conn, local_files, &mut self.client).await
        };
        if crate::cut_off::recoverable(&result) {
            // As on MariaDB, the statement is stopped and the transaction goes on.
            crate::cut_off::recover(self.pins.conn(shard).expect("pinned above")).await;
        }
        if let Ok(finish) = &result {
            let mut conn = self.pins.take(shard).expect("pinned above");
            self.keep_diagnostics(&mut conn, finish).await;
            self.pins.give_back(shard, conn);
        }
        let mut assigned = Vec::new();
        if self.reads_back(&result) {
            let mut conn = self.pins.take(shard).expect("pinned above");
            assigned = self.read_back(&mut conn).await;
            self.pins.give_back(shard, conn);
        }
        self.replay_on_pins(&assigned, Some(shard)).await;
        let conn = self.pins.conn(shard).expect("pinned above");
        let pool = conn.pool().clone();
        if conn.cut_off {
            // Closed unstopped: the transaction is gone, the session goes on without it.
            self.pins = Default::default();
            let e = crate::errors::statement_timeout_lost(pool.label());
            return self.send_error(e).await.map(|()| None);
        }
        if conn.broken {
            // The transaction and the session's state are gone with the connection (MariaDB
            // rolls back and drops them); closing the client after the error is the one signal
            // no client can miss.
            self.pins = Default::default();
            self.forwarded(result, &pool).await?;
            return Err(End::BrokenAnswer(format!(
                "{}: pinned connection lost",
                pool.label()
            )));
        }
        if kind == StatementKind::Ddl && self.pins.txn().is_some() {
            // DDL commits the open transaction (MariaDB did so on this shard): the others commit
            // too, as on one server.
            if let Err(e) = self.commit_others(runtime, Some(shard)).await {
                self.forwarded(result, &pool).await?;
                return self.send_error(e).await.map(|()| None);
            }
        }
        let finish = result.as_ref().ok().cloned();
        self.forwarded(result, &pool).await.map(|()| finish)
    }

    /// Makes sure the session keeps a connection to `shard` for the statement about to run:
    /// inside a transaction it joins it; otherwise a pooled connection is pinned if none is.
    pub(crate) async fn pin(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        writes: bool,
    ) -> Result<(), ClientError> {
        if self.in_transaction() {
            return self.join_txn(runtime, shard, writes).await;
        }
        self.keep_conn(runtime, shard).await
    }

    /// Pins a pooled connection of `shard` unless the session keeps one there already.
    async fn keep_conn(&mut self, runtime: &Runtime, shard: ShardId) -> Result<(), ClientError> {
        if !self.pins.has(shard) {
            let conn = self
                .checkout(runtime, shard)
                .await
                .map_err(|e| ClientError::from(&e))?;
            self.pins.pin(shard, conn);
        }
        Ok(())
    }

    /// Makes sure the open transaction (started here if none is) runs on `shard`, for a
    /// statement that `writes` there or not: opens it there when the shard is new to it, as
    /// `[server] transaction_mode` allows.
    pub(crate) async fn join_txn(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        writes: bool,
    ) -> Result<(), ClientError> {
        let cutover = &self.proxy.cutover;
        let txn = (self.pins).txn_or_begin(|| Txn::implicit(cutover.transaction_begins()));
        // In transaction_mode "single" a transaction writes on one shard (its commit is that
        // shard's); it may read others, whose snapshots its COMMIT simply ends.
        if let (true, true, Some(written)) = (
            txn.writes_one_shard(runtime.topology.server.transaction_mode),
            writes,
            txn.written.filter(|w| *w != shard),
        ) {
            return Err(ClientError::new(
                1235,
                b"42000",
                format!(
                    "this transaction writes on shard {}; the statement needs shard {} (transaction_mode \"single\"): commit or roll back first",
                    runtime.topology.shards[written].name, runtime.topology.shards[shard].name
                ),
            ));
        }
        if txn.runs_on(shard) {
            return Ok(());
        }
        let mut opening = Vec::new();
        if let Some(begin) = &txn.begin {
            opening.push(begin.clone());
        }
        // The transaction's savepoints exist on every shard it runs on.
        opening.extend(txn.savepoints.iter().map(|s| savepoint_sql("SAVEPOINT", s)));
        self.keep_conn(runtime, shard).await?;
        let conn = self.pins.take(shard).expect("kept above");
        self.pins.join_txn(shard, conn);
        let joined = self.pins.txn().map_or(0, Txn::width);
        let conn = self.pins.conn(shard).expect("joined above");
        for sql in &opening {
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, sql.as_bytes()).await {
                self.pins.leave_txn(shard);
                self.pins.release_unneeded(runtime.topology.default_shard);
                return Err(ClientError::from(&e));
            }
        }
        // Two transactions locking rows on two shards in opposite orders wait on each other with
        // no server seeing a deadlock: a short lock wait on every shard of such a transaction
        // ends it (unless the session chose its own).
        let timeout = runtime.topology.server.multi_shard_lock_wait_timeout;
        if let (Some(seconds), true, false) = (
            timeout,
            joined >= 2,
            self.state.var_text("innodb_lock_wait_timeout").is_some(),
        ) {
            let set = format!("SET SESSION innodb_lock_wait_timeout = {seconds}");
            let joined = self.pins.txn_shards();
            for (shard, conn) in self.pins.conns_mut() {
                if joined.contains(&shard) && conn.vars_fingerprint != crate::state::DIRTY {
                    expect_ok(conn, Command::COM_QUERY, set.as_bytes())
                        .await
                        .map_err(|e| ClientError::from(&e))?;
                    // Reset before anyone else uses the connection.
                    conn.vars_fingerprint = crate::state::DIRTY;
                }
            }
        }
        Ok(())
    }

    /// Commits the open transaction on its shards other than `except` (where MariaDB committed
    /// it implicitly), and ends it. With no `except`: the commit MariaDB does before a
    /// statement that commits implicitly (DDL) which the proxy runs on several shards.
    pub(crate) async fn commit_others(
        &mut self,
        runtime: &Runtime,
        except: Option<ShardId>,
    ) -> Result<(), ClientError> {
        let joined = self.pins.end_txn().map(|t| t.shards()).unwrap_or_default();
        let mut failure = None;
        for shard in joined.into_iter().filter(|s| Some(*s) != except) {
            let conn = self.pins.conn(shard).expect("joined shards are pinned");
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, b"COMMIT").await {
                conn.broken = true;
                failure.get_or_insert_with(|| {
                    let mut e = ClientError::from(&e);
                    e.message = format!(
                        "the statement committed the open transaction implicitly; shard {} failed to commit its part: {}",
                        runtime.topology.shards[shard].name, e.message
                    );
                    e
                });
            }
        }
        self.pins.release_unneeded(runtime.topology.default_shard);
        failure.map_or(Ok(()), Err)
    }

    /// Sends COMMIT or ROLLBACK (`text`) to every shard of a transaction that spans several,
    /// one after another (transaction_mode "multi": not atomic), and answers the client.
    async fn end_joined(
        &mut self,
        runtime: &Runtime,
        joined: Vec<ShardId>,
        commit: bool,
        text: &[u8],
    ) -> Step {
        match self.end_each(runtime, joined, commit, text).await {
            Ok(()) => self.send_ok(0, 0).await,
            Err(e) => self.send_error(e).await,
        }
    }

    /// Sends COMMIT or ROLLBACK (`text`) to each of the `joined` shards of a transaction
    /// already ended (`Pins::end_txn`), one after another: once a COMMIT fails, the shards
    /// after it roll back, and the error says which committed.
    pub(crate) async fn end_each(
        &mut self,
        runtime: &Runtime,
        joined: Vec<ShardId>,
        commit: bool,
        text: &[u8],
    ) -> Result<(), ClientError> {
        let name = |shard: ShardId| runtime.topology.shards[shard].name.as_str();
        let mut ended = Vec::new();
        let mut rolled_back = Vec::new();
        let mut failure: Option<(ShardId, ClientError)> = None;
        for shard in joined {
            let conn = self.pins.conn(shard).expect("joined shards are pinned");
            if commit && failure.is_some() {
                // A shard failed to commit: the ones after it roll back instead.
                match expect_ok(conn, Command::COM_QUERY, b"ROLLBACK").await {
                    Ok(()) => rolled_back.push(name(shard)),
                    Err(_) => conn.broken = true,
                }
                continue;
            }
            match expect_ok(conn, Command::COM_QUERY, text).await {
                Ok(()) => {
                    if commit && runtime.has_replicas(shard) {
                        let mut conn = self.pins.take(shard).expect("pinned");
                        self.remember_write(shard, &mut conn).await;
                        self.pins.give_back(shard, conn);
                    }
                    ended.push(name(shard));
                }
                Err(e) => {
                    conn.broken = true;
                    failure.get_or_insert((shard, ClientError::from(&e)));
                }
            }
        }
        self.pins.release_unneeded(runtime.topology.default_shard);
        let Some((shard, mut e)) = failure else {
            return Ok(());
        };
        e.message = format!("shard {}: {}", name(shard), e.message);
        if commit {
            e.message.push_str(&format!(
                "; transaction_mode \"multi\" commits shard by shard: committed on [{}], rolled back on [{}]",
                ended.join(", "),
                rolled_back.join(", ")
            ));
        }
        Err(e)
    }

    /// Transaction statements: `BEGIN`, `COMMIT`, `ROLLBACK`, and savepoints.
    pub(crate) async fn transaction(
        &mut self,
        runtime: &Runtime,
        cmd: &TxnCommand,
        text: &[u8],
    ) -> Step {
        let joined = self.pins.txn_shards();
        match cmd {
            TxnCommand::Begin => {
                // BEGIN releases table locks, and commits the open transaction.
                if let Err(e) = self.unlock_tables(runtime).await {
                    return self.send_error(e).await;
                }
                let begin = String::from_utf8_lossy(text).into_owned();
                match joined.as_slice() {
                    [] => {
                        let began = self.proxy.cutover.transaction_begins();
                        self.pins.begin_txn(Txn::explicit(begin, began));
                        self.send_ok(0, 0).await
                    }
                    // On one shard: on the same connection, which then runs the new one.
                    [shard] => {
                        let shard = *shard;
                        let began = self.proxy.cutover.transaction_begins();
                        let txn = self.pins.txn_mut().expect("runs on a shard");
                        txn.begin_again(begin, began);
                        self.on_pinned(
                            runtime,
                            shard,
                            StatementKind::Transaction,
                            Work::Command(Command::COM_QUERY, text),
                        )
                        .await
                    }
                    _ => {
                        self.pins.end_txn();
                        self.end_joined(runtime, joined, true, b"COMMIT").await?;
                        let began = self.proxy.cutover.transaction_begins();
                        self.pins.begin_txn(Txn::explicit(begin, began));
                        Ok(())
                    }
                }
            }
            TxnCommand::Commit | TxnCommand::Rollback => {
                let commit = matches!(cmd, TxnCommand::Commit);
                self.end_transaction(runtime, commit, text, joined).await
            }
            TxnCommand::EndAndDisconnect { commit } => {
                // The servers are sent the plain statement: RELEASE would close their
                // connection, not the client's.
                let text: &[u8] = if *commit { b"COMMIT" } else { b"ROLLBACK" };
                self.end_transaction(runtime, *commit, text, joined).await?;
                self.released = !self.answered_error;
                Ok(())
            }
            TxnCommand::Savepoint(name)
            | TxnCommand::RollbackTo(name)
            | TxnCommand::Release(name) => {
                if !self.in_transaction() {
                    // Outside a transaction MariaDB answers by itself (OK, or "does not exist").
                    let work = Work::Command(Command::COM_QUERY, text);
                    return self
                        .forward(
                            runtime,
                            runtime.topology.default_shard,
                            StatementKind::Transaction,
                            work,
                            AfterWrite::Nothing,
                        )
                        .await;
                }
                self.savepoint(runtime, cmd, name, text, joined).await
            }
        }
    }

    /// `COMMIT` (`commit`) or `ROLLBACK` of the open transaction, `text` as sent to its shards.
    async fn end_transaction(
        &mut self,
        runtime: &Runtime,
        commit: bool,
        text: &[u8],
        joined: Vec<ShardId>,
    ) -> Step {
        match joined.as_slice() {
            [] => {
                self.pins.end_txn();
                self.pins.release_unneeded(runtime.topology.default_shard);
                self.send_ok(0, 0).await
            }
            [shard] => {
                let shard = *shard;
                let default = runtime.topology.default_shard;
                let mut conn = self.pins.take(shard).expect("joined shards are pinned");
                let meter = runtime.instruments.primary(shard);
                let local_files = self.local_files();
                let result = {
                    let _timed = meter.time(StatementKind::Transaction);
                    conn.forward(Command::COM_QUERY, text, &mut self.client, local_files)
                        .await
                };
                if let Ok(finish) = &result {
                    self.keep_diagnostics(&mut conn, finish).await;
                }
                if commit && result.is_ok() && runtime.has_replicas(shard) {
                    self.remember_write(shard, &mut conn).await;
                }
                let pool = conn.pool().clone();
                self.pins.give_back(shard, conn);
                self.pins.end_txn();
                self.pins.release_unneeded(default);
                self.forwarded(result, &pool).await
            }
            _ => {
                self.pins.end_txn();
                self.end_joined(runtime, joined, commit, text).await
            }
        }
    }

    /// `SAVEPOINT`, `ROLLBACK TO`, `RELEASE SAVEPOINT` inside a transaction: kept by the proxy
    /// until the transaction reaches a shard, then run on every shard it runs on.
    async fn savepoint(
        &mut self,
        runtime: &Runtime,
        cmd: &TxnCommand,
        name: &str,
        text: &[u8],
        joined: Vec<ShardId>,
    ) -> Step {
        let cutover = &self.proxy.cutover;
        let txn = (self.pins).txn_or_begin(|| Txn::implicit(cutover.transaction_begins()));
        let known = txn.savepoints.iter().any(|s| s.eq_ignore_ascii_case(name));
        if !known && !matches!(cmd, TxnCommand::Savepoint(_)) {
            let e = ClientError::new(1305, b"42000", format!("SAVEPOINT {name} does not exist"));
            return self.send_error(e).await;
        }
        let mut failure = None;
        if let [shard] = joined.as_slice() {
            let conn = self.pins.take(*shard).expect("joined shards are pinned");
            let mut conn = conn;
            let local_files = self.local_files();
            let result = conn
                .forward(Command::COM_QUERY, text, &mut self.client, local_files)
                .await;
            if let Ok(finish) = &result {
                self.keep_diagnostics(&mut conn, finish).await;
            }
            let pool = conn.pool().clone();
            let ok = matches!(result, Ok(Finish::Ok { .. }));
            self.pins.give_back(*shard, conn);
            if ok {
                track_savepoint(self.pins.txn_mut().expect("open"), cmd, name);
            }
            return self.forwarded(result, &pool).await;
        }
        for &shard in &joined {
            let conn = self.pins.conn(shard).expect("joined shards are pinned");
            if let Err(e) = expect_ok(conn, Command::COM_QUERY, text).await {
                let mut e = ClientError::from(&e);
                e.message = format!(
                    "shard {}: {}",
                    runtime.topology.shards[shard].name, e.message
                );
                failure.get_or_insert(e);
            }
        }
        if let Some(e) = failure {
            return self.send_error(e).await;
        }
        track_savepoint(self.pins.txn_mut().expect("open"), cmd, name);
        self.send_ok(0, 0).await
    }

    /// The shards holding table locks release them (`BEGIN`, a new `LOCK TABLES`).
    pub(crate) async fn unlock_tables(&mut self, runtime: &Runtime) -> Result<(), ClientError> {
        let locked = std::mem::take(&mut self.pins.table_locks);
        let mut failure = None;
        for shard in locked {
            if let Some(conn) = self.pins.conn(shard) {
                if let Err(e) = expect_ok(conn, Command::COM_QUERY, b"UNLOCK TABLES").await {
                    conn.broken = true;
                    failure.get_or_insert(ClientError::from(&e));
                }
            }
        }
        self.pins.release_unneeded(runtime.topology.default_shard);
        failure.map_or(Ok(()), Err)
    }
}

/// Records a savepoint statement that succeeded.
fn track_savepoint(txn: &mut Txn, cmd: &TxnCommand, name: &str) {
    match cmd {
        TxnCommand::Savepoint(_) => txn.add_savepoint(name),
        TxnCommand::RollbackTo(_) => {
            txn.unwind_to(name, true);
        }
        TxnCommand::Release(_) => {
            txn.unwind_to(name, false);
        }
        _ => {}
    }
}

/// `SAVEPOINT name` (or another savepoint statement) with the name quoted.
fn savepoint_sql(verb: &str, name: &str) -> String {
    format!("{verb} `{}`", name.replace('`', "``"))
}
