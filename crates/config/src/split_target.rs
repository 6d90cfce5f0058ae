//! The target config of a split (issue #15's split advice, made startable): the config text
//! serving now with a new shard added and, for a `range` table, the range holding a key cut
//! there, the keys from it on given to the new shard. Tables placed by hash (`consistent_hash`,
//! `hash_mod`) spread over every shard, so the new shard joins them by being declared. The
//! text is edited, not rewritten: comments and layout stay. `shardgate reshard plan` and
//! `start` take the result.

use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table, Value};

/// The shard a split adds.
#[derive(Debug, Clone)]
pub struct NewShard {
    pub name: String,
    pub primary: String,
    pub replicas: Vec<String>,
}

/// Why no target config could be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("the config does not parse as TOML: {0}")]
    Toml(String),
    #[error("no table `{0}` in the config")]
    NoTable(String),
    #[error("`{0}` is placed by key ranges: name the key to split its range at (--at)")]
    NeedsKey(String),
    #[error("no range of `{table}` holds key {at}")]
    NoRange { table: String, at: i64 },
    #[error("key {at} starts a range of `{table}` already: split at a key inside a range")]
    AtStart { table: String, at: i64 },
    #[error("`{table}` is placed by {strategy}: a split moves keys of range, consistent_hash or hash_mod tables")]
    NotSharded { table: String, strategy: String },
    #[error("the target config is not valid: {0}")]
    Invalid(String),
}

/// `current` with `new` declared (unless a shard of its name is) and `table` split: for a
/// `range` table, at key `at`.
pub fn split_target(
    current: &str,
    table: &str,
    at: Option<i64>,
    new: &NewShard,
) -> Result<String, SplitError> {
    let mut doc: DocumentMut = current
        .parse()
        .map_err(|e: toml_edit::TomlError| SplitError::Toml(e.to_string()))?;
    declare(&mut doc, new);
    let rule = (doc.get_mut("tables").and_then(Item::as_array_of_tables_mut))
        .and_then(|tables| {
            tables
                .iter_mut()
                .find(|t| t.get("name").and_then(Item::as_str) == Some(table))
        })
        .ok_or_else(|| SplitError::NoTable(table.to_owned()))?;
    let strategy = rule.get("strategy").and_then(Item::as_str).unwrap_or("");
    match strategy {
        "range" => {
            let at = at.ok_or_else(|| SplitError::NeedsKey(table.to_owned()))?;
            split_range(rule, table, at, &new.name)?;
        }
        "consistent_hash" | "hash_mod" => {}
        other => {
            return Err(SplitError::NotSharded {
                table: table.to_owned(),
                strategy: other.to_owned(),
            })
        }
    }
    let text = doc.to_string();
    crate::parse(&text, "the split's target").map_err(|e| SplitError::Invalid(e.to_string()))?;
    Ok(text)
}

/// Adds a `[[shards]]` entry for `new`, unless one of its name exists.
fn declare(doc: &mut DocumentMut, new: &NewShard) {
    let shards = doc
        .entry("shards")
        .or_insert(Item::ArrayOfTables(Default::default()));
    let Some(shards) = shards.as_array_of_tables_mut() else {
        return;
    };
    if (shards.iter()).any(|s| s.get("name").and_then(Item::as_str) == Some(&new.name)) {
        return;
    }
    let mut shard = Table::new();
    shard.insert("name", value(&new.name));
    shard.insert("primary", value(&new.primary));
    if !new.replicas.is_empty() {
        let replicas: Array = new.replicas.iter().map(String::as_str).collect();
        shard.insert("replicas", value(replicas));
    }
    shards.push(shard);
}

