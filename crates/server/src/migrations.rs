//! The resharding workflow's driver (issue #15): one migration at a time per topology,
//! started, paused, resumed, cancelled and verified by the admin statements
//! (`reshard_admin.rs`), its state in the records on the default shard
//! (`migration_record.rs`), its copy run by a task of this proxy (`reshard_copy.rs`).
//!
//! Phases run in `Phase::next` order; the workflow stops at `copied` until catch-up and
//! cutover exist. A proxy that starts finds the migration it drove (by its `[server] listen`
//! address, the record's owner) and resumes it from the saved cursors. Several proxies
//! serving one topology are not supported yet: only the owner drives a migration, the others
//! refuse to start, pause, resume or cancel it, naming the owner.

use std::sync::Arc;

use shardgate_config::Topology;
use shardgate_migration::Phase;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::migration_error::MigrationError;
use crate::migration_live::{Control, Live};
use crate::migration_record::{FlowRecord, MigrationRecord, Records};
use crate::reshard_copy::Copier;
use crate::reshard_verify::FlowDiff;
use crate::Proxy;

/// Rows per page of a verify.
const VERIFY_PAGE_ROWS: u64 = 1000;

/// The migration this proxy drives, if any.
#[derive(Debug, Default)]
pub(crate) struct Migrations {
    running: tokio::sync::Mutex<Option<Running>>,
}

#[derive(Debug)]
struct Running {
    id: u64,
    control: watch::Sender<Control>,
    live: Arc<Live>,
    task: JoinHandle<()>,
}

/// One migration with its flows and, when this proxy runs it, its live figures.
pub(crate) struct MigrationStatus {
    pub record: MigrationRecord,
    pub flows: Vec<FlowRecord>,
    pub live: Option<Arc<Live>>,
}

/// This proxy's name as a migration's owner.
fn owner(topology: &Topology) -> String {
    topology.server.listen.clone()
}

fn parse_target(record: &MigrationRecord) -> Result<Topology, MigrationError> {
    shardgate_config::parse(&record.target_config, &record.target_file).map_err(|e| {
        MigrationError::TargetFile {
            file: record.target_file.clone(),
            message: e.to_string(),
        }
    })
}

/// The flows of going from `serving` to `target`, with their rows' estimates (the plan of
/// `shardgate reshard plan`); refused when a table's change is no resharding.
async fn planned_flows(
    proxy: &Arc<Proxy>,
    target: &Topology,
    file: &str,
) -> Result<Vec<FlowRecord>, MigrationError> {
    let plan = crate::reshard_plan(&proxy.runtime(), target, 1).await;
    if plan.tables.is_empty() {
        return Err(MigrationError::NothingMoves(file.to_owned()));
    }
    let mut flows = Vec::new();
    for table in plan.tables {
        if table.refused {
            return Err(MigrationError::NotAResharding(table.summary));
        }
        for planned in table.flows {
            let Some(to) = planned.flow.to.clone() else {
                return Err(MigrationError::NotAResharding(format!(
                    "{}: keys of {} would have no shard ({})",
                    table.summary, planned.flow.from, planned.flow
                )));
            };
            flows.push(FlowRecord {
                table: table.table.clone(),
                from: planned.flow.from.clone(),
                to,
                ranges: planned.flow.ranges.clone(),
                rows_estimated: planned.rows.unwrap_or(0),
                snapshot_gtid: None,
                cursor: Default::default(),
                rows_copied: 0,
                rows_scanned: 0,
                copied: false,
                last_error: None,
            });
        }
    }
    Ok(flows)
}

impl Migrations {
    /// `SHARDGATE RESHARD START`: records a migration to the topology of `file` and starts
    /// its copy; its id.
    pub async fn start(
        &self,
        proxy: &Arc<Proxy>,
        file: &str,
        rows_per_second: u64,
    ) -> Result<u64, MigrationError> {
        let mut running = self.running.lock().await;
        let serving = proxy.runtime().topology.clone();
        let target_file = |message: String| MigrationError::TargetFile {
            file: file.to_owned(),
            message,
        };
        let text =
            (tokio::fs::read_to_string(file).await).map_err(|e| target_file(e.to_string()))?;
        let target =
            shardgate_config::parse(&text, file).map_err(|e| target_file(e.to_string()))?;
        let flows = planned_flows(proxy, &target, file).await?;
        let records = Records::of(&serving);
        let mut conn = records.conn().await?;
        records.ensure(&mut conn).await?;
        if let Some(active) = records.active(&mut conn).await? {
            return Err(MigrationError::Busy {
                id: active.id,
                phase: active.phase.to_string(),
            });
        }
        let record = MigrationRecord {
            id: 0,
            phase: Phase::Planned,
            paused: false,
            target_file: file.to_owned(),
            target_config: text,
            rows_per_second,
            owner: owner(&serving),
            last_error: None,
        };
        let id = records.insert(&mut conn, &record, &flows).await?;
        tracing::info!(
            migration = id,
            target = file,
            flows = flows.len(),
            rows_per_second,
            "migration starts"
        );
        *running = Some(spawn(proxy, id, Control::Run));
        Ok(id)
    }

