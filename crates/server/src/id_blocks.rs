//! The ids a proxy has reserved from one sequence and not yet handed out.

use std::collections::VecDeque;
use std::ops::Range;

/// Reserved blocks in the order the sequence gave them (each above the one before), so ids
/// come out increasing.
#[derive(Debug, Default)]
pub(crate) struct IdBlocks {
    blocks: VecDeque<Range<u64>>,
}

impl IdBlocks {
    /// Ids left.
    pub(crate) fn available(&self) -> u64 {
        self.blocks.iter().map(|b| b.end - b.start).sum()
    }

    /// Adds a block the sequence just gave.
    pub(crate) fn push(&mut self, block: Range<u64>) {
        if !block.is_empty() {
            self.blocks.push_back(block);
        }
    }

    /// Drops the ids up to `id` (a table holds it now): they are never handed out.
    pub(crate) fn discard_through(&mut self, id: u64) {
        while let Some(block) = self.blocks.front_mut() {
            block.start = block.start.max(id.saturating_add(1)).min(block.end);
            if !block.is_empty() {
                return;
            }
            self.blocks.pop_front();
        }
    }

    /// Moves up to `n` ids, lowest first, into `ids`.
    pub(crate) fn take(&mut self, n: usize, ids: &mut Vec<u64>) {
        let mut wanted = n as u64;
        while wanted > 0 {
            let Some(block) = self.blocks.front_mut() else {
                return;
            };
            let end = block.end.min(block.start.saturating_add(wanted));
            ids.extend(block.start..end);
            wanted -= end - block.start;
            block.start = end;
            if block.is_empty() {
                self.blocks.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn takes_across_blocks() {
        let mut blocks = IdBlocks::default();
        blocks.push(1..4);
        blocks.push(10..12);
        let mut ids = Vec::new();
        blocks.take(4, &mut ids);
        assert_eq!(ids, [1, 2, 3, 10]);
        assert_eq!(blocks.available(), 1);
        blocks.take(5, &mut ids);
        assert_eq!(ids, [1, 2, 3, 10, 11]);
        assert_eq!(blocks.available(), 0);
    }

    #[test]
    fn discarded_ids_are_never_handed_out() {
        let mut blocks = IdBlocks::default();
        blocks.push(1..4);
        blocks.push(10..12);
        blocks.discard_through(10);
        assert_eq!(blocks.available(), 1);
        let mut ids = Vec::new();
        blocks.take(5, &mut ids);
        assert_eq!(ids, [11]);
        blocks.push(20..30);
        blocks.discard_through(5);
        assert_eq!(blocks.available(), 10);
    }

    proptest! {
        /// Whatever the sizes of blocks and requests, every id handed out is new and above
        /// the ones before, and none is lost while blocks last.
        #[test]
        fn ids_are_unique_and_increasing(
            sizes in proptest::collection::vec(0u64..50, 1..20),
            gaps in proptest::collection::vec(0u64..1000, 20),
            takes in proptest::collection::vec(0usize..80, 1..40),
        ) {
            let mut blocks = IdBlocks::default();
            let mut next = 1u64;
            for (size, gap) in sizes.iter().zip(&gaps) {
                next += gap;
                blocks.push(next..next + size);
                next += size;
            }
            let total = blocks.available();
            let mut handed = Vec::new();
            for n in takes {
                let before = handed.len();
                let available = blocks.available();
                blocks.take(n, &mut handed);
                prop_assert_eq!((handed.len() - before) as u64, available.min(n as u64));
            }
            prop_assert!(handed.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(handed.len() as u64 + blocks.available(), total);
        }
    }
}
