//! Sessions hold shards by position (`ShardId`) across statements: their pinned connections,
//! their transaction's shards, table locks, read-your-writes positions. A reload may reorder,
//! rename or remove shards (names identify them), so a session that meets a new topology
//! renumbers what it holds by shard name before its next command; what it held on a removed
//! shard is closed, so that server rolls back and releases it. A statement already running
//! keeps the runtime (and topology) it was planned on to its end.

use std::sync::Arc;

use shardgate_config::Topology;
use shardgate_ring::ShardId;

use crate::session::{End, Session, Step};

/// Old shard position → new position, by name.
#[derive(Debug)]
pub(crate) struct Renumbering(Vec<Option<ShardId>>);

impl Renumbering {
    pub fn between(old: &Topology, new: &Topology) -> Renumbering {
        Renumbering(
            (old.shards.iter())
                .map(|shard| new.shard_index(&shard.name))
                .collect(),
        )
    }

    /// Where shard `old` is now; `None` once it was removed.
    pub fn get(&self, old: ShardId) -> Option<ShardId> {
        self.0.get(old).copied().flatten()
    }
}

impl Session {
    /// Before a command: follows a reload that happened since the last one. A transaction
    /// that ran on a removed shard is gone with it: the client is disconnected (as when its
    /// server's connection is lost), every other server rolling back its part.
    pub(crate) fn follow_topology(&mut self, topology: &Arc<Topology>) -> Step {
        let renumbering = Renumbering::between(&self.topology, topology);
        self.topology = topology.clone();
        let txn_lost = self.pins.renumber(&renumbering);
        self.last_write = std::mem::take(&mut self.last_write)
            .into_iter()
            .filter_map(|(shard, at)| Some((renumbering.get(shard)?, at)))
            .collect();
        if let Some(shard) = txn_lost {
            self.pins = Default::default();
            return Err(End::BrokenAnswer(format!(
                "shard {shard} was removed by a config reload while this session's transaction ran on it"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(shards: &[&str]) -> Topology {
        let mut text = String::from(
            "[server]\nlisten = \"127.0.0.1:6033\"\n[backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"d\"\n[[users]]\nname = \"app\"\npassword = \"x\"\n",
        );
        for (i, name) in shards.iter().enumerate() {
            text.push_str(&format!(
                "[[shards]]\nname = \"{name}\"\nprimary = \"127.0.0.1:{}\"\n",
                3306 + i
            ));
        }
        shardgate_config::parse(&text, "t.toml").unwrap()
    }

    #[test]
    fn shards_are_followed_by_name() {
        let r = Renumbering::between(&topology(&["a", "b", "c"]), &topology(&["c", "a"]));
        assert_eq!(
            (r.get(0), r.get(1), r.get(2), r.get(3)),
            (Some(1), None, Some(0), None)
        );
    }
}
