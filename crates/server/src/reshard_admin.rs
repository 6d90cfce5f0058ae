//! The answers to `SHOW SHARDGATE MIGRATIONS` and `SHARDGATE RESHARD START | PAUSE | RESUME |
//! CANCEL | VERIFY` (admin users only; `admin.rs` checks and writes them).

use std::sync::Arc;

use shardgate_migration::ReshardStatement;

use crate::admin::Rows;
use crate::migration_error::MigrationError;
use crate::Proxy;

/// The copy's rate when START does not give one.
pub const DEFAULT_ROWS_PER_SECOND: u64 = 10_000;

/// What a `SHARDGATE RESHARD` statement answers: rows, or an OK with a count.
pub(crate) enum Answer {
    Rows(Rows),
    Ok(u64),
}

pub(crate) async fn reshard(
    proxy: &Arc<Proxy>,
    statement: ReshardStatement,
) -> Result<Answer, MigrationError> {
    let migrations = &proxy.migrations;
    Ok(match statement {
        ReshardStatement::Start {
            target_file,
            rows_per_second,
            dry_run: true,
        } => {
            let rate = rows_per_second.unwrap_or(DEFAULT_ROWS_PER_SECOND);
            let plan = migrations.dry_run(proxy, &target_file, rate).await?;
            Answer::Rows(Rows {
                columns: &["plan"],
                rows: (plan.to_string().lines())
                    .map(|line| vec![Some(line.to_owned())])
                    .collect(),
            })
        }
        ReshardStatement::Start {
            target_file,
            rows_per_second,
            dry_run: false,
        } => {
            let rate = rows_per_second.unwrap_or(DEFAULT_ROWS_PER_SECOND);
            let id = migrations.start(proxy, &target_file, rate).await?;
            Answer::Rows(Rows {
                columns: &["migration_id"],
                rows: vec![vec![Some(id.to_string())]],
            })
        }
        ReshardStatement::Pause(id) => {
            migrations.pause(proxy, id).await?;
            Answer::Ok(0)
        }
        ReshardStatement::Resume(id) => {
            migrations.resume(proxy, id).await?;
            Answer::Ok(0)
        }
        ReshardStatement::Cancel(id) => Answer::Ok(migrations.cancel(proxy, id).await?),
        ReshardStatement::Verify(id) => {
            let rows = (migrations.verify(proxy, id).await?.into_iter())
                .map(|d| {
                    vec![
                        Some(d.table.clone()),
                        Some(format!("{} → {}", d.from, d.to)),
                        Some(d.source_rows.to_string()),
                        Some(d.target_rows.to_string()),
                        Some(d.missing.to_string()),
                        Some(d.extra.to_string()),
                        Some(d.different.to_string()),
                        Some(d.mismatches().to_string()),
                        (!d.keys.is_empty()).then(|| d.keys.join("; ")),
                    ]
                })
                .collect();
            Answer::Rows(Rows {
                columns: &[
                    "table",
                    "flow",
                    "source_rows",
                    "target_rows",
                    "missing",
                    "extra",
                    "different",
                    "mismatches",
                    "mismatching_keys",
                ],
                rows,
            })
        }
    })
}

/// `SHOW SHARDGATE MIGRATIONS`: one row per migration and flow, the latest migration first.
pub(crate) async fn migrations(proxy: &Arc<Proxy>) -> Result<Rows, MigrationError> {
    let mut rows = Vec::new();
    for status in proxy.migrations.status(proxy).await? {
        let record = &status.record;
        for flow in &status.flows {
            let progress = match &status.live {
                Some(live) => live.progress(flow),
                None => shardgate_migration::Progress {
                    rows_copied: flow.rows_copied,
                    rows_estimated: flow.rows_estimated,
                    done: flow.copied,
                    ..Default::default()
                },
            };
            let copying = status.live.is_some() && !flow.copied;
            let lag = status.live.as_ref().filter(|_| copying).map(|l| l.lag());
            // After the cutover the reverse catch-up reads the new owner.
            let followed = match record.phase {
                shardgate_migration::Phase::Verifying => &flow.to,
                _ => &flow.from,
            };
            let catch_up = (status.live.as_ref()).and_then(|l| l.catch_up(followed));
            rows.push(vec![
                Some(record.id.to_string()),
                Some(record.phase.to_string()),
                Some(if record.paused { "yes" } else { "no" }.to_owned()),
                Some(flow.table.clone()),
                Some(format!("{} → {}", flow.from, flow.to)),
                Some(flow.rows_copied.to_string()),
                Some(flow.rows_estimated.to_string()),
                Some(format!("{:.1}", progress.percent())),
                progress
                    .rate()
                    .filter(|_| copying)
                    .map(|r| format!("{r:.0}")),
                progress
                    .eta()
                    .filter(|_| copying)
                    .map(|d| d.as_secs().to_string()),
                lag.map(|(seconds, waiting)| match waiting {
                    true => format!("{seconds} (waiting)"),
                    false => seconds.to_string(),
                }),
                flow.snapshot_gtid.clone(),
                flow.last_error
                    .clone()
                    .or_else(|| record.last_error.clone()),
                catch_up.as_ref().map(|c| c.lag_events.to_string()),
                catch_up.as_ref().map(|c| c.lag_seconds.to_string()),
                catch_up
                    .as_ref()
                    .map(|c| c.applied.to_string())
                    .or_else(|| flow.applied_gtid.clone()),
                record.cutover_pause_ms.map(|ms| ms.to_string()),
            ]);
        }
    }
    Ok(Rows {
        columns: &[
            "id",
            "phase",
            "paused",
            "table",
            "flow",
            "rows_copied",
            "rows_estimated",
            "percent",
            "rows_per_second",
            "eta_seconds",
            "lag_seconds",
            "snapshot_gtid",
            "last_error",
            "catch_up_lag_events",
            "catch_up_lag_seconds",
            "applied_gtid",
            "cutover_pause_ms",
        ],
        rows,
    })
}
