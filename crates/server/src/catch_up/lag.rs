//! How far behind the source the catch-up is: the source's `@@gtid_binlog_pos`, read every
//! [`INTERVAL`] on a connection of its own, against the last applied GTID.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shardgate_backend::{BackendConn, Pool};
use tokio::sync::watch;

use super::sql::binlog_position;
use super::Progress;

pub(super) const INTERVAL: Duration = Duration::from_millis(500);

/// Reads the source's position until stopped (a failed read is tried again, on a new
/// connection, at the next interval).
pub(super) async fn watch_source(
    source: String,
    pool: Arc<Pool>,
    progress: watch::Sender<Progress>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<BackendConn> = None;
    loop {
        if conn.is_none() {
            conn = pool.open_unpooled().await.ok();
        }
        if let Some(c) = conn.as_mut() {
            match binlog_position(c).await {
                Ok(position) => progress.send_modify(|p| {
                    p.source_position = position;
                    p.source_read_at = now();
                    publish_lag(p, &source, None);
                }),
                Err(e) => {
                    tracing::debug!(source = %source, error = %e, "catch-up cannot read the source's position");
                    conn = None;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Recomputes the lag (after a transaction the source wrote at `written_at` was applied, or a
/// new source position) and sets the metrics.
pub(super) fn publish_lag(p: &mut Progress, source: &str, written_at: Option<u32>) {
    if let Some(at) = written_at {
        p.applied_written_at = u64::from(at);
    }
    p.lag_events = p.applied.behind(&p.source_position);
    p.lag_seconds = match p.lag_events {
        0 => 0,
        _ => now().saturating_sub(p.applied_written_at.max(p.started_at)),
    };
    let m = shardgate_metrics::metrics();
    (m.catch_up_lag_events.with_label_values(&[source])).set(p.lag_events as i64);
    (m.catch_up_lag_seconds.with_label_values(&[source])).set(p.lag_seconds as i64);
}

/// Seconds since the epoch.
pub(super) fn now() -> u64 {
    (SystemTime::now().duration_since(UNIX_EPOCH)).map_or(0, |d| d.as_secs())
}
