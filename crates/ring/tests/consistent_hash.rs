//! Consistent-hash ring behaviour: determinism, balance, and minimal movement when a shard
//! is added or removed.

use proptest::prelude::*;
use shardgate_ring::{
    Collation, HashRing, KeyKind, KeyValue, ShardId, Sharder, DEFAULT_VIRTUAL_NODES,
};

const KEYS: i128 = 100_000;

fn ring(names: &[&str], virtual_nodes: u32) -> Sharder {
    Sharder::ConsistentHash(HashRing::new(names, virtual_nodes))
}

fn int_shard(sharder: &Sharder, key: i128) -> ShardId {
    sharder
        .shard_for(&KeyValue::Int(key), KeyKind::Integer)
        .unwrap()
}

/// Deterministic pseudo-random alphanumeric strings (splitmix64).
fn random_strings(count: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-@.";
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..count)
        .map(|_| {
            let len = 1 + (next() % 24) as usize;
            (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize] as char)
                .collect()
        })
        .collect()
}

fn assert_balanced(counts: &[usize], total: usize) {
    let fair = total as f64 / counts.len() as f64;
    for (shard, &count) in counts.iter().enumerate() {
        let ratio = count as f64 / fair;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "shard {shard} holds {count} of {total} keys ({ratio:.3} of its fair share): {counts:?}"
        );
    }
}

#[test]
fn four_shards_balance_integer_keys() {
    let four = ring(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
    let mut counts = [0; 4];
    for key in 1..=KEYS {
        counts[int_shard(&four, key)] += 1;
    }
    assert_balanced(&counts, KEYS as usize);
}

#[test]
fn four_shards_balance_string_keys() {
    let four = ring(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
    let keys = random_strings(KEYS as usize);
    let mut counts = [0; 4];
    for key in &keys {
        counts[four
            .shard_for(
                &KeyValue::Str(key.as_bytes()),
                KeyKind::String(Collation::GeneralCi),
            )
            .unwrap()] += 1;
    }
    assert_balanced(&counts, keys.len());
}

#[test]
fn adding_a_fifth_shard_moves_a_fifth_of_keys_only_to_it() {
    let four = ring(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
    let five = ring(&["s0", "s1", "s2", "s3", "s4"], DEFAULT_VIRTUAL_NODES);
    let mut moved = 0;
    for key in 1..=KEYS {
        let (before, after) = (int_shard(&four, key), int_shard(&five, key));
        if before != after {
            assert_eq!(
                after, 4,
                "key {key} moved from s{before} to s{after}, not to s4"
            );
            moved += 1;
        }
    }
    let share = moved as f64 / KEYS as f64;
    assert!(
        (0.15..=0.25).contains(&share),
        "{moved} keys moved ({share:.3})"
    );
}

#[test]
fn removing_the_fifth_shard_restores_placement() {
    let original = ring(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
    let five = ring(&["s0", "s1", "s2", "s3", "s4"], DEFAULT_VIRTUAL_NODES);
    let restored = ring(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
    for key in 1..=KEYS {
        if int_shard(&five, key) != 4 {
            assert_eq!(int_shard(&five, key), int_shard(&original, key));
        }
        assert_eq!(
            int_shard(&restored, key),
            int_shard(&original, key),
            "key {key}"
        );
    }
}

#[test]
fn removing_a_middle_shard_moves_only_its_keys() {
    let names = ["s0", "s1", "s2", "s3", "s4"];
    let without_s1 = ["s0", "s2", "s3", "s4"];
    let all = ring(&names, DEFAULT_VIRTUAL_NODES);
    let fewer = ring(&without_s1, DEFAULT_VIRTUAL_NODES);
    for key in 1..=20_000 {
        let before = names[int_shard(&all, key)];
        let after = without_s1[int_shard(&fewer, key)];
        if before != "s1" {
            assert_eq!(before, after, "key {key}");
        }
    }
}

/// Distinct shard names and one more name not among them.
fn names_and_newcomer() -> impl Strategy<Value = (Vec<String>, String)> {
    proptest::collection::btree_set("[a-z][a-z0-9]{0,7}", 2..8).prop_map(|set| {
        let mut names: Vec<String> = set.into_iter().collect();
        let newcomer = names.pop().unwrap();
        (names, newcomer)
    })
}

proptest! {
    #[test]
    fn same_input_same_shard(key in any::<i128>(), text in ".{0,40}", vnodes in 1u32..200) {
        let a = ring(&["a", "b", "c"], vnodes);
        let b = ring(&["a", "b", "c"], vnodes);
        prop_assert_eq!(int_shard(&a, key), int_shard(&b, key));
        let text = KeyValue::Str(text.as_bytes());
        prop_assert_eq!(a.shard_for(&text, KeyKind::String(Collation::GeneralCi)), b.shard_for(&text, KeyKind::String(Collation::GeneralCi)));
    }

    #[test]
    fn adding_a_shard_moves_keys_only_to_it(
        (names, newcomer) in names_and_newcomer(),
        vnodes in 1u32..100,
        keys in proptest::collection::vec(any::<i64>(), 1..200),
    ) {
        let before: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut after = before.clone();
        after.push(&newcomer);
        let (small, big) = (ring(&before, vnodes), ring(&after, vnodes));
        for key in keys {
            let (old, new) = (int_shard(&small, key.into()), int_shard(&big, key.into()));
            prop_assert!(old == new || new == before.len(), "key {} moved {} -> {}", key, old, new);
        }
    }

    #[test]
    fn shard_order_in_config_does_not_change_owner_names(
        (names, _) in names_and_newcomer(),
        key in any::<i64>(),
    ) {
        let forward: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut backward = forward.clone();
        backward.reverse();
        let owner_forward = forward[int_shard(&ring(&forward, 64), key.into())];
        let owner_backward = backward[int_shard(&ring(&backward, 64), key.into())];
        prop_assert_eq!(owner_forward, owner_backward);
    }
}
