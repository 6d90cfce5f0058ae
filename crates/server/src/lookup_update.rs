//! An UPDATE of lookup columns whose WHERE clause does not name its rows by shard key
//! (`UPDATE users SET email = 'x' WHERE name = 'n'`), after Vitess's owned lookup vindexes.
//! On each shard the UPDATE runs on, in one transaction per shard:
//! 1. `SELECT <shard key> … WHERE <the same clauses> FOR UPDATE` locks the rows it will change
//!    and gives their keys;
//! 2. each key gets a lookup row of each new value, written and committed first under the
//!    lookup's lock (`lock_lookup_rows`, as for any write): a unique value going to more than
//!    one row fails with 1062, as MariaDB fails setting one unique value on several rows;
//! 3. the UPDATE runs on the same connections, which commit (all, or all roll back);
//! 4. the lookup's lock commits.
//!
//! The rows cannot change between 1 and 3 (they are locked), so every row the UPDATE changes has
//! its lookup row before the change commits. Inside the client's transaction the same steps run
//! on its connections, and the UPDATE stays in its transaction.

use shardgate_backend::PooledConn;
use shardgate_config::{ShardKeyType, TableRule};
use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;
use shardgate_ring::ShardId;
use shardgate_router::{LookupEntry, Plan, Route, RowsToLocate};

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::lookup_table::{query_rows, run_ok, stored_literal, LookupError};
use crate::lookups::unquoted;
use crate::runtime::Runtime;
use crate::session::{Session, Step};
use crate::state::expect_ok;

