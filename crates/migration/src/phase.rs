//! The phases of a migration, in the order the workflow runs them.

use std::fmt;

/// Where a migration is. Stored by name in `shardgate_migrations.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Recorded, its flows and estimates known; nothing copied yet.
    Planned,
    /// Copying the moving rows from consistent snapshots of the sources.
    Copying,
    /// Every flow copied; catch-up starts next.
    Copied,
    /// Applying the sources' binlog from the snapshot positions to the new owners.
    CatchingUp,
    /// Writes to moving keys held while the topology is swapped.
    Cutover,
    /// Comparing the moved rows on the sources and their new owners.
    Verifying,
    /// Deleting the moved rows from the sources.
    CleaningUp,
    Done,
    Cancelled,
    Failed,
    /// A cancel after the cutover: the old topology serves again, the moved rows' copies
    /// are being deleted from the new owners.
    RollingBack,
}

impl Phase {
    pub const ALL: [Phase; 11] = [
        Phase::Planned,
        Phase::Copying,
        Phase::Copied,
        Phase::CatchingUp,
        Phase::Cutover,
        Phase::Verifying,
        Phase::CleaningUp,
        Phase::Done,
        Phase::Cancelled,
        Phase::Failed,
        Phase::RollingBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Planned => "planned",
            Phase::Copying => "copying",
            Phase::Copied => "copied",
            Phase::CatchingUp => "catching_up",
            Phase::Cutover => "cutover",
            Phase::Verifying => "verifying",
            Phase::CleaningUp => "cleaning_up",
            Phase::Done => "done",
            Phase::Cancelled => "cancelled",
            Phase::Failed => "failed",
            Phase::RollingBack => "rolling_back",
        }
    }

    pub fn parse(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Nothing more happens to the migration: another may start.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Done | Phase::Cancelled | Phase::Failed)
    }

    /// Clients still read and write the moving keys on their sources: a cancel only has to
    /// remove what was copied to the new owners, which no client reaches yet.
    pub fn before_cutover(self) -> bool {
        matches!(
            self,
            Phase::Planned | Phase::Copying | Phase::Copied | Phase::CatchingUp
        )
    }

    /// The phase the workflow runs after this one has finished, `None` when it stops.
    pub fn next(self) -> Option<Phase> {
        match self {
            Phase::Planned => Some(Phase::Copying),
            Phase::Copying => Some(Phase::Copied),
            Phase::Copied => Some(Phase::CatchingUp),
            Phase::CatchingUp => Some(Phase::Cutover),
            Phase::Cutover => Some(Phase::Verifying),
            Phase::Verifying => Some(Phase::CleaningUp),
            Phase::CleaningUp => Some(Phase::Done),
            Phase::RollingBack => Some(Phase::Cancelled),
            Phase::Done | Phase::Cancelled | Phase::Failed => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
        assert_eq!(Phase::parse("paused"), None);
    }

    #[test]
    fn the_workflow_runs_every_phase_to_done() {
        let mut phase = Phase::Planned;
        let mut seen = vec![phase];
        while let Some(next) = phase.next() {
            phase = next;
            seen.push(phase);
        }
        assert_eq!(seen, Phase::ALL[..8]);
        assert!(!Phase::Copied.is_terminal());
        assert!(Phase::CatchingUp.before_cutover());
        assert!(!Phase::Verifying.before_cutover());
    }
}
