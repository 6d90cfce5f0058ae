//! The resharding workflow's driver (issue #15): one migration at a time per topology,
//! started, paused, resumed, cancelled and verified by the admin statements
//! (`reshard_admin.rs`), its state in the records on the default shard
//! (`migration_record.rs`), its copy run by a task of this proxy (`reshard_copy.rs`).
//!
//! Phases run in `Phase::next` order; after `copied` the catch-up (`reshard_catch_up.rs`)
//! follows the sources' binlogs. A proxy that starts finds the migration it drove (by its `[server] listen`
//! address, the record's owner) and resumes it from the saved cursors. Several proxies
//! serving one topology are not supported yet: only the owner drives a migration, the others
//! refuse to start, pause, resume or cancel it, naming the owner.

use std::sync::Arc;

use shardgate_config::Topology;
use shardgate_migration::Phase;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catch_up::Progress as CatchUpProgress;
use crate::migration_error::MigrationError;
use crate::migration_live::{Control, Live};
use crate::migration_record::{FlowRecord, MigrationRecord, Records};
use crate::reshard_catch_up::CatchUps;
use crate::reshard_copy::Copier;
use crate::reshard_cutover::Cutover;
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

/// The target file's text and topology.
async fn read_target(file: &str) -> Result<(String, Topology), MigrationError> {
    let target_file = |message: String| MigrationError::TargetFile {
        file: file.to_owned(),
        message,
    };
    let text = (tokio::fs::read_to_string(file).await).map_err(|e| target_file(e.to_string()))?;
    let target = shardgate_config::parse(&text, file).map_err(|e| target_file(e.to_string()))?;
    Ok((text, target))
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
                applied_gtid: None,
                reverse_gtid: None,
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
    /// `SHARDGATE RESHARD START … DRY RUN`: the plan of going to `file`, nothing started.
    pub async fn dry_run(
        &self,
        proxy: &Arc<Proxy>,
        file: &str,
        rows_per_second: u64,
    ) -> Result<crate::ReshardPlan, MigrationError> {
        let (_, target) = read_target(file).await?;
        Ok(crate::reshard_plan(&proxy.runtime(), &target, rows_per_second).await)
    }

    pub async fn start(
        &self,
        proxy: &Arc<Proxy>,
        file: &str,
        rows_per_second: u64,
    ) -> Result<u64, MigrationError> {
        let mut running = self.running.lock().await;
        let serving = proxy.runtime().topology.clone();
        let (text, target) = read_target(file).await?;
        let flows = planned_flows(proxy, &target, file).await?;
        crate::proxy_heartbeat::refuse_other_proxies(&serving).await?;
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
            source_config: serving.text.to_string(),
            cutover_pause_ms: None,
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

    /// `SHARDGATE RESHARD PAUSE`: the copy stops after its current page (its snapshot kept);
    /// a catch-up goes on, and the cutover waits.
    pub async fn pause(&self, proxy: &Arc<Proxy>, id: u64) -> Result<(), MigrationError> {
        let running = self.running.lock().await;
        // A paused catch-up goes on applying; only its cutover waits.
        let pausable = |p: Phase| {
            matches!(
                p,
                Phase::Planned | Phase::Copying | Phase::Copied | Phase::CatchingUp
            )
        };
        let (records, mut conn, _) = Self::owned(proxy, id, "paused", pausable).await?;
        records.set_paused(&mut conn, id, true).await?;
        if let Some(run) = running.as_ref().filter(|r| r.id == id) {
            let _ = run.control.send(Control::Pause);
        }
        tracing::info!(migration = id, "migration paused");
        Ok(())
    }

    /// `SHARDGATE RESHARD RESUME`: a paused copy goes on, a paused catch-up may cut over; a
    /// failed migration starts again from its cursors (verifies again after its cutover); a
    /// clean-up that stopped goes on.
    pub async fn resume(&self, proxy: &Arc<Proxy>, id: u64) -> Result<(), MigrationError> {
        let mut running = self.running.lock().await;
        let resumable = |p: Phase| {
            matches!(
                p,
                Phase::Planned
                    | Phase::Copying
                    | Phase::Copied
                    | Phase::CatchingUp
                    | Phase::Failed
                    | Phase::CleaningUp
            )
        };
        let (records, mut conn, record) = Self::owned(proxy, id, "resumed", resumable).await?;
        records.set_paused(&mut conn, id, false).await?;
        if record.phase == Phase::Failed {
            // Past the cutover the target serves: verify again, never copy again.
            let again = match record.cutover_pause_ms {
                Some(_) => Phase::Verifying,
                None => Phase::Copying,
            };
            records.set_phase(&mut conn, id, again, None).await?;
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

    /// `SHARDGATE RESHARD CANCEL`: before the cutover, stops the copy and deletes what it
    /// wrote to the new owners; after it (until clean-up), switches back to the source
    /// topology with every write kept (`reshard_roll_back.rs`). The rows deleted.
    pub async fn cancel(&self, proxy: &Arc<Proxy>, id: u64) -> Result<u64, MigrationError> {
        let mut running = self.running.lock().await;
        let cancellable = |p: Phase| {
            matches!(
                p,
                Phase::Failed | Phase::Cutover | Phase::Verifying | Phase::RollingBack
            ) || (p.before_cutover() && !p.is_terminal())
        };
        let (records, mut conn, _) = Self::owned(proxy, id, "cancelled", cancellable).await?;
        if let Some(run) = running.take_if(|r| r.id == id) {
            let _ = run.control.send(Control::Cancel);
            let _ = run.task.await;
        }
        // The task may have gone on (through a cutover, into clean-up) before it saw the cancel.
        let record = records.migration(&mut conn, id).await?;
        if !cancellable(record.phase) || record.phase == Phase::Cutover {
            return Err(MigrationError::WrongPhase {
                id,
                phase: record.phase.to_string(),
                action: "cancelled",
            });
        }
        let target = parse_target(&record)?;
        let serving = parse_source(&record, &proxy.runtime().topology)?;
        if record.phase == Phase::RollingBack {
            let flows = records.flows(&mut conn, id).await?;
            return crate::reshard_roll_back::remove_copies(
                &records, &mut conn, id, &serving, &target, &flows,
            )
            .await;
        }
        if record.cutover_pause_ms.is_some() {
            return crate::reshard_roll_back::roll_back(
                proxy, &records, &mut conn, id, &serving, &target,
            )
            .await;
        }
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
        // The clean-up deletes the moved rows from the sources: nothing to compare with.
        if matches!(record.phase, Phase::CleaningUp | Phase::Done) {
            return Err(MigrationError::WrongPhase {
                id,
                phase: record.phase.to_string(),
                action: "verified (its sources no longer hold the moved rows)",
            });
        }
        let target = parse_target(&record)?;
        let source = parse_source(&record, &serving)?;
        let streams = {
            let running = self.running.lock().await;
            (running.as_ref().filter(|r| r.id == id)).map(|r| r.live.streams())
        };
        let streams = streams.unwrap_or_default();
        let mut diffs = Vec::new();
        for flow in records.flows(&mut conn, id).await? {
            let at = streams.at_one_position(&flow);
            diffs.push(
                crate::reshard_verify::verify_flow(
                    &source,
                    &target,
                    &flow,
                    VERIFY_PAGE_ROWS,
                    at.as_ref(),
                )
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
            Ok(Some(record))
                if matches!(
                    record.phase,
                    Phase::Planned
                        | Phase::Copying
                        | Phase::Copied
                        | Phase::CatchingUp
                        | Phase::Cutover
                        | Phase::Verifying
                        | Phase::CleaningUp
                        | Phase::RollingBack
                ) =>
            {
                let control = if record.paused {
                    Control::Pause
                } else {
                    Control::Run
                };
                tracing::info!(
                    migration = record.id,
                    paused = record.paused,
                    phase = %record.phase,
                    "resuming the migration's copy from its cursors, or its catch-up from its saved positions"
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

/// Runs migration `id` from its recorded phase until it stops: `failed` with the error, or a
/// cancel.
async fn drive(proxy: Arc<Proxy>, id: u64, control: watch::Receiver<Control>, live: Arc<Live>) {
    let records = Records::of(&proxy.runtime().topology);
    match run(&proxy, &records, id, control, live).await {
        Ok(phase) => crate::migration_metrics::phase(phase),
        Err(MigrationError::Cancelled) => {}
        Err(e) => {
            let Ok(mut conn) = records.conn().await else {
                tracing::error!(migration = id, error = %e, "migration stopped, and its record cannot be written");
                return;
            };
            let phase = (records.migration(&mut conn, id).await).map_or(Phase::Failed, |r| r.phase);
            // A clean-up stopped half way goes on where it is (RESUME); any other step fails.
            let phase = match phase {
                Phase::CleaningUp => Phase::CleaningUp,
                _ => Phase::Failed,
            };
            tracing::error!(migration = id, error = %e, phase = %phase, "migration stopped (SHARDGATE RESHARD RESUME goes on from the saved cursors and positions)");
            crate::migration_metrics::phase(phase);
            let _ = (records.set_phase(&mut conn, id, phase, Some(&e.to_string()))).await;
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
    if phase == Phase::RollingBack {
        // The switch back happened before a restart: the source topology serves.
        let source = parse_source(&record, &proxy.runtime().topology)?;
        let flows = records.flows(&mut conn, id).await?;
        crate::reshard_roll_back::remove_copies(records, &mut conn, id, &source, &target, &flows)
            .await?;
        return Ok(Phase::Cancelled);
    }
    if phase == Phase::Planned {
        phase = Phase::Copying;
        records.set_phase(&mut conn, id, phase, None).await?;
    }
    crate::migration_metrics::phase(phase);
    let mut control = control;
    if phase == Phase::Copying {
        copy(
            proxy,
            records,
            &mut conn,
            id,
            &record,
            &target,
            control.clone(),
            live.clone(),
        )
        .await?;
        phase = Phase::Copied;
        records.set_phase(&mut conn, id, phase, None).await?;
        crate::migration_metrics::phase(phase);
        tracing::info!(migration = id, "migration copied: catch-up starts");
    }
    // A cutover a restart cut short swapped nothing: the old topology serves, catch up again.
    if matches!(phase, Phase::Copied | Phase::CatchingUp | Phase::Cutover) {
        catch_up_and_cut_over(proxy, records, &mut conn, id, &target, &mut control, &live).await?;
        phase = Phase::Verifying;
    }
    let source = parse_source(&record, &proxy.runtime().topology)?;
    let flows = records.flows(&mut conn, id).await?;
    if phase == Phase::Verifying {
        let runtime = proxy.runtime();
        let new_owners: Vec<_> = (0..runtime.topology.shards.len())
            .map(|i| runtime.primary(i).clone())
            .collect();
        let starts = reverse_starts(&flows)?;
        let reverse =
            CatchUps::start_reverse(&runtime.topology, &new_owners, &source, id, &flows, &starts)?;
        drop(runtime);
        let verified = verify_after_cutover(
            records,
            &mut conn,
            id,
            (&source, &target),
            &flows,
            reverse,
            &live,
            &mut control,
        )
        .await?;
        crate::migration_metrics::verify_mismatches(verified);
        phase = Phase::CleaningUp;
        records.set_phase(&mut conn, id, phase, None).await?;
        crate::migration_metrics::phase(phase);
        tracing::info!(migration = id, "migration verified after cutover: 0 mismatches; the moved rows are deleted from the sources");
    }
    if phase == Phase::CleaningUp {
        let mut removed = 0;
        for flow in &flows {
            removed += crate::reshard_cleanup::delete_moving_rows(
                &source,
                &target,
                flow,
                crate::reshard_table::Side::Source,
                Some(record.rows_per_second.max(1)),
            )
            .await?;
        }
        phase = Phase::Done;
        records.set_phase(&mut conn, id, phase, None).await?;
        tracing::info!(
            migration = id,
            rows_removed = removed,
            "migration done: the moved rows were deleted from the sources"
        );
    }
    Ok(phase)
}

/// Copies every flow not copied yet.
#[allow(clippy::too_many_arguments)]
async fn copy(
    proxy: &Arc<Proxy>,
    records: &Records,
    conn: &mut mysql_async::Conn,
    id: u64,
    record: &MigrationRecord,
    target: &Topology,
    control: watch::Receiver<Control>,
    live: Arc<Live>,
) -> Result<(), MigrationError> {
    let mut flows = records.flows(conn, id).await?;
    let mut copier = Copier::new(
        proxy,
        target,
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
                let _ = records.save_flow(conn, id, flow).await;
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Catches up with the sources and cuts over once their lag is under
/// `[resharding] cutover_lag_events`, trying again after an abandoned cutover.
async fn catch_up_and_cut_over(
    proxy: &Arc<Proxy>,
    records: &Records,
    conn: &mut mysql_async::Conn,
    id: u64,
    target: &Topology,
    control: &mut watch::Receiver<Control>,
    live: &Live,
) -> Result<(), MigrationError> {
    let record = records.migration(conn, id).await?;
    if record.phase != Phase::CatchingUp {
        records.set_phase(conn, id, Phase::CatchingUp, None).await?;
        if proxy.runtime().topology.resharding.pause_before_cutover {
            records.set_paused(conn, id, true).await?;
            tracing::info!(migration = id, "catching up; paused before the cutover ([resharding] pause_before_cutover): SHARDGATE RESHARD RESUME cuts over");
        }
    }
    crate::migration_metrics::phase(Phase::CatchingUp);
    let flows = records.flows(conn, id).await?;
    let runtime = proxy.runtime();
    let sources: Vec<_> = (0..runtime.topology.shards.len())
        .map(|i| runtime.primary(i).clone())
        .collect();
    let mut catch_ups = CatchUps::start(&runtime.topology, &sources, target, id, &flows)?;
    let lag_events = runtime.topology.resharding.cutover_lag_events;
    drop(runtime);
    let mut not_before = std::time::Instant::now();
    loop {
        let close_behind = |progress: &std::collections::BTreeMap<String, CatchUpProgress>,
                            paused: bool| {
            !paused
                && std::time::Instant::now() >= not_before
                && progress
                    .values()
                    .all(|p| p.streaming && p.source_read_at > 0 && p.lag_events <= lag_events)
        };
        catch_ups = crate::reshard_catch_up::follow_until(
            catch_ups,
            records,
            conn,
            id,
            control,
            live,
            close_behind,
        )
        .await?;
        let cutover = crate::reshard_cutover::cut_over(
            proxy,
            records,
            conn,
            id,
            target,
            &flows,
            &mut catch_ups,
            crate::reshard_cutover::Direction::Forward,
        )
        .await;
        match cutover {
            Ok(Cutover::Swapped) => {
                catch_ups.stop().await;
                return Ok(());
            }
            Ok(Cutover::Abandoned) => {
                not_before = std::time::Instant::now() + crate::reshard_cutover::RETRY_AFTER;
            }
            Err(e) => {
                catch_ups.stop().await;
                return Err(e);
            }
        }
    }
}

/// Where each new owner's reverse catch-up starts: the position the cutover saved, or the
/// one saved since.
pub(crate) fn reverse_starts(
    flows: &[FlowRecord],
) -> Result<std::collections::BTreeMap<String, shardgate_binlog::GtidPos>, MigrationError> {
    let mut starts = std::collections::BTreeMap::new();
    for flow in flows {
        let Some(text) = flow.reverse_gtid.as_deref() else {
            return Err(MigrationError::NoSnapshotPosition(flow.to.clone()));
        };
        let position = text.parse().map_err(|e| {
            MigrationError::Record(mysql_async::Error::Other(
                format!("flow to {}: GTID position {text:?}: {e}", flow.to).into(),
            ))
        })?;
        starts.insert(flow.to.clone(), position);
    }
    Ok(starts)
}

/// Verifies every flow at one position (each new owner read in a snapshot, its reverse
/// catch-up held at the snapshot's position), then stops the reverse catch-up; the
/// mismatches (0), or the error naming them.
#[allow(clippy::too_many_arguments)]
async fn verify_after_cutover(
    records: &Records,
    conn: &mut mysql_async::Conn,
    id: u64,
    (source, target): (&Topology, &Topology),
    flows: &[FlowRecord],
    reverse: CatchUps,
    live: &Live,
    control: &mut watch::Receiver<Control>,
) -> Result<u64, MigrationError> {
    let streams = reverse.handles();
    live.set_streams(streams.clone());
    let mut diffs = Vec::new();
    for flow in flows {
        let at = streams.at_one_position(flow);
        let verify =
            crate::reshard_verify::verify_flow(source, target, flow, VERIFY_PAGE_ROWS, at.as_ref());
        // A cancel rolls back from here; the clean-up never starts after one.
        let diff = tokio::select! {
            diff = verify => diff,
            _ = cancelled(control) => Err(MigrationError::Cancelled),
        };
        live.set_catch_ups(reverse.progress());
        match diff {
            Ok(diff) => diffs.push(diff),
            Err(e) => {
                reverse.save(records, conn, id).await?;
                reverse.stop().await;
                return Err(e);
            }
        }
    }
    reverse.save(records, conn, id).await?;
    reverse.stop().await;
    if *control.borrow() == Control::Cancel {
        return Err(MigrationError::Cancelled);
    }
    let last = diffs;
    if last.iter().all(|d| d.mismatches() == 0) {
        return Ok(0);
    }
    let mismatches: u64 = last.iter().map(FlowDiff::mismatches).sum();
    crate::migration_metrics::verify_mismatches(mismatches);
    let named: Vec<String> = (last.iter())
        .filter(|d| d.mismatches() > 0)
        .map(|d| format!("`{}` {} → {}: {}", d.table, d.from, d.to, d.keys.join("; ")))
        .collect();
    Err(MigrationError::VerifyFailed {
        mismatches,
        keys: named.join(" | "),
    })
}

/// Resolves when a cancel is asked for (never when no one can ask any more).
async fn cancelled(control: &mut watch::Receiver<Control>) {
    if control.wait_for(|c| *c == Control::Cancel).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The topology migration `record` started from: its recorded config, or (in a record older
/// than cutover) the serving one.
fn parse_source(record: &MigrationRecord, serving: &Topology) -> Result<Topology, MigrationError> {
    let text = match record.source_config.is_empty() {
        true => &*serving.text,
        false => record.source_config.as_str(),
    };
    shardgate_config::parse(text, "the migration's source config").map_err(|e| {
        MigrationError::TargetFile {
            file: "the migration's source config".into(),
            message: e.to_string(),
        }
    })
}
