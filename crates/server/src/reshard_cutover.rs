//! A migration's cutover (issue #15): with the catch-up close behind its sources, the writes
//! to the moving keys are held (`cutover_gate.rs`); the commands already past the gate and the
//! transactions clients began before the hold (whose writes are not held) are let finish;
//! the catch-up reaches each source's `@@gtid_binlog_pos`; and the target topology is swapped
//! in — as a reload swaps a runtime — before the held writes go, planned on it. Everything
//! written to a source through this proxy before the swap is then in the position the
//! catch-up reached, and on the replicas in rotation of the shards swapped to
//! (`cutover_replicas.rs`: read-your-writes holds across the swap). Writes that bypass the
//! proxy (clients connected to a shard directly) are neither held nor waited for.
//!
//! No cutover starts while another proxy's heartbeat is fresh (`proxy_heartbeat.rs`): only
//! this proxy would switch. Every step is bounded by `[resharding] cutover_hold_ms` from the
//! moment the gate closes:
//! past it the cutover is abandoned (the gate opens on the old topology, nothing swapped) and
//! the workflow tries again after [`RETRY_AFTER`].
//!
//! The phase turns `verifying` in the records before the new runtime serves: a proxy that
//! restarts after that serves the target (`adopted_topology.rs`), one that restarts before it
//! serves the old topology and resumes the catch-up.
//!
//! A cancel after the cutover switches back the same way ([`Direction::Back`]): the writes to
//! the moved keys held, the reverse catch-up brought to the new owners' position, the old
//! topology swapped in; the phase turns `rolling_back` before it serves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use shardgate_config::Topology;
use shardgate_migration::Phase;

use crate::cutover_gate::Hold;
use crate::cutover_replicas::SwappedTo;
use crate::migration_error::MigrationError;
use crate::migration_record::{FlowRecord, Records};
use crate::reshard_catch_up::CatchUps;
use crate::{Proxy, Runtime};

/// The wait before a cutover is tried again after one was abandoned.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(5);

/// How often the cutover looks again at what it waits for (commands, transactions).
const POLL: Duration = Duration::from_millis(2);

/// Which way a cutover swaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the migration's source topology to its target.
    Forward,
    /// A cancel: from the target back to the source topology.
    Back,
}

/// What a cutover did.
pub(crate) enum Cutover {
    /// The target serves.
    Swapped,
    /// Nothing changed (logged with why).
    Abandoned,
}