impl Session {
    /// Runs UPDATE `text` (planned as `plan`) of `rule`'s table, whose rows' keys `locate` finds.
    pub(crate) async fn update_located_rows(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        plan: &Plan,
        locate: &RowsToLocate,
        text: &[u8],
        binary: bool,
    ) -> Step {
        let shards: Vec<ShardId> = match &plan.route {
            Route::Shard(shard) => vec![*shard],
            Route::Broadcast(shards) => shards.clone(),
            Route::Split(parts) => parts.iter().map(|(s, _)| *s).collect(),
            _ => {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    format!(
                        "this UPDATE of a lookup column of `{}` has no shards to lock its rows on: name the rows by their shard key",
                        rule.name
                    ),
                );
                return self.send_error(e).await;
            }
        };
        if self.in_transaction() {
            return self
                .update_located_in_txn(runtime, rule, plan, locate, &shards, text, binary)
                .await;
        }
        if let Some(&shard) = shards.iter().find(|s| self.pins.table_locks.contains(s)) {
            let e = ClientError::new(
                1235,
                b"42000",
                format!(
                    "an UPDATE of a lookup column that does not name its rows by shard key locks them in a transaction, which would end the session's LOCK TABLES on shard {}: name the rows by their shard key, or UNLOCK TABLES first",
                    runtime.topology.shards[shard].name
                ),
            );
            return self.send_error(e).await;
        }
        // Step 1, each shard's connection in a transaction of its own (the session's own
        // connection there, if it keeps one, which sees its temporary tables).
        let mut held: Vec<(ShardId, PooledConn)> = Vec::with_capacity(shards.len());
        let mut pinned: Vec<ShardId> = Vec::new();
        let mut failure: Option<ClientError> = None;
        let mut keys = Vec::new();
        for &shard in &shards {
            let conn = match self.pins.take(shard) {
                Some(conn) => {
                    pinned.push(shard);
                    Ok(conn)
                }
                None => self.checkout(runtime, shard).await,
            };
            let mut conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    failure = Some(ClientError::from(&e));
                    break;
                }
            };
            let begun = run_ok(&mut conn, "START TRANSACTION", "", &rule.name).await;
            let located = match begun {
                Ok(_) => locked_keys(&mut conn, rule, locate, runtime).await,
                Err(e) => Err(e),
            };
            held.push((shard, conn));
            match located {
                Ok(found) => keys.extend(found),
                Err(e) => {
                    failure = Some(ClientError::from(&e));
                    break;
                }
            }
        }
        let limit = runtime.topology.server.merge_max_rows;
        let entries = match failure {
            Some(_) => Vec::new(),
            None => match entries_for(rule, locate, &keys, limit) {
                Ok(entries) => entries,
                Err(e) => {
                    failure = Some(ClientError::from(&e));
                    Vec::new()
                }
            },
        };
        // Step 2.
        let mut lock = None;
        if failure.is_none() && !entries.is_empty() {
            match self
                .lock_lookup_rows(runtime, rule, &entries, &mut held)
                .await
            {
                Ok(conn) => lock = Some(conn),
                Err(e) => failure = Some(ClientError::from(&e)),
            }
        }
        // Step 3.
        let mut affected = 0u64;
        let mut warnings = 0u16;
        let mut conditions = Diagnostics::default();
        // The first shard whose rows the UPDATE changed (where an expression in it ran).
        let mut first_changed = None;
        if failure.is_none() {
            for (i, (shard, conn)) in held.iter_mut().enumerate() {
                let finish = conn.execute(Command::COM_QUERY, text).await;
                if let Ok(f) = &finish {
                    if let Some(d) = crate::diagnostics::after(conn, f).await {
                        conditions.extend(d);
                    }
                }
                let named = |e: ClientError| match shards.len() {
                    1 => e,
                    _ => ClientError {
                        message: format!(
                            "shard {}: {}; no shard kept any of its rows",
                            runtime.topology.shards[*shard].name, e.message
                        ),
                        ..e
                    },
                };
                match finish {
                    Ok(Finish::Ok {
                        affected_rows,
                        warnings: w,
                        ..
                    }) => {
                        if affected_rows > 0 {
                            first_changed.get_or_insert(i);
                        }
                        affected += affected_rows;
                        warnings = warnings.saturating_add(w);
                    }
                    Ok(Finish::Err(e)) => {
                        failure = Some(named(ClientError::from(e)));
                        break;
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
        }
        if failure.is_none() && self.statement_reads_last_insert_id {
            // `LAST_INSERT_ID(expr)` in the UPDATE sets the session's value: read it where
            // the UPDATE changed rows.
            if let Some((_, conn)) = held.get_mut(first_changed.unwrap_or(0)) {
                match crate::state::read_back(conn, true, &[]).await {
                    Ok(back) => self.adopt_read_id(back.last_insert_id.unwrap_or_default()),
                    Err(e) => failure = Some(ClientError::from(&e)),
                }
            }
        }
        // The shards' transactions end together; then the lookup's lock.
        let end: &[u8] = match failure {
            None => b"COMMIT",
            Some(_) => b"ROLLBACK",
        };
        let ends = held.iter_mut().map(|(shard, conn)| async move {
            let ended = match conn.broken {
                true => Err(()),
                false => expect_ok(conn, Command::COM_QUERY, end)
                    .await
                    .map_err(|_| ()),
            };
            (*shard, ended)
        });
        let ended = crate::statement_time::cleanup(futures_util::future::join_all(ends)).await;
        let unfinished: Vec<&str> = ended
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(s, _)| runtime.topology.shards[*s].name.as_str())
            .collect();
        if failure.is_none() && !unfinished.is_empty() {
            let committed: Vec<&str> = ended
                .iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(s, _)| runtime.topology.shards[*s].name.as_str())
                .collect();
            failure = Some(ClientError::new(
                1180,
                b"HY000",
                format!(
                    "committing the UPDATE failed on shard(s) {}; the parts on [{}] were committed",
                    unfinished.join(", "),
                    committed.join(", ")
                ),
            ));
        }
        if let Some(mut lock) = lock {
            if let Err(e) = run_ok(&mut lock, "COMMIT", "", &rule.name).await {
                tracing::warn!(table = %rule.name, error = %e, "committing a lookup lock failed");
            }
        }
        for (shard, conn) in held {
            if pinned.contains(&shard) {
                self.pins.give_back(shard, conn);
            }
        }
        self.pins.release_unneeded(runtime.topology.default_shard);
        if let Some(e) = failure {
            return self.send_error(e).await;
        }
        if warnings > 0 {
            self.diagnostics = conditions;
            self.diagnostics_read = true;
        }
        self.send_ok_with_id(affected, 0, warnings).await
    }

    /// The same steps inside the session's transaction: its connections lock the rows, and
    /// the UPDATE then runs in it as any statement of the transaction.
    #[allow(clippy::too_many_arguments)]
    async fn update_located_in_txn(
        &mut self,
        runtime: &Runtime,
        rule: &TableRule,
        plan: &Plan,
        locate: &RowsToLocate,
        shards: &[ShardId],
        text: &[u8],
        binary: bool,
    ) -> Step {
        let mut keys = Vec::new();
        for &shard in shards {
            if let Err(e) = self.join_txn(runtime, shard, true).await {
                return self.send_error(e).await;
            }
            let conn = self.pins.conn(shard).expect("joined above");
            match locked_keys(conn, rule, locate, runtime).await {
                Ok(found) => keys.extend(found),
                Err(e) => return self.send_error(ClientError::from(&e)).await,
            }
        }
        let limit = runtime.topology.server.merge_max_rows;
        let entries = match entries_for(rule, locate, &keys, limit) {
            Ok(entries) => entries,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let plain = Plan {
            lookup: None,
            ..plan.clone()
        };
        if entries.is_empty() {
            return Box::pin(self.execute(runtime, &plain, text, binary)).await;
        }
        // The session's own connections look at rows held by other keys (`lend_conn`).
        let mut lock = match self
            .lock_lookup_rows(runtime, rule, &entries, &mut [])
            .await
        {
            Ok(lock) => lock,
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let step = Box::pin(self.execute(runtime, &plain, text, binary)).await;
        if let Err(e) = run_ok(&mut lock, "COMMIT", "", &rule.name).await {
            tracing::warn!(table = %rule.name, error = %e, "committing a lookup lock failed");
        }
        step
    }
}

/// Step 1 on one shard's connection: the keys of the rows the UPDATE will change, locked.
async fn locked_keys(
    conn: &mut PooledConn,
    rule: &TableRule,
    locate: &RowsToLocate,
    runtime: &Runtime,
) -> Result<Vec<Vec<u8>>, LookupError> {
    let rows = query_rows(conn, &locate.select, 1, &rule.name, &rule.name).await?;
    let limit = runtime.topology.server.merge_max_rows;
    if rows.len() as u64 > limit {
        return Err(LookupError::TooManyRows {
            table: rule.name.clone(),
            limit,
        });
    }
    Ok(rows
        .into_iter()
        .filter_map(|mut r| r.pop().flatten())
        .collect())
}

/// One lookup row per key and value; a unique value for more than one row is a duplicate.
fn entries_for(
    rule: &TableRule,
    locate: &RowsToLocate,
    keys: &[Vec<u8>],
    limit: u64,
) -> Result<Vec<LookupEntry>, LookupError> {
    if keys.len() as u64 > limit {
        return Err(LookupError::TooManyRows {
            table: rule.name.clone(),
            limit,
        });
    }
    let mut entries = Vec::with_capacity(keys.len() * locate.values.len());
    for (lookup, value) in &locate.values {
        if lookup.unique && keys.len() > 1 {
            return Err(LookupError::Duplicate {
                value: unquoted(value),
                key: lookup.column.clone(),
            });
        }
        for key in keys {
            entries.push(LookupEntry {
                lookup: lookup.clone(),
                value: value.clone(),
                key: key_literal(rule, key),
            });
        }
    }
    Ok(entries)
}

/// A shard key the server gave, as a literal: an integer as its digits, a string by its bytes.
fn key_literal(rule: &TableRule, key: &[u8]) -> String {
    match (rule.key_type, std::str::from_utf8(key)) {
        (ShardKeyType::Integer, Ok(digits)) if digits.parse::<i128>().is_ok() => digits.to_owned(),
        _ => stored_literal(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key_type: &str) -> TableRule {
        let topology = shardgate_config::parse(
            &format!(
                r#"
default_shard = "s0"
[[users]]
name = "app"
password = "pw"
[backend]
user = "u"
password = "p"
database = "app"
[[shards]]
name = "s0"
primary = "127.0.0.1:3306"
[[tables]]
name = "users"
shard_key = "id"
shard_key_type = "{key_type}"
lookups = [{{ column = "email", unique = true }}, {{ column = "phone" }}]
"#
            ),
            "t.toml",
        )
        .unwrap();
        topology.table("users").unwrap().clone()
    }

    fn locate(rule: &TableRule, column: &str) -> RowsToLocate {
        let lookup = rule.lookups.iter().find(|l| l.column == column).unwrap();
        RowsToLocate {
            select: String::new(),
            values: vec![(lookup.clone(), "'v'".into())],
        }
    }

    #[test]
    fn each_key_gets_a_row_of_each_value() {
        let users = rule("integer");
        let keys = [b"7".to_vec(), b"-8".to_vec()];
        let entries = entries_for(&users, &locate(&users, "phone"), &keys, 10).unwrap();
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["7", "-8"]);
        assert!(matches!(
            entries_for(&users, &locate(&users, "phone"), &vec![b"1".to_vec(); 3], 2),
            Err(LookupError::TooManyRows { limit: 2, .. })
        ));
    }

    #[test]
    fn a_unique_value_for_several_rows_is_a_duplicate() {
        let users = rule("integer");
        let keys = [b"7".to_vec(), b"8".to_vec()];
        match entries_for(&users, &locate(&users, "email"), &keys, 10) {
            Err(LookupError::Duplicate { value, key }) => {
                assert_eq!((value.as_str(), key.as_str()), ("v", "email"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            entries_for(&users, &locate(&users, "email"), &keys[..1], 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn string_keys_are_written_by_their_bytes() {
        let users = rule("string");
        assert_eq!(key_literal(&users, b"a'b"), "CAST(X'612762' AS BINARY)");
        assert_eq!(key_literal(&rule("integer"), b"42"), "42");
    }
}
