//! The `shardgate` command line: run the proxy, check a config, show a route, run a sandbox.

mod allocator;
mod reshard_client;
mod sample;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use shardgate_ring::KeyValue;
use shardgate_sandbox::{Sandbox, SandboxSpec};
use shardgate_server::Proxy;
use tokio::net::TcpListener;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// sqlparser's own log (through the `log` crate) quotes whole statements and their tokens at
/// debug level: silenced whatever `RUST_LOG` says, so literals reach no log.
const SQL_PARSER: &str = "sqlparser";

/// How often `serve` and `sandbox` look at the config file for changes.
const DEFAULT_CONFIG_POLL_INTERVAL_MS: u64 = 1000;

#[derive(Parser)]
#[command(name = "shardgate", version, about = "A MySQL-protocol sharding proxy")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Log lines as plain text or as one JSON object per line (filter with RUST_LOG).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the proxy.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// How often the config file is checked for changes, which are then reloaded (0: only on SIGHUP).
        #[arg(long, default_value_t = DEFAULT_CONFIG_POLL_INTERVAL_MS)]
        config_poll_interval_ms: u64,
        /// Threads serving clients (default: one per core). On a machine shared with the
        /// database servers, fewer threads cost less CPU per query.
        #[arg(long)]
        worker_threads: Option<usize>,
    },
    /// Validate a config file: a one-line summary, or every problem with its line.
    CheckConfig { file: PathBuf },
    /// Print the shard that owns a key of a table, one line per --key (or the plan of a statement with --sql).
    Route {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, requires = "key", conflicts_with = "sql")]
        table: Option<String>,
        /// Keys may be negative (`--key -1`).
        #[arg(long, num_args = 1.., allow_negative_numbers = true)]
        key: Vec<String>,
        #[arg(long)]
        sql: Option<String>,
        /// Read --sql under this sql_mode (e.g. `NO_BACKSLASH_ESCAPES,ANSI_QUOTES`), as a
        /// session with it would.
        #[arg(long, requires = "sql")]
        sql_mode: Option<String>,
    },
    /// The sequences that tables with `auto_increment` take their ids from.
    Sequence {
        #[command(subcommand)]
        action: SequenceCmd,
    },
    /// The lookup indexes of tables with `lookups`.
    Lookup {
        #[command(subcommand)]
        action: LookupCmd,
    },
    /// Resharding: moving keys between shards.
    Reshard {
        #[command(subcommand)]
        action: ReshardCmd,
    },
    /// Start local MariaDB shards (primary + replicas, GTID replication) and the proxy in front.
    Sandbox {
        #[arg(long, default_value_t = 2)]
        shards: usize,
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Port of the proxy.
        #[arg(long, default_value_t = 6033)]
        port: u16,
        /// Where the servers' data and the generated config go (default: a temp dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Only start the databases and write the config.
        #[arg(long)]
        no_proxy: bool,
        /// Sample users to load (orders: twice as many).
        #[arg(long, default_value_t = 3000)]
        users: u64,
    },
}

#[derive(Subcommand)]
enum SequenceCmd {
    /// Create a table's sequence on the default shard's primary (if missing) and move it above
    /// the largest id of the table on every shard (never down; safe to run again).
    Init {
        #[arg(long)]
        config: PathBuf,
        /// The table (with `auto_increment` in the config).
        #[arg(long)]
        table: String,
    },
}