/// Runs one cutover of migration `id` to `target` (the source topology when going back):
/// `catch_ups` follow the side written until now.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn cut_over(
    proxy: &Arc<Proxy>,
    records: &Records,
    conn: &mut Conn,
    id: u64,
    target: &Topology,
    flows: &[FlowRecord],
    catch_ups: &mut CatchUps,
    direction: Direction,
) -> Result<Cutover, MigrationError> {
    let old = proxy.runtime();
    let bound = old.topology.resharding.cutover_hold;
    // Going back, the phase stays `verifying` until the swap: a restart serves the target.
    let (during, serving_after, abandoned) = match direction {
        Direction::Forward => (Phase::Cutover, Phase::Verifying, Phase::CatchingUp),
        Direction::Back => (Phase::Verifying, Phase::RollingBack, Phase::Verifying),
    };
    // Only this proxy switches: another one serving the topology (it started after START)
    // would go on routing the moved keys to their old owners.
    if let Err(others) = crate::proxy_heartbeat::refuse_other_proxies(&old.topology).await {
        let why = others.to_string();
        records.set_phase(conn, id, abandoned, Some(&why)).await?;
        crate::migration_metrics::cutover_abandoned();
        tracing::warn!(migration = id, reason = %why, retry_in_seconds = RETRY_AFTER.as_secs(), "cutover not started: another proxy serves this topology");
        return Ok(Cutover::Abandoned);
    }
    // The target's runtime, its new endpoints checked once, before anything is held.
    let mut topology =
        shardgate_config::parse(&target.text, "the migration's target").map_err(|e| {
            MigrationError::TargetFile {
                file: "the migration's target".into(),
                message: e.to_string(),
            }
        })?;
    crate::reload::keep_start_up_settings(&old.topology, &mut topology);
    let mut next = Runtime::reload(&old, Arc::new(topology));
    let replication = &next.topology.replication;
    let limit = replication.health_check_timeout * 3 + replication.health_check_interval;
    next.first_checks(limit).await;
    let tables = flows.iter().map(|f| f.table.clone());
    let hold = Hold::new(
        &proxy.cutover,
        old.topology.clone(),
        next.topology.clone(),
        tables,
        bound,
    );
    records.set_phase(conn, id, during, None).await?;
    crate::migration_metrics::phase(during);
    let swapped_to = match direction {
        Direction::Forward => flows.iter().map(|f| f.to.as_str()).collect(),
        Direction::Back => flows.iter().map(|f| f.from.as_str()).collect(),
    };
    let swapped_to = SwappedTo::open(&next, swapped_to).await;
    let closed = Instant::now();
    proxy.cutover.close(hold.clone());
    // Commands that loaded the old runtime before the gate closed hold it until they end: a
    // fence runtime (the same topology) serves the commands after, and the old one is
    // waited for (ours is the last reference when they have all ended).
    let fence = Arc::new(Runtime::reload(&old, old.topology.clone()));
    proxy.runtime.store(fence.clone());
    let outcome = async {
        until(hold.deadline(), "commands under way", || {
            Arc::strong_count(&old) == 1
        })
        .await?;
        // Their writes are not held: they end as soon as their clients end them.
        until(
            hold.deadline(),
            "transactions begun before the hold",
            || hold.earlier_transactions_ended(),
        )
        .await?;
        let reached =
            tokio::time::timeout_at(hold.deadline().into(), catch_ups.reach_sources_now());
        match reached.await {
            Err(_) => return Err("the catch-up did not reach the sources' position".to_owned()),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(())) => {}
        }
        let mut swapped_to = swapped_to?;
        let positions = swapped_to.positions().await?;
        // Where the reverse catch-up starts: nothing but the catch-up wrote the new owners.
        if direction == Direction::Forward {
            for (to, position) in &positions {
                (records.save_applied(conn, id, to, position, true).await)
                    .map_err(|e| e.to_string())?;
            }
        }
        (swapped_to
            .replicas_caught_up(&positions, hold.deadline())
            .await)?;
        // Durable before it serves: a restart from here serves what it swaps to.
        (records.set_phase(conn, id, serving_after, None).await).map_err(|e| e.to_string())
    };
    let outcome = outcome.await;
    if let Err(why) = outcome {
        proxy.cutover.open();
        let why = format!(
            "cutover abandoned: {why} within [resharding] cutover_hold_ms ({} ms); tried again in {} s",
            bound.as_millis(),
            RETRY_AFTER.as_secs()
        );
        records.set_phase(conn, id, abandoned, Some(&why)).await?;
        crate::migration_metrics::phase(abandoned);
        crate::migration_metrics::cutover_abandoned();
        tracing::warn!(migration = id, reason = %why, ?direction, retry_in_seconds = RETRY_AFTER.as_secs(), "cutover abandoned: the topology serving keeps serving");
        return Ok(Cutover::Abandoned);
    }
    next.version = fence.version + 1;
    let next = Arc::new(next);
    proxy.runtime.store(next.clone());
    proxy.cutover.open();
    let pause = closed.elapsed();
    let (held, _) = hold.figures();
    crate::migration_metrics::phase(serving_after);
    crate::migration_metrics::cutover(pause, held);
    shardgate_metrics::metrics()
        .topology_version
        .set(i64::try_from(next.version).unwrap_or(i64::MAX));
    crate::placement_record::write(&next).await;
    let pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
    if direction == Direction::Forward {
        records.set_cutover_pause(conn, id, pause_ms).await?;
    }
    tracing::info!(
        migration = id,
        pause_ms,
        held_statements = held,
        version = next.version,
        ?direction,
        "cutover done: the {} topology serves; writes to the moving keys were held {pause_ms} ms",
        match direction {
            Direction::Forward => "target",
            Direction::Back => "migration's source",
        }
    );
    Ok(Cutover::Swapped)
}

/// Waits until `done`, looking every [`POLL`]; past `deadline`, an error naming `what`.
async fn until(deadline: Instant, what: &str, done: impl Fn() -> bool) -> Result<(), String> {
    while !done() {
        if Instant::now() >= deadline {
            return Err(format!("{what} did not end"));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}
