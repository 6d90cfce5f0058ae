//! Pinned key → shard results: a change of hash, key bytes or ring layout breaks these,
//! and with them the placement of every row already stored.

use shardgate_ring::{Collation, HashRing, KeyKind, KeyValue, Sharder, DEFAULT_VIRTUAL_NODES};

fn ring(names: &[&str]) -> Sharder {
    Sharder::ConsistentHash(HashRing::new(names, DEFAULT_VIRTUAL_NODES))
}

fn ints(sharder: &Sharder) -> Vec<usize> {
    (1..=20i128)
        .map(|k| {
            sharder
                .shard_for(&KeyValue::Int(k), KeyKind::Integer)
                .unwrap()
        })
        .collect()
}

#[test]
fn hash_of_canonical_bytes_is_xxh3() {
    assert_eq!(xxhash_rust::xxh3::xxh3_64(b"42"), 0x1217_cb28_c0ef_2191);
    assert_eq!(
        shardgate_ring::hash_key(&KeyValue::Int(42), KeyKind::Integer),
        Ok(0x1217_cb28_c0ef_2191)
    );
}

#[test]
fn default_virtual_nodes_is_pinned() {
    assert_eq!(DEFAULT_VIRTUAL_NODES, 1024);
}

#[test]
fn ring_of_four_places_integers() {
    assert_eq!(
        ints(&ring(&["s0", "s1", "s2", "s3"])),
        [1, 2, 3, 3, 3, 0, 1, 3, 1, 1, 2, 2, 0, 0, 2, 2, 2, 0, 1, 2]
    );
    let four = ring(&["s0", "s1", "s2", "s3"]);
    let at = |k: i128| four.shard_for(&KeyValue::Int(k), KeyKind::Integer).unwrap();
    assert_eq!(
        [at(0), at(42), at(1000), at(-7), at(123_456_789_012_345)],
        [1, 3, 1, 0, 1]
    );
}

#[test]
fn ring_of_four_places_strings() {
    let four = ring(&["s0", "s1", "s2", "s3"]);
    let at = |s: &str| {
        four.shard_for(
            &KeyValue::Str(s.as_bytes()),
            KeyKind::String(Collation::GeneralCi),
        )
        .unwrap()
    };
    assert_eq!(
        [
            at("alice"),
            at("bob"),
            at("carol"),
            at("dave"),
            at(""),
            at("ß")
        ],
        [2, 3, 2, 1, 2, 1]
    );
    // Non-ASCII keys are placed by their folded form: `ß` weighs as `s` under general_ci.
    assert_eq!(at("ß"), at("S"));
}

#[test]
fn ring_of_five_places_integers() {
    assert_eq!(
        ints(&ring(&["s0", "s1", "s2", "s3", "s4"])),
        [1, 2, 3, 3, 3, 0, 1, 3, 4, 4, 2, 2, 0, 0, 2, 4, 2, 4, 4, 2]
    );
}

#[test]
fn hash_mod_places_integers() {
    assert_eq!(
        ints(&Sharder::HashMod { shards: 5 }),
        [4, 0, 1, 2, 4, 4, 4, 1, 1, 2, 1, 1, 4, 3, 2, 2, 1, 4, 2, 0]
    );
}

#[test]
fn first_ring_points_are_pinned() {
    let ring = HashRing::new(&["s0", "s1", "s2", "s3"], DEFAULT_VIRTUAL_NODES);
    assert_eq!(
        ring.points().take(3).collect::<Vec<_>>(),
        [
            (1_235_423_039_154_111, 0),
            (13_824_889_675_954_387, 0),
            (14_165_743_279_408_523, 2)
        ]
    );
}
