//! Resharding's catch-up (issue #15): from the position a copy's snapshot recorded, read the
//! source shard's binlog (row-based, GTID) and apply every insert, update and delete of the
//! moving keys to their new owners, one source transaction at a time, until stopped.
//!
//! The pure parts — GTID positions, decoding events, which row change goes where and as what
//! statement — are `shardgate_binlog`; here are the connections: the dump
//! (`source.rs`), the targets (`apply.rs`), the loop that joins them and resumes after a broken
//! connection (`follow.rs`), and the source's position for the lag (`lag.rs`).

mod apply;
mod columns;
mod error;
mod follow;
mod lag;
mod source;
mod sql;

use std::collections::BTreeMap;
use std::sync::Arc;

use shardgate_backend::Pool;
use shardgate_binlog::{GtidPos, NewOwner};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::CatchUpError;

/// One table whose moving rows the catch-up follows.
#[derive(Clone)]
pub struct FollowedTable {
    pub name: String,
    /// Its shard key column.
    pub shard_key: String,
    /// The new owner of a key that moves away from the source (`shardgate_binlog::new_owner_by`
    /// builds it from the target placement's sharder).
    pub new_owner: NewOwner,
}

/// What to follow, from where, to where.
#[derive(Clone)]
pub struct CatchUpSpec {
    /// The source shard's name (in errors, logs and the metrics' `source` label).
    pub source: String,
    /// The source's primary, whose credentials the dump and the position reads log in with.
    pub source_primary: Arc<Pool>,
    /// The database of the followed tables (`[backend] database`).
    pub database: String,
    /// The position the copy's snapshot recorded (the source's `@@gtid_binlog_pos`).
    pub start: GtidPos,
    pub tables: Vec<FollowedTable>,
    /// The target shards' primaries, by shard name (what `new_owner` answers).
    pub targets: BTreeMap<String, Arc<Pool>>,
    /// The id the dump announces itself with: unique among the source's replicas, and among
    /// catch-ups reading the same source (a second dump with the same id ends the first).
    pub server_id: u32,
}

/// Where a catch-up stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// The last source transaction applied, per domain (resumed from after a reconnection).
    pub applied: GtidPos,
    /// The source's `@@gtid_binlog_pos` when last read (every half second).
    pub source_position: GtidPos,
    /// When it was last read (seconds since the epoch; 0 before the first read).
    pub source_read_at: u64,
    /// Source transactions read and applied (those without a moving row included).
    pub transactions: u64,
    /// Statements written to the targets (one per row change of a moving key, two for a row
    /// whose key changes owner).
    pub changes_applied: u64,
    /// Source transactions not applied yet.
    pub lag_events: u64,
    /// While behind: seconds since the source wrote the last applied transaction (since the
    /// start before the first one); 0 when caught up.
    pub lag_seconds: u64,
    /// When the source wrote the last applied transaction (seconds since the epoch; 0 before
    /// the first).
    pub applied_written_at: u64,
    /// When the catch-up started (seconds since the epoch).
    pub started_at: u64,
    /// The dump is open now (what the waits below need besides their condition: a catch-up
    /// that cannot read its source has reached nothing).
    pub streaming: bool,
    /// Times the source's stream broke and was resumed.
    pub reconnects: u64,
    /// Why the catch-up stopped, when an error stopped it.
    pub failed: Option<String>,
}

/// A running catch-up.
pub struct CatchUp {
    handle: CatchUpHandle,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), CatchUpError>>,
}

/// What others than the catch-up's owner may do with it: watch it, wait for it, and hold it
/// at a position (a verify, so that one side stands still while the other is read in a
/// snapshot of the same position).
#[derive(Clone)]
pub struct CatchUpHandle {
    progress: watch::Receiver<Progress>,
    source: Arc<Pool>,
    /// No source transaction past this position is applied while it is set.
    hold: Arc<watch::Sender<Option<GtidPos>>>,
    /// One hold at a time.
    holder: Arc<tokio::sync::Mutex<()>>,
}

