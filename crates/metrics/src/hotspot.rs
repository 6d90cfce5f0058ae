//! The hot-spot score: how unevenly one table's requests fall on its shards.
//!
//! The score is the Gini coefficient of the per-shard request counts, scaled so that it reads
//! the same for any number of shards: **0** when every shard got as many requests, **100** when
//! one shard got all of them. (The plain Gini coefficient of n values tops out at (n−1)/n, which
//! would cap a 2-shard table at 50; we divide by that maximum.) Counts come from a sliding
//! window of ticks, and a window with fewer than [`MIN_REQUESTS`] requests scores 0: a handful
//! of requests landing on one shard says nothing about a hot spot.

use std::collections::VecDeque;

/// A score above this is a hot spot (the alert threshold of the deploy rules too).
pub const HOT_THRESHOLD: f64 = 70.0;

/// Fewest requests in a window for its score to mean anything.
pub const MIN_REQUESTS: u64 = 100;

/// The scaled Gini coefficient (0..=100) of `counts`; 0 for fewer than two shards or no requests.
pub fn gini_score(counts: &[u64]) -> f64 {
    let n = counts.len();
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    if n < 2 || total == 0 {
        return 0.0;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    // Σ_i Σ_j |x_i − x_j| = 2 Σ_i (2i − n − 1)·x_(i) over the ascending order, i = 1..=n;
    // divided by its maximum 2(n − 1)·Σx (all on one shard).
    let weighted: i128 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| (2 * (i as i128 + 1) - n as i128 - 1) * i128::from(x))
        .sum();
    let score = 100.0 * weighted as f64 / ((n - 1) as f64 * total as f64);
    score.clamp(0.0, 100.0)
}

/// One table's request counts per shard over the last `capacity` ticks.
#[derive(Debug, Clone)]
pub struct Window {
    ticks: VecDeque<Vec<u64>>,
    capacity: usize,
    /// Sums of `ticks`, per shard.
    totals: Vec<u64>,
}

impl Window {
    /// An empty window over `shards` shards that keeps `capacity` ticks (at least one).
    pub fn new(shards: usize, capacity: usize) -> Self {
        Window {
            ticks: VecDeque::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
            totals: vec![0; shards],
        }
    }

    /// Adds one tick's counts (one per shard); the oldest tick falls out of a full window.
    pub fn push(&mut self, counts: Vec<u64>) {
        debug_assert_eq!(counts.len(), self.totals.len());
        if self.ticks.len() == self.capacity {
            if let Some(old) = self.ticks.pop_front() {
                for (total, c) in self.totals.iter_mut().zip(old) {
                    *total -= c;
                }
            }
        }
        for (total, c) in self.totals.iter_mut().zip(&counts) {
            *total += c;
        }
        self.ticks.push_back(counts);
    }

    /// Requests per shard in the window, plus `live` (the tick in progress, if given).
    pub fn counts(&self, live: &[u64]) -> Vec<u64> {
        let mut counts = self.totals.clone();
        for (c, l) in counts.iter_mut().zip(live) {
            *c += l;
        }
        counts
    }

    /// The score of the window plus `live`: 0 below [`MIN_REQUESTS`] requests.
    pub fn score(&self, live: &[u64]) -> f64 {
        let counts = self.counts(live);
        if counts.iter().sum::<u64>() < MIN_REQUESTS {
            return 0.0;
        }
        gini_score(&counts)
    }
}

/// What an [`Alarm`] reports when a score crosses its threshold for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmEvent {
    /// The score has stayed above the threshold for the required number of ticks.
    Raised,
    /// A raised alarm's score fell back to the threshold or below.
    Cleared,
}

/// Raises once when a score stays above [`HOT_THRESHOLD`] for `ticks` ticks in a row, and
/// clears once when it falls back: one log line per episode, not one per tick.
#[derive(Debug, Clone)]
pub struct Alarm {
    needed: u32,
    above: u32,
    raised: bool,
}

impl Alarm {
    /// An alarm that needs `ticks` (at least one) consecutive hot ticks.
    pub fn new(ticks: u32) -> Self {
        Alarm {
            needed: ticks.max(1),
            above: 0,
            raised: false,
        }
    }

    /// Feeds one tick's score.
    pub fn observe(&mut self, score: f64) -> Option<AlarmEvent> {
        if score > HOT_THRESHOLD {
            self.above = self.above.saturating_add(1);
            if !self.raised && self.above >= self.needed {
                self.raised = true;
                return Some(AlarmEvent::Raised);
            }
        } else {
            self.above = 0;
            if self.raised {
                self.raised = false;
                return Some(AlarmEvent::Cleared);
            }
        }
        None
    }

