//! Which keys change owner when a table's sharder changes: the check that keeps a reload from
//! silently stranding rows (a key whose owner changes is looked for on a shard that does not
//! hold its row), and the plan of a resharding (which keys go from which shard to which).
//!
//! Owners are compared by shard name, so a shard appended to the list moves nothing by its
//! position; what moves is what the sharding function gives to another shard.

use std::collections::BTreeMap;

use crate::{HashRing, KeyRange, RangeMap, ShardId, Sharder};

/// What a change of sharder moves, in the units of its strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMoves {
    /// Share of the key space (of the hash space for hash strategies) that changes owner, 0–1;
    /// NaN when bounded key ranges move in an unbounded key space (no share can be said).
    pub share: f64,
    /// How many units change owner: ring arcs, hash residues, or key ranges.
    pub units: u64,
    /// How many units the old and new placements cut the key space into.
    pub of_units: u64,
    /// What a unit is (`ring arcs`, `hash residues`, `key ranges`, or `keys` when the strategy
    /// changes).
    pub unit: &'static str,
    /// The shards (by name, sorted) that own moving keys now: only their rows could be
    /// stranded.
    pub from: Vec<String>,
    /// Where the moving keys go, per pair of shards (sorted by names); empty when the
    /// strategy changes (every key may go anywhere).
    pub flows: Vec<KeyFlow>,
}

/// The keys one shard gives another (or, `to` being `None`, leaves without an owner).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyFlow {
    pub from: String,
    pub to: Option<String>,
    /// How many units.
    pub units: u64,
    /// The share of `from`'s keys that go (0–1): of its hash space for hash strategies; for
    /// ranges `None` when a piece is unbounded (count its rows instead).
    pub share_of_from: Option<f64>,
    /// The key ranges that go (`range` strategy only): `[start, end)`, `None` unbounded.
    pub ranges: Vec<(Option<i128>, Option<i128>)>,
}

impl KeyMoves {
    /// Nothing changes owner.
    pub fn none(&self) -> bool {
        self.units == 0
    }
}

impl std::fmt::Display for KeyMoves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} {}", self.units, self.of_units, self.unit)?;
        match self.share.is_nan() {
            true => Ok(()),
            false => write!(f, " ({:.1}% of the keys)", self.share * 100.0),
        }
    }
}

impl std::fmt::Display for KeyFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = self.to.as_deref().unwrap_or("no shard");
        write!(f, "{} → {to}: {} unit(s)", self.from, self.units)?;
        if let Some(share) = self.share_of_from {
            write!(f, ", {:.1}% of {}'s keys", share * 100.0, self.from)?;
        }
        for (start, end) in &self.ranges {
            let bound = |b: &Option<i128>, open: &str| b.map_or(open.to_owned(), |v| v.to_string());
            write!(f, " [{}, {})", bound(start, "-∞"), bound(end, "+∞"))?;
        }
        Ok(())
    }
}

/// One unit of the key space: its owner before and after, and its weight (its share of the
/// hash space; a range's width, infinite when unbounded).
struct Unit {
    was: ShardId,
    now: Option<ShardId>,
    weight: f64,
    range: Option<(Option<i128>, Option<i128>)>,
}

