//! The views whose rows come from sharded tables, as the planner reads them: each one's
//! definition, which a statement reading the view reads in its place (a derived table).
//!
//! Views live on the default shard; one over a sharded table would show that shard's part of
//! the rows if the statement went there. Staleness rules:
//! - until the first load, and from any DDL through the proxy until the next load, the views
//!   are unknown ([`ViewsCell::forget`]): a statement that may name one has them read first;
//! - a load that began before such a DDL is not installed (it may have read them before it);
//! - every change bumps a generation, which caches of plans compare (and they serve nothing
//!   while the views are unknown).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Views over sharded tables: lower-cased name → the SELECT that defines it, in text a
/// statement can hold as a derived table (names of the database's own objects unqualified).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewBodies {
    by_name: BTreeMap<String, Arc<str>>,
}

impl ViewBodies {
    pub fn insert(&mut self, name: &str, body: &str) {
        self.by_name
            .insert(name.to_ascii_lowercase(), Arc::from(body));
    }

    /// The body of view `name` (case-insensitive).
    pub fn body(&self, name: &str) -> Option<&Arc<str>> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    /// The lower-cased names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// What the planner knows of the views, read without a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewsKnown {
    /// Read, and none is over a sharded table: nothing to look for.
    None,
    /// Read, and some are ([`ViewsCell::bodies`]).
    Some,
    /// Not read since the last DDL (or ever): a statement naming a table the config does not
    /// shard or copy may be naming one.
    Unknown,
}

const NONE: u8 = 0;
const SOME: u8 = 1;
const UNKNOWN: u8 = 2;

/// The views of one runtime. A new cell knows there are none (a topology planned without a
/// server, as the router's tests and `shardgate route` do); the server forgets them at start.
#[derive(Debug, Default)]
pub struct ViewsCell {
    known: AtomicU8,
    generation: AtomicU64,
    bodies: RwLock<Arc<ViewBodies>>,
    /// Bumped by every `forget`: a load begun before it is not installed.
    epoch: Mutex<u64>,
}

/// A views load in progress (see [`ViewsCell::begin_load`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewsTicket(u64);

impl ViewsCell {
    pub fn known(&self) -> ViewsKnown {
        match self.known.load(Ordering::Acquire) {
            NONE => ViewsKnown::None,
            SOME => ViewsKnown::Some,
            _ => ViewsKnown::Unknown,
        }
    }

    /// Bumped by every install that changes the views. Plans made while they were unknown
    /// are not to be kept.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The views over sharded tables as last installed.
    pub fn bodies(&self) -> Arc<ViewBodies> {
        self.bodies
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Call before reading the views; pass the ticket to [`ViewsCell::install`].
    pub fn begin_load(&self) -> ViewsTicket {
        ViewsTicket(*self.lock_epoch())
    }

    /// Installs what a load read, unless a DDL made it stale since `ticket`; whether it did.
    pub fn install(&self, ticket: ViewsTicket, bodies: ViewBodies) -> bool {
        let epoch = self.lock_epoch();
        if *epoch != ticket.0 {
            return false;
        }
        let known = if bodies.is_empty() { NONE } else { SOME };
        let mut current = self.bodies.write().unwrap_or_else(|e| e.into_inner());
        if **current != bodies {
            *current = Arc::new(bodies);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.known.store(known, Ordering::Release);
        drop(epoch);
        true
    }

    /// The views may have changed (DDL through the proxy, a new runtime): unknown until read.
    pub fn forget(&self) {
        let mut epoch = self.lock_epoch();
        *epoch += 1;
        self.known.store(UNKNOWN, Ordering::Release);
    }

    fn lock_epoch(&self) -> std::sync::MutexGuard<'_, u64> {
        self.epoch.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str) -> ViewBodies {
        let mut bodies = ViewBodies::default();
        bodies.insert(name, "SELECT 1");
        bodies
    }

    #[test]
    fn a_new_cell_knows_there_are_none() {
        let cell = ViewsCell::default();
        assert_eq!(cell.known(), ViewsKnown::None);
        assert!(cell.bodies().is_empty());
    }

    #[test]
    fn forgotten_views_are_unknown_until_a_load_installs_them() {
        let cell = ViewsCell::default();
        cell.forget();
        assert_eq!(cell.known(), ViewsKnown::Unknown);
        let before = cell.generation();
        assert!(cell.install(cell.begin_load(), one("V")));
        assert_eq!(cell.known(), ViewsKnown::Some);
        assert!(cell.generation() > before);
        // The same views again: plans made with them stand.
        let same = cell.generation();
        cell.forget();
        assert!(cell.install(cell.begin_load(), one("v")));
        assert_eq!(cell.generation(), same);
        assert_eq!(&**cell.bodies().body("v").unwrap(), "SELECT 1");
        assert!(cell.install(cell.begin_load(), ViewBodies::default()));
        assert_eq!(cell.known(), ViewsKnown::None);
    }

    #[test]
    fn a_load_begun_before_a_ddl_is_not_installed() {
        let cell = ViewsCell::default();
        let slow = cell.begin_load();
        cell.forget();
        assert!(!cell.install(slow, one("v")));
        assert_eq!(cell.known(), ViewsKnown::Unknown);
        assert!(cell.bodies().is_empty());
    }
}
