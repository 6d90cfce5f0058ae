//! Where single-shard statements outside transactions run: reads on a replica the
//! consistency level allows (or the primary), writes on the primary, with the GTID of each
//! write remembered for read-your-writes.

use shardgate_backend::replica_choice::Choice;
use shardgate_backend::{GtidPosition, PooledConn, QueryHead};
use shardgate_config::Consistency;
use shardgate_protocol::forward::ForwardError;
use shardgate_ring::ShardId;
use shardgate_router::StatementKind;
use shardgate_wire::lenenc::read_lenenc_int;

use crate::errors::ClientError;
use crate::executor::{run_work, AfterWrite, Work};
use crate::runtime::Runtime;
use crate::session::{Session, Step};

/// What a session knows of its last write to a shard.
#[derive(Debug, Clone)]
pub(crate) enum LastWrite {
    /// The GTIDs of its writes: a replica that has applied them may serve its reads.
    Known(GtidPosition),
    /// It wrote, but the GTID could not be read: only the primary is sure to have the write.
    Unknown,
}

/// A `/*+ shardgate consistency=… */` hint in a statement's text.
pub(crate) fn consistency_hint(sql: &[u8]) -> Option<Consistency> {
    // Bytes, not text: most statements carry no hint, and they are never decoded for this.
    let start = memchr::memchr_iter(b'/', sql).find(|&i| sql[i + 1..].starts_with(b"*+"))? + 3;
    let len = memchr::memmem::find(&sql[start..], b"*/")?;
    let hint = std::str::from_utf8(&sql[start..start + len]).ok()?;
    let mut words = hint.split_whitespace();
    if !words.any(|w| w.eq_ignore_ascii_case("shardgate")) {
        return None;
    }
    hint.split_whitespace()
        .find_map(|w| w.strip_prefix("consistency="))
        .and_then(|level| {
            level
                .trim_matches(|c| c == '\'' || c == '"')
                .to_ascii_lowercase()
                .parse()
                .ok()
        })
}

impl Session {
    /// The consistency level of a read: the statement's hint, else the session's setting, else
    /// the table's, else the configured default.
    fn consistency_for(
        &self,
        runtime: &Runtime,
        table: Option<&str>,
        hint: Option<Consistency>,
    ) -> Consistency {
        hint.or(self.consistency_override)
            .or_else(|| {
                table
                    .and_then(|t| runtime.topology.table(t))
                    .and_then(|rule| rule.consistency)
            })
            .unwrap_or(runtime.topology.replication.consistency)
    }

    /// Runs a statement on one shard outside a transaction: plain reads on a replica when the
    /// consistency level allows, everything else on the primary.
    pub(crate) async fn run_single(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        kind: StatementKind,
        table: Option<&str>,
        hint: Option<Consistency>,
        work: Work<'_>,
    ) -> Step {
        if kind == StatementKind::Read && runtime.has_replicas(shard) {
            let consistency = self.consistency_for(runtime, table, hint);
            return self.read(runtime, shard, consistency, work).await;
        }
        if kind == StatementKind::Read || !runtime.has_replicas(shard) {
            return self
                .forward(runtime, shard, kind, work, AfterWrite::Nothing)
                .await;
        }
        // A write: run it on the primary, then remember its GTID for read-your-writes.
        self.forward(runtime, shard, kind, work, AfterWrite::RememberPosition)
            .await
    }