/// Cuts the range of `rule` holding `at` there; the keys from `at` on go to `shard`.
fn split_range(rule: &mut Table, table: &str, at: i64, shard: &str) -> Result<(), SplitError> {
    let no_range = || SplitError::NoRange {
        table: table.to_owned(),
        at,
    };
    let ranges = (rule.get_mut("ranges").and_then(Item::as_array_mut)).ok_or_else(no_range)?;
    let bound = |r: &InlineTable, key: &str| r.get(key).and_then(Value::as_integer);
    let holding = (ranges.iter().enumerate())
        .filter_map(|(i, r)| Some((i, r.as_inline_table()?)))
        .find(|(_, r)| {
            bound(r, "start").is_none_or(|s| s <= at) && bound(r, "end").is_none_or(|e| at < e)
        })
        .map(|(i, r)| (i, bound(r, "start"), bound(r, "end")));
    let (index, start, end) = holding.ok_or_else(no_range)?;
    if start == Some(at) {
        return Err(SplitError::AtStart {
            table: table.to_owned(),
            at,
        });
    }
    if let Some(cut) = ranges.get_mut(index).and_then(Value::as_inline_table_mut) {
        cut.insert("end", at.into());
        cut.fmt();
    }
    let mut piece = InlineTable::new();
    piece.insert("shard", shard.into());
    piece.insert("start", at.into());
    if let Some(end) = end {
        piece.insert("end", end.into());
    }
    ranges.insert(index + 1, piece);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = r#"# the serving config
[server]
listen = "127.0.0.1:6033"

[[users]]
name = "app"
password = "app"

[backend]
user = "u"
password = "p"
database = "app"

[[shards]]
name = "s0"
primary = "127.0.0.1:3300"

[[shards]]
name = "s1"
primary = "127.0.0.1:3301" # the hot one

[[tables]]
name = "events"
shard_key = "id"
strategy = "range"
ranges = [{ shard = "s0", end = 100 }, { shard = "s1", start = 100, end = 300 }, { shard = "s0", start = 300 }]

[[tables]]
name = "users"
shard_key = "id"
strategy = "consistent_hash"
"#;

    fn s2() -> NewShard {
        NewShard {
            name: "s2".into(),
            primary: "127.0.0.1:3302".into(),
            replicas: vec!["127.0.0.1:3312".into()],
        }
    }

    #[test]
    fn a_range_is_cut_at_the_key_and_its_upper_part_given_to_the_new_shard() {
        let target = split_target(NOW, "events", Some(200), &s2()).unwrap();
        assert!(target.contains(
            r#"ranges = [{ shard = "s0", end = 100 }, { shard = "s1", start = 100, end = 200 }, { shard = "s2", start = 200, end = 300 }, { shard = "s0", start = 300 }]"#
        ), "{target}");
        assert!(target.starts_with("# the serving config"), "{target}");
        assert!(target.contains("# the hot one"), "{target}");
        let topology = crate::parse(&target, "t").unwrap();
        assert_eq!(topology.shards.len(), 3);
        assert_eq!(topology.shards[2].replicas.len(), 1);
        // Only [200, 300) changes shard.
        let now = crate::parse(NOW, "n").unwrap();
        let changes = crate::placement_changes(
            &crate::Placements::of(&now),
            &crate::Placements::of(&topology),
        );
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown[0].contains("events"), "{shown:?}");
    }

    #[test]
    fn an_open_range_is_cut_too() {
        let target = split_target(NOW, "events", Some(1000), &s2()).unwrap();
        assert!(
            target.contains(
                r#"{ shard = "s0", start = 300, end = 1000 }, { shard = "s2", start = 1000 }]"#
            ),
            "{target}"
        );
    }

    #[test]
    fn a_ring_table_gets_the_new_shard_by_its_declaration() {
        let target = split_target(NOW, "users", None, &s2()).unwrap();
        assert_eq!(crate::parse(&target, "t").unwrap().shards.len(), 3);
        // Declared once, whatever is split next.
        let again = split_target(&target, "events", Some(50), &s2()).unwrap();
        assert_eq!(again.matches("name = \"s2\"").count(), 1, "{again}");
    }

    #[test]
    fn what_cannot_be_split_is_named() {
        assert_eq!(
            split_target(NOW, "events", None, &s2()),
            Err(SplitError::NeedsKey("events".into()))
        );
        assert_eq!(
            split_target(NOW, "events", Some(100), &s2()),
            Err(SplitError::AtStart {
                table: "events".into(),
                at: 100
            })
        );
        assert_eq!(
            split_target(NOW, "orders", None, &s2()),
            Err(SplitError::NoTable("orders".into()))
        );
        let clash = NewShard {
            name: "s9".into(),
            primary: "127.0.0.1:3301".into(),
            replicas: vec![],
        };
        assert!(matches!(
            split_target(NOW, "users", None, &clash),
            Err(SplitError::Invalid(_))
        ));
    }
}