    /// The migration `id` as the records hold it, refused unless this proxy drives it and
    /// `allowed` says its phase may be `action`.
    async fn owned(
        proxy: &Arc<Proxy>,
        id: u64,
        action: &'static str,
        allowed: impl Fn(Phase) -> bool,
    ) -> Result<(Records, mysql_async::Conn, MigrationRecord), MigrationError> {
        let serving = proxy.runtime().topology.clone();
        let records = Records::of(&serving);
        let mut conn = records.conn().await?;
        let record = records.migration(&mut conn, id).await?;
        if record.owner != owner(&serving) {
            return Err(MigrationError::OtherOwner {
                id,
                owner: record.owner,
            });
        }
        if !allowed(record.phase) {
            return Err(MigrationError::WrongPhase {
                id,
                phase: record.phase.to_string(),
                action,
            });
        }
        Ok((records, conn, record))
    }

    /// `SHARDGATE RESHARD PAUSE`: the copy stops after its current page (its snapshot kept).
    pub async fn pause(&self, proxy: &Arc<Proxy>, id: u64) -> Result<(), MigrationError> {
        let running = self.running.lock().await;
        let copying = |p: Phase| matches!(p, Phase::Planned | Phase::Copying);
        let (records, mut conn, _) = Self::owned(proxy, id, "paused", copying).await?;
        records.set_paused(&mut conn, id, true).await?;
        if let Some(run) = running.as_ref().filter(|r| r.id == id) {
            let _ = run.control.send(Control::Pause);
        }
        tracing::info!(migration = id, "migration paused");
        Ok(())
    }

    /// `SHARDGATE RESHARD RESUME`: a paused copy goes on; a failed one starts again from its
    /// cursors.
    pub async fn resume(&self, proxy: &Arc<Proxy>, id: u64) -> Result<(), MigrationError> {
        let mut running = self.running.lock().await;
        let resumable = |p: Phase| matches!(p, Phase::Planned | Phase::Copying | Phase::Failed);
        let (records, mut conn, record) = Self::owned(proxy, id, "resumed", resumable).await?;
        records.set_paused(&mut conn, id, false).await?;
        if record.phase == Phase::Failed {
            records
                .set_phase(&mut conn, id, Phase::Copying, None)
                .await?;
        }
        match running
            .as_ref()
            .filter(|r| r.id == id && !r.task.is_finished())
        {
            Some(run) => {
                let _ = run.control.send(Control::Run);
            }
            None => *running = Some(spawn(proxy, id, Control::Run)),
        }
        tracing::info!(migration = id, "migration resumed");
        Ok(())
    }

    /// `SHARDGATE RESHARD CANCEL`, before cutover: stops the copy and deletes what it wrote to
    /// the new owners; the rows deleted.
    pub async fn cancel(&self, proxy: &Arc<Proxy>, id: u64) -> Result<u64, MigrationError> {
        let mut running = self.running.lock().await;
        let cancellable = |p: Phase| p == Phase::Failed || (p.before_cutover() && !p.is_terminal());
        let (records, mut conn, record) = Self::owned(proxy, id, "cancelled", cancellable).await?;
        if let Some(run) = running.take_if(|r| r.id == id) {
            let _ = run.control.send(Control::Cancel);
            let _ = run.task.await;
        }
        let target = parse_target(&record)?;
        let serving = proxy.runtime().topology.clone();
        let mut removed = 0;
        for flow in records.flows(&mut conn, id).await? {
            removed += crate::reshard_cancel::remove_copied(&serving, &target, &flow).await?;
        }
        records
            .set_phase(&mut conn, id, Phase::Cancelled, None)
            .await?;
        crate::migration_metrics::phase(Phase::Cancelled);
        tracing::info!(
            migration = id,
            rows_removed = removed,
            "migration cancelled: the copied rows were removed from the new owners"
        );
        Ok(removed)
    }

    /// `SHARDGATE RESHARD VERIFY`: every flow's moving rows compared on both sides.
    pub async fn verify(
        &self,
        proxy: &Arc<Proxy>,
        id: u64,
    ) -> Result<Vec<FlowDiff>, MigrationError> {
        let serving = proxy.runtime().topology.clone();
        let records = Records::of(&serving);
        let mut conn = records.conn().await?;
        let record = records.migration(&mut conn, id).await?;
        let target = parse_target(&record)?;
        let mut diffs = Vec::new();
        for flow in records.flows(&mut conn, id).await? {
            diffs.push(
                crate::reshard_verify::verify_flow(&serving, &target, &flow, VERIFY_PAGE_ROWS)
                    .await?,
            );
        }
        let mismatches: u64 = diffs.iter().map(FlowDiff::mismatches).sum();
        crate::migration_metrics::verify_mismatches(mismatches);
        tracing::info!(migration = id, mismatches, "migration verified");
        Ok(diffs)
    }