    /// A read on a replica (retried once on another replica, then on the primary, when the
    /// replica fails before any of the answer reached the client).
    async fn read(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        consistency: Consistency,
        work: Work<'_>,
    ) -> Step {
        let mut failed: Vec<usize> = Vec::new();
        loop {
            let (consistency, last_write) = match self.last_write.get(&shard) {
                Some(LastWrite::Known(position)) => (consistency, Some(position)),
                Some(LastWrite::Unknown) if consistency == Consistency::ReadYourWrites => {
                    (Consistency::Strong, None)
                }
                _ => (consistency, None),
            };
            let choice = if failed.len() >= 2 {
                Choice::Primary(
                    shardgate_backend::replica_choice::PrimaryReason::NoReplicaInRotation,
                )
            } else {
                runtime.choose_read(shard, consistency, last_write, &failed)
            };
            let replica = match choice {
                Choice::Primary(_) => {
                    return self
                        .forward(
                            runtime,
                            shard,
                            StatementKind::Read,
                            work,
                            AfterWrite::Nothing,
                        )
                        .await
                }
                Choice::Error(reason) => {
                    return self
                        .send_error(ClientError::new(1429, b"HY000", reason.to_string()))
                        .await;
                }
                Choice::Replica(i) => i,
            };
            let pool =
                (runtime.replica_of(self.pass_through.as_ref(), shard, replica)).into_owned();
            let checkout = (runtime.instruments).checkout(&pool, shard, Some(replica), self.flavor);
            let mut conn = match checkout.await {
                Ok(conn) => conn,
                Err(_) => {
                    failed.push(replica);
                    continue;
                }
            };
            self.slot.hold(&conn);
            let ready = match self.state.sync(&mut conn).await {
                Ok(()) => self.before_statement(&mut conn).await,
                Err(e) => Err(e),
            };
            match ready {
                Ok(()) => {}
                // Past the statement's bound: no time left to try elsewhere.
                Err(e) if crate::statement_time::passed(&e) => {
                    return self.send_error(ClientError::from(&e)).await
                }
                Err(_) => {
                    failed.push(replica);
                    continue;
                }
            }
            let meter = runtime.instruments.replica(shard);
            let result = run_work!(self, &mut conn, meter, StatementKind::Read, &work);
            drop(conn);
            // A read cut off at its bound is answered (1969, naming the replica), not retried.
            let retry = !crate::cut_off::recoverable(&result);
            if let (
                true,
                Err(ForwardError::Backend {
                    partial: false,
                    error,
                }),
            ) = (retry, &result)
            {
                tracing::info!(endpoint = pool.label(), %error, "read failed on a replica; retrying elsewhere");
                pool.discard_idle();
                failed.push(replica);
                continue;
            }
            return self.forwarded(result, &pool).await;
        }
    }

    /// Reads `@@last_gtid` after a write on `conn` (a primary of `shard`) and remembers it.
    pub(crate) async fn remember_write(&mut self, shard: ShardId, conn: &mut PooledConn) {
        if conn.in_transaction() {
            return; // the GTID comes with the COMMIT
        }
        let gtid = match conn.query_rows(b"SELECT @@last_gtid LIMIT 1").await {
            Ok(QueryHead::Columns(_)) => {
                let row = conn.next_row().await;
                let end = conn.next_row().await;
                match (row, end) {
                    (Ok(Ok(row)), Ok(Err(_))) => read_lenenc_int(&row).and_then(|(len, used)| {
                        let text = row.get(used..used + usize::try_from(len).ok()?)?;
                        GtidPosition::parse(std::str::from_utf8(text).ok()?).ok()
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        let known = match (gtid, self.last_write.remove(&shard)) {
            (Some(position), Some(LastWrite::Known(mut before))) if !position.is_empty() => {
                before.merge(&position);
                LastWrite::Known(before)
            }
            (Some(position), _) if !position.is_empty() => LastWrite::Known(position),
            // Unknown: this session's reads of the shard go to the primary from now on.
            _ => LastWrite::Unknown,
        };
        self.last_write.insert(shard, known);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_found_in_comments_only() {
        assert_eq!(
            consistency_hint(b"/*+ shardgate consistency=strong */ SELECT 1"),
            Some(Consistency::Strong)
        );
        assert_eq!(
            consistency_hint(b"SELECT /*+ shardgate consistency=eventual */ * FROM users"),
            Some(Consistency::Eventual)
        );
        assert_eq!(
            consistency_hint(b"SELECT 'shardgate consistency=strong'"),
            None
        );
        assert_eq!(
            consistency_hint(b"/*+ other consistency=strong */ SELECT 1"),
            None
        );
        assert_eq!(
            consistency_hint(b"/*+ shardgate consistency=bogus */ SELECT 1"),
            None
        );
    }
}
