//! The record of the placements a proxy last served, kept in MariaDB so that a proxy started
//! with a changed config file is checked against where the rows are, as a reload is: one row per
//! table (and one for the default shard), its placement as JSON. Written and read by
//! `server/src/placement_record.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shardgate_ring::{HashRing, KeyRange, RangeMap, Sharder};

use crate::placement_change::{How, TablePlacement};
use crate::Placements;

/// One table's placement as recorded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
enum Recorded {
    ConsistentHash {
        table: String,
        shards: Vec<String>,
        virtual_nodes: u32,
    },
    HashMod {
        table: String,
        shards: Vec<String>,
    },
    Range {
        table: String,
        ranges: Vec<RecordedRange>,
    },
    Reference {
        table: String,
    },
    DefaultShard {
        shard: String,
    },
}

/// Bounds as decimal text: JSON numbers do not hold every i128.
#[derive(Debug, Serialize, Deserialize)]
struct RecordedRange {
    start: Option<String>,
    end: Option<String>,
    shard: String,
}

/// The record's key of the default shard's row (no table has an empty name).
const DEFAULT_SHARD_KEY: &str = "";

/// A record row that does not read as a placement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("placement record of {key:?}: {message}")]
pub struct RecordError {
    pub key: String,
    pub message: String,
}

impl Placements {
    /// The record's rows: (key, placement as JSON); the default shard's under the key "".
    pub fn to_record(&self) -> Vec<(String, String)> {
        let mut rows = vec![(
            DEFAULT_SHARD_KEY.to_owned(),
            json(&Recorded::DefaultShard {
                shard: self.default_shard.clone(),
            }),
        )];
        for (key, table) in &self.tables {
            let written = table.written.clone();
            let recorded = match &table.how {
                How::Reference => Recorded::Reference { table: written },
                How::Sharded { sharder, shards } => match &**sharder {
                    Sharder::ConsistentHash(ring) => Recorded::ConsistentHash {
                        table: written,
                        shards: shards.clone(),
                        virtual_nodes: ring.virtual_nodes(),
                    },
                    Sharder::HashMod { shards: n } => Recorded::HashMod {
                        table: written,
                        shards: shards[..*n].to_vec(),
                    },
                    Sharder::Range(map) => Recorded::Range {
                        table: written,
                        ranges: (map.ranges().iter())
                            .map(|r| RecordedRange {
                                start: r.start.map(|b| b.to_string()),
                                end: r.end.map(|b| b.to_string()),
                                shard: shards[r.shard].clone(),
                            })
                            .collect(),
                    },
                },
            };
            rows.push((key.clone(), json(&recorded)));
        }
        rows
    }

