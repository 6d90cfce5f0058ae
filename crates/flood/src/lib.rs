//! A flood against the proxy binary, as issue #16 asks it to survive: thousands of idle
//! logged-in clients, connections that never log in, and clients sending packets larger than
//! the proxy takes, all at once, while one well-behaved client times its queries and checks
//! their answers. `tests/flood.rs` asserts on what it reports; `examples/flood.rs` (run by
//! `bench/flood`) prints it.

mod env;
mod fd_limit;
mod idle;
mod latency;
mod memory;
mod oversized;
mod probe;
mod silent;
mod source;

use std::fmt;
use std::time::{Duration, Instant};

pub use env::FloodEnv;
pub use fd_limit::raise_to_hard as raise_fd_limit;
pub use latency::Latencies;
pub use memory::{resident_kib, Resident};
pub use oversized::{Oversize, Refusal};
pub use probe::{seed as seed_probe_rows, PROBE_ROWS};

/// Who the flood's clients log in as.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub database: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FloodError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("sandbox: {0}")]
    Sandbox(#[from] shardgate_sandbox::SandboxError),
    #[error("client: {0}")]
    Client(#[from] mysql_async::Error),
    #[error("the proxy does not answer logins: {0}")]
    NotServing(String),
}

/// How big a flood, and the proxy settings it runs against.
#[derive(Debug, Clone)]
pub struct FloodSpec {
    pub idle_clients: usize,
    pub silent_connections: usize,
    pub oversized_clients: usize,
    /// `[server] max_allowed_packet` of the proxy.
    pub max_allowed_packet: usize,
    /// `[server] handshake_timeout_ms` of the proxy.
    pub handshake_timeout: Duration,
    /// How long every idle client stays connected after the storm, the probe still querying.
    pub hold: Duration,
    /// How long a silent or oversized client waits for the proxy to close it.
    pub close_limit: Duration,
    /// When to read the proxy's resident set after the idle clients leave (from their leaving).
    pub settle: Vec<Duration>,
}

impl FloodSpec {
    /// Issue #16's flood: 10,000 idle clients, 2,000 silent connections, 100 oversized.
    pub fn issue_16() -> FloodSpec {
        FloodSpec {
            idle_clients: 10_000,
            silent_connections: 2_000,
            oversized_clients: 100,
            max_allowed_packet: 1 << 20,
            handshake_timeout: Duration::from_secs(2),
            hold: Duration::from_secs(3),
            close_limit: Duration::from_secs(60),
            settle: vec![Duration::from_secs(1)],
        }
    }

    /// The `[server]` settings the proxy runs with: this spec's, and room for every client.
    pub fn server_settings(&self) -> String {
        let connections = self.idle_clients + self.silent_connections + self.oversized_clients;
        format!(
            "max_client_connections = {}\nmax_allowed_packet = {}\nhandshake_timeout_ms = {}",
            connections + 100,
            self.max_allowed_packet,
            self.handshake_timeout.as_millis()
        )
    }
}

/// What the flood saw.
#[derive(Debug)]
pub struct FloodReport {
    pub idle_logged_in: usize,
    pub idle_failures: Vec<String>,
    pub silent: silent::SilentConnections,
    pub refusals: Vec<Refusal>,
    /// The well-behaved client's latencies during the storm (everyone connecting at once)
    /// and while every idle client was held open afterwards.
    pub probe_storm: Latencies,
    pub probe_held: Latencies,
    pub probe_failed: usize,
    pub probe_failures: Vec<String>,
    /// How long until every flood client had logged in or been refused and closed.
    pub storm: Duration,
    /// The proxy's resident set: before the flood, while held, its peak, and after the idle
    /// clients left (at each `FloodSpec::settle`), in KiB.
    pub rss_before: Resident,
    pub rss_held: Resident,
    pub rss_after: Vec<(Duration, u64)>,
}

impl FloodReport {
    /// The proxy's peak resident set above where it started, per flood connection, in KiB.
    pub fn peak_kib_per_connection(&self, spec: &FloodSpec) -> f64 {
        let connections = spec.idle_clients + spec.silent_connections + spec.oversized_clients;
        self.rss_held.peak.saturating_sub(self.rss_before.now) as f64 / connections as f64
    }
}

/// Runs `spec`'s flood against `env`'s proxy.
pub async fn run(env: &FloodEnv, spec: &FloodSpec) -> FloodReport {
    let pid = env.proxy_pid();
    let rss_before = resident_kib(pid).expect("the proxy runs");
    let probe = probe::Probe::start(env.opts()).await;
    let started = Instant::now();
    let progress =
        |what: &str| eprintln!("flood: {:6.1} s: {what}", started.elapsed().as_secs_f64());
    progress("storm begins");
    let (idle, silent, refusals) = tokio::join!(
        idle::log_in(env.addr, &env.credentials, spec.idle_clients),
        silent::open(
            env.addr,
            spec.silent_connections,
            spec.idle_clients,
            spec.close_limit
        ),
        oversized::send(
            env.addr,
            &env.credentials,
            spec.oversized_clients,
            spec.idle_clients + spec.silent_connections,
            spec.max_allowed_packet,
            spec.close_limit,
        ),
    );
    let storm_end = Instant::now();
    progress("storm over; holding the idle clients");
    tokio::time::sleep(spec.hold).await;
    let rss_held = resident_kib(pid).expect("the proxy runs");
    let probe = tokio::task::spawn_blocking(move || probe.stop())
        .await
        .expect("the probe stops");
    let (mut during, mut after): (Vec<_>, Vec<_>) =
        probe.latencies.iter().partition(|(at, _)| *at < storm_end);
    let times = |samples: &mut Vec<(Instant, Duration)>| {
        let mut took: Vec<Duration> = samples.drain(..).map(|(_, took)| took).collect();
        Latencies::of(&mut took)
    };
    progress("probe stopped; the idle clients leave");
    let idle_logged_in = idle.connections.len();
    drop(idle.connections);
    let left = Instant::now();
    let mut rss_after = Vec::new();
    for &at in &spec.settle {
        tokio::time::sleep_until((left + at).into()).await;
        rss_after.push((at, resident_kib(pid).map_or(0, |r| r.now)));
    }
    FloodReport {
        idle_logged_in,
        idle_failures: idle.failures,
        silent,
        refusals,
        probe_storm: times(&mut during),
        probe_held: times(&mut after),
        probe_failed: probe.failed,
        probe_failures: probe.failures,
        storm: storm_end - started,
        rss_before,
        rss_held,
        rss_after,
    }
}

impl fmt::Display for FloodReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "storm: {:.1} s until every flood client was logged in or refused",
            self.storm.as_secs_f64()
        )?;
        writeln!(
            f,
            "idle clients logged in: {} ({} failed{})",
            self.idle_logged_in,
            self.idle_failures.len(),
            first(&self.idle_failures)
        )?;
        let closed = &self.silent.closed_after;
        let min = closed.iter().min().copied().unwrap_or_default();
        let max = closed.iter().max().copied().unwrap_or_default();
        writeln!(
            f,
            "silent connections: {} closed by the proxy {:.2}–{:.2} s after connecting, {} still open, {} failed to connect{}",
            closed.len(),
            min.as_secs_f64(),
            max.as_secs_f64(),
            self.silent.still_open,
            self.silent.failed,
            first(&self.silent.failures)
        )?;
        for oversize in Oversize::ALL {
            let of_kind: Vec<_> = self
                .refusals
                .iter()
                .filter(|r| r.oversize == oversize)
                .collect();
            let mut answers: Vec<String> = of_kind
                .iter()
                .map(|r| match (&r.failure, &r.error, r.closed) {
                    (Some(failure), _, _) => format!("failed: {failure}"),
                    (None, Some((code, state)), true) => format!("ERR {code} ({state}), closed"),
                    (None, Some((code, state)), false) => {
                        format!("ERR {code} ({state}), left open")
                    }
                    (None, None, true) => "closed without an error".into(),
                    (None, None, false) => "left open without an error".into(),
                })
                .collect();
            answers.sort();
            answers.dedup();
            writeln!(
                f,
                "oversized {oversize:?}: {} clients: {}",
                of_kind.len(),
                answers.join("; ")
            )?;
        }
        for (what, l) in [
            ("during the storm", &self.probe_storm),
            ("held", &self.probe_held),
        ] {
            writeln!(
                f,
                "well-behaved client {what}: {} queries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                l.count,
                ms(l.p50),
                ms(l.p99),
                ms(l.max)
            )?;
        }
        writeln!(
            f,
            "well-behaved client: {} wrong or failed{}",
            self.probe_failed,
            first(&self.probe_failures)
        )?;
        write!(
            f,
            "proxy RSS: {:.1} MiB before, {:.1} MiB held, {:.1} MiB peak",
            mib(self.rss_before.now),
            mib(self.rss_held.now),
            mib(self.rss_held.peak)
        )?;
        for (at, kib) in &self.rss_after {
            write!(
                f,
                ", {:.1} MiB {:.0} s after the idle clients left",
                mib(*kib),
                at.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

fn first(failures: &[String]) -> String {
    failures
        .first()
        .map_or(String::new(), |f| format!("; first: {f}"))
}
