//! Where existing rows are: each table's placement by shard name, and what a new placement
//! changes.
//! A change that makes the proxy look for existing rows on other shards than hold them must
//! not be applied while the table has rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use shardgate_ring::{key_moves, KeyMoves, Sharder};

use crate::Topology;

/// Every sharded and reference table's placement, and the default shard (where the others
/// live), by shard name.
#[derive(Debug, Clone)]
pub struct Placements {
    pub(crate) default_shard: String,
    /// Keyed by lower-cased table name.
    pub(crate) tables: BTreeMap<String, TablePlacement>,
}

#[derive(Debug, Clone)]
pub(crate) struct TablePlacement {
    /// As written in the config.
    pub(crate) written: String,
    pub(crate) how: How,
}

#[derive(Debug, Clone)]
pub(crate) enum How {
    /// `shards[id]` is the name of the sharder's `ShardId` `id`.
    Sharded {
        sharder: Arc<Sharder>,
        shards: Vec<String>,
    },
    Reference,
}

impl Placements {
    /// The placements `topology` describes.
    pub fn of(topology: &Topology) -> Placements {
        let names: Vec<String> = topology.shards.iter().map(|s| s.name.clone()).collect();
        let mut tables = BTreeMap::new();
        for (key, rule) in &topology.tables {
            let how = How::Sharded {
                sharder: rule.sharder.clone(),
                shards: names.clone(),
            };
            tables.insert(
                key.clone(),
                TablePlacement {
                    written: rule.name.clone(),
                    how,
                },
            );
        }
        for key in &topology.reference_tables {
            tables.insert(
                key.clone(),
                TablePlacement {
                    written: key.clone(),
                    how: How::Reference,
                },
            );
        }
        Placements {
            default_shard: names[topology.default_shard].clone(),
            tables,
        }
    }
}

impl Placements {
    /// The shards (by name) a sharded table's rows may be on; empty for other tables.
    pub fn shards_of(&self, table: &str) -> &[String] {
        match self.tables.get(&table.to_lowercase()).map(|t| &t.how) {
            Some(How::Sharded { shards, .. }) => shards,
            _ => &[],
        }
    }
}

/// One table (or the default shard) whose rows would be looked for elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementChange {
    /// As written in the new config (or the old one, for a table it no longer names); `None`
    /// for the default shard.
    pub table: Option<String>,
    pub what: Change,
}

/// How a placement changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Sharded before and after: these keys change owner.
    KeysMove(KeyMoves),
    /// Sharded, unsharded (on the default shard) or a reference table before, something else
    /// after.
    Kind {
        was: &'static str,
        now: &'static str,
    },
    /// The default shard, home of every unsharded table, changes.
    DefaultShard { was: String, now: String },
}

impl std::fmt::Display for PlacementChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table.as_deref().unwrap_or_default();
        match &self.what {
            Change::KeysMove(moves) => write!(f, "`{table}`: {moves} would change shard"),
            Change::Kind { was, now } => write!(f, "`{table}`: it was {was} and would be {now}"),
            Change::DefaultShard { was, now } => write!(
                f,
                "the default shard would change from {was:?} to {now:?}, and the unsharded tables' rows stay on {was:?}"
            ),
        }
    }
}

