//! What a running migration shows beyond its records, and how the admin statements steer it:
//! the control its task watches (run, pause, cancel), each flow's rows copied since the task
//! (re)started and since when (its rate and ETA), whether it waits for lagging replicas, and
//! where each source's catch-up stands.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shardgate_migration::Progress;

use crate::catch_up::Progress as CatchUpProgress;
use crate::migration_record::FlowRecord;
use crate::reshard_catch_up::Streams;

/// What the admin statements ask of a running migration's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Run,
    Pause,
    Cancel,
}

type FlowKey = (String, String, String);

fn key(flow: &FlowRecord) -> FlowKey {
    (flow.table.clone(), flow.from.clone(), flow.to.clone())
}

/// The live side of one running migration.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Per flow: when its copy (re)started in this process, rows copied since.
    runs: Mutex<HashMap<FlowKey, (Instant, u64)>>,
    /// The largest lag of the sources' replicas last seen, in seconds.
    lag_seconds: AtomicU64,
    /// The copy waits for the source's replicas to catch up.
    waiting_for_lag: AtomicBool,
    /// Each source's catch-up, as last seen by the migration's task.
    catch_ups: Mutex<BTreeMap<String, CatchUpProgress>>,
    /// The catch-ups themselves, for a verify to hold.
    streams: Mutex<Streams>,
}

impl Live {
    /// A flow's copy (re)starts now.
    pub fn started(&self, flow: &FlowRecord) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.insert(key(flow), (Instant::now(), 0));
    }

    pub fn copied(&self, flow: &FlowRecord, rows: u64) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, n)) = runs.get_mut(&key(flow)) {
            *n += rows;
        }
    }

    pub fn set_lag(&self, lag: Duration, waiting: bool) {
        self.lag_seconds.store(lag.as_secs(), Ordering::Relaxed);
        self.waiting_for_lag.store(waiting, Ordering::Relaxed);
    }

    pub fn lag(&self) -> (u64, bool) {
        (
            self.lag_seconds.load(Ordering::Relaxed),
            self.waiting_for_lag.load(Ordering::Relaxed),
        )
    }

    pub fn set_catch_ups(&self, progress: BTreeMap<String, CatchUpProgress>) {
        *self.catch_ups.lock().unwrap_or_else(|e| e.into_inner()) = progress;
    }

    pub fn set_streams(&self, streams: Streams) {
        *self.streams.lock().unwrap_or_else(|e| e.into_inner()) = streams;
    }

    /// The catch-ups last started (those stopped since answer `is_running` false).
    pub fn streams(&self) -> Streams {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Where the catch-up of `source` stands, while one runs.
    pub fn catch_up(&self, source: &str) -> Option<CatchUpProgress> {
        let catch_ups = self.catch_ups.lock().unwrap_or_else(|e| e.into_inner());
        catch_ups.get(source).cloned()
    }

    /// A flow's progress: its records, with this run's rate when it is copying here.
    pub fn progress(&self, flow: &FlowRecord) -> Progress {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let (elapsed, rows_this_run) = match runs.get(&key(flow)) {
            Some((since, n)) => (since.elapsed(), *n),
            None => (Duration::ZERO, 0),
        };
        Progress {
            rows_copied: flow.rows_copied,
            rows_estimated: flow.rows_estimated,
            rows_this_run,
            elapsed,
            done: flow.copied,
        }
    }
}
