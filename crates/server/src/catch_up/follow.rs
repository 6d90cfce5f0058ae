//! The catch-up's loop: events from the source's dump, row changes of moving keys to their
//! targets, one source transaction at a time; a broken connection resumes from the last
//! applied GTID.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::time::Duration;

use shardgate_binlog::{statements_for, Decoded, Decoder, Gtid, GtidPos, NewOwner, Table};
use tokio::sync::watch;

use super::apply::Targets;
use super::columns::read_table;
use super::lag::{publish_lag, watch_source};
use super::source::BinlogSource;
use super::{CatchUpError, CatchUpSpec, Progress};

/// Failures in a row without a transaction applied before the catch-up gives up.
const MAX_RETRIES: u32 = 30;
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The source transaction being read.
struct Open {
    gtid: Gtid,
    standalone: bool,
    timestamp: u32,
}

/// Follows the source until stopped or failed; `progress` ends with `failed` set on failure.
pub(super) async fn run(
    spec: CatchUpSpec,
    progress: watch::Sender<Progress>,
    mut stop: watch::Receiver<bool>,
    mut hold: watch::Receiver<Option<GtidPos>>,
) -> Result<(), CatchUpError> {
    let lag = tokio::spawn(watch_source(
        spec.source.clone(),
        spec.source_primary.clone(),
        progress.clone(),
        stop.clone(),
    ));
    let result = follow(&spec, &progress, &mut stop, &mut hold).await;
    lag.abort();
    if let Err(e) = &result {
        tracing::error!(source = %spec.source, error = %e, "catch-up stopped");
        progress.send_modify(|p| p.failed = Some(e.to_string()));
    }
    result
}

async fn follow(
    spec: &CatchUpSpec,
    progress: &watch::Sender<Progress>,
    stop: &mut watch::Receiver<bool>,
    hold: &mut watch::Receiver<Option<GtidPos>>,
) -> Result<(), CatchUpError> {
    let tables = followed_tables(spec).await?;
    let follows: HashSet<(String, String)> = tables.keys().cloned().collect();
    let mut targets = Targets::new(spec.targets.clone());
    let mut failures = 0;
    loop {
        let from = progress.borrow().applied.clone();
        let outcome = tokio::select! {
            outcome = stream(spec, &tables, &follows, &mut targets, progress, hold, &from) => outcome,
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        };
        // The stream ends only with an error; what was open on the targets is rolled back.
        targets.reset();
        progress.send_modify(|p| p.streaming = false);
        let Err(e) = outcome;
        let applied = progress.borrow().applied != from;
        failures = if applied { 1 } else { failures + 1 };
        if !e.retryable() || failures > MAX_RETRIES {
            return Err(e);
        }
        tracing::warn!(source = %spec.source, error = %e, resume = %progress.borrow().applied, "catch-up reconnects");
        progress.send_modify(|p| p.reconnects += 1);
        tokio::select! {
            _ = tokio::time::sleep(RETRY_DELAY) => {}
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}

/// Each followed table's columns as the source defines them, by (database, table).
async fn followed_tables(
    spec: &CatchUpSpec,
) -> Result<HashMap<(String, String), (Table, NewOwner)>, CatchUpError> {
    let mut conn = spec.source_primary.open_unpooled().await?;
    let mut tables = HashMap::new();
    for followed in &spec.tables {
        let table = read_table(
            &mut conn,
            &spec.source,
            &spec.database,
            &followed.name,
            &followed.shard_key,
        )
        .await?;
        let key = (spec.database.clone(), followed.name.clone());
        tables.insert(key, (table, followed.new_owner.clone()));
    }
    Ok(tables)
}

/// One dump connection from `from`, until it fails (it never ends otherwise).
async fn stream(
    spec: &CatchUpSpec,
    tables: &HashMap<(String, String), (Table, NewOwner)>,
    follows: &HashSet<(String, String)>,
    targets: &mut Targets,
    progress: &watch::Sender<Progress>,
    hold: &mut watch::Receiver<Option<GtidPos>>,
    from: &GtidPos,
) -> Result<Infallible, CatchUpError> {
    let mut source =
        BinlogSource::open(&spec.source_primary, &spec.source, spec.server_id, from).await?;
    progress.send_modify(|p| p.streaming = true);
    let mut decoder = Decoder::default();
    let mut open: Option<Open> = None;
    let binlog = |error| CatchUpError::Binlog {
        source_shard: spec.source.clone(),
        error,
    };
    loop {
        let event = source.next_event().await?;
        match decoder.decode(&event, follows).map_err(binlog)? {
            Decoded::Begin {
                gtid,
                standalone,
                timestamp,
            } => {
                // A verify holds the catch-up at a position: nothing past it is applied.
                let _ = (hold.wait_for(|at| at.as_ref().is_none_or(|at| at.includes(&gtid)))).await;
                targets.rollback().await?;
                open = Some(Open {
                    gtid,
                    standalone,
                    timestamp,
                });
            }
            Decoded::Rows {
                database,
                table,
                changes,
            } => {
                let Some((table, new_owner)) = tables.get(&(database, table)) else {
                    continue;
                };
                let mut applied = 0;
                for change in &changes {
                    for statement in statements_for(table, change, new_owner).map_err(binlog)? {
                        targets.apply(&statement).await?;
                        applied += 1;
                    }
                }
                progress.send_if_modified(|p| {
                    p.changes_applied += applied;
                    false
                });
            }
            Decoded::Commit => {
                targets.commit().await?;
                finished(open.take(), &spec.source, progress);
            }
            Decoded::Rollback => {
                targets.rollback().await?;
                finished(open.take(), &spec.source, progress);
            }
            Decoded::Query { sql, .. } => {
                if open.as_ref().is_some_and(|o| o.standalone) {
                    tracing::info!(source = %spec.source, statement = %sql.chars().take(200).collect::<String>(), "catch-up passes a statement of the source (not applied to targets)");
                    finished(open.take(), &spec.source, progress);
                }
            }
            Decoded::Other => {}
        }
    }
}

/// Records a source transaction as applied.
fn finished(open: Option<Open>, source: &str, progress: &watch::Sender<Progress>) {
    let Some(open) = open else {
        return;
    };
    progress.send_modify(|p| {
        p.applied.advance(open.gtid);
        p.transactions += 1;
        publish_lag(p, source, Some(open.timestamp));
    });
}