    /// Whether the alarm is raised now.
    pub fn raised(&self) -> bool {
        self.raised
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_counts_score_zero() {
        assert_eq!(gini_score(&[50, 50]), 0.0);
        assert_eq!(gini_score(&[7, 7, 7, 7]), 0.0);
    }

    #[test]
    fn all_on_one_shard_scores_100_for_any_shard_count() {
        for n in 2..10 {
            let mut counts = vec![0; n];
            counts[n / 2] = 1000;
            assert!((gini_score(&counts) - 100.0).abs() < 1e-9, "{n} shards");
        }
    }

    #[test]
    fn known_values() {
        // Two shards, 3:1 → plain Gini 0.25, maximum 0.5 → 50.
        assert!((gini_score(&[300, 100]) - 50.0).abs() < 1e-9);
        // Three shards 0, 0, 10 and 0, 5, 5: 100 and 50.
        assert!((gini_score(&[0, 5, 5]) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn degenerate_inputs_score_zero() {
        assert_eq!(gini_score(&[]), 0.0);
        assert_eq!(gini_score(&[1000]), 0.0);
        assert_eq!(gini_score(&[0, 0, 0]), 0.0);
    }

    #[test]
    fn window_forgets_old_ticks_and_needs_enough_requests() {
        let mut window = Window::new(2, 2);
        window.push(vec![500, 0]);
        assert!((window.score(&[]) - 100.0).abs() < 1e-9);
        window.push(vec![0, 500]);
        assert_eq!(window.score(&[]), 0.0);
        window.push(vec![0, 500]); // the first tick falls out
        assert_eq!(window.counts(&[]), vec![0, 1000]);
        assert!((window.score(&[]) - 100.0).abs() < 1e-9);
        assert_eq!(window.counts(&[3, 4]), vec![3, 1004]);
        let mut quiet = Window::new(2, 4);
        quiet.push(vec![MIN_REQUESTS - 1, 0]);
        assert_eq!(quiet.score(&[]), 0.0);
        assert!(quiet.score(&[1, 0]) > HOT_THRESHOLD);
    }

    #[test]
    fn alarm_raises_once_after_enough_hot_ticks_and_clears_once() {
        let mut alarm = Alarm::new(3);
        assert_eq!(alarm.observe(90.0), None);
        assert_eq!(alarm.observe(90.0), None);
        assert_eq!(alarm.observe(50.0), None); // the streak breaks
        assert_eq!(alarm.observe(90.0), None);
        assert_eq!(alarm.observe(90.0), None);
        assert_eq!(alarm.observe(71.0), Some(AlarmEvent::Raised));
        assert!(alarm.raised());
        assert_eq!(alarm.observe(99.0), None);
        assert_eq!(alarm.observe(HOT_THRESHOLD), Some(AlarmEvent::Cleared));
        assert_eq!(alarm.observe(10.0), None);
    }

    proptest! {
        #[test]
        fn score_is_between_0_and_100(counts in proptest::collection::vec(0u64..1_000_000, 0..16)) {
            let score = gini_score(&counts);
            prop_assert!((0.0..=100.0).contains(&score));
        }

        #[test]
        fn score_ignores_shard_order(mut counts in proptest::collection::vec(0u64..1_000_000, 2..16)) {
            let before = gini_score(&counts);
            counts.reverse();
            prop_assert!((gini_score(&counts) - before).abs() < 1e-9);
        }

        #[test]
        fn score_ignores_scale(counts in proptest::collection::vec(0u64..100_000, 2..16), k in 1u64..1000) {
            let scaled: Vec<u64> = counts.iter().map(|c| c * k).collect();
            prop_assert!((gini_score(&scaled) - gini_score(&counts)).abs() < 1e-6);
        }

        #[test]
        fn equal_counts_always_score_zero(n in 2usize..64, c in 0u64..1_000_000) {
            prop_assert_eq!(gini_score(&vec![c; n]), 0.0);
        }

        #[test]
        fn moving_a_request_to_a_busier_shard_never_lowers_the_score(
            mut counts in proptest::collection::vec(1u64..10_000, 2..16),
            from in 0usize..16, to in 0usize..16,
        ) {
            let (from, to) = (from % counts.len(), to % counts.len());
            prop_assume!(from != to && counts[from] <= counts[to]);
            let before = gini_score(&counts);
            counts[from] -= 1;
            counts[to] += 1;
            prop_assert!(gini_score(&counts) >= before - 1e-9);
        }

        #[test]
        fn window_counts_are_the_sum_of_its_last_ticks(
            ticks in proptest::collection::vec(proptest::collection::vec(0u64..1000, 3), 0..20),
            capacity in 1usize..6,
        ) {
            let mut window = Window::new(3, capacity);
            for tick in &ticks {
                window.push(tick.clone());
            }
            let mut expected = vec![0u64; 3];
            for tick in ticks.iter().rev().take(capacity) {
                for (e, c) in expected.iter_mut().zip(tick) {
                    *e += c;
                }
            }
            prop_assert_eq!(window.counts(&[]), expected);
        }
    }
}