/// What `new` would look for elsewhere than `old` does.
pub fn placement_changes(old: &Placements, new: &Placements) -> Vec<PlacementChange> {
    let mut changes = Vec::new();
    if old.default_shard != new.default_shard {
        changes.push(PlacementChange {
            table: None,
            what: Change::DefaultShard {
                was: old.default_shard.clone(),
                now: new.default_shard.clone(),
            },
        });
    }
    let kind = |p: &Placements, name: &str| -> &'static str {
        match p.tables.get(name).map(|t| &t.how) {
            Some(How::Sharded { .. }) => "sharded",
            Some(How::Reference) => "a reference table",
            None => "unsharded",
        }
    };
    let mut names: Vec<&String> = old.tables.keys().chain(new.tables.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (was, now) = (old.tables.get(name), new.tables.get(name));
        let table = Some(now.or(was).expect("named by one side").written.clone());
        match (was.map(|t| &t.how), now.map(|t| &t.how)) {
            (
                Some(How::Sharded {
                    sharder: a,
                    shards: an,
                }),
                Some(How::Sharded {
                    sharder: b,
                    shards: bn,
                }),
            ) => {
                let an: Vec<&str> = an.iter().map(String::as_str).collect();
                let bn: Vec<&str> = bn.iter().map(String::as_str).collect();
                let moves = key_moves(a, &an, b, &bn);
                if !moves.none() {
                    changes.push(PlacementChange {
                        table,
                        what: Change::KeysMove(moves),
                    });
                }
            }
            _ => {
                let (was, now) = (kind(old, name), kind(new, name));
                // A reference table that becomes unsharded keeps its rows on the default shard.
                let keeps_rows = was == now || (was == "a reference table" && now == "unsharded");
                if !keeps_rows {
                    changes.push(PlacementChange {
                        table,
                        what: Change::Kind { was, now },
                    });
                }
            }
        }
    }
    changes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn topology(shards: &[&str], tables: &str) -> Topology {
        crate::parse(&config(shards, tables), "test.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn config(shards: &[&str], tables: &str) -> String {
        let mut text = String::from(
            "[server]\nlisten = \"127.0.0.1:6033\"\n[backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"d\"\n[[users]]\nname = \"app\"\npassword = \"x\"\n",
        );
        for (i, name) in shards.iter().enumerate() {
            text.push_str(&format!(
                "[[shards]]\nname = \"{name}\"\nprimary = \"127.0.0.1:{}\"\n",
                3306 + i
            ));
        }
        text.push_str(tables);
        text
    }

    fn changes(old: &Topology, new: &Topology) -> Vec<PlacementChange> {
        placement_changes(&Placements::of(old), &Placements::of(new))
    }

    pub(crate) const USERS_RING: &str =
        "[[tables]]\nname = \"users\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n";
    pub(crate) const USERS_MOD: &str =
        "[[tables]]\nname = \"Users\"\nshard_key = \"id\"\nstrategy = \"hash_mod\"\n";

    #[test]
    fn the_same_placement_changes_nothing() {
        let a = topology(&["s0", "s1"], USERS_RING);
        assert!(changes(&a, &a).is_empty());
    }

    #[test]
    fn a_shard_added_to_a_ring_moves_keys_of_its_tables() {
        let old = topology(&["s0", "s1"], USERS_RING);
        let new = topology(&["s0", "s1", "s2"], USERS_RING);
        let found = changes(&old, &new);
        assert_eq!(found.len(), 1);
        assert!(matches!(&found[0].what, Change::KeysMove(m) if m.units > 0));
        assert!(
            found[0].to_string().starts_with("`users`: "),
            "{}",
            found[0]
        );
        let old = topology(&["s0", "s1"], USERS_MOD);
        let new = topology(&["s0", "s1", "s2"], USERS_MOD);
        assert_eq!(changes(&old, &new)[0].table.as_deref(), Some("Users"));
    }

    #[test]
    fn a_table_that_changes_kind_is_a_change() {
        let sharded = topology(&["s0", "s1"], USERS_RING);
        let unsharded = topology(&["s0", "s1"], "");
        let reference = topology(
            &["s0", "s1"],
            "[[tables]]\nname = \"users\"\nreference = true\n",
        );
        let kinds = |old: &Topology, new: &Topology| {
            changes(old, new)
                .into_iter()
                .map(|c| c.what)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(&sharded, &unsharded),
            [Change::Kind {
                was: "sharded",
                now: "unsharded"
            }]
        );
        assert_eq!(
            kinds(&unsharded, &sharded),
            [Change::Kind {
                was: "unsharded",
                now: "sharded"
            }]
        );
        assert_eq!(kinds(&unsharded, &reference).len(), 1);
        assert!(kinds(&reference, &unsharded).is_empty());
    }

    #[test]
    fn another_default_shard_is_a_change() {
        let old = topology(&["s0", "s1"], "");
        let text = format!("default_shard = \"s1\"\n{}", config(&["s0", "s1"], ""));
        let new = crate::parse(&text, "test.toml").unwrap();
        let found = changes(&old, &new);
        assert!(
            matches!(
                &found[..],
                [PlacementChange {
                    table: None,
                    what: Change::DefaultShard { .. }
                }]
            ),
            "{found:?}"
        );
    }
}
