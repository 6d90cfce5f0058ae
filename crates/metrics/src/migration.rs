//! Metrics of online resharding's copy, cutover and verify (issue #15); the catch-up's lag is
//! in `catch_up_lag_*` (per source).

use prometheus::{Gauge, IntCounter, IntGauge, IntGaugeVec, Opts};

/// The phases a migration goes through, as `shardgate_migration_phase{phase}` labels them.
pub const PHASES: [&str; 11] = [
    "planned",
    "copying",
    "copied",
    "catching_up",
    "cutover",
    "verifying",
    "cleaning_up",
    "done",
    "cancelled",
    "failed",
    "rolling_back",
];

#[derive(Debug)]
pub struct MigrationMetrics {
    /// 1 for the phase of the migration this proxy drives (or last drove), 0 for the others.
    pub phase: IntGaugeVec,
    /// Rows written to their new owners by copies.
    pub rows_copied_total: IntCounter,
    /// Rows per second of the copy running now (0 when none runs).
    pub copy_rows_per_second: Gauge,
    /// Mismatching rows the last verify found.
    pub verify_mismatches: IntGauge,
    /// How long the last cutover held writes to the moving keys.
    pub cutover_pause_seconds: Gauge,
    /// Statements the last cutover held.
    pub cutover_held_statements: IntGauge,
    /// Cutovers abandoned (the hold's bound passed, or a step failed) and tried again.
    pub cutovers_abandoned_total: IntCounter,
}

impl MigrationMetrics {
    pub(crate) fn new(register: &dyn Fn(Box<dyn prometheus::core::Collector>)) -> Self {
        let opts = |name: &str, help: &str| Opts::new(format!("shardgate_{name}"), help);
        let phase = IntGaugeVec::new(
            opts(
                "migration_phase",
                "1 for the phase of the migration this proxy drives.",
            ),
            &["phase"],
        )
        .expect("valid metric");
        for name in PHASES {
            phase.with_label_values(&[name]);
        }
        let rows_copied_total = IntCounter::with_opts(opts(
            "migration_rows_copied_total",
            "Rows written to their new owners by resharding copies.",
        ))
        .expect("valid metric");
        let copy_rows_per_second = Gauge::with_opts(opts(
            "migration_copy_rows_per_second",
            "Rows per second of the resharding copy running now.",
        ))
        .expect("valid metric");
        let verify_mismatches = IntGauge::with_opts(opts(
            "migration_verify_mismatches",
            "Mismatching rows the last resharding verify found.",
        ))
        .expect("valid metric");
        let cutover_pause_seconds = Gauge::with_opts(opts(
            "migration_cutover_pause_seconds",
            "How long the last resharding cutover held writes to the moving keys.",
        ))
        .expect("valid metric");
        let cutover_held_statements = IntGauge::with_opts(opts(
            "migration_cutover_held_statements",
            "Statements the last resharding cutover held.",
        ))
        .expect("valid metric");
        let cutovers_abandoned_total = IntCounter::with_opts(opts(
            "migration_cutovers_abandoned_total",
            "Resharding cutovers abandoned and tried again.",
        ))
        .expect("valid metric");
        register(Box::new(cutover_pause_seconds.clone()));
        register(Box::new(cutover_held_statements.clone()));
        register(Box::new(cutovers_abandoned_total.clone()));
        register(Box::new(phase.clone()));
        register(Box::new(rows_copied_total.clone()));
        register(Box::new(copy_rows_per_second.clone()));
        register(Box::new(verify_mismatches.clone()));
        MigrationMetrics {
            phase,
            rows_copied_total,
            copy_rows_per_second,
            verify_mismatches,
            cutover_pause_seconds,
            cutover_held_statements,
            cutovers_abandoned_total,
        }
    }

    /// Shows `phase` as the current one.
    pub fn set_phase(&self, phase: &str) {
        for name in PHASES {
            self.phase
                .with_label_values(&[name])
                .set(i64::from(name == phase));
        }
    }
}