    /// Every migration recorded, the latest first, with its flows.
    pub async fn status(&self, proxy: &Arc<Proxy>) -> Result<Vec<MigrationStatus>, MigrationError> {
        let serving = proxy.runtime().topology.clone();
        let records = Records::of(&serving);
        let mut conn = records.conn().await?;
        let live = {
            let running = self.running.lock().await;
            running.as_ref().map(|r| (r.id, r.live.clone()))
        };
        let mut all = Vec::new();
        for record in records.migrations(&mut conn).await? {
            let flows = records.flows(&mut conn, record.id).await?;
            let live = live
                .as_ref()
                .filter(|(id, _)| *id == record.id)
                .map(|(_, l)| l.clone());
            all.push(MigrationStatus {
                record,
                flows,
                live,
            });
        }
        Ok(all)
    }

    /// At start-up: resumes the migration this proxy drove, if one was under way.
    pub async fn resume_at_start(&self, proxy: &Arc<Proxy>) {
        let serving = proxy.runtime().topology.clone();
        let records = Records::of(&serving);
        let active = async {
            let mut conn = records.conn().await?;
            records.active(&mut conn).await
        };
        match active.await {
            Ok(Some(record)) if record.owner != owner(&serving) => {
                tracing::warn!(migration = record.id, owner = %record.owner, "a migration driven by another proxy is under way: several proxies serving one topology are not supported yet")
            }
            Ok(Some(record)) if matches!(record.phase, Phase::Planned | Phase::Copying) => {
                let control = if record.paused {
                    Control::Pause
                } else {
                    Control::Run
                };
                tracing::info!(
                    migration = record.id,
                    paused = record.paused,
                    "resuming the migration's copy from its cursors"
                );
                *self.running.lock().await = Some(spawn(proxy, record.id, control));
            }
            Ok(Some(record)) => crate::migration_metrics::phase(record.phase),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "migration records not read: a migration under way is not resumed")
            }
        }
    }
}

/// Starts the task that drives migration `id`.
fn spawn(proxy: &Arc<Proxy>, id: u64, control: Control) -> Running {
    let (sender, receiver) = watch::channel(control);
    let live = Arc::new(Live::default());
    let task = tokio::spawn(drive(proxy.clone(), id, receiver, live.clone()));
    Running {
        id,
        control: sender,
        live,
        task,
    }
}

/// Runs migration `id` from its recorded phase until it stops: `copied` for now, `failed`
/// with the error, or a cancel.
async fn drive(proxy: Arc<Proxy>, id: u64, control: watch::Receiver<Control>, live: Arc<Live>) {
    let records = Records::of(&proxy.runtime().topology);
    match run(&proxy, &records, id, control, live).await {
        Ok(phase) => crate::migration_metrics::phase(phase),
        Err(MigrationError::Cancelled) => {}
        Err(e) => {
            tracing::error!(migration = id, error = %e, "migration failed (SHARDGATE RESHARD RESUME retries from the cursors)");
            crate::migration_metrics::phase(Phase::Failed);
            if let Ok(mut conn) = records.conn().await {
                let _ = records
                    .set_phase(&mut conn, id, Phase::Failed, Some(&e.to_string()))
                    .await;
            }
        }
    }
    crate::migration_metrics::copy_rate(0.0);
}

async fn run(
    proxy: &Arc<Proxy>,
    records: &Records,
    id: u64,
    control: watch::Receiver<Control>,
    live: Arc<Live>,
) -> Result<Phase, MigrationError> {
    let mut conn = records.conn().await?;
    let record = records.migration(&mut conn, id).await?;
    let target = parse_target(&record)?;
    let mut phase = record.phase;
    if phase == Phase::Planned {
        phase = Phase::Copying;
        records.set_phase(&mut conn, id, phase, None).await?;
    }
    crate::migration_metrics::phase(phase);
    if phase != Phase::Copying {
        return Ok(phase);
    }
    let mut flows = records.flows(&mut conn, id).await?;
    let mut copier = Copier::new(
        proxy,
        &target,
        records,
        records.conn().await?,
        id,
        record.rows_per_second,
        control,
        live,
    );
    for flow in flows.iter_mut().filter(|f| !f.copied) {
        if let Err(e) = copier.copy(flow).await {
            if !matches!(e, MigrationError::Cancelled) {
                flow.last_error = Some(e.to_string());
                let _ = records.save_flow(&mut conn, id, flow).await;
            }
            return Err(e);
        }
    }
    phase = Phase::Copied;
    records.set_phase(&mut conn, id, phase, None).await?;
    tracing::info!(
        migration = id,
        "migration copied: catch-up and cutover are not built yet, so the workflow stops here (VERIFY compares the copies, CANCEL removes them)"
    );
    Ok(phase)
}
