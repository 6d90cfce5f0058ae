//! `shardgate reshard start | status | pause | resume | cancel | verify`: a MySQL client of a
//! running proxy issuing its admin statements (`SHARDGATE RESHARD …`, `SHOW SHARDGATE
//! MIGRATIONS`), printing progress with rows, percent, rate and ETA.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};

/// How to reach the proxy, as an admin user.
#[derive(clap::Args, Clone)]
pub struct ProxyArgs {
    /// The proxy's MySQL address, `host:port`.
    #[arg(long)]
    proxy: String,
    /// An account with `admin = true`.
    #[arg(long)]
    user: String,
    #[arg(long, default_value = "")]
    password: String,
}

/// What to ask the proxy.
pub enum Action {
    Start {
        to: std::path::PathBuf,
        rows_per_second: Option<u64>,
        wait: bool,
        dry_run: bool,
    },
    Status {
        watch: bool,
    },
    Pause(u64),
    Resume(u64),
    Cancel(u64),
    Verify(u64),
}

async fn connect(args: &ProxyArgs) -> anyhow::Result<Conn> {
    let (host, port) = args
        .proxy
        .rsplit_once(':')
        .context("--proxy must be host:port")?;
    let port: u16 = port.parse().context("--proxy must be host:port")?;
    let opts = OptsBuilder::default()
        .ip_or_hostname(host.trim_start_matches('[').trim_end_matches(']'))
        .tcp_port(port)
        .user(Some(args.user.clone()))
        .pass(Some(args.password.clone()))
        .prefer_socket(false);
    Conn::new(opts)
        .await
        .with_context(|| format!("connect to the proxy at {}", args.proxy))
}

fn text(row: &Row, i: usize) -> String {
    row.get::<Option<String>, _>(i)
        .flatten()
        .unwrap_or_default()
}

/// Prints `SHOW SHARDGATE MIGRATIONS`, one line per flow; whether a copy is under way.
async fn print_status(conn: &mut Conn) -> anyhow::Result<bool> {
    let rows: Vec<Row> = conn.query("SHOW SHARDGATE MIGRATIONS").await?;
    let mut out = std::io::stdout().lock();
    let mut running = false;
    for row in &rows {
        let (phase, paused) = (text(row, 1), text(row, 2) == "yes");
        running |= !matches!(phase.as_str(), "done" | "cancelled" | "failed") && !paused;
        let mut line = format!(
            "migration {} {}{}: `{}` {}: {}/{} rows ({}%)",
            text(row, 0),
            phase,
            if paused { " (paused)" } else { "" },
            text(row, 3),
            text(row, 4),
            text(row, 5),
            text(row, 6),
            text(row, 7),
        );
        for (i, what) in [
            (8, "rows/s"),
            (9, "s left"),
            (10, "s replica lag"),
            (13, "transactions to catch up"),
            (14, "s catch-up lag"),
            (16, "ms cutover pause"),
        ] {
            let value = text(row, i);
            if !value.is_empty() {
                line += &format!(", {value} {what}");
            }
        }
        let error = text(row, 12);
        if !error.is_empty() {
            line += &format!("; error: {error}");
        }
        writeln!(out, "{line}")?;
    }
    if rows.is_empty() {
        writeln!(out, "no migration")?;
    }
    Ok(running)
}

/// Prints the status every second while a migration is under way.
async fn watch(conn: &mut Conn) -> anyhow::Result<()> {
    while print_status(conn).await? {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

pub async fn run(args: ProxyArgs, action: Action) -> anyhow::Result<ExitCode> {
    let mut conn = connect(&args).await?;
    match action {
        Action::Start {
            to,
            rows_per_second,
            wait,
            dry_run,
        } => {
            // The proxy reads the file: give it the whole path.
            let path = std::fs::canonicalize(&to).with_context(|| format!("{}", to.display()))?;
            let quoted = path.display().to_string().replace('\'', "''");
            let rate = rows_per_second.map_or(String::new(), |n| format!(" ROWS_PER_SECOND {n}"));
            if dry_run {
                let plan: Vec<String> = conn
                    .query(format!("SHARDGATE RESHARD START '{quoted}'{rate} DRY RUN"))
                    .await?;
                let mut out = std::io::stdout().lock();
                for line in plan {
                    writeln!(out, "{line}")?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let id: Option<String> = conn
                .query_first(format!("SHARDGATE RESHARD START '{quoted}'{rate}"))
                .await?;
            writeln!(
                std::io::stdout().lock(),
                "migration {} started",
                id.unwrap_or_default()
            )?;
            if wait {
                watch(&mut conn).await?;
            }
        }
        Action::Status { watch: true } => watch(&mut conn).await?,
        Action::Status { watch: false } => {
            print_status(&mut conn).await?;
        }
        Action::Pause(id) => {
            conn.query_drop(format!("SHARDGATE RESHARD PAUSE {id}"))
                .await?;
            writeln!(std::io::stdout().lock(), "migration {id} paused")?;
        }
        Action::Resume(id) => {
            conn.query_drop(format!("SHARDGATE RESHARD RESUME {id}"))
                .await?;
            writeln!(std::io::stdout().lock(), "migration {id} resumed")?;
        }
        Action::Cancel(id) => {
            conn.query_drop(format!("SHARDGATE RESHARD CANCEL {id}"))
                .await?;
            let removed = conn.affected_rows();
            writeln!(
                std::io::stdout().lock(),
                "migration {id} cancelled: {removed} copied rows removed from the new owners"
            )?;
        }
        Action::Verify(id) => {
            let rows: Vec<Row> = conn.query(format!("SHARDGATE RESHARD VERIFY {id}")).await?;
            let mut out = std::io::stdout().lock();
            let mut mismatches = 0u64;
            for row in &rows {
                let n: u64 = text(row, 7).parse().unwrap_or(0);
                mismatches += n;
                writeln!(
                    out,
                    "`{}` {}: {} rows on the source, {} on the new owner, {n} mismatching{}",
                    text(row, 0),
                    text(row, 1),
                    text(row, 2),
                    text(row, 3),
                    match text(row, 8) {
                        keys if keys.is_empty() => String::new(),
                        keys => format!(": {keys}"),
                    }
                )?;
            }
            if mismatches > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let _ = conn.disconnect().await;
    Ok(ExitCode::SUCCESS)
}