#[derive(Subcommand)]
enum ReshardCmd {
    /// Print which keys of each table would go from which shard to which, going from the
    /// config serving now to a target config, with the rows that is and how long a copy
    /// would take. Changes nothing.
    Plan {
        /// The config serving now.
        #[arg(long)]
        config: PathBuf,
        /// The config to go to (e.g. with a shard added).
        #[arg(long)]
        to: PathBuf,
        /// The copy rate the time is estimated at.
        #[arg(long, default_value_t = 10_000)]
        rows_per_second: u64,
    },
    /// Write the target config of a split (what SHOW SHARDGATE HOTSPOTS advises): the config
    /// with a new shard added and, for a `range` table, the range holding --at cut there, the
    /// keys from --at on given to the new shard; hash-placed tables take the new shard by its
    /// declaration. Then `reshard plan` / `reshard start --to` it. Changes nothing else.
    Split {
        /// The config serving now.
        #[arg(long)]
        config: PathBuf,
        /// The table whose hot shard is split.
        #[arg(long)]
        table: String,
        /// A key inside the range to split (range tables): it and the keys above it move.
        #[arg(long, allow_negative_numbers = true)]
        at: Option<i64>,
        /// The new shard's name.
        #[arg(long)]
        shard: String,
        /// The new shard's primary, HOST:PORT.
        #[arg(long)]
        primary: String,
        /// A replica of the new shard, HOST:PORT (repeatable).
        #[arg(long)]
        replica: Vec<String>,
        /// Where the target config is written.
        #[arg(long)]
        out: PathBuf,
    },
    /// Start a migration to the topology of a target config on a running proxy (it reads the
    /// file): its copy begins.
    Start {
        #[command(flatten)]
        proxy: reshard_client::ProxyArgs,
        /// The config to go to.
        #[arg(long)]
        to: PathBuf,
        /// Rows written per second (default 10,000).
        #[arg(long)]
        rows_per_second: Option<u64>,
        /// Print the progress every second until the copy ends.
        #[arg(long)]
        wait: bool,
        /// Print the plan (what would move where, rows and time) from the running proxy;
        /// start nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print every migration's flows: rows copied, percent, rate, ETA, replica lag.
    Status {
        #[command(flatten)]
        proxy: reshard_client::ProxyArgs,
        /// Print it every second while a copy runs.
        #[arg(long)]
        watch: bool,
    },
    /// Pause a migration's copy.
    Pause {
        #[command(flatten)]
        proxy: reshard_client::ProxyArgs,
        id: u64,
    },
    /// Resume a paused (or failed) migration's copy from its cursors.
    Resume {
        #[command(flatten)]
        proxy: reshard_client::ProxyArgs,
        id: u64,
    },
    /// Cancel a migration before cutover: its copied rows are removed from the new owners.
    Cancel {
        #[command(flatten)]
        proxy: reshard_client::ProxyArgs,
        id: u64,
    },
    /// Compare every moving row on its source and its new owner; exit 1 on a mismatch.
    Verify {
        #[command(flatten)]
        proxy: reshard_client::ProxyArgs,
        id: u64,
    },
}

#[derive(Subcommand)]
enum LookupCmd {
    /// Create a table's lookup tables on the default shard's primary (if missing).
    Init {
        #[arg(long)]
        config: PathBuf,
        /// The table (with `lookups` in the config).
        #[arg(long)]
        table: String,
    },
    /// Add the rows already on the shards to a table's lookups (safe while traffic runs, and
    /// to run again).
    Backfill {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        table: String,
        /// Rows read per page.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Report rows missing from a table's lookups and lookup rows pointing at no row;
    /// exits 1 when it found any.
    Verify {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        table: String,
        /// Add the missing rows and remove the stale ones.
        #[arg(long)]
        repair: bool,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `Targets`, not `EnvFilter`: a static filter costs nothing when a session's span is
    // entered and left (twice per statement; EnvFilter's span bookkeeping was ~3% of a point
    // select). RUST_LOG takes `level` and `target=level` directives.
    let targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
        .with_target(SQL_PARSER, LevelFilter::OFF);
    let logs = tracing_subscriber::registry().with(targets);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.with(layer).init(),
        LogFormat::Json => logs.with(layer.json()).init(),
    }
    let result = match cli.command {
        Cmd::CheckConfig { file } => check_config(&file),
        Cmd::Route {
            config,
            table,
            key,
            sql,
            sql_mode,
        } => route(&config, table, key, sql, sql_mode),
        Cmd::Serve {
            config,
            config_poll_interval_ms,
            worker_threads,
        } => runtime(worker_threads)
            .and_then(|rt| rt.block_on(serve(config, config_poll_interval_ms))),
        Cmd::Sequence {
            action: SequenceCmd::Init { config, table },
        } => runtime(None).and_then(|rt| rt.block_on(sequence_init(&config, &table))),
        Cmd::Lookup { action } => runtime(None).and_then(|rt| rt.block_on(lookup(action))),
        Cmd::Reshard { action } => {
            use reshard_client::Action;
            let (proxy, action) =
                match action {
                    ReshardCmd::Plan {
                        config,
                        to,
                        rows_per_second,
                    } => {
                        return exit(runtime(None).and_then(|rt| {
                            rt.block_on(reshard_plan(&config, &to, rows_per_second))
                        }))
                    }
                    ReshardCmd::Split {
                        config,
                        table,
                        at,
                        shard,
                        primary,
                        replica,
                        out,
                    } => {
                        let new = shardgate_config::NewShard {
                            name: shard,
                            primary,
                            replicas: replica,
                        };
                        return exit(reshard_split(&config, &table, at, &new, &out));
                    }
                    ReshardCmd::Start {
                        proxy,
                        to,
                        rows_per_second,
                        wait,
                        dry_run,
                    } => (
                        proxy,
                        Action::Start {
                            to,
                            rows_per_second,
                            wait,
                            dry_run,
                        },
                    ),
                    ReshardCmd::Status { proxy, watch } => (proxy, Action::Status { watch }),
                    ReshardCmd::Pause { proxy, id } => (proxy, Action::Pause(id)),
                    ReshardCmd::Resume { proxy, id } => (proxy, Action::Resume(id)),
                    ReshardCmd::Cancel { proxy, id } => (proxy, Action::Cancel(id)),
                    ReshardCmd::Verify { proxy, id } => (proxy, Action::Verify(id)),
                };
            runtime(None).and_then(|rt| rt.block_on(reshard_client::run(proxy, action)))
        }
        Cmd::Sandbox {
            shards,
            replicas,
            port,
            dir,
            no_proxy,
            users,
        } => runtime(None)
            .and_then(|rt| rt.block_on(sandbox(shards, replicas, port, dir, no_proxy, users))),
    };
    exit(result)
}

/// The exit code of a command's result, its error printed.
fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        // The reader went away (`shardgate route … | head -1`): nothing more to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shardgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes one line to stdout, returning write errors (a closed pipe) instead of panicking as
/// `println!` does.
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)
    };
}

