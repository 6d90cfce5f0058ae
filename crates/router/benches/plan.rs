//! Parse + plan of the statements a sysbench OLTP run and a typical application send, against a
//! two-shard topology: the router's share of every query's cost in the proxy.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shardgate_config::Topology;
use std::sync::Arc;

use shardgate_router::{plan_sql, PlanCache};

const TOPOLOGY: &str = r#"
[[users]]
name = "app"
password = "app"

[backend]
user = "shardgate"
password = "shardgate"
database = "app"

[[shards]]
name = "s0"
primary = "127.0.0.1:3310"

[[shards]]
name = "s1"
primary = "127.0.0.1:3320"

[[tables]]
name = "sbtest1"
shard_key = "id"
"#;

fn topology() -> Topology {
    shardgate_config::parse(TOPOLOGY, "bench.toml").expect("bench topology is valid")
}

/// `(benchmark name, statement)`: each must plan successfully.
fn statements() -> Vec<(&'static str, String)> {
    let ids: Vec<String> = (1..=10).map(|i| (i * 7919).to_string()).collect();
    let rows: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                "({i}, {k}, '68487932199-96439406143-93774651418-41631865787-96406072701', \
                 '22195207048-70116052123-74140395089-76317954521')",
                k = i * 31
            )
        })
        .collect();
    vec![
        (
            "point_select",
            "SELECT c FROM sbtest1 WHERE id=5023".to_string(),
        ),
        (
            "in_list_10",
            format!("SELECT c FROM sbtest1 WHERE id IN ({})", ids.join(",")),
        ),
        (
            "insert_10_rows",
            format!(
                "INSERT INTO sbtest1 (id, k, c, pad) VALUES {}",
                rows.join(",")
            ),
        ),
        (
            "scatter_order_by_limit",
            "SELECT id, k FROM sbtest1 WHERE k BETWEEN 100 AND 200 ORDER BY k DESC, id LIMIT 10"
                .to_string(),
        ),
    ]
}

fn parse_and_plan(c: &mut Criterion) {
    let topology = topology();
    let mut group = c.benchmark_group("parse_and_plan");
    for (name, sql) in statements() {
        if let Err(e) = plan_sql(&sql, &topology, shardgate_router::Syntax::DEFAULT) {
            panic!("{name}: {sql}: {e}");
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                plan_sql(
                    black_box(&sql),
                    &topology,
                    shardgate_router::Syntax::DEFAULT,
                )
                .expect("plans")
            })
        });
    }
    group.finish();
}

/// The proxy's path for text statements: the plan of a statement's template, cached per
/// session, resolved with its literals (a different key each time, as sysbench sends).
fn cached_plan(c: &mut Criterion) {
    let topology = Arc::new(topology());
    let mut group = c.benchmark_group("cached_plan");
    let mut cache = PlanCache::default();
    let texts: Vec<String> = (0..1024)
        .map(|i| format!("SELECT c FROM sbtest1 WHERE id={}", i * 7919 % 10_000))
        .collect();
    assert!(
        cache
            .plan(&texts[0], &topology, shardgate_router::Syntax::DEFAULT)
            .is_some(),
        "a point select is cached"
    );
    let mut next = 0;
    group.bench_function("point_select", |b| {
        b.iter(|| {
            next = (next + 1) % texts.len();
            cache
                .plan(
                    black_box(&texts[next]),
                    &topology,
                    shardgate_router::Syntax::DEFAULT,
                )
                .expect("cached")
        })
    });
    group.finish();
}

criterion_group!(benches, parse_and_plan, cached_plan);
criterion_main!(benches);
