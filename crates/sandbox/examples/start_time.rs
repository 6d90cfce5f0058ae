//! Measures how long a sandbox takes to start and stop.
//!
//! `cargo run -p shardgate-sandbox --example start_time -- [SHARDS] [REPLICAS]` (default 2 1).

use std::time::Instant;

use shardgate_sandbox::{Sandbox, SandboxSpec};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let shards = args.next().transpose()?.unwrap_or(2);
    let replicas = args.next().transpose()?.unwrap_or(1);
    for _ in 0..3 {
        let t = Instant::now();
        let mut sb = Sandbox::start(SandboxSpec::new(shards, replicas)).await?;
        let up = t.elapsed();
        let t = Instant::now();
        sb.stop().await;
        println!(
            "{shards}x(1+{replicas}): start {up:?}, stop {:?}",
            t.elapsed()
        );
    }
    Ok(())
}
