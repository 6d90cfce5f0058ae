//! An integer and its text land on the same shard of an integer shard key, under every
//! strategy; non-integers are rejected.

use proptest::prelude::*;
use shardgate_ring::{
    Collation, HashRing, KeyKind, KeyRange, KeyValue, RangeMap, RingError, Sharder,
};

fn sharders() -> Vec<Sharder> {
    vec![
        Sharder::ConsistentHash(HashRing::new(&["s0", "s1", "s2", "s3"], 64)),
        Sharder::HashMod { shards: 4 },
        Sharder::Range(
            RangeMap::new(vec![
                KeyRange {
                    start: None,
                    end: Some(0),
                    shard: 3,
                },
                KeyRange {
                    start: Some(0),
                    end: Some(1000),
                    shard: 0,
                },
                KeyRange {
                    start: Some(1000),
                    end: None,
                    shard: 1,
                },
            ])
            .unwrap(),
        ),
    ]
}

#[test]
fn forty_two_in_every_spelling() {
    for sharder in sharders() {
        let int = sharder
            .shard_for(&KeyValue::Int(42), KeyKind::Integer)
            .unwrap();
        for text in ["42", " 042 ", "+42", "\t42\n", "0000042"] {
            assert_eq!(
                sharder.shard_for(&KeyValue::Str(text.as_bytes()), KeyKind::Integer),
                Ok(int),
                "{} {text:?}",
                sharder.strategy_name()
            );
        }
        assert_eq!(
            sharder.shard_for(&KeyValue::Str(b"42"), KeyKind::String(Collation::GeneralCi)),
            Ok(int)
        );
    }
}

#[test]
fn non_integers_are_rejected_for_integer_keys() {
    for sharder in sharders() {
        for text in ["", "4x", "1.5", " ", "0x2A"] {
            assert_eq!(
                sharder.shard_for(&KeyValue::Str(text.as_bytes()), KeyKind::Integer),
                Err(RingError::NotAnInteger(text.to_owned()))
            );
        }
    }
}

#[test]
fn string_keys_hash_bytes_as_written() {
    let ring = Sharder::HashMod { shards: 1 << 20 };
    assert_ne!(
        ring.shard_for(
            &KeyValue::Str(b"042"),
            KeyKind::String(Collation::GeneralCi)
        ),
        ring.shard_for(&KeyValue::Str(b"42"), KeyKind::String(Collation::GeneralCi))
    );
}

#[test]
fn range_tables_need_integer_values_even_for_string_keys() {
    let range = &sharders()[2];
    assert_eq!(
        range.shard_for(
            &KeyValue::Str(b"1500"),
            KeyKind::String(Collation::GeneralCi)
        ),
        Ok(1)
    );
    assert!(range
        .shard_for(
            &KeyValue::Str(b"abc"),
            KeyKind::String(Collation::GeneralCi)
        )
        .is_err());
}

proptest! {
    #[test]
    fn integer_equals_its_padded_text(value in any::<i128>(), zeros in 0usize..5, left in " {0,3}", right in "[ \t]{0,3}") {
        let digits = value.unsigned_abs().to_string();
        let sign = if value < 0 { "-" } else { "" };
        let text = format!("{left}{sign}{}{digits}{right}", "0".repeat(zeros));
        for sharder in sharders() {
            prop_assert_eq!(
                sharder.shard_for(&KeyValue::Str(text.as_bytes()), KeyKind::Integer),
                sharder.shard_for(&KeyValue::Int(value), KeyKind::Integer)
            );
        }
    }

    #[test]
    fn int_hashes_as_its_decimal_text(value in any::<i128>()) {
        prop_assert_eq!(
            shardgate_ring::hash_key(&KeyValue::Int(value), KeyKind::String(Collation::GeneralCi)),
            Ok(xxhash_rust::xxh3::xxh3_64(value.to_string().as_bytes()))
        );
    }

    #[test]
    fn text_with_a_non_digit_is_not_an_integer(prefix in "[0-9]{0,5}", bad in "[a-zA-Z.,e_]", suffix in "[0-9]{0,5}") {
        let text = format!("{prefix}{bad}{suffix}");
        prop_assert_eq!(
            shardgate_ring::parse_integer(text.as_bytes()),
            Err(RingError::NotAnInteger(text.clone()))
        );
    }
}
