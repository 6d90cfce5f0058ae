//! The backend connections a session keeps instead of returning them to the pool: those its
//! open transaction runs on (owned by the `Txn`), and those holding state the session created
//! there (temporary tables, named locks, table locks, open handlers, SQL-level prepared
//! statements; `router::ConnectionState` says where each lives). A connection goes back to the
//! pool once nothing holds it; one still held when the session ends is closed, so MariaDB
//! rolls back and releases everything on it.

use std::collections::BTreeSet;
use std::sync::Arc;

use shardgate_backend::PooledConn;
use shardgate_config::TransactionMode;
use shardgate_ring::ShardId;

use crate::cutover_gate::TransactionMark;

/// An open transaction, as the session's own statements opened it (never the backend's
/// in-transaction flag, which MariaDB does not set after `SAVEPOINT` alone or after a failed
/// write under `autocommit = 0`), and the connections it runs on. Only `Pins` opens and ends
/// one: ending it hands its connections back to what else holds them, or to their pools.
#[derive(Debug, Default)]
pub(crate) struct Txn {
    /// `BEGIN …` text to send on each shard the transaction opens on (explicit transactions;
    /// `None` under `autocommit = 0`).
    pub begin: Option<String>,
    /// The shards joined so far, in the order they joined (the order COMMIT goes in), each
    /// with the connection the transaction runs on there (`None` while lent to a statement).
    joined: Vec<(ShardId, Option<PooledConn>)>,
    /// The shard it first wrote on (or locked rows on). In transaction_mode "single" it
    /// writes there only; it may read on any shard.
    pub written: Option<ShardId>,
    /// The transaction's savepoints, oldest first: set on each shard as it joins, so a
    /// `ROLLBACK TO` means the same on every shard.
    pub savepoints: Vec<String>,
    /// The resharding gate's mark when it began (`cutover_gate.rs`: a cutover lets the
    /// transactions begun before its hold finish).
    pub began: Option<Arc<TransactionMark>>,
    /// Opened by the proxy for one statement outside any of the client's, which it commits
    /// on every shard together (`moving_update.rs`): it writes on any shard, whatever
    /// `transaction_mode`.
    pub for_statement: bool,
}

impl Txn {
    /// The shards it runs on, in the order they joined.
    pub fn shards(&self) -> Vec<ShardId> {
        self.joined.iter().map(|(s, _)| *s).collect()
    }

    pub fn runs_on(&self, shard: ShardId) -> bool {
        self.joined.iter().any(|(s, _)| *s == shard)
    }

    /// How many shards it runs on.
    pub fn width(&self) -> usize {
        self.joined.len()
    }

    /// `BEGIN` again while it runs on one shard: the same connection runs the new one.
    pub fn begin_again(&mut self, begin: String, began: Arc<TransactionMark>) {
        let joined = std::mem::take(&mut self.joined);
        *self = Txn {
            joined,
            ..Txn::explicit(begin, began)
        };
    }

    pub fn explicit(begin: String, began: Arc<TransactionMark>) -> Self {
        Txn {
            begin: Some(begin),
            began: Some(began),
            ..Txn::default()
        }
    }

    /// Whether it writes and locks rows on one shard only: under transaction_mode "single",
    /// unless the proxy opened it for one statement.
    pub fn writes_one_shard(&self, mode: TransactionMode) -> bool {
        mode == TransactionMode::Single && !self.for_statement
    }

    /// The proxy's own for one statement (see [`Txn::for_statement`]).
    pub fn for_statement(began: Arc<TransactionMark>) -> Self {
        Txn {
            for_statement: true,
            ..Txn::explicit("START TRANSACTION".into(), began)
        }
    }

    /// One `autocommit = 0` (or a savepoint) opened.
    pub fn implicit(began: Arc<TransactionMark>) -> Self {
        Txn {
            began: Some(began),
            ..Txn::default()
        }
    }

    /// `START TRANSACTION READ ONLY`.
    pub fn read_only(&self) -> bool {
        self.begin.as_deref().is_some_and(|b| {
            let b = b.to_ascii_lowercase();
            b.contains("read only") && !b.contains("read write")
        })
    }

    /// `SAVEPOINT name`: MariaDB replaces a savepoint of the same name.
    pub fn add_savepoint(&mut self, name: &str) {
        self.savepoints.retain(|s| !s.eq_ignore_ascii_case(name));
        self.savepoints.push(name.to_owned());
    }

