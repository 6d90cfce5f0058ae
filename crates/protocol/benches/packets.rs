//! Row encoding: the packets the proxy writes itself — a text row shaped like sysbench's
//! `sbtest` row and the column definitions of its result.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shardgate_wire::column_definition::ColumnDef;
use shardgate_wire::packets::column_count;
use shardgate_wire::text_row::text_row;

const C: &[u8] = b"68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-\
25459966574-28203206787-41238978918-19503783441";
const PAD: &[u8] = b"22195207048-70116052123-74140395089-76317954521-98694025897";

fn sbtest_columns() -> Vec<ColumnDef> {
    let mut id = ColumnDef::bigint("id");
    let mut k = ColumnDef::bigint("k");
    let mut c = ColumnDef::varchar("c");
    let mut pad = ColumnDef::varchar("pad");
    for col in [&mut id, &mut k, &mut c, &mut pad] {
        col.schema = "app".into();
        col.table = "sbtest1".into();
        col.org_table = "sbtest1".into();
        col.org_name = col.name.clone();
    }
    vec![id, k, c, pad]
}

fn row_encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("row_encoding");
    group.throughput(Throughput::Elements(1));
    group.bench_function("text_row_sbtest", |b| {
        b.iter(|| {
            text_row([
                Some(black_box(&b"5023"[..])),
                Some(&b"4993"[..]),
                Some(C),
                Some(PAD),
            ])
        })
    });
    group.bench_function("text_row_with_null", |b| {
        b.iter(|| text_row([Some(black_box(&b"5023"[..])), None, Some(PAD), None]))
    });
    let columns = sbtest_columns();
    group.throughput(Throughput::Elements(columns.len() as u64));
    group.bench_function("column_definitions_sbtest", |b| {
        b.iter(|| {
            let mut packets = Vec::with_capacity(columns.len() + 1);
            packets.push(column_count(columns.len() as u64));
            packets.extend(black_box(&columns).iter().map(ColumnDef::encode));
            packets
        })
    });
    group.finish();
}

criterion_group!(benches, row_encoding);
criterion_main!(benches);
