//! Issue #16's flood against a proxy binary (a release build by default), printing what it
//! measured: the well-behaved client's latencies, the proxy's resident set before, under and
//! after the flood, and how long the silent connections stayed open. `bench/flood` runs it
//! and keeps its output under bench/results/.
//!
//!   cargo run --release --example flood -- --idle 10000 --silent 2000 --oversized 100

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shardgate_flood::{FloodEnv, FloodSpec};

#[derive(Parser)]
struct Args {
    /// The proxy binary.
    #[arg(long, default_value = "target/release/shardgate")]
    binary: PathBuf,
    #[arg(long, default_value_t = 2)]
    shards: usize,
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    #[arg(long, default_value_t = 2_000)]
    silent: usize,
    #[arg(long, default_value_t = 100)]
    oversized: usize,
    /// The proxy's `max_allowed_packet`.
    #[arg(long, default_value_t = 1 << 20)]
    max_allowed_packet: usize,
    #[arg(long, default_value_t = 2000)]
    handshake_timeout_ms: u64,
    /// Seconds every idle client stays connected after the storm.
    #[arg(long, default_value_t = 5)]
    hold_secs: u64,
    /// When to read the proxy's RSS after the idle clients leave, in seconds.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 5, 15, 30])]
    settle_secs: Vec<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let spec = FloodSpec {
        idle_clients: args.idle,
        silent_connections: args.silent,
        oversized_clients: args.oversized,
        max_allowed_packet: args.max_allowed_packet,
        handshake_timeout: Duration::from_millis(args.handshake_timeout_ms),
        hold: Duration::from_secs(args.hold_secs),
        settle: args
            .settle_secs
            .iter()
            .map(|&s| Duration::from_secs(s))
            .collect(),
        ..FloodSpec::issue_16()
    };
    let fds = shardgate_flood::raise_fd_limit()?;
    println!("open-file limit: {fds}; proxy: {}", args.binary.display());
    println!("flood: {spec:?}");
    let env = FloodEnv::start(&args.binary, args.shards, &spec.server_settings()).await?;
    shardgate_flood::seed_probe_rows(env.opts()).await?;
    let report = shardgate_flood::run(&env, &spec).await;
    println!("{report}");
    println!(
        "proxy RSS per flood connection at the peak: {:.1} KiB",
        report.peak_kib_per_connection(&spec)
    );
    env.stop().await;
    Ok(())
}
