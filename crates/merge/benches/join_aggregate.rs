//! The proxy's join and aggregate operators over 100,000 rows: a hash join (build 100,000
//! inner rows, probe 100,000 outer rows), a batched-lookup join (outer rows in batches of
//! 256, each joined with its looked-up inner rows), and a hash aggregate (`COUNT(*)` and
//! `COUNT(DISTINCT x)` per group over raw rows, 1,000 groups).

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shardgate_merge::{
    encode_text_row, Aggregate, BatchedLookup, ColumnMeta, ColumnType, HashAggregate, HashJoin,
    JoinKeys, JoinKind, MemoryLimit, Value,
};

const ROWS: usize = 100_000;
const BATCH: usize = 256;

/// `(id BIGINT, key BIGINT, label VARCHAR utf8mb4_general_ci)`.
fn columns() -> Vec<ColumnMeta> {
    vec![
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG),
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG),
        ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
    ]
}

/// Row `i`: key `i % modulo`, a 30-byte label.
fn rows(modulo: usize) -> Vec<Bytes> {
    (0..ROWS)
        .map(|i| {
            Bytes::from(encode_text_row(&[
                Value::Int(i as i64),
                Value::Int((i % modulo) as i64),
                Value::bytes(format!("label-{:08}-96439406143", i % 977)),
            ]))
        })
        .collect()
}

fn keys(columns: &[ColumnMeta]) -> JoinKeys {
    JoinKeys::new(&[1], columns, &[0], columns).expect("valid keys")
}

fn hash_join(c: &mut Criterion) {
    let columns = columns();
    let outer = rows(ROWS);
    let inner = rows(ROWS);
    let mut group = c.benchmark_group("join_100k");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.bench_function("hash_join", |b| {
        b.iter(|| {
            let mut join = HashJoin::new(keys(&columns), JoinKind::Inner, MemoryLimit::UNLIMITED);
            for row in &inner {
                join.build(row.clone()).expect("row");
            }
            let mut out = Vec::with_capacity(4);
            let mut n = 0;
            for row in &outer {
                join.probe(row.clone(), &mut out).expect("row");
                n += out.len();
                black_box(out.drain(..).count());
            }
            assert_eq!(n, ROWS);
        })
    });
    group.bench_function("batched_lookup", |b| {
        // A lookup answers with the inner rows whose id is one of the batch's keys: here the
        // outer row's own key, so the inner rows come as a shard would send them.
        b.iter(|| {
            let mut join = BatchedLookup::new(
                keys(&columns),
                JoinKind::Left,
                BATCH,
                MemoryLimit::UNLIMITED,
            )
            .expect("one key");
            let mut out = Vec::with_capacity(BATCH);
            let mut n = 0;
            for (i, row) in outer.iter().enumerate() {
                if join.push_outer(row.clone()).expect("row") || i + 1 == ROWS {
                    let first = i + 1 - join.pending();
                    for inner_row in &inner[first..=i] {
                        join.inner_row(inner_row.clone()).expect("row");
                    }
                    join.finish_batch(&mut out).expect("batch");
                    n += out.len();
                    black_box(out.drain(..).count());
                }
            }
            assert_eq!(n, ROWS);
        })
    });
    group.finish();
}

fn hash_aggregate(c: &mut Criterion) {
    let columns = columns();
    let input = rows(1000);
    let mut group = c.benchmark_group("aggregate_100k");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.bench_function("hash_aggregate_count_distinct", |b| {
        b.iter(|| {
            let outputs = vec![
                Aggregate::First(1),
                Aggregate::CountRows,
                Aggregate::CountDistinct(vec![2]),
            ];
            let mut agg = HashAggregate::new(&[1], outputs, &columns, MemoryLimit::UNLIMITED)
                .expect("valid aggregate");
            for row in &input {
                agg.push_row(row.clone()).expect("row");
            }
            let groups = agg.finish_rows().expect("groups");
            assert_eq!(groups.len(), 1000);
            black_box(groups);
        })
    });
    group.finish();
}

criterion_group!(benches, hash_join, hash_aggregate);
criterion_main!(benches);
