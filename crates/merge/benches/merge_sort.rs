//! K-way merge of 8 sorted shard streams (1,000 rows each) as a scatter `ORDER BY` runs it:
//! rows pushed round-robin as they would arrive, merged rows popped whenever possible.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shardgate_merge::{encode_text_row, ColumnMeta, ColumnType, MergeSort, SortKey, Value};

const STREAMS: usize = 8;
const ROWS_PER_STREAM: usize = 1000;

/// `(id BIGINT, c VARCHAR utf8mb4_general_ci, c VARCHAR utf8mb4_unicode_ci)`, as sysbench's
/// `sbtest` rows narrowed to two, the string twice.
fn columns() -> Vec<ColumnMeta> {
    vec![
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG),
        ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
        ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(224),
    ]
}

/// Stream `s` holds ids `s, s+8, s+16, …` (so the merge interleaves all streams) and a `c`
/// whose order follows the id's.
fn streams() -> Vec<Vec<Bytes>> {
    (0..STREAMS)
        .map(|s| {
            (0..ROWS_PER_STREAM)
                .map(|r| {
                    let id = (r * STREAMS + s) as i64;
                    let c = format!("{id:08}-96439406143-93774651418");
                    Bytes::from(encode_text_row(&[
                        Value::Int(id),
                        Value::bytes(c.clone()),
                        Value::bytes(c),
                    ]))
                })
                .collect()
        })
        .collect()
}

/// Merges `streams` by `keys`; returns the number of rows out.
fn merge(streams: &[Vec<Bytes>], keys: &[SortKey], columns: &[ColumnMeta]) -> usize {
    let mut m = MergeSort::new(streams.len(), keys, columns).expect("valid sort keys");
    let mut out = 0;
    for r in 0..ROWS_PER_STREAM {
        for (s, rows) in streams.iter().enumerate() {
            m.push(s, rows[r].clone()).expect("well-formed row");
        }
        while let Some((_, row)) = m.pop() {
            black_box(row);
            out += 1;
        }
    }
    for s in 0..streams.len() {
        m.finish(s).expect("open input");
    }
    while let Some((_, row)) = m.pop() {
        black_box(row);
        out += 1;
    }
    out
}

fn merge_sort(c: &mut Criterion) {
    let streams = streams();
    let columns = columns();
    let mut group = c.benchmark_group("merge_sort_8_streams");
    group.throughput(Throughput::Elements((STREAMS * ROWS_PER_STREAM) as u64));
    for (name, key) in [
        ("by_bigint", SortKey::asc(0)),
        ("by_varchar", SortKey::asc(1)),
        ("by_varchar_unicode_ci", SortKey::asc(2)),
    ] {
        group.bench_with_input(BenchmarkId::from_parameter(name), &key, |b, key| {
            b.iter(|| {
                let merged = merge(&streams, std::slice::from_ref(key), &columns);
                assert_eq!(merged, STREAMS * ROWS_PER_STREAM);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, merge_sort);
criterion_main!(benches);