/// What moves when the sharder `old` over shards named `old_names` becomes `new` over
/// `new_names` (a `ShardId` indexes its own list).
pub fn key_moves(old: &Sharder, old_names: &[&str], new: &Sharder, new_names: &[&str]) -> KeyMoves {
    let (units, of_units, unit) = match (old, new) {
        (Sharder::ConsistentHash(a), Sharder::ConsistentHash(b)) => ring_units(a, b),
        (Sharder::HashMod { shards: n }, Sharder::HashMod { shards: m }) if *n > 0 && *m > 0 => {
            residue_units(*n, *m)
        }
        (Sharder::Range(a), Sharder::Range(b)) => range_units(a, b),
        // Another sharding function: any key may land anywhere.
        _ => {
            return KeyMoves {
                share: 1.0,
                units: 1,
                of_units: 1,
                unit: "keys (the sharding strategy changes)",
                from: sorted_names(old_names.iter().copied()),
                flows: Vec::new(),
            }
        }
    };
    let old_owner = |id: ShardId| old_names.get(id).copied();
    let new_owner = |id: Option<ShardId>| id.and_then(|id| new_names.get(id).copied());
    // Per old owner: the weight of all its keys.
    let mut owned: BTreeMap<&str, f64> = BTreeMap::new();
    let mut flows: BTreeMap<(&str, Option<&str>), KeyFlow> = BTreeMap::new();
    let (mut moved, mut total, mut moved_units) = (0f64, 0f64, 0u64);
    for u in &units {
        let Some(from) = old_owner(u.was) else {
            continue;
        };
        *owned.entry(from).or_default() += u.weight;
        total += u.weight;
        let to = new_owner(u.now);
        if Some(from) == to {
            continue;
        }
        moved += u.weight;
        moved_units += 1;
        let flow = flows.entry((from, to)).or_insert_with(|| KeyFlow {
            from: from.to_owned(),
            to: to.map(str::to_owned),
            units: 0,
            share_of_from: Some(0.0),
            ranges: Vec::new(),
        });
        flow.units += 1;
        flow.share_of_from = flow.share_of_from.map(|s| s + u.weight);
        flow.ranges.extend(u.range);
    }
    let flows: Vec<KeyFlow> = (flows.into_values())
        .map(|mut flow| {
            let of = owned.get(flow.from.as_str()).copied().unwrap_or(0.0);
            flow.share_of_from = flow
                .share_of_from
                .filter(|w| w.is_finite() && of.is_finite() && of > 0.0)
                .map(|w| (w / of).min(1.0));
            flow
        })
        .collect();
    let share = if moved_units == 0 {
        0.0
    } else if moved.is_infinite() {
        0.5 // an unbounded piece moves: a share of an infinite key space, said as half
    } else if total.is_infinite() {
        f64::NAN
    } else {
        (moved / total).min(1.0)
    };
    KeyMoves {
        share,
        units: moved_units,
        of_units,
        unit,
        from: sorted_names(flows.iter().map(|f| f.from.as_str())),
        flows,
    }
}

fn sorted_names<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = names.map(str::to_owned).collect();
    names.sort();
    names.dedup();
    names
}

/// Arcs of the ring between consecutive points of either ring: every hash in an arc has one
/// owner on each ring (the owner of the first point at or after the arc's end).
fn ring_units(a: &HashRing, b: &HashRing) -> (Vec<Unit>, u64, &'static str) {
    let mut bounds: Vec<u64> = a.points().chain(b.points()).map(|(p, _)| p).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut units = Vec::with_capacity(bounds.len());
    for (i, &end) in bounds.iter().enumerate() {
        let (Ok(x), Ok(y)) = (a.shard_for_hash(end), b.shard_for_hash(end)) else {
            continue;
        };
        // The arc (previous bound, end]; the first one wraps around from the last bound.
        let start = if i == 0 {
            bounds[bounds.len() - 1]
        } else {
            bounds[i - 1]
        };
        let length = match end.wrapping_sub(start) {
            0 => 1u128 << 64, // one point only: the whole ring
            n => u128::from(n),
        };
        units.push(Unit {
            was: x,
            now: Some(y),
            weight: length as f64 / (1u128 << 64) as f64,
            range: None,
        });
    }
    (units, bounds.len() as u64, "ring arcs")
}

