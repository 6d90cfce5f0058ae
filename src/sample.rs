//! The sandbox's sample data: users and their orders, each row written to the primary of the
//! shard that owns it (the same routing function the proxy uses).

use anyhow::Context;
use shardgate_config::Topology;
use shardgate_ring::KeyValue;
use shardgate_sandbox::Sandbox;

const BATCH: usize = 500;

pub async fn load(sandbox: &Sandbox, topology: &Topology, users: u64) -> anyhow::Result<()> {
    let users_rule = topology
        .table("users")
        .context("the sandbox config shards `users`")?;
    let orders_rule = topology
        .table("orders")
        .context("the sandbox config shards `orders`")?;
    let shard_count = topology.shards.len();
    let mut user_rows: Vec<Vec<String>> = vec![Vec::new(); shard_count];
    let mut order_rows: Vec<Vec<String>> = vec![Vec::new(); shard_count];
    for id in 1..=users {
        let shard = users_rule.shard_for(&KeyValue::Int(i128::from(id)))?;
        user_rows[shard].push(format!(
            "({id}, 'user{id}@example.com', 'User {id}', '2024-01-01 00:00:00' + INTERVAL {id} MINUTE)"
        ));
    }
    for order in 1..=users * 2 {
        let user_id = (order * 7919) % users + 1;
        let shard = orders_rule.shard_for(&KeyValue::Int(i128::from(user_id)))?;
        let cents = (order * 1237) % 100_000;
        order_rows[shard].push(format!(
            "({order}, {user_id}, {}.{:02}, '2024-02-01 00:00:00' + INTERVAL {order} MINUTE)",
            cents / 100,
            cents % 100
        ));
    }
    for (shard, primary) in sandbox.shards().iter().map(|s| &s.primary).enumerate() {
        insert_batches(
            sandbox,
            primary,
            "users (id, email, name, created_at)",
            &user_rows[shard],
        )
        .await?;
        insert_batches(
            sandbox,
            primary,
            "orders (id, user_id, amount, created_at)",
            &order_rows[shard],
        )
        .await?;
    }
    Ok(())
}

async fn insert_batches(
    sandbox: &Sandbox,
    primary: &shardgate_sandbox::Instance,
    into: &str,
    rows: &[String],
) -> anyhow::Result<()> {
    for chunk in rows.chunks(BATCH) {
        let sql = format!("INSERT INTO {into} VALUES {}", chunk.join(","));
        sandbox
            .exec_in(primary, shardgate_sandbox::DATABASE, &sql)
            .await?;
    }
    Ok(())
}
