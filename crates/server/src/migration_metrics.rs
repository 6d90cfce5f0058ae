//! The migration's metrics (`shardgate_migration_*`), as the workflow moves.

use shardgate_metrics::metrics;
use shardgate_migration::Phase;

pub(crate) fn rows_copied(rows: u64) {
    metrics().migration.rows_copied_total.inc_by(rows);
}

pub(crate) fn phase(phase: Phase) {
    metrics().migration.set_phase(phase.as_str());
}

pub(crate) fn copy_rate(rows_per_second: f64) {
    metrics()
        .migration
        .copy_rows_per_second
        .set(rows_per_second);
}

pub(crate) fn verify_mismatches(rows: u64) {
    metrics().migration.verify_mismatches.set(rows as i64);
}

pub(crate) fn cutover(pause: std::time::Duration, held: u64) {
    let m = &metrics().migration;
    m.cutover_pause_seconds.set(pause.as_secs_f64());
    m.cutover_held_statements
        .set(i64::try_from(held).unwrap_or(i64::MAX));
}

pub(crate) fn cutover_abandoned() {
    metrics().migration.cutovers_abandoned_total.inc();
}
