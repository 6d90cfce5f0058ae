//! The schema a runtime plans with: read by the planner (a lock held only to clone an `Arc`),
//! replaced by the loader.
//!
//! Staleness rules:
//! - a table the proxy ran DDL on is forgotten at once ([`SchemaCell::invalidate`]): the next
//!   statement that needs its columns has them read again;
//! - a load that began before such an invalidation is not installed for the invalidated
//!   tables (it may have read them before the DDL), so a slow periodic refresh cannot bring
//!   back what a DDL made stale;
//! - a table whose shards disagree is known but marked: plans that need its columns refuse.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::{Disagreement, Schema, TableColumns};

/// One installed state of the schema.
#[derive(Debug, Clone, Default)]
pub struct SchemaStatus {
    pub schema: Schema,
    /// Tables the shards define differently.
    pub disagreements: Vec<Disagreement>,
    /// How many loads have been installed (whole or per table) since the runtime started.
    pub generation: u64,
}

impl SchemaStatus {
    /// Why the columns of `table` cannot be trusted, if its shards disagree.
    pub fn disagreement(&self, table: &str) -> Option<&Disagreement> {
        self.disagreements
            .iter()
            .find(|d| d.table.eq_ignore_ascii_case(table))
    }

    /// The columns of `table` when known and agreed on by every shard.
    pub fn agreed(&self, table: &str) -> Option<&TableColumns> {
        match self.disagreement(table) {
            Some(_) => None,
            None => self.schema.table(table),
        }
    }
}

#[derive(Debug, Default)]
struct Invalidations {
    /// Bumped by every invalidation.
    epoch: u64,
    /// The epoch at which each table was last invalidated (`None`: every table).
    tables: BTreeMap<String, u64>,
    all: u64,
}

/// The shared, replaceable schema of one runtime.
#[derive(Debug, Default)]
pub struct SchemaCell {
    current: RwLock<Arc<SchemaStatus>>,
    invalidations: Mutex<Invalidations>,
    /// The views over sharded tables (their own staleness rules, `views.rs`).
    pub views: crate::ViewsCell,
}

/// A load in progress: remembers when it began, against later invalidations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadTicket(u64);

impl SchemaCell {
    /// The schema as installed now.
    pub fn current(&self) -> Arc<SchemaStatus> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Call before reading `information_schema`; pass the ticket to the install.
    pub fn begin_load(&self) -> LoadTicket {
        LoadTicket(self.lock_invalidations().epoch)
    }

    /// Installs a whole load (start, interval, reload). Tables invalidated since `ticket` are
    /// left out, to be read again when needed.
    pub fn install_all(&self, ticket: LoadTicket, mut status: SchemaStatus) {
        let invalidations = self.lock_invalidations();
        if invalidations.all > ticket.0 {
            return;
        }
        let stale: Vec<String> = invalidations
            .tables
            .iter()
            .filter(|(_, &at)| at > ticket.0)
            .map(|(t, _)| t.clone())
            .collect();
        for table in &stale {
            status.schema.remove(table);
            status.disagreements.retain(|d| &d.table != table);
        }
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        status.generation = current.generation + 1;
        *current = Arc::new(status);
    }

    /// Installs the load of some tables (`asked`, lower-cased); those the load did not find
    /// are forgotten. Returns `false` when a DDL invalidated them after `ticket`.
    pub fn install_tables(
        &self,
        ticket: LoadTicket,
        asked: &[String],
        loaded: Schema,
        disagreements: Vec<Disagreement>,
    ) -> bool {
        let invalidations = self.lock_invalidations();
        let stale = invalidations.all > ticket.0
            || asked
                .iter()
                .any(|t| invalidations.tables.get(t).is_some_and(|&at| at > ticket.0));
        if stale {
            return false;
        }
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = SchemaStatus::clone(&current);
        for table in asked {
            match loaded.table(table) {
                Some(columns) => next.schema.insert(table, columns.clone()),
                None => {
                    next.schema.remove(table);
                }
            }
            next.disagreements.retain(|d| &d.table != table);
        }
        next.disagreements.extend(
            disagreements
                .into_iter()
                .filter(|d| asked.contains(&d.table)),
        );
        next.generation = current.generation + 1;
        *current = Arc::new(next);
        true
    }