    /// `ROLLBACK TO name` (keeps it) or `RELEASE SAVEPOINT name` (drops it): the savepoints
    /// after it are gone. `false` when there is no such savepoint.
    pub fn unwind_to(&mut self, name: &str, keep: bool) -> bool {
        match self
            .savepoints
            .iter()
            .position(|s| s.eq_ignore_ascii_case(name))
        {
            Some(at) => {
                self.savepoints.truncate(at + usize::from(keep));
                true
            }
            None => false,
        }
    }
}

/// Why a session keeps a connection (the label of `shardgate_pinned_sessions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PinReason {
    Transaction,
    TemporaryTable,
    NamedLock,
    TableLock,
    Handler,
    PreparedStatement,
    OptimizerTrace,
}

impl PinReason {
    pub const ALL: [PinReason; 7] = [
        PinReason::Transaction,
        PinReason::TemporaryTable,
        PinReason::NamedLock,
        PinReason::TableLock,
        PinReason::Handler,
        PinReason::PreparedStatement,
        PinReason::OptimizerTrace,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PinReason::Transaction => "transaction",
            PinReason::TemporaryTable => "temporary_table",
            PinReason::NamedLock => "named_lock",
            PinReason::TableLock => "table_lock",
            PinReason::Handler => "handler",
            PinReason::PreparedStatement => "prepared_statement",
            PinReason::OptimizerTrace => "optimizer_trace",
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Pins {
    /// Connections the transaction does not run on (held by state, or not yet released).
    conns: Vec<(ShardId, PooledConn)>,
    txn: Option<Txn>,
    /// Temporary tables the session created (lower-case), on the default shard.
    pub temporary_tables: BTreeSet<String>,
    /// Named locks the session may hold (names `GET_LOCK` was called with), default shard.
    pub named_locks: BTreeSet<String>,
    /// `GET_LOCK` was called with a name that was not a literal: held until
    /// `RELEASE_ALL_LOCKS()` or the end of the session.
    pub unnamed_locks: bool,
    /// Shards where the session holds `LOCK TABLES`.
    pub table_locks: Vec<ShardId>,
    /// Open handlers (lower-case names), default shard.
    pub handlers: BTreeSet<String>,
    /// SQL-level prepared statements the default shard's server keeps (lower-case names; see
    /// `sql_prepare.rs`).
    pub prepared_statements: BTreeSet<String>,
    /// The session's `optimizer_trace` is on: the trace of its last statement on the default
    /// shard is on that shard's connection, which `INFORMATION_SCHEMA.OPTIMIZER_TRACE` reads.
    pub optimizer_trace: bool,
    /// The reasons last counted in the metric.
    counted: Vec<PinReason>,
}

impl Pins {
    /// The transaction's slot for `shard`, if it runs there.
    fn txn_slot(&mut self, shard: ShardId) -> Option<&mut Option<PooledConn>> {
        let txn = self.txn.as_mut()?;
        txn.joined
            .iter_mut()
            .find(|(s, _)| *s == shard)
            .map(|(_, c)| c)
    }

    pub fn conn(&mut self, shard: ShardId) -> Option<&mut PooledConn> {
        if self.txn.as_ref().is_some_and(|t| t.runs_on(shard)) {
            return self.txn_slot(shard).and_then(Option::as_mut);
        }
        self.conns
            .iter_mut()
            .find(|(s, _)| *s == shard)
            .map(|(_, c)| c)
    }

    /// Whether the session keeps no backend connection.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty() && self.txn.as_ref().is_none_or(|t| t.joined.is_empty())
    }

    pub fn has(&self, shard: ShardId) -> bool {
        self.conns.iter().any(|(s, _)| *s == shard)
            || self.txn.as_ref().is_some_and(|t| t.runs_on(shard))
    }

    /// Keeps `conn` for `shard` (state on it; a transaction's connections are kept by
    /// `join_txn`).
    pub fn pin(&mut self, shard: ShardId, conn: PooledConn) {
        debug_assert!(!self.has(shard));
        self.conns.push((shard, conn));
    }

    /// Takes the connection of `shard` out (to lend it to a task); `give_back` returns it.
    pub fn take(&mut self, shard: ShardId) -> Option<PooledConn> {
        if let Some(slot) = self.txn_slot(shard) {
            return slot.take();
        }
        let at = self.conns.iter().position(|(s, _)| *s == shard)?;
        Some(self.conns.remove(at).1)
    }

    /// Returns a connection taken out (or kept for the first time): to the transaction when
    /// it runs on `shard`.
    pub fn give_back(&mut self, shard: ShardId, conn: PooledConn) {
        match self.txn_slot(shard) {
            Some(slot) => {
                debug_assert!(slot.is_none(), "a transaction keeps one connection a shard");
                *slot = Some(conn);
            }
            None => self.conns.push((shard, conn)),
        }
    }

    /// The pinned connections: the transaction's in the order it joined them, then the others.
    pub fn conns_mut(&mut self) -> impl Iterator<Item = (ShardId, &mut PooledConn)> {
        let txn = self.txn.iter_mut().flat_map(|t| t.joined.iter_mut());
        let txn = txn.filter_map(|(s, c)| c.as_mut().map(|c| (*s, c)));
        txn.chain(self.conns.iter_mut().map(|(s, c)| (*s, c)))
    }

    pub fn txn(&self) -> Option<&Txn> {
        self.txn.as_ref()
    }

    pub fn txn_mut(&mut self) -> Option<&mut Txn> {
        self.txn.as_mut()
    }

    /// The open transaction, begun (as `txn`) if none is.
    pub fn txn_or_begin(&mut self, txn: impl FnOnce() -> Txn) -> &mut Txn {
        self.txn.get_or_insert_with(txn)
    }

    /// Opens `txn`, which runs on no shard yet, ending the open one if any.
    pub fn begin_txn(&mut self, txn: Txn) {
        debug_assert!(txn.joined.is_empty());
        self.end_txn();
        self.txn = Some(txn);
    }

    /// Ends the open transaction: its connections stay kept (for the caller to send its end
    /// on them, by shard) until `release_unneeded`. Returns it, with the shards it ran on.
    pub fn end_txn(&mut self) -> Option<Txn> {
        let mut txn = self.txn.take()?;
        for (shard, conn) in &mut txn.joined {
            if let Some(conn) = conn.take() {
                self.conns.push((*shard, conn));
            }
        }
        Some(txn)
    }

    /// The transaction runs on `shard` from now on, on `conn` (taken out of the kept ones, or
    /// from the pool, and opened there).
    pub fn join_txn(&mut self, shard: ShardId, conn: PooledConn) {
        let txn = self.txn.as_mut().expect("a transaction joins shards");
        debug_assert!(!txn.runs_on(shard));
        txn.joined.push((shard, Some(conn)));
    }

    /// The transaction no longer runs on `shard` (it failed to open there): its connection
    /// is kept as any other, until `release_unneeded`.
    pub fn leave_txn(&mut self, shard: ShardId) {
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        if let Some(at) = txn.joined.iter().position(|(s, _)| *s == shard) {
            if let (_, Some(conn)) = txn.joined.remove(at) {
                self.conns.push((shard, conn));
            }
        }
    }

    /// The shards the open transaction runs on.
    pub fn txn_shards(&self) -> Vec<ShardId> {
        self.txn.as_ref().map_or_else(Vec::new, Txn::shards)
    }

    /// Whether state other than the transaction holds the connection of `shard`.
    pub fn holds_state(&self, shard: ShardId, default_shard: ShardId) -> bool {
        self.table_locks.contains(&shard)
            || (shard == default_shard
                && (!self.temporary_tables.is_empty()
                    || !self.named_locks.is_empty()
                    || self.unnamed_locks
                    || !self.handlers.is_empty()
                    || !self.prepared_statements.is_empty()
                    || self.optimizer_trace))
    }

    /// Renumbers the shards held after a reload (see `shard_renumbering.rs`); connections to
    /// removed shards are closed. `Some(name)`: the transaction ran on removed shard `name`,
    /// and is lost.
    pub fn renumber(
        &mut self,
        renumbering: &crate::shard_renumbering::Renumbering,
    ) -> Option<String> {
        let mut kept = Vec::with_capacity(self.conns.len());
        let mut lost = None;
        for (shard, mut conn) in std::mem::take(&mut self.conns) {
            match renumbering.get(shard) {
                Some(now) => kept.push((now, conn)),
                None => conn.broken = true,
            }
        }
        self.conns = kept;
        if let Some(txn) = &mut self.txn {
            let mut joined = Vec::with_capacity(txn.joined.len());
            for (shard, conn) in std::mem::take(&mut txn.joined) {
                match renumbering.get(shard) {
                    Some(now) => joined.push((now, conn)),
                    None => {
                        if let Some(mut conn) = conn {
                            lost = Some(conn.pool().label().to_owned());
                            conn.broken = true;
                        }
                    }
                }
            }
            txn.joined = joined;
            txn.written = txn.written.and_then(|s| renumbering.get(s));
        }
        self.table_locks = (self.table_locks.iter())
            .filter_map(|s| renumbering.get(*s))
            .collect();
        lost
    }

    /// Returns the connections nothing holds any more to their pools (clean: their
    /// transaction ended and their state is gone) and updates the metric.
    pub fn release_unneeded(&mut self, default_shard: ShardId) {
        let mut at = 0;
        while at < self.conns.len() {
            let shard = self.conns[at].0;
            if self.holds_state(shard, default_shard) {
                at += 1;
            } else {
                self.conns.remove(at);
            }
        }
        self.count();
    }

    /// Why the session keeps connections now.
    fn reasons(&self) -> Vec<PinReason> {
        let held = |reason| match reason {
            PinReason::Transaction => self.txn.as_ref().is_some_and(|t| !t.joined.is_empty()),
            PinReason::TemporaryTable => !self.temporary_tables.is_empty(),
            PinReason::NamedLock => !self.named_locks.is_empty() || self.unnamed_locks,
            PinReason::TableLock => !self.table_locks.is_empty(),
            PinReason::Handler => !self.handlers.is_empty(),
            PinReason::PreparedStatement => !self.prepared_statements.is_empty(),
            PinReason::OptimizerTrace => self.optimizer_trace,
        };
        PinReason::ALL.into_iter().filter(|r| held(*r)).collect()
    }

    fn count(&mut self) {
        let now = self.reasons();
        if now != self.counted {
            for r in &self.counted {
                crate::instruments::pinned_session(*r).dec();
            }
            for r in &now {
                crate::instruments::pinned_session(*r).inc();
            }
            self.counted = now;
        }
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        // Whatever is still pinned holds a transaction or state another session must never
        // see: close it (MariaDB then rolls back and releases everything on it).
        for (_, conn) in self.conns_mut() {
            conn.broken = true;
        }
        for r in &self.counted {
            crate::instruments::pinned_session(*r).dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoints_unwind_like_mariadb() {
        let mut txn = Txn::default();
        for name in ["a", "b", "c"] {
            txn.add_savepoint(name);
        }
        txn.add_savepoint("A"); // replaces `a`, now the newest
        assert_eq!(txn.savepoints, ["b", "c", "A"]);
        assert!(txn.unwind_to("c", true));
        assert_eq!(txn.savepoints, ["b", "c"]);
        assert!(txn.unwind_to("B", false));
        assert!(txn.savepoints.is_empty());
        assert!(!txn.unwind_to("z", true));
    }

    #[test]
    fn the_metric_counts_each_reason_while_it_holds() {
        let gauge = |r| crate::instruments::pinned_session(r).get();
        let before = gauge(PinReason::TemporaryTable);
        let mut pins = Pins::default();
        pins.temporary_tables.insert("t".into());
        pins.release_unneeded(0);
        assert_eq!(gauge(PinReason::TemporaryTable), before + 1);
        pins.temporary_tables.clear();
        pins.release_unneeded(0);
        assert_eq!(gauge(PinReason::TemporaryTable), before);
        pins.named_locks.insert("job".into());
        pins.release_unneeded(0);
        let locked = gauge(PinReason::NamedLock);
        drop(pins);
        assert_eq!(
            gauge(PinReason::NamedLock),
            locked - 1,
            "an ended session counts no more"
        );
    }

    #[test]
    fn read_only_transactions_are_recognised() {
        assert!(Txn::explicit("START TRANSACTION READ ONLY".into(), Arc::default()).read_only());
        assert!(!Txn::explicit("START TRANSACTION READ WRITE".into(), Arc::default()).read_only());
        assert!(!Txn::explicit("BEGIN".into(), Arc::default()).read_only());
    }
}