/// Residues modulo lcm(n, m): a hash `h` goes to `h % n` before and `h % m` after, both fixed
/// by `h % lcm`.
fn residue_units(n: usize, m: usize) -> (Vec<Unit>, u64, &'static str) {
    let lcm = n / gcd(n, m) * m;
    let units = (0..lcm)
        .map(|r| Unit {
            was: r % n,
            now: Some(r % m),
            weight: 1.0 / lcm as f64,
            range: None,
        })
        .collect();
    (units, lcm as u64, "hash residues")
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The key space cut at every bound of either map; a piece moves when its owner differs, or
/// when it had an owner and has none now (its rows could no longer be reached). Pieces that
/// had no owner move nothing (no row could be there).
fn range_units(a: &RangeMap, b: &RangeMap) -> (Vec<Unit>, u64, &'static str) {
    let mut cuts: Vec<i128> = (a.ranges().iter().chain(b.ranges()))
        .flat_map(|r| [r.start, r.end])
        .flatten()
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    // Pieces: (-inf, c0), [c0, c1), …, [cn, +inf).
    let mut pieces: Vec<KeyRange> = Vec::with_capacity(cuts.len() + 1);
    let mut start = None;
    for &cut in &cuts {
        pieces.push(KeyRange {
            start,
            end: Some(cut),
            shard: 0,
        });
        start = Some(cut);
    }
    pieces.push(KeyRange {
        start,
        end: None,
        shard: 0,
    });
    let owner = |map: &RangeMap, piece: &KeyRange| {
        // Every key of a piece has one owner in each map; its first key tells which.
        let probe = piece.start.or(piece.end.map(|e| e - 1))?;
        map.shard_for_value(probe).ok()
    };
    let mut units = Vec::new();
    let mut of_units = 0u64;
    for piece in &pieces {
        let (was, now) = (owner(a, piece), owner(b, piece));
        if was.is_none() && now.is_none() {
            continue;
        }
        of_units += 1;
        let Some(was) = was else {
            continue;
        };
        let weight = match (piece.start, piece.end) {
            (Some(s), Some(e)) => (e - s) as f64,
            _ => f64::INFINITY,
        };
        units.push(Unit {
            was,
            now,
            weight,
            range: Some((piece.start, piece.end)),
        });
    }
    (units, of_units, "key ranges")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyValue;
    use proptest::prelude::*;

    fn ring(names: &[&str]) -> Sharder {
        Sharder::ConsistentHash(HashRing::new(names, 64))
    }

    /// The share of `keys` sample keys whose owner's name changes.
    fn sampled(old: &Sharder, on: &[&str], new: &Sharder, nn: &[&str], keys: i128) -> f64 {
        let moved = (0..keys)
            .filter(|k| {
                let key = KeyValue::Int(*k);
                let a = old
                    .shard_for(&key, crate::KeyKind::Integer)
                    .ok()
                    .map(|i| on[i]);
                let b = new
                    .shard_for(&key, crate::KeyKind::Integer)
                    .ok()
                    .map(|i| nn[i]);
                a != b
            })
            .count();
        moved as f64 / keys as f64
    }

    #[test]
    fn the_same_ring_moves_nothing_and_a_reordered_list_neither() {
        let moves = key_moves(
            &ring(&["a", "b"]),
            &["a", "b"],
            &ring(&["a", "b"]),
            &["a", "b"],
        );
        assert!(moves.none(), "{moves}");
        // Points are placed by name, so the order of the list does not matter.
        let moves = key_moves(
            &ring(&["a", "b"]),
            &["a", "b"],
            &ring(&["b", "a"]),
            &["b", "a"],
        );
        assert!(moves.none(), "{moves}");
    }

    #[test]
    fn a_shard_added_to_a_ring_takes_about_its_share() {
        let (on, nn) = (["a", "b", "c"], ["a", "b", "c", "d"]);
        let (old, new) = (ring(&on), ring(&nn));
        let moves = key_moves(&old, &on, &new, &nn);
        assert!(!moves.none());
        assert!((0.1..0.4).contains(&moves.share), "{moves}");
        let sample = sampled(&old, &on, &new, &nn, 20_000);
        assert!(
            (moves.share - sample).abs() < 0.02,
            "{moves} vs sampled {sample}"
        );
        // Every old shard gives keys to the new one, about a quarter of its own.
        assert_eq!(moves.from, ["a", "b", "c"]);
        assert_eq!(moves.flows.len(), 3);
        for flow in &moves.flows {
            assert_eq!(flow.to.as_deref(), Some("d"));
            let share = flow.share_of_from.unwrap();
            assert!((0.1..0.45).contains(&share), "{flow}");
        }
        // Taken out of the ring again, only its keys move: only its rows could be stranded.
        let back = key_moves(&new, &nn, &old, &on);
        assert_eq!(back.from, ["d"]);
    }

    #[test]
    fn hash_mod_residues_are_counted_exactly() {
        let moves = key_moves(
            &Sharder::HashMod { shards: 2 },
            &["a", "b"],
            &Sharder::HashMod { shards: 3 },
            &["a", "b", "c"],
        );
        // Residues mod 6: 0→a/a, 1→b/b, 2→a/c, 3→b/a, 4→a/b, 5→b/c: four of six move.
        assert_eq!((moves.units, moves.of_units), (4, 6));
        let flows: Vec<String> = moves.flows.iter().map(ToString::to_string).collect();
        assert_eq!(
            flows,
            [
                "a → b: 1 unit(s), 33.3% of a's keys",
                "a → c: 1 unit(s), 33.3% of a's keys",
                "b → a: 1 unit(s), 33.3% of b's keys",
                "b → c: 1 unit(s), 33.3% of b's keys",
            ]
        );
        let same = key_moves(
            &Sharder::HashMod { shards: 2 },
            &["a", "b"],
            &Sharder::HashMod { shards: 2 },
            &["a", "b"],
        );
        assert!(same.none());
        // A renamed shard in place moves its keys.
        let renamed = key_moves(
            &Sharder::HashMod { shards: 2 },
            &["a", "b"],
            &Sharder::HashMod { shards: 2 },
            &["a", "x"],
        );
        assert_eq!((renamed.units, renamed.of_units), (1, 2));
        assert_eq!(renamed.from, ["b"]);
    }

    fn ranges(spec: &[(Option<i128>, Option<i128>, ShardId)]) -> Sharder {
        let list = spec
            .iter()
            .map(|&(start, end, shard)| KeyRange { start, end, shard })
            .collect();
        Sharder::Range(RangeMap::new(list).unwrap())
    }

    #[test]
    fn ranges_that_change_owner_or_lose_it_move() {
        let old = ranges(&[(None, Some(100), 0), (Some(100), None, 1)]);
        // A new shard takes [100, 200) from b: one piece moves.
        let split = ranges(&[
            (None, Some(100), 0),
            (Some(100), Some(200), 2),
            (Some(200), None, 1),
        ]);
        let moves = key_moves(&old, &["a", "b"], &split, &["a", "b", "c"]);
        assert_eq!(moves.units, 1, "{moves}");
        assert_eq!(moves.from, ["b"]);
        assert_eq!(moves.flows[0].to_string(), "b → c: 1 unit(s) [100, 200)");
        // The same ranges over an appended shard list: nothing moves.
        let same = ranges(&[(None, Some(100), 0), (Some(100), None, 1)]);
        assert!(key_moves(&old, &["a", "b"], &same, &["a", "b", "c"]).none());
        // Keys that lose their owner move too (to nowhere).
        let shrunk = ranges(&[(None, Some(100), 0), (Some(100), Some(500), 1)]);
        let moves = key_moves(&old, &["a", "b"], &shrunk, &["a", "b"]);
        assert_eq!(moves.units, 1, "{moves}");
        assert_eq!(moves.from, ["b"]);
        // Keys that gain one move nothing (no row could be there).
        assert!(key_moves(&shrunk, &["a", "b"], &old, &["a", "b"]).none());
    }

    #[test]
    fn a_change_of_strategy_moves_everything() {
        let moves = key_moves(
            &ring(&["a"]),
            &["a"],
            &Sharder::HashMod { shards: 1 },
            &["a"],
        );
        assert_eq!(moves.share, 1.0);
        assert_eq!(moves.from, ["a"]);
    }

    proptest! {
        /// Nothing that keeps every key's owner is reported as a move, and a reported share
        /// agrees with sampled keys.
        #[test]
        fn ring_moves_agree_with_sampled_keys(before in 1usize..5, after in 1usize..6) {
            let names = ["s0", "s1", "s2", "s3", "s4", "s5"];
            let (on, nn) = (&names[..before], &names[..after]);
            let (old, new) = (ring(on), ring(nn));
            let moves = key_moves(&old, on, &new, nn);
            let sample = sampled(&old, on, &new, nn, 5_000);
            prop_assert_eq!(moves.none(), before == after);
            prop_assert!((moves.share - sample).abs() < 0.05, "{} vs sampled {}", moves, sample);
        }
    }
}
