//! Writing row changes to their new owners: one connection per target shard, a transaction on
//! each target a source transaction touches, committed when the source's commits.

use std::collections::BTreeMap;
use std::sync::Arc;

use shardgate_backend::{BackendConn, Pool};
use shardgate_binlog::TargetStatement;

use super::sql::run;
use super::CatchUpError;

/// The session every applying connection runs with: TIMESTAMPs are written as UTC times,
/// zero dates and a 0 id as given (`literal.rs`), and a row may arrive before the row it
/// refers to (its parent may be on another source).
const SESSION: &str = "SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO', \
                       foreign_key_checks = 0, autocommit = 1";

/// The target shards' primaries, by shard name.
pub(super) struct Targets {
    pools: BTreeMap<String, Arc<Pool>>,
    conns: BTreeMap<String, BackendConn>,
    /// Targets with a transaction open for the current source transaction.
    open: Vec<String>,
}

impl Targets {
    pub(super) fn new(pools: BTreeMap<String, Arc<Pool>>) -> Self {
        Targets {
            pools,
            conns: BTreeMap::new(),
            open: Vec::new(),
        }
    }

    /// Runs one statement in the current transaction of its target.
    pub(super) async fn apply(&mut self, statement: &TargetStatement) -> Result<(), CatchUpError> {
        let target = statement.target.as_str();
        if !self.open.iter().any(|t| t == target) {
            self.run(target, "BEGIN").await?;
            self.open.push(target.to_owned());
        }
        self.run(target, &statement.sql).await
    }

    /// Commits the current transaction on every target it touched.
    pub(super) async fn commit(&mut self) -> Result<(), CatchUpError> {
        for target in std::mem::take(&mut self.open) {
            self.run(&target, "COMMIT").await?;
        }
        Ok(())
    }

    /// Rolls back the current transaction (the source rolled its back, or it was cut).
    pub(super) async fn rollback(&mut self) -> Result<(), CatchUpError> {
        for target in std::mem::take(&mut self.open) {
            self.run(&target, "ROLLBACK").await?;
        }
        Ok(())
    }

    /// Drops every connection: the servers roll back what was open (after a broken source
    /// stream, the transaction is read again from the last applied GTID).
    pub(super) fn reset(&mut self) {
        self.open.clear();
        self.conns.clear();
    }

    async fn run(&mut self, target: &str, sql: &str) -> Result<(), CatchUpError> {
        let conn = self.conn(target).await?;
        match run(conn, sql).await {
            Ok(()) => Ok(()),
            Err(Ok(error)) => Err(CatchUpError::TargetRefused {
                target: target.to_owned(),
                statement: shorten(sql),
                error,
            }),
            Err(Err(e)) => {
                self.reset();
                Err(e)
            }
        }
    }

    async fn conn(&mut self, target: &str) -> Result<&mut BackendConn, CatchUpError> {
        if !self.conns.contains_key(target) {
            let pool = (self.pools.get(target))
                .ok_or_else(|| CatchUpError::UnknownTarget(target.to_owned()))?;
            let mut conn = pool.open_unpooled().await?;
            run(&mut conn, SESSION).await.map_err(|e| {
                e.map_or_else(
                    |e| e,
                    |refused| CatchUpError::Connection(refused.to_string()),
                )
            })?;
            self.conns.insert(target.to_owned(), conn);
        }
        Ok(self.conns.get_mut(target).expect("inserted above"))
    }
}

/// A statement as an error names it: its first 200 bytes.
fn shorten(sql: &str) -> String {
    match sql.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &sql[..end]),
        None => sql.to_owned(),
    }
}
