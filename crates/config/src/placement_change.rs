//! What a new topology changes in where existing rows are looked for: the tables whose keys
//! would change owner. A reload that changes them must not strand rows (a key's row stays on
//! the shard that owned it, while the proxy looks for it on the new owner).

use shardgate_ring::{key_moves, KeyMoves};

use crate::Topology;

/// One table whose rows would be looked for elsewhere under the new topology.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementChange {
    /// As written in the new config (or the old one, for a table it no longer names).
    pub table: String,
    pub what: Change,
}

/// How a table's placement changes.
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
}

impl std::fmt::Display for PlacementChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.what {
            Change::KeysMove(moves) => {
                write!(f, "`{}`: {moves} would change shard", self.table)
            }
            Change::Kind { was, now } => {
                write!(f, "`{}`: it was {was} and would be {now}", self.table)
            }
        }
    }
}

/// The tables whose rows `new` would look for elsewhere than `old` does, by name.
pub fn placement_changes(old: &Topology, new: &Topology) -> Vec<PlacementChange> {
    let old_names: Vec<&str> = old.shards.iter().map(|s| s.name.as_str()).collect();
    let new_names: Vec<&str> = new.shards.iter().map(|s| s.name.as_str()).collect();
    let kind = |t: &Topology, name: &str| -> &'static str {
        if t.tables.contains_key(name) {
            "sharded"
        } else if t.reference_tables.contains(name) {
            "a reference table"
        } else {
            "unsharded"
        }
    };
    let mut names: Vec<&String> = (old.tables.keys())
        .chain(new.tables.keys())
        .chain(&old.reference_tables)
        .chain(&new.reference_tables)
        .collect();
    names.sort();
    names.dedup();
    let mut changes = Vec::new();
    for name in names {
        let written = |t: &Topology| t.tables.get(name.as_str()).map(|r| r.name.clone());
        let table = written(new)
            .or_else(|| written(old))
            .unwrap_or_else(|| name.clone());
        match (old.tables.get(name.as_str()), new.tables.get(name.as_str())) {
            (Some(was), Some(now)) => {
                let moves = key_moves(&was.sharder, &old_names, &now.sharder, &new_names);
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
mod tests {
    use super::*;

    fn topology(shards: &[&str], tables: &str) -> Topology {
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
        crate::parse(&text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    const USERS_RING: &str =
        "[[tables]]\nname = \"users\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n";
    const USERS_MOD: &str =
        "[[tables]]\nname = \"Users\"\nshard_key = \"id\"\nstrategy = \"hash_mod\"\n";

    #[test]
    fn the_same_placement_changes_nothing() {
        let a = topology(&["s0", "s1"], USERS_RING);
        assert!(placement_changes(&a, &a).is_empty());
    }

    #[test]
    fn a_shard_added_to_a_ring_moves_keys_of_its_tables() {
        let old = topology(&["s0", "s1"], USERS_RING);
        let new = topology(&["s0", "s1", "s2"], USERS_RING);
        let changes = placement_changes(&old, &new);
        assert_eq!(changes.len(), 1);
        assert!(matches!(&changes[0].what, Change::KeysMove(m) if m.units > 0));
        assert!(
            changes[0].to_string().starts_with("`users`: "),
            "{}",
            changes[0]
        );
        // A hash_mod table moves too; a new unsharded world does not care.
        let old = topology(&["s0", "s1"], USERS_MOD);
        let new = topology(&["s0", "s1", "s2"], USERS_MOD);
        assert_eq!(placement_changes(&old, &new)[0].table, "Users");
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
            placement_changes(old, new)
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
}
