//! Per sharded table, how many requests each shard got lately: the hot-spot score
//! (`shardgate_hotspot_score`, `SHOW SHARDGATE HOTSPOTS`) and its warning log line.

use foldhash::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use shardgate_config::Topology;
use shardgate_metrics::hotspot::{Alarm, AlarmEvent, Window, HOT_THRESHOLD};
use shardgate_ring::ShardId;

/// How often the counts of the tick in progress move into the window.
const TICK: Duration = Duration::from_secs(5);
/// Ticks in the sliding window (one minute).
const WINDOW_TICKS: usize = 12;
/// Ticks the score must stay above the threshold before the warning: a whole window.
const ALARM_TICKS: u32 = WINDOW_TICKS as u32;

/// One sharded table's load.
#[derive(Debug)]
struct TableLoad {
    name: String,
    /// Its placement, for the split advice.
    rule: shardgate_config::TableRule,
    /// Requests per shard in the tick in progress.
    live: Vec<AtomicU64>,
    past: Mutex<(Window, Alarm)>,
}

impl TableLoad {
    fn live_counts(&self) -> Vec<u64> {
        self.live
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

/// The score of one table now.
#[derive(Debug, Clone)]
pub(crate) struct TableScore {
    pub table: String,
    /// 0 (even) ..= 100 (one shard gets everything).
    pub score: f64,
    /// Requests per shard in the window, the tick in progress included.
    pub counts: Vec<u64>,
    /// Whether the score has stayed above the threshold for a whole window.
    pub hot: bool,
    /// While the score is above the threshold: what would spread the load.
    pub advice: Option<String>,
}

/// The loads of every sharded table of one runtime.
#[derive(Debug)]
pub(crate) struct Hotspots {
    tables: Vec<TableLoad>,
    /// The shards' names, by position.
    shard_names: Vec<String>,
    /// Lower-cased table name → index in `tables`.
    index: HashMap<String, usize>,
}

impl Hotspots {
    /// Loads for the sharded tables of `topology`; a task moves ticks into the window for as
    /// long as the returned value lives.
    pub fn new(topology: &Topology) -> Arc<Self> {
        let mut names: Vec<(&String, &shardgate_config::TableRule)> =
            topology.tables.iter().collect();
        names.sort_by_key(|(key, _)| *key);
        let shards = topology.shards.len();
        let tables = names
            .iter()
            .map(|(_, rule)| TableLoad {
                name: rule.name.clone(),
                rule: (*rule).clone(),
                live: (0..shards).map(|_| AtomicU64::new(0)).collect(),
                past: Mutex::new((Window::new(shards, WINDOW_TICKS), Alarm::new(ALARM_TICKS))),
            })
            .collect();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, (key, _))| ((*key).clone(), i))
            .collect();
        let shard_names = topology.shards.iter().map(|s| s.name.clone()).collect();
        let hotspots = Arc::new(Hotspots {
            tables,
            shard_names,
            index,
        });
        if !hotspots.tables.is_empty() {
            tokio::spawn(tick_loop(Arc::downgrade(&hotspots)));
        }
        hotspots
    }

    /// Counts one request of `table` (lower-cased, as plans name it) on `shard`.
    pub fn record(&self, table: &str, shard: ShardId) {
        if let Some(&i) = self.index.get(table) {
            if let Some(count) = self.tables[i].live.get(shard) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Every table's score now, by table name.
    pub fn scores(&self) -> Vec<TableScore> {
        self.tables
            .iter()
            .map(|table| {
                let live = table.live_counts();
                let past = table.past.lock().expect("hotspot lock");
                let (score, counts) = (past.0.score(&live), past.0.counts(&live));
                TableScore {
                    table: table.name.clone(),
                    advice: (score > HOT_THRESHOLD)
                        .then(|| self.advice(table, &counts))
                        .flatten(),
                    score,
                    counts,
                    hot: past.1.raised(),
                }
            })
            .collect()
    }

    /// What would spread `table`'s requests (`counts` per shard).
    fn advice(&self, table: &TableLoad, counts: &[u64]) -> Option<String> {
        let names: Vec<&str> = self.shard_names.iter().map(String::as_str).collect();
        shardgate_config::split_advice(&table.rule, &names, counts)
    }

    /// Closes the tick in progress: its counts join the window, and the alarm hears the score.
    fn tick(&self) {
        for table in &self.tables {
            let counts: Vec<u64> = table
                .live
                .iter()
                .map(|c| c.swap(0, Ordering::Relaxed))
                .collect();
            let mut past = table.past.lock().expect("hotspot lock");
            past.0.push(counts);
            let score = past.0.score(&[]);
            match past.1.observe(score) {
                Some(AlarmEvent::Raised) => tracing::warn!(
                    table = %table.name,
                    score = format_args!("{score:.1}"),
                    requests_per_shard = ?past.0.counts(&[]),
                    advice = self.advice(table, &past.0.counts(&[])).unwrap_or_default(),
                    "hot spot: the table's requests have been concentrated on few shards for the last minute (score above 70)"
                ),
                Some(AlarmEvent::Cleared) => tracing::info!(
                    table = %table.name,
                    score = format_args!("{score:.1}"),
                    "hot spot over"
                ),
                None => {}
            }
        }
    }
}

async fn tick_loop(hotspots: Weak<Hotspots>) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(hotspots) = hotspots.upgrade() else {
            return;
        };
        hotspots.tick();
    }
}