    /// The placements a record holds (see [`Placements::to_record`]).
    pub fn from_record(
        rows: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Placements, RecordError> {
        let mut default_shard = None;
        let mut tables = BTreeMap::new();
        for (key, text) in rows {
            let problem = |message: String| RecordError {
                key: key.clone(),
                message,
            };
            let recorded: Recorded =
                serde_json::from_str(&text).map_err(|e| problem(e.to_string()))?;
            let (written, how) = match recorded {
                Recorded::DefaultShard { shard } => {
                    default_shard = Some(shard);
                    continue;
                }
                Recorded::Reference { table } => (table, How::Reference),
                Recorded::ConsistentHash {
                    table,
                    shards,
                    virtual_nodes,
                } => {
                    if shards.is_empty() {
                        return Err(problem("a ring without shards".into()));
                    }
                    let names: Vec<&str> = shards.iter().map(String::as_str).collect();
                    let ring = HashRing::new(&names, virtual_nodes);
                    let sharder = Arc::new(Sharder::ConsistentHash(ring));
                    (table, How::Sharded { sharder, shards })
                }
                Recorded::HashMod { table, shards } => {
                    if shards.is_empty() {
                        return Err(problem("hash_mod over no shards".into()));
                    }
                    let sharder = Arc::new(Sharder::HashMod {
                        shards: shards.len(),
                    });
                    (table, How::Sharded { sharder, shards })
                }
                Recorded::Range { table, ranges } => {
                    let mut shards: Vec<String> = Vec::new();
                    let mut list = Vec::with_capacity(ranges.len());
                    for r in ranges {
                        let id = match shards.iter().position(|s| *s == r.shard) {
                            Some(id) => id,
                            None => {
                                shards.push(r.shard);
                                shards.len() - 1
                            }
                        };
                        let bound = |b: Option<String>| match b {
                            None => Ok(None),
                            Some(text) => text
                                .parse::<i128>()
                                .map(Some)
                                .map_err(|e| problem(format!("range bound {text:?}: {e}"))),
                        };
                        list.push(KeyRange {
                            start: bound(r.start)?,
                            end: bound(r.end)?,
                            shard: id,
                        });
                    }
                    let map = RangeMap::new(list).map_err(|e| problem(e.to_string()))?;
                    let sharder = Arc::new(Sharder::Range(map));
                    (table, How::Sharded { sharder, shards })
                }
            };
            tables.insert(key, TablePlacement { written, how });
        }
        Ok(Placements {
            default_shard: default_shard.ok_or_else(|| RecordError {
                key: DEFAULT_SHARD_KEY.to_owned(),
                message: "no default shard recorded".into(),
            })?,
            tables,
        })
    }
}

fn json(recorded: &Recorded) -> String {
    serde_json::to_string(recorded).expect("plain data serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement_change::tests::{topology, USERS_MOD, USERS_RING};
    use crate::{placement_changes, Change};

    const EVENTS_RANGE: &str = "[[tables]]\nname = \"events\"\nshard_key = \"id\"\nstrategy = \"range\"\nranges = [{ shard = \"s0\", end = 100 }, { shard = \"s1\", start = 100 }]\n";
    const COUNTRIES: &str = "[[tables]]\nname = \"countries\"\nreference = true\n";

    #[test]
    fn a_record_reads_back_as_the_placements_it_was_written_from() {
        let tables = format!("{USERS_RING}{EVENTS_RANGE}{COUNTRIES}");
        let served = topology(&["s0", "s1", "s2"], &tables);
        let record = Placements::of(&served).to_record();
        let read = Placements::from_record(record.clone()).unwrap();
        assert!(placement_changes(&read, &Placements::of(&served)).is_empty());
        assert_eq!(read.to_record(), record);
        // Against the record, a file that adds a shard to the ring is a change, as on reload.
        let grown = topology(&["s0", "s1", "s2", "s3"], &tables);
        let found = placement_changes(&read, &Placements::of(&grown));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].table.as_deref(), Some("users"));
        // Hash-mod too, and a changed default shard.
        let modded = topology(&["s0", "s1"], USERS_MOD);
        let read = Placements::from_record(Placements::of(&modded).to_record()).unwrap();
        assert!(placement_changes(&read, &Placements::of(&modded)).is_empty());
        let moved_default = topology(&["s1", "s0"], USERS_MOD);
        assert!(placement_changes(&read, &Placements::of(&moved_default))
            .iter()
            .any(|c| matches!(c.what, Change::DefaultShard { .. })));
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_its_row() {
        let rows = vec![("users".to_owned(), "{\"strategy\":\"nonsense\"}".to_owned())];
        let e = Placements::from_record(rows).unwrap_err();
        assert_eq!(e.key, "users");
        let e = Placements::from_record(Vec::new()).unwrap_err();
        assert!(e.message.contains("default shard"), "{e}");
        let empty_ring =
            r#"{"strategy":"consistent_hash","table":"users","shards":[],"virtual_nodes":10}"#;
        let rows = vec![("users".to_owned(), empty_ring.to_owned())];
        assert!(Placements::from_record(rows).is_err());
    }
}
