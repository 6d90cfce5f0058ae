//! Split advice for a hot table: which shard its requests pile on, and the split that would
//! spread them (the seeds' "consider shard splitting", made specific per strategy). Shown by
//! `SHOW SHARDGATE HOTSPOTS` and the hot-spot warning, with the `shardgate reshard split`
//! command that writes the target config (`split_target.rs`); `shardgate reshard plan` then
//! shows what it would move, and `reshard start` runs it.

use shardgate_ring::Sharder;

use crate::TableRule;

/// Advice for `rule`'s table, whose shards (`names`, by position) got `counts` requests; `None`
/// without requests.
pub fn split_advice(rule: &TableRule, names: &[&str], counts: &[u64]) -> Option<String> {
    let total: u64 = counts.iter().sum();
    let (hottest, &most) = counts.iter().enumerate().max_by_key(|(_, c)| **c)?;
    if total == 0 {
        return None;
    }
    let name = names.get(hottest)?;
    let share = 100.0 * most as f64 / total as f64;
    let head = format!("{name} gets {share:.0}% of the requests");
    let n = names.len();
    let table = &rule.name;
    let command = |at: &str| {
        format!(" (`shardgate reshard split --table {table}{at} --shard NEW --primary HOST:PORT --out target.toml` writes the target config)")
    };
    Some(match &*rule.sharder {
        Sharder::Range(map) => {
            let owned: Vec<(Option<i128>, Option<i128>)> = (map.ranges().iter())
                .filter(|r| r.shard == hottest)
                .map(|r| (r.start, r.end))
                .collect();
            let shown = |(start, end): &(Option<i128>, Option<i128>)| {
                let bound = |b: &Option<i128>, open: &str| b.map_or(open.to_owned(), |v| v.to_string());
                format!("[{}, {})", bound(start, "-∞"), bound(end, "+∞"))
            };
            match owned.as_slice() {
                [(Some(start), Some(end))] if end - start > 1 => {
                    let middle = start + (end - start) / 2;
                    format!(
                        "{head}: split its range {} at {middle}, giving [{middle}, {end}) to a new shard{}",
                        shown(&owned[0]),
                        command(&format!(" --at {middle}"))
                    )
                }
                [only] => format!(
                    "{head}: split its range {} at a key inside it, giving the keys above it to a new shard{}",
                    shown(only),
                    command(" --at KEY")
                ),
                several => format!(
                    "{head}: give one of its ranges ({}) to a new shard, or split one{}",
                    several.iter().map(shown).collect::<Vec<_>>().join(", "),
                    command(" --at KEY")
                ),
            }
        }
        Sharder::ConsistentHash(_) => format!(
            "{head} for about 1/{n} of the keys: a few keys carry the load. A new shard on the ring takes about 1/{} of every shard's keys, {name}'s too; it spreads the load only if the hot keys are among them{}",
            n + 1,
            command("")
        ),
        Sharder::HashMod { .. } => format!(
            "{head} for 1/{n} of the keys: a few keys carry the load. Another shard would move most keys of every shard (hash_mod; a consistent_hash ring moves about 1/{} of them){}",
            n + 1,
            command("")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement_change::tests::{topology, USERS_RING};

    const EVENTS_RANGE: &str = "[[tables]]\nname = \"events\"\nshard_key = \"id\"\nstrategy = \"range\"\nranges = [{ shard = \"s0\", end = 100 }, { shard = \"s1\", start = 100, end = 300 }, { shard = \"s2\", start = 300 }]\n";

    #[test]
    fn a_hot_bounded_range_is_split_in_the_middle() {
        let t = topology(&["s0", "s1", "s2"], EVENTS_RANGE);
        let rule = t.table("events").unwrap();
        let names = ["s0", "s1", "s2"];
        assert_eq!(
            split_advice(rule, &names, &[10, 80, 10]).unwrap(),
            "s1 gets 80% of the requests: split its range [100, 300) at 200, giving [200, 300) to a new shard (`shardgate reshard split --table events --at 200 --shard NEW --primary HOST:PORT --out target.toml` writes the target config)"
        );
        assert_eq!(
            split_advice(rule, &names, &[0, 0, 5]).unwrap(),
            "s2 gets 100% of the requests: split its range [300, +∞) at a key inside it, giving the keys above it to a new shard (`shardgate reshard split --table events --at KEY --shard NEW --primary HOST:PORT --out target.toml` writes the target config)"
        );
        assert_eq!(split_advice(rule, &names, &[0, 0, 0]), None);
    }

    #[test]
    fn a_hot_ring_shard_is_told_what_a_new_shard_would_take() {
        let t = topology(&["s0", "s1"], USERS_RING);
        let advice = split_advice(t.table("users").unwrap(), &["s0", "s1"], &[5, 95]).unwrap();
        assert!(
            advice.starts_with("s1 gets 95% of the requests for about 1/2 of the keys"),
            "{advice}"
        );
        assert!(
            advice.contains("about 1/3 of every shard's keys"),
            "{advice}"
        );
    }
}
