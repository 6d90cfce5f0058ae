//! Percentiles of the well-behaved client's query latencies.

use std::time::Duration;

/// A summary of many latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latencies {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    /// Summarises `samples` (sorted in place); nearest-rank percentiles.
    pub fn of(samples: &mut [Duration]) -> Latencies {
        samples.sort_unstable();
        let Some(&max) = samples.last() else {
            return Latencies::default();
        };
        Latencies {
            count: samples.len(),
            p50: nearest_rank(samples, 50),
            p99: nearest_rank(samples, 99),
            max,
        }
    }
}

/// The smallest sample with at least `percent`% of the samples at or below it.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let got = Latencies::of(&mut samples);
        assert_eq!(
            got,
            Latencies {
                count: 100,
                p50: ms(50),
                p99: ms(99),
                max: ms(100)
            }
        );
    }

    #[test]
    fn one_slow_query_in_a_hundred_is_the_max_not_the_p99() {
        let mut samples = vec![ms(1); 99];
        samples.push(ms(500));
        let got = Latencies::of(&mut samples);
        assert_eq!((got.p99, got.max), (ms(1), ms(500)));
    }

    #[test]
    fn no_samples() {
        assert_eq!(Latencies::of(&mut []), Latencies::default());
        assert_eq!(Latencies::of(&mut [ms(3)]).p50, ms(3));
    }
}
