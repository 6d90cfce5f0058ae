//! Statements on tables with lookup indexes (`router/src/lookup.rs` plans them).
//!
//! **Reads** by a lookup column ask the lookup table for the shard keys holding the values and
//! run on those keys' shards only; no key found runs the statement on the default shard alone
//! (where the lookup is: its answer has MariaDB's own column metadata, and no row, since every
//! row is in the lookup). A stale lookup row (its row changed or gone) only sends the
//! statement to one more shard, whose WHERE clause finds nothing there. Inside a transaction
//! a read scatters as before: its snapshot may hold rows whose lookup rows were cleaned since.
//!
//! **Writes** keep this order (after Vitess's `consistent_lookup`), so that a crash at any
//! moment leaves no row unreachable through its lookup:
//! 1. the lookup rows `(value, key)` are inserted and committed (`INSERT IGNORE`);
//! 2. a transaction on the same connection locks every lookup row of each value
//!    (`SELECT … FOR UPDATE`): writers of one value take turns; for a unique lookup, another
//!    key holding the value is checked on its shard (`LOCK IN SHARE MODE`, which waits for a
//!    transaction writing that row): if its row holds the value, the write fails with 1062;
//! 3. the statement runs;
//! 4. the lock transaction commits.
//!
//! Lookup rows of old values (an UPDATE's, a DELETE's) stay behind, stale: reads ignore them,
//! a unique write takes the value over, and `shardgate lookup verify --repair` removes them.

use std::collections::BTreeSet;

use shardgate_backend::PooledConn;
use shardgate_config::{ShardKeyType, TableRule};
use shardgate_ring::ShardId;
use shardgate_router::{LookupEntry, LookupPlan, LookupRead, LookupWrite, Plan, Route};

use crate::errors::ClientError;
use crate::lookup_table::{
    commit_if_open, qualified, query_rows, run_ok, stored_literal, LookupError,
};
use crate::runtime::Runtime;
use crate::session::{Session, Step};

/// An explicit LIMIT that keeps every row: the session's `sql_select_limit`, which the
/// connection carries, must not cut a lookup's answer short.
const ALL_ROWS: u64 = u64::MAX;

/// How long a lookup's locking reads wait for a lock, so a stuck writer cannot hold others long.
const LOCK_WAIT_SECONDS: u32 = 10;

impl Session {
    /// Runs `plan`, which uses a table's lookups (`lookup`), with statement `text`.
    pub(crate) async fn execute_with_lookup(
        &mut self,
        runtime: &Runtime,
        plan: &Plan,
        lookup: &LookupPlan,
        text: &[u8],
        binary: bool,
    ) -> Step {
        let plain = Plan {
            lookup: None,
            ..plan.clone()
        };
        let Some(rule) = runtime.topology.table(match lookup {
            LookupPlan::Read(r) => &r.table,
            LookupPlan::Write(w) => &w.table,
        }) else {
            return Box::pin(self.execute(runtime, &plain, text, binary)).await;
        };
        match lookup {
            LookupPlan::Read(read) if !self.in_transaction() => {
                self.read_by_lookup(runtime, rule, plain, read, text, binary)
                    .await
            }
            LookupPlan::Read(_) => Box::pin(self.execute(runtime, &plain, text, binary)).await,
            LookupPlan::Write(write) => {
                self.write_with_lookups(runtime, rule, &plain, write, text, binary)
                    .await
            }
        }
    }

