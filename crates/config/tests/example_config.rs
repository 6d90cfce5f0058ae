//! The shipped example config parses into the topology it describes.

use std::time::Duration;

use shardgate_config::{parse, PoolSettings, ShardKeyType};
use shardgate_ring::KeyValue;

const EXAMPLE: &str = include_str!("../../../config/example.toml");

#[test]
fn example_parses() {
    let topology = parse(EXAMPLE, "example.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        topology.summary(),
        "2 shards (4 endpoints), 2 sharded tables, 1 user, listen 127.0.0.1:6033"
    );
    assert_eq!(topology.shards[1].primary.to_string(), "127.0.0.1:3320");
    assert_eq!(topology.backend.pool, PoolSettings::default());
    assert_eq!(topology.backend.pool.idle_timeout, Duration::from_secs(300));
    let orders = topology.table("ORDERS").unwrap();
    assert_eq!(orders.shard_key, "user_id");
    assert_eq!(orders.key_type, ShardKeyType::Integer);
}

#[test]
fn users_and_orders_colocate() {
    let topology = parse(EXAMPLE, "example.toml").unwrap();
    let (users, orders) = (
        topology.table("users").unwrap(),
        topology.table("orders").unwrap(),
    );
    for id in 0..1000 {
        assert_eq!(
            users.shard_for(&KeyValue::Int(id)),
            orders.shard_for(&KeyValue::Int(id))
        );
    }
}

#[test]
fn commented_range_table_parses_when_uncommented() {
    let uncommented: String = EXAMPLE
        .lines()
        .skip_while(|l| !l.starts_with("# A range table"))
        .skip(3)
        .map(|l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!("{EXAMPLE}\n{uncommented}\n");
    let topology = parse(&text, "example.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let events = topology.table("events").unwrap();
    assert_eq!(events.shard_for(&KeyValue::Int(999_999)), Ok(0));
    assert_eq!(events.shard_for(&KeyValue::Int(1_000_000)), Ok(1));
}