fn runtime(worker_threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = worker_threads {
        anyhow::ensure!(threads > 0, "--worker-threads must be at least 1");
        builder.worker_threads(threads);
    }
    Ok(builder.enable_all().build()?)
}

fn check_config(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    match shardgate_config::load(file) {
        Ok(topology) => {
            if let Err((key, e)) = shardgate_server::check_tls(&topology) {
                eprintln!("{}: {key}: {e}", file.display());
                return Ok(ExitCode::FAILURE);
            }
            say!("{}: ok: {}", file.display(), topology.summary())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn load(file: &std::path::Path) -> anyhow::Result<shardgate_config::Topology> {
    shardgate_config::load(file).map_err(|e| anyhow::anyhow!("invalid config:\n{e}"))
}

fn route(
    config: &std::path::Path,
    table: Option<String>,
    keys: Vec<String>,
    sql: Option<String>,
    sql_mode: Option<String>,
) -> anyhow::Result<ExitCode> {
    let topology = Arc::new(load(config)?);
    if let Some(sql) = sql {
        let syntax = shardgate_router::Syntax {
            sql_mode: shardgate_router::SqlMode::parse(sql_mode.as_deref().unwrap_or("")),
            ..shardgate_router::Syntax::DEFAULT
        };
        let planned = match shardgate_router::plan_sql(&sql, &topology, syntax) {
            // The plan depends on columns: read them from the shards, as the proxy does.
            Err(shardgate_router::RouteError::SchemaNeeded { .. }) => {
                runtime(None)?.block_on(async {
                    let runtime = shardgate_server::Runtime::new(topology.clone());
                    shardgate_server::plan_with_schema(&runtime, &sql, syntax).await
                })
            }
            planned => planned,
        };
        let plan = match planned {
            Err(e) => match e.steps() {
                Some(steps) => {
                    say!("{steps}")?;
                    return Ok(ExitCode::SUCCESS);
                }
                None => return Err(e.into()),
            },
            Ok(plan) => plan,
        };
        say!("{}", plan.display(&topology))?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(table) = table.filter(|_| !keys.is_empty()) else {
        bail!("give --table and --key, or --sql");
    };
    let Some(rule) = topology.table(&table) else {
        let default = &topology.shards[topology.default_shard].name;
        for _ in &keys {
            say!("{default}")?;
        }
        eprintln!("(table `{table}` is not sharded: it lives on the default shard)");
        return Ok(ExitCode::SUCCESS);
    };
    for key in &keys {
        let value = match key.parse::<i128>() {
            Ok(i) => KeyValue::Int(i),
            Err(_) => KeyValue::Str(key.as_bytes()),
        };
        let shard = rule
            .shard_for(&value)
            .with_context(|| format!("key {key:?} of table `{table}`"))?;
        say!("{}", topology.shards[shard].name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `shardgate sequence init`: one line per shard with its largest id, then the sequence.
async fn sequence_init(config: &std::path::Path, table: &str) -> anyhow::Result<ExitCode> {
    let topology = Arc::new(load(config)?);
    let runtime = shardgate_server::Runtime::new(topology.clone());
    let init = shardgate_server::init_sequence(&runtime, table).await?;
    for (shard, max) in topology.shards.iter().zip(&init.shard_max) {
        say!("{}: largest id {max}", shard.name)?;
    }
    say!("sequence {}: next id {}", init.sequence, init.next_id)?;
    Ok(ExitCode::SUCCESS)
}

/// `shardgate reshard plan`: the plan, table by table.
fn reshard_split(
    config: &std::path::Path,
    table: &str,
    at: Option<i64>,
    new: &shardgate_config::NewShard,
    out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("read {}", config.display()))?;
    let target = shardgate_config::split_target(&text, table, at, new)?;
    std::fs::write(out, target).with_context(|| format!("write {}", out.display()))?;
    say!(
        "wrote {}; next: shardgate reshard plan --config {} --to {}, then shardgate reshard start --to {}",
        out.display(),
        config.display(),
        out.display(),
        out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn reshard_plan(
    config: &std::path::Path,
    to: &std::path::Path,
    rows_per_second: u64,
) -> anyhow::Result<ExitCode> {
    let runtime = shardgate_server::Runtime::new(Arc::new(load(config)?));
    let target = load(to)?;
    let plan = shardgate_server::reshard_plan(&runtime, &target, rows_per_second).await;
    say!("{plan}")?;
    Ok(match plan.tables.iter().any(|t| t.refused) {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    })
}

/// `shardgate lookup …`: one line per lookup table.
async fn lookup(action: LookupCmd) -> anyhow::Result<ExitCode> {
    let (config, table) = match &action {
        LookupCmd::Init { config, table }
        | LookupCmd::Backfill { config, table, .. }
        | LookupCmd::Verify { config, table, .. } => (config, table),
    };
    let topology = Arc::new(load(config)?);
    let runtime = shardgate_server::Runtime::new(topology);
    match action {
        LookupCmd::Init { .. } => {
            for name in shardgate_server::init_lookups(&runtime, table).await? {
                say!("lookup table {name}: ready")?;
            }
        }
        LookupCmd::Backfill { batch, .. } => {
            let batch = batch.max(1);
            for (name, rows) in shardgate_server::backfill_lookups(&runtime, table, batch).await? {
                say!("lookup table {name}: {rows} rows indexed")?;
            }
        }
        LookupCmd::Verify { repair, batch, .. } => {
            let batch = batch.max(1);
            let reports = shardgate_server::verify_lookups(&runtime, table, repair, batch).await?;
            let mut found = false;
            for r in reports {
                say!(
                    "lookup table {}: {} rows missing (unreachable), {} stale lookup rows{}",
                    r.lookup,
                    r.missing,
                    r.stale,
                    if repair {
                        format!("; repaired: {} added, {} removed", r.added, r.removed)
                    } else {
                        String::new()
                    }
                )?;
                found |= r.missing > 0 || r.stale > 0;
            }
            if found && !repair {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: PathBuf, config_poll_interval_ms: u64) -> anyhow::Result<ExitCode> {
    let topology = load(&config)?;
    let listen = topology.server.listen.clone();
    tracing::info!(config = %config.display(), "{}", topology.summary());
    let backlog = topology.server.max_client_connections;
    let listener = shardgate_server::listener::bind(&listen, backlog)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    // Records an earlier shardgate kept in the applications' database are read from the
    // proxy's own, where they are moved first.
    shardgate_server::move_records_into_own_database(&topology).await?;
    let proxy = Proxy::new(topology);
    // After a resharding cutover the migration record says where keys live.
    proxy.adopt_migrated_topology().await;
    let file_name = config.display().to_string();
    if let Err(errors) =
        shardgate_server::check_placement_record(&proxy.runtime(), &file_name).await
    {
        for e in errors.iter() {
            eprintln!("{e}");
        }
        anyhow::bail!("the config would look for existing rows where they are not; not started");
    }
    spawn_metrics(&proxy).await?;
    spawn_reloads(&proxy, config, config_poll_interval_ms)?;
    tokio::spawn({
        let proxy = proxy.clone();
        async move { proxy.resume_migration().await }
    });
    tokio::spawn(proxy.clone().heartbeat());
    tracing::info!(%listen, "shardgate serving");
    shardgate_server::serve(listener, proxy, shutdown_signal()).await;
    tracing::info!("shardgate stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `[server] metrics_listen`, if it is set.
async fn spawn_metrics(proxy: &Arc<Proxy>) -> anyhow::Result<()> {
    let Some(address) = proxy.runtime().topology.server.metrics_listen.clone() else {
        return Ok(());
    };
    let listener = TcpListener::bind(&address)
        .await
        .with_context(|| format!("metrics endpoint: listen on {address}"))?;
    tracing::info!(%address, "metrics endpoint serving /metrics, /healthz and /readyz");
    tokio::spawn(shardgate_server::serve_metrics(
        listener,
        proxy.clone(),
        std::future::pending(),
    ));
    Ok(())
}

/// Reloads the config file on SIGHUP and, unless `poll_interval_ms` is 0, when it changes.
fn spawn_reloads(proxy: &Arc<Proxy>, config: PathBuf, poll_interval_ms: u64) -> anyhow::Result<()> {
    if poll_interval_ms > 0 {
        let interval = std::time::Duration::from_millis(poll_interval_ms);
        tokio::spawn(shardgate_server::watch_config(
            proxy.clone(),
            config.clone(),
            interval,
        ));
    }
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("install the SIGHUP handler")?;
    let proxy = proxy.clone();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!(config = %config.display(), "SIGHUP: reloading the config");
            // Problems are logged and counted inside; the current topology keeps serving.
            let _ = proxy.reload_from(&config).await;
        }
    });
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn sandbox(
    shards: usize,
    replicas: usize,
    port: u16,
    dir: Option<PathBuf>,
    no_proxy: bool,
    users: u64,
) -> anyhow::Result<ExitCode> {
    if shards == 0 {
        bail!("--shards must be at least 1");
    }
    let listen = format!("127.0.0.1:{port}");
    // Bind first, so a busy port fails before any server starts.
    let listener = if no_proxy {
        None
    } else {
        Some(
            TcpListener::bind(&listen)
                .await
                .with_context(|| format!("listen on {listen}"))?,
        )
    };
    eprintln!("starting {shards} shard(s) × (1 primary + {replicas} replica(s)) of MariaDB …");
    let spec = SandboxSpec {
        dir,
        ..SandboxSpec::new(shards, replicas)
    };
    let mut sandbox = Sandbox::start(spec).await.context("start the sandbox")?;
    let result = run_sandbox(&sandbox, &listen, listener, users).await;
    sandbox.stop().await;
    result
}

async fn run_sandbox(
    sandbox: &Sandbox,
    listen: &str,
    listener: Option<TcpListener>,
    users: u64,
) -> anyhow::Result<ExitCode> {
    let config_path = sandbox.dir().join("shardgate.toml");
    std::fs::write(&config_path, sandbox.config_toml(listen)).context("write the config")?;
    let topology = load(&config_path)?;
    sandbox
        .create_sample_schema()
        .await
        .context("create the sample schema")?;
    sample::load(sandbox, &topology, users)
        .await
        .context("load the sample data")?;
    for shard in sandbox.shards() {
        let replicas: Vec<String> = shard.replicas.iter().map(|r| r.addr()).collect();
        println!(
            "shard {}: primary {} replicas [{}]",
            shard.name,
            shard.primary.addr(),
            replicas.join(", ")
        );
    }
    println!("config: {}", config_path.display());
    let Some(listener) = listener else {
        println!(
            "databases running (no proxy); run: shardgate serve --config {}",
            config_path.display()
        );
        shutdown_signal().await;
        return Ok(ExitCode::SUCCESS);
    };
    let proxy = Proxy::new(topology);
    spawn_reloads(&proxy, config_path, DEFAULT_CONFIG_POLL_INTERVAL_MS)?;
    let (user, password) = (
        shardgate_sandbox::PROXY_USER,
        shardgate_sandbox::PROXY_PASSWORD,
    );
    let port = listen.rsplit(':').next().unwrap_or("6033");
    println!("shardgate listening on {listen}; connect with:");
    println!(
        "  mariadb -h 127.0.0.1 -P {port} -u {user} -p{password} {}",
        shardgate_sandbox::DATABASE
    );
    println!("Ctrl-C stops the proxy and every server.");
    shardgate_server::serve(listener, proxy, shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}
