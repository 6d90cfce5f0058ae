//! The well-behaved client: point selects with known answers, timed, on a thread and runtime
//! of its own so that the flood's tasks in this process do not delay it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

/// Rows the probe reads: `users` ids `1..=PROBE_ROWS`, named `flood-<id>`.
pub const PROBE_ROWS: u64 = 200;

/// How long a query may take before it counts as failed (a guard against hanging, not a
/// measure).
const QUERY_LIMIT: Duration = Duration::from_secs(30);

/// Time between the probe's queries.
const PACE: Duration = Duration::from_millis(2);

/// What the probe saw.
#[derive(Debug, Default)]
pub struct ProbeOutcome {
    /// When each query answered right was sent, and how long it took.
    pub latencies: Vec<(Instant, Duration)>,
    /// Queries answered wrong or with an error, as text (the first few).
    pub failures: Vec<String>,
    pub failed: usize,
}

/// Writes the rows the probe reads, through the proxy.
pub async fn seed(opts: Opts) -> mysql_async::Result<()> {
    let mut conn = Conn::new(opts).await?;
    let values: Vec<String> = (1..=PROBE_ROWS)
        .map(|id| format!("({id}, 'flood-{id}@example.com', 'flood-{id}')"))
        .collect();
    conn.query_drop(format!(
        "REPLACE INTO users (id, email, name) VALUES {}",
        values.join(", ")
    ))
    .await?;
    conn.disconnect().await
}

/// A running probe; `stop` ends it and returns what it saw.
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<ProbeOutcome>,
}

impl Probe {
    /// Connects and starts querying; returns once the first query was answered.
    pub async fn start(opts: Opts) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let (started, first) = tokio::sync::oneshot::channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the probe");
            runtime.block_on(run(opts, flag, started))
        });
        let _ = first.await;
        Probe { stop, thread }
    }

    /// Stops querying and returns what it saw (blocks until the probe's thread ends).
    pub fn stop(self) -> ProbeOutcome {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the probe thread")
    }
}

async fn run(
    opts: Opts,
    stop: Arc<AtomicBool>,
    started: tokio::sync::oneshot::Sender<()>,
) -> ProbeOutcome {
    let mut started = Some(started);
    let mut outcome = ProbeOutcome::default();
    let mut conn = match Conn::new(opts).await {
        Ok(conn) => conn,
        Err(e) => {
            outcome.fail(format!("connect: {e}"));
            return outcome;
        }
    };
    let mut pace = tokio::time::interval(PACE);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        pace.tick().await;
        let id = 1 + n % PROBE_ROWS;
        n += 1;
        let began = Instant::now();
        let query = conn.query_first(format!("SELECT name FROM users WHERE id = {id}"));
        let answer: Result<mysql_async::Result<Option<String>>, _> =
            tokio::time::timeout(QUERY_LIMIT, query).await;
        let took = began.elapsed();
        let Ok(answer) = answer else {
            outcome.fail(format!("id {id}: no answer within {QUERY_LIMIT:?}"));
            break;
        };
        match answer {
            Ok(Some(name)) if name == format!("flood-{id}") => {
                outcome.latencies.push((began, took))
            }
            Ok(other) => outcome.fail(format!("id {id}: got {other:?}")),
            // A broken connection stays broken: the probe reconnects for the next query.
            Err(e) => {
                outcome.fail(format!("id {id}: {e}"));
                let reconnect = Conn::new(conn.opts().clone());
                match tokio::time::timeout(QUERY_LIMIT, reconnect).await {
                    Ok(Ok(fresh)) => conn = fresh,
                    _ => break,
                }
            }
        }
        if let Some(started) = started.take() {
            let _ = started.send(());
        }
    }
    let _ = tokio::time::timeout(QUERY_LIMIT, conn.disconnect()).await;
    outcome
}

impl ProbeOutcome {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        if self.failures.len() < 10 {
            self.failures.push(what);
        }
    }
}
