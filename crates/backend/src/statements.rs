//! The server-side prepared statements one backend connection holds, bounded and evicted
//! least-recently-used first.

use std::collections::HashMap;
use std::sync::Arc;

/// (database, statement text) → the backend's statement id, with a use counter for LRU
/// eviction. A statement runs in the database it was prepared in, so the database is part of
/// the key.
#[derive(Debug)]
pub struct StatementCache {
    entries: HashMap<Arc<[u8]>, (u32, u64)>,
    capacity: usize,
    clock: u64,
}

impl StatementCache {
    pub fn new(capacity: usize) -> Self {
        StatementCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
            clock: 0,
        }
    }

    /// The backend id of `sql`, marking it used.
    pub fn get(&mut self, sql: &[u8]) -> Option<u32> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(sql).map(|(id, used)| {
            *used = clock;
            *id
        })
    }

    /// Records a new statement; returns the id of one to close on the server: the one it
    /// replaces (same text prepared again), or the least recently used when the cache is full.
    pub fn insert(&mut self, sql: Arc<[u8]>, id: u32) -> Option<u32> {
        self.clock += 1;
        let evicted = if self.entries.contains_key(&sql) || self.entries.len() < self.capacity {
            None
        } else {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            oldest
                .and_then(|k| self.entries.remove(&k))
                .map(|(id, _)| id)
        };
        let replaced = self
            .entries
            .insert(sql, (id, self.clock))
            .map(|(old, _)| old);
        replaced.or(evicted)
    }

    /// Forgets everything (the server dropped them, e.g. on COM_RESET_CONNECTION).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let key = |k: &str| Arc::<[u8]>::from(k.as_bytes());
        let mut cache = StatementCache::new(2);
        assert_eq!(cache.insert(key("a"), 1), None);
        assert_eq!(cache.insert(key("b"), 2), None);
        assert_eq!(cache.get(b"a"), Some(1));
        assert_eq!(
            cache.insert(key("c"), 3),
            Some(2),
            "b was used least recently"
        );
        assert_eq!(cache.get(b"b"), None);
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.insert(key("c"), 4),
            Some(3),
            "re-preparing replaces the old id"
        );
        cache.clear();
        assert!(cache.is_empty());
    }
}