    /// Forgets `tables` (lower-cased), or every table when `None`: DDL the proxy ran, or an
    /// answer whose columns differed from the cache.
    pub fn invalidate(&self, tables: Option<&[String]>) {
        let mut invalidations = self.lock_invalidations();
        invalidations.epoch += 1;
        let epoch = invalidations.epoch;
        match tables {
            None => invalidations.all = epoch,
            Some(tables) => {
                for t in tables {
                    invalidations.tables.insert(t.to_ascii_lowercase(), epoch);
                }
            }
        }
        drop(invalidations);
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = SchemaStatus::clone(&current);
        match tables {
            None => {
                next.schema = Schema::default();
                next.disagreements.clear();
            }
            Some(tables) => {
                for t in tables {
                    next.schema.remove(t);
                    next.disagreements
                        .retain(|d| !d.table.eq_ignore_ascii_case(t));
                }
            }
        }
        *current = Arc::new(next);
    }

    fn lock_invalidations(&self) -> std::sync::MutexGuard<'_, Invalidations> {
        self.invalidations.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::row;

    fn status(rows: Vec<crate::ColumnRow>) -> SchemaStatus {
        SchemaStatus {
            schema: Schema::from_rows(rows),
            ..SchemaStatus::default()
        }
    }

    #[test]
    fn a_load_is_installed_and_counted() {
        let cell = SchemaCell::default();
        assert!(cell.current().schema.is_empty());
        let ticket = cell.begin_load();
        cell.install_all(ticket, status(vec![row("t", "id", 1, "int")]));
        let now = cell.current();
        assert_eq!(now.generation, 1);
        assert_eq!(now.agreed("T").unwrap().len(), 1);
    }

    #[test]
    fn a_load_begun_before_a_ddl_does_not_bring_the_table_back() {
        let cell = SchemaCell::default();
        let t = cell.begin_load();
        cell.install_all(
            t,
            status(vec![row("t", "id", 1, "int"), row("u", "id", 1, "int")]),
        );
        let slow = cell.begin_load();
        cell.invalidate(Some(&["t".to_owned()]));
        assert!(cell.current().schema.table("t").is_none());
        cell.install_all(
            slow,
            status(vec![row("t", "id", 1, "int"), row("u", "id", 1, "int")]),
        );
        assert!(cell.current().schema.table("t").is_none());
        assert!(cell.current().schema.table("u").is_some());
        assert!(!cell.install_tables(slow, &["t".to_owned()], Schema::default(), Vec::new()));
        // A load begun after the DDL is installed.
        let fresh = cell.begin_load();
        let loaded = Schema::from_rows([row("t", "id", 1, "int"), row("t", "x", 2, "int")]);
        assert!(cell.install_tables(fresh, &["t".to_owned()], loaded, Vec::new()));
        assert_eq!(cell.current().schema.table("t").unwrap().len(), 2);
    }

    #[test]
    fn invalidating_everything_drops_every_older_load() {
        let cell = SchemaCell::default();
        let slow = cell.begin_load();
        cell.invalidate(None);
        cell.install_all(slow, status(vec![row("t", "id", 1, "int")]));
        assert!(cell.current().schema.is_empty());
    }

    #[test]
    fn a_table_whose_shards_disagree_is_not_agreed() {
        let cell = SchemaCell::default();
        let ticket = cell.begin_load();
        let d = Disagreement {
            table: "t".into(),
            shard: "s1".into(),
            what: "missing on shard s1".into(),
        };
        let loaded = Schema::from_rows([row("t", "id", 1, "int")]);
        assert!(cell.install_tables(ticket, &["t".to_owned()], loaded, vec![d]));
        let now = cell.current();
        assert!(now.schema.table("t").is_some());
        assert!(now.agreed("t").is_none());
        assert_eq!(now.disagreement("T").unwrap().shard, "s1");
        // A table the load did not find is forgotten.
        let ticket = cell.begin_load();
        assert!(cell.install_tables(ticket, &["t".to_owned()], Schema::default(), Vec::new()));
        assert!(cell.current().schema.table("t").is_none());
        assert!(cell.current().disagreements.is_empty());
    }
}