/// A held catch-up: it applies no source transaction past the hold's position (none at
/// first), and goes on when dropped.
pub struct Held {
    hold: Arc<watch::Sender<Option<GtidPos>>>,
    handle: CatchUpHandle,
    _holder: tokio::sync::OwnedMutexGuard<()>,
}

impl Held {
    /// Applies every source transaction up to `position` (at or past the one under way when
    /// the hold began), and none after it.
    pub async fn up_to(&mut self, position: GtidPos) -> Result<Progress, CatchUpError> {
        self.hold.send_replace(Some(position.clone()));
        self.handle.reached(&position).await
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.hold.send_replace(None);
    }
}

impl CatchUp {
    /// Starts following the source from `spec.start`.
    pub fn start(spec: CatchUpSpec) -> CatchUp {
        let progress = Progress {
            applied: spec.start.clone(),
            started_at: lag::now(),
            ..Progress::default()
        };
        let (progress_tx, progress) = watch::channel(progress);
        let (stop, stop_rx) = watch::channel(false);
        let (hold, hold_rx) = watch::channel(None);
        let source = spec.source_primary.clone();
        let task = tokio::spawn(follow::run(spec, progress_tx, stop_rx, hold_rx));
        CatchUp {
            handle: CatchUpHandle {
                progress,
                source,
                hold: Arc::new(hold),
                holder: Arc::default(),
            },
            stop,
            task,
        }
    }

    pub fn handle(&self) -> CatchUpHandle {
        self.handle.clone()
    }

    pub fn progress(&self) -> Progress {
        self.handle.progress()
    }

    /// Reads the source's position now and waits until it is applied: with writes to the
    /// moving keys held, everything they wrote has reached the new owners.
    pub async fn reach_source_now(&mut self) -> Result<Progress, CatchUpError> {
        let mut conn = self.handle.source.open_unpooled().await?;
        let position = sql::binlog_position(&mut conn).await?;
        self.handle.reached(&position).await
    }

    /// Stops between two events (a transaction half applied is rolled back on the targets;
    /// `applied` names the last one committed) and returns where it stopped.
    pub async fn stop(self) -> Result<Progress, CatchUpError> {
        let _ = self.stop.send(true);
        let ended = self.task.await;
        let progress = self.handle.progress();
        match ended {
            Ok(Ok(())) => Ok(progress),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(CatchUpError::NotRunning(e.to_string())),
        }
    }
}

impl CatchUpHandle {
    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    /// The catch-up still runs.
    pub fn is_running(&self) -> bool {
        self.progress.has_changed().is_ok() && self.progress.borrow().failed.is_none()
    }

    /// Holds the catch-up: the source transaction under way is applied, no later one until
    /// [`Held::up_to`] lets them, or the returned [`Held`] is dropped. A verify holds first,
    /// then opens its snapshot of the source, whose position is at or past everything
    /// applied, and then lets the catch-up reach exactly that position.
    pub async fn hold(&self) -> Held {
        let holder = self.holder.clone().lock_owned().await;
        self.hold.send_replace(Some(GtidPos::default()));
        Held {
            hold: self.hold.clone(),
            handle: self.clone(),
            _holder: holder,
        }
    }

    /// Waits until every transaction up to `position` is applied (or the catch-up fails).
    async fn reached(&mut self, position: &GtidPos) -> Result<Progress, CatchUpError> {
        self.wait(|p| p.applied.covers(position)).await
    }

    async fn wait(&mut self, done: impl Fn(&Progress) -> bool) -> Result<Progress, CatchUpError> {
        loop {
            {
                let p = self.progress.borrow_and_update();
                if p.streaming && done(&p) {
                    return Ok(p.clone());
                }
                if let Some(failed) = &p.failed {
                    return Err(CatchUpError::NotRunning(failed.clone()));
                }
            }
            if self.progress.changed().await.is_err() {
                let failed = self.progress.borrow().failed.clone();
                return Err(CatchUpError::NotRunning(
                    failed.unwrap_or_else(|| "stopped".into()),
                ));
            }
        }
    }
}
