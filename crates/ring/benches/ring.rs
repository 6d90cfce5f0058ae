//! Ring lookup: which shard owns a shard-key value, for integer and string keys, on rings of
//! 2 and 16 shards with the default number of virtual nodes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use shardgate_ring::{Collation, HashRing, KeyKind, KeyValue, Sharder, DEFAULT_VIRTUAL_NODES};

fn ring_of(shards: usize) -> Sharder {
    let names: Vec<String> = (0..shards).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Sharder::ConsistentHash(HashRing::new(&names, DEFAULT_VIRTUAL_NODES))
}

fn ring_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_lookup");
    for shards in [2, 16] {
        let sharder = ring_of(shards);
        // Successive keys spread over the ring, so lookups do not hit one cached point.
        let mut key = 0i128;
        group.bench_with_input(BenchmarkId::new("int_key", shards), &sharder, |b, s| {
            b.iter(|| {
                key = key.wrapping_add(7919);
                s.shard_for(&KeyValue::Int(black_box(key)), KeyKind::Integer)
                    .expect("a shard")
            })
        });
        let tokens: Vec<String> = (0..1024).map(|i| format!("session-{i:08x}")).collect();
        let mut next = 0usize;
        group.bench_with_input(BenchmarkId::new("string_key", shards), &sharder, |b, s| {
            b.iter(|| {
                next = (next + 1) % tokens.len();
                s.shard_for(
                    &KeyValue::Str(black_box(tokens[next].as_bytes())),
                    KeyKind::String(Collation::GeneralCi),
                )
                .expect("a shard")
            })
        });
        // The integer key arriving as text (`WHERE id = '42'`, or a text-protocol parameter).
        let texts: Vec<String> = (0..1024).map(|i| (i * 7919).to_string()).collect();
        group.bench_with_input(
            BenchmarkId::new("int_key_as_text", shards),
            &sharder,
            |b, s| {
                b.iter(|| {
                    next = (next + 1) % texts.len();
                    s.shard_for(
                        &KeyValue::Str(black_box(texts[next].as_bytes())),
                        KeyKind::Integer,
                    )
                    .expect("a shard")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, ring_lookup);
criterion_main!(benches);