    async fn read_by_lookup(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        mut plan: Plan,
        read: &LookupRead,
        text: &[u8],
        binary: bool,
    ) -> Step {
        let shards = match self.shards_by_lookup(runtime, rule, read).await {
            Ok(shards) => shards,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let labels = [rule.name.as_str(), read.lookup.column.as_str()];
        let metrics = shardgate_metrics::metrics();
        metrics.lookup_reads_total.with_label_values(&labels).inc();
        let shards = if shards.is_empty() {
            metrics.lookup_misses_total.with_label_values(&labels).inc();
            BTreeSet::from([runtime.topology.default_shard])
        } else {
            shards
        };
        let Route::Scatter(scatter) = &plan.route else {
            return Box::pin(self.execute(runtime, &plan, text, binary)).await;
        };
        if shards.len() < scatter.shards.len() {
            metrics
                .lookup_scatters_avoided_total
                .with_label_values(&labels)
                .inc();
        }
        metrics
            .lookup_shards_total
            .with_label_values(&labels)
            .inc_by(shards.len() as u64);
        plan.route = match (shards.first(), shards.len(), binary) {
            // Text rows: the statement as written, forwarded from its one shard.
            (Some(shard), 1, false) => Route::Shard(*shard),
            _ => {
                let mut narrowed = scatter.as_ref().clone();
                narrowed.shards.clear();
                narrowed.shard_sql.clear();
                for shard in &shards {
                    narrowed.shards.push(*shard);
                    if !scatter.shard_sql.is_empty() {
                        let sql = match scatter.shards.iter().position(|s| s == shard) {
                            Some(i) => scatter.shard_sql[i].clone(),
                            None => scatter.sql.clone(),
                        };
                        narrowed.shard_sql.push(sql);
                    }
                }
                Route::Scatter(Box::new(narrowed))
            }
        };
        Box::pin(self.execute(runtime, &plan, text, binary)).await
    }

    /// The shards of the rows the lookup says hold `read`'s values (possibly stale ones).
    async fn shards_by_lookup(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        read: &LookupRead,
    ) -> Result<BTreeSet<usize>, LookupError> {
        let topology = &runtime.topology;
        let sql = format!(
            "SELECT DISTINCT `{}` FROM {} WHERE `{}` IN ({}) LIMIT {ALL_ROWS}",
            rule.shard_key,
            qualified(topology, &read.lookup.table),
            read.lookup.column,
            read.values.join(", ")
        );
        let mut conn = self.checkout(runtime, topology.default_shard).await?;
        let rows = query_rows(&mut conn, &sql, 1, &read.lookup.table, &rule.name).await?;
        let mut shards = BTreeSet::new();
        for key in rows.iter().filter_map(|r| r[0].as_deref()) {
            shards.insert(shard_of_stored(rule, key)?);
        }
        Ok(shards)
    }

    async fn write_with_lookups(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        plan: &Plan,
        write: &LookupWrite,
        text: &[u8],
        binary: bool,
    ) -> Step {
        if let Some(locate) = &write.locate {
            return Box::pin(self.update_located_rows(runtime, rule, plan, locate, text, binary))
                .await;
        }
        if write.entries.is_empty() {
            return Box::pin(self.execute(runtime, plan, text, binary)).await;
        }
        let mut lock = match self
            .lock_lookup_rows(runtime, rule, &write.entries, &mut [])
            .await
        {
            Ok(lock) => lock,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let step = Box::pin(self.execute(runtime, plan, text, binary)).await;
        // The lock's end: a failure leaves the transaction to the server (the pool drops a
        // connection left in a transaction).
        if let Err(e) = run_ok(&mut lock, "COMMIT", "", &rule.name).await {
            tracing::warn!(table = %rule.name, error = %e, "committing a lookup lock failed");
        }
        step
    }

    /// Steps 1 and 2 of a write (see the module's comment): the connection holding the lock.
    /// `held`: connections of the statement's own transactions, by shard, which look at rows
    /// there (rows they locked would make another connection wait for them).
    pub(crate) async fn lock_lookup_rows(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        entries: &[LookupEntry],
        held: &mut [(ShardId, PooledConn)],
    ) -> Result<PooledConn, LookupError> {
        let topology = &runtime.topology;
        let mut conn = self.checkout(runtime, topology.default_shard).await?;
        let mut tables: Vec<&str> = entries.iter().map(|e| e.lookup.table.as_str()).collect();
        tables.sort_unstable();
        tables.dedup();
        for table in &tables {
            let of_table: Vec<&LookupEntry> = entries
                .iter()
                .filter(|e| e.lookup.table == *table)
                .collect();
            let rows: Vec<String> = of_table
                .iter()
                .map(|e| format!("({}, {})", e.value, e.key))
                .collect();
            let sql = format!(
                "INSERT IGNORE INTO {} (`{}`, `{}`) VALUES {}",
                qualified(topology, table),
                of_table[0].lookup.column,
                rule.shard_key,
                rows.join(", ")
            );
            let (_, status) = run_ok(&mut conn, &sql, table, &rule.name).await?;
            commit_if_open(&mut conn, status, table, &rule.name).await?;
        }
        run_ok(&mut conn, "START TRANSACTION", "", &rule.name).await?;
        for entry in entries {
            let lookup = &entry.lookup;
            let statement_keys: Vec<&str> = entries
                .iter()
                .filter(|other| other.lookup.column == lookup.column && other.key != entry.key)
                .map(|other| other.key.as_str())
                .collect();
            // The server compares the keys, as it compared them when the rows went in.
            let sql = format!(
                "SET STATEMENT innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS} FOR SELECT `{key}`, `{key}` = {own}, {others} FROM {table} WHERE `{column}` = {value} LIMIT {ALL_ROWS} FOR UPDATE",
                key = rule.shard_key,
                own = entry.key,
                others = match statement_keys.is_empty() {
                    true => "0".to_owned(),
                    false => format!("`{}` IN ({})", rule.shard_key, statement_keys.join(", ")),
                },
                table = qualified(topology, &lookup.table),
                column = lookup.column,
                value = entry.value
            );
            let holders = query_rows(&mut conn, &sql, 3, &lookup.table, &rule.name).await?;
            let is_true = |cell: &Option<Vec<u8>>| cell.as_deref() == Some(b"1");
            if !holders.iter().any(|row| is_true(&row[1])) {
                // `lookup verify --repair` took the row for stale between steps 1 and 2.
                let _ = run_ok(&mut conn, "ROLLBACK", "", &rule.name).await;
                return Err(LookupError::Unexpected {
                    table: lookup.table.clone(),
                    detail: "its row for this value was removed meanwhile: run the statement again"
                        .into(),
                });
            }
            if !lookup.unique {
                continue;
            }
            for row in holders.iter().filter(|row| !is_true(&row[1])) {
                let Some(holder) = row[0].as_deref() else {
                    continue;
                };
                if is_true(&row[2]) || self.holds_value(runtime, rule, entry, holder, held).await? {
                    let _ = run_ok(&mut conn, "ROLLBACK", "", &rule.name).await;
                    return Err(LookupError::Duplicate {
                        value: unquoted(&entry.value),
                        key: lookup.column.clone(),
                    });
                }
            }
        }
        Ok(conn)
    }

    /// Whether the row whose shard key is `stored_key` holds `entry`'s value, read with a lock
    /// that waits for a transaction writing it (on the session's own connection there, if it
    /// keeps one, which sees its own transaction).
    async fn holds_value(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        entry: &LookupEntry,
        stored_key: &[u8],
        held: &mut [(ShardId, PooledConn)],
    ) -> Result<bool, LookupError> {
        let shard = shard_of_stored(rule, stored_key)?;
        let sql = format!(
            "SET STATEMENT innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS} FOR SELECT 1 FROM {} WHERE `{}` = {} AND `{}` = {} LIMIT 1 LOCK IN SHARE MODE",
            qualified(&runtime.topology, &rule.name),
            rule.shard_key,
            stored_literal(stored_key),
            entry.lookup.column,
            entry.value
        );
        if let Some((_, conn)) = held.iter_mut().find(|(s, _)| *s == shard) {
            let rows = query_rows(conn, &sql, 1, &rule.name, &rule.name).await?;
            return Ok(!rows.is_empty());
        }
        let mut lent = self.lend_conn(runtime, shard).await?;
        let rows = query_rows(&mut lent.conn, &sql, 1, &rule.name, &rule.name).await;
        if !lent.pinned {
            // An autocommitted locking read of a session with autocommit = 0 left it open.
            if lent.conn.in_transaction() {
                let _ = run_ok(&mut lent.conn, "ROLLBACK", "", &rule.name).await;
            }
        }
        self.give_back_lent(shard, lent);
        Ok(!rows?.is_empty())
    }
}

/// The shard of a shard key as the server stored it.
pub(crate) fn shard_of_stored(rule: &TableRule, key: &[u8]) -> Result<usize, LookupError> {
    let owned;
    let value = match rule.key_type {
        ShardKeyType::Integer => {
            let n = std::str::from_utf8(key)
                .ok()
                .and_then(|k| k.parse::<i128>().ok())
                .ok_or_else(|| LookupError::Unexpected {
                    table: rule.name.clone(),
                    detail: format!(
                        "shard key {:?} is not an integer",
                        String::from_utf8_lossy(key)
                    ),
                })?;
            shardgate_ring::KeyValue::Int(n)
        }
        ShardKeyType::String => {
            owned = key.to_vec();
            shardgate_ring::KeyValue::Str(&owned)
        }
    };
    rule.shard_for(&value).map_err(|e| LookupError::Unexpected {
        table: rule.name.clone(),
        detail: e.to_string(),
    })
}

/// A string literal's text without its quotes (when it has no escapes), for messages; other
/// literals as written.
pub(crate) fn unquoted(literal: &str) -> String {
    let bytes = literal.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(q @ (b'\'' | b'"')), Some(end)) if q == end && bytes.len() >= 2 => {
            let inner = &literal[1..literal.len() - 1];
            match inner.contains(['\\', '\'', '"']) {
                true => literal.to_owned(),
                false => inner.to_owned(),
            }
        }
        _ => literal.to_owned(),
    }
}
