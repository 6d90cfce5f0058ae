//! Progress figures of a copy: percent done, rate and time left, as `SHOW SHARDGATE
//! MIGRATIONS` and the CLI show them.

use std::time::Duration;

/// How far one copy (or all of them) has come.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub rows_copied: u64,
    /// From the plan: counted for key ranges, estimated from statistics for hash strategies.
    pub rows_estimated: u64,
    /// Rows copied since the copy (re)started, and over how long.
    pub rows_this_run: u64,
    pub elapsed: Duration,
    pub done: bool,
}

impl Progress {
    /// 0–100; an estimate below what was copied reads 99.9 until the copy is done.
    pub fn percent(&self) -> f64 {
        if self.done {
            return 100.0;
        }
        if self.rows_estimated == 0 {
            return 0.0;
        }
        (self.rows_copied as f64 * 100.0 / self.rows_estimated as f64).min(99.9)
    }

    /// Rows per second over this run, `None` before a second of it has passed.
    pub fn rate(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (secs >= 1.0).then(|| self.rows_this_run as f64 / secs)
    }

    /// Time left at the current rate, `None` when unknown.
    pub fn eta(&self) -> Option<Duration> {
        if self.done {
            return Some(Duration::ZERO);
        }
        let rate = self.rate().filter(|r| *r > 0.0)?;
        let left = self.rows_estimated.saturating_sub(self.rows_copied);
        Some(Duration::from_secs_f64(left as f64 / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_the_rows() {
        let p = Progress {
            rows_copied: 250,
            rows_estimated: 1000,
            rows_this_run: 200,
            elapsed: Duration::from_secs(2),
            done: false,
        };
        assert_eq!(p.percent(), 25.0);
        assert_eq!(p.rate(), Some(100.0));
        assert_eq!(p.eta(), Some(Duration::from_secs_f64(7.5)));
    }

    #[test]
    fn an_estimate_too_low_never_reads_done_before_the_end() {
        let mut p = Progress {
            rows_copied: 120,
            rows_estimated: 100,
            ..Progress::default()
        };
        assert_eq!(p.percent(), 99.9);
        assert_eq!(p.rate(), None);
        assert_eq!(p.eta(), None);
        p.done = true;
        assert_eq!(p.percent(), 100.0);
        assert_eq!(p.eta(), Some(Duration::ZERO));
    }
}
