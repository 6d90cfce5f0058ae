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
