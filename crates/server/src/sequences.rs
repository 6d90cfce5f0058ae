//! The proxy's reserved ids, shared by every session: per sequence, the blocks reserved from
//! its table (`sequence_table.rs`) and not yet handed out.
//!
//! Most INSERTs take their ids from memory (a short, uncontended `std` mutex, never held
//! across an await). When a sequence runs below half a block, one background task reserves
//! the next block, so sessions rarely wait; a session that finds no ids left waits for the
//! one reservation in flight (or makes it), never holding the mutex meanwhile. Reservations of
//! a sequence run one at a time, so blocks join in the order the sequence gave them and the
//! ids one proxy hands out increase.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use shardgate_config::AutoIncrement;

use crate::id_blocks::IdBlocks;
use crate::runtime::Runtime;
use crate::sequence_table::{raise_to, reserve, SequenceError};

/// Every sequence the proxy has taken ids from, by name (they outlive config reloads).
#[derive(Debug, Default)]
pub(crate) struct Sequences {
    by_name: Mutex<HashMap<String, Arc<Sequence>>>,
}

#[derive(Debug)]
struct Sequence {
    blocks: Mutex<IdBlocks>,
    /// `shardgate_sequence_ids_total` and `shardgate_sequence_blocks_total` of this sequence.
    ids_total: prometheus::IntCounter,
    blocks_total: prometheus::IntCounter,
    /// Held while a block is being reserved.
    reserving: tokio::sync::Mutex<()>,
    /// A background reservation is on its way.
    prefetching: AtomicBool,
    /// The sequence's `next_id` is at least this (the end of a block this proxy reserved, or
    /// a value it raised it to): an id given below it needs no raise.
    floor: AtomicU64,
}

impl Sequences {
    /// `n` new ids for `table` (in increasing order), from its sequence `ai`.
    pub(crate) async fn take(
        &self,
        runtime: &Arc<Runtime>,
        table: &str,
        ai: &AutoIncrement,
        n: usize,
    ) -> Result<Vec<u64>, SequenceError> {
        let sequence = self.sequence(&ai.sequence);
        let mut ids = Vec::with_capacity(n);
        loop {
            let low = {
                let mut blocks = sequence.blocks.lock().expect("not poisoned");
                blocks.take(n - ids.len(), &mut ids);
                blocks.available().saturating_mul(2) < ai.cache
            };
            if ids.len() == n {
                if low {
                    sequence.prefetch(runtime.clone(), table.to_owned(), ai.clone());
                }
                sequence.ids_total.inc_by(n as u64);
                return Ok(ids);
            }
            let _turn = sequence.reserving.lock().await;
            if sequence.available() > 0 {
                // Another session's reservation came in while this one waited.
                continue;
            }
            let wanted = ai.cache.max((n - ids.len()) as u64);
            let block = reserve(runtime, table, ai, wanted).await?;
            sequence.push(block);
        }
    }

    /// An INSERT gives `table` the id `given`: as MariaDB moves an AUTO_INCREMENT past an id
    /// given explicitly, ids up to it are never generated afterwards — the ones this proxy
    /// holds are dropped, and the sequence is raised past it unless it is known to be there.
    /// Another proxy's blocks are its own: an id given inside one is still handed out there.
    pub(crate) async fn advance(
        &self,
        runtime: &Runtime,
        table: &str,
        ai: &AutoIncrement,
        given: u64,
    ) -> Result<(), SequenceError> {
        let sequence = self.sequence(&ai.sequence);
        sequence.discard_through(given);
        if given < sequence.floor.load(Ordering::Acquire) {
            return Ok(());
        }
        // After any reservation on its way: its block may hold the id.
        let _turn = sequence.reserving.lock().await;
        match raise_to(runtime, table, ai, given.saturating_add(1)).await {
            // No sequence yet: `shardgate sequence init` starts it above every row.
            Err(SequenceError::Missing { .. }) => return Ok(()),
            raised => raised?,
        }
        sequence
            .floor
            .fetch_max(given.saturating_add(1), Ordering::AcqRel);
        sequence.discard_through(given);
        Ok(())
    }

    fn sequence(&self, name: &str) -> Arc<Sequence> {
        let mut by_name = self.by_name.lock().expect("not poisoned");
        match by_name.get(name) {
            Some(sequence) => sequence.clone(),
            None => {
                let metrics = shardgate_metrics::metrics();
                let sequence = Arc::new(Sequence {
                    blocks: Mutex::default(),
                    ids_total: metrics.sequence_ids_total.with_label_values(&[name]),
                    blocks_total: metrics.sequence_blocks_total.with_label_values(&[name]),
                    reserving: tokio::sync::Mutex::default(),
                    prefetching: AtomicBool::default(),
                    floor: AtomicU64::default(),
                });
                by_name.insert(name.to_owned(), sequence.clone());
                sequence
            }
        }
    }
}

impl Sequence {
    fn available(&self) -> u64 {
        self.blocks.lock().expect("not poisoned").available()
    }

    fn push(&self, block: std::ops::Range<u64>) {
        self.floor.fetch_max(block.end, Ordering::AcqRel);
        self.blocks.lock().expect("not poisoned").push(block);
        self.blocks_total.inc();
    }

    fn discard_through(&self, id: u64) {
        self.blocks
            .lock()
            .expect("not poisoned")
            .discard_through(id);
    }

    /// Reserves the next block in the background, unless a reservation is on its way.
    fn prefetch(self: &Arc<Self>, runtime: Arc<Runtime>, table: String, ai: AutoIncrement) {
        if self.prefetching.swap(true, Ordering::AcqRel) {
            return;
        }
        let sequence = self.clone();
        tokio::spawn(async move {
            {
                let _turn = sequence.reserving.lock().await;
                if sequence.available().saturating_mul(2) < ai.cache {
                    match reserve(&runtime, &table, &ai, ai.cache).await {
                        Ok(block) => sequence.push(block),
                        // The next session short of ids tries again and reports the error.
                        Err(e) => {
                            tracing::warn!(sequence = %ai.sequence, error = %e, "reserving ids ahead failed")
                        }
                    }
                }
            }
            sequence.prefetching.store(false, Ordering::Release);
        });
    }
}
